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

// AddLookup8Rows adds table k's entry for vals[k][i] into w[i] for every row k: the sum of
// several int8 rows each with its own table, as AddLookup8 row after row but loading and storing
// each sum once per four rows (the four table entries are added into registers first).
func (w WideSum) AddLookup8Rows(vals [][]int8, tables []*[256]Element) {
	k := 0
	for ; k+4 <= len(vals); k += 4 {
		w.addLookup8x4(vals[k:k+4], tables[k:k+4])
	}
	for ; k < len(vals); k++ {
		w.AddLookup8(vals[k], tables[k])
	}
}

func (w WideSum) addLookup8x4(vals [][]int8, tables []*[256]Element) {
	n := len(vals[0])
	w = w[:n]
	v0, v1, v2, v3 := vals[0][:n], vals[1][:n], vals[2][:n], vals[3][:n]
	t0, t1, t2, t3 := tables[0], tables[1], tables[2], tables[3]
	for i := range w {
		a := &w[i]
		a0, a1, a2, a3, a4 := a[0], a[1], a[2], a[3], a[4]
		var c uint64
		t := &t0[uint8(v0[i])^0x80]
		a0, c = bits.Add64(a0, t[0], 0)
		a1, c = bits.Add64(a1, t[1], c)
		a2, c = bits.Add64(a2, t[2], c)
		a3, c = bits.Add64(a3, t[3], c)
		a4 += c
		t = &t1[uint8(v1[i])^0x80]
		a0, c = bits.Add64(a0, t[0], 0)
		a1, c = bits.Add64(a1, t[1], c)
		a2, c = bits.Add64(a2, t[2], c)
		a3, c = bits.Add64(a3, t[3], c)
		a4 += c
		t = &t2[uint8(v2[i])^0x80]
		a0, c = bits.Add64(a0, t[0], 0)
		a1, c = bits.Add64(a1, t[1], c)
		a2, c = bits.Add64(a2, t[2], c)
		a3, c = bits.Add64(a3, t[3], c)
		a4 += c
		t = &t3[uint8(v3[i])^0x80]
		a0, c = bits.Add64(a0, t[0], 0)
		a1, c = bits.Add64(a1, t[1], c)
		a2, c = bits.Add64(a2, t[2], c)
		a3, c = bits.Add64(a3, t[3], c)
		a4 += c
		a[0], a[1], a[2], a[3], a[4] = a0, a1, a2, a3, a4
	}
}
