package kernels

import (
	"encoding/binary"
	"fmt"
	"math/big"
	"slices"

	"github.com/streamprove/streamprove/field"
	"github.com/streamprove/streamprove/gkr"
	"github.com/streamprove/streamprove/sumcheck"
)

// RequantFixedSpec are the public parameters of a fixed-point requantization (NewRequantFixed).
type RequantFixedSpec struct {
	// Multipliers holds M: one integer for the whole tensor, or one per index of Axis.
	Multipliers []int64
	// Axis is the channel axis of per-channel multipliers (negative counts from the end; the
	// default 0 with one multiplier is ignored, and scheduler graphs default to −1, the last).
	Axis int
	// Shift is n: the product is divided by 2^n (1 ≤ n ≤ 62).
	Shift int
	// ZeroPoint is added after rounding; it must lie in the output range.
	ZeroPoint int64
	// Bits is the output width (2..16); Unsigned selects [0, 2^Bits−1] instead of the signed range.
	Bits     int
	Unsigned bool
	// ReLU clamps the low end at ZeroPoint (a fused ReLU in the quantized domain).
	ReLU bool
	// QuotientBits sizes the saturation table: the rounded quotient round(x·M/2^n) may lie in
	// [−2^(q−1), 2^(q−1)) (beyond it Forward fails). 0: max(16, Bits+4).
	QuotientBits int
}

// RequantFixed is y = clamp(round_half_even(x·M / 2^n) + zp, lo, hi) with an integer multiplier M
// per tensor or per channel, n ≤ 62, a zero point zp and a fused ReLU (lo raised to zp): the
// requantization of real post-training-quantized models (ONNX QuantizeLinear after an integer
// matmul, TFLite's fixed-point multiplier). Ties round to even, as ONNX QuantizeLinear does.
//
// The proof. Let t = x·M + h with h = 2^(n−1) (M of x's channel; the mask keeps the padding 0).
// The forward pass writes a = ⌊t / 2^n⌋ and low = t − 2^n·a ∈ [0, 2^n) implicitly, as the limbs
// ℓ_j of low (low = Σ_j 2^(o_j)·ℓ_j, ℓ_j ∈ [0, 2^(L_j)), at most 16 bits each), the bit
// σ = [low ≠ 0] and the centred output y0 = y − zp. Rounding half to even is then
//
//	u = a − [σ = 0 ∧ a odd]
//
// (low = 0 means t/2^n − ½ = a − ½ exactly: a tie, which goes to the even one of a−1 and a; any
// other low gives the nearest integer a). Three kinds of lookup prove it:
//   - (a, y0, σ) in the clamp table: rows (a, clamp(a − [a odd]), 0) and (a, clamp(a), 1) for
//     a ∈ [−2^(q−1), 2^(q−1)), with a written as (t − Σ_j 2^(o_j)·ℓ_j)/2^n;
//   - (Σ_j ℓ_j, σ) in the table {(0, 0)} ∪ {(s, 1): s ≥ 1}: as the limbs are non-negative,
//     their sum is zero exactly when low is, so σ = [low ≠ 0] both ways;
//   - each ℓ_j in [0, 2^(L_j)) (with a single limb the second table range-checks it already).
//
// Soundness: the limbs make low an integer in [0, 2^n); the clamp table makes a an integer in
// its range, so t = 2^n·a + low holds over the integers (every term is far below the field's
// 254 bits: |t| < 2^126), which fixes a and low as ⌊t/2^n⌋ and t mod 2^n; the tables then fix σ
// and y0. Saturation is a column of the clamp table, so it is proven for every quotient in it.
//
// t is a virtual tensor: the lookup streams x and forms x·M + h·mask on the fly. Its claim at
// the lookup's point z is reduced to x: per tensor, x̃(z) = (t̃(z) − h·mask~(z))/M; per channel,
// by the degree-2 sumcheck Σ_i eq(z, i)·x_i·M̄_i = t̃(z) − h·mask~(z) with the broadcast vector
// M̄ as a virtual source, whose final value the verifier checks against M̃(z'_axis) computed
// from the list of multipliers (O(channels), nothing witness-sized). The output y = y0 + zp·mask
// is not committed: a claim on y at r becomes the claim ỹ0(r) = ỹ(r) − zp·mask~(r), so y may be
// an intermediate or a public output, and only y0, σ, the limbs and the multiplicities are
// advice.
type RequantFixed struct {
	name, x, y string
	spec       RequantFixedSpec
	lo, hi     int64 // y's range (after the ReLU)
	qbits      int
	limbs      []int // bits of each limb of low, least significant first
	tieBits    int
	core       lookupCore
	// cheatM, set only by the soundness tests, is the multipliers a cheating prover uses for
	// the virtual product (the verifier always uses spec.Multipliers).
	cheatM []int64
}

// NewRequantFixed returns the fixed-point requantization of x into y.
func NewRequantFixed(name, x, y string, s RequantFixedSpec) (*RequantFixed, error) {
	k := &RequantFixed{name: name, x: x, y: y, spec: s}
	s.Multipliers = slices.Clone(s.Multipliers)
	k.spec = s
	bad := func(f string, a ...any) error {
		return fmt.Errorf("%w: node %s: %s", gkr.ErrGraph, name, fmt.Sprintf(f, a...))
	}
	if len(s.Multipliers) == 0 {
		return nil, bad("no multiplier")
	}
	for i, m := range s.Multipliers {
		if m < 1 || m >= 1<<62 {
			return nil, bad("multiplier %d is %d (want 1 ≤ M < 2^62)", i, m)
		}
	}
	if s.Shift < 1 || s.Shift > 62 {
		return nil, bad("shift %d (want 1..62)", s.Shift)
	}
	if s.Bits < 2 || s.Bits > 16 {
		return nil, bad("%d output bits (want 2..16)", s.Bits)
	}
	if s.Unsigned {
		k.lo, k.hi = 0, int64(1)<<s.Bits-1
	} else {
		k.lo, k.hi = -(int64(1) << (s.Bits - 1)), int64(1)<<(s.Bits-1)-1
	}
	if s.ZeroPoint < k.lo || s.ZeroPoint > k.hi {
		return nil, bad("zero point %d outside the output range [%d, %d]", s.ZeroPoint, k.lo, k.hi)
	}
	if s.ReLU {
		k.lo = s.ZeroPoint
	}
	k.qbits = s.QuotientBits
	if k.qbits == 0 {
		k.qbits = max(16, s.Bits+4)
	}
	// The clamp table has 2^(q+1) rows and must hold y0's whole range [lo − zp, hi − zp].
	H := int64(1) << (k.qbits - 1)
	if k.qbits < 2 || k.qbits+1 > maxLookupBits || k.lo-s.ZeroPoint < -H || k.hi-s.ZeroPoint >= H {
		return nil, bad("quotient table of %d bits (want 2..%d, holding the output range)", k.qbits, maxLookupBits-1)
	}
	m := (s.Shift + 15) / 16
	L := (s.Shift + m - 1) / m
	for rest := s.Shift; rest > 0; rest -= L {
		k.limbs = append(k.limbs, min(L, rest))
	}
	var smax int64
	for _, b := range k.limbs {
		smax += int64(1)<<b - 1
	}
	k.tieBits = max(1, log2i(int(smax+1)))
	k.build()
	return k, nil
}

// Advice and virtual tensor names, derived from the node name.
func (k *RequantFixed) tName() string            { return k.name + "/t" }
func (k *RequantFixed) y0Name() string           { return k.name + "/y0" }
func (k *RequantFixed) nzName() string           { return k.name + "/nz" }
func (k *RequantFixed) limbName(j int) string    { return fmt.Sprintf("%s/limb%d", k.name, j) }
func (k *RequantFixed) multName(A int) string    { return fmt.Sprintf("%s/mult%d", k.name, A) }
func (k *RequantFixed) zeroPoint() field.Element { return field.NewInt(k.spec.ZeroPoint) }
func (k *RequantFixed) half() field.Element      { return field.NewInt(int64(1) << (k.spec.Shift - 1)) }

// build fills the lookup core: tensors t, y0, σ, ℓ_0 … ℓ_{m−1}.
func (k *RequantFixed) build() {
	n := k.spec.Shift
	one := field.One()
	var inv field.Element
	inv.SetUint64(1 << uint(n))
	inv.Inverse(&inv)
	k.core = lookupCore{name: k.name, tensors: []string{k.tName(), k.y0Name(), k.nzName()}}
	a := []linTerm{{0, inv}} // a = (t − Σ 2^(o_j) ℓ_j) / 2^n
	var sum []linTerm        // Σ ℓ_j
	off := 0
	for j, b := range k.limbs {
		k.core.tensors = append(k.core.tensors, k.limbName(j))
		var c field.Element
		c.SetUint64(1 << uint(off))
		c.Mul(&c, &inv)
		c.Neg(&c)
		a = append(a, linTerm{3 + j, c})
		sum = append(sum, linTerm{3 + j, one})
		off += b
	}
	zp := k.spec.ZeroPoint
	k.core.args = []lookupArg{
		{tab: clampTieTable(k.qbits, k.lo-zp, k.hi-zp), cols: [][]linTerm{a, {{1, one}}, {{2, one}}}, mult: k.multName(0)},
		{tab: nonZeroTable(k.tieBits), cols: [][]linTerm{sum, {{2, one}}}, mult: k.multName(1)},
	}
	if len(k.limbs) > 1 {
		// Limbs of one width share a range table and its multiplicities (lookupCore.groups).
		tabs := map[int]*lookupTable{}
		for j, b := range k.limbs {
			if tabs[b] == nil {
				tabs[b] = rangeTable(0, int64(1)<<b)
			}
			k.core.args = append(k.core.args, lookupArg{tab: tabs[b],
				cols: [][]linTerm{{{3 + j, one}}}, mult: fmt.Sprintf("%s/mult_limb%d", k.name, b)})
		}
	}
}

// clampTieTable holds, at row j = (a + 2^(q−1)) + 2^q·σ, the tuple (a, y0, σ) with
// y0 = clamp(a, lo, hi) for σ = 1 and y0 = clamp(a − [a odd], lo, hi) for σ = 0, a ∈ [−2^(q−1),
// 2^(q−1)) (lo ≤ 0 ≤ hi). As 2⌊a/2⌋ is monotone, clamp(a − [a odd]) = clamp(a) − [a odd] on
// lo < a ≤ hi and clamp(a) elsewhere, so y0 is a piecewise-linear column minus the odd rows of one
// range of the σ = 0 half: every column's MLE is O(q²) for the verifier. The all-zero row is
// (0, 0, 0) at j = 2^(q−1).
func clampTieTable(q int, lo, hi int64) *lookupTable {
	H := int64(1) << (q - 1)
	half := uint64(1) << q
	a := pwColumn{{lo: 0, hi: half, c0: -H, c1: 1}, {lo: half, hi: 2 * half, c0: -H - int64(half), c1: 1}}
	var y pwColumn
	for _, base := range []uint64{0, half} {
		jlo, jhi := base+uint64(lo+H), base+uint64(hi+H+1)
		c0 := -H - int64(base)
		if jlo > base {
			y = append(y, segment{lo: base, hi: jlo, c0: lo})
		}
		y = append(y, segment{lo: jlo, hi: jhi, c0: c0, c1: 1})
		if jhi < base+half {
			y = append(y, segment{lo: jhi, hi: base + half, c0: hi})
		}
	}
	odd := oddColumn{lo: uint64(lo + 1 + H), hi: uint64(hi + 1 + H), coef: -1}
	return &lookupTable{logSize: q + 1, cols: []tableColumn{a, sumColumn{y, odd}, bitColumn(q)}, zeroRow: uint64(H)}
}

// nonZeroTable holds (s, [s ≠ 0]) at row s of 2^T.
func nonZeroTable(T int) *lookupTable {
	size := uint64(1) << T
	s := pwColumn{{lo: 0, hi: size, c1: 1}}
	nz := pwColumn{{lo: 0, hi: 1}, {lo: 1, hi: size, c0: 1}}
	return &lookupTable{logSize: T, cols: []tableColumn{s, nz}, zeroRow: 0}
}

// oddColumn is coef·[j odd] on rows [lo, hi) and 0 elsewhere. Odd j = 2j'+1 lies in [lo, hi)
// exactly when j' ∈ [⌊lo/2⌋, ⌊hi/2⌋), so its MLE is coef·r_0·(P(r', ⌊hi/2⌋) − P(r', ⌊lo/2⌋))
// with P the eq prefix sum over the other variables r'.
type oddColumn struct {
	lo, hi uint64
	coef   int64
}

func (c oddColumn) at(j uint64) int64 {
	if j >= c.lo && j < c.hi && j&1 == 1 {
		return c.coef
	}
	return 0
}

func (c oddColumn) mle(r []field.Element) field.Element {
	p := field.EqPrefixSum(r[1:], c.hi/2)
	q := field.EqPrefixSum(r[1:], c.lo/2)
	p.Sub(&p, &q)
	p.Mul(&p, &r[0])
	co := field.NewInt(c.coef)
	p.Mul(&p, &co)
	return p
}

func (c oddColumn) describe() []byte {
	b := []byte("odd")
	b = binary.BigEndian.AppendUint64(b, c.lo)
	b = binary.BigEndian.AppendUint64(b, c.hi)
	return binary.BigEndian.AppendUint64(b, uint64(c.coef))
}

// sumColumn is the sum of its columns.
type sumColumn []tableColumn

func (c sumColumn) at(j uint64) int64 {
	var s int64
	for _, p := range c {
		s += p.at(j)
	}
	return s
}

func (c sumColumn) mle(r []field.Element) field.Element {
	var s field.Element
	for _, p := range c {
		v := p.mle(r)
		s.Add(&s, &v)
	}
	return s
}

func (c sumColumn) describe() []byte {
	b := []byte("sum")
	for _, p := range c {
		d := p.describe()
		b = binary.BigEndian.AppendUint32(b, uint32(len(d)))
		b = append(b, d...)
	}
	return b
}

// Name returns the node name.
func (k *RequantFixed) Name() string { return k.name }

// Inputs returns x.
func (k *RequantFixed) Inputs() []string { return []string{k.x} }

// Outputs returns y, then the advice tensors: y0, σ, the limbs and the multiplicities.
func (k *RequantFixed) Outputs() []string {
	out := append([]string{k.y}, k.core.tensors[1:]...)
	names, _ := k.core.multNames()
	return append(out, names...)
}

// OutputInfos returns the advice tensors' infos (every output but y, all role Advice) for an x
// of shape xShape: y0, σ and the limbs have x's shape, a multiplicity tensor one element per
// table row.
func (k *RequantFixed) OutputInfos(xShape []int) []gkr.TensorInfo {
	var out []gkr.TensorInfo
	for _, name := range k.core.tensors[1:] {
		out = append(out, gkr.TensorInfo{Name: name, Shape: slices.Clone(xShape), Role: gkr.Advice})
	}
	names, lens := k.core.multNames()
	for i, m := range names {
		out = append(out, gkr.TensorInfo{Name: m, Shape: []int{lens[i]}, Role: gkr.Advice})
	}
	return out
}

// Declare returns the advice tensors' infos given x's shape in g.
func (k *RequantFixed) Declare(g *gkr.Graph) ([]gkr.TensorInfo, error) {
	ti, ok := g.Tensors[k.x]
	if !ok {
		return nil, fmt.Errorf("%w: node %s: input %q is not declared", gkr.ErrGraph, k.name, k.x)
	}
	if _, err := k.axis(ti.Shape); err != nil {
		return nil, err
	}
	return k.OutputInfos(ti.Shape), nil
}

// axis resolves the channel axis against x's shape (−1 for a per-tensor multiplier).
func (k *RequantFixed) axis(shape []int) (int, error) {
	if len(k.spec.Multipliers) == 1 {
		return -1, nil
	}
	a := k.spec.Axis
	if a < 0 {
		a += len(shape)
	}
	if a < 0 || a >= len(shape) {
		return 0, fmt.Errorf("%w: node %s: axis %d for an input of shape %v", gkr.ErrGraph, k.name, k.spec.Axis, shape)
	}
	if shape[a] != len(k.spec.Multipliers) {
		return 0, fmt.Errorf("%w: node %s: %d multipliers for axis %d of size %d", gkr.ErrGraph, k.name, len(k.spec.Multipliers), a, shape[a])
	}
	return a, nil
}

// Describe encodes the op, its parameters, the multipliers and the tables for the graph digest.
func (k *RequantFixed) Describe() []byte {
	s := k.spec
	b := describe("requant_fixed/1", int64(s.Shift), s.ZeroPoint, k.lo, k.hi, int64(k.qbits), int64(s.Axis), int64(len(s.Multipliers)))
	for _, m := range s.Multipliers {
		b = binary.BigEndian.AppendUint64(b, uint64(m))
	}
	for _, a := range k.core.args {
		b = append(b, a.tab.describe()...)
	}
	return b
}

// check validates roles and shapes: y is not advice; every other output is; x's shape fits.
func (k *RequantFixed) check(g *gkr.Graph) (xi *gkr.TensorInfo, axis int, err error) {
	xi, ok := g.Tensors[k.x]
	if !ok {
		return nil, 0, fmt.Errorf("%w: node %s: input %q is not declared", gkr.ErrGraph, k.name, k.x)
	}
	if axis, err = k.axis(xi.Shape); err != nil {
		return nil, 0, err
	}
	for i, o := range k.Outputs() {
		ti, ok := g.Tensors[o]
		if !ok {
			return nil, 0, fmt.Errorf("%w: node %s: output %q is not declared", gkr.ErrGraph, k.name, o)
		}
		if (ti.Role == gkr.Advice) != (i > 0) {
			return nil, 0, fmt.Errorf("%w: node %s: output %q is %s", gkr.ErrGraph, k.name, o, ti.Role)
		}
		if i == 0 && !slices.Equal(ti.Shape, xi.Shape) {
			return nil, 0, fmt.Errorf("%w: node %s: output %q has shape %v, input %v", gkr.ErrGraph, k.name, o, ti.Shape, xi.Shape)
		}
	}
	return xi, axis, nil
}

// mults returns the multipliers as field elements.
func (k *RequantFixed) mults() []field.Element { return fieldInts(k.spec.Multipliers) }

func fieldInts(v []int64) []field.Element {
	out := make([]field.Element, len(v))
	for i, m := range v {
		out[i] = field.NewInt(m)
	}
	return out
}

// view returns the graph with the virtual tensor t declared.
func (k *RequantFixed) view(g *gkr.Graph, xi *gkr.TensorInfo) (*gkr.Graph, error) {
	return graphWith(g, k.name, gkr.TensorInfo{Name: k.tName(), Shape: xi.Shape, Role: gkr.Intermediate})
}

// Prove proves the lookups, reduces the claim on the virtual t to x, and the claim on y to y0.
// The prover's view of the graph serves t = x·M (+ half) as a virtual tensor streamed from x.
func (k *RequantFixed) Prove(pc *gkr.ProveCtx, out []gkr.Claim) ([]gkr.Claim, error) {
	xi, axis, err := k.check(pc.Graph)
	if err != nil {
		return nil, err
	}
	g, err := k.view(pc.Graph, xi)
	if err != nil {
		return nil, err
	}
	xs, err := pc.Source(k.x)
	if err != nil {
		return nil, err
	}
	tsrc := newAxisSource(xs, xi.Shape, max(axis, 0), k.proverMults(), k.half())
	sub := *pc
	sub.Graph = g
	sub.Witness = &viewWitness{Witness: pc.Witness, virt: map[string]field.Source{k.tName(): tsrc}}
	return k.protocol(sub.Party(), xi, axis, out)
}

// Verify checks the lookups and the reductions and returns the claims Prove returned.
func (k *RequantFixed) Verify(vc *gkr.VerifyCtx, out []gkr.Claim) ([]gkr.Claim, error) {
	xi, axis, err := k.check(vc.Graph)
	if err != nil {
		return nil, err
	}
	g, err := k.view(vc.Graph, xi)
	if err != nil {
		return nil, err
	}
	sub := *vc
	sub.Graph = g
	return k.protocol(sub.Party(), xi, axis, out)
}

// proverMults are the multipliers the prover streams: the node's, or a cheating test's.
func (k *RequantFixed) proverMults() []field.Element {
	if k.cheatM != nil {
		return fieldInts(k.cheatM)
	}
	return k.mults()
}

// protocol is the kernel's one description of its messages, run on the graph with the virtual t
// declared: the lookups; then the claim on t becomes one on x, directly for one multiplier or
// by a sumcheck of x·M_bcast (whose M factor the verifier evaluates) per channel.
func (k *RequantFixed) protocol(p *gkr.Party, xi *gkr.TensorInfo, axis int, out []gkr.Claim) ([]gkr.Claim, error) {
	claims, err := k.core.protocol(p, nil)
	if err != nil {
		return nil, err
	}
	tc, rest := k.splitT(claims)
	target := k.tTarget(xi, tc)
	var xc gkr.Claim
	if axis < 0 {
		xc = k.perTensorX(tc, target)
	} else {
		gate, _ := sumcheck.NewPoly(2, []sumcheck.Term{{Coeff: field.One(), Vars: []int{0, 1}}})
		sc := &sumcheck.Claim{NumVars: len(tc.Point), Gate: gate,
			Eq: []sumcheck.EqTerm{{Coeff: field.One(), Point: tc.Point}}, Sum: target}
		point, finals, err := p.Sumcheck(sc, func() ([]field.Source, error) {
			xs, err := p.Prover().Source(k.x)
			if err != nil {
				return nil, err
			}
			return []field.Source{xs, newAxisSource(nil, xi.Shape, axis, k.proverMults(), field.Element{})}, nil
		})
		if err != nil {
			return nil, fmt.Errorf("node %s: per-channel product: %w", k.name, err)
		}
		if p.Verifying() {
			if want := axisMLE(xi.Shape, axis, k.mults(), point); !finals[1].Equal(&want) {
				return nil, fmt.Errorf("%w: node %s: the broadcast multipliers' value is wrong", gkr.ErrBadProof, k.name)
			}
		}
		xc = gkr.Claim{Tensor: k.x, Point: point, Value: finals[0]}
	}
	return append(append(rest, xc), k.y0Claim(xi, out[0])), nil
}

// splitT separates the claim on the virtual t from the others.
func (k *RequantFixed) splitT(cs []gkr.Claim) (gkr.Claim, []gkr.Claim) {
	var t gkr.Claim
	var rest []gkr.Claim
	for _, c := range cs {
		if c.Tensor == k.tName() {
			t = c
		} else {
			rest = append(rest, c)
		}
	}
	return t, rest
}

// tTarget is t̃(z) − h·mask~(z): the value of the product x·M̄ at the claim's point.
func (k *RequantFixed) tTarget(xi *gkr.TensorInfo, tc gkr.Claim) field.Element {
	m := maskMLE(xi.Shape, tc.Point)
	h := k.half()
	m.Mul(&m, &h)
	var v field.Element
	v.Sub(&tc.Value, &m)
	return v
}

// perTensorX is the claim x̃(z) = target / M for a per-tensor multiplier.
func (k *RequantFixed) perTensorX(tc gkr.Claim, target field.Element) gkr.Claim {
	inv := field.NewInt(k.spec.Multipliers[0])
	inv.Inverse(&inv)
	target.Mul(&target, &inv)
	return gkr.Claim{Tensor: k.x, Point: tc.Point, Value: target}
}

// y0Claim turns the claim ỹ(r) = v into ỹ0(r) = v − zp·mask~(r).
func (k *RequantFixed) y0Claim(xi *gkr.TensorInfo, c gkr.Claim) gkr.Claim {
	m := maskMLE(xi.Shape, c.Point)
	zp := k.zeroPoint()
	m.Mul(&m, &zp)
	var v field.Element
	v.Sub(&c.Value, &m)
	return gkr.Claim{Tensor: k.y0Name(), Point: c.Point, Value: v}
}

// Estimate is EstimateReaders with every reader sized for a tensor in chunks of 2^16.
func (k *RequantFixed) Estimate(g *gkr.Graph) gkr.Estimate {
	return k.EstimateReaders(g, defaultReaders, 0)
}

// EstimateReaders: as a lookup over the advice tensors plus the virtual t, which reads x (and,
// per channel, one degree-2 sumcheck over x and the broadcast multipliers); MinBytes is the
// larger least working set of the two steps, counting their readers.
func (k *RequantFixed) EstimateReaders(g *gkr.Graph, streamBytes ReaderSizes, workers int) gkr.Estimate {
	ti, ok := g.Tensors[k.x]
	if !ok {
		return gkr.Estimate{}
	}
	nv := ti.NumVars()
	n := int64(1) << nv
	sizes := func(name string, asField bool) int64 {
		if name == k.tName() {
			return streamBytes(k.x, asField) // t = x·M̄ is read through x
		}
		return streamBytes(name, asField)
	}
	least, keep, layers := k.core.working(nv, sizes, workers)
	nt, trees := int64(len(k.core.tensors)), int64(len(k.core.args))
	est := gkr.Estimate{StreamBytes: (2*nt + 6*trees) * n * 32}
	if len(k.spec.Multipliers) > 1 {
		sc := sumcheckLeast([]string{k.x}, 2, streamBytes, workers)
		least, keep = max(least, sc), max(keep, sc)
		est.StreamBytes += 2 * n * 32
	}
	est.MinBytes, est.TableBytes = least, layers+keep-least
	return est
}

// OutBound is the larger magnitude of y's range.
func (k *RequantFixed) OutBound(g *gkr.Graph, in []*big.Int) (*big.Int, error) {
	return big.NewInt(max(-k.lo, k.hi)), nil
}

var _ Kernel = (*RequantFixed)(nil)
