package kernels

import (
	"fmt"
	"io"
	"slices"

	"github.com/streamprove/streamprove/field"
	"github.com/streamprove/streamprove/gkr"
	"github.com/streamprove/streamprove/spill"
	"github.com/streamprove/streamprove/sumcheck"
)

// MatMul is the product of two activations batched over leading dimensions (attention heads):
// Y[l,i,j] = Σ_k A[l,i,k]·B[l,k,j], or with B transposed (the QKᵀ form)
// Y[l,i,j] = Σ_k A[l,i,k]·B[l,j,k]. A, B and Y share their leading dimensions (any number,
// none for a plain matrix product); l below is their flattened padded index.
//
// Proof: for the claim Ỹ(r_j, r_i, r_l) = v the prover streams A once building
// A_r[l,k] = Σ_i eq(r_i,i)·A[l,i,k] and B once building B_r[l,k] = Σ_j eq(r_j,j)·B[l,·,·], then
// proves Σ_{l,k} eq(r_l,l)·A_r[l,k]·B_r[l,k] = v with one degree-3 sumcheck over (k, l) (degree 2
// without leading dimensions). The eq factor is a virtual source whose final value the verifier
// checks itself. The sumcheck's point (ρ_k, ρ_l) leaves the claims Ã(ρ_k, r_i, ρ_l) and
// B̃(r_j, ρ_k, ρ_l) (B̃(ρ_k, r_j, ρ_l) transposed): both operands' claims flow backwards like any
// claim, nothing is committed. Cost O(|A| + |B|) field operations against the forward pass's
// O(L·I·J·K); memory two vectors of L·K elements (spilled when the budget cannot hold them)
// and one padded row of A or B.
//
// Zero padding: a padded row i, column j or head l of Y is a sum of products in which a padded
// row of A, column of B or head of both is a factor, and a padded k meets zeros in both; so Y's
// padding is zero when its operands' is.
type MatMul struct {
	name   string
	a, b   string
	y      string
	transB bool
}

// NewMatMul returns Y = A·B (transB false) or Y = A·Bᵀ over the last two dimensions.
func NewMatMul(name, a, b, y string, transB bool) *MatMul {
	return &MatMul{name: name, a: a, b: b, y: y, transB: transB}
}

// Name returns the node name.
func (m *MatMul) Name() string { return m.name }

// Inputs returns A and B.
func (m *MatMul) Inputs() []string { return []string{m.a, m.b} }

// Outputs returns Y.
func (m *MatMul) Outputs() []string { return []string{m.y} }

// Describe encodes the op for the graph digest.
func (m *MatMul) Describe() []byte {
	t := int64(0)
	if m.transB {
		t = 1
	}
	return describe("matmul/1", t)
}

// mmDims are a matmul's sizes: lead the real leading dimensions, I, K, J the real matrix sizes.
type mmDims struct {
	lead    []int
	i, k, j int
}

func (d mmDims) logs() (lL, lI, lK, lJ int) {
	for _, x := range d.lead {
		lL += log2i(x)
	}
	return lL, log2i(d.i), log2i(d.k), log2i(d.j)
}

// MatMulShape returns Y's shape for operands of shapes a and b, or an error naming the
// mismatch.
func MatMulShape(a, b []int, transB bool) ([]int, error) {
	d, err := matmulDims(a, b, transB)
	if err != nil {
		return nil, err
	}
	return append(slices.Clone(d.lead), d.i, d.j), nil
}

func matmulDims(as, bs []int, transB bool) (mmDims, error) {
	if len(as) < 2 || len(bs) != len(as) {
		return mmDims{}, fmt.Errorf("operands of shapes %v and %v: want two tensors of one rank ≥ 2", as, bs)
	}
	n := len(as)
	if !slices.Equal(as[:n-2], bs[:n-2]) {
		return mmDims{}, fmt.Errorf("leading dimensions %v and %v differ", as[:n-2], bs[:n-2])
	}
	d := mmDims{lead: as[:n-2], i: as[n-2], k: as[n-1], j: bs[n-1]}
	bk := bs[n-2]
	if transB {
		d.j, bk = bs[n-2], bs[n-1]
	}
	if bk != d.k {
		return mmDims{}, fmt.Errorf("inner dimensions differ: A %v has %d, B %v has %d (transposed %v)", as, d.k, bs, bk, transB)
	}
	return d, nil
}

func (m *MatMul) dims(g *gkr.Graph) (mmDims, error) {
	d, err := matmulDims(g.Tensors[m.a].Shape, g.Tensors[m.b].Shape, m.transB)
	if err != nil {
		return d, fmt.Errorf("%w: node %s: %v", gkr.ErrGraph, m.name, err)
	}
	want := append(slices.Clone(d.lead), d.i, d.j)
	if ys := g.Tensors[m.y].Shape; !slices.Equal(ys, want) {
		return d, fmt.Errorf("%w: node %s: output %q has shape %v, want %v", gkr.ErrGraph, m.name, m.y, ys, want)
	}
	return d, nil
}

// Estimate: the two L·K vectors (spilled when the budget is short) and a padded operand row;
// both operands streamed once.
func (m *MatMul) Estimate(g *gkr.Graph) gkr.Estimate {
	d, err := m.dims(g)
	if err != nil {
		return gkr.Estimate{}
	}
	lL, lI, lK, lJ := d.logs()
	row := int64(1) << max(lK, lJ)
	return gkr.Estimate{MinBytes: 3 * row * field.Bytes, TableBytes: 2 * (int64(1) << (lL + lK)) * field.Bytes,
		StreamBytes: (int64(1) << (lL + lK)) * (int64(1)<<lI + int64(1)<<lJ) * field.Bytes}
}

// split returns the claim point's parts (r_j, r_i, r_l).
func (m *MatMul) split(d mmDims, p []field.Element) (rJ, rI, rL []field.Element) {
	_, lI, _, lJ := d.logs()
	return p[:lJ], p[lJ : lJ+lI], p[lJ+lI:]
}

func (m *MatMul) claim(d mmDims, c gkr.Claim) *sumcheck.Claim {
	lL, _, lK, _ := d.logs()
	sc := &sumcheck.Claim{NumVars: lK + lL, Gate: sumcheck.Product(2), Sum: c.Value}
	if lL > 0 {
		sc.Gate = sumcheck.Product(3)
	}
	return sc
}

// Prove reduces the claim on Y to claims on A and B.
func (m *MatMul) Prove(pc *gkr.ProveCtx, out []gkr.Claim) ([]gkr.Claim, error) {
	return m.protocol(pc.Party(), out)
}

// Verify checks the sumcheck and returns the claims on A and B.
func (m *MatMul) Verify(vc *gkr.VerifyCtx, out []gkr.Claim) ([]gkr.Claim, error) {
	return m.protocol(vc.Party(), out)
}

// protocol is the kernel's one description of its messages: one sumcheck over (k, l) of
// A_r·B_r (·eq(r_l, l) when batched), where the prover streams A and B once each to build the
// head-wise combined rows; the verifier evaluates the eq factor itself.
func (m *MatMul) protocol(p *gkr.Party, out []gkr.Claim) ([]gkr.Claim, error) {
	d, err := m.dims(p.Graph())
	if err != nil {
		return nil, err
	}
	c := out[0]
	rJ, rI, rL := m.split(d, c.Point)
	lL, lI, lK, lJ := d.logs()
	var ar, br *spill.Table
	defer func() {
		for _, t := range []*spill.Table{ar, br} {
			if t != nil {
				t.Release()
			}
		}
	}()
	point, finals, err := p.Sumcheck(m.claim(d, c), func() ([]field.Source, error) {
		pc := p.Prover()
		var err error
		if ar, err = combineHeads(pc, m.name, m.a, false, lL, lI, lK, rI); err != nil {
			return nil, err
		}
		if m.transB {
			br, err = combineHeads(pc, m.name, m.b, false, lL, lJ, lK, rJ)
		} else {
			br, err = combineHeads(pc, m.name, m.b, true, lL, lK, lJ, rJ)
		}
		if err != nil {
			return nil, err
		}
		srcs := []field.Source{ar, br}
		if lL > 0 {
			srcs = append(srcs, leadEqSource{lK: lK, rL: rL})
		}
		return srcs, nil
	})
	if err != nil {
		return nil, err
	}
	if p.Verifying() && lL > 0 {
		if want := field.Eq(rL, point[lK:]); !finals[2].Equal(&want) {
			return nil, fmt.Errorf("%w: node %s: the heads' eq factor is not eq(r_l, ρ_l)", gkr.ErrBadProof, m.name)
		}
	}
	return m.inClaims(d, point, rJ, rI, finals), nil
}

func (m *MatMul) inClaims(d mmDims, point, rJ, rI, finals []field.Element) []gkr.Claim {
	_, _, lK, _ := d.logs()
	rK, rL := point[:lK], point[lK:]
	cat := func(ps ...[]field.Element) []field.Element {
		var out []field.Element
		for _, p := range ps {
			out = append(out, p...)
		}
		return append(make([]field.Element, 0, len(out)), out...)
	}
	bp := cat(rJ, rK, rL)
	if m.transB {
		bp = cat(rK, rJ, rL)
	}
	return []gkr.Claim{
		{Tensor: m.a, Point: cat(rK, rI, rL), Value: finals[0]},
		{Tensor: m.b, Point: bp, Value: finals[1]},
	}
}

// combineHeads streams a [L, X, Y] tensor (padded, 2^lL heads of 2^lX rows of 2^lY) once and returns
// the table out[l, k] of 2^(lL+lK) elements, with
//
//	out[l, k] = Σ_x eq(r, x)·T[l, x, k]  (cols false: r binds the rows, k runs over columns), or
//	out[l, k] = Σ_y eq(r, y)·T[l, k, y]  (cols true: r binds the columns, k runs over rows).
//
// The table lives in RAM when the budget allows and spills otherwise; one padded row (and the
// per-head slice of the result, or an eq table of one row for cols) is held at a time.
func combineHeads(pc *gkr.ProveCtx, node, name string, cols bool, lL, lX, lY int, r []field.Element) (*spill.Table, error) {
	b := pc.Budget()
	lK := lY
	if cols {
		lK = lX
	}
	PX, PY, PK := int64(1)<<lX, int64(1)<<lY, int64(1)<<lK
	src, err := pc.Source(name)
	if err != nil {
		return nil, err
	}
	if src.Len() != int64(1)<<(lL+lX+lY) {
		return nil, fmt.Errorf("node %s: tensor %q has %d elements, want 2^%d", node, name, src.Len(), lL+lX+lY)
	}
	scratch := PY + PK // one row and one head's result
	if b != nil {
		if err := b.Reserve("matmul row of "+name, scratch*field.Bytes); err != nil {
			return nil, fmt.Errorf("node %s: %w", node, err)
		}
		defer b.Release(scratch * field.Bytes)
	}
	out, err := spill.NewTable(b, "matmul vector of "+name, int64(1)<<(lL+lK), pc.Opt.SpillDir)
	if err != nil {
		return nil, err
	}
	st, err := src.Open()
	if err != nil {
		out.Release()
		return nil, err
	}
	defer st.Close()
	buf := make(field.Vector, PY+PK)
	row, acc := buf[:PY], buf[PY:]
	var eqY []field.Element
	if cols {
		// eq(r, y) over one row: PY elements, charged on top of the row.
		if b != nil {
			if err := b.Reserve("matmul eq row of "+name, PY*field.Bytes); err != nil {
				out.Release()
				return nil, fmt.Errorf("node %s: %w", node, err)
			}
			defer b.Release(PY * field.Bytes)
		}
		eqY = field.EqTable(make([]field.Element, PY), r)
	}
	tmp := make(field.Vector, 0)
	if !cols {
		tmp = make(field.Vector, PY)
	}
	w := workersFor(PY, pc.Opt.Workers)
	for l := int64(0); l < int64(1)<<lL; l++ {
		for i := range acc {
			acc[i].SetZero()
		}
		for x := int64(0); x < PX; x++ {
			if err := field.ReadFull(st, row); err != nil {
				out.Release()
				if err == io.EOF {
					err = io.ErrUnexpectedEOF
				}
				return nil, fmt.Errorf("node %s: tensor %q head %d row %d: %w", node, name, l, x, err)
			}
			if cols {
				acc[x] = field.InnerProduct(row, eqY)
				continue
			}
			e := field.EqIndex(r, uint64(x))
			field.Parallel(int(PY), w, func(s, t int) {
				tv := tmp[s:t]
				tv.ScalarMul(row[s:t], &e)
				av := acc[s:t]
				av.Add(av, tv)
			})
		}
		if err := out.WriteAt(acc, l*PK); err != nil {
			out.Release()
			return nil, err
		}
	}
	return out, nil
}

// leadEqSource is eq(r_l, l) over (k, l) ∈ {0,1}^lK × {0,1}^len(r_l), constant along k: the
// heads' eq factor of the matmul sumcheck. Its MLE at (ρ_k, ρ_l) is Eq(r_l, ρ_l).
type leadEqSource struct {
	lK int
	rL []field.Element
}

func (s leadEqSource) Len() int64 { return int64(1) << (s.lK + len(s.rL)) }

func (s leadEqSource) Open() (field.Stream, error) { return &leadEqStream{s: s}, nil }

type leadEqStream struct {
	s   leadEqSource
	pos int64
	l   int64
	e   field.Element
}

func (st *leadEqStream) Next(buf []field.Element) (int, error) {
	n := st.s.Len()
	if st.pos >= n {
		return 0, io.EOF
	}
	k := min(int64(len(buf)), n-st.pos)
	for i := int64(0); i < k; i++ {
		l := (st.pos + i) >> st.s.lK
		if i == 0 || l != st.l {
			st.l, st.e = l, field.EqIndex(st.s.rL, uint64(l))
		}
		buf[i] = st.e
	}
	st.pos += k
	return int(k), nil
}

func (st *leadEqStream) Close() error { return nil }
