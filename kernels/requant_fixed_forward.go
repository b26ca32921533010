package kernels

import (
	"fmt"
	"math/bits"
)

// fixedRound is the integer side of RequantFixed for one element: with t = x·m + 2^(n−1) (exact,
// in 128 bits: |x| < 2^63 and m < 2^62), a = ⌊t / 2^n⌋ and low = t mod 2^n. ok is false when a
// does not fit an int64 (then it is certainly outside any quotient table).
func fixedRound(x, m int64, n int) (a int64, low uint64, ok bool) {
	neg := x < 0
	ux := uint64(x)
	if neg {
		ux = -ux
	}
	hi, lo := bits.Mul64(ux, uint64(m))
	if neg { // two's complement negation of the 128-bit product
		lo = ^lo + 1
		hi = ^hi
		if lo == 0 {
			hi++
		}
	}
	var c uint64
	lo, c = bits.Add64(lo, 1<<uint(n-1), 0)
	hi += c
	low = lo & (1<<uint(n) - 1)
	a = int64(hi<<uint(64-n) | lo>>uint(n))
	// a fits when the bits of hi above n are the sign extension of a.
	ahi := int64(hi) >> uint(n)
	return a, low, ahi == a>>63
}

// quantize returns u = round_half_even(x·m / 2^n) from a and low (fixedRound's results).
func roundFromFloor(a int64, low uint64) int64 {
	if low == 0 && a&1 == 1 {
		return a - 1
	}
	return a
}

// Forward streams x once and writes y, y0, σ, the limbs and the multiplicities (counted in RAM:
// one int64 per table row, charged to the budget). A quotient outside the clamp table fails the
// pass, naming the node, the element and the value.
func (k *RequantFixed) Forward(fc *ForwardCtx) (err error) {
	xi, axis, err := k.check(fc.Graph)
	if err != nil {
		return err
	}
	n := xi.Len()
	padded := int64(1) << xi.NumVars()
	var tableRows int64 // the counts per lookup, and the sums of shared groups (groupCounts)
	for _, a := range k.core.args {
		tableRows += int64(1) << a.tab.logSize
	}
	for _, grp := range k.core.groups() {
		if len(grp.args) > 1 {
			tableRows += int64(1) << grp.tab.logSize
		}
	}
	c := fc.chunk()
	nout := 3 + len(k.limbs)
	release, err := fc.reserve("forward of "+k.name, 8*tableRows+int64(1+nout)*int64(c)*8+int64(c)*32)
	if err != nil {
		return err
	}
	defer release()
	mults := make([][]int64, len(k.core.args))
	for A, a := range k.core.args {
		mults[A] = make([]int64, 1<<a.tab.logSize)
	}
	out := &adviceOut{fc: fc, node: k.name, chunk: c}
	defer func() {
		if err != nil {
			out.abort()
		}
	}()
	create := out.create
	zp := k.spec.ZeroPoint
	outs := make([]*lookupWriter, nout) // y, y0, σ, limbs
	ranges := [][2]int64{{k.lo, k.hi}, {k.lo - zp, k.hi - zp}, {0, 1}}
	for _, b := range k.limbs {
		ranges = append(ranges, [2]int64{0, int64(1)<<b - 1})
	}
	names := append([]string{k.y}, k.core.tensors[1:]...)
	for i := range outs {
		if outs[i], err = create(names[i], xi.Shape, ranges[i][0], ranges[i][1]); err != nil {
			return err
		}
	}

	next, done, err := openInt64s(fc.Store, k.x)
	if err != nil {
		return fmt.Errorf("node %s: %w", k.name, err)
	}
	defer done()
	// The channel of real element idx along axis is (idx / inner) mod size.
	inner, size := int64(1), int64(1)
	if axis >= 0 {
		for _, d := range xi.Shape[axis+1:] {
			inner *= int64(d)
		}
		size = int64(xi.Shape[axis])
	}
	H := int64(1) << (k.qbits - 1)
	q := uint(k.qbits)
	sh := k.spec.Shift
	xs := make([]int64, c)
	limbVals := make([]int64, len(k.limbs))
	for off := int64(0); off < n; off += int64(c) {
		cnt := int(min(int64(c), n-off))
		if err := next(xs[:cnt]); err != nil {
			return fmt.Errorf("node %s: input %q at %d: %w", k.name, k.x, off, err)
		}
		for i, x := range xs[:cnt] {
			idx := off + int64(i)
			m := k.spec.Multipliers[0]
			if axis >= 0 {
				m = k.spec.Multipliers[(idx/inner)%size]
			}
			a, low, ok := fixedRound(x, m, sh)
			if !ok || a < -H || a >= H {
				return fmt.Errorf("node %s: input %q element %d is %d: round(x·%d / 2^%d) leaves the %d-bit quotient table [%d, %d) (raise qbits)", k.name, k.x, idx, x, m, sh, k.qbits, -H, H)
			}
			nz := int64(0)
			if low != 0 {
				nz = 1
			}
			y0 := clamp(roundFromFloor(a, low), k.lo-zp, k.hi-zp)
			var s int64
			rest := low
			for j, b := range k.limbs {
				limbVals[j] = int64(rest & (1<<uint(b) - 1))
				rest >>= uint(b)
				s += limbVals[j]
			}
			mults[0][uint64(a+H)+uint64(nz)<<q]++
			mults[1][s]++
			if len(k.limbs) > 1 {
				for j, v := range limbVals {
					mults[2+j][v]++
				}
			}
			outs[0].buf = append(outs[0].buf, y0+zp)
			outs[1].buf = append(outs[1].buf, y0)
			outs[2].buf = append(outs[2].buf, nz)
			for j, v := range limbVals {
				outs[3+j].buf = append(outs[3+j].buf, v)
			}
		}
		for _, w := range outs {
			if err := w.w.WriteInt64s(w.buf); err != nil {
				return fmt.Errorf("node %s: %w", k.name, err)
			}
			w.buf = w.buf[:0]
		}
	}
	// Padding: every advice tensor and t are zero there, the tuple at each table's zero row.
	return out.finish(&k.core, mults, padded, n)
}
