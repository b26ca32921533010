package kernels

import (
	"fmt"
	"math/big"

	"github.com/streamprove/streamprove/field"
	"github.com/streamprove/streamprove/gkr"
	"github.com/streamprove/streamprove/sumcheck"
	"github.com/streamprove/streamprove/tensorstore"
)

// MaxPool is Y[b,c,h,w] = max over the in-image taps (u, v) of X[b, c, s·h + d·u − p,
// s·w + d·v − p] (ONNX MaxPool: padding is −∞, never 0, so a negative input is never beaten by
// the padding). Inputs must be integers in the signed bits range (pool after requant).
//
// Advice (committed at the start of the proof, like a lookup's): Y, and one difference tensor per
// tap t = (u, v) of Y's shape, D_t = In_t·(Y − X_t), where X_t is the tap's view of X and In_t
// the public indicator that the tap is inside the image (and the position real). The relations:
//
//  1. Range: every D_t ∈ [0, 2^bits) — a LogUp range lookup per tap (lookupCore), so Y ≥ every
//     in-image tap.
//  2. Attained: mask(pos)·Π_t (D_t + 1 − In_t) = 0 at every position — a zero-check sumcheck
//     Σ eq(τ, pos)·mask·Π_t F_t = 0 of degree kh·kw + 2, with F_t streamed from D_t and the
//     indicator computed on the fly; out-of-image taps contribute a factor 1, so some in-image
//     tap equals Y. It ends at a point r with the values F_t~(r), hence D_t~(r) (the verifier
//     evaluates In_t~(r) as a product of interval masks, O(log)).
//  3. Consistency: D_t = In_t·Y − X_t^view as polynomials, checked at (τ', r) for a random tap
//     point τ': Σ_t eq(τ',t)·D_t~(r) = Σ_pos eq(r,pos)·A(pos)·Y(pos) − Σ_{x_h,x_w} X_r[x_h,x_w]·Ŝ(x_h)·Ŝ(x_w),
//     where A = Σ_t eq(τ',t)·In_t is separable (interval masks, O(kh + kw)·log for the verifier)
//     and the second sum is exactly conv's phase 2 with the tap point τ' (one pass over X, one
//     plane of RAM, the tap automaton for the verifier). The prover sends the second sum, then
//     proves both with one sumcheck each.
//
// Claims out: Y and every D_t (openings), the multiplicities (openings), and one claim on X.
// Without the range check the zero product would be unsound (a negative D_t lets Y sit below
// the maximum); without the consistency check D would be unrelated to X.
type MaxPool struct {
	name, x, y string
	kh, kw     int
	a          ConvAttrs
	bits       int
	core       lookupCore
}

// maxPoolTaps bounds the window: the zero-check's degree is taps + 2 (sumcheck allows 64).
const maxPoolTaps = 60

// NewMaxPool returns a max-pool kernel over a kh×kw window for inputs in the signed bits range
// (2..16). Zero strides and dilations mean 1; a.Groups is ignored.
func NewMaxPool(name, x, y string, kh, kw int, a ConvAttrs, bits int) (*MaxPool, error) {
	if bits < 2 || bits > 16 {
		return nil, fmt.Errorf("%w: node %s: bits %d, want 2..16", gkr.ErrGraph, name, bits)
	}
	if kh < 1 || kw < 1 || kh*kw > maxPoolTaps {
		return nil, fmt.Errorf("%w: node %s: a %dx%d window (want 1..%d taps)", gkr.ErrGraph, name, kh, kw, maxPoolTaps)
	}
	a = NewConv2D("", "", "", "", "", a).a
	a.Groups = 1
	p := &MaxPool{name: name, x: x, y: y, kh: kh, kw: kw, a: a, bits: bits}
	p.core = lookupCore{name: name}
	one := field.One()
	// Every tap's differences are range-checked in one shared table (lookupCore.groups).
	tab := rangeTable(0, 1<<bits)
	for t := 0; t < kh*kw; t++ {
		p.core.tensors = append(p.core.tensors, p.diffName(t))
		p.core.args = append(p.core.args, lookupArg{tab: tab, cols: [][]linTerm{{{t, one}}}, mult: p.multName()})
	}
	return p, nil
}

func (p *MaxPool) diffName(t int) string { return fmt.Sprintf("%s/diff%d", p.name, t) }
func (p *MaxPool) multName() string      { return p.name + "/mult" }

// Name returns the node name.
func (p *MaxPool) Name() string { return p.name }

// Inputs returns X.
func (p *MaxPool) Inputs() []string { return []string{p.x} }

// Outputs returns Y, the tap differences and their multiplicities, all advice.
func (p *MaxPool) Outputs() []string {
	out := []string{p.y}
	for t := 0; t < p.kh*p.kw; t++ {
		out = append(out, p.diffName(t))
	}
	return append(out, p.multName())
}

// OutputInfos returns every output's TensorInfo (role Advice) for input shape xs.
func (p *MaxPool) OutputInfos(xs []int) ([]gkr.TensorInfo, error) {
	cg, err := poolGeom(p.name, xs, p.kh, p.kw, p.a)
	if err != nil {
		return nil, err
	}
	ys := []int{cg.n, cg.c, cg.ho, cg.wo}
	var out []gkr.TensorInfo
	for i, name := range p.Outputs() {
		shape := ys
		if i > p.kh*p.kw {
			shape = []int{1 << p.bits}
		}
		out = append(out, gkr.TensorInfo{Name: name, Shape: append([]int(nil), shape...), Role: gkr.Advice})
	}
	return out, nil
}

// Declare returns OutputInfos for X's shape in g.
func (p *MaxPool) Declare(g *gkr.Graph) ([]gkr.TensorInfo, error) {
	xi, ok := g.Tensors[p.x]
	if !ok {
		return nil, fmt.Errorf("%w: node %s: input %q is not declared", gkr.ErrGraph, p.name, p.x)
	}
	return p.OutputInfos(xi.Shape)
}

// Describe encodes the op, its geometry and its bits for the graph digest.
func (p *MaxPool) Describe() []byte {
	a := p.a
	return describe("maxpool/1", int64(p.kh), int64(p.kw), int64(a.StrideH), int64(a.StrideW), int64(a.PadTop),
		int64(a.PadLeft), int64(a.PadBottom), int64(a.PadRight), int64(a.DilH), int64(a.DilW), int64(p.bits))
}

func (p *MaxPool) geom(g *gkr.Graph) (convGeom, *Conv2D, error) {
	xi := g.Tensors[p.x]
	if xi == nil {
		return convGeom{}, nil, fmt.Errorf("%w: node %s: input %q is not declared", gkr.ErrGraph, p.name, p.x)
	}
	infos, err := p.OutputInfos(xi.Shape)
	if err != nil {
		return convGeom{}, nil, err
	}
	for _, want := range infos {
		ti, ok := g.Tensors[want.Name]
		if !ok || ti.Role != gkr.Advice || fmt.Sprint(ti.Shape) != fmt.Sprint(want.Shape) {
			return convGeom{}, nil, fmt.Errorf("%w: node %s: output %q must be an advice tensor of shape %v", gkr.ErrGraph, p.name, want.Name, want.Shape)
		}
	}
	cg, _ := poolGeom(p.name, xi.Shape, p.kh, p.kw, p.a)
	return cg, &Conv2D{name: p.name, x: p.x, a: p.a}, nil
}

// Estimate: the input plane and predicate tables in RAM (the zero-check's sources are virtual);
// X streamed once, the tap differences about 2·taps + 2 times, Y twice.
func (p *MaxPool) Estimate(g *gkr.Graph) gkr.Estimate {
	cg, _, err := p.geom(g)
	if err != nil {
		return gkr.Estimate{}
	}
	taps := int64(p.kh * p.kw)
	ny := int64(1) << (cg.lgN + cg.lgC + cg.lgHo + cg.lgWo)
	ram := 3*cg.planeLen()*field.Bytes + taps*(int64(1)<<p.bits)*field.Bytes
	return gkr.Estimate{MinBytes: ram, TableBytes: ram + 3*taps*ny*field.Bytes,
		StreamBytes: ((int64(1) << (cg.lgN + cg.lgC + cg.lgH + cg.lgW)) + (8*taps+2)*ny) * field.Bytes}
}

// tapRange is, for tap u along one axis, the output positions [lo, hi) whose input lies inside.
func tapRange(outLen, stride, dil, pad, inLen, u int) (lo, hi int) {
	r := axisRanges(outLen, u+1, stride, dil, pad, inLen)[u]
	return r.lo, r.hi
}

// intervalMLE is the MLE at pt of [lo ≤ i < hi].
func intervalMLE(pt []field.Element, lo, hi int) field.Element {
	if hi <= lo {
		return field.Element{}
	}
	a := field.EqPrefixSum(pt, uint64(hi))
	b := field.EqPrefixSum(pt, uint64(lo))
	a.Sub(&a, &b)
	return a
}

// inMLE is In_t~(pt) for tap t = u·kw + v.
func (p *MaxPool) inMLE(cg convGeom, pt []field.Element, t int) field.Element {
	w, h, c, b := cg.outPoint(pt)
	u, v := t/p.kw, t%p.kw
	m := field.EqPrefixSum(b, uint64(cg.n))
	cm := field.EqPrefixSum(c, uint64(cg.c))
	m.Mul(&m, &cm)
	lo, hi := tapRange(cg.ho, p.a.StrideH, p.a.DilH, p.a.PadTop, cg.h, u)
	r := intervalMLE(h, lo, hi)
	m.Mul(&m, &r)
	lo, hi = tapRange(cg.wo, p.a.StrideW, p.a.DilW, p.a.PadLeft, cg.w, v)
	r = intervalMLE(w, lo, hi)
	m.Mul(&m, &r)
	return m
}

// tapWeights returns eq(τ', t) for the real taps, τ' = (τ_v, τ_u) over the padded tap index.
func (p *MaxPool) tapWeights(cg convGeom, tau []field.Element) []field.Element {
	ev := field.EqTable(make([]field.Element, 1<<cg.lgKw), tau[:cg.lgKw])
	eu := field.EqTable(make([]field.Element, 1<<cg.lgKh), tau[cg.lgKw:])
	w := make([]field.Element, p.kh*p.kw)
	for t := range w {
		w[t].Mul(&eu[t/p.kw], &ev[t%p.kw])
	}
	return w
}

// axisA returns a(i) = Σ_u eq(τ_u, u)·[lo_u ≤ i < hi_u] along one axis, as a table over the
// padded output length, and its MLE at pt (the verifier's side).
func axisA(tau []field.Element, k, outLen, pad2, stride, dil, pad, inLen int, pt []field.Element) ([]field.Element, field.Element) {
	e := field.EqTable(make([]field.Element, 1<<len(tau)), tau)
	tab := make([]field.Element, pad2)
	var at field.Element
	for u := 0; u < k; u++ {
		lo, hi := tapRange(outLen, stride, dil, pad, inLen, u)
		for i := lo; i < hi; i++ {
			tab[i].Add(&tab[i], &e[u])
		}
		if pt != nil {
			m := intervalMLE(pt, lo, hi)
			m.Mul(&m, &e[u])
			at.Add(&at, &m)
		}
	}
	return tab, at
}

// aMLE is A~(pt) = [b<N][c<C]·a_h~·a_w~.
func (p *MaxPool) aMLE(cg convGeom, tau, pt []field.Element) field.Element {
	w, h, c, b := cg.outPoint(pt)
	_, ah := axisA(tau[cg.lgKw:], p.kh, cg.ho, 1<<cg.lgHo, p.a.StrideH, p.a.DilH, p.a.PadTop, cg.h, h)
	_, aw := axisA(tau[:cg.lgKw], p.kw, cg.wo, 1<<cg.lgWo, p.a.StrideW, p.a.DilW, p.a.PadLeft, cg.w, w)
	m := field.EqPrefixSum(b, uint64(cg.n))
	cm := field.EqPrefixSum(c, uint64(cg.c))
	m.Mul(&m, &cm)
	m.Mul(&m, &ah)
	m.Mul(&m, &aw)
	return m
}

// posDecoder maps a padded output index to (b, c, h, w).
func (cg convGeom) pos(i int64) (b, c, h, w int) {
	w = int(i & (1<<cg.lgWo - 1))
	h = int(i >> cg.lgWo & (1<<cg.lgHo - 1))
	c = int(i >> (cg.lgWo + cg.lgHo) & (1<<cg.lgC - 1))
	b = int(i >> (cg.lgWo + cg.lgHo + cg.lgC))
	return
}

// Prove proves the lookups, the zero product and the consistency with X; out holds empty
// slots (every output is advice).
func (p *MaxPool) Prove(pc *gkr.ProveCtx, out []gkr.Claim) ([]gkr.Claim, error) {
	if _, _, err := p.geom(pc.Graph); err != nil {
		return nil, err
	}
	claims, err := p.core.prove(pc)
	if err != nil {
		return nil, err
	}
	return p.protocol(pc.Party(), claims)
}

// Verify checks the kernel's messages and returns the claims on X and on the advice.
func (p *MaxPool) Verify(vc *gkr.VerifyCtx, out []gkr.Claim) ([]gkr.Claim, error) {
	if _, _, err := p.geom(vc.Graph); err != nil {
		return nil, err
	}
	claims, err := p.core.verify(vc)
	if err != nil {
		return nil, err
	}
	return p.protocol(vc.Party(), claims)
}

// protocol is the kernel's messages after the range lookups (lookupCore, which Prove and Verify
// run first and whose claims come in as claims), written once for both sides: the zero-product
// sumcheck, the tap point, S_X, and the two consistency sumchecks.
func (p *MaxPool) protocol(party *gkr.Party, claims []gkr.Claim) ([]gkr.Claim, error) {
	cg, ck, err := p.geom(party.Graph())
	if err != nil {
		return nil, err
	}
	pc := party.Prover()
	if pc != nil && pc.Budget() != nil {
		n := 3 * cg.planeLen() * field.Bytes
		if err := pc.Budget().Reserve("maxpool tables of "+p.name, n); err != nil {
			return nil, fmt.Errorf("node %s: %w", p.name, err)
		}
		defer pc.Budget().Release(n)
	}
	taps := p.kh * p.kw
	nPos := cg.lgN + cg.lgC + cg.lgHo + cg.lgWo
	size := int64(1) << nPos
	one := field.One()
	// 2. the zero product
	tau0 := party.Transcript().Challenges("maxpool/tau", nPos)
	sc := &sumcheck.Claim{NumVars: nPos, Gate: sumcheck.Product(taps + 1), Eq: []sumcheck.EqTerm{{Coeff: one, Point: tau0}}}
	r, fin, err := party.Sumcheck(sc, func() ([]field.Source, error) { return p.zeroCheckSources(pc, cg, size) })
	if err != nil {
		return nil, fmt.Errorf("node %s: zero product: %w", p.name, err)
	}
	dClaims, delta, tau, err := p.afterZeroCheck(cg, party.Transcript(), r, fin)
	if err != nil {
		return nil, err
	}
	// 3. consistency: S_X by conv's phase 2 at the tap point τ
	rw, rh, rc, rb := cg.outPoint(r)
	var plane, pred []field.Element
	m, err := party.Message("maxpool/sx", 1, func() ([]field.Element, error) {
		var err error
		if plane, err = ck.inputPlane(pc, cg, rc, rb); err != nil {
			return nil, err
		}
		pred = cg.planePredicate(ck, rh, rw, tau[cg.lgKw:], tau[:cg.lgKw])
		return []field.Element{field.InnerProduct(plane, pred)}, nil
	})
	if err != nil {
		return nil, err
	}
	sx := m[0]
	var sy field.Element
	sy.Add(&delta, &sx)
	scY := &sumcheck.Claim{NumVars: nPos, Gate: sumcheck.Product(2), Eq: []sumcheck.EqTerm{{Coeff: one, Point: r}}, Sum: sy}
	r2, fin2, err := party.Sumcheck(scY, func() ([]field.Source, error) {
		ysrc, err := pc.Source(p.y)
		if err != nil {
			return nil, err
		}
		ah, _ := axisA(tau[cg.lgKw:], p.kh, cg.ho, 1<<cg.lgHo, p.a.StrideH, p.a.DilH, p.a.PadTop, cg.h, nil)
		aw, _ := axisA(tau[:cg.lgKw], p.kw, cg.wo, 1<<cg.lgWo, p.a.StrideW, p.a.DilW, p.a.PadLeft, cg.w, nil)
		asrc := funcSource{n: size, fill: func(off int64, buf []field.Element) {
			for i := range buf {
				b, c, h, w := cg.pos(off + int64(i))
				if b < cg.n && c < cg.c {
					buf[i].Mul(&ah[h], &aw[w])
				} else {
					buf[i] = field.Element{}
				}
			}
		}}
		return []field.Source{ysrc, asrc}, nil
	})
	if err != nil {
		return nil, fmt.Errorf("node %s: consistency with Y: %w", p.name, err)
	}
	scX := &sumcheck.Claim{NumVars: cg.lgH + cg.lgW, Gate: sumcheck.Product(2), Sum: sx}
	r3, fin3, err := party.Sumcheck(scX, func() ([]field.Source, error) {
		return []field.Source{field.SliceSource(plane), field.SliceSource(pred)}, nil
	})
	if err != nil {
		return nil, fmt.Errorf("node %s: consistency with X: %w", p.name, err)
	}
	rest, err := p.finish(cg, ck, tau, r, r2, fin2, r3, fin3)
	if err != nil {
		return nil, err
	}
	return append(append(claims, dClaims...), rest...), nil
}

// zeroCheckSources are the zero-check's sources, all streamed: the real-output mask and, per
// tap, F_t = D_t + 1 − In_t computed on the fly from D_t's stream.
func (p *MaxPool) zeroCheckSources(pc *gkr.ProveCtx, cg convGeom, size int64) ([]field.Source, error) {
	taps := p.kh * p.kw
	lo := make([][2]int, taps) // per tap: the in-image h and w intervals [lo, hi)
	hi := make([][2]int, taps)
	for t := range lo {
		lo[t][0], hi[t][0] = tapRange(cg.ho, p.a.StrideH, p.a.DilH, p.a.PadTop, cg.h, t/p.kw)
		lo[t][1], hi[t][1] = tapRange(cg.wo, p.a.StrideW, p.a.DilW, p.a.PadLeft, cg.w, t%p.kw)
	}
	one := field.One()
	srcs := []field.Source{funcSource{n: size, fill: func(off int64, buf []field.Element) {
		for i := range buf {
			b, c, h, w := cg.pos(off + int64(i))
			if b < cg.n && c < cg.c && h < cg.ho && w < cg.wo {
				buf[i] = one
			} else {
				buf[i] = field.Element{}
			}
		}
	}}}
	for t := 0; t < taps; t++ {
		src, err := pc.Source(p.diffName(t))
		if err != nil {
			return nil, err
		}
		t := t
		srcs = append(srcs, mapSource{src: src, f: func(off int64, buf []field.Element) {
			for i := range buf {
				b, c, h, w := cg.pos(off + int64(i))
				in := b < cg.n && c < cg.c && h >= lo[t][0] && h < hi[t][0] && w >= lo[t][1] && w < hi[t][1]
				if !in {
					buf[i].Add(&buf[i], &one)
				}
			}
		}})
	}
	return srcs, nil
}

// afterZeroCheck checks the mask's final value, turns the F_t finals into claims on D_t, draws
// the tap point τ' and returns δ = Σ_t eq(τ',t)·D_t~(r).
func (p *MaxPool) afterZeroCheck(cg convGeom, tr *field.Transcript, r, fin []field.Element) ([]gkr.Claim, field.Element, []field.Element, error) {
	if m := cg.outMask(r); !m.Equal(&fin[0]) {
		return nil, field.Element{}, nil, fmt.Errorf("%w: node %s: the output mask's value does not match", gkr.ErrBadProof, p.name)
	}
	taps := p.kh * p.kw
	one := field.One()
	claims := make([]gkr.Claim, taps)
	for t := 0; t < taps; t++ {
		in := p.inMLE(cg, r, t)
		var d field.Element
		d.Sub(&fin[1+t], &one)
		d.Add(&d, &in)
		claims[t] = gkr.Claim{Tensor: p.diffName(t), Point: append([]field.Element(nil), r...), Value: d}
	}
	tau := tr.Challenges("maxpool/tap", cg.lgKh+cg.lgKw)
	var delta field.Element
	for t, w := range p.tapWeights(cg, tau) {
		var v field.Element
		v.Mul(&w, &claims[t].Value)
		delta.Add(&delta, &v)
	}
	return claims, delta, tau, nil
}

// finish checks the structured finals of the two consistency sumchecks and returns the claims
// on Y and X.
func (p *MaxPool) finish(cg convGeom, ck *Conv2D, tau, r, r2, fin2, r3, fin3 []field.Element) ([]gkr.Claim, error) {
	if a := p.aMLE(cg, tau, r2); !a.Equal(&fin2[1]) {
		return nil, fmt.Errorf("%w: node %s: the tap mask's value does not match", gkr.ErrBadProof, p.name)
	}
	rw, rh, rc, rb := cg.outPoint(r)
	s, err := cg.tapValue(ck, r3, rh, rw, tau[cg.lgKw:], tau[:cg.lgKw])
	if err != nil {
		return nil, err
	}
	if !s.Equal(&fin3[1]) {
		return nil, fmt.Errorf("%w: node %s: the window predicate's value does not match", gkr.ErrBadProof, p.name)
	}
	x := append(append(append([]field.Element{}, r3...), rc...), rb...)
	return []gkr.Claim{{Tensor: p.y, Point: r2, Value: fin2[0]}, {Tensor: p.x, Point: x, Value: fin3[0]}}, nil
}

// OutBound is |X|: the maximum is one of the inputs.
func (p *MaxPool) OutBound(g *gkr.Graph, in []*big.Int) (*big.Int, error) {
	return new(big.Int).Set(in[0]), nil
}

// Forward streams X plane by plane, writes Y and the tap differences, and counts the
// multiplicities (one int64 per table row and tap, in RAM).
func (p *MaxPool) Forward(fc *ForwardCtx) (err error) {
	cg, _, err := p.geom(fc.Graph)
	if err != nil {
		return err
	}
	taps := p.kh * p.kw
	wy, _, err := fc.create(p, p.y)
	if err != nil {
		return err
	}
	writers := []*tensorstore.Writer{wy}
	defer func() {
		if err != nil {
			for _, w := range writers {
				w.Abort()
			}
		}
	}()
	ys := []int{cg.n, cg.c, cg.ho, cg.wo}
	dBound := big.NewInt(1 << p.bits)
	for t := 0; t < taps; t++ {
		w, err := fc.Store.Create(p.diffName(t), ys, DTypeForBound(dBound), fc.Write)
		if err != nil {
			return fmt.Errorf("node %s: %w", p.name, err)
		}
		writers = append(writers, w)
		if fc.Bounds != nil {
			fc.Bounds[p.diffName(t)] = dBound
		}
	}
	release, err := fc.reserve("maxpool forward buffers of "+p.name, (int64(1)<<p.bits+int64(taps)*int64(cg.ho*cg.wo))*8)
	if err != nil {
		return err
	}
	defer release()
	mult := make([]int64, 1<<p.bits) // every tap's counts: the taps share one table
	diffs := make([][]int64, taps)
	for t := range diffs {
		diffs[t] = make([]int64, cg.ho*cg.wo)
	}
	lim := int64(1) << (p.bits - 1)
	err = poolPlanes(fc, p.x, cg, p.a, func(i int, plane []int64, rows, cols []axisRange, y []int64) error {
		for _, v := range plane {
			if v < -lim || v >= lim {
				return fmt.Errorf("input %q plane %d holds %d, outside the %d-bit range [%d, %d) the pool proves", p.x, i, v, p.bits, -lim, lim)
			}
		}
		for j := range y {
			y[j] = -1 << 62
		}
		for _, ru := range rows {
			for _, cv := range cols {
				for h := ru.lo; h < ru.hi; h++ {
					xrow := plane[(h*p.a.StrideH+ru.off)*cg.w:]
					for ww := cv.lo; ww < cv.hi; ww++ {
						y[h*cg.wo+ww] = max(y[h*cg.wo+ww], xrow[ww*p.a.StrideW+cv.off])
					}
				}
			}
		}
		for t := 0; t < taps; t++ {
			d := diffs[t]
			for j := range d {
				d[j] = 0
			}
			ru, cv := rows[t/p.kw], cols[t%p.kw]
			for h := ru.lo; h < ru.hi; h++ {
				xrow := plane[(h*p.a.StrideH+ru.off)*cg.w:]
				for ww := cv.lo; ww < cv.hi; ww++ {
					d[h*cg.wo+ww] = y[h*cg.wo+ww] - xrow[ww*p.a.StrideW+cv.off]
				}
			}
			for _, v := range d {
				mult[v]++
			}
			if err := writers[1+t].WriteInt64s(d); err != nil {
				return err
			}
		}
		return wy.WriteInt64s(y)
	})
	if err != nil {
		return fmt.Errorf("node %s: %w", p.name, err)
	}
	padded := int64(1) << (cg.lgN + cg.lgC + cg.lgHo + cg.lgWo)
	real := int64(cg.n * cg.c * cg.ho * cg.wo)
	mult[0] += (padded - real) * int64(taps)
	mb := big.NewInt(padded * int64(taps))
	w, err := fc.Store.Create(p.multName(), []int{1 << p.bits}, DTypeForBound(mb), fc.Write)
	if err != nil {
		return fmt.Errorf("node %s: %w", p.name, err)
	}
	writers = append(writers, w)
	if fc.Bounds != nil {
		fc.Bounds[p.multName()] = mb
	}
	if err := w.WriteInt64s(mult); err != nil {
		return fmt.Errorf("node %s: %w", p.name, err)
	}
	for _, w := range writers {
		if _, err := w.Commit(); err != nil {
			return fmt.Errorf("node %s: %w", p.name, err)
		}
	}
	writers = nil
	return nil
}

var _ Kernel = (*MaxPool)(nil)
