package kernels

import (
	"fmt"
	"math/big"

	"github.com/streamprove/streamprove/tensorstore"
)

// rmsRow returns v = Σ x², ρ = ⌊√(2^30·D / (v + ε·D))⌋ and the error terms a = 2^30·D − ρ²·V and
// b = (ρ+1)²·V − 2^30·D − 1 (both ≥ 0, below 2^48).
func rmsRow(x []int64, eps int64) (v, rho int64, a, b *big.Int, err error) {
	D := int64(len(x))
	for _, e := range x {
		v += e * e
	}
	V := new(big.Int).SetInt64(v + eps*D)
	C := new(big.Int).Lsh(big.NewInt(D), 2*normK)
	r := new(big.Int).Sqrt(new(big.Int).Quo(C, V))
	rho = r.Int64()
	a = new(big.Int).Sub(C, new(big.Int).Mul(new(big.Int).Mul(r, r), V))
	r1 := new(big.Int).Add(r, big.NewInt(1))
	b = new(big.Int).Mul(new(big.Int).Mul(r1, r1), V)
	b.Sub(b, C).Sub(b, big.NewInt(1))
	lim := new(big.Int).Lsh(big.NewInt(1), 16*normLimbs)
	if a.Sign() < 0 || b.Sign() < 0 || a.Cmp(lim) >= 0 || b.Cmp(lim) >= 0 || rho >= smRange {
		return 0, 0, nil, nil, fmt.Errorf("row with Σx² = %d: the reciprocal square root's error terms leave 48 bits", v)
	}
	return v, rho, a, b, nil
}

// Forward streams x row by row (γ held in RAM, D integers) and writes y and the advice.
func (n *RMSNorm) Forward(fc *ForwardCtx) (err error) {
	g := fc.Graph
	if err := n.check(g); err != nil {
		return err
	}
	xs := g.Tensors[n.x].Shape
	rows, D := xs[0], xs[1]
	release, err := fc.reserve("forward of "+n.name, 8*(4*int64(D)+9*smRange))
	if err != nil {
		return err
	}
	defer release()
	gamma := make([]int64, D)
	{
		next, done, err := openInt64s(fc.Store, n.g)
		if err != nil {
			return fmt.Errorf("node %s: %w", n.name, err)
		}
		err = next(gamma)
		done()
		if err != nil {
			return fmt.Errorf("node %s: γ %q: %w", n.name, n.g, err)
		}
	}
	infos := n.OutputInfos(xs)
	ws := map[string]*tensorstore.Writer{}
	defer func() {
		if err != nil {
			for _, w := range ws {
				w.Abort()
			}
		}
	}()
	H := int64(1) << uint(n.bits-1)
	padded := int64(1) << g.Tensors[n.x].NumVars()
	paddedRows := int64(1) << log2i(rows)
	isMult := map[string]bool{}
	for _, c := range []*lookupCore{&n.elem, &n.row} {
		for _, a := range c.args {
			isMult[a.mult] = true
		}
	}
	for _, ti := range infos {
		b := big.NewInt(smRange)
		switch ti.Name {
		case n.y:
			b = big.NewInt(H)
		case n.sq():
			b = new(big.Int).Lsh(big.NewInt(int64(D)), 30)
		default:
			if isMult[ti.Name] {
				b = big.NewInt(max(padded, paddedRows))
			}
		}
		if fc.Bounds != nil {
			fc.Bounds[ti.Name] = b
		}
		w, err := fc.Store.Create(ti.Name, ti.Shape, DTypeForBound(b), fc.Write)
		if err != nil {
			return fmt.Errorf("node %s: %w", n.name, err)
		}
		ws[ti.Name] = w
	}
	next, done, err := openInt64s(fc.Store, n.x)
	if err != nil {
		return fmt.Errorf("node %s: %w", n.name, err)
	}
	defer done()
	multY := make([]int64, 2*H)
	multRem := make([]int64, 1<<uint(n.shift))
	multRow := make([][]int64, 1+2*normLimbs)
	for i := range multRow {
		multRow[i] = make([]int64, smRange)
	}
	x, y, rem := make([]int64, D), make([]int64, D), make([]int64, D)
	one := []int64{0}
	mask := int64(1)<<uint(16) - 1
	for r := 0; r < rows; r++ {
		if err := next(x); err != nil {
			return fmt.Errorf("node %s: input %q row %d: %w", n.name, n.x, r, err)
		}
		v, rho, a, b, err := rmsRow(x, n.eps)
		if err != nil {
			return fmt.Errorf("node %s: row %d: %w", n.name, r, err)
		}
		for j := range x {
			t := x[j] * rho * gamma[j]
			y[j] = t >> uint(n.shift)
			rem[j] = t - y[j]<<uint(n.shift)
			if y[j] < -H || y[j] >= H {
				return fmt.Errorf("node %s: row %d element %d: output %d outside %d bits (raise shift)", n.name, r, j, y[j], n.bits)
			}
			multY[y[j]+H]++
			multRem[rem[j]]++
		}
		if err := ws[n.y].WriteInt64s(y); err != nil {
			return err
		}
		if err := ws[n.rem()].WriteInt64s(rem); err != nil {
			return err
		}
		vals := []int64{rho}
		for _, e := range []*big.Int{a, b} {
			for l := 0; l < normLimbs; l++ {
				vals = append(vals, new(big.Int).Rsh(e, uint(16*l)).Int64()&mask)
			}
		}
		for i, t := range n.rowLimbs() {
			one[0] = vals[i]
			multRow[i][vals[i]]++
			if err := ws[t].WriteInt64s(one); err != nil {
				return err
			}
		}
		one[0] = v
		if err := ws[n.sq()].WriteInt64s(one); err != nil {
			return err
		}
	}
	// Padding counts at the zero rows.
	multY[H] += padded - int64(rows*D)
	multRem[0] += padded - int64(rows*D)
	for i := range multRow {
		multRow[i][0] += paddedRows - int64(rows)
	}
	write := func(name string, v []int64) error { return ws[name].WriteInt64s(v) }
	if err := write(n.elem.args[0].mult, multY); err != nil {
		return err
	}
	if err := write(n.elem.args[1].mult, multRem); err != nil {
		return err
	}
	for i, a := range n.row.args {
		if err := write(a.mult, multRow[i]); err != nil {
			return err
		}
	}
	for _, ti := range infos {
		if _, err := ws[ti.Name].Commit(); err != nil {
			return fmt.Errorf("node %s: %w", n.name, err)
		}
	}
	ws = nil
	return nil
}
