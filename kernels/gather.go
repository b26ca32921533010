package kernels

import (
	"fmt"
	"io"
	"math/big"

	"github.com/streamprove/streamprove/field"
	"github.com/streamprove/streamprove/gkr"
	"github.com/streamprove/streamprove/spill"
	"github.com/streamprove/streamprove/sumcheck"
)

// Gather is the embedding lookup with public token ids: Y[t,:] = W[ids[t],:] for a table W of
// shape [V, D] (any role; for an embedding a committed weight) and a public input ids of shape
// [T] holding integers in [0, V).
//
// Proof: for the claim Ỹ(r_d, r_t) = v,
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
// Zero padding: Y's padding rows (t ≥ T) are never written and c counts only real positions, so
// the relation holds with zeros there; Y's padding columns are W's, zero by W's own padding.
type Gather struct {
	name string
	w    string
	ids  string
	y    string
}

// NewGather returns Y = W[ids].
func NewGather(name, w, ids, y string) *Gather { return &Gather{name: name, w: w, ids: ids, y: y} }

// Name returns the node name.
func (g *Gather) Name() string { return g.name }

// Inputs returns W and the ids (the ids get no claim: the verifier reads them).
func (g *Gather) Inputs() []string { return []string{g.w, g.ids} }

// Outputs returns Y.
func (g *Gather) Outputs() []string { return []string{g.y} }

// Describe encodes the op for the graph digest.
func (g *Gather) Describe() []byte { return describe("gather/1") }

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

// dims returns V, D and T, checking shapes and that the ids are a public input.
func (g *Gather) dims(gr *gkr.Graph) (V, D, T int, err error) {
	wi, ii, yi := gr.Tensors[g.w], gr.Tensors[g.ids], gr.Tensors[g.y]
	want, err := GatherShape(wi.Shape, ii.Shape)
	if err != nil {
		return 0, 0, 0, fmt.Errorf("%w: node %s: %v", gkr.ErrGraph, g.name, err)
	}
	if len(yi.Shape) != 2 || yi.Shape[0] != want[0] || yi.Shape[1] != want[1] {
		return 0, 0, 0, fmt.Errorf("%w: node %s: output %q has shape %v, want %v", gkr.ErrGraph, g.name, g.y, yi.Shape, want)
	}
	if ii.Role != gkr.Input {
		return 0, 0, 0, fmt.Errorf("%w: node %s: ids %q are %s; only public ids are supported", gkr.ErrGraph, g.name, g.ids, ii.Role)
	}
	return wi.Shape[0], wi.Shape[1], ii.Shape[0], nil
}

// Estimate: the two row vectors (V elements each) and one padded row of W; W streamed once.
func (g *Gather) Estimate(gr *gkr.Graph) gkr.Estimate {
	V, D, T, err := g.dims(gr)
	if err != nil {
		return gkr.Estimate{}
	}
	pv, pd := field.NextPow2(int64(V)), field.NextPow2(int64(D))
	return gkr.Estimate{MinBytes: 2 * pd * field.Bytes, TableBytes: 2 * pv * field.Bytes,
		StreamBytes: (pv*pd + field.NextPow2(int64(T))) * field.Bytes}
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

// Prove reduces the claim on Y to a point claim on W.
func (g *Gather) Prove(pc *gkr.ProveCtx, out []gkr.Claim) ([]gkr.Claim, error) {
	return g.protocol(pc.Party(), out, nil)
}

// Verify checks the sumcheck and the selector's value at its point, computed from the public
// ids, and returns the point claim on W.
func (g *Gather) Verify(vc *gkr.VerifyCtx, out []gkr.Claim) ([]gkr.Claim, error) {
	return g.protocol(vc.Party(), out, func() (field.Source, error) { return vc.PublicInput(g.ids) })
}

// protocol is the kernel's one description of its messages: one sumcheck over the table rows v
// of sel(v)·W_r(v), with sel(v) = Σ_t eq(r_t, t)·[ids_t = v] (the prover builds it from the ids,
// the verifier evaluates it at the final point from the public ids) and W_r the table combined
// over its columns at r_d. publicIDs is the verifier's own source of the ids (nil for the
// prover, which reads them from its witness).
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
	sc := &sumcheck.Claim{NumVars: lV, Gate: sumcheck.Product(2), Sum: c.Value}
	point, finals, err := p.Sumcheck(sc, func() ([]field.Source, error) {
		pc := p.Prover()
		var err error
		if wr, err = combineHeads(pc, g.name, g.w, true, 0, lV, lD, rD); err != nil {
			return nil, err
		}
		if sel, err = spill.NewTable(pc.Budget(), "gather selector of "+g.name, int64(1)<<lV, pc.Opt.SpillDir); err != nil {
			return nil, err
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
		return nil, err
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

// OutBound is W's bound.
func (g *Gather) OutBound(gr *gkr.Graph, in []*big.Int) (*big.Int, error) {
	if _, _, _, err := g.dims(gr); err != nil {
		return nil, err
	}
	return new(big.Int).Set(in[0]), nil
}

// Forward copies the selected rows in token order, reading W by chunks at random (a row's
// chunks, the last one cached): memory one chunk and one row, never the table.
func (g *Gather) Forward(fc *ForwardCtx) error {
	V, D, T, err := g.dims(fc.Graph)
	if err != nil {
		return err
	}
	w, _, err := fc.create(g, g.y)
	if err != nil {
		return err
	}
	if err := g.forward(fc, V, D, T, w.WriteInt64s); err != nil {
		w.Abort()
		return fmt.Errorf("node %s: %w", g.name, err)
	}
	return commit(g, w)
}

func (g *Gather) forward(fc *ForwardCtx, V, D, T int, write func([]int64) error) error {
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
