package field

import (
	"math/bits"
)

// WideSum is a vector of unreduced sums of field elements. Each entry holds the exact integer
// sum of the Montgomery limbs added into it in five 64-bit words, so one addition is a carry
// chain of five words with no comparison against p: the reduced Add ends in a data-dependent
// conditional subtraction that mispredicts on random data, and in the int8 weight passes
// (acc[i] += T[w]) that branch costs more than the addition itself. Adding an element (< p <
// 2^254) into the fifth word's headroom cannot overflow before 2^64 additions. Reduce (or
// AddTo) turns the sums back into field elements.
//
// The representation is linear: the Montgomery form of a sum is the sum of the Montgomery forms
// reduced mod p, so reducing the integer sum gives the element of the sum.
type WideSum [][5]uint64

// NewWideSum returns n zero sums.
func NewWideSum(n int) WideSum { return make(WideSum, n) }

// WideSumBytes is the memory of one WideSum entry, for budget reservations.
const WideSumBytes = 40

// Reset zeroes every sum.
func (w WideSum) Reset() { clear(w) }

// AddLookup adds table[vals[i]−lo] into w[i] for every i < len(vals) (w must be at least as
// long). A value outside [lo, lo+len(table)) panics like any index out of range: callers pass
// integers read from a stream that checks its range.
func (w WideSum) AddLookup(vals []int64, lo int64, table []Element) {
	w = w[:len(vals)]
	for i, v := range vals {
		t := &table[v-lo]
		a := &w[i]
		var c uint64
		a[0], c = bits.Add64(a[0], t[0], 0)
		a[1], c = bits.Add64(a[1], t[1], c)
		a[2], c = bits.Add64(a[2], t[2], c)
		a[3], c = bits.Add64(a[3], t[3], c)
		a[4] += c
	}
}

// AddLookup8 is AddLookup for int8 values and a table of the 256 int8 values, indexed from −128.
func (w WideSum) AddLookup8(vals []int8, table *[256]Element) {
	w = w[:len(vals)]
	for i, v := range vals {
		t := &table[uint8(v)^0x80]
		a := &w[i]
		var c uint64
		a[0], c = bits.Add64(a[0], t[0], 0)
		a[1], c = bits.Add64(a[1], t[1], c)
		a[2], c = bits.Add64(a[2], t[2], c)
		a[3], c = bits.Add64(a[3], t[3], c)
		a[4] += c
	}
}

// AddTo adds the reduced value of every sum into dst[i].
func (w WideSum) AddTo(dst []Element) {
	dst = dst[:len(w)]
	for i := range w {
		e := reduceWide(&w[i])
		dst[i].Add(&dst[i], &e)
	}
}

// Reduce writes the reduced value of every sum into dst[i].
func (w WideSum) Reduce(dst []Element) {
	dst = dst[:len(w)]
	for i := range w {
		dst[i] = reduceWide(&w[i])
	}
}

// reduceWide returns the element whose Montgomery limbs are a mod p. With a = L + H·2^256, L is
// brought below p by at most five subtractions (2^256 < 6p), and H·2^256 mod p is the Montgomery
// form of H, i.e. SetUint64(H)'s limbs.
func reduceWide(a *[5]uint64) Element {
	l := [4]uint64{a[0], a[1], a[2], a[3]}
	q := &modulusLimbs
	for {
		var d [4]uint64
		var b uint64
		d[0], b = bits.Sub64(l[0], q[0], 0)
		d[1], b = bits.Sub64(l[1], q[1], b)
		d[2], b = bits.Sub64(l[2], q[2], b)
		d[3], b = bits.Sub64(l[3], q[3], b)
		if b != 0 {
			break // l < p
		}
		l = d
	}
	e := Element(l)
	if a[4] != 0 {
		var h Element
		h.SetUint64(a[4])
		e.Add(&e, &h)
	}
	return e
}
