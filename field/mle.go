package field

import (
	"fmt"
	"math/bits"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
)

// EqTable writes eq(point, x) for every x ∈ {0,1}^k (k = len(point)) into dst[:2^k], in O(2^k)
// multiplications. Variable 0 is the least significant bit of x.
func EqTable(dst []Element, point []Element) []Element {
	n := 1 << len(point)
	dst = dst[:n]
	dst[0].SetOne()
	size := 1
	// Add variables from the most significant down so that each doubling step splits every
	// entry into (x_k = 0, x_k = 1) at stride size: entry i gets bit k at position k.
	for k := len(point) - 1; k >= 0; k-- {
		r := &point[k]
		// Expand in place from the end: old entry i becomes 2i (x_k = 0) and 2i+1 (x_k = 1),
		// so earlier-added variables move up one bit each step.
		for i := size - 1; i >= 0; i-- {
			var hi Element
			hi.Mul(&dst[i], r)
			dst[2*i].Sub(&dst[i], &hi)
			dst[2*i+1] = hi
		}
		size *= 2
	}
	return dst
}

// Eq returns eq(a, b) = Π_k (a_k b_k + (1−a_k)(1−b_k)) for two points of equal length.
func Eq(a, b []Element) Element {
	res, one := One(), One()
	for k := range a {
		// a b + (1−a)(1−b) = 1 − a − b + 2ab
		var t, ab Element
		ab.Mul(&a[k], &b[k])
		t.Double(&ab)
		t.Sub(&t, &a[k])
		t.Sub(&t, &b[k])
		t.Add(&t, &one)
		res.Mul(&res, &t)
	}
	return res
}

// EqIndex returns eq(point, j): the eq polynomial at the Boolean point given by the bits of j
// (bit k of j is variable k). It is the per-chunk scalar of the chunk decomposition
// eq(r, x) = eq(r_hi, j) · eq(r_lo, x_lo).
func EqIndex(point []Element, j uint64) Element {
	res := One()
	var one Element
	one.SetOne()
	for k := range point {
		if (j>>uint(k))&1 == 1 {
			res.Mul(&res, &point[k])
		} else {
			var t Element
			t.Sub(&one, &point[k])
			res.Mul(&res, &t)
		}
	}
	return res
}

// fold binds the lowest variable of the MLE given by src to r: dst[j] = src[2j] + r·(src[2j+1] − src[2j]).
// len(src) must be even; dst may alias src (dst[j] is written after src[2j], src[2j+1] are read).
func fold(dst, src []Element, r *Element) []Element {
	h := len(src) / 2
	dst = dst[:h]
	for j := 0; j < h; j++ {
		var d Element
		d.Sub(&src[2*j+1], &src[2*j])
		d.Mul(&d, r)
		dst[j].Add(&src[2*j], &d)
	}
	return dst
}

// Log2 returns k with 2^k = n, or an error if n is not a power of two.
func Log2(n int64) (int, error) {
	if n <= 0 || n&(n-1) != 0 {
		return 0, fmt.Errorf("field: length %d is not a power of two", n)
	}
	return bits.TrailingZeros64(uint64(n)), nil
}

// NextPow2 returns the smallest power of two ≥ n (1 for n ≤ 1).
func NextPow2(n int64) int64 {
	if n <= 1 {
		return 1
	}
	return 1 << (64 - bits.LeadingZeros64(uint64(n-1)))
}

// EvalSlice evaluates the MLE of v (length 2^len(point)) at point, using scratch of len(v)/2
// elements (or allocating it when scratch is too short). v is not modified.
func EvalSlice(v []Element, point []Element, scratch []Element) (Element, error) {
	if len(v) != 1<<len(point) {
		return Element{}, fmt.Errorf("field: %d values for a %d-variable point", len(v), len(point))
	}
	if len(point) == 0 {
		return v[0], nil
	}
	if len(scratch) < len(v)/2 {
		scratch = make([]Element, len(v)/2)
	}
	cur := fold(scratch, v, &point[0])
	for k := 1; k < len(point); k++ {
		cur = fold(cur, cur, &point[k])
	}
	return cur[0], nil
}

// ChunkEq holds the chunk decomposition of eq(r, ·) for chunks of 2^c elements:
// eq(r, j·2^c + x) = Hi(j) · Lo[x], with Lo = eq table of the low c variables.
type ChunkEq struct {
	Lo    []Element
	point []Element
	c     int
}

// NewChunkEq prepares the decomposition of eq(point, ·) into chunks of 2^c elements
// (c ≤ len(point)); it builds one table of 2^c elements, never one of the whole length.
func NewChunkEq(point []Element, c int) *ChunkEq {
	if c > len(point) {
		c = len(point)
	}
	lo := EqTable(make([]Element, 1<<c), point[:c])
	return &ChunkEq{Lo: lo, point: point, c: c}
}

// Hi returns eq(r_hi, j), the scalar of chunk j.
func (ce *ChunkEq) Hi(j int64) Element { return EqIndex(ce.point[ce.c:], uint64(j)) }

// ChunkLen is the number of elements per chunk.
func (ce *ChunkEq) ChunkLen() int { return len(ce.Lo) }

// EvalStream evaluates the MLE of src at point in one pass with O(2^c) memory, where 2^c is
// the chunk length (the smaller of 2^chunkLog and src.Len()).
func EvalStream(src Source, point []Element, chunkLog int) (Element, error) {
	n, err := Log2(src.Len())
	if err != nil {
		return Element{}, err
	}
	if n != len(point) {
		return Element{}, fmt.Errorf("field: source of 2^%d elements, point of %d variables", n, len(point))
	}
	if chunkLog > n {
		chunkLog = n
	}
	ce := NewChunkEq(point, chunkLog)
	buf := make([]Element, ce.ChunkLen())
	var acc Element
	err = ForEachChunk(src, buf, func(j int64, chunk []Element) error {
		v := InnerProduct(chunk, ce.Lo)
		hi := ce.Hi(j)
		v.Mul(&v, &hi)
		acc.Add(&acc, &v)
		return nil
	})
	return acc, err
}

// InnerProduct returns Σ a_i·b_i over the common length (gnark-crypto's assembly kernel).
func InnerProduct(a, b []Element) Element {
	if len(b) < len(a) {
		a, b = b, a
	}
	va := fr.Vector(a)
	return va.InnerProduct(fr.Vector(b[:len(a)]))
}

// EqPrefixSum returns Σ_{b<k} eq(point, b): the MLE at point of the mask that is 1 on the first
// k indices and 0 after (k ≤ 2^len(point)). Kernels use it to keep padding zero where a bias or
// constant would fill it; it costs O(len(point)), so the verifier can afford it.
func EqPrefixSum(point []Element, k uint64) Element {
	n := len(point)
	if n < 64 && k >= 1<<uint(n) {
		return One()
	}
	// Walk from the most significant variable down: at variable v, indices with bit v = 0 lie
	// below 2^v; if k's bit v is 1 they are all counted (eq sums to 1 over the lower variables),
	// and the rest of the count continues on the bit-1 branch.
	var acc Element
	prefix := One() // eq of the bits of k above v, for the branch that follows k
	one := One()
	for v := n - 1; v >= 0; v-- {
		var zero Element
		zero.Sub(&one, &point[v])
		if (k>>uint(v))&1 == 1 {
			var t Element
			t.Mul(&prefix, &zero)
			acc.Add(&acc, &t)
			prefix.Mul(&prefix, &point[v])
		} else {
			prefix.Mul(&prefix, &zero)
		}
	}
	return acc
}
