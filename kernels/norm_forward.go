package kernels

import (
	"cmp"
	"fmt"
	"math/big"
	"math/bits"

	"github.com/streamprove/streamprove/gkr"
	"github.com/streamprove/streamprove/tensorstore"
)

// normRowChunk caps the chunk length of the per-row tensors.
const normRowChunk = 1 << 10

// normRow returns v = Σ x², S = Σ x (0 unless centering), ρ = ⌊√(C / W)⌋ and the error terms
// a = C − ρ²·W and b = (ρ+1)²·W − C − 1 (both ≥ 0, below 2^(16·limbs)), with W and C as in the
// Norm doc comment.
func (n *Norm) normRow(x []int64) (v, S, rho int64, a, b *big.Int, err error) {
	D := int64(len(x))
	bv, bS, e := new(big.Int), new(big.Int), new(big.Int)
	for _, xe := range x {
		e.SetInt64(xe)
		bS.Add(bS, e)
		bv.Add(bv, e.Mul(e, e))
	}
	if !bv.IsInt64() {
		return 0, 0, 0, nil, nil, fmt.Errorf("Σx² = %v does not fit 63 bits", bv)
	}
	dv, eD, C64, _ := n.scales(D)
	W := new(big.Int).Mul(big.NewInt(dv), bv)
	if n.center {
		W.Sub(W, new(big.Int).Mul(bS, bS))
	} else {
		bS.SetInt64(0)
	}
	W.Add(W, big.NewInt(eD))
	C := big.NewInt(C64)
	r := new(big.Int).Sqrt(new(big.Int).Quo(C, W))
	a = new(big.Int).Sub(C, new(big.Int).Mul(new(big.Int).Mul(r, r), W))
	r1 := new(big.Int).Add(r, big.NewInt(1))
	b = new(big.Int).Mul(new(big.Int).Mul(r1, r1), W)
	b.Sub(b, C).Sub(b, big.NewInt(1))
	lim := new(big.Int).Lsh(big.NewInt(1), uint(16*n.limbs))
	if a.Sign() < 0 || b.Sign() < 0 || a.Cmp(lim) >= 0 || b.Cmp(lim) >= 0 || r.Int64() >= smRange {
		return 0, 0, 0, nil, nil, fmt.Errorf("row with Σx² = %v, Σx = %v: the reciprocal square root's error terms leave %d bits", bv, bS, 16*n.limbs)
	}
	return bv.Int64(), bS.Int64(), r.Int64(), a, b, nil
}

// mulFloor returns q = ⌊c·ρ·γ / 2^s⌋ and r = c·ρ·γ − 2^s·q, in 64-bit arithmetic when the product
// fits and through big.Int otherwise; ok is false when q leaves int64.
func mulFloor(c, rho, gamma int64, s int) (q, r int64, ok bool) {
	abs := func(v int64) uint64 {
		if v < 0 {
			return uint64(-v)
		}
		return uint64(v)
	}
	if bits.Len64(abs(c))+bits.Len64(abs(rho))+bits.Len64(abs(gamma)) <= 62 {
		t := c * rho * gamma
		q = t >> uint(s)
		return q, t - q<<uint(s), true
	}
	t := new(big.Int).Mul(big.NewInt(c), big.NewInt(rho))
	t.Mul(t, big.NewInt(gamma))
	bq := new(big.Int).Rsh(t, uint(s)) // floor for negative values too
	br := new(big.Int).Sub(t, new(big.Int).Lsh(bq, uint(s)))
	return bq.Int64(), br.Int64(), bq.IsInt64()
}

// Forward streams x row by row (γ and β held in RAM, D integers each) and writes y and the
// advice.
func (n *Norm) Forward(fc *ForwardCtx) (err error) {
	g := fc.Graph
	if err := n.check(g); err != nil {
		return err
	}
	lD, lR, D64, rowShape := n.logs(g)
	D := int(D64)
	rows := int(gkr.Numel(rowShape))
	vecs := int64(4)
	if n.center {
		vecs = 6
	}
	// The row lookups' counts are int32 (at most one per row): 4 bytes per table row.
	release, err := fc.reserve("forward of "+n.name, 8*(vecs*int64(D)+int64(len(n.elem.args))*smRange)+4*smRange)
	if err != nil {
		return err
	}
	defer release()
	readVec := func(name, what string) ([]int64, error) {
		v := make([]int64, D)
		next, done, err := openInt64s(fc.Store, name)
		if err != nil {
			return nil, fmt.Errorf("node %s: %w", n.name, err)
		}
		defer done()
		if err := next(v); err != nil {
			return nil, fmt.Errorf("node %s: %s %q: %w", n.name, what, name, err)
		}
		return v, nil
	}
	gamma, err := readVec(n.g, "γ")
	if err != nil {
		return err
	}
	beta := make([]int64, D)
	if n.center {
		if beta, err = readVec(n.b, "β"); err != nil {
			return err
		}
	}
	infos := n.OutputInfos(g.Tensors[n.x].Shape)
	ws := map[string]*tensorstore.Writer{}
	defer func() {
		if err != nil {
			for _, w := range ws {
				w.Abort()
			}
		}
	}()
	H := int64(1) << uint(n.bits-1)
	padded := int64(1) << (lD + lR)
	paddedRows := int64(1) << lR
	isMult, isRow := map[string]bool{}, map[string]bool{}
	for _, c := range []*lookupCore{&n.elem, &n.row} {
		for _, a := range c.args {
			isMult[a.mult] = true
		}
	}
	for _, t := range append(n.rowLimbs(), append(n.rowSums(), n.rowMult())...) {
		isRow[t] = true
	}
	// The row sums' bounds follow x's (int16 when unknown).
	xb := big.NewInt(1 << 15)
	if b := fc.Bounds[n.x]; b != nil && b.Cmp(xb) > 0 {
		xb = b
	}
	for _, ti := range infos {
		b := big.NewInt(smRange)
		switch ti.Name {
		case n.y:
			b = big.NewInt(H)
		case n.sq():
			b = new(big.Int).Mul(big.NewInt(D64), new(big.Int).Mul(xb, xb))
		case n.rowSum():
			b = new(big.Int).Mul(big.NewInt(D64), xb)
		default:
			if isMult[ti.Name] {
				b = big.NewInt(max(padded, paddedRows*int64(len(n.row.args))))
			}
		}
		if fc.Bounds != nil {
			fc.Bounds[ti.Name] = b
		}
		opts := fc.Write
		if isRow[ti.Name] {
			// Per-row tensors are small but the row sumcheck reads a dozen at once, and a
			// reader holds a chunk: small chunks keep that off the budget.
			opts.ChunkElems = min(cmp.Or(opts.ChunkElems, 1<<16), normRowChunk)
		}
		w, err := fc.Store.Create(ti.Name, ti.Shape, DTypeForBound(b), opts)
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
	mults := make([][]int64, len(n.elem.args))
	for i, a := range n.elem.args {
		mults[i] = make([]int64, 1<<a.tab.logSize)
	}
	if paddedRows*int64(len(n.row.args)) >= 1<<31 {
		return fmt.Errorf("node %s: %d rows: the row counts leave 31 bits", n.name, paddedRows)
	}
	// ρ and the limbs are counted in one table (their lookups share it).
	multRow := make([]int32, smRange)
	_, _, _, s := n.scales(D64)
	x, y, rem, remHi := make([]int64, D), make([]int64, D), make([]int64, D), make([]int64, D)
	one := []int64{0}
	mask := int64(1)<<uint(16) - 1
	for r := 0; r < rows; r++ {
		if err := next(x); err != nil {
			return fmt.Errorf("node %s: input %q row %d: %w", n.name, n.x, r, err)
		}
		v, S, rho, a, b, err := n.normRow(x)
		if err != nil {
			return fmt.Errorf("node %s: row %d: %w", n.name, r, err)
		}
		for j := range x {
			c := x[j]
			if n.center {
				c = D64*x[j] - S
			}
			q, t, ok := mulFloor(c, rho, gamma[j], s)
			y[j] = q + beta[j]
			if !ok || y[j] < -H || y[j] >= H {
				return fmt.Errorf("node %s: row %d element %d: output outside %d bits (raise shift)", n.name, r, j, n.bits)
			}
			rem[j], remHi[j] = t&(1<<uint(n.shift)-1), t>>uint(n.shift)
			mults[0][y[j]+H]++
			mults[1][rem[j]]++
			if n.k > 0 {
				mults[2][remHi[j]]++
			}
		}
		for i, t := range n.elemAdvice() {
			if err := ws[t].WriteInt64s([][]int64{y, rem, remHi}[i]); err != nil {
				return err
			}
		}
		vals := []int64{rho}
		for _, e := range []*big.Int{a, b} {
			for l := 0; l < n.limbs; l++ {
				vals = append(vals, new(big.Int).Rsh(e, uint(16*l)).Int64()&mask)
			}
		}
		for i, t := range n.rowLimbs() {
			one[0] = vals[i]
			multRow[vals[i]]++
			if err := ws[t].WriteInt64s(one); err != nil {
				return err
			}
		}
		for i, t := range n.rowSums() {
			one[0] = []int64{v, S}[i]
			if err := ws[t].WriteInt64s(one); err != nil {
				return err
			}
		}
	}
	// Padding counts at the zero rows.
	mults[0][H] += padded - int64(rows*D)
	for i := 1; i < len(mults); i++ {
		mults[i][0] += padded - int64(rows*D)
	}
	multRow[0] += int32(paddedRows-int64(rows)) * int32(len(n.row.args))
	for i, a := range n.elem.args {
		if err := ws[a.mult].WriteInt64s(mults[i]); err != nil {
			return err
		}
	}
	for lo := 0; lo < smRange; lo += len(x) {
		part := x[:min(len(x), smRange-lo)]
		for j := range part {
			part[j] = int64(multRow[lo+j])
		}
		if err := ws[n.rowMult()].WriteInt64s(part); err != nil {
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
