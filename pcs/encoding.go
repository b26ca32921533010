package pcs

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"sync"

	"github.com/consensys/gnark-crypto/ecc/bn254"

	"github.com/streamprove/streamprove/field"
)

// Encoding version of commitments and openings. A commitment is
//
//	version (1 byte) ‖ n (1 byte) ‖ b (1 byte) ‖ 2^(n−b) row commitments (32-byte compressed G1)
//
// and an opening of K vectors (one per point claim, one per sending row class of a padding
// claim) is
//
//	version (1 byte) ‖ K (uint32 BE) ‖ K × [ b_k (1 byte) ‖ 2^b_k elements (32-byte canonical BE) ].
const encodingVersion = 1

const compressedBytes = bn254.SizeOfG1AffineCompressed

// AppendBinary appends the commitment's canonical encoding to dst.
func (c *Commitment) AppendBinary(dst []byte) []byte {
	dst = append(dst, encodingVersion, byte(c.NumVars), byte(c.ColumnLog))
	for i := range c.Rows {
		p := c.Rows[i].Bytes()
		dst = append(dst, p[:]...)
	}
	return dst
}

// Digest returns the SHA-256 of the commitment's encoding: the name a transcript absorbs.
func (c *Commitment) Digest() [32]byte {
	return sha256.Sum256(c.AppendBinary(make([]byte, 0, 3+compressedBytes*len(c.Rows))))
}

// rawEncodingVersion marks a commitment encoded with uncompressed rows (64 bytes each: x, y), the
// form commitment files store (fileVersion 3): decoding it needs no square root, which made
// loading a 7B-parameter model's 2.7 M row commitments ~12 CPU-s of every prove and verify.
// Proofs and digests keep the compressed encoding.
const rawEncodingVersion = 2

const rawBytes = bn254.SizeOfG1AffineUncompressed

// appendRaw appends the commitment with uncompressed rows to dst.
func (c *Commitment) appendRaw(dst []byte) []byte {
	dst = append(dst, rawEncodingVersion, byte(c.NumVars), byte(c.ColumnLog))
	for i := range c.Rows {
		p := c.Rows[i].RawBytes()
		dst = append(dst, p[:]...)
	}
	return dst
}

// decodeCommitmentRaw is DecodeCommitment for appendRaw's encoding.
func decodeCommitmentRaw(data []byte) (*Commitment, []byte, error) {
	if len(data) < 3 {
		return nil, data, fmt.Errorf("commitment header of %d bytes: %w", len(data), ErrFormat)
	}
	if data[0] != rawEncodingVersion {
		return nil, data, fmt.Errorf("commitment version %d: %w", data[0], ErrFormat)
	}
	n, b := int(data[1]), int(data[2])
	if n > MaxVars || b > n || b > MaxColumnLog {
		return nil, data, fmt.Errorf("commitment with n=%d, b=%d: %w", n, b, ErrFormat)
	}
	rest := data[3:]
	need := uint64(rawBytes) << (n - b)
	if uint64(len(rest)) < need {
		return nil, data, fmt.Errorf("commitment of 2^%d rows needs %d bytes, has %d: %w", n-b, need, len(rest), ErrFormat)
	}
	c := &Commitment{NumVars: n, ColumnLog: b, Rows: make([]bn254.G1Affine, 1<<(n-b))}
	if err := decodePointsAs(c.Rows, rest[:need], false); err != nil {
		return nil, data, fmt.Errorf("commitment: %w", err)
	}
	return c, rest[need:], nil
}

// decodePoints decodes len(dst) compressed points from src (exactly 32·len(dst) bytes), in
// parallel since each takes a square root. It accepts only the compressed encodings that
// Bytes() produces — so a commitment has exactly one encoding and one digest — and rejects points
// off the curve or outside G1 (for BN254 G1 the cofactor is 1, but the check is kept explicit).
func decodePoints(dst []bn254.G1Affine, src []byte) error {
	return decodePointsAs(dst, src, true)
}

// decodePointsAs is decodePoints for compressed (32-byte, Bytes()) or uncompressed (64-byte,
// RawBytes()) points, accepting only that one canonical form.
func decodePointsAs(dst []bn254.G1Affine, src []byte, compressed bool) error {
	size := compressedBytes
	if !compressed {
		size = rawBytes
	}
	var mu sync.Mutex
	var first error
	bad := func(i int, err error) {
		mu.Lock()
		if first == nil {
			first = fmt.Errorf("point %d: %v: %w", i, err, ErrFormat)
		}
		mu.Unlock()
	}
	field.Parallel(len(dst), 0, func(start, end int) {
		for i := start; i < end; i++ {
			b := src[i*size : (i+1)*size]
			if (b[0]>>6 == 0) != !compressed {
				bad(i, fmt.Errorf("a point in the other encoding"))
				return
			}
			if _, err := dst[i].SetBytes(b); err != nil {
				bad(i, err)
				return
			}
			if !dst[i].IsInfinity() && (!dst[i].IsOnCurve() || !dst[i].IsInSubGroup()) {
				bad(i, fmt.Errorf("not in G1"))
				return
			}
			var re []byte
			if compressed {
				e := dst[i].Bytes()
				re = e[:]
			} else {
				e := dst[i].RawBytes()
				re = e[:]
			}
			if string(re) != string(b) {
				bad(i, fmt.Errorf("non-canonical encoding"))
				return
			}
		}
	})
	return first
}

// DecodeCommitment reads one commitment from the front of data and returns the rest. It checks
// every length before allocating, so it never allocates more than the input's size justifies.
func DecodeCommitment(data []byte) (*Commitment, []byte, error) {
	if len(data) < 3 {
		return nil, data, fmt.Errorf("commitment header of %d bytes: %w", len(data), ErrFormat)
	}
	if data[0] != encodingVersion {
		return nil, data, fmt.Errorf("commitment version %d: %w", data[0], ErrFormat)
	}
	n, b := int(data[1]), int(data[2])
	if n > MaxVars || b > n || b > MaxColumnLog {
		return nil, data, fmt.Errorf("commitment with n=%d, b=%d: %w", n, b, ErrFormat)
	}
	a := n - b
	rest := data[3:]
	need := uint64(compressedBytes) << a
	if uint64(len(rest)) < need {
		return nil, data, fmt.Errorf("commitment of 2^%d rows needs %d bytes, has %d: %w", a, need, len(rest), ErrFormat)
	}
	c := &Commitment{NumVars: n, ColumnLog: b, Rows: make([]bn254.G1Affine, 1<<a)}
	if err := decodePoints(c.Rows, rest[:need]); err != nil {
		return nil, data, fmt.Errorf("commitment: %w", err)
	}
	return c, rest[need:], nil
}

// ReadCommitment reads one commitment's encoding from r (the prover reading back the head of a
// proof it wrote to a file). Its size is checked against what any commitment can be before the
// row bytes are read.
func ReadCommitment(r io.Reader) (*Commitment, error) {
	var h [3]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return nil, fmt.Errorf("commitment header: %v: %w", err, ErrFormat)
	}
	n, b := int(h[1]), int(h[2])
	if h[0] != encodingVersion || n > MaxVars || b > n || b > MaxColumnLog || n-b > MaxVars-MaxColumnLog {
		return nil, fmt.Errorf("commitment header %v: %w", h, ErrFormat)
	}
	data := make([]byte, 3+compressedBytes<<(n-b))
	copy(data, h[:])
	if _, err := io.ReadFull(r, data[3:]); err != nil {
		return nil, fmt.Errorf("commitment of 2^%d rows: %v: %w", n-b, err, ErrFormat)
	}
	c, _, err := DecodeCommitment(data)
	return c, err
}

// AppendBinary appends the opening's encoding to dst.
func (o *Opening) AppendBinary(dst []byte) []byte {
	dst = append(dst, encodingVersion)
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(o.U)))
	for _, u := range o.U {
		b := 0
		for 1<<b < len(u) {
			b++
		}
		dst = append(dst, byte(b))
		for i := range u {
			e := u[i].Bytes()
			dst = append(dst, e[:]...)
		}
	}
	return dst
}

// DecodeOpening reads an opening for claims from the front of data and returns the rest. The
// number of vectors and each vector's length must be what the claims' commitments (and the
// shapes of padding claims) imply.
func DecodeOpening(data []byte, claims []Claim) (*Opening, []byte, error) {
	if len(data) < 5 {
		return nil, data, fmt.Errorf("opening header of %d bytes: %w", len(data), ErrFormat)
	}
	if data[0] != encodingVersion {
		return nil, data, fmt.Errorf("opening version %d: %w", data[0], ErrFormat)
	}
	var logs []int // 2^logs[k] elements in vector k
	for i := range claims {
		c := &claims[i]
		if err := c.Commitment.check(); err != nil {
			return nil, data, fmt.Errorf("opening claim %d: %w", i, err)
		}
		n := 1
		if c.ZeroOutside != nil {
			p, err := newPadLayout(c.ZeroOutside, c.Commitment.NumVars, c.Commitment.ColumnLog)
			if err != nil {
				return nil, data, fmt.Errorf("opening claim %d: %w", i, err)
			}
			n = len(p.vecs)
		}
		for ; n > 0; n-- {
			logs = append(logs, c.Commitment.ColumnLog)
		}
	}
	k := binary.BigEndian.Uint32(data[1:5])
	if uint64(k) != uint64(len(logs)) {
		return nil, data, fmt.Errorf("opening of %d vectors for claims that need %d: %w", k, len(logs), ErrFormat)
	}
	rest := data[5:]
	o := &Opening{U: make([][]field.Element, len(logs))}
	for i, want := range logs {
		if len(rest) < 1 || int(rest[0]) != want {
			return nil, data, fmt.Errorf("opening vector %d: want 2^%d elements: %w", i, want, ErrFormat)
		}
		rest = rest[1:]
		need := field.Bytes << want
		if len(rest) < need {
			return nil, data, fmt.Errorf("opening vector %d: %d bytes, need %d: %w", i, len(rest), need, ErrFormat)
		}
		u := make([]field.Element, 1<<want)
		for j := range u {
			e, err := field.FromBE(rest[j*field.Bytes : (j+1)*field.Bytes])
			if err != nil {
				return nil, data, fmt.Errorf("opening vector %d element %d: %v: %w", i, j, err, ErrFormat)
			}
			u[j] = e
		}
		o.U[i] = u
		rest = rest[need:]
	}
	return o, rest, nil
}
