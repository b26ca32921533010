package kernels

import (
	"encoding/binary"

	"github.com/streamprove/streamprove/field"
)

// A lookup table has 2^logSize rows and a few integer columns. Every column is given twice: as
// its value at a row index (the prover builds the table's leaves from it) and as its multilinear
// extension over the bits of the index, which the verifier evaluates in O(logSize²) field
// operations — it never touches the table's rows.
type lookupTable struct {
	logSize int
	cols    []tableColumn
	zeroRow uint64 // a row whose every column is 0: padding entries are counted there
}

type tableColumn interface {
	at(j uint64) int64
	mle(r []field.Element) field.Element
	describe() []byte
}

// segment is f(j) = c0 + c1·j on rows [lo, hi).
type segment struct {
	lo, hi uint64
	c0, c1 int64
}

// pwColumn is a piecewise-linear column; its segments are disjoint and cover every row.
type pwColumn []segment

func (c pwColumn) at(j uint64) int64 {
	for _, s := range c {
		if j >= s.lo && j < s.hi {
			return s.c0 + s.c1*int64(j)
		}
	}
	return 0
}

// mle is Σ_seg c0·(S0(hi) − S0(lo)) + c1·(S1(hi) − S1(lo)) with the prefix sums
// S0(K) = Σ_{j<K} eq(r, j) and S1(K) = Σ_{j<K} eq(r, j)·j.
func (c pwColumn) mle(r []field.Element) field.Element {
	var acc field.Element
	for _, s := range c {
		a0, a1 := prefixSums(r, s.lo)
		b0, b1 := prefixSums(r, s.hi)
		b0.Sub(&b0, &a0)
		b1.Sub(&b1, &a1)
		c0, c1 := field.NewInt(s.c0), field.NewInt(s.c1)
		b0.Mul(&b0, &c0)
		b1.Mul(&b1, &c1)
		acc.Add(&acc, &b0)
		acc.Add(&acc, &b1)
	}
	return acc
}

func (c pwColumn) describe() []byte {
	b := []byte("pw")
	for _, s := range c {
		b = binary.BigEndian.AppendUint64(b, s.lo)
		b = binary.BigEndian.AppendUint64(b, s.hi)
		b = binary.BigEndian.AppendUint64(b, uint64(s.c0))
		b = binary.BigEndian.AppendUint64(b, uint64(s.c1))
	}
	return b
}

// bitColumn is bit k of the row index; its MLE is the coordinate r_k.
type bitColumn int

func (c bitColumn) at(j uint64) int64                   { return int64(j>>uint(c)) & 1 }
func (c bitColumn) mle(r []field.Element) field.Element { return r[int(c)] }
func (c bitColumn) describe() []byte                    { return []byte{'b', byte(c)} }

// prefixSums returns S0(K) = Σ_{j<K} eq(r, j) and S1(K) = Σ_{j<K} eq(r, j)·j over the
// hypercube of len(r) variables (K is capped at 2^len(r)). Walking K's bits from the top, each
// 1-bit v closes a block {j: j's bits above v are K's, bit v = 0, bits below v free}; over such a
// block eq sums to eq(prefix)·(1−r_v) and eq·j to eq(prefix)·(1−r_v)·(base + Σ_{k<v} 2^k r_k),
// because Σ_x eq(r_low, x)·x = Σ_k 2^k r_k.
func prefixSums(r []field.Element, K uint64) (s0, s1 field.Element) {
	n := len(r)
	// low[v] = Σ_{k<v} 2^k r_k
	low := make([]field.Element, n+1)
	pow := field.One()
	for k := 0; k < n; k++ {
		var t field.Element
		t.Mul(&r[k], &pow)
		low[k+1].Add(&low[k], &t)
		pow.Double(&pow)
	}
	if n < 64 && K >= 1<<uint(n) {
		return field.One(), low[n]
	}
	prefix := field.One()
	one := field.One()
	var base uint64 // value of K's bits above v
	for v := n - 1; v >= 0; v-- {
		var zero field.Element
		zero.Sub(&one, &r[v])
		if (K>>uint(v))&1 == 1 {
			var w field.Element
			w.Mul(&prefix, &zero)
			s0.Add(&s0, &w)
			var bv field.Element
			bv.SetUint64(base)
			bv.Add(&bv, &low[v])
			bv.Mul(&bv, &w)
			s1.Add(&s1, &bv)
			prefix.Mul(&prefix, &r[v])
			base |= 1 << uint(v)
		} else {
			prefix.Mul(&prefix, &zero)
		}
	}
	return s0, s1
}

// fold returns Σ_c γ^c·col_c(j) for the row j (gpow[c] = γ^c).
func (t *lookupTable) fold(j uint64, gpow []field.Element) field.Element {
	var acc field.Element
	for c, col := range t.cols {
		v := field.NewInt(col.at(j))
		v.Mul(&v, &gpow[c])
		acc.Add(&acc, &v)
	}
	return acc
}

// denoms sets q[i] = β − Σ_c γ^c·col_c(off + i), the table tree's leaf denominators, for the
// rows off … off+len(q)−1. Walking the rows in order, a column's value mostly moves by a small
// step from the row before (the index column by 1, a bit column by ±1, a smooth function's by a
// few units), so γ^c·v is updated by adding a precomputed γ^c·step; only a larger jump costs a
// conversion and a multiplication (fold's cost on every row).
func (t *lookupTable) denoms(q []field.Element, off uint64, beta field.Element, gpow []field.Element) {
	const maxStep = 4
	const bound = 1 << 61 // steps are taken between values this small only (no int64 wrap)
	for i := range q {
		q[i] = beta
	}
	var steps [2*maxStep + 1]field.Element
	for c, col := range t.cols {
		g := &gpow[c]
		for d := range steps {
			steps[d] = field.NewInt(int64(d - maxStep))
			steps[d].Mul(&steps[d], g)
		}
		var prod field.Element
		var last int64
		for i := range q {
			v := col.at(off + uint64(i))
			if d := v - last; i > 0 && d >= -maxStep && d <= maxStep && v > -bound && v < bound && last > -bound && last < bound {
				prod.Add(&prod, &steps[d+maxStep])
			} else {
				prod = field.NewInt(v)
				prod.Mul(&prod, g)
			}
			last = v
			q[i].Sub(&q[i], &prod)
		}
	}
}

// foldMLE returns Σ_c γ^c·col~_c(r).
func (t *lookupTable) foldMLE(r []field.Element, gpow []field.Element) field.Element {
	var acc field.Element
	for c, col := range t.cols {
		v := col.mle(r)
		v.Mul(&v, &gpow[c])
		acc.Add(&acc, &v)
	}
	return acc
}

func (t *lookupTable) describe() []byte {
	b := []byte{byte(t.logSize), byte(len(t.cols))}
	for _, c := range t.cols {
		d := c.describe()
		b = binary.BigEndian.AppendUint32(b, uint32(len(d)))
		b = append(b, d...)
	}
	return b
}

// rangeTable holds the values lo … hi−1 (lo ≤ 0 < hi) in 2^L rows; the rows past hi−lo repeat
// hi−1 (a repeated row is harmless to LogUp: its multiplicity stays 0).
func rangeTable(lo, hi int64) *lookupTable {
	n := uint64(hi - lo)
	L := log2i(int(n))
	if L < 1 {
		L = 1
	}
	col := pwColumn{{lo: 0, hi: n, c0: lo, c1: 1}}
	if n < 1<<uint(L) {
		col = append(col, segment{lo: n, hi: 1 << uint(L), c0: hi - 1})
	}
	return &lookupTable{logSize: L, cols: []tableColumn{col}, zeroRow: uint64(-lo)}
}

// clampTable holds (a, clamp(a, lo, hi)) for a ∈ [−2^(L−1), 2^(L−1)) at row j = a + 2^(L−1).
// ReLU on a signed range is clampTable(L, 0, 2^(L−1)−1).
func clampTable(L int, lo, hi int64) *lookupTable {
	H := int64(1) << uint(L-1)
	size := uint64(1) << uint(L)
	a := pwColumn{{lo: 0, hi: size, c0: -H, c1: 1}}
	// rows of a < lo, lo ≤ a ≤ hi, a > hi
	jlo, jhi := uint64(lo+H), uint64(hi+H+1)
	var f pwColumn
	if jlo > 0 {
		f = append(f, segment{lo: 0, hi: jlo, c0: lo})
	}
	f = append(f, segment{lo: jlo, hi: jhi, c0: -H, c1: 1})
	if jhi < size {
		f = append(f, segment{lo: jhi, hi: size, c0: hi})
	}
	return &lookupTable{logSize: L, cols: []tableColumn{a, f}, zeroRow: uint64(H)}
}

// quotTable is the clamp table of a rounding by 2^s (s ≥ 1) whose remainder and quotient parity
// are one committed value (remParTable): row j = a + 2^(L−1) holds (2^(s+1)·a − (a mod 2),
// clamp(a, lo, hi)) for a ∈ [−2^(L−1), 2^(L−1)). The first column is injective in a, and it is
// what 2x − z equals when x = 2^s·a + r and z = 2r + (a mod 2) (NewRequant).
func quotTable(L, s int, lo, hi int64) *lookupTable {
	t := clampTable(L, lo, hi)
	size, k := uint64(1)<<uint(L), int64(1)<<uint(s+1)
	// a = j − 2^(L−1) is odd exactly on odd rows j
	t.cols[0] = sumColumn{pwColumn{{lo: 0, hi: size, c0: -(int64(1) << uint(L-1)) * k, c1: k}}, oddColumn{lo: 0, hi: size, coef: -1}}
	return t
}

// remParTable holds z = 2r + p for the pairs (r, p) allowed to the remainder r = x − 2^s·u of a
// rounding to the nearest with ties to even and the parity p of the quotient u: |r| < h with
// either parity, and r = ±h (a tie) only with p = 0, where h = 2^(s−1) — exactly 4h = 2^(s+1)
// rows, j ∈ [0, 2h] ↦ (j − h, 0) and j ∈ (2h, 4h) ↦ (j − 3h, 1). p is z's parity, so z decodes
// to exactly one pair; z ∈ [−2^s, 2^s].
func remParTable(s int) *lookupTable {
	h := int64(1) << uint(s-1)
	z := pwColumn{{lo: 0, hi: uint64(2*h + 1), c0: -2 * h, c1: 2}}
	if 2*h+1 < 4*h {
		z = append(z, segment{lo: uint64(2*h + 1), hi: uint64(4 * h), c0: -6*h + 1, c1: 2})
	}
	return &lookupTable{logSize: s + 1, cols: []tableColumn{z}, zeroRow: uint64(h)}
}

// remRow is the row of remParTable(s) holding z = 2r + p.
func remRow(s int, r, p int64) uint64 {
	h := int64(1) << uint(s-1)
	if p == 0 {
		return uint64(r + h)
	}
	return uint64(r + 3*h)
}

// halfColumn is a column of a pair table (pairTable): col at the low L bits of the row index
// (high false) or at the bits above them. A function of some of the index bits has as MLE the
// column's MLE over those coordinates alone (the other coordinates' eq weights sum to 1).
type halfColumn struct {
	col  tableColumn
	L    int
	high bool
}

func (c halfColumn) at(j uint64) int64 {
	if c.high {
		return c.col.at(j >> uint(c.L))
	}
	return c.col.at(j & (1<<uint(c.L) - 1))
}

func (c halfColumn) mle(r []field.Element) field.Element {
	if c.high {
		return c.col.mle(r[c.L:])
	}
	return c.col.mle(r[:c.L])
}

func (c halfColumn) describe() []byte {
	h := byte(0)
	if c.high {
		h = 1
	}
	return append([]byte{'h', byte(c.L), h}, c.col.describe()...)
}

// pairTable is the table of pairs of rows of t: row j = j₀ + 2^L·j₁ (L = t.logSize) holds t's
// columns at row j₀, then t's columns at row j₁. A lookup of two elements at once into it
// proves both are rows of t; its zero row pairs t's zero row with itself.
func pairTable(t *lookupTable) *lookupTable {
	p := &lookupTable{logSize: 2 * t.logSize, zeroRow: t.zeroRow | t.zeroRow<<uint(t.logSize)}
	for _, high := range []bool{false, true} {
		for _, c := range t.cols {
			p.cols = append(p.cols, halfColumn{col: c, L: t.logSize, high: high})
		}
	}
	return p
}
