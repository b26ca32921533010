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

// Norm is RMSNorm (NewRMSNorm) or LayerNorm (NewLayerNorm) along the last axis of x [..., D]:
// one kernel, since LayerNorm is RMSNorm of the centered input plus β, and centering is linear.
//
// RMSNorm is y = x / rms(x) · γ, in integers:
//
//	v_i = Σ_j x_ij²,  W_i = v_i + ε·D                       (ε ≥ 1, at the squared input scale)
//	ρ_i = ⌊2^15·√(D / W_i)⌋                                 (2^15 / rms, exact floor)
//	y_ij = ⌊x_ij·ρ_i·γ_j / 2^shift⌋                         (γ: per-channel scale, a tensor [D])
//
// LayerNorm is y = (x − μ) / σ · γ + β with σ² = mean((x − μ)²) + ε, in integers. Centering is
// made exact by scaling with D: c_ij = D·x_ij − S_i = D·(x_ij − μ_i) with S_i = Σ_j x_ij, and
// with k = ⌈log₂ D⌉ (so that ρ keeps RMSNorm's precision, 2^15/σ ≤ ρ < 2^16/σ):
//
//	v_i = Σ_j x_ij²,  W_i = D·v_i − S_i² + ε·D² = Σ_j c_ij² / D + ε·D² = D²·σ_i²
//	ρ_i = ⌊2^(15+k) / √W_i⌋ = ⌊2^(15+k) / (D·σ_i)⌋
//	y_ij = ⌊c_ij·ρ_i·γ_j / 2^(shift+k)⌋ + β_j               (β: a tensor [D], at y's scale)
//
// so y ≈ (x − μ)·γ·2^15/(σ·2^shift) + β: rmsnorm(x − μ)·γ + β up to the floors.
//
// The reciprocal square root is proven without a table by its defining inequalities with
// range-checked error terms, a_i = C − ρ_i²·W_i ≥ 0 and b_i = (ρ_i+1)²·W_i − C − 1 ≥ 0
// (C = 2^30·D for RMSNorm, 2^(30+2k) for LayerNorm; 16-bit limbs, three for RMSNorm and four for
// LayerNorm, whose W is D times larger), which pin ρ_i to the exact floor: there is no
// approximation error beyond the two floors. For RMSNorm
// |y − x·γ·2^15/(rms·2^shift)| < |x·γ|/2^shift + 1; for LayerNorm, as 2^(15+k)/(Dσ) − ρ < 1
// and |c|/2^k ≤ |x − μ|, |y − β − (x − μ)·γ·2^15/(σ·2^shift)| < |(x − μ)·γ|/2^shift + 1.
//
// Proof: committed advice y and rem = c·ρ·γ − 2^s·(y − β) (c = x, s = shift for RMSNorm;
// s = shift+k for LayerNorm, where rem = rem_lo + 2^shift·rem_hi in two limbs), per element;
// y ∈ [−2^(bits−1), 2^(bits−1)), rem_lo ∈ [0, 2^shift), rem_hi ∈ [0, 2^k) by lookups; per row v
// (and S), ρ and the limbs (ρ and every limb in [0, 2^16) by lookups). Three sumchecks:
// Σ_j x_ij² = v_i (and Σ_j x_ij = S_i, batched with a challenge) with eq over the row variables
// only; the two inequalities' identities per row; c·ρ·γ = 2^s·(y − β) + rem per element, with
// c = D·x − S written out in the gate, so the centering costs no sumcheck of its own: its claims
// land on x and on the committed row sums S. Claims on x (two, merged by the engine), γ and β flow
// back; the rest is opened at the end.
//
// Zero padding: padding rows have v = S = ρ = 0 and zero limbs (the row identities carry the
// real-row mask), padding elements have x = 0 and γ = β = 0, so y = rem = 0 there (a padding
// column of a real row has c = −S, multiplied by γ = 0).
type Norm struct {
	name       string
	op         string // "rmsnorm" or "layernorm": the Describe tag and the transcript labels
	x, g, b, y string // b (β) only when centering
	center     bool
	D          int // LayerNorm's row length, fixed at construction (its tables depend on it)
	shift      int
	bits       int
	eps        int64
	limbs      int // 16-bit limbs of a and b
	k          int // ρ's extra fraction bits: ⌈log₂ D⌉ for LayerNorm, 0 for RMSNorm
	elem, row  lookupCore
}

const (
	normK      = 15 // ρ's fraction bits
	normLimbs  = 3  // 16-bit limbs of a and b (RMSNorm)
	lnormLimbs = 4  // the same for LayerNorm
)

// NewRMSNorm returns the RMSNorm kernel; bits is y's width (≤ 16), eps ≥ 1.
func NewRMSNorm(name, x, gamma, y string, shift, bits int, eps int64) (*Norm, error) {
	if err := normParams(name, shift, bits, eps); err != nil {
		return nil, err
	}
	n := &Norm{name: name, op: "rmsnorm", x: x, g: gamma, y: y, shift: shift, bits: bits, eps: eps, limbs: normLimbs}
	n.lookups()
	return n, nil
}

// NewLayerNorm returns the LayerNorm kernel for rows of D elements; the attributes are
// RMSNorm's.
func NewLayerNorm(name, x, gamma, beta, y string, D, shift, bits int, eps int64) (*Norm, error) {
	if err := normParams(name, shift, bits, eps); err != nil {
		return nil, err
	}
	if D < 2 || D > smRange {
		// D = 1 centers every value to zero (y = β): nothing to normalise.
		return nil, fmt.Errorf("%w: node %s: rows of %d elements (want 2..2^16)", gkr.ErrGraph, name, D)
	}
	n := &Norm{name: name, op: "layernorm", x: x, g: gamma, b: beta, y: y, center: true, D: D,
		shift: shift, bits: bits, eps: eps, limbs: lnormLimbs, k: log2i(D)}
	n.lookups()
	return n, nil
}

func normParams(name string, shift, bits int, eps int64) error {
	if shift < 1 || shift > 16 || bits < 2 || bits > 16 || eps < 1 || eps > 1<<20 {
		return fmt.Errorf("%w: node %s: shift %d, bits %d, eps %d (want shift 1..16, bits 2..16, eps 1..2^20)", gkr.ErrGraph, name, shift, bits, eps)
	}
	return nil
}

// lookups builds the range checks: y, rem (and rem_hi) per element; ρ and the limbs per row.
func (n *Norm) lookups() {
	one := field.One()
	H := int64(1) << uint(n.bits-1)
	n.elem = lookupCore{name: n.name, tensors: n.elemAdvice(), args: []lookupArg{
		{tab: rangeTable(-H, H), cols: [][]linTerm{{{0, one}}}, mult: n.name + "/mult_y"},
		{tab: rangeTable(0, 1<<uint(n.shift)), cols: [][]linTerm{{{1, one}}}, mult: n.name + "/mult_rem"},
	}}
	if n.k > 0 {
		n.elem.args = append(n.elem.args, lookupArg{tab: rangeTable(0, 1<<uint(n.k)), cols: [][]linTerm{{{2, one}}}, mult: n.name + "/mult_rem_hi"})
	}
	// ρ and the limbs share one table tree and one multiplicity tensor (lookupCore.groups).
	n.row = lookupCore{name: n.name, tensors: n.rowLimbs()}
	rowTab := rangeTable(0, smRange)
	for i := range n.rowLimbs() {
		n.row.args = append(n.row.args, lookupArg{tab: rowTab, cols: [][]linTerm{{{i, one}}}, mult: n.rowMult()})
	}
}

func (n *Norm) rowMult() string { return n.name + "/mult_row" }
func (n *Norm) rem() string     { return n.name + "/rem" }
func (n *Norm) remHi() string   { return n.name + "/rem_hi" }
func (n *Norm) sq() string      { return n.name + "/sumsq" }
func (n *Norm) rowSum() string  { return n.name + "/rowsum" }

// elemAdvice are y, rem (and rem_hi): the per-element tensors the lookups check.
func (n *Norm) elemAdvice() []string {
	out := []string{n.y, n.rem()}
	if n.k > 0 {
		out = append(out, n.remHi())
	}
	return out
}

// rowLimbs are ρ, a0.., b0...
func (n *Norm) rowLimbs() []string {
	out := []string{n.name + "/rho"}
	for _, ab := range []string{"a", "b"} {
		for l := 0; l < n.limbs; l++ {
			out = append(out, fmt.Sprintf("%s/%s%d", n.name, ab, l))
		}
	}
	return out
}

// rowSums are v (and S): the per-row sums the first sumcheck proves.
func (n *Norm) rowSums() []string {
	if n.center {
		return []string{n.sq(), n.rowSum()}
	}
	return []string{n.sq()}
}

// Name returns the node name.
func (n *Norm) Name() string { return n.name }

// Inputs returns x and γ (and β).
func (n *Norm) Inputs() []string {
	if n.center {
		return []string{n.x, n.g, n.b}
	}
	return []string{n.x, n.g}
}

// Outputs returns y and the advice.
func (n *Norm) Outputs() []string {
	var out []string
	for _, ti := range n.OutputInfos([]int{1, 1}) {
		out = append(out, ti.Name)
	}
	return out
}

// normRows is the shape of the per-row tensors for x of shape xs ([..., D]): xs without its
// last axis, or [1] for a vector.
func normRows(xs []int) []int {
	if len(xs) < 2 {
		return []int{1}
	}
	return slices.Clone(xs[:len(xs)-1])
}

// OutputInfos returns every output's info (role Advice) for x of shape xs ([..., D]).
func (n *Norm) OutputInfos(xs []int) []gkr.TensorInfo {
	adv := func(name string, shape []int) gkr.TensorInfo {
		return gkr.TensorInfo{Name: name, Shape: slices.Clone(shape), Role: gkr.Advice}
	}
	rows := normRows(xs)
	var out []gkr.TensorInfo
	for _, t := range n.elemAdvice() {
		out = append(out, adv(t, xs))
	}
	out = append(out, adv(n.sq(), rows))
	for _, t := range n.rowLimbs() {
		out = append(out, adv(t, rows))
	}
	if n.center {
		out = append(out, adv(n.rowSum(), rows))
	}
	for _, c := range []*lookupCore{&n.elem, &n.row} {
		names, lens := c.multNames()
		for i, m := range names {
			out = append(out, adv(m, []int{lens[i]}))
		}
	}
	return out
}

// Declare returns OutputInfos for x's shape in g.
func (n *Norm) Declare(g *gkr.Graph) ([]gkr.TensorInfo, error) {
	ti, ok := g.Tensors[n.x]
	if !ok || len(ti.Shape) < 1 {
		return nil, fmt.Errorf("%w: node %s: input %q must be declared as [..., D]", gkr.ErrGraph, n.name, n.x)
	}
	return n.OutputInfos(ti.Shape), nil
}

// Describe encodes the op and its parameters.
func (n *Norm) Describe() []byte {
	if n.center {
		return describe("layernorm/1", int64(n.shift), int64(n.bits), n.eps, normK, int64(n.limbs), int64(n.D))
	}
	return describe("rmsnorm/1", int64(n.shift), int64(n.bits), n.eps, normK, normLimbs)
}

func (n *Norm) check(g *gkr.Graph) error {
	xi, gi := g.Tensors[n.x], g.Tensors[n.g]
	if xi == nil || gi == nil || len(xi.Shape) < 1 || !slices.Equal(gi.Shape, xi.Shape[len(xi.Shape)-1:]) {
		return fmt.Errorf("%w: node %s: want x [..., D] and γ [D]", gkr.ErrGraph, n.name)
	}
	if n.center {
		if bi := g.Tensors[n.b]; bi == nil || !slices.Equal(bi.Shape, gi.Shape) {
			return fmt.Errorf("%w: node %s: want β [D] like γ", gkr.ErrGraph, n.name)
		}
		if d := xi.Shape[len(xi.Shape)-1]; d != n.D {
			return fmt.Errorf("%w: node %s: x %q has rows of %d elements, the node was built for %d", gkr.ErrGraph, n.name, n.x, d, n.D)
		}
	}
	for _, want := range n.OutputInfos(xi.Shape) {
		ti, ok := g.Tensors[want.Name]
		if !ok || ti.Role != gkr.Advice || !slices.Equal(ti.Shape, want.Shape) {
			return fmt.Errorf("%w: node %s: output %q must be advice of shape %v", gkr.ErrGraph, n.name, want.Name, want.Shape)
		}
	}
	return nil
}

// logs returns the variables of the last axis and of the rows, the row length and the row shape.
func (n *Norm) logs(g *gkr.Graph) (lD, lR int, D int64, rows []int) {
	xi := g.Tensors[n.x]
	d := xi.Shape[len(xi.Shape)-1]
	lD = log2i(d)
	return lD, xi.NumVars() - lD, int64(d), normRows(xi.Shape)
}

// scales returns the coefficients the identities use: W = dv·v − S² + eD (S only when
// centering), C = 2^(2·normK) times cD, and the output's shift s.
func (n *Norm) scales(D int64) (dv, eD, C int64, s int) {
	if n.center {
		return D, n.eps * D * D, int64(1) << uint(2*(normK+n.k)), n.shift + n.k
	}
	return 1, n.eps * D, int64(1) << (2 * normK) * D, n.shift
}

// rowGate is the per-row identities over (mask, ρ, v, a0.., b0.., S), with W = dv·v − S² + eD·mask
// (no S when not centering): [a − C·mask + ρ²·W] + α·[b − (ρ+1)²·W + (C+1)·mask].
func (n *Norm) rowGate(alpha field.Element, D int64) (sumcheck.Gate, error) {
	const M, R, V, A0 = 0, 1, 2, 3
	B0, S := A0+n.limbs, A0+2*n.limbs
	k := func(c int64, f field.Element) field.Element { v := field.NewInt(c); v.Mul(&v, &f); return v }
	one := field.One()
	dv, eD, C, _ := n.scales(D)
	terms := []sumcheck.Term{
		{Coeff: k(-C, one), Vars: []int{M}}, {Coeff: k(dv, one), Vars: []int{R, R, V}}, {Coeff: k(eD, one), Vars: []int{R, R, M}},
		{Coeff: k(-dv, alpha), Vars: []int{R, R, V}}, {Coeff: k(-eD, alpha), Vars: []int{R, R, M}},
		{Coeff: k(-2*dv, alpha), Vars: []int{R, V}}, {Coeff: k(-2*eD, alpha), Vars: []int{R, M}},
		{Coeff: k(-dv, alpha), Vars: []int{V}}, {Coeff: k(C+1-eD, alpha), Vars: []int{M}},
	}
	for l := 0; l < n.limbs; l++ {
		terms = append(terms, sumcheck.Term{Coeff: k(1<<(16*l), one), Vars: []int{A0 + l}},
			sumcheck.Term{Coeff: k(1<<(16*l), alpha), Vars: []int{B0 + l}})
	}
	arity := S
	if n.center {
		// −S² inside W: ρ²·(−S²) − α·(ρ+1)²·(−S²).
		terms = append(terms, sumcheck.Term{Coeff: k(-1, one), Vars: []int{R, R, S, S}}, sumcheck.Term{Coeff: alpha, Vars: []int{R, R, S, S}},
			sumcheck.Term{Coeff: k(2, alpha), Vars: []int{R, S, S}}, sumcheck.Term{Coeff: alpha, Vars: []int{S, S}})
		arity++
	}
	return sumcheck.NewPoly(arity, terms)
}

// elemGate is c·ρ·γ − 2^s·y − rem over (x, ρB, γT, y, rem) with c = x; when centering, over
// (x, ρB, γT, y, rem, rem_hi, SB, βT, maskB) with c = D·x − S and rem + 2^shift·rem_hi −
// 2^s·β·mask in place of rem (β is tiled over the padding rows too, where y = 0: the real-row
// mask keeps the identity there).
func (n *Norm) elemGate(D int64) (sumcheck.Gate, error) {
	_, _, _, s := n.scales(D)
	two := func(e int) field.Element { return field.NewInt(int64(1) << uint(e)) }
	neg := func(f field.Element) field.Element { var z field.Element; z.Neg(&f); return z }
	if !n.center {
		return sumcheck.NewPoly(5, []sumcheck.Term{
			{Coeff: field.One(), Vars: []int{0, 1, 2}},
			{Coeff: field.NewInt(-(int64(1) << uint(n.shift))), Vars: []int{3}},
			{Coeff: field.NewInt(-1), Vars: []int{4}},
		})
	}
	const X, R, G, Y, Rem, RemHi, S, B, M = 0, 1, 2, 3, 4, 5, 6, 7, 8
	return sumcheck.NewPoly(9, []sumcheck.Term{
		{Coeff: field.NewInt(D), Vars: []int{X, R, G}},
		{Coeff: field.NewInt(-1), Vars: []int{S, R, G}},
		{Coeff: neg(two(s)), Vars: []int{Y}},
		{Coeff: field.NewInt(-1), Vars: []int{Rem}},
		{Coeff: neg(two(n.shift)), Vars: []int{RemHi}},
		{Coeff: two(s), Vars: []int{B, M}},
	})
}

// rowMask streams the real-row mask of the per-row tensors (shape rows, lR variables).
func rowMask(rows []int, lR int) field.Source {
	if len(rows) == 1 {
		return field.MaskSource(lR, int64(rows[0]))
	}
	return softmaxMaskSource{shape: rows, n: int64(1) << lR}
}

// rowMaskMLE is rowMask's MLE at r.
func rowMaskMLE(rows []int, r []field.Element) field.Element {
	return realRowsMLE(append(slices.Clone(rows), 1), r)
}

// protocol is Prove and Verify in one (gkr.Party): the lookups, then the three sumchecks.
func (n *Norm) protocol(p *gkr.Party) ([]gkr.Claim, error) {
	g := p.Graph()
	if err := n.check(g); err != nil {
		return nil, err
	}
	var claims []gkr.Claim
	for _, c := range []*lookupCore{&n.elem, &n.row} {
		cs, err := c.protocol(p, nil)
		if err != nil {
			return nil, err
		}
		claims = append(claims, cs...)
	}
	lD, lR, D, rows := n.logs(g)
	tr := p.Transcript()
	// srcs opens the named tensors (the prover's side only).
	srcs := func(names ...string) ([]field.Source, error) {
		out := make([]field.Source, len(names))
		for i, name := range names {
			s, err := p.Prover().Source(name)
			if err != nil {
				return nil, fmt.Errorf("node %s: %w", n.name, err)
			}
			out[i] = s
		}
		return out, nil
	}
	one := field.One()
	// 1. Σ_j x_ij² = v_i (and Σ_j x_ij = S_i) at a random row point.
	r1 := tr.Challenges(n.op+"/row-point", lR)
	labels := []string{n.op + "/sumsq", n.op + "/rowsum"}
	sums := make([]field.Element, len(n.rowSums()))
	for i, t := range n.rowSums() {
		m, err := p.Message(labels[i], 1, func() ([]field.Element, error) {
			s, err := srcs(t)
			if err != nil {
				return nil, err
			}
			v, err := field.EvalStream(s[0], r1, 14)
			return []field.Element{v}, err
		})
		if err != nil {
			return nil, err
		}
		sums[i] = m[0]
	}
	gate, sum := sumcheck.Product(3), sums[0]
	if n.center {
		alpha := tr.Challenge(n.op + "/sum-alpha")
		var err error
		if gate, err = sumcheck.NewPoly(3, []sumcheck.Term{{Coeff: one, Vars: []int{0, 1, 2}}, {Coeff: alpha, Vars: []int{0, 1}}}); err != nil {
			return nil, err
		}
		var t field.Element
		t.Mul(&alpha, &sums[1])
		sum.Add(&sum, &t)
	}
	sc := &sumcheck.Claim{NumVars: lD + lR, Gate: gate, Sum: sum}
	pt, fin, err := p.Sumcheck(sc, func() ([]field.Source, error) {

		s, err := srcs(n.x, n.x)
		if err != nil {
			return nil, err
		}
		return append([]field.Source{leadEqSource{lK: lD, rL: r1}}, s...), nil
	})
	if err != nil {
		return nil, err
	}
	if p.Verifying() {
		if e := field.Eq(r1, pt[lD:]); !fin[0].Equal(&e) {
			return nil, fmt.Errorf("%w: node %s: the row eq factor is not eq(r, ρ)", gkr.ErrBadProof, n.name)
		}
		if !fin[1].Equal(&fin[2]) {
			return nil, fmt.Errorf("%w: node %s: two values for one x", gkr.ErrBadProof, n.name)
		}
	}
	for i, t := range n.rowSums() {
		claims = append(claims, gkr.Claim{Tensor: t, Point: r1, Value: sums[i]})
	}
	claims = append(claims, gkr.Claim{Tensor: n.x, Point: pt, Value: fin[1]})
	// 2. The inequalities' identities per row.
	r2 := tr.Challenges(n.op+"/ineq-point", lR)
	alpha := tr.Challenge(n.op + "/ineq-alpha")
	if gate, err = n.rowGate(alpha, D); err != nil {
		return nil, err
	}
	_, rowTensors, elemTensors := n.sumcheckSources()
	sc = &sumcheck.Claim{NumVars: lR, Gate: gate, Eq: []sumcheck.EqTerm{{Coeff: one, Point: r2}}}
	pt, fin, err = p.Sumcheck(sc, func() ([]field.Source, error) {

		s, err := srcs(rowTensors...)
		if err != nil {
			return nil, err
		}
		return append([]field.Source{rowMask(rows, lR)}, s...), nil
	})
	if err != nil {
		return nil, err
	}
	if p.Verifying() {
		if mk := rowMaskMLE(rows, pt); !fin[0].Equal(&mk) {
			return nil, fmt.Errorf("%w: node %s: the row mask's value is not its MLE", gkr.ErrBadProof, n.name)
		}
	}
	for i, t := range rowTensors {
		claims = append(claims, gkr.Claim{Tensor: t, Point: pt, Value: fin[1+i]})
	}
	// 3. c·ρ·γ = 2^s·(y − β) + rem per element.
	r3 := tr.Challenges(n.op+"/elem-point", lD+lR)
	if gate, err = n.elemGate(D); err != nil {
		return nil, err
	}
	sc = &sumcheck.Claim{NumVars: lD + lR, Gate: gate, Eq: []sumcheck.EqTerm{{Coeff: one, Point: r3}}}
	pt, fin, err = p.Sumcheck(sc, func() ([]field.Source, error) {

		s, err := srcs(elemTensors...)
		if err != nil {
			return nil, err
		}
		s[1] = rowBroadcastSource{rows: s[1], lT: lD}
		s[2] = tileSource{vec: s[2], times: int64(1) << lR}
		if n.center {
			s[6] = rowBroadcastSource{rows: s[6], lT: lD}
			s[7] = tileSource{vec: s[7], times: int64(1) << lR}
			s = append(s, rowBroadcastSource{rows: rowMask(rows, lR), lT: lD})
		}
		return s, nil
	})
	if err != nil {
		return nil, err
	}
	elem, row, col := slices.Clone(pt), slices.Clone(pt[lD:]), slices.Clone(pt[:lD])
	if n.center && p.Verifying() {
		if mk := rowMaskMLE(rows, row); !fin[8].Equal(&mk) {
			return nil, fmt.Errorf("%w: node %s: the element row mask's value is not its MLE", gkr.ErrBadProof, n.name)
		}
	}
	claims = append(claims,
		gkr.Claim{Tensor: n.x, Point: elem, Value: fin[0]},
		gkr.Claim{Tensor: n.rowLimbs()[0], Point: row, Value: fin[1]},
		gkr.Claim{Tensor: n.g, Point: col, Value: fin[2]},
		gkr.Claim{Tensor: n.y, Point: elem, Value: fin[3]},
		gkr.Claim{Tensor: n.rem(), Point: elem, Value: fin[4]})
	if n.center {
		claims = append(claims,
			gkr.Claim{Tensor: n.remHi(), Point: elem, Value: fin[5]},
			gkr.Claim{Tensor: n.rowSum(), Point: row, Value: fin[6]},
			gkr.Claim{Tensor: n.b, Point: col, Value: fin[7]})
	}
	return claims, nil
}

// Prove proves the lookups and the three sumchecks.
func (n *Norm) Prove(pc *gkr.ProveCtx, _ []gkr.Claim) ([]gkr.Claim, error) {
	return n.protocol(pc.Party())
}

// Verify checks them and returns the claims on x, γ (β) and the advice.
func (n *Norm) Verify(vc *gkr.VerifyCtx, _ []gkr.Claim) ([]gkr.Claim, error) {
	return n.protocol(vc.Party())
}

// Estimate is EstimateReaders with every reader sized for an int64 tensor in chunks of 2^16.
func (n *Norm) Estimate(g *gkr.Graph) gkr.Estimate {
	return n.EstimateReaders(g, defaultReaders, 0)
}

// sumcheckSources are the stored tensors each of the three sumchecks reads at once (besides
// virtual sources: eq factors, masks).
func (n *Norm) sumcheckSources() (sq, row, elem []string) {
	sq = []string{n.x, n.x}
	row = append([]string{n.rowLimbs()[0], n.sq()}, n.rowLimbs()[1:]...)
	elem = []string{n.x, n.rowLimbs()[0], n.g, n.y, n.rem()}
	if n.center {
		row = append(row, n.rowSum())
		elem = append(elem, n.remHi(), n.rowSum(), n.b)
	}
	return sq, row, elem
}

// EstimateReaders: lookup trees over the input (two, three when centering) and the rows, three
// sumchecks; MinBytes is the largest least working set of the steps, counting every reader a
// step holds open.
func (n *Norm) EstimateReaders(g *gkr.Graph, streamBytes ReaderSizes, workers int) gkr.Estimate {
	ti, ok := g.Tensors[n.x]
	if !ok {
		return gkr.Estimate{}
	}
	nv := ti.NumVars()
	e := int64(1) << nv
	least, keep, layers := n.elem.working(nv, streamBytes, workers)
	_, lR, _, _ := n.logs(g)
	rl, rk, rlay := n.row.working(lR, streamBytes, workers)
	sq, row, elem := n.sumcheckSources()
	sc := max(sumcheckLeast(sq, 3, streamBytes, workers), sumcheckLeast(row, len(row)+1, streamBytes, workers),
		sumcheckLeast(elem, len(elem)+1, streamBytes, workers))
	least, keep, layers = max(least, rl, sc), max(keep, rk, sc), layers+rlay
	stream := int64(24)
	if n.center {
		stream = 36
	}
	return gkr.Estimate{MinBytes: least, TableBytes: layers + keep - least, StreamBytes: stream * e * 32}
}

// OutBound is 2^(bits−1).
func (n *Norm) OutBound(g *gkr.Graph, in []*big.Int) (*big.Int, error) {
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

var _ Kernel = (*Norm)(nil)
