package kernels

import (
	"fmt"
	"math/big"

	"github.com/streamprove/streamprove/gkr"
	"github.com/streamprove/streamprove/tensorstore"
)

// softmaxRow computes one row of the integer softmax (see Softmax): for the kept positions
// (keep[j]) the limbs, complements, remainders and output; the others stay zero. It returns the
// row max and sum, or an error when the row's spread reaches 2^16.
func softmaxRow(x []int64, keep func(j int) bool, e0, e1 []int64, q int, out [][]int64) (m, S int64, err error) {
	return softmaxRowAbove(x, keep, e0, e1, q, out, 0)
}

// softmaxRowAbove is softmaxRow with the row "max" taken above the true max (a cheating
// prover's witness, for the soundness tests; honest provers use above = 0).
func softmaxRowAbove(x []int64, keep func(j int) bool, e0, e1 []int64, q int, out [][]int64, above int64) (m, S int64, err error) {
	for _, o := range out {
		clear(o)
	}
	am := -1
	for j, v := range x {
		if keep(j) && (am < 0 || v > x[am]) {
			am = j
		}
	}
	if am < 0 {
		return 0, 0, nil
	}
	m = x[am] + above
	e := make([]int64, len(x))
	for j, v := range x {
		if !keep(j) {
			continue
		}
		d := m - v
		if d >= smDMax {
			return 0, 0, fmt.Errorf("element %d is %d below the row max %d (the exp limbs cover 2^16)", j, d, m)
		}
		d0, d1 := d&(1<<smLimb-1), d>>smLimb
		out[smD0][j], out[smD1][j] = d0, d1
		out[smE0][j], out[smE1][j] = smScale-e0[d0], smScale-e1[d1]
		e[j] = e0[d0] * e1[d1]
		S += e[j]
	}
	out[smChi][am] = 1
	Q := int64(1) << uint(q)
	for j := range x {
		if !keep(j) {
			continue
		}
		p := Q * e[j] / S
		rem := Q*e[j] - p*S
		u := S - 1 - rem
		out[smP][j] = p
		out[smR0][j], out[smR1][j] = rem&(smRange-1), rem/smRange
		out[smU0][j], out[smU1][j] = u&(smRange-1), u/smRange
	}
	return m, S, nil
}

// Forward streams x row by row and writes p, the advice and the multiplicities.
func (s *Softmax) Forward(fc *ForwardCtx) (err error) {
	g := fc.Graph
	if err := s.check(g); err != nil {
		return err
	}
	xi := g.Tensors[s.x]
	shape := xi.Shape
	n := len(shape)
	T := shape[n-1]
	rows := gkr.Numel(shape[:n-1])
	padded := int64(1) << xi.NumVars()
	var tableRows int64 // the counts per lookup, and the sums of the shared groups
	for _, a := range s.core.args {
		tableRows += int64(1) << a.tab.logSize
	}
	for _, grp := range s.core.groups() {
		if len(grp.args) > 1 {
			tableRows += int64(1) << grp.tab.logSize
		}
	}
	release, err := fc.reserve("forward of "+s.name, 8*tableRows+13*int64(T)*8)
	if err != nil {
		return err
	}
	defer release()
	infos := s.OutputInfos(shape)
	bounds := map[string]int64{s.p: 1 << uint(s.q)}
	pe := s.perElem()
	for i, b := range []int64{255, smScale, 255, smScale, 1, smRange - 1, smRange - 1, smRange - 1, smRange - 1} {
		bounds[pe[i]] = b
	}
	xb := fc.Bounds[s.x]
	if xb == nil || !xb.IsInt64() {
		return fmt.Errorf("node %s: input %q has no int64 bound", s.name, s.x)
	}
	bounds[s.rowMax()] = xb.Int64()
	bounds[s.rowSum()] = int64(T) * smScale * smScale
	for _, grp := range s.core.groups() {
		bounds[grp.mult] = padded * int64(len(grp.args))
	}
	ws := map[string]*tensorstore.Writer{}
	defer func() {
		if err != nil {
			for _, w := range ws {
				w.Abort()
			}
		}
	}()
	for _, ti := range infos {
		b := big.NewInt(bounds[ti.Name])
		if fc.Bounds != nil {
			fc.Bounds[ti.Name] = b
		}
		w, err := fc.Store.Create(ti.Name, ti.Shape, DTypeForBound(b), fc.Write)
		if err != nil {
			return fmt.Errorf("node %s: %w", s.name, err)
		}
		ws[ti.Name] = w
	}
	next, done, err := openInt64s(fc.Store, s.x)
	if err != nil {
		return fmt.Errorf("node %s: %w", s.name, err)
	}
	defer done()
	e0, e1 := expValues(s.frac, 0), expValues(s.frac, 1)
	mults := make([][]int64, len(s.core.args))
	for A, a := range s.core.args {
		mults[A] = make([]int64, 1<<a.tab.logSize)
	}
	x := make([]int64, T)
	out := make([][]int64, smP+1)
	for i := range out {
		out[i] = make([]int64, T)
	}
	I := 1
	if n >= 2 {
		I = shape[n-2]
	}
	one := []int64{0}
	for r := int64(0); r < rows; r++ {
		if err := next(x); err != nil {
			return fmt.Errorf("node %s: input %q row %d: %w", s.name, s.x, r, err)
		}
		i := int(r % int64(I))
		keep := func(j int) bool { return !s.causal || j <= i }
		m, S, err := softmaxRow(x, keep, e0, e1, s.q, out)
		if err != nil {
			return fmt.Errorf("node %s: input %q row %d: %w", s.name, s.x, r, err)
		}
		for j := 0; j < T; j++ {
			mults[0][out[smD0][j]]++
			mults[1][out[smD1][j]]++
			mults[2][out[smChi][j]]++
			for A, t := range []int{smR0, smR1, smU0, smU1, smP} {
				mults[3+A][out[t][j]]++
			}
		}
		for k, name := range append(pe, s.p) {
			if err := ws[name].WriteInt64s(out[k]); err != nil {
				return fmt.Errorf("node %s: %w", s.name, err)
			}
		}
		one[0] = m
		if err := ws[s.rowMax()].WriteInt64s(one); err != nil {
			return fmt.Errorf("node %s: %w", s.name, err)
		}
		one[0] = S
		if err := ws[s.rowSum()].WriteInt64s(one); err != nil {
			return fmt.Errorf("node %s: %w", s.name, err)
		}
	}
	// Padding tuples are zero: counted at each table's zero row (row 0 of every table here),
	// once per lookup; the range lookups share one table and one count (lookupCore.groups).
	for A, a := range s.core.args {
		mults[A][a.tab.zeroRow] += padded - xi.Len()
	}
	counts := s.core.groupCounts(mults)
	for G, grp := range s.core.groups() {
		if err := ws[grp.mult].WriteInt64s(counts[G]); err != nil {
			return fmt.Errorf("node %s: %w", s.name, err)
		}
	}
	for _, ti := range infos {
		if _, err := ws[ti.Name].Commit(); err != nil {
			return fmt.Errorf("node %s: %w", s.name, err)
		}
	}
	ws = nil
	return nil
}
