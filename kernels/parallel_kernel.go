package kernels

import (
	"encoding/binary"
	"fmt"
	"sort"

	"github.com/streamprove/streamprove/field"
	"github.com/streamprove/streamprove/gkr"
	"github.com/streamprove/streamprove/sumcheck"
)

// Parallel is a Circuit launched over N instances: every input and output is a tensor of shape
// [N], and the wires the plan stores between layers are tensors "<name>/w<node>" of the store
// (written by Forward, read by Prove, not declared in the graph).
//
// Protocol. Claims on the output tensors start the walk; the layers are proven from the last
// down to 1. For layer l the kernel holds claims (r_j, v_j) on the layer's wires, from the
// engine (outputs) and from later layers (each layer's sumcheck ends in claims on the wires it
// reads, all at its final point). Equal claims are dropped. Then, in this transcript order:
// absorb l and the number of claims; squeeze ρ; run one sumcheck of
//
//	Σ_x Σ_j ρ^j·eq(r_j, x)·P_{w(j)}(leaves(x), mask(x)) = Σ_j ρ^j·v_j
//
// where P_w is wire w's polynomial. If every claim is at one point r, eq(r, x) is the sumcheck's
// own eq factor (DESIGN §7, Gruen). Otherwise each distinct point r_p enters as a virtual source
// E_p = field.EqSource(r_p) and the verifier checks E_p's final value against field.Eq(r_p, r*)
// itself; likewise the mask's final value against field.EqPrefixSum(r*, N). So claims from
// several consumers (skip connections) are merged inside the layer's own sumcheck, with no
// separate merge pass. The leaves' final values become claims at r*: on internal wires they join
// their layer's claims; on inputs they are collected. Last, each input tensor with claims at
// several points (a key read by every round) gets one merge sumcheck (mergeSumcheck: absorb
// its name, squeeze α, Σ_x Σ_j α^j·eq(r_j, x)·T(x)), in order of the tensors' first claims, and
// the engine receives one claim per input.
type Parallel struct {
	name       string
	c          *Circuit
	p          *plan
	inMap      map[string]string // circuit input → tensor
	ins        []string          // distinct input tensors, in circuit order
	outs       []string          // output tensors, in circuit output order
	nodeTensor map[int]string
}

// NewParallel launches circuit c as the kernel name: inputs maps every circuit input to a tensor
// and outputs every circuit output to a tensor, all of shape [N] for one N.
func NewParallel(name string, c *Circuit, inputs, outputs map[string]string) (Kernel, error) {
	if c == nil {
		return nil, fmt.Errorf("%w: node %s: nil circuit", gkr.ErrGraph, name)
	}
	p, err := compile(c)
	if err != nil {
		return nil, fmt.Errorf("%w: node %s: %v", gkr.ErrGraph, name, err)
	}
	k := &Parallel{name: name, c: c, p: p, inMap: map[string]string{}, nodeTensor: map[int]string{}}
	if len(inputs) != len(c.inputs) {
		return nil, fmt.Errorf("%w: node %s: %d input mappings for %d circuit inputs", gkr.ErrGraph, name, len(inputs), len(c.inputs))
	}
	if len(outputs) != len(c.outputs) {
		return nil, fmt.Errorf("%w: node %s: %d output mappings for %d circuit outputs", gkr.ErrGraph, name, len(outputs), len(c.outputs))
	}
	seen := map[string]bool{}
	for id, nd := range c.nodes {
		if nd.op != opInput {
			continue
		}
		t, ok := inputs[nd.name]
		if !ok || t == "" {
			return nil, fmt.Errorf("%w: node %s: circuit input %q has no tensor", gkr.ErrGraph, name, nd.name)
		}
		k.inMap[nd.name] = t
		k.nodeTensor[id] = t
		if !seen[t] {
			seen[t] = true
			k.ins = append(k.ins, t)
		}
	}
	for _, o := range c.outputs {
		t, ok := outputs[o.name]
		if !ok || t == "" {
			return nil, fmt.Errorf("%w: node %s: circuit output %q has no tensor", gkr.ErrGraph, name, o.name)
		}
		if seen[t] {
			return nil, fmt.Errorf("%w: node %s: tensor %q is used twice", gkr.ErrGraph, name, t)
		}
		seen[t] = true
		k.nodeTensor[o.node] = t
		k.outs = append(k.outs, t)
	}
	return k, nil
}

// Name returns the node name.
func (k *Parallel) Name() string { return k.name }

// Inputs returns the distinct input tensors.
func (k *Parallel) Inputs() []string { return k.ins }

// Outputs returns the output tensors in circuit output order.
func (k *Parallel) Outputs() []string { return k.outs }

// Layers returns the number of layers (sumchecks) and of stored wires (outputs included).
func (k *Parallel) Layers() (layers, wires int) {
	for _, ws := range k.p.layers {
		wires += len(ws)
	}
	return len(k.p.layers) - 1, wires
}

// Describe encodes the circuit, its degree bound and its tensor mapping for the graph digest.
func (k *Parallel) Describe() []byte {
	b := describe("parallel/1", int64(k.c.maxDeg), int64(len(k.c.nodes)), int64(len(k.c.outputs)))
	var e [field.Bytes]byte
	for id, nd := range k.c.nodes {
		b = append(b, describe("", int64(nd.op), int64(nd.a), int64(nd.b))...)
		field.PutBE(e[:], &nd.k)
		b = append(b, e[:]...)
		if nd.op == opInput {
			b = appendString(b, nd.name)
			b = appendString(b, k.nodeTensor[id])
		}
	}
	for _, o := range k.c.outputs {
		b = append(b, describe("", int64(o.node))...)
		b = appendString(b, o.name)
		b = appendString(b, k.nodeTensor[o.node])
	}
	return b
}

func appendString(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint64(b, uint64(len(s)))
	return append(b, s...)
}

// check returns N and the number of variables: every tensor of the kernel is of shape [N].
func (k *Parallel) check(g *gkr.Graph) (int64, int, error) {
	N := int64(-1)
	for _, t := range append(append([]string(nil), k.ins...), k.outs...) {
		ti, ok := g.Tensors[t]
		if !ok {
			return 0, 0, fmt.Errorf("%w: node %s: unknown tensor %q", gkr.ErrGraph, k.name, t)
		}
		if len(ti.Shape) != 1 || ti.Shape[0] < 1 {
			return 0, 0, fmt.Errorf("%w: node %s: tensor %q has shape %v, want [N]", gkr.ErrGraph, k.name, t, ti.Shape)
		}
		if N >= 0 && int64(ti.Shape[0]) != N {
			return 0, 0, fmt.Errorf("%w: node %s: tensor %q has %d instances, others %d", gkr.ErrGraph, k.name, t, ti.Shape[0], N)
		}
		N = int64(ti.Shape[0])
	}
	nv, err := field.Log2(field.NextPow2(N))
	return N, nv, err
}

// Estimate: each layer's sumcheck streams its leaves; no table beyond the sumcheck's own.
func (k *Parallel) Estimate(g *gkr.Graph) gkr.Estimate {
	_, nv, err := k.check(g)
	if err != nil {
		return gkr.Estimate{}
	}
	var s, t int64
	for l := 1; l < len(k.p.progs); l++ {
		b := int64(len(k.p.progs[l].leaves)) << nv * 32
		s += b
		t = max(t, b/2) // a layer's sumcheck tables after one fold
	}
	return gkr.Estimate{TableBytes: t, StreamBytes: s}
}

// wclaim is a claim on a stored wire inside the kernel.
type wclaim struct {
	point []field.Element
	value field.Element
}

// pclaim is one claim on wire index w (into plan.layers[l]).
type pclaim struct {
	w int
	wclaim
}

// gather collects layer l's claims in a fixed order (wires in layer order, claims in arrival
// order), dropping repeats; two values at one point are a rejection.
func (k *Parallel) gather(l int, claims map[int][]wclaim) ([]pclaim, error) {
	var out []pclaim
	for w, id := range k.p.layers[l] {
		var kept []wclaim
	next:
		for _, c := range claims[id] {
			for _, o := range kept {
				if gkr.SamePoint(o.point, c.point) {
					if !o.value.Equal(&c.value) {
						return nil, fmt.Errorf("%w: node %s: wire %s has two values at one point", gkr.ErrBadProof, k.name, k.tensorOf(id))
					}
					continue next
				}
			}
			kept = append(kept, c)
			out = append(out, pclaim{w: w, wclaim: c})
		}
	}
	return out, nil
}

// layerSumcheck absorbs the layer's header, draws ρ and builds the batched claim (without
// sources). It returns the distinct points (whose eq sources come first when there are several).
func (k *Parallel) layerSumcheck(tr *field.Transcript, l, nv int, N int64, lc []pclaim) (*sumcheck.Claim, [][]field.Element) {
	tr.AppendUint64("parallel/layer", uint64(l))
	tr.AppendUint64("parallel/claims", uint64(len(lc)))
	rho := tr.Challenge("parallel/rho")
	var pts [][]field.Element
	grp := make([]int, len(lc))
	for j, c := range lc {
		grp[j] = -1
		for p, q := range pts {
			if gkr.SamePoint(q, c.point) {
				grp[j] = p
				break
			}
		}
		if grp[j] < 0 {
			grp[j] = len(pts)
			pts = append(pts, c.point)
		}
	}
	prog := k.p.progs[l]
	g := &layerGate{prog: prog, groups: make([][]wcoef, len(pts)), noMask: N == int64(1)<<nv && len(prog.leaves) > 0}
	if len(pts) > 1 {
		g.nE = len(pts)
	}
	sc := &sumcheck.Claim{NumVars: nv, Gate: g}
	coef := field.One()
	for j, c := range lc {
		var t field.Element
		t.Mul(&coef, &c.value)
		sc.Sum.Add(&sc.Sum, &t)
		p := grp[j]
		if g.nE == 0 {
			p = 0
		}
		merged := false
		for i := range g.groups[p] {
			if g.groups[p][i].wire == c.w {
				g.groups[p][i].c.Add(&g.groups[p][i].c, &coef)
				merged = true
			}
		}
		if !merged {
			g.groups[p] = append(g.groups[p], wcoef{wire: c.w, c: coef})
		}
		coef.Mul(&coef, &rho)
	}
	if g.nE == 0 {
		g.groups = g.groups[:1]
		sc.Eq = []sumcheck.EqTerm{{Coeff: field.One(), Point: pts[0]}}
	}
	return sc, pts
}

// spread turns the leaves' final values into claims: internal wires keep them, inputs go back
// to the engine.
func (k *Parallel) spread(l int, point []field.Element, leafVals []field.Element, claims map[int][]wclaim, res []gkr.Claim) []gkr.Claim {
	for i, id := range k.p.progs[l].leaves {
		if k.c.nodes[id].op == opInput {
			res = append(res, gkr.Claim{Tensor: k.tensorOf(id), Point: point, Value: leafVals[i]})
			continue
		}
		claims[id] = append(claims[id], wclaim{point: point, value: leafVals[i]})
	}
	return res
}

func (k *Parallel) startClaims(out []gkr.Claim) (map[int][]wclaim, error) {
	if len(out) != len(k.outs) {
		return nil, fmt.Errorf("node %s: %d output claims for %d outputs", k.name, len(out), len(k.outs))
	}
	claims := map[int][]wclaim{}
	for i, o := range k.c.outputs {
		claims[o.node] = append(claims[o.node], wclaim{point: out[i].Point, value: out[i].Value})
	}
	return claims, nil
}

// Prove reduces the claims on the outputs, layer by layer, to claims on the inputs.
func (k *Parallel) Prove(pc *gkr.ProveCtx, out []gkr.Claim) ([]gkr.Claim, error) {
	return k.protocol(pc.Party(), out)
}

// Verify checks the layers' sumchecks, the virtual sources' final values, and returns the
// claims on the inputs.
func (k *Parallel) Verify(vc *gkr.VerifyCtx, out []gkr.Claim) ([]gkr.Claim, error) {
	return k.protocol(vc.Party(), out)
}

// protocol is the kernel's one description of its messages: one batched sumcheck per layer with
// claims, from the output layer down (the verifier checks the virtual eq and mask sources'
// finals itself), then one merge sumcheck per input with claims at several points.
func (k *Parallel) protocol(p *gkr.Party, out []gkr.Claim) ([]gkr.Claim, error) {
	N, nv, err := k.check(p.Graph())
	if err != nil {
		return nil, err
	}
	for i := range out {
		if len(out[i].Point) != nv {
			return nil, fmt.Errorf("%w: node %s: claim of %d variables, want %d", gkr.ErrBadProof, k.name, len(out[i].Point), nv)
		}
	}
	claims, err := k.startClaims(out)
	if err != nil {
		return nil, err
	}
	var res []gkr.Claim
	for l := len(k.p.layers) - 1; l >= 1; l-- {
		lc, err := k.gather(l, claims)
		if err != nil {
			return nil, err
		}
		if len(lc) == 0 {
			continue
		}
		sc, pts := k.layerSumcheck(p.Transcript(), l, nv, N, lc)
		prog := k.p.progs[l]
		gate := sc.Gate.(*layerGate)
		point, finals, err := p.Sumcheck(sc, func() ([]field.Source, error) {
			var srcs []field.Source
			if len(pts) > 1 {
				for _, pt := range pts {
					srcs = append(srcs, field.EqSource(pt))
				}
			}
			for _, id := range prog.leaves {
				s, err := p.Prover().Source(k.tensorOf(id))
				if err != nil {
					return nil, fmt.Errorf("node %s: wire %s: %w", k.name, k.tensorOf(id), err)
				}
				srcs = append(srcs, s)
			}
			if prog.mask && !gate.noMask {
				srcs = append(srcs, field.MaskSource(nv, N))
			}
			return srcs, nil
		})
		if err != nil {
			return nil, fmt.Errorf("node %s layer %d: %w", k.name, l, err)
		}
		if p.Verifying() {
			if err := k.checkVirtual(l, gate, pts, N, point, finals); err != nil {
				return nil, err
			}
		}
		res = k.spread(l, point, finals[gate.nE:gate.nE+len(prog.leaves)], claims, res)
	}
	groups, err := inputGroups(res)
	if err != nil {
		return nil, err
	}
	res = res[:0:0]
	for _, cs := range groups {
		if len(cs) == 1 {
			res = append(res, cs[0])
			continue
		}
		point, finals, err := p.Sumcheck(mergeSumcheck(p.Transcript(), cs, nv), func() ([]field.Source, error) {
			src, err := p.Prover().Source(cs[0].Tensor)
			if err != nil {
				return nil, fmt.Errorf("node %s: input %q: %w", k.name, cs[0].Tensor, err)
			}
			return []field.Source{src}, nil
		})
		if err != nil {
			return nil, fmt.Errorf("node %s: merge claims on %q: %w", k.name, cs[0].Tensor, err)
		}
		res = append(res, gkr.Claim{Tensor: cs[0].Tensor, Point: point, Value: finals[0]})
	}
	return res, nil
}

// checkVirtual checks the final values the prover sent for the virtual sources of layer l's
// sumcheck — each eq source against field.Eq(r_p, r*), the mask against field.EqPrefixSum(r*, N)
// — which sumcheck.Verify takes on trust like any other final value.
func (k *Parallel) checkVirtual(l int, g *layerGate, pts [][]field.Element, N int64, point, finals []field.Element) error {
	for p := 0; p < g.nE; p++ {
		if e := field.Eq(pts[p], point); !e.Equal(&finals[p]) {
			return fmt.Errorf("%w: node %s layer %d: eq source %d has a wrong final value", gkr.ErrBadProof, k.name, l, p)
		}
	}
	if g.prog.mask && !g.noMask {
		if m := field.EqPrefixSum(point, uint64(N)); !m.Equal(&finals[len(finals)-1]) {
			return fmt.Errorf("%w: node %s layer %d: mask has a wrong final value", gkr.ErrBadProof, k.name, l)
		}
	}
	return nil
}

// inputGroups groups the claims on inputs by tensor (in order of first claim), dropping repeats.
func inputGroups(res []gkr.Claim) ([][]gkr.Claim, error) {
	var groups [][]gkr.Claim
	idx := map[string]int{}
next:
	for _, c := range res {
		i, ok := idx[c.Tensor]
		if !ok {
			idx[c.Tensor] = len(groups)
			groups = append(groups, []gkr.Claim{c})
			continue
		}
		for _, o := range groups[i] {
			if gkr.SamePoint(o.Point, c.Point) {
				if !o.Value.Equal(&c.Value) {
					return nil, fmt.Errorf("%w: input %q has two values at one point", gkr.ErrBadProof, c.Tensor)
				}
				continue next
			}
		}
		groups[i] = append(groups[i], c)
	}
	return groups, nil
}

// mergeSumcheck is the merge of DESIGN §8 for an input read by several layers (a key used in
// every round): absorb the tensor's name, squeeze α, and prove
// Σ_x (Σ_j α^j eq(r_j, x))·T(x) = Σ_j α^j v_j, so the kernel hands the engine one claim per input
// instead of one per layer (which a verifier of a public input would evaluate one by one).
func mergeSumcheck(tr *field.Transcript, cs []gkr.Claim, nv int) *sumcheck.Claim {
	tr.AppendBytes("parallel/merge", []byte(cs[0].Tensor))
	return gkr.MergeClaim(tr, cs, nv)
}

// wireTensors lists the tensors of the stored wires (outputs included), sorted.
func (k *Parallel) wireTensors() []string {
	var out []string
	for _, ws := range k.p.layers {
		for _, id := range ws {
			out = append(out, k.tensorOf(id))
		}
	}
	sort.Strings(out)
	return out
}
