package kernels

import (
	"fmt"
	"io"
	"math/big"

	"github.com/streamprove/streamprove/field"
	"github.com/streamprove/streamprove/gkr"
	"github.com/streamprove/streamprove/sumcheck"
)

// poolGeom builds the window geometry of a pooling layer over X [N, C, H, W] with a kh×kw window
// as a convGeom (one "output channel" per input channel), so pooling shares conv's plane pass,
// tap tables and tap predicate. Every output window must hold at least one real input (a window
// entirely in the padding has no maximum and no meaningful average).
func poolGeom(name string, xs []int, kh, kw int, a ConvAttrs) (convGeom, error) {
	var cg convGeom
	if err := a.check(); err != nil {
		return cg, fmt.Errorf("%w: node %s: %v", gkr.ErrGraph, name, err)
	}
	if len(xs) != 4 || xs[0] < 1 || xs[1] < 1 || xs[2] < 1 || xs[3] < 1 {
		return cg, fmt.Errorf("%w: node %s: input has shape %v, want [N, C, H, W]", gkr.ErrGraph, name, xs)
	}
	if kh < 1 || kw < 1 || kh > 1<<16 || kw > 1<<16 {
		return cg, fmt.Errorf("%w: node %s: window %dx%d", gkr.ErrGraph, name, kh, kw)
	}
	ho := outLen(xs[2], a.PadTop, a.PadBottom, kh, a.StrideH, a.DilH)
	wo := outLen(xs[3], a.PadLeft, a.PadRight, kw, a.StrideW, a.DilW)
	if ho < 1 || wo < 1 {
		return cg, fmt.Errorf("%w: node %s: a %dx%d window does not fit a padded %dx%d input", gkr.ErrGraph, name, kh, kw, xs[2]+a.PadTop+a.PadBottom, xs[3]+a.PadLeft+a.PadRight)
	}
	for _, ax := range []struct {
		out, k, s, d, p, in int
		what                string
	}{{ho, kh, a.StrideH, a.DilH, a.PadTop, xs[2], "row"}, {wo, kw, a.StrideW, a.DilW, a.PadLeft, xs[3], "column"}} {
		for o, r := range axisRangesByOut(ax.out, ax.k, ax.s, ax.d, ax.p, ax.in) {
			if r == 0 {
				return cg, fmt.Errorf("%w: node %s: the window of output %s %d lies entirely in the padding", gkr.ErrGraph, name, ax.what, o)
			}
		}
	}
	cg = convGeom{n: xs[0], c: xs[1], h: xs[2], w: xs[3], k: xs[1], cg: 1, kh: kh, kw: kw, ho: ho, wo: wo, g: 1, kg: xs[1]}
	cg.lgN, cg.lgC, cg.lgH, cg.lgW = log2i(cg.n), log2i(cg.c), log2i(cg.h), log2i(cg.w)
	cg.lgK, cg.lgKh, cg.lgKw = cg.lgC, log2i(kh), log2i(kw)
	cg.lgHo, cg.lgWo = log2i(ho), log2i(wo)
	cg.lgKg = cg.lgK
	return cg, nil
}

// axisRangesByOut counts, for each output position, its taps that land inside the input.
func axisRangesByOut(outLen, k, stride, dil, pad, inLen int) []int {
	n := make([]int, outLen)
	for _, r := range axisTaps(outLen, k, stride, dil, pad, inLen) {
		n[r.out]++
	}
	return n
}

// outPoint splits a point over [N, C, Ho, Wo] into (w, h, c, b) coordinates.
func (cg convGeom) outPoint(p []field.Element) (w, h, c, b []field.Element) {
	i := cg.lgWo
	j := i + cg.lgHo
	k := j + cg.lgC
	return p[:i], p[i:j], p[j:k], p[k:]
}

// outMask is the MLE at p of [b<N][c<C][h<Ho][w<Wo] over the padded output.
func (cg convGeom) outMask(p []field.Element) field.Element {
	w, h, c, b := cg.outPoint(p)
	m := field.EqPrefixSum(b, uint64(cg.n))
	for _, t := range []field.Element{field.EqPrefixSum(c, uint64(cg.c)), field.EqPrefixSum(h, uint64(cg.ho)), field.EqPrefixSum(w, uint64(cg.wo))} {
		m.Mul(&m, &t)
	}
	return m
}

// SumPool is Y[b,c,h,w] = Σ_{u<kh, v<kw} X[b, c, s·h + d·u − p, s·w + d·v − p] with taps outside
// the image reading zero: the numerator of an average pool (ONNX AveragePool with
// count_include_pad = 1 divides it by kh·kw; follow it with a requant, whose 2^shift divisor is
// exact for 2×2 and 4×4 windows, or fold the divisor into the next requant's multiplier). With the
// whole image as the window it is a global sum pool.
//
// Proof: a sumcheck over the input plane only. For the claim Ỹ(ζ, η, γ, β) = y,
// y = Σ_{x_h,x_w} X_{β,γ}[x_h,x_w]·Ŝ_η(x_h)·Ŝ_ζ(x_w) where Ŝ_η(x) = Σ_{h,u} eq(η,h)·[x + p = s·h +
// d·u]·[h<Ho]·[u<kh]: conv's phase 2 with an all-ones kernel, so there is no phase 1 and no
// weight. The verifier evaluates Ŝ as 2^{log kh}·S~(ξ, η, ½…½) (a sum over the Boolean u is the
// half point times the count), by the same tap automaton as conv. The prover makes one pass over
// X (RAM: one plane).
type SumPool struct {
	name, x, y string
	kh, kw     int
	a          ConvAttrs
}

// NewSumPool returns a sum-pool kernel over a kh×kw window (zero strides and dilations mean 1;
// a.Groups is ignored).
func NewSumPool(name, x, y string, kh, kw int, a ConvAttrs) *SumPool {
	a = NewConv2D("", "", "", "", "", a).a
	a.Groups = 1
	return &SumPool{name: name, x: x, y: y, kh: kh, kw: kw, a: a}
}

// PoolOutShape returns a pooling layer's output shape for input shape xs.
func PoolOutShape(xs []int, kh, kw int, a ConvAttrs) ([]int, error) {
	a = NewConv2D("", "", "", "", "", a).a
	cg, err := poolGeom("pool", xs, kh, kw, a)
	if err != nil {
		return nil, err
	}
	return []int{cg.n, cg.c, cg.ho, cg.wo}, nil
}

// Name returns the node name.
func (p *SumPool) Name() string { return p.name }

// Inputs returns X.
func (p *SumPool) Inputs() []string { return []string{p.x} }

// Outputs returns Y.
func (p *SumPool) Outputs() []string { return []string{p.y} }

// Describe encodes the op and its geometry for the graph digest.
func (p *SumPool) Describe() []byte {
	a := p.a
	return describe("sumpool/1", int64(p.kh), int64(p.kw), int64(a.StrideH), int64(a.StrideW), int64(a.PadTop),
		int64(a.PadLeft), int64(a.PadBottom), int64(a.PadRight), int64(a.DilH), int64(a.DilW))
}

func (p *SumPool) geom(g *gkr.Graph) (convGeom, *Conv2D, error) {
	xi, yi := g.Tensors[p.x], g.Tensors[p.y]
	if xi == nil || yi == nil {
		return convGeom{}, nil, fmt.Errorf("%w: node %s: a tensor is not declared", gkr.ErrGraph, p.name)
	}
	cg, err := poolGeom(p.name, xi.Shape, p.kh, p.kw, p.a)
	if err != nil {
		return cg, nil, err
	}
	if want := []int{cg.n, cg.c, cg.ho, cg.wo}; len(yi.Shape) != 4 || yi.Shape[0] != want[0] || yi.Shape[1] != want[1] || yi.Shape[2] != want[2] || yi.Shape[3] != want[3] {
		return cg, nil, fmt.Errorf("%w: node %s: output %q has shape %v, want %v", gkr.ErrGraph, p.name, p.y, yi.Shape, want)
	}
	return cg, &Conv2D{name: p.name, x: p.x, a: p.a}, nil
}

// Estimate: one input plane and its predicate table in RAM; X streamed once.
func (p *SumPool) Estimate(g *gkr.Graph) gkr.Estimate {
	cg, _, err := p.geom(g)
	if err != nil {
		return gkr.Estimate{}
	}
	ram := 3 * cg.planeLen() * field.Bytes
	return gkr.Estimate{MinBytes: ram, TableBytes: ram, StreamBytes: (int64(1) << (cg.lgN + cg.lgC + cg.lgH + cg.lgW)) * field.Bytes}
}

// halves returns n coordinates ½ and the factor 2^n that turns an evaluation there into a sum.
func halves(n int) ([]field.Element, field.Element) {
	var h field.Element
	h.SetUint64(2)
	h.Inverse(&h)
	pt := make([]field.Element, n)
	for i := range pt {
		pt[i] = h
	}
	f := field.NewInt(int64(1) << n)
	return pt, f
}

// Prove reduces the claim on Y to one claim on X.
func (p *SumPool) Prove(pc *gkr.ProveCtx, out []gkr.Claim) ([]gkr.Claim, error) {
	return p.protocol(pc.Party(), out)
}

// Verify checks the sumcheck and returns the claim on X.
func (p *SumPool) Verify(vc *gkr.VerifyCtx, out []gkr.Claim) ([]gkr.Claim, error) {
	return p.protocol(vc.Party(), out)
}

// protocol is the kernel's one message, the sumcheck over the input plane, for both sides.
func (p *SumPool) protocol(party *gkr.Party, out []gkr.Claim) ([]gkr.Claim, error) {
	cg, ck, err := p.geom(party.Graph())
	if err != nil {
		return nil, err
	}
	if pc := party.Prover(); pc != nil && pc.Budget() != nil {
		n := 3 * cg.planeLen() * field.Bytes
		if err := pc.Budget().Reserve("sumpool tables of "+p.name, n); err != nil {
			return nil, fmt.Errorf("node %s: %w", p.name, err)
		}
		defer pc.Budget().Release(n)
	}
	zeta, eta, gamma, beta := cg.outPoint(out[0].Point)
	sc := &sumcheck.Claim{NumVars: cg.lgH + cg.lgW, Gate: sumcheck.Product(2), Sum: out[0].Value}
	pt, fin, err := party.Sumcheck(sc, func() ([]field.Source, error) {
		plane, err := ck.inputPlane(party.Prover(), cg, gamma, beta)
		if err != nil {
			return nil, err
		}
		mu, fh := halves(cg.lgKh)
		nu, fw := halves(cg.lgKw)
		pred := cg.planePredicate(ck, eta, zeta, mu, nu)
		var f field.Element
		f.Mul(&fh, &fw)
		for i := range pred {
			pred[i].Mul(&pred[i], &f)
		}
		return []field.Source{field.SliceSource(plane), field.SliceSource(pred)}, nil
	})
	if err != nil {
		return nil, fmt.Errorf("node %s: %w", p.name, err)
	}
	return p.inClaims(cg, ck, pt, fin, zeta, eta, gamma, beta)
}

func (p *SumPool) inClaims(cg convGeom, ck *Conv2D, pt, fin, zeta, eta, gamma, beta []field.Element) ([]gkr.Claim, error) {
	s, err := cg.tapValue(ck, pt, eta, zeta, nil, nil)
	if err != nil {
		return nil, err
	}
	if !s.Equal(&fin[1]) {
		return nil, fmt.Errorf("%w: node %s: the window predicate's value does not match", gkr.ErrBadProof, p.name)
	}
	x := append(append(append([]field.Element{}, pt...), gamma...), beta...)
	return []gkr.Claim{{Tensor: p.x, Point: x, Value: fin[0]}}, nil
}

// tapValue is Ŝ_η(ξ_h)·Ŝ_ζ(ξ_w) at the plane point pt = (ξ_w, ξ_h) for tap points μ, ν; nil μ or
// ν means the sum over all taps (the half point times 2^bits).
func (cg convGeom) tapValue(ck *Conv2D, pt, eta, zeta, mu, nu []field.Element) (field.Element, error) {
	rows, cols := ck.taps(cg)
	f := field.One()
	if mu == nil {
		var fh field.Element
		mu, fh = halves(cg.lgKh)
		f.Mul(&f, &fh)
	}
	if nu == nil {
		var fw field.Element
		nu, fw = halves(cg.lgKw)
		f.Mul(&f, &fw)
	}
	sh, err := rows.eval([][]field.Element{pt[cg.lgW:], eta, mu})
	if err != nil {
		return field.Element{}, err
	}
	sw, err := cols.eval([][]field.Element{pt[:cg.lgW], zeta, nu})
	if err != nil {
		return field.Element{}, err
	}
	f.Mul(&f, &sh)
	f.Mul(&f, &sw)
	return f, nil
}

// OutBound is |X|·kh·kw.
func (p *SumPool) OutBound(g *gkr.Graph, in []*big.Int) (*big.Int, error) {
	return new(big.Int).Mul(in[0], big.NewInt(int64(p.kh*p.kw))), nil
}

// Forward computes Y in int64, one input plane at a time.
func (p *SumPool) Forward(fc *ForwardCtx) error {
	cg, _, err := p.geom(fc.Graph)
	if err != nil {
		return err
	}
	w, ints, err := fc.create(p, p.y)
	if err != nil {
		return err
	}
	if !ints {
		w.Abort()
		return fmt.Errorf("node %s: sumpool values exceed int64", p.name)
	}
	err = poolPlanes(fc, p.x, cg, p.a, func(_ int, plane []int64, rows, cols []axisRange, y []int64) error {
		for i := range y {
			y[i] = 0
		}
		for _, ru := range rows {
			for _, cv := range cols {
				for h := ru.lo; h < ru.hi; h++ {
					xrow := plane[(h*p.a.StrideH+ru.off)*cg.w:]
					yrow := y[h*cg.wo : (h+1)*cg.wo]
					for ww := cv.lo; ww < cv.hi; ww++ {
						yrow[ww] += xrow[ww*p.a.StrideW+cv.off]
					}
				}
			}
		}
		return w.WriteInt64s(y)
	})
	if err != nil {
		w.Abort()
		return fmt.Errorf("node %s: %w", p.name, err)
	}
	return commit(p, w)
}

// poolPlanes streams X's planes as int64 and calls fn with each plane, the per-tap row and
// column ranges, and an output plane buffer of Ho·Wo.
func poolPlanes(fc *ForwardCtx, x string, cg convGeom, a ConvAttrs, fn func(i int, plane []int64, rows, cols []axisRange, y []int64) error) error {
	release, err := fc.reserve("pool forward buffers", int64(cg.h*cg.w+cg.ho*cg.wo)*8)
	if err != nil {
		return err
	}
	defer release()
	next, done, err := openInt64s(fc.Store, x)
	if err != nil {
		return err
	}
	defer done()
	plane := make([]int64, cg.h*cg.w)
	y := make([]int64, cg.ho*cg.wo)
	rows := axisRanges(cg.ho, cg.kh, a.StrideH, a.DilH, a.PadTop, cg.h)
	cols := axisRanges(cg.wo, cg.kw, a.StrideW, a.DilW, a.PadLeft, cg.w)
	for i := 0; i < cg.n*cg.c; i++ {
		if err := next(plane); err != nil {
			return fmt.Errorf("input %q plane %d: %w", x, i, err)
		}
		if err := fn(i, plane, rows, cols, y); err != nil {
			return err
		}
	}
	return nil
}

// funcSource is a virtual source whose elements a function fills by index (masks and structured
// tables that need no storage).
type funcSource struct {
	n    int64
	fill func(off int64, buf []field.Element)
}

func (s funcSource) Len() int64 { return s.n }

func (s funcSource) Open() (field.Stream, error) { return &funcStream{s: s}, nil }

type funcStream struct {
	s   funcSource
	pos int64
}

func (st *funcStream) Next(buf []field.Element) (int, error) {
	if st.pos >= st.s.n {
		return 0, io.EOF
	}
	n := int(min(int64(len(buf)), st.s.n-st.pos))
	st.s.fill(st.pos, buf[:n])
	st.pos += int64(n)
	return n, nil
}

func (st *funcStream) Close() error { return nil }

// mapSource streams another source and transforms each element in place by index.
type mapSource struct {
	src field.Source
	f   func(off int64, buf []field.Element)
}

func (s mapSource) Len() int64 { return s.src.Len() }

func (s mapSource) Open() (field.Stream, error) {
	st, err := s.src.Open()
	if err != nil {
		return nil, err
	}
	return &mapStream{st: st, f: s.f}, nil
}

type mapStream struct {
	st  field.Stream
	f   func(off int64, buf []field.Element)
	pos int64
}

func (m *mapStream) Next(buf []field.Element) (int, error) {
	n, err := m.st.Next(buf)
	if n > 0 {
		m.f(m.pos, buf[:n])
		m.pos += int64(n)
	}
	return n, err
}

func (m *mapStream) Close() error { return m.st.Close() }

var _ Kernel = (*SumPool)(nil)
