package kernels

import (
	"fmt"
	"io"
	"math/big"
	"slices"

	"github.com/streamprove/streamprove/field"
	"github.com/streamprove/streamprove/gkr"
	"github.com/streamprove/streamprove/spill"
	"github.com/streamprove/streamprove/sumcheck"
	"github.com/streamprove/streamprove/tensorstore"
)

// Gather is the embedding lookup Y[t,:] = W[ids[t],:] for a table W of shape [V, D] (any role;
// for an embedding a committed weight) and ids of shape [T] holding integers in [0, V). The ids
// are either a public input (NewGather) or anything the verifier does not see (NewGatherPrivate):
// a private input, or a tensor another kernel produces.
//
// Public ids. For the claim Ỹ(r_d, r_t) = v,
//
//	v = Σ_row c[row]·W̃(r_d, row),  c[row] = Σ_{t<T} eq(r_t, t)·[ids[t] = row],
//
// a linear form over W's rows rather than a point. The prover streams W once building
// w_r[row] = Σ_d eq(r_d, d)·W[row, d], builds c from the ids, and proves Σ_row c·w_r = v with a
// degree-2 sumcheck over the row bits. At its point ρ the verifier computes
// c̃(ρ) = Σ_{t<T} eq(r_t, t)·eq(ids[t], ρ) itself from the public ids (O(T·log V)) and checks
// the prover's final value for c against it; what remains is the point claim W̃(r_d, ρ). No
// advice is committed.
//
// Private ids. The verifier cannot compute c̃(ρ), so the forward pass writes a committed advice
// tensor, the one-hot C of shape [T, V] (C[t, row] = [ids[t] = row]), and c becomes its partial
// evaluation C̃(r_t, ·). Every challenge below is drawn after C is committed (at the start of the
// proof) and after the claim on Y:
//
//  1. The prover sends ι = ĩds(r_t) (a claim on the ids at r_t, which flows back to the ids'
//     producer or ends in the private input's opening like any claim); then λ, μ are drawn.
//  2. One degree-2 sumcheck over the row bits proves
//     Σ_row C̃(r_t, row)·(w_r[row] + λ + μ·row) = v + λ·mask̃(r_t) + μ·ι,
//     with mask(t) = [t < T]. Its sources are c (built by the prover from the ids, sparse: T
//     additions) and w_r shifted by the public column λ + μ·row. At its point ρ the verifier
//     evaluates that column's MLE in closed form (λ + μ·Σ_k 2^k ρ_k) and subtracts it: the
//     claims left are W̃(r_d, ρ) and C̃(ρ, r_t) (C's MLE order: row bits low, token bits high).
//     The λ and μ parts are, at the random point r_t, the per-token identities
//     Σ_row C[t, row] = mask(t) and Σ_row row·C[t, row] = ids[t] (Schwartz–Zippel over r_t: the
//     vectors of their differences are fixed before r_t), and the λ⁰ part is the relation
//     itself once C is the one-hot of the ids.
//  3. Booleanity: a zero-check Σ_{t,row} eq(τ, (t, row))·(C² − C) = 0 over all of C's
//     variables for a fresh τ, leaving one more claim on C at its point.
//
// With every C[t, row] ∈ {0, 1}, a real row summing to 1 holds exactly one 1, at column
// Σ_row row·C[t, row] = ids[t]; a padding row (t ≥ T) sums to 0, so it is all zero; C's padding
// columns are zero by the engine's padding claim on advice, so the ids are proven in [0, V) on
// the way (no separate range check). Merging the two linear identities into the relation's own
// sumcheck (rather than a second sumcheck over the row bits at a fresh point r') costs the
// verifier two field operations and the prover nothing beyond the shift of w_r; booleanity is
// the only pass over all of C.
//
// Cost of the private variant beyond the public one: C has T·V entries (T ones), committed
// with the small-integer MSM (one-bit rows), streamed by the booleanity sumcheck, and opened at
// two points in the final batch (plus its padding claim): linear in T·V, which is fine for
// decoding and short prompts. For long prompts, committing the ids' bits (T·log V) and proving
// c̃(ρ) = Σ_t eq(r_t, t)·Π_k eq(ρ_k, bit_k(ids[t])) by a degree-(log V + 1) sumcheck over t, with
// a range check ids < V, would cost O(T·log² V) instead; it is not implemented.
//
// Zero padding: Y's padding rows (t ≥ T) are never written and c counts only real positions, so
// the relation holds with zeros there; Y's padding columns are W's, zero by W's own padding. C's
// padding (rows t ≥ T, columns row ≥ V) is written zero and proven zero by the engine.
type Gather struct {
	name string
	w    string
	ids  string
	y    string
	// onehot names the one-hot advice C for private ids ("" for public ids).
	onehot string
	// selFromAdvice makes the prover build c from the stored C instead of the ids: a cheating
	// prover's strategy (a c consistent with a forged C), for the soundness tests only.
	selFromAdvice bool
}

// NewGather returns Y = W[ids] for public ids.
func NewGather(name, w, ids, y string) *Gather { return &Gather{name: name, w: w, ids: ids, y: y} }

// NewGatherPrivate returns Y = W[ids] for ids the verifier does not see (a private input or
// another kernel's output); its one-hot advice is named OneHot() (name + "/onehot").
func NewGatherPrivate(name, w, ids, y string) *Gather {
	return &Gather{name: name, w: w, ids: ids, y: y, onehot: name + "/onehot"}
}

// Private reports whether the ids are private (proven through the one-hot advice).
func (g *Gather) Private() bool { return g.onehot != "" }

// OneHot returns the name of the one-hot advice tensor ("" for public ids).
func (g *Gather) OneHot() string { return g.onehot }

// Name returns the node name.
func (g *Gather) Name() string { return g.name }

// Inputs returns W and the ids (public ids get no claim: the verifier reads them; private ids
// get one at r_t).
func (g *Gather) Inputs() []string { return []string{g.w, g.ids} }

// Outputs returns Y, and the one-hot advice for private ids.
func (g *Gather) Outputs() []string {
	if g.Private() {
		return []string{g.y, g.onehot}
	}
	return []string{g.y}
}

// Describe encodes the op for the graph digest ("gather/1" for public ids, unchanged).
func (g *Gather) Describe() []byte {
	if g.Private() {
		return describe("gather-private/1")
	}
	return describe("gather/1")
}

// OutputInfos returns the advice tensors the kernel adds for a table of shape w and ids of
// shape ids (the one-hot [T, V] for private ids; none for public ids). Y is not among them: it
// stays an intermediate (or output) of the graph.
func (g *Gather) OutputInfos(w, ids []int) []gkr.TensorInfo {
	if !g.Private() || len(w) != 2 || len(ids) != 1 {
		return nil
	}
	return []gkr.TensorInfo{{Name: g.onehot, Shape: []int{ids[0], w[0]}, Role: gkr.Advice}}
}

// Declare returns OutputInfos for the shapes of W and the ids in gr.
func (g *Gather) Declare(gr *gkr.Graph) ([]gkr.TensorInfo, error) {
	wi, ok1 := gr.Tensors[g.w]
	ii, ok2 := gr.Tensors[g.ids]
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("%w: node %s: table %q or ids %q is not declared", gkr.ErrGraph, g.name, g.w, g.ids)
	}
	if _, err := GatherShape(wi.Shape, ii.Shape); err != nil {
		return nil, fmt.Errorf("%w: node %s: %v", gkr.ErrGraph, g.name, err)
	}
	return g.OutputInfos(wi.Shape, ii.Shape), nil
}

// GatherShape returns Y's shape for a table of shape w and ids of shape ids.
func GatherShape(w, ids []int) ([]int, error) {
	if len(w) != 2 {
		return nil, fmt.Errorf("table has shape %v, want [rows, dim]", w)
	}
	if len(ids) != 1 {
		return nil, fmt.Errorf("ids have shape %v, want [tokens]", ids)
	}
	return []int{ids[0], w[1]}, nil
}

// dims returns V, D and T, checking shapes, that public ids are a public input and that the
// one-hot advice of private ids is declared.
func (g *Gather) dims(gr *gkr.Graph) (V, D, T int, err error) {
	wi, ii, yi := gr.Tensors[g.w], gr.Tensors[g.ids], gr.Tensors[g.y]
	want, err := GatherShape(wi.Shape, ii.Shape)
	if err != nil {
		return 0, 0, 0, fmt.Errorf("%w: node %s: %v", gkr.ErrGraph, g.name, err)
	}
	if len(yi.Shape) != 2 || yi.Shape[0] != want[0] || yi.Shape[1] != want[1] {
		return 0, 0, 0, fmt.Errorf("%w: node %s: output %q has shape %v, want %v", gkr.ErrGraph, g.name, g.y, yi.Shape, want)
	}
	if !g.Private() && ii.Role != gkr.Input {
		return 0, 0, 0, fmt.Errorf("%w: node %s: ids %q are %s; public ids must be a public input (NewGatherPrivate proves other ids)", gkr.ErrGraph, g.name, g.ids, ii.Role)
	}
	if g.Private() {
		want := g.OutputInfos(wi.Shape, ii.Shape)[0]
		ci, ok := gr.Tensors[g.onehot]
		if !ok || ci.Role != gkr.Advice || len(ci.Shape) != 2 || ci.Shape[0] != want.Shape[0] || ci.Shape[1] != want.Shape[1] {
			return 0, 0, 0, fmt.Errorf("%w: node %s: output %q must be advice of shape %v", gkr.ErrGraph, g.name, g.onehot, want.Shape)
		}
	}
	return wi.Shape[0], wi.Shape[1], ii.Shape[0], nil
}

// Estimate: the two row vectors (V elements each) and one padded row of W; W streamed once.
// Private ids add the booleanity zero-check over C (Tp·Vp elements): a streaming sumcheck's
// workspace at least, its first folded table (N/2^3 with the default SpillEvery) to spill
// nothing, and about two passes over C as field elements; the ids' evaluation at r_t streams
// them once more.
func (g *Gather) Estimate(gr *gkr.Graph) gkr.Estimate {
	V, D, T, err := g.dims(gr)
	if err != nil {
		return gkr.Estimate{}
	}
	pv, pd, pt := field.NextPow2(int64(V)), field.NextPow2(int64(D)), field.NextPow2(int64(T))
	e := gkr.Estimate{MinBytes: 2 * pd * field.Bytes, TableBytes: 2 * pv * field.Bytes,
		StreamBytes: (pv*pd + pt) * field.Bytes}
	if g.Private() {
		n := pv * pt
		e.MinBytes = max(e.MinBytes, sumcheck.StreamWorkspaceBytes(1, 0, 4))
		e.TableBytes += (n >> 3) * field.Bytes
		e.StreamBytes += (2*n + pt) * field.Bytes
	}
	return e
}

// forEachID streams the first T ids with eq(r_t, t) beside each, checking every id is a row.
func forEachID(src field.Source, rT []field.Element, T, V int, fn func(id uint64, e field.Element) error) error {
	st, err := src.Open()
	if err != nil {
		return err
	}
	defer st.Close()
	es, err := field.EqSource(rT).Open()
	if err != nil {
		return err
	}
	defer es.Close()
	const piece = 1 << 10
	ids, eqs := make([]field.Element, piece), make([]field.Element, piece)
	for t := 0; t < T; t += piece {
		m := min(piece, T-t)
		if err := field.ReadFull(st, ids[:m]); err != nil {
			return fmt.Errorf("ids at %d: %w", t, unexpected(err))
		}
		if err := field.ReadFull(es, eqs[:m]); err != nil {
			return err
		}
		for i := 0; i < m; i++ {
			id, ok := field.ToInt64(&ids[i])
			if !ok || id < 0 || id >= int64(V) {
				return fmt.Errorf("token id %s at position %d is outside the table's %d rows", ids[i].String(), t+i, V)
			}
			if err := fn(uint64(id), eqs[i]); err != nil {
				return err
			}
		}
	}
	return nil
}

func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

func (g *Gather) split(gr *gkr.Graph, p []field.Element) (rD, rT []field.Element) {
	ld := gr.Tensors[g.w].PaddedShape()[1]
	k, _ := field.Log2(int64(ld))
	return p[:k], p[k:]
}

// Prove reduces the claim on Y to a point claim on W (and, for private ids, claims on the ids
// and the one-hot advice).
func (g *Gather) Prove(pc *gkr.ProveCtx, out []gkr.Claim) ([]gkr.Claim, error) {
	return g.protocol(pc.Party(), out, nil)
}

// Verify checks the sumcheck and, for public ids, the selector's value at its point, computed
// from the public ids; it returns the point claim on W (and, for private ids, the claims on the
// ids and the one-hot advice).
func (g *Gather) Verify(vc *gkr.VerifyCtx, out []gkr.Claim) ([]gkr.Claim, error) {
	return g.protocol(vc.Party(), out, func() (field.Source, error) { return vc.PublicInput(g.ids) })
}

// protocol is the kernel's one description of its messages: one sumcheck over the table rows v
// of sel(v)·W_r(v), with sel(v) = Σ_t eq(r_t, t)·[ids_t = v] (the prover builds it from the ids,
// the verifier evaluates it at the final point from the public ids) and W_r the table combined
// over its columns at r_d. publicIDs is the verifier's own source of the ids (nil for the
// prover, which reads them from its witness). For private ids (see Gather): first the ids' value
// at r_t and the challenges λ, μ; the sumcheck then runs over sel(v)·(W_r(v) + λ + μ·v) with
// sel = C̃(r_t, ·) resolved as a claim on the advice; then the booleanity zero-check on C.
func (g *Gather) protocol(p *gkr.Party, out []gkr.Claim, publicIDs func() (field.Source, error)) ([]gkr.Claim, error) {
	gr := p.Graph()
	V, D, T, err := g.dims(gr)
	if err != nil {
		return nil, err
	}
	c := out[0]
	rD, rT := g.split(gr, c.Point)
	lV, lD := log2i(V), log2i(D)
	var wr, sel *spill.Table
	defer func() {
		for _, t := range []*spill.Table{wr, sel} {
			if t != nil {
				t.Release()
			}
		}
	}()
	sum := c.Value
	var idsAt, lambda, mu field.Element
	if g.Private() {
		if idsAt, err = p.Value("gather/ids-at-rt", g.ids, rT); err != nil {
			return nil, fmt.Errorf("node %s: ids: %w", g.name, err)
		}
		tr := p.Transcript()
		lambda, mu = tr.Challenge("gather/row-sum"), tr.Challenge("gather/row-index")
		// sum = v + λ·mask̃(r_t) + μ·ι
		mask := field.EqPrefixSum(rT, uint64(T))
		mask.Mul(&mask, &lambda)
		var x field.Element
		x.Mul(&mu, &idsAt)
		sum.Add(&sum, &mask)
		sum.Add(&sum, &x)
	}
	sc := &sumcheck.Claim{NumVars: lV, Gate: sumcheck.Product(2), Sum: sum}
	point, finals, err := p.Sumcheck(sc, func() ([]field.Source, error) {
		pc := p.Prover()
		var err error
		if wr, err = combineHeads(pc, g.name, g.w, true, 0, lV, lD, rD); err != nil {
			return nil, err
		}
		if g.Private() {
			if err := shiftRows(wr, lambda, mu); err != nil {
				return nil, fmt.Errorf("node %s: %w", g.name, err)
			}
		}
		if sel, err = spill.NewTable(pc.Budget(), "gather selector of "+g.name, int64(1)<<lV, pc.Opt.SpillDir); err != nil {
			return nil, err
		}
		if g.selFromAdvice {
			if err := g.selFromOneHot(pc, rT, sel); err != nil {
				return nil, fmt.Errorf("node %s: %w", g.name, err)
			}
			return []field.Source{sel, wr}, nil
		}
		src, err := pc.Source(g.ids)
		if err != nil {
			return nil, err
		}
		ram := sel.Slice()
		one := make([]field.Element, 1)
		err = forEachID(src, rT, T, V, func(id uint64, e field.Element) error {
			if ram != nil {
				ram[id].Add(&ram[id], &e)
				return nil
			}
			if err := sel.ReadAt(one, int64(id)); err != nil {
				return err
			}
			one[0].Add(&one[0], &e)
			return sel.WriteAt(one, int64(id))
		})
		if err != nil {
			return nil, fmt.Errorf("node %s: %w", g.name, err)
		}
		return []field.Source{sel, wr}, nil
	})
	if err != nil {
		if g.Private() && p.Verifying() {
			return nil, fmt.Errorf("node %s: the rows selected by the one-hot: %w", g.name, err)
		}
		return nil, err
	}
	if g.Private() {
		return g.privateClaims(p, rD, rT, point, finals, lambda, mu, idsAt)
	}
	if p.Verifying() {
		src, err := publicIDs()
		if err != nil {
			return nil, err
		}
		var want field.Element
		err = forEachID(src, rT, T, V, func(id uint64, e field.Element) error {
			x := field.EqIndex(point, id)
			x.Mul(&x, &e)
			want.Add(&want, &x)
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("node %s: %w", g.name, err)
		}
		if !finals[0].Equal(&want) {
			return nil, fmt.Errorf("%w: node %s: the rows selected are not the public ids'", gkr.ErrBadProof, g.name)
		}
	}
	return []gkr.Claim{{Tensor: g.w, Point: append(append([]field.Element(nil), rD...), point...), Value: finals[1]}}, nil
}

// privateClaims finishes the private-ids protocol after the row sumcheck at point: the claims
// on W (the shifted final value less the public column λ + μ·row at point), on C at
// (point, r_t) and on the ids at r_t, then the booleanity zero-check on C and its claim.
func (g *Gather) privateClaims(p *gkr.Party, rD, rT, point, finals []field.Element, lambda, mu, idsAt field.Element) ([]gkr.Claim, error) {
	col := rowIndexMLE(point)
	col.Mul(&col, &mu)
	col.Add(&col, &lambda)
	var wv field.Element
	wv.Sub(&finals[1], &col)
	claims := []gkr.Claim{
		{Tensor: g.w, Point: append(slices.Clone(rD), point...), Value: wv},
		{Tensor: g.onehot, Point: append(slices.Clone(point), rT...), Value: finals[0]},
		{Tensor: g.ids, Point: slices.Clone(rT), Value: idsAt},
	}
	nv := len(point) + len(rT)
	tau := p.Transcript().Challenges("gather/onehot-point", nv)
	gate, err := booleanGate()
	if err != nil {
		return nil, err
	}
	sc := &sumcheck.Claim{NumVars: nv, Gate: gate, Eq: []sumcheck.EqTerm{{Coeff: field.One(), Point: tau}}}
	pt, fin, err := p.Sumcheck(sc, func() ([]field.Source, error) {
		src, err := p.Prover().Source(g.onehot)
		if err != nil {
			return nil, err
		}
		return []field.Source{src}, nil
	})
	if err != nil {
		if p.Verifying() {
			return nil, fmt.Errorf("node %s: the one-hot's booleanity: %w", g.name, err)
		}
		return nil, err
	}
	return append(claims, gkr.Claim{Tensor: g.onehot, Point: pt, Value: fin[0]}), nil
}

// booleanGate is x² − x: zero exactly on {0, 1}.
func booleanGate() (sumcheck.Gate, error) {
	return sumcheck.NewPoly(1, []sumcheck.Term{{Coeff: field.One(), Vars: []int{0, 0}}, {Coeff: field.NewInt(-1), Vars: []int{0}}})
}

// rowIndexMLE is the MLE of the index column v ↦ v at rho: Σ_k 2^k·rho_k (variable 0 the LSB).
func rowIndexMLE(rho []field.Element) field.Element {
	var acc field.Element
	for k := len(rho) - 1; k >= 0; k-- {
		acc.Add(&acc, &acc)
		acc.Add(&acc, &rho[k])
	}
	return acc
}

// shiftRows adds the public column λ + μ·v to every entry v of t, in place, a piece at a time.
func shiftRows(t *spill.Table, lambda, mu field.Element) error {
	const piece = 1 << 10
	buf := make([]field.Element, piece)
	col := lambda
	for off := int64(0); off < t.Len(); off += piece {
		m := int(min(piece, t.Len()-off))
		if err := t.ReadAt(buf[:m], off); err != nil {
			return err
		}
		for i := 0; i < m; i++ {
			buf[i].Add(&buf[i], &col)
			col.Add(&col, &mu)
		}
		if err := t.WriteAt(buf[:m], off); err != nil {
			return err
		}
	}
	return nil
}

// selFromOneHot sets sel[v] = Σ_t eq(r_t, t)·C[t, v] by streaming the stored C (the cheating
// prover's selector, consistent with whatever C it committed; see selFromAdvice).
func (g *Gather) selFromOneHot(pc *gkr.ProveCtx, rT []field.Element, sel *spill.Table) error {
	src, err := pc.Source(g.onehot)
	if err != nil {
		return err
	}
	st, err := src.Open()
	if err != nil {
		return err
	}
	defer st.Close()
	pv := sel.Len()
	row, acc := make([]field.Element, pv), make([]field.Element, pv)
	for t, e := range field.EqTable(make([]field.Element, 1<<len(rT)), rT) {
		if err := field.ReadFull(st, row); err != nil {
			return fmt.Errorf("one-hot row %d: %w", t, unexpected(err))
		}
		for v := range row {
			var x field.Element
			x.Mul(&row[v], &e)
			acc[v].Add(&acc[v], &x)
		}
	}
	return sel.WriteAt(acc, 0)
}

// OutBound is W's bound.
func (g *Gather) OutBound(gr *gkr.Graph, in []*big.Int) (*big.Int, error) {
	if _, _, _, err := g.dims(gr); err != nil {
		return nil, err
	}
	return new(big.Int).Set(in[0]), nil
}

// Forward copies the selected rows in token order, reading W by chunks at random (a row's
// chunks, the last one cached): memory one chunk and one row, never the table. For private ids
// it also writes the one-hot C a row of V at a time.
func (g *Gather) Forward(fc *ForwardCtx) error {
	V, D, T, err := g.dims(fc.Graph)
	if err != nil {
		return err
	}
	w, _, err := fc.create(g, g.y)
	if err != nil {
		return err
	}
	var oh *tensorstore.Writer
	var onID func(int64) error
	if g.Private() {
		b := big.NewInt(1)
		if fc.Bounds != nil {
			fc.Bounds[g.onehot] = b
		}
		if oh, err = fc.Store.Create(g.onehot, []int{T, V}, DTypeForBound(b), fc.Write); err != nil {
			w.Abort()
			return fmt.Errorf("node %s: %w", g.name, err)
		}
		release, err := fc.reserve("one-hot row of "+g.name, int64(V)*8)
		if err != nil {
			w.Abort()
			oh.Abort()
			return err
		}
		defer release()
		row := make([]int64, V)
		onID = func(id int64) error {
			row[id] = 1
			err := oh.WriteInt64s(row)
			row[id] = 0
			return err
		}
	}
	if err := g.forward(fc, V, D, T, w.WriteInt64s, onID); err != nil {
		w.Abort()
		if oh != nil {
			oh.Abort()
		}
		return fmt.Errorf("node %s: %w", g.name, err)
	}
	if err := commit(g, w); err != nil {
		if oh != nil {
			oh.Abort()
		}
		return err
	}
	if oh != nil {
		return commit(g, oh)
	}
	return nil
}

// forward writes Y's rows with write, calling onID (if not nil) with each token's id in order.
func (g *Gather) forward(fc *ForwardCtx, V, D, T int, write func([]int64) error, onID func(int64) error) error {
	tw, err := fc.Store.Tensor(g.w)
	if err != nil {
		return err
	}
	defer tw.Close()
	info := tw.Info()
	if !info.DType.IsInt() {
		return fmt.Errorf("table %q is %v; the forward pass gathers integer tables", g.w, info.DType)
	}
	ce := int64(info.ChunkElems)
	release, err := fc.reserve("forward chunk of "+g.name, (ce+int64(D)+1024)*8)
	if err != nil {
		return err
	}
	defer release()
	ri, done, err := openInts(fc.Store, g.ids)
	if err != nil {
		return err
	}
	defer done()
	chunk := make([]int64, ce)
	cur, clen := -1, 0
	row := make([]int64, D)
	ids := make([]int64, 1)
	for t := 0; t < T; t++ {
		if err := readFull(ri.Next, ids); err != nil {
			return fmt.Errorf("ids %q at %d: %w", g.ids, t, err)
		}
		id := ids[0]
		if id < 0 || id >= int64(V) {
			return fmt.Errorf("token id %d at position %d is outside the table's %d rows", id, t, V)
		}
		if onID != nil {
			if err := onID(id); err != nil {
				return err
			}
		}
		for d := 0; d < D; {
			pos := id*int64(D) + int64(d)
			j := int(pos / ce)
			if j != cur {
				if clen, err = tw.ReadChunkInt64(j, chunk); err != nil {
					return err
				}
				cur = j
			}
			off := int(pos % ce)
			n := copy(row[d:], chunk[off:min(clen, off+D-d)])
			d += n
		}
		if err := write(row); err != nil {
			return err
		}
	}
	return nil
}

var _ Kernel = (*Gather)(nil)
