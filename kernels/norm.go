package kernels

import (
	"fmt"
	"io"
	"math/big"
	"slices"

	"github.com/streamprove/streamprove/field"
	"github.com/streamprove/streamprove/gkr"
	"github.com/streamprove/streamprove/sumcheck"
)

// RMSNorm is y = x / rms(x) · γ along the last axis of x [rows, D], in integers:
//
//	v_i = Σ_j x_ij²,  V_i = v_i + ε·D                       (ε ≥ 1, at the squared input scale)
//	ρ_i = ⌊2^15·√(D / V_i)⌋                                 (2^15 / rms, exact floor)
//	y_ij = ⌊x_ij·ρ_i·γ_j / 2^shift⌋                         (γ: per-channel scale, a tensor [D])
//
// The reciprocal square root is proven without a table by its defining inequalities with
// range-checked error terms, a_i = 2^30·D − ρ_i²·V_i ≥ 0 and b_i = (ρ_i+1)²·V_i − 2^30·D − 1 ≥ 0
// (three 16-bit limbs each), which pin ρ_i to the exact floor: there is no approximation error
// beyond the two floors, so |y − x·γ·2^15/(rms·2^shift)| ≤ |x·γ|·2^(15−shift)/(rms·ρ) + 1.
//
// Proof: committed advice y and rem = x·ρ·γ − 2^shift·y (per element; y ∈ [−2^(bits−1),
// 2^(bits−1)), rem ∈ [0, 2^shift) by lookups), and per row v, ρ and the limbs (ρ and every limb
// in [0, 2^16) by lookups). Three sumchecks: Σ_j x_ij² = v_i (eq over the row variables only);
// the two inequalities' identities per row; x·ρ·γ = 2^shift·y + rem per element. Claims on x (two,
// merged by the engine) and γ flow back; the rest is opened at the end.
//
// Zero padding: padding rows have v = ρ = 0 and zero limbs (the row identities carry the
// real-row mask), padding elements have x = 0, so y = rem = 0 there.
type RMSNorm struct {
	name      string
	x, g, y   string
	shift     int
	bits      int
	eps       int64
	elem, row lookupCore
}

const (
	normK     = 15 // ρ's fraction bits
	normLimbs = 3  // 16-bit limbs of a and b
)

// NewRMSNorm returns the kernel; bits is y's width (≤ 16), eps ≥ 1.
func NewRMSNorm(name, x, gamma, y string, shift, bits int, eps int64) (*RMSNorm, error) {
	if shift < 1 || shift > 16 || bits < 2 || bits > 16 || eps < 1 || eps > 1<<20 {
		return nil, fmt.Errorf("%w: node %s: shift %d, bits %d, eps %d (want shift 1..16, bits 2..16, eps 1..2^20)", gkr.ErrGraph, name, shift, bits, eps)
	}
	n := &RMSNorm{name: name, x: x, g: gamma, y: y, shift: shift, bits: bits, eps: eps}
	one := field.One()
	H := int64(1) << uint(bits-1)
	n.elem = lookupCore{name: name, tensors: []string{y, n.rem()}, args: []lookupArg{
		{tab: rangeTable(-H, H), cols: [][]linTerm{{{0, one}}}, mult: name + "/mult_y"},
	}}
	n.elem.args = append(n.elem.args, lookupArg{tab: rangeTable(0, 1<<uint(shift)), cols: [][]linTerm{{{1, one}}}, mult: name + "/mult_rem"})
	n.row = lookupCore{name: name, tensors: n.rowLimbs()}
	for i, t := range n.rowLimbs() {
		n.row.args = append(n.row.args, lookupArg{tab: rangeTable(0, smRange), cols: [][]linTerm{{{i, one}}}, mult: t + "/mult"})
	}
	return n, nil
}

func (n *RMSNorm) rem() string { return n.name + "/rem" }
func (n *RMSNorm) sq() string  { return n.name + "/sumsq" }

// rowLimbs are ρ, a0..a2, b0..b2.
func (n *RMSNorm) rowLimbs() []string {
	out := []string{n.name + "/rho"}
	for _, ab := range []string{"a", "b"} {
		for l := 0; l < normLimbs; l++ {
			out = append(out, fmt.Sprintf("%s/%s%d", n.name, ab, l))
		}
	}
	return out
}

// Name returns the node name.
func (n *RMSNorm) Name() string { return n.name }

// Inputs returns x and γ.
func (n *RMSNorm) Inputs() []string { return []string{n.x, n.g} }

// Outputs returns y and the advice.
func (n *RMSNorm) Outputs() []string {
	var out []string
	for _, ti := range n.OutputInfos([]int{1, 1}) {
		out = append(out, ti.Name)
	}
	return out
}

// OutputInfos returns every output's info (role Advice) for x of shape xs ([rows, D]).
func (n *RMSNorm) OutputInfos(xs []int) []gkr.TensorInfo {
	adv := func(name string, shape []int) gkr.TensorInfo {
		return gkr.TensorInfo{Name: name, Shape: slices.Clone(shape), Role: gkr.Advice}
	}
	rows := []int{xs[0]}
	out := []gkr.TensorInfo{adv(n.y, xs), adv(n.rem(), xs), adv(n.sq(), rows)}
	for _, t := range n.rowLimbs() {
		out = append(out, adv(t, rows))
	}
	for _, c := range []*lookupCore{&n.elem, &n.row} {
		for _, a := range c.args {
			out = append(out, adv(a.mult, []int{1 << a.tab.logSize}))
		}
	}
	return out
}

// Declare returns OutputInfos for x's shape in g.
func (n *RMSNorm) Declare(g *gkr.Graph) ([]gkr.TensorInfo, error) {
	ti, ok := g.Tensors[n.x]
	if !ok || len(ti.Shape) != 2 {
		return nil, fmt.Errorf("%w: node %s: input %q must be declared as [rows, D]", gkr.ErrGraph, n.name, n.x)
	}
	return n.OutputInfos(ti.Shape), nil
}

// Describe encodes the op and its parameters.
func (n *RMSNorm) Describe() []byte {
	return describe("rmsnorm/1", int64(n.shift), int64(n.bits), n.eps, normK, normLimbs)
}

func (n *RMSNorm) check(g *gkr.Graph) error {
	xi, gi := g.Tensors[n.x], g.Tensors[n.g]
	if xi == nil || gi == nil || len(xi.Shape) != 2 || !slices.Equal(gi.Shape, xi.Shape[1:]) {
		return fmt.Errorf("%w: node %s: want x [rows, D] and γ [D]", gkr.ErrGraph, n.name)
	}
	for _, want := range n.OutputInfos(xi.Shape) {
		ti, ok := g.Tensors[want.Name]
		if !ok || ti.Role != gkr.Advice || !slices.Equal(ti.Shape, want.Shape) {
			return fmt.Errorf("%w: node %s: output %q must be advice of shape %v", gkr.ErrGraph, n.name, want.Name, want.Shape)
		}
	}
	return nil
}

func (n *RMSNorm) logs(g *gkr.Graph) (lD, lR int, D int64) {
	xs := g.Tensors[n.x].Shape
	return log2i(xs[1]), log2i(xs[0]), int64(xs[1])
}

// rowGate is the per-row identities over (mask, ρ, v, a0, a1, a2, b0, b1, b2):
// [a − C·mask + ρ²·(v + εD·mask)] + α·[b − (ρ+1)²·(v + εD·mask) + (C+1)·mask] with C = 2^30·D.
func (n *RMSNorm) rowGate(alpha field.Element, D int64) (sumcheck.Gate, error) {
	const M, R, V, A0, B0 = 0, 1, 2, 3, 6
	k := func(c int64, f field.Element) field.Element { v := field.NewInt(c); v.Mul(&v, &f); return v }
	one := field.One()
	C := int64(1) << (2 * normK) * D
	eD := n.eps * D
	terms := []sumcheck.Term{
		{Coeff: k(-C, one), Vars: []int{M}}, {Coeff: one, Vars: []int{R, R, V}}, {Coeff: k(eD, one), Vars: []int{R, R, M}},
		{Coeff: k(-1, alpha), Vars: []int{R, R, V}}, {Coeff: k(-eD, alpha), Vars: []int{R, R, M}},
		{Coeff: k(-2, alpha), Vars: []int{R, V}}, {Coeff: k(-2*eD, alpha), Vars: []int{R, M}},
		{Coeff: k(-1, alpha), Vars: []int{V}}, {Coeff: k(C+1-eD, alpha), Vars: []int{M}},
	}
	for l := 0; l < normLimbs; l++ {
		terms = append(terms, sumcheck.Term{Coeff: k(1<<(16*l), one), Vars: []int{A0 + l}},
			sumcheck.Term{Coeff: k(1<<(16*l), alpha), Vars: []int{B0 + l}})
	}
	return sumcheck.NewPoly(9, terms)
}

// elemGate is x·ρ·γ − 2^shift·y − rem over (x, ρB, γT, y, rem).
func (n *RMSNorm) elemGate() (sumcheck.Gate, error) {
	return sumcheck.NewPoly(5, []sumcheck.Term{
		{Coeff: field.One(), Vars: []int{0, 1, 2}},
		{Coeff: field.NewInt(-(int64(1) << uint(n.shift))), Vars: []int{3}},
		{Coeff: field.NewInt(-1), Vars: []int{4}},
	})
}

// run is Prove and Verify in one: the same messages in the same order. For the prover pc is set
// and the sumchecks get their sources; for the verifier vc is set and the virtual factors are
// checked.
func (n *RMSNorm) run(pc *gkr.ProveCtx, vc *gkr.VerifyCtx) ([]gkr.Claim, error) {
	var g *gkr.Graph
	if pc != nil {
		g = pc.Graph
	} else {
		g = vc.Graph
	}
	if err := n.check(g); err != nil {
		return nil, err
	}
	var claims []gkr.Claim
	for _, c := range []*lookupCore{&n.elem, &n.row} {
		var cs []gkr.Claim
		var err error
		if pc != nil {
			cs, err = c.prove(pc)
		} else {
			cs, err = c.verify(vc)
		}
		if err != nil {
			return nil, err
		}
		claims = append(claims, cs...)
	}
	lD, lR, D := n.logs(g)
	rows := g.Tensors[n.x].Shape[0]
	var tr *field.Transcript
	if pc != nil {
		tr = pc.Transcript()
	} else {
		tr = vc.Transcript()
	}
	src := func(name string) field.Source {
		if pc == nil {
			return nil
		}
		s, err := pc.Source(name)
		if err != nil {
			panic(err) // unreachable: checked tensors of the graph
		}
		return s
	}
	sumcheckOf := func(sc *sumcheck.Claim) ([]field.Element, []field.Element, error) {
		if pc != nil {
			return pc.Sumcheck(sc)
		}
		sc.Sources = nil
		return vc.Sumcheck(sc)
	}
	exchange := func(label string, v func() (field.Element, error)) (field.Element, error) {
		if pc != nil {
			x, err := v()
			if err != nil {
				return x, err
			}
			pc.Send(label, x)
			return x, nil
		}
		m, err := vc.Recv(label, 1)
		if err != nil {
			return field.Element{}, err
		}
		return m[0], nil
	}
	// 1. Σ_j x_ij² = v_i at a random row point.
	r1 := tr.Challenges("rmsnorm/row-point", lR)
	sv, err := exchange("rmsnorm/sumsq", func() (field.Element, error) { return field.EvalStream(src(n.sq()), r1, 14) })
	if err != nil {
		return nil, err
	}
	sc := &sumcheck.Claim{NumVars: lD + lR, Gate: sumcheck.Product(3), Sum: sv,
		Sources: []field.Source{leadEqSource{lK: lD, rL: r1}, src(n.x), src(n.x)}}
	pt, fin, err := sumcheckOf(sc)
	if err != nil {
		return nil, err
	}
	if pc == nil {
		if e := field.Eq(r1, pt[lD:]); !fin[0].Equal(&e) {
			return nil, fmt.Errorf("%w: node %s: the row eq factor is not eq(r, ρ)", gkr.ErrBadProof, n.name)
		}
		if !fin[1].Equal(&fin[2]) {
			return nil, fmt.Errorf("%w: node %s: two values for one x", gkr.ErrBadProof, n.name)
		}
	}
	claims = append(claims, gkr.Claim{Tensor: n.sq(), Point: r1, Value: sv}, gkr.Claim{Tensor: n.x, Point: pt, Value: fin[1]})
	// 2. The inequalities' identities per row.
	r2 := tr.Challenges("rmsnorm/ineq-point", lR)
	alpha := tr.Challenge("rmsnorm/ineq-alpha")
	gate, err := n.rowGate(alpha, D)
	if err != nil {
		return nil, err
	}
	srcs := []field.Source{field.MaskSource(lR, int64(rows)), src(n.rowLimbs()[0]), src(n.sq())}
	for _, t := range n.rowLimbs()[1:] {
		srcs = append(srcs, src(t))
	}
	sc = &sumcheck.Claim{NumVars: lR, Gate: gate, Sources: srcs, Eq: []sumcheck.EqTerm{{Coeff: field.One(), Point: r2}}}
	pt, fin, err = sumcheckOf(sc)
	if err != nil {
		return nil, err
	}
	if pc == nil {
		if mk := field.EqPrefixSum(pt, uint64(rows)); !fin[0].Equal(&mk) {
			return nil, fmt.Errorf("%w: node %s: the row mask's value is not its MLE", gkr.ErrBadProof, n.name)
		}
	}
	claims = append(claims, gkr.Claim{Tensor: n.rowLimbs()[0], Point: pt, Value: fin[1]}, gkr.Claim{Tensor: n.sq(), Point: pt, Value: fin[2]})
	for i, t := range n.rowLimbs()[1:] {
		claims = append(claims, gkr.Claim{Tensor: t, Point: pt, Value: fin[3+i]})
	}
	// 3. x·ρ·γ = 2^shift·y + rem per element.
	r3 := tr.Challenges("rmsnorm/elem-point", lD+lR)
	gate, err = n.elemGate()
	if err != nil {
		return nil, err
	}
	srcs = []field.Source{src(n.x), nil, nil, src(n.y), src(n.rem())}
	if pc != nil {
		srcs[1] = rowBroadcastSource{rows: src(n.rowLimbs()[0]), lT: lD}
		srcs[2] = tileSource{vec: src(n.g), times: int64(1) << lR}
	}
	sc = &sumcheck.Claim{NumVars: lD + lR, Gate: gate, Sources: srcs, Eq: []sumcheck.EqTerm{{Coeff: field.One(), Point: r3}}}
	pt, fin, err = sumcheckOf(sc)
	if err != nil {
		return nil, err
	}
	return append(claims,
		gkr.Claim{Tensor: n.x, Point: slices.Clone(pt), Value: fin[0]},
		gkr.Claim{Tensor: n.rowLimbs()[0], Point: slices.Clone(pt[lD:]), Value: fin[1]},
		gkr.Claim{Tensor: n.g, Point: slices.Clone(pt[:lD]), Value: fin[2]},
		gkr.Claim{Tensor: n.y, Point: slices.Clone(pt), Value: fin[3]},
		gkr.Claim{Tensor: n.rem(), Point: slices.Clone(pt), Value: fin[4]}), nil
}

// Prove proves the lookups and the three sumchecks.
func (n *RMSNorm) Prove(pc *gkr.ProveCtx, _ []gkr.Claim) ([]gkr.Claim, error) { return n.run(pc, nil) }

// Verify checks them and returns the claims on x, γ and the advice.
func (n *RMSNorm) Verify(vc *gkr.VerifyCtx, _ []gkr.Claim) ([]gkr.Claim, error) {
	return n.run(nil, vc)
}

// Estimate: lookup trees over the input (two) and the rows (seven), three sumchecks.
func (n *RMSNorm) Estimate(g *gkr.Graph) gkr.Estimate {
	ti, ok := g.Tensors[n.x]
	if !ok {
		return gkr.Estimate{}
	}
	e := int64(1) << ti.NumVars()
	return gkr.Estimate{MinBytes: 16 * 16 * 32, TableBytes: 2 * 3 * e * 32, StreamBytes: 24 * e * 32}
}

// OutBound is 2^(bits−1).
func (n *RMSNorm) OutBound(g *gkr.Graph, in []*big.Int) (*big.Int, error) {
	return big.NewInt(1 << uint(n.bits-1)), nil
}

// tileSource repeats a vector source `times` times; its MLE at (ρ_vec, ρ_rest) is the vector's
// at ρ_vec.
type tileSource struct {
	vec   field.Source
	times int64
}

func (t tileSource) Len() int64 { return t.vec.Len() * t.times }

func (t tileSource) Open() (field.Stream, error) {
	st, err := t.vec.Open()
	if err != nil {
		return nil, err
	}
	return &tileStream{t: t, st: st}, nil
}

type tileStream struct {
	t    tileSource
	st   field.Stream
	done int64 // repetitions finished
	pos  int64 // position in the current repetition
}

func (s *tileStream) Next(buf []field.Element) (int, error) {
	if s.done >= s.t.times {
		return 0, io.EOF
	}
	k, err := s.st.Next(buf[:min(int64(len(buf)), s.t.vec.Len()-s.pos)])
	s.pos += int64(k)
	if s.pos == s.t.vec.Len() {
		s.done++
		s.pos = 0
		s.st.Close()
		if s.done < s.t.times {
			if s.st, err = s.t.vec.Open(); err != nil {
				return k, err
			}
		}
		return k, nil
	}
	return k, unexpected(err)
}

func (s *tileStream) Close() error { return s.st.Close() }

var _ Kernel = (*RMSNorm)(nil)
