package kernels

import (
	"fmt"

	"github.com/streamprove/streamprove/field"
	"github.com/streamprove/streamprove/gkr"
	"github.com/streamprove/streamprove/sumcheck"
)

// ConvAttrs are a convolution's geometry (ONNX Conv attributes): strides, the four paddings,
// dilations and the group count. The kernel size comes from the weight's shape.
type ConvAttrs struct {
	StrideH, StrideW int
	// PadTop, PadLeft, PadBottom, PadRight are ONNX pads [top, left, bottom, right].
	PadTop, PadLeft, PadBottom, PadRight int
	DilH, DilW                           int
	Groups                               int
}

// Conv2D is Y[b,o,h,w] = bias[o] + Σ_{c,u,v} W[o,c,u,v]·X[b, g(o)·C_g + c, s_h·h + d_h·u − p_t,
// s_w·w + d_w·v − p_l] with X [N, C, H, W], W [K, C/groups, kh, kw] (PyTorch/ONNX layout), an
// optional bias [K], and out-of-image taps reading zero.
//
// Proof: a direct two-phase sumcheck (kernels-and-zk.md §1a); no im2col tensor exists anywhere.
// For the claim Ỹ(ζ, η, ω, β) = y (w, h, o, b variables, LSB first):
//
//   - Phase 1, over (v, u, c, g), degree 2 (3 with groups): Σ eq(ω_g, g)·W_ω[g,c,u,v]·Z[g,c,u,v]
//     = y − bias~(ω)·mask(β, η, ζ), where W_ω = Σ_j eq(ω_j, j)·W[g·K_g + j, …] folds the output
//     channels within a group (one pass over W, like linear's w_r) and
//     Z[ch,u,v] = Σ_b eq(β,b) Σ_{h<Ho, w<Wo} eq(η,h)·eq(ζ,w)·X[b, ch, s·h + d·u − p, s·w + d·v − p]
//     is computed plane by plane in one pass over X (separably: first along rows, then columns).
//     It ends in a claim on the committed weight W~(ν, μ, γ, ω_j, γ_g) and a value z of Z~.
//   - Phase 2, over the input plane (x_w, x_h), degree 2: z = Σ X_{β,γ}[x_h,x_w]·Ŝ_η(x_h)·Ŝ_ζ(x_w),
//     with X_{β,γ} = Σ_{b,ch} eq(β,b)·eq(γ,ch)·X[b,ch,·,·] accumulated in a second pass over X
//     (one plane of RAM) and Ŝ_η(x) = Σ_{h,u} eq(η,h)·eq(μ,u)·[x + p = s·h + d·u]·[h<Ho]·[u<kh].
//     It ends in the claim X~(ξ_w, ξ_h, γ, γ_g, β), which flows back, and a value of Ŝ_η·Ŝ_ζ that
//     the verifier checks itself: Ŝ_η(ξ_h) is the MLE of the tap predicate at (ξ_h, η, μ),
//     evaluated by a carry automaton in O(log) (affinePred).
//
// Why this method: the prover does O(N·C·H·W·kw + N·C·Ho·kh·kw) field operations for Z and
// O(N·C·H·W) for the plane (two passes over X, one over W), below the forward pass's
// O(N·K·C_g·Ho·Wo·kh·kw) multiply-adds; its RAM is one plane plus two vectors of C·kh·kw. zkCNN's
// FFT sumcheck costs as much as the forward pass, needs whole planes of spectra for every
// (o, c) pair resident and gives an O(L) verifier; summing over output positions with an
// eq-of-shift predicate would need a sumcheck as long as the output. Here the verifier runs
// log(C·kh·kw) + log(H·W) rounds and two automata.
//
// Zero padding: the output mask [h<Ho]·[w<Wo] sits inside the tap predicate (without it padded
// output rows would read real inputs) and the bias term carries mask(β,η,ζ); padded output
// channels have zero weight rows and padded batch rows zero inputs. Taps outside [0, H) read
// X's zero padding or match no x at all (the predicate is an integer relation, never mod 2^n).
//
// Groups: the group bits of ω and of X's channel index coincide, so a grouped conv needs
// C/groups and K/groups to be powers of two (or groups = 1); depthwise (C/groups = 1) always
// qualifies.
type Conv2D struct {
	name       string
	x, w, bias string
	y          string
	a          ConvAttrs
}

// NewConv2D returns a conv kernel; bias may be "". Zero strides, dilations and groups mean 1.
func NewConv2D(name, x, w, bias, y string, a ConvAttrs) *Conv2D {
	for _, p := range []*int{&a.StrideH, &a.StrideW, &a.DilH, &a.DilW, &a.Groups} {
		if *p == 0 {
			*p = 1
		}
	}
	return &Conv2D{name: name, x: x, w: w, bias: bias, y: y, a: a}
}

// Name returns the node name.
func (k *Conv2D) Name() string { return k.name }

// Inputs returns X, W and (when present) the bias.
func (k *Conv2D) Inputs() []string {
	if k.bias == "" {
		return []string{k.x, k.w}
	}
	return []string{k.x, k.w, k.bias}
}

// Outputs returns Y.
func (k *Conv2D) Outputs() []string { return []string{k.y} }

// Describe encodes the op and its geometry for the graph digest.
func (k *Conv2D) Describe() []byte {
	hasBias := int64(0)
	if k.bias != "" {
		hasBias = 1
	}
	a := k.a
	return describe("conv2d/1", hasBias, int64(a.StrideH), int64(a.StrideW), int64(a.PadTop), int64(a.PadLeft),
		int64(a.PadBottom), int64(a.PadRight), int64(a.DilH), int64(a.DilW), int64(a.Groups))
}

// convGeom is a convolution's sizes and their padded logs.
type convGeom struct {
	n, c, h, w     int // input
	k, cg, kh, kw  int // weight
	ho, wo         int // output
	g, kg          int // groups, output channels per group
	lgN, lgC, lgH  int // padded logs
	lgW, lgK, lgCg int
	lgKh, lgKw     int
	lgHo, lgWo     int
	lgG, lgKg      int // group bits and within-group output bits of o (lgG = 0 when groups = 1)
}

// outLen is ONNX's output length along one axis, or ≤ 0 when the window does not fit.
func outLen(in, padLo, padHi, k, stride, dil int) int {
	span := in + padLo + padHi - dil*(k-1) - 1
	if span < 0 {
		return 0
	}
	return span/stride + 1
}

func isPow2(n int) bool { return n > 0 && n&(n-1) == 0 }

func (a ConvAttrs) check() error {
	for _, v := range []struct {
		name string
		v    int
	}{{"stride", a.StrideH}, {"stride", a.StrideW}, {"dilation", a.DilH}, {"dilation", a.DilW}, {"group", a.Groups}} {
		if v.v < 1 || v.v > 1<<16 {
			return fmt.Errorf("%s %d, want 1..65536", v.name, v.v)
		}
	}
	for _, p := range []int{a.PadTop, a.PadLeft, a.PadBottom, a.PadRight} {
		if p < 0 || p > 1<<16 {
			return fmt.Errorf("padding %d, want 0..65536", p)
		}
	}
	return nil
}

// ConvOutShape returns the output shape of a conv of input shape xs and weight shape ws, with a
// clear error when they do not fit together.
func ConvOutShape(xs, ws []int, a ConvAttrs) ([]int, error) {
	if err := a.check(); err != nil {
		return nil, err
	}
	if len(xs) != 4 {
		return nil, fmt.Errorf("input has shape %v, want [N, C, H, W]", xs)
	}
	if len(ws) != 4 {
		return nil, fmt.Errorf("weight has shape %v, want [K, C/groups, kh, kw]", ws)
	}
	for _, d := range append(append([]int{}, xs...), ws...) {
		if d < 1 {
			return nil, fmt.Errorf("shapes %v and %v have an empty dimension", xs, ws)
		}
	}
	g := a.Groups
	if xs[1]%g != 0 || ws[0]%g != 0 {
		return nil, fmt.Errorf("%d input channels and %d output channels are not divisible by group %d", xs[1], ws[0], g)
	}
	if ws[1] != xs[1]/g {
		return nil, fmt.Errorf("weight has %d input channels per group, input has %d/%d = %d", ws[1], xs[1], g, xs[1]/g)
	}
	if g > 1 && (!isPow2(ws[1]) || !isPow2(ws[0]/g)) {
		return nil, fmt.Errorf("group %d needs power-of-two channels per group (input %d, output %d) so the group index is whole MLE variables; depthwise (1 per group) always works", g, ws[1], ws[0]/g)
	}
	ho := outLen(xs[2], a.PadTop, a.PadBottom, ws[2], a.StrideH, a.DilH)
	wo := outLen(xs[3], a.PadLeft, a.PadRight, ws[3], a.StrideW, a.DilW)
	if ho < 1 || wo < 1 {
		return nil, fmt.Errorf("a %dx%d kernel (dilation %d,%d) does not fit a padded %dx%d input", ws[2], ws[3], a.DilH, a.DilW, xs[2]+a.PadTop+a.PadBottom, xs[3]+a.PadLeft+a.PadRight)
	}
	return []int{xs[0], ws[0], ho, wo}, nil
}

func (k *Conv2D) geom(g *gkr.Graph) (convGeom, error) {
	var cg convGeom
	xi, wi, yi := g.Tensors[k.x], g.Tensors[k.w], g.Tensors[k.y]
	if xi == nil || wi == nil || yi == nil {
		return cg, fmt.Errorf("%w: node %s: a tensor is not declared", gkr.ErrGraph, k.name)
	}
	want, err := ConvOutShape(xi.Shape, wi.Shape, k.a)
	if err != nil {
		return cg, fmt.Errorf("%w: node %s: %v", gkr.ErrGraph, k.name, err)
	}
	if len(yi.Shape) != 4 || yi.Shape[0] != want[0] || yi.Shape[1] != want[1] || yi.Shape[2] != want[2] || yi.Shape[3] != want[3] {
		return cg, fmt.Errorf("%w: node %s: output %q has shape %v, want %v", gkr.ErrGraph, k.name, k.y, yi.Shape, want)
	}
	if k.bias != "" {
		if bi := g.Tensors[k.bias]; bi == nil || len(bi.Shape) != 1 || bi.Shape[0] != want[1] {
			return cg, fmt.Errorf("%w: node %s: bias %q must have shape [%d]", gkr.ErrGraph, k.name, k.bias, want[1])
		}
	}
	cg = convGeom{n: xi.Shape[0], c: xi.Shape[1], h: xi.Shape[2], w: xi.Shape[3],
		k: wi.Shape[0], cg: wi.Shape[1], kh: wi.Shape[2], kw: wi.Shape[3], ho: want[2], wo: want[3],
		g: k.a.Groups, kg: wi.Shape[0] / k.a.Groups}
	cg.lgN, cg.lgC, cg.lgH, cg.lgW = log2i(cg.n), log2i(cg.c), log2i(cg.h), log2i(cg.w)
	cg.lgK, cg.lgCg, cg.lgKh, cg.lgKw = log2i(cg.k), log2i(cg.cg), log2i(cg.kh), log2i(cg.kw)
	cg.lgHo, cg.lgWo = log2i(cg.ho), log2i(cg.wo)
	if cg.g > 1 {
		cg.lgKg = log2i(cg.kg)
		cg.lgG = cg.lgK - cg.lgKg
	} else {
		cg.lgKg = cg.lgK
	}
	return cg, nil
}

// taps returns the row and column tap predicates.
func (k *Conv2D) taps(cg convGeom) (rows, cols *affinePred) {
	rows = tapPred(cg.lgH, cg.lgHo, cg.lgKh, k.a.PadTop, k.a.StrideH, k.a.DilH, cg.ho, cg.kh)
	cols = tapPred(cg.lgW, cg.lgWo, cg.lgKw, k.a.PadLeft, k.a.StrideW, k.a.DilW, cg.wo, cg.kw)
	return rows, cols
}

// phase1Len is the length of W_ω and Z: padded channels × kernel taps.
func (cg convGeom) phase1Len() int64 { return int64(1) << (cg.lgC + cg.lgKh + cg.lgKw) }
func (cg convGeom) planeLen() int64  { return int64(1) << (cg.lgH + cg.lgW) }

// Estimate: RAM for W_ω, Z, the input plane and the tap tables; X streamed twice, W once.
func (k *Conv2D) Estimate(g *gkr.Graph) gkr.Estimate {
	cg, err := k.geom(g)
	if err != nil {
		return gkr.Estimate{}
	}
	ram := (2*cg.phase1Len() + 4*cg.planeLen() + int64(cg.h)<<cg.lgKw) * field.Bytes
	xLen := int64(1) << (cg.lgN + cg.lgC + cg.lgH + cg.lgW)
	wLen := int64(1) << (cg.lgK + cg.lgCg + cg.lgKh + cg.lgKw)
	return gkr.Estimate{MinBytes: ram, TableBytes: ram, StreamBytes: (2*xLen + wLen) * field.Bytes}
}

// convPoint splits Y's claim point into (ζ, η, ω, β).
func (cg convGeom) split(p []field.Element) (zeta, eta, omega, beta []field.Element) {
	a := cg.lgWo
	b := a + cg.lgHo
	c := b + cg.lgK
	return p[:a], p[a:b], p[b:c], p[c:]
}

// target is y − bias~(ω)·mask(β,η,ζ): the part of Ỹ the convolution sum accounts for.
func (cg convGeom) target(y field.Element, zeta, eta, beta []field.Element, bv field.Element) field.Element {
	m := field.EqPrefixSum(beta, uint64(cg.n))
	t := field.EqPrefixSum(eta, uint64(cg.ho))
	m.Mul(&m, &t)
	t = field.EqPrefixSum(zeta, uint64(cg.wo))
	m.Mul(&m, &t)
	m.Mul(&m, &bv)
	var out field.Element
	out.Sub(&y, &m)
	return out
}

// phase1 returns the phase-1 sumcheck claim (sources left to the prover).
func (cg convGeom) phase1(target field.Element, omega []field.Element) *sumcheck.Claim {
	n1 := cg.lgC + cg.lgKh + cg.lgKw
	sc := &sumcheck.Claim{NumVars: n1, Gate: sumcheck.Product(2), Sum: target}
	if cg.lgG > 0 {
		// eq(ω_g, g) over the group variables; the ½ coordinates make the low variables'
		// factor the constant 2^-nlow, which Coeff cancels.
		nlow := n1 - cg.lgG
		pt := make([]field.Element, n1)
		var half field.Element
		half.SetUint64(2)
		half.Inverse(&half)
		for i := 0; i < nlow; i++ {
			pt[i] = half
		}
		copy(pt[nlow:], omega[cg.lgKg:])
		var coeff field.Element
		coeff.SetUint64(1)
		for i := 0; i < nlow; i++ {
			coeff.Double(&coeff)
		}
		sc.Eq = []sumcheck.EqTerm{{Coeff: coeff, Point: pt}}
	}
	return sc
}

// inClaims builds the claims on X, W (and the bias) from the two phases' points and finals,
// after checking the tap predicates' value that the prover claims for phase 2.
func (k *Conv2D) inClaims(cg convGeom, pt1, fin1, pt2, fin2, zeta, eta, omega, beta []field.Element, bv field.Element) ([]gkr.Claim, error) {
	rows, cols := k.taps(cg)
	nu, mu := pt1[:cg.lgKw], pt1[cg.lgKw:cg.lgKw+cg.lgKh]
	chPt := pt1[cg.lgKw+cg.lgKh:]
	xiW, xiH := pt2[:cg.lgW], pt2[cg.lgW:]
	sh, err := rows.eval([][]field.Element{xiH, eta, mu})
	if err != nil {
		return nil, fmt.Errorf("node %s: %w", k.name, err)
	}
	sw, err := cols.eval([][]field.Element{xiW, zeta, nu})
	if err != nil {
		return nil, fmt.Errorf("node %s: %w", k.name, err)
	}
	sh.Mul(&sh, &sw)
	if !sh.Equal(&fin2[1]) {
		return nil, fmt.Errorf("%w: node %s: the tap predicate's value does not match", gkr.ErrBadProof, k.name)
	}
	cat := func(ps ...[]field.Element) []field.Element {
		var out []field.Element
		for _, p := range ps {
			out = append(out, p...)
		}
		return out
	}
	nlow := cg.lgKw + cg.lgKh + cg.lgCg
	cs := []gkr.Claim{
		{Tensor: k.x, Point: cat(pt2, chPt, beta), Value: fin2[0]},
		{Tensor: k.w, Point: cat(pt1[:nlow], omega[:cg.lgKg], pt1[nlow:]), Value: fin1[0]},
	}
	if k.bias != "" {
		cs = append(cs, gkr.Claim{Tensor: k.bias, Point: cat(omega), Value: bv})
	}
	return cs, nil
}

var _ Kernel = (*Conv2D)(nil)
