package tensorstore

import (
	"fmt"
	"math/bits"
)

// ChunkRef locates one chunk in a tensor's segment file: the chunk header starts at Offset,
// its payload holds Stored bytes, and CRC is the CRC32-Castagnoli of the payload.
type ChunkRef struct {
	Offset int64
	Stored uint32
	CRC    uint32
}

// Info describes a committed tensor.
//
// Chunks split the UNPADDED flat row-major data into runs of ChunkElems elements (the last run
// may be shorter). The MLE order (Tensor.Source) is the padded flat vector, built from these
// runs by inserting zeros; the two chunkings are independent.
type Info struct {
	Name        string
	Shape       []int
	PaddedShape []int // each dimension rounded up to a power of two
	DType       DType
	Codec       Codec
	ChunkElems  int   // elements per chunk, a power of two
	NumChunks   int   // ⌈Len / ChunkElems⌉
	Len         int64 // real elements: the product of Shape
	PaddedLen   int64 // product of PaddedShape, a power of two
	StoredBytes int64 // size of the segment file
	// Chunks is the per-chunk index. Store.List leaves it nil; Tensor.Info fills it.
	Chunks []ChunkRef
}

// NumVars returns the number of MLE variables, log2(PaddedLen).
func (in *Info) NumVars() int { return bits.TrailingZeros64(uint64(in.PaddedLen)) }

// StreamBytes is what a sequential reader of the tensor holds at least (no prefetch): one
// decoded chunk of elemBytes-byte values (32 for field elements, 8 for the int64 of an integer
// stream) and the read and raw scratch of one stored chunk. A prefetching reader holds one more
// decoded chunk per prefetch slot.
func (in *Info) StreamBytes(elemBytes int) int64 {
	return int64(in.ChunkElems) * (int64(elemBytes) + 2*int64(in.DType.Size()))
}

// ChunkLen returns the number of elements in chunk j.
func (in *Info) ChunkLen(j int) int {
	start := int64(j) * int64(in.ChunkElems)
	if n := in.Len - start; n < int64(in.ChunkElems) {
		return int(n)
	}
	return in.ChunkElems
}

// maxLen bounds a tensor's padded length so that its field-element bytes fit in an int64
// with room to spare (2^57 elements · 32 bytes = 2^62).
const maxLen = 1 << 57

// shapeLens validates a shape and returns its length, padded shape and padded length.
// A rank-0 shape is a scalar (length 1).
func shapeLens(shape []int) (n int64, padded []int, pn int64, err error) {
	n, pn = 1, 1
	padded = make([]int, len(shape))
	for k, d := range shape {
		if d <= 0 {
			return 0, nil, 0, fmt.Errorf("shape %v: dimension %d is %d, want ≥ 1: %w", shape, k, d, ErrFormat)
		}
		p := int64(1)
		for p < int64(d) {
			p <<= 1
		}
		hi, lo := bits.Mul64(uint64(pn), uint64(p))
		if hi != 0 || lo > maxLen {
			return 0, nil, 0, fmt.Errorf("shape %v: padded length exceeds 2^57 elements: %w", shape, ErrFormat)
		}
		padded[k] = int(p)
		pn = int64(lo)
		n *= int64(d) // ≤ pn, cannot overflow
	}
	return n, padded, pn, nil
}
