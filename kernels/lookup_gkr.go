package kernels

import (
	"fmt"
	"sync"

	"github.com/streamprove/streamprove/field"
	"github.com/streamprove/streamprove/gkr"
	"github.com/streamprove/streamprove/spill"
	"github.com/streamprove/streamprove/sumcheck"
)

// Fractional-sum GKR (Papini–Haböck, "Improving logarithmic derivative lookups using GKR").
//
// A tree of 2^n leaf fractions (p_i, q_i) is summed pairwise: layer k has 2^k fractions and
// layer_k[i] = layer_{k+1}[2i] + layer_{k+1}[2i+1] with (a/b) + (c/d) = (a·d + c·b)/(b·d). The
// pair of a fraction is its neighbour in variable 0, so every layer is built by one sequential
// pass over the layer below (LSB-first, DESIGN §4). A claim on layer k at a point z,
// (p_k(z), q_k(z)), is reduced to one on layer k+1 by the degree-3 sumcheck
//
//	Σ_y eq(z, y)·[c_p·(p_e(y)·q_o(y) + p_o(y)·q_e(y)) + c_q·q_e(y)·q_o(y)] = c_p·p_k(z) + c_q·q_k(z)
//
// over the even and odd halves (p_e(y) = p_{k+1}(0, y), …), with (c_p, c_q) powers of a fresh
// challenge α; at its point ρ the prover's four values are combined by a fresh λ into the claim
// on layer k+1 at (λ, ρ). Trees of equal depth are proven together with one sumcheck per layer
// (the challenges are shared, the gate sums over the trees with further powers of α).
//
// Layers 1 … n are stored de-interleaved (the four halves p_e, p_o, q_e, q_o, 2^(k−1) elements
// each) in spill.Tables, in RAM when the budget allows and in spill files otherwise: the layer
// sumcheck reads them directly, and starts in RAM when they are. The leaves of a witness tree
// have numerator 1 and the denominator q = β − Σ_t a_t·T_t (a linear form of the looked-up
// tensors): only q is stored, and after the last sumcheck the prover sends the tensors' even
// and odd halves at its point ρ; the verifier checks them against the final q values (the MLE of
// a linear form is the linear form of the MLEs) before λ turns them into claims on the tensors.
// That costs one evaluation pass over the tensors instead of a last sumcheck streamed over
// both halves of every tensor with a gate that recomputes q at each evaluation point.

// fracLayer holds one stored layer: p even, p odd, q even, q odd.
type fracLayer [4]*spill.Table

type fracTree struct {
	layers []fracLayer // layers[k] for k = 1 … top (layers[0] unused)
	root   [2]field.Element
}

func (t *fracTree) release() {
	for _, l := range t.layers {
		for _, tb := range l {
			if tb != nil {
				tb.Release()
			}
		}
	}
	t.layers = nil
}

// lookupChunk is the most elements per pass buffer while building layers; lookupMinChunk the
// least, which the lookup's working set (lookupWorking) keeps free.
const (
	lookupChunk    = 1 << 13
	lookupMinChunk = 1 << 11
)

// treeBuilder builds the trees of one lookup under the budget. Its tables spill like a
// sumcheck's (spill.Table): a layer lives in RAM when the budget allows it, in a spill file
// otherwise. What "allows" means is exact: keep is the lookup's working set (lookupWorking: its
// readers and chunk buffers, which cannot spill), and a table takes RAM only from what is free
// beyond keep. Which layers get the RAM is decided once (plan): the smallest, up to ramTop, since
// the many small layers cost a sumcheck each while a big spilled layer folds into RAM after a
// few streamed rounds.
type treeBuilder struct {
	budget *spill.Budget
	dir    string
	who    string
	keep   int64
	ramTop int // layers k ≤ ramTop may live in RAM; larger ones go straight to spill files
}

// plan sets ramTop for trees whose stored layers are 1 … tops[A] (only the denominators of
// the top layer when unit[A]): the largest k such that every tree's layers 1 … k fit what the
// budget has free beyond keep.
func (b *treeBuilder) plan(tops []int, unit []bool) {
	b.ramTop = 1 << 30
	if b.budget == nil {
		return
	}
	free := b.budget.Available() - b.keep
	b.ramTop = 0
	for k := 1; ; k++ {
		var total int64
		any := false
		for A, top := range tops {
			any = any || k <= top
			total += treeBytes(min(k, top), unit[A] && k >= top)
		}
		if !any || total > free {
			return
		}
		b.ramTop = k
	}
}

// chunk picks the elements per buffer for a pass over n elements whose buffers take perElem
// bytes per chunk element: at most lookupChunk, and small enough to take at most half of what
// the budget has free (never below 16, which lookupLeast holds; keep holds lookupMinChunk).
func (b *treeBuilder) chunk(n, perElem int64) int64 {
	C := min(int64(lookupChunk), n)
	if b.budget != nil {
		for C > 16 && perElem*C > b.budget.Available()/2 {
			C /= 2
		}
	}
	return C
}

func (b *treeBuilder) reserve(n int64) (func(), error) {
	if b.budget == nil {
		return func() {}, nil
	}
	if err := b.budget.Reserve(b.who, n); err != nil {
		return nil, err
	}
	return func() { b.budget.Release(n) }, nil
}

// newLayer allocates layer k ≥ 1 of tree t (only its denominators with qOnly).
func (b *treeBuilder) newLayer(t *fracTree, k int, qOnly bool) error {
	for len(t.layers) <= k {
		t.layers = append(t.layers, fracLayer{})
	}
	for h := range t.layers[k] {
		if qOnly && h < 2 {
			continue
		}
		who, n := fmt.Sprintf("%s layer %d", b.who, k), int64(1)<<(k-1)
		var tb *spill.Table
		var err error
		if k <= b.ramTop {
			tb, err = spill.NewTableKeeping(b.budget, who, n, b.dir, b.keep)
		} else {
			tb, err = spill.NewSpilledTable(who, n, b.dir)
		}
		if err != nil {
			return err
		}
		t.layers[k][h] = tb
	}
	return nil
}

// Buffer bytes per chunk element of the lookup's passes (what chunk and lookupWorking use).
const (
	reduceBufBytes = 7 * 32 // four halves in, p, q, a temporary
	tableBufBytes  = 2*32 + 8
	evalBufBytes   = 2*32 + 8 // a chunk and its two halves, with the integers read
)

// witnessBufBytes is the buffer bytes per chunk element of the leaf pass over nt tensors: a
// chunk of each (with its integers), q and a temporary, and four half-chunks.
func witnessBufBytes(nt int) int64 { return int64(nt)*(32+8) + 4*32 }

// lookupWorking is what a lookup's prove needs free besides its trees' layers (which can
// spill): the largest of its phases — the leaf pass (every tensor's reader open at once), a
// layer reduction, a table tree's pass (the multiplicities' reader), the evaluation pass (one
// reader at a time), each with buffers of lookupMinChunk elements and readers without prefetch —
// and twice the streaming workspaces of its layer sumchecks at chunks of 2^lookupSumcheckLog
// (sumcheck.StreamWorkspaceBytes). rds and multRds are the readers' least bytes
// (tensorstore.Info.StreamBytes), n the witness variables, trees the witness trees (one per
// lookup), tabLogs the table trees' sizes (one per multiplicity tensor).
//
// minChunk and scLog are the buffer and sumcheck chunk sizes it plans for, and scMul the
// sumcheck workspaces' multiple: lookupKeep plans for speed (lookupMinChunk, 2^lookupSumcheckLog,
// twice), lookupLeast for the least a lookup runs in at all (16 elements, 2^4, once), which
// is what the scheduler's plan requires.
func lookupWorking(n, trees int, rds, multRds []int64, tabLogs []int, workers int, minChunk int64, scLog int, scMul int64) int64 {
	chunk := func(logN int) int64 { return min(minChunk, int64(1)<<max(logN, 1)) }
	var sumRd, maxRd int64
	for _, r := range rds {
		sumRd += r
		maxRd = max(maxRd, r)
	}
	need := int64(0)
	if n > 0 {
		C := chunk(n)
		need = max(sumRd+witnessBufBytes(len(rds))*C, reduceBufBytes*C, maxRd+evalBufBytes*C,
			scMul*sumcheck.StreamWorkspaceBytes(4*trees, workers, min(scLog, n)))
	} else {
		need = maxRd + 32
	}
	for A, r := range multRds {
		C := chunk(tabLogs[A])
		need = max(need, r+tableBufBytes*C, reduceBufBytes*C,
			scMul*sumcheck.StreamWorkspaceBytes(4, workers, min(scLog, tabLogs[A])))
	}
	return need
}

// lookupKeep is the working set a lookup keeps free for speed: its passes' buffers at
// lookupMinChunk elements, its sumchecks' streaming at chunks of 2^lookupSumcheckLog.
func lookupKeep(n, trees int, rds, multRds []int64, tabLogs []int, workers int) int64 {
	return lookupWorking(n, trees, rds, multRds, tabLogs, workers, lookupMinChunk, lookupSumcheckLog, 2)
}

// lookupLeast is the least free RAM a lookup's prove runs in (everything spilled, the passes in
// chunks of 16 elements, the sumchecks in chunks of 2^4).
func lookupLeast(n, trees int, rds, multRds []int64, tabLogs []int, workers int) int64 {
	return lookupWorking(n, trees, rds, multRds, tabLogs, workers, 16, 4, 1)
}

// lookupSumcheckLog is the chunk log the working set plans the layer sumchecks' streaming for.
const lookupSumcheckLog = 8

// elemReader streams a source as field elements, through its integer stream when it has one:
// an integer tensor's reader then holds int64 chunks, a quarter of a field reader's bytes.
type elemReader struct {
	fs field.Stream
	is field.IntStream
	ib []int64
}

func openElemReader(src field.Source) (*elemReader, error) {
	if is, ok := src.(field.IntSource); ok {
		st, err := is.OpenInts()
		if err != nil {
			return nil, err
		}
		return &elemReader{is: st}, nil
	}
	st, err := src.Open()
	if err != nil {
		return nil, err
	}
	return &elemReader{fs: st}, nil
}

// read fills dst with the next len(dst) elements.
func (r *elemReader) read(dst []field.Element) error {
	if r.fs != nil {
		return field.ReadFull(r.fs, dst)
	}
	if cap(r.ib) < len(dst) {
		r.ib = make([]int64, len(dst))
	}
	ib := r.ib[:len(dst)]
	if err := readFull(r.is.Next, ib); err != nil {
		return err
	}
	field.Parallel(len(dst), workersFor(int64(len(dst)), 0), func(s, e int) {
		for i := s; i < e; i++ {
			dst[i].SetInt64(ib[i])
		}
	})
	return nil
}

func (r *elemReader) Close() error {
	if r.fs != nil {
		return r.fs.Close()
	}
	return r.is.Close()
}

// streamBytes is the least a stream of src (as openElemReader opens it) holds, for sources that say
// (a store tensor: tensorstore.Info.StreamBytes); 0 for the others (RAM and spill tables).
func streamBytes(src field.Source) int64 {
	sz, ok := src.(interface{ StreamBytes(ints bool) int64 })
	if !ok {
		return 0
	}
	_, ints := src.(field.IntSource)
	return sz.StreamBytes(ints)
}

// layerSink receives layer k of a tree in order, in chunks of even length (or the one root).
type layerSink struct {
	t       *fracTree
	k       int
	off     int64
	scratch [4][]field.Element
}

func (s *layerSink) write(p, q []field.Element) error {
	if s.k == 0 {
		s.t.root = [2]field.Element{p[0], q[0]}
		return nil
	}
	h := len(p) / 2
	for i := range s.scratch {
		if cap(s.scratch[i]) < h {
			s.scratch[i] = make([]field.Element, h)
		}
		s.scratch[i] = s.scratch[i][:h]
	}
	for i := 0; i < h; i++ {
		s.scratch[0][i] = p[2*i]
		s.scratch[1][i] = p[2*i+1]
		s.scratch[2][i] = q[2*i]
		s.scratch[3][i] = q[2*i+1]
	}
	for i, tb := range s.t.layers[s.k] {
		if err := tb.WriteAt(s.scratch[i], s.off/2); err != nil {
			return err
		}
	}
	s.off += int64(len(p))
	return nil
}

// combine writes p = pe·qo + po·qe, q = qe·qo.
func combine(p, q, pe, po, qe, qo []field.Element, tmp []field.Element) {
	n := len(p)
	vp, vq, vt := field.Vector(p[:n]), field.Vector(q[:n]), field.Vector(tmp[:n])
	vp.Mul(field.Vector(pe[:n]), field.Vector(qo[:n]))
	vt.Mul(field.Vector(po[:n]), field.Vector(qe[:n]))
	vp.Add(vp, vt)
	vq.Mul(field.Vector(qe[:n]), field.Vector(qo[:n]))
}

// reduce builds layers top−1 … 0 of t from its stored layer top.
func (b *treeBuilder) reduce(t *fracTree, top int) error {
	if top == 0 {
		return nil
	}
	C := b.chunk(int64(1)<<(top-1), reduceBufBytes)
	release, err := b.reserve(reduceBufBytes * C)
	if err != nil {
		return err
	}
	defer release()
	in := make([][]field.Element, 4)
	for i := range in {
		in[i] = make([]field.Element, C)
	}
	p, q, tmp := make([]field.Element, C), make([]field.Element, C), make([]field.Element, C)
	for k := top; k >= 1; k-- {
		if k-1 >= 1 {
			if err := b.newLayer(t, k-1, false); err != nil {
				return err
			}
		}
		sink := &layerSink{t: t, k: k - 1}
		n := int64(1) << (k - 1)
		for off := int64(0); off < n; off += C {
			c := min(C, n-off)
			for i := range in {
				if err := t.layers[k][i].ReadAt(in[i][:c], off); err != nil {
					return err
				}
			}
			field.Parallel(int(c), workersFor(c, 0), func(s, e int) {
				combine(p[s:e], q[s:e], in[0][s:e], in[1][s:e], in[2][s:e], in[3][s:e], tmp[s:e])
			})
			if err := sink.write(p[:c], q[:c]); err != nil {
				return err
			}
		}
	}
	return nil
}

// fracGate is the layer gate of several trees: Σ_A c_{2A}·(pe·qo + po·qe) + c_{2A+1}·qe·qo over
// sources (pe, po, qe, qo) per tree. It evaluates each tree's term as
// c_{2A}·[qo·(pe + d_A·qe) + po·qe] with d_A = c_{2A+1}/c_{2A}: three multiplications per pair
// instead of five, and none more for the first tree, whose c_0 = 1 (the gate's evaluations are
// most of a layer sumcheck's work).
type fracGate struct {
	c       []field.Element
	d       []field.Element // d_A = c_{2A+1}/c_{2A}; nil when some c_{2A} is zero
	scratch sync.Pool
}

func newFracGate(c []field.Element) *fracGate { return &fracGate{c: c, d: ratios(c)} }

// ratios returns c_{2A+1}/c_{2A} per A, or nil if some c_{2A} is zero (then the gates use the
// plain form).
func ratios(c []field.Element) []field.Element {
	d := make([]field.Element, len(c)/2)
	for A := range d {
		if c[2*A].IsZero() {
			return nil
		}
		d[A].Inverse(&c[2*A])
		d[A].Mul(&d[A], &c[2*A+1])
	}
	return d
}

func (g *fracGate) Arity() int  { return 2 * len(g.c) }
func (g *fracGate) Degree() int { return 2 }

func (g *fracGate) Eval(out []field.Element, in [][]field.Element) {
	n := len(out)
	sp := getScratch(&g.scratch, 2*n)
	defer g.scratch.Put(sp)
	t1, t2 := field.Vector((*sp)[:n]), field.Vector((*sp)[n:2*n])
	o := field.Vector(out)
	for A := 0; A < len(g.c)/2; A++ {
		pe, po := field.Vector(in[4*A][:n]), field.Vector(in[4*A+1][:n])
		qe, qo := field.Vector(in[4*A+2][:n]), field.Vector(in[4*A+3][:n])
		if g.d == nil {
			t1.Mul(pe, qo)
			t2.Mul(po, qe)
			t1.Add(t1, t2)
			t1.ScalarMul(t1, &g.c[2*A])
			t2.Mul(qe, qo)
			t2.ScalarMul(t2, &g.c[2*A+1])
			t1.Add(t1, t2)
		} else {
			t1.ScalarMul(qe, &g.d[A])
			t1.Add(t1, pe)
			t1.Mul(t1, qo)
			t2.Mul(po, qe)
			t1.Add(t1, t2)
			if !g.c[2*A].IsOne() {
				t1.ScalarMul(t1, &g.c[2*A])
			}
		}
		if A == 0 {
			copy(o, t1)
		} else {
			o.Add(o, t1)
		}
	}
}

func getScratch(p *sync.Pool, n int) *[]field.Element {
	sp, _ := p.Get().(*[]field.Element)
	if sp == nil || cap(*sp) < n {
		s := make([]field.Element, n)
		sp = &s
	}
	*sp = (*sp)[:n]
	return sp
}

// unitGate is the last witness layer, whose numerators are all 1: the sources are (qe, qo) per
// tree and the gate is Σ_A c_{2A}·(qe + qo) + c_{2A+1}·qe·qo, evaluated as
// c_{2A}·[qe·(1 + d_A·qo) + qo] with d_A = c_{2A+1}/c_{2A} (two multiplications per pair, three
// with the scale of a tree after the first).
type unitGate struct {
	c       []field.Element
	d       []field.Element // as in fracGate
	scratch sync.Pool
}

func (g *unitGate) Arity() int  { return len(g.c) }
func (g *unitGate) Degree() int { return 2 }

func (g *unitGate) Eval(out []field.Element, in [][]field.Element) {
	n := len(out)
	sp := getScratch(&g.scratch, 2*n)
	defer g.scratch.Put(sp)
	t, t2 := field.Vector((*sp)[:n]), field.Vector((*sp)[n:2*n])
	o := field.Vector(out)
	one := field.One()
	for A := 0; A < len(g.c)/2; A++ {
		qe, qo := field.Vector(in[2*A][:n]), field.Vector(in[2*A+1][:n])
		if g.d == nil {
			t.Add(qe, qo)
			t.ScalarMul(t, &g.c[2*A])
			t2.Mul(qe, qo)
			t2.ScalarMul(t2, &g.c[2*A+1])
			t.Add(t, t2)
		} else {
			t.ScalarMul(qo, &g.d[A])
			for i := range t {
				t[i].Add(&t[i], &one)
			}
			t.Mul(t, qe)
			t.Add(t, qo)
			if !g.c[2*A].IsOne() {
				t.ScalarMul(t, &g.c[2*A])
			}
		}
		if A == 0 {
			copy(o, t)
		} else {
			o.Add(o, t)
		}
	}
}

func unitGateOf(c []field.Element) sumcheck.Gate { return &unitGate{c: c, d: ratios(c)} }

// powers returns 1, a, a², … (n of them).
func powers(a field.Element, n int) []field.Element {
	out := make([]field.Element, n)
	if n == 0 {
		return out
	}
	out[0] = field.One()
	for i := 1; i < n; i++ {
		out[i].Mul(&out[i-1], &a)
	}
	return out
}

func foldLambda(e, o, lambda *field.Element) field.Element {
	var d field.Element
	d.Sub(o, e)
	d.Mul(&d, lambda)
	d.Add(&d, e)
	return d
}

// layerClaim is the sumcheck of layer k for trees whose claimed values on layer k at z are vals
// (p, q per tree), with the gate chosen by gate(c).
func layerClaim(k int, z []field.Element, vals [][2]field.Element, alpha field.Element, gate func([]field.Element) sumcheck.Gate) *sumcheck.Claim {
	c := powers(alpha, 2*len(vals))
	var sum field.Element
	for A, v := range vals {
		var t field.Element
		t.Mul(&c[2*A], &v[0])
		sum.Add(&sum, &t)
		t.Mul(&c[2*A+1], &v[1])
		sum.Add(&sum, &t)
	}
	return &sumcheck.Claim{NumVars: k, Gate: gate(c), Sum: sum,
		Eq: []sumcheck.EqTerm{{Coeff: field.One(), Point: z}}}
}

func fracGateOf(c []field.Element) sumcheck.Gate { return newFracGate(c) }

// partyTrees runs (prover) or checks (verifier) the layer sumchecks of trees of depth n ≥ 1 from
// their roots down over their stored layers 1 … n; trees is the prover's (nil for the verifier).
// With unit, layer n holds only denominators (every numerator is 1) and the last sumcheck uses
// unitGate. After the last sumcheck, before its λ is drawn, last is called with the point ρ and
// the final values (the witness side sends the tensors' values there, and the verifier checks
// them). It returns the leaf point (λ, ρ) and the last sumcheck's final values.
func partyTrees(p *gkr.Party, roots [][2]field.Element, trees []*fracTree, n int, unit bool, last func(rho, finals []field.Element) error) ([]field.Element, []field.Element, error) {
	return walkTrees(p.Transcript(), roots, n, unit, last, func(k int, sc *sumcheck.Claim) ([]field.Element, []field.Element, error) {
		return p.Sumcheck(sc, func() ([]field.Source, error) {
			var srcs []field.Source
			for _, t := range trees {
				for _, tb := range t.layers[k+1] {
					if tb != nil {
						srcs = append(srcs, tb)
					}
				}
			}
			return srcs, nil
		})
	})
}

// walkTrees is the one transcript order of the layer sumchecks, shared by prover and verifier:
// per layer k, draw α, run the layer's sumcheck (run proves or verifies it), call last after
// the final layer, draw λ and fold the children's values into the next layer's claims.
func walkTrees(tr *field.Transcript, roots [][2]field.Element, n int, unit bool, last func(rho, finals []field.Element) error,
	run func(k int, sc *sumcheck.Claim) ([]field.Element, []field.Element, error)) ([]field.Element, []field.Element, error) {
	vals := append([][2]field.Element(nil), roots...)
	var z []field.Element
	for k := 0; k < n; k++ {
		alpha := tr.Challenge("lookup/alpha")
		gate := fracGateOf
		if k == n-1 && unit {
			gate = unitGateOf
		}
		rho, finals, err := run(k, layerClaim(k, z, vals, alpha, gate))
		if err != nil {
			return nil, nil, err
		}
		if k == n-1 && last != nil {
			if err := last(rho, finals); err != nil {
				return nil, nil, err
			}
		}
		lambda := tr.Challenge("lookup/lambda")
		z = append([]field.Element{lambda}, rho...)
		if k == n-1 {
			return z, finals, nil
		}
		for A := range vals {
			f := finals[4*A : 4*A+4]
			vals[A] = [2]field.Element{foldLambda(&f[0], &f[1], &lambda), foldLambda(&f[2], &f[3], &lambda)}
		}
	}
	return z, nil, nil
}
