package kernels

import (
	"fmt"
	"io"
	"math"
	"math/big"
	"slices"

	"github.com/streamprove/streamprove/field"
	"github.com/streamprove/streamprove/gkr"
	"github.com/streamprove/streamprove/sumcheck"
)

// Softmax is softmax along the last axis of a fixed-point tensor x (logits x/2^frac), optionally
// with the causal mask j ≤ i over its last two axes (a square [..., T, T] input), proven with
// lookups and two sumchecks. The output p holds q-bit fractions: per row i, over the positions
// j the mask keeps,
//
//	d_ij = m_i − x_ij,  m_i = max_j x_ij                       (the row max, 0 ≤ d < 2^16)
//	e_ij = E0[d_ij mod 2^8] · E1[⌊d_ij / 2^8⌋]                 (exp by two 8-bit limbs)
//	S_i  = Σ_j e_ij,   p_ij = ⌊2^q·e_ij / S_i⌋                 (exact integer division)
//
// with E0[a] = round(2^8·exp(−a/2^frac)) and E1[a] = round(2^8·exp(−2^8·a/2^frac)), so that
// exp(a+b) = exp(a)·exp(b) needs tables of 256 rows only. Masked and padding positions have
// p = 0.
//
// Error bound: each table entry is within ½ of 2^8·exp(·), so e_ij = 2^16·exp(−d_ij/2^frac) + η_ij
// with |η_ij| ≤ 2^8 + ¼ (at most 0.4% of the row maximum, whose e is exactly 2^16), and p is the
// floor of 2^q·e/S: |p_ij − 2^q·softmax_ij| ≤ 1 + 2^q·(|η_ij| + softmax_ij·Σ_j|η_ij|)/S_i.
// The statement proven is the exact integer computation above, so prover and reference agree bit
// for bit.
//
// Proof. Committed advice (per element unless noted): the limbs d0, d1; the complements
// e0c = 2^8 − E0[d0], e1c = 2^8 − E1[d1] (zero at d = 0, so zero tuples stay table rows); the
// argmax one-hot χ; the remainder rem = 2^q·e − p·S and u = S − 1 − rem as 16-bit limbs r0, r1,
// u0, u1; the output p; per row m and S; and the lookups' multiplicities. Lookups (one LogUp
// instance): (d0, e0c) ∈ T0, (d1, e1c) ∈ T1, χ ∈ {0,1}, and r0, r1, u0, u1, p ∈ [0, 2^16). Then
//
//  1. per row (a sumcheck with eq over the row variables only and a random combination):
//     Σ_j mask·χ = 1, Σ_j χ·d = 0 (so m is attained: with d ≥ 0 it is the max), Σ_j mask·e = S;
//  2. per element (a sumcheck with eq over every variable and a random combination):
//     d0 + 2^8·d1 = mask·(m − x), u + rem = mask·(S − 1), p·S + rem = 2^q·mask·e.
//
// The verifier evaluates the mask's MLE itself (a prefix mask per axis, and for the causal mask
// a two-comparator automaton over the bits of (j, i)), checks the eq factors, and is left with
// claims on x (which flows back) and on the advice (opened at the end). All values stay far below
// the field size (S < 2^32, p·S < 2^48), so the field identities are the integer ones.
//
// Zero padding: every advice tensor is zero in the padding (the forward pass writes zeros there,
// and the engine proves committed padding zero); the relations carry the mask, so padding and
// masked positions are never constrained to anything but zero.
type Softmax struct {
	name   string
	x, p   string
	frac   int
	q      int
	causal bool
	core   lookupCore
}

const (
	smLimb    = 8       // bits of each exp limb
	smScale   = 1 << 8  // scale of each exp table: E[0] = 2^8
	smRange   = 1 << 16 // width of the range-checked limbs
	smDMax    = 1 << 16 // d = m − x must be below this
	smMaxQ    = 15
	smMaxFrac = 16
)

// advice tensor names, in the order of Outputs after p.
func (s *Softmax) perElem() []string {
	n := s.name
	return []string{n + "/d0", n + "/e0c", n + "/d1", n + "/e1c", n + "/chi", n + "/r0", n + "/r1", n + "/u0", n + "/u1"}
}

// indices into the lookup tensors: perElem order then p.
const (
	smD0 = iota
	smE0
	smD1
	smE1
	smChi
	smR0
	smR1
	smU0
	smU1
	smP
)

func (s *Softmax) rowMax() string { return s.name + "/max" }
func (s *Softmax) rowSum() string { return s.name + "/sum" }

// NewSoftmax returns p = softmax(x/2^frac) in q fraction bits along the last axis, causal or not.
func NewSoftmax(name, x, p string, frac, q int, causal bool) (*Softmax, error) {
	if frac < 0 || frac > smMaxFrac || q < 1 || q > smMaxQ {
		return nil, fmt.Errorf("%w: node %s: fraction bits %d and output bits %d (want 0..%d and 1..%d)", gkr.ErrGraph, name, frac, q, smMaxFrac, smMaxQ)
	}
	s := &Softmax{name: name, x: x, p: p, frac: frac, q: q, causal: causal}
	one := field.One()
	col := func(t int) []linTerm { return []linTerm{{t, one}} }
	s.core = lookupCore{name: name, tensors: append(s.perElem(), p)}
	s.core.args = []lookupArg{
		{tab: expTable(frac, 0), cols: [][]linTerm{col(smD0), col(smE0)}, mult: name + "/mult_e0"},
		{tab: expTable(frac, 1), cols: [][]linTerm{col(smD1), col(smE1)}, mult: name + "/mult_e1"},
		{tab: rangeTable(0, 2), cols: [][]linTerm{col(smChi)}, mult: name + "/mult_chi"},
	}
	// r0, r1, u0, u1 and p are range-checked in one shared table (lookupCore.groups).
	rng := rangeTable(0, smRange)
	for _, t := range []int{smR0, smR1, smU0, smU1, smP} {
		s.core.args = append(s.core.args, lookupArg{tab: rng, cols: [][]linTerm{col(t)}, mult: name + "/mult_range"})
	}
	return s, nil
}

// expValues returns E_limb[a] = round(2^8·exp(−2^(8·limb)·a/2^frac)) for a ∈ [0, 256).
func expValues(frac, limb int) []int64 {
	v := make([]int64, 1<<smLimb)
	for a := range v {
		v[a] = int64(math.Round(smScale * math.Exp(-math.Ldexp(float64(a), smLimb*limb-frac))))
	}
	return v
}

// expTable holds (a, 2^8 − E_limb[a]); row 0 is (0, 0).
func expTable(frac, limb int) *lookupTable {
	e := expValues(frac, limb)
	c := make([]int64, len(e))
	for a := range e {
		c[a] = smScale - e[a]
	}
	return &lookupTable{logSize: smLimb, zeroRow: 0, cols: []tableColumn{
		pwColumn{{lo: 0, hi: 1 << smLimb, c0: 0, c1: 1}},
		&denseColumn{vals: c, tag: fmt.Sprintf("exp/%d/%d", frac, limb)},
	}}
}

// Name returns the node name.
func (s *Softmax) Name() string { return s.name }

// Inputs returns x.
func (s *Softmax) Inputs() []string { return []string{s.x} }

// Outputs returns p, the per-element advice, the row max and sum, and the multiplicities.
func (s *Softmax) Outputs() []string {
	out := append([]string{s.p}, s.perElem()...)
	out = append(out, s.rowMax(), s.rowSum())
	names, _ := s.core.multNames()
	return append(out, names...)
}

// OutputInfos returns every output's info (role Advice) for an input of shape xs.
func (s *Softmax) OutputInfos(xs []int) []gkr.TensorInfo {
	var out []gkr.TensorInfo
	for _, n := range append([]string{s.p}, s.perElem()...) {
		out = append(out, gkr.TensorInfo{Name: n, Shape: slices.Clone(xs), Role: gkr.Advice})
	}
	rows := slices.Clone(xs[:len(xs)-1])
	if len(rows) == 0 {
		rows = []int{1}
	}
	out = append(out, gkr.TensorInfo{Name: s.rowMax(), Shape: rows, Role: gkr.Advice},
		gkr.TensorInfo{Name: s.rowSum(), Shape: slices.Clone(rows), Role: gkr.Advice})
	names, lens := s.core.multNames()
	for i, m := range names {
		out = append(out, gkr.TensorInfo{Name: m, Shape: []int{lens[i]}, Role: gkr.Advice})
	}
	return out
}

// Declare returns OutputInfos for x's shape in g.
func (s *Softmax) Declare(g *gkr.Graph) ([]gkr.TensorInfo, error) {
	ti, ok := g.Tensors[s.x]
	if !ok {
		return nil, fmt.Errorf("%w: node %s: input %q is not declared", gkr.ErrGraph, s.name, s.x)
	}
	return s.OutputInfos(ti.Shape), nil
}

// Describe encodes the op, its parameters and its tables.
func (s *Softmax) Describe() []byte {
	c := int64(0)
	if s.causal {
		c = 1
	}
	b := describe("softmax/1", int64(s.frac), int64(s.q), c)
	for _, a := range s.core.args {
		b = append(b, a.tab.describe()...)
	}
	return b
}

// check validates the shapes and roles.
func (s *Softmax) check(g *gkr.Graph) error {
	xi, ok := g.Tensors[s.x]
	if !ok {
		return fmt.Errorf("%w: node %s: input %q is not declared", gkr.ErrGraph, s.name, s.x)
	}
	xs := xi.Shape
	if len(xs) == 0 {
		return fmt.Errorf("%w: node %s: input %q is a scalar", gkr.ErrGraph, s.name, s.x)
	}
	if xs[len(xs)-1] > smRange {
		return fmt.Errorf("%w: node %s: rows of %d > 2^16 elements", gkr.ErrGraph, s.name, xs[len(xs)-1])
	}
	if s.causal && (len(xs) < 2 || xs[len(xs)-1] != xs[len(xs)-2]) {
		return fmt.Errorf("%w: node %s: a causal softmax needs a square [..., T, T] input, %q is %v", gkr.ErrGraph, s.name, s.x, xs)
	}
	for _, want := range s.OutputInfos(xs) {
		ti, ok := g.Tensors[want.Name]
		if !ok {
			return fmt.Errorf("%w: node %s: output %q is not declared", gkr.ErrGraph, s.name, want.Name)
		}
		if ti.Role != gkr.Advice || !slices.Equal(ti.Shape, want.Shape) {
			return fmt.Errorf("%w: node %s: output %q must be advice of shape %v", gkr.ErrGraph, s.name, want.Name, want.Shape)
		}
	}
	return nil
}

// layout returns the log sizes: lT (last axis), and the row variables count.
func (s *Softmax) layout(g *gkr.Graph) (lT, lRows int) {
	xi := g.Tensors[s.x]
	lT = log2i(xi.Shape[len(xi.Shape)-1])
	return lT, xi.NumVars() - lT
}

// maskMLE is the MLE of the mask (real position, and j ≤ i when causal) at rho (MLE order: the
// last axis' variables first).
func (s *Softmax) maskMLE(shape []int, rho []field.Element) field.Element {
	dv := gkr.DimVars(shape)
	acc := field.One()
	n := len(shape)
	for d := 0; d < n; d++ {
		if s.causal && d >= n-2 {
			continue
		}
		v := field.EqPrefixSum(rho[dv[d][0]:dv[d][1]], uint64(shape[d]))
		acc.Mul(&acc, &v)
	}
	if s.causal {
		T := shape[n-1]
		c := causalMLE(rho[dv[n-1][0]:dv[n-1][1]], rho[dv[n-2][0]:dv[n-2][1]], uint64(T))
		acc.Mul(&acc, &c)
	}
	return acc
}

// causalMLE is the MLE of [i < T]·[j ≤ i] over the bits of j and i (LSB first), by a
// two-comparator automaton: at each bit, a differing pair decides each comparison afresh (the
// most significant difference wins), an equal pair keeps it.
func causalMLE(rj, ri []field.Element, T uint64) field.Element {
	n := len(rj)
	// state = le | lt<<1; le: j ≤ i so far (true while equal), lt: i < T (false while equal).
	var w [4]field.Element
	w[1] = field.One() // le = true, lt = false
	one := field.One()
	for t := 0; t < n; t++ {
		tb := (T >> uint(t)) & 1
		var nw [4]field.Element
		for jb := 0; jb < 2; jb++ {
			for ib := 0; ib < 2; ib++ {
				pj, pi := rj[t], ri[t]
				if jb == 0 {
					pj.Sub(&one, &pj)
				}
				if ib == 0 {
					pi.Sub(&one, &pi)
				}
				var f field.Element
				f.Mul(&pj, &pi)
				for st := 0; st < 4; st++ {
					if w[st].IsZero() {
						continue
					}
					le, lt := st&1, st>>1
					if jb != ib {
						le = 0
						if jb < ib {
							le = 1
						}
					}
					if uint64(ib) != tb {
						lt = 0
						if uint64(ib) < tb {
							lt = 1
						}
					}
					var x field.Element
					x.Mul(&w[st], &f)
					nw[le|lt<<1].Add(&nw[le|lt<<1], &x)
				}
			}
		}
		w = nw
	}
	if n < 64 && T >= 1<<uint(n) {
		// T has a 1 above every bit of i, the most significant difference: i < T always.
		var r field.Element
		return *r.Add(&w[1], &w[3])
	}
	return w[3]
}

// realRowsMLE is Σ_row eq(r, row)·[row real] for the row axes of shape.
func realRowsMLE(shape []int, r []field.Element) field.Element {
	rows := shape[:len(shape)-1]
	dv := gkr.DimVars(rows)
	acc := field.One()
	for d := range rows {
		v := field.EqPrefixSum(r[dv[d][0]:dv[d][1]], uint64(rows[d]))
		acc.Mul(&acc, &v)
	}
	return acc
}

// rowGate is step 1's polynomial over (E, mask, χ, d0, d1, e0c, e1c):
// E·mask·χ + α·E·χ·(d0 + 2^8·d1) + α²·E·mask·(2^8 − e0c)(2^8 − e1c).
func rowGate(alpha field.Element) (sumcheck.Gate, error) {
	const E, M, X, D0, D1, E0, E1 = 0, 1, 2, 3, 4, 5, 6
	a2 := alpha
	a2.Mul(&a2, &alpha)
	k := func(c int64, f field.Element) field.Element { v := field.NewInt(c); v.Mul(&v, &f); return v }
	return sumcheck.NewPoly(7, []sumcheck.Term{
		{Coeff: field.One(), Vars: []int{E, M, X}},
		{Coeff: alpha, Vars: []int{E, X, D0}},
		{Coeff: k(smScale, alpha), Vars: []int{E, X, D1}},
		{Coeff: k(smScale*smScale, a2), Vars: []int{E, M}},
		{Coeff: k(-smScale, a2), Vars: []int{E, M, E0}},
		{Coeff: k(-smScale, a2), Vars: []int{E, M, E1}},
		{Coeff: a2, Vars: []int{E, M, E0, E1}},
	})
}

// elemGate is step 2's polynomial over (d0, d1, mask, mB, x, r0, r1, u0, u1, SB, p, e0c, e1c):
// [d0 + 2^8 d1 − mask·mB + mask·x] + α·[u + rem − mask·SB + mask] + α²·[p·SB + rem − 2^q·mask·e]
// with rem = r0 + 2^16 r1, u = u0 + 2^16 u1, e = (2^8 − e0c)(2^8 − e1c).
func elemGate(alpha field.Element, q int) (sumcheck.Gate, error) {
	const D0, D1, M, MB, X, R0, R1, U0, U1, SB, P, E0, E1 = 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12
	a2 := alpha
	a2.Mul(&a2, &alpha)
	k := func(c int64, f field.Element) field.Element { v := field.NewInt(c); v.Mul(&v, &f); return v }
	one := field.One()
	Q := int64(1) << uint(q)
	terms := []sumcheck.Term{
		{Coeff: one, Vars: []int{D0}}, {Coeff: k(smScale, one), Vars: []int{D1}},
		{Coeff: k(-1, one), Vars: []int{M, MB}}, {Coeff: one, Vars: []int{M, X}},
		{Coeff: alpha, Vars: []int{U0}}, {Coeff: k(smRange, alpha), Vars: []int{U1}},
		{Coeff: alpha, Vars: []int{R0}}, {Coeff: k(smRange, alpha), Vars: []int{R1}},
		{Coeff: k(-1, alpha), Vars: []int{M, SB}}, {Coeff: alpha, Vars: []int{M}},
		{Coeff: a2, Vars: []int{P, SB}}, {Coeff: a2, Vars: []int{R0}}, {Coeff: k(smRange, a2), Vars: []int{R1}},
		{Coeff: k(-Q*smScale*smScale, a2), Vars: []int{M}},
		{Coeff: k(Q*smScale, a2), Vars: []int{M, E0}},
		{Coeff: k(Q*smScale, a2), Vars: []int{M, E1}},
		{Coeff: k(-Q, a2), Vars: []int{M, E0, E1}},
	}
	return sumcheck.NewPoly(13, terms)
}

// Prove proves the lookups and the two relation sumchecks.
func (s *Softmax) Prove(pc *gkr.ProveCtx, _ []gkr.Claim) ([]gkr.Claim, error) {
	return s.protocol(pc.Party())
}

// Verify checks the lookups and both sumchecks, evaluating the mask and eq factors itself.
func (s *Softmax) Verify(vc *gkr.VerifyCtx, _ []gkr.Claim) ([]gkr.Claim, error) {
	return s.protocol(vc.Party())
}

// protocol is the kernel's one description of its messages: the lookups; step 1, the row sums'
// value at a random row point and the row sumcheck (the verifier evaluates its eq and mask
// factors); step 2, the element sumcheck (the verifier evaluates its mask).
func (s *Softmax) protocol(p *gkr.Party) ([]gkr.Claim, error) {
	g := p.Graph()
	if err := s.check(g); err != nil {
		return nil, err
	}
	claims, err := s.core.protocol(p, nil)
	if err != nil {
		return nil, err
	}
	lT, lR := s.layout(g)
	shape := g.Tensors[s.x].Shape
	src := func(name string) (field.Source, error) { return p.Prover().Source(name) }
	pe := s.perElem()
	mask := softmaxMaskSource{shape: shape, causal: s.causal, n: int64(1) << (lT + lR)}
	// Step 1.
	tr := p.Transcript()
	rRow := tr.Challenges("softmax/row-point", lR)
	alpha := tr.Challenge("softmax/row-alpha")
	m, err := p.Message("softmax/row-sum", 1, func() ([]field.Element, error) {
		sumSrc, err := src(s.rowSum())
		if err != nil {
			return nil, err
		}
		sv, err := field.EvalStream(sumSrc, rRow, 14)
		return []field.Element{sv}, err
	})
	if err != nil {
		return nil, err
	}
	sv := m[0]
	gate, err := rowGate(alpha)
	if err != nil {
		return nil, err
	}
	sc := &sumcheck.Claim{NumVars: lT + lR, Gate: gate, Sum: s.rowTarget(shape, rRow, alpha, sv)}
	pt, fin, err := p.Sumcheck(sc, func() ([]field.Source, error) {
		srcs := []field.Source{leadEqSource{lK: lT, rL: rRow}, mask}
		row, _ := s.sumcheckSources()
		for _, name := range row {
			t, err := src(name)
			if err != nil {
				return nil, err
			}
			srcs = append(srcs, t)
		}
		return srcs, nil
	})
	if err != nil {
		return nil, err
	}
	if p.Verifying() {
		if e := field.Eq(rRow, pt[lT:]); !fin[0].Equal(&e) {
			return nil, fmt.Errorf("%w: node %s: the row eq factor is not eq(r_row, ρ)", gkr.ErrBadProof, s.name)
		}
		if mk := s.maskMLE(shape, pt); !fin[1].Equal(&mk) {
			return nil, fmt.Errorf("%w: node %s: the mask's value is not the mask's MLE", gkr.ErrBadProof, s.name)
		}
	}
	claims = append(claims, s.rowClaims(pt, fin, rRow, sv)...)
	// Step 2.
	r := tr.Challenges("softmax/elem-point", lT+lR)
	alpha = tr.Challenge("softmax/elem-alpha")
	if gate, err = elemGate(alpha, s.q); err != nil {
		return nil, err
	}
	sc = &sumcheck.Claim{NumVars: lT + lR, Gate: gate, Eq: []sumcheck.EqTerm{{Coeff: field.One(), Point: r}}}
	pt, fin, err = p.Sumcheck(sc, func() ([]field.Source, error) {
		var srcs []field.Source
		for _, name := range []string{pe[smD0], pe[smD1], "", s.rowMax(), s.x, pe[smR0], pe[smR1], pe[smU0], pe[smU1], s.rowSum(), s.p, pe[smE0], pe[smE1]} {
			if name == "" {
				srcs = append(srcs, mask)
				continue
			}
			t, err := src(name)
			if err != nil {
				return nil, err
			}
			if name == s.rowMax() || name == s.rowSum() {
				t = rowBroadcastSource{rows: t, lT: lT}
			}
			srcs = append(srcs, t)
		}
		return srcs, nil
	})
	if err != nil {
		return nil, err
	}
	if p.Verifying() {
		if mk := s.maskMLE(shape, pt); !fin[2].Equal(&mk) {
			return nil, fmt.Errorf("%w: node %s: the mask's value is not the mask's MLE", gkr.ErrBadProof, s.name)
		}
	}
	return append(claims, s.elemClaims(pt, fin, lT)...), nil
}

// rowTarget is step 1's sum: (number of real rows' eq mass) + α²·S̃(r_row).
func (s *Softmax) rowTarget(shape []int, rRow []field.Element, alpha, sv field.Element) field.Element {
	t := realRowsMLE(shape, rRow)
	a2 := alpha
	a2.Mul(&a2, &alpha)
	a2.Mul(&a2, &sv)
	t.Add(&t, &a2)
	return t
}

func (s *Softmax) rowClaims(pt, fin, rRow []field.Element, sv field.Element) []gkr.Claim {
	pe := s.perElem()
	cs := []gkr.Claim{{Tensor: s.rowSum(), Point: slices.Clone(rRow), Value: sv}}
	for k, i := range []int{smChi, smD0, smD1, smE0, smE1} {
		cs = append(cs, gkr.Claim{Tensor: pe[i], Point: slices.Clone(pt), Value: fin[2+k]})
	}
	return cs
}

func (s *Softmax) elemClaims(pt, fin []field.Element, lT int) []gkr.Claim {
	pe := s.perElem()
	names := []string{pe[smD0], pe[smD1], "", s.rowMax(), s.x, pe[smR0], pe[smR1], pe[smU0], pe[smU1], s.rowSum(), s.p, pe[smE0], pe[smE1]}
	var cs []gkr.Claim
	for k, name := range names {
		switch name {
		case "":
		case s.rowMax(), s.rowSum():
			cs = append(cs, gkr.Claim{Tensor: name, Point: slices.Clone(pt[lT:]), Value: fin[k]})
		default:
			cs = append(cs, gkr.Claim{Tensor: name, Point: slices.Clone(pt), Value: fin[k]})
		}
	}
	return cs
}

// Estimate is EstimateReaders with every reader sized for an int64 tensor in chunks of 2^16.
func (s *Softmax) Estimate(g *gkr.Graph) gkr.Estimate {
	return s.EstimateReaders(g, defaultReaders, 0)
}

// softmaxRowSources and softmaxElemSources are the stored tensors each sumcheck reads at once
// (besides virtual sources: the eq factor, the mask).
func (s *Softmax) sumcheckSources() (row, elem []string) {
	pe := s.perElem()
	row = []string{pe[smChi], pe[smD0], pe[smD1], pe[smE0], pe[smE1]}
	elem = []string{pe[smD0], pe[smD1], s.rowMax(), s.x, pe[smR0], pe[smR1], pe[smU0], pe[smU1], s.rowSum(), s.p, pe[smE0], pe[smE1]}
	return row, elem
}

// EstimateReaders: the lookup trees (eight, over the padded input) and two sumchecks over 7
// and 13 sources; MinBytes is the largest least working set of the three steps, counting
// every reader the step holds open (the row sumcheck's five, the element sumcheck's twelve).
func (s *Softmax) EstimateReaders(g *gkr.Graph, streamBytes ReaderSizes, workers int) gkr.Estimate {
	ti, ok := g.Tensors[s.x]
	if !ok {
		return gkr.Estimate{}
	}
	nv := ti.NumVars()
	n := int64(1) << nv
	least, keep, layers := s.core.working(nv, streamBytes, workers)
	row, elem := s.sumcheckSources()
	scLeast := max(sumcheckLeast(row, len(row)+2, streamBytes, workers), sumcheckLeast(elem, len(elem)+1, streamBytes, workers))
	least, keep = max(least, scLeast), max(keep, scLeast)
	return gkr.Estimate{MinBytes: least, TableBytes: layers + keep - least, StreamBytes: (20 + 6*8 + 2*13) * n * 32}
}

// OutBound is 2^q.
func (s *Softmax) OutBound(g *gkr.Graph, in []*big.Int) (*big.Int, error) {
	return big.NewInt(1 << uint(s.q)), nil
}

// softmaxMaskSource streams the mask (1 on real positions, and j ≤ i when causal) in MLE order.
type softmaxMaskSource struct {
	shape  []int
	causal bool
	n      int64
}

func (m softmaxMaskSource) Len() int64 { return m.n }

func (m softmaxMaskSource) Open() (field.Stream, error) {
	return &maskStream2{m: m, pad: gkr.PaddedShape(m.shape)}, nil
}

type maskStream2 struct {
	m   softmaxMaskSource
	pad []int
	pos int64
}

func (st *maskStream2) at(idx int64) bool {
	sh := st.m.shape
	n := len(sh)
	coords := make([]int, n)
	for d := n - 1; d >= 0; d-- {
		p := int64(st.pad[d])
		coords[d] = int(idx % p)
		idx /= p
		if coords[d] >= sh[d] {
			return false
		}
	}
	return !st.m.causal || coords[n-1] <= coords[n-2]
}

func (st *maskStream2) Next(buf []field.Element) (int, error) {
	if st.pos >= st.m.n {
		return 0, io.EOF
	}
	k := int(min(int64(len(buf)), st.m.n-st.pos))
	one := field.One()
	for i := 0; i < k; i++ {
		if st.at(st.pos + int64(i)) {
			buf[i] = one
		} else {
			buf[i].SetZero()
		}
	}
	st.pos += int64(k)
	return k, nil
}

func (st *maskStream2) Close() error { return nil }

// rowBroadcastSource repeats each element of a per-row source 2^lT times (constant along the last
// axis); its MLE at (ρ_j, ρ_row) is the rows' MLE at ρ_row.
type rowBroadcastSource struct {
	rows field.Source
	lT   int
}

func (b rowBroadcastSource) Len() int64 { return b.rows.Len() << b.lT }

func (b rowBroadcastSource) Open() (field.Stream, error) {
	st, err := b.rows.Open()
	if err != nil {
		return nil, err
	}
	return &rowBcastStream{st: st, per: int64(1) << b.lT, n: b.Len()}, nil
}

type rowBcastStream struct {
	st   field.Stream
	per  int64
	n    int64
	pos  int64
	cur  [1]field.Element
	left int64
}

func (b *rowBcastStream) Next(buf []field.Element) (int, error) {
	if b.pos >= b.n {
		return 0, io.EOF
	}
	k := int(min(int64(len(buf)), b.n-b.pos))
	for i := 0; i < k; {
		if b.left == 0 {
			if err := field.ReadFull(b.st, b.cur[:]); err != nil {
				return i, unexpected(err)
			}
			b.left = b.per
		}
		m := int(min(int64(k-i), b.left))
		for t := 0; t < m; t++ {
			buf[i+t] = b.cur[0]
		}
		i += m
		b.left -= int64(m)
	}
	b.pos += int64(k)
	return k, nil
}

func (b *rowBcastStream) Close() error { return b.st.Close() }

var _ Kernel = (*Softmax)(nil)
