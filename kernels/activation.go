package kernels

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/big"
	"slices"

	"github.com/streamprove/streamprove/field"
	"github.com/streamprove/streamprove/gkr"
	"github.com/streamprove/streamprove/tensorstore"
)

// Activation is a smooth elementwise non-linearity on fixed-point integers, proven by one LogUp
// tuple lookup (x, y) into the table {(a, f(a)) : a ∈ [−2^(bits−1), 2^(bits−1))} with
//
//	f(a) = round(F(a / 2^frac) · 2^frac)   (round half away from zero)
//
// for F = SiLU (v·σ(v)), GELU (erf form, 0.5·v·(1 + erf(v/√2))), GELU's tanh form, tanh, or the
// logistic sigmoid σ.
// Input and output share the scale 2^frac; the error against the real function is at most half
// an output unit, 2^−(frac+1), on every input the table covers, and an input outside the table
// is refused (by the forward pass, and by the lookup in the proof). SwiGLU is silu(a) followed by
// the elementwise mul with b.
//
// The table's f column has no closed-form MLE: the verifier evaluates it directly, one pass over
// its 2^bits values (bits ≤ 16: 2^16 multiplications, a few milliseconds). Like every lookup,
// the output y and the multiplicities are advice tensors (committed in the proof).
//
// Zero padding: SiLU, GELU and tanh have F(0) = 0, so the table holds (0, 0) (its zero row) and
// the padding of x, counted there, forces y's padding to zero. The sigmoid has σ(0) = ½: its
// table holds the centred g(a) = f(a) − f(0), which is 0 at a = 0, and the looked-up advice is
// z = g(x) (name "NODE/centered"), zero on the padding like any lookup output. The output y is
// then not advice but y = z + f(0)·mask, mask the indicator of y's real positions, and a claim
// ỹ(r) = v becomes the claim z̃(r) = v − f(0)·mask~(r) (mask~ in closed form, O(log n)): no
// message, and y, carrying ordinary claims, may be a public output or feed any kernel.
type Activation struct {
	name string
	fn   string
	x, y string
	bits int
	frac int
	off  int64 // f(0): non-zero only for the sigmoid, whose advice is the centred z
	core lookupCore
}

// activationFuncs are the functions an Activation can compute; each but the sigmoid has F(0) = 0.
var activationFuncs = map[string]func(v float64) float64{
	"sigmoid": func(v float64) float64 { return 1 / (1 + math.Exp(-v)) },
	"silu":    func(v float64) float64 { return v / (1 + math.Exp(-v)) },
	"gelu":    func(v float64) float64 { return 0.5 * v * (1 + math.Erf(v/math.Sqrt2)) },
	"gelu_tanh": func(v float64) float64 {
		return 0.5 * v * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(v+0.044715*v*v*v)))
	},
	"tanh": math.Tanh,
}

// ActivationValue is the table's value for fn at x: round(F(x/2^frac)·2^frac), rounding half
// away from zero (an importer's integer forward pass computes exactly what the kernel proves).
func ActivationValue(fn string, x int64, frac int) (int64, error) {
	F, ok := activationFuncs[fn]
	if !ok {
		return 0, fmt.Errorf("unknown activation %q", fn)
	}
	scale := math.Ldexp(1, frac)
	return int64(math.Round(F(float64(x)/scale) * scale)), nil
}

// maxActivationBits bounds the table (and the verifier's pass over it) at 2^16 rows.
const maxActivationBits = 16

// NewActivation returns y = f(x) for fn in silu, gelu, gelu_tanh, tanh, sigmoid, over inputs of
// bits signed bits at scale 2^frac.
func NewActivation(name, fn, x, y string, bits, frac int) (*Activation, error) {
	F, ok := activationFuncs[fn]
	if !ok {
		return nil, fmt.Errorf("%w: node %s: unknown activation %q", gkr.ErrGraph, name, fn)
	}
	if bits < 2 || bits > maxActivationBits || frac < 0 || frac > bits-2 {
		return nil, fmt.Errorf("%w: node %s: %d bits with %d fraction bits (want 2 ≤ bits ≤ %d, 0 ≤ frac ≤ bits−2)", gkr.ErrGraph, name, bits, frac, maxActivationBits)
	}
	a := &Activation{name: name, fn: fn, x: x, y: y, bits: bits, frac: frac}
	a.off = int64(math.Round(F(0) * math.Ldexp(1, frac)))
	tab := activationTable(fn, F, bits, frac, a.off)
	one := field.One()
	a.core = lookupCore{name: name, tensors: []string{x, a.lookedUp()},
		args: []lookupArg{{tab: tab, cols: [][]linTerm{{{0, one}}, {{1, one}}}, mult: a.multName()}}}
	return a, nil
}

func (a *Activation) multName() string { return a.name + "/mult" }

// lookedUp is the tensor the lookup reads beside x: y itself, or the sigmoid's centred z.
func (a *Activation) lookedUp() string {
	if a.off != 0 {
		return a.name + "/centered"
	}
	return a.y
}

// activationTable holds (a, f(a) − off) at row j = a + 2^(bits−1), off = f(0).
func activationTable(fn string, F func(float64) float64, bits, frac int, off int64) *lookupTable {
	H := int64(1) << uint(bits-1)
	size := uint64(1) << uint(bits)
	vals := make([]int64, size)
	scale := math.Ldexp(1, frac)
	for j := range vals {
		v := float64(int64(j)-H) / scale
		vals[j] = int64(math.Round(F(v)*scale)) - off
	}
	vals[H] = 0 // f(0) − off = 0 exactly
	return &lookupTable{logSize: bits, zeroRow: uint64(H), cols: []tableColumn{
		pwColumn{{lo: 0, hi: size, c0: -H, c1: 1}},
		&denseColumn{vals: vals, tag: fmt.Sprintf("%s/%d/%d", fn, bits, frac)},
	}}
}

// denseColumn is a column given by its values; its MLE is evaluated with one pass over them.
type denseColumn struct {
	vals []int64
	tag  string
}

func (c *denseColumn) at(j uint64) int64 { return c.vals[j] }

func (c *denseColumn) mle(r []field.Element) field.Element {
	eq := field.EqTable(make([]field.Element, len(c.vals)), r)
	var acc field.Element
	for j, v := range c.vals {
		if v == 0 {
			continue
		}
		x := field.NewInt(v)
		x.Mul(&x, &eq[j])
		acc.Add(&acc, &x)
	}
	return acc
}

func (c *denseColumn) describe() []byte {
	b := append([]byte("dense"), c.tag...)
	return binary.BigEndian.AppendUint32(b, uint32(len(c.vals)))
}

// Name returns the node name.
func (a *Activation) Name() string { return a.name }

// Inputs returns x.
func (a *Activation) Inputs() []string { return []string{a.x} }

// Outputs returns y and the multiplicities (both advice), and for the sigmoid its centred z.
func (a *Activation) Outputs() []string {
	if a.off != 0 {
		return []string{a.y, a.lookedUp(), a.multName()}
	}
	return []string{a.y, a.multName()}
}

// OutputInfos returns the advice outputs' infos for an input of shape xShape: y and the
// multiplicities, or for the sigmoid z and the multiplicities (its y is an ordinary tensor).
func (a *Activation) OutputInfos(xShape []int) []gkr.TensorInfo {
	return []gkr.TensorInfo{
		{Name: a.lookedUp(), Shape: slices.Clone(xShape), Role: gkr.Advice},
		{Name: a.multName(), Shape: []int{1 << a.bits}, Role: gkr.Advice},
	}
}

// Declare returns OutputInfos for x's shape in g.
func (a *Activation) Declare(g *gkr.Graph) ([]gkr.TensorInfo, error) {
	ti, ok := g.Tensors[a.x]
	if !ok {
		return nil, fmt.Errorf("%w: node %s: input %q is not declared", gkr.ErrGraph, a.name, a.x)
	}
	return a.OutputInfos(ti.Shape), nil
}

// Describe encodes the op and its table for the graph digest.
func (a *Activation) Describe() []byte {
	b := describe("activation/1:"+a.fn, int64(a.bits), int64(a.frac))
	return append(b, a.core.args[0].tab.describe()...)
}

func (a *Activation) checkRoles(g *gkr.Graph) error {
	for _, o := range a.Outputs() {
		ti, ok := g.Tensors[o]
		if !ok {
			return fmt.Errorf("%w: node %s: output %q is not declared", gkr.ErrGraph, a.name, o)
		}
		switch {
		case o == a.y && a.off != 0:
			if ti.Role != gkr.Intermediate && ti.Role != gkr.Output {
				return fmt.Errorf("%w: node %s: output %q is %s; the sigmoid's output is an intermediate or a public output", gkr.ErrGraph, a.name, o, ti.Role)
			}
		case ti.Role != gkr.Advice:
			return fmt.Errorf("%w: node %s: output %q is %s; a lookup's outputs must be advice tensors", gkr.ErrGraph, a.name, o, ti.Role)
		}
	}
	return nil
}

// centred turns the claims on the sigmoid's y into claims on its advice z = y − f(0)·mask.
func (a *Activation) centred(g *gkr.Graph, out []gkr.Claim) []gkr.Claim {
	if a.off == 0 {
		return nil
	}
	shape := g.Tensors[a.y].Shape
	cs := make([]gkr.Claim, 0, len(out))
	off := field.NewInt(a.off)
	for _, c := range out {
		if c.Tensor != a.y {
			continue
		}
		m := maskMLE(shape, c.Point)
		m.Mul(&m, &off)
		v := c.Value
		v.Sub(&v, &m)
		cs = append(cs, gkr.Claim{Tensor: a.lookedUp(), Point: c.Point, Value: v})
	}
	return cs
}

// Prove proves the lookup; every output is advice but the sigmoid's y, whose claims become
// claims on its centred advice.
func (a *Activation) Prove(pc *gkr.ProveCtx, out []gkr.Claim) ([]gkr.Claim, error) {
	if err := a.checkRoles(pc.Graph); err != nil {
		return nil, err
	}
	cs, err := a.core.prove(pc)
	return append(cs, a.centred(pc.Graph, out)...), err
}

// Verify checks the lookup and returns the claims on x, the looked-up tensor and the
// multiplicities (and for the sigmoid, the claims on z that y's claims become).
func (a *Activation) Verify(vc *gkr.VerifyCtx, out []gkr.Claim) ([]gkr.Claim, error) {
	if err := a.checkRoles(vc.Graph); err != nil {
		return nil, err
	}
	cs, err := a.core.verify(vc)
	return append(cs, a.centred(vc.Graph, out)...), err
}

// Estimate is a lookup's: chunk buffers, the tree layers when they fit, x and y read twice.
func (a *Activation) Estimate(g *gkr.Graph) gkr.Estimate {
	ti, ok := g.Tensors[a.x]
	if !ok {
		return gkr.Estimate{}
	}
	n := int64(1) << ti.NumVars()
	return gkr.Estimate{MinBytes: 10*16*32 + 8<<a.bits, TableBytes: 3 * n * 32, StreamBytes: 10 * n * 32}
}

// OutBound is the largest |f(a)| of the table (f = the centred g + f(0)).
func (a *Activation) OutBound(g *gkr.Graph, in []*big.Int) (*big.Int, error) {
	return big.NewInt(a.bound(a.off)), nil
}

// bound is the largest |g(a) + off| over the table's column g.
func (a *Activation) bound(off int64) int64 {
	var m int64
	for _, v := range a.core.args[0].tab.cols[1].(*denseColumn).vals {
		m = max(m, v+off, -(v + off))
	}
	return m
}

// Forward streams x once, writes y = f(x) and the multiplicities (one int64 per table row in
// RAM). An input outside the table fails the pass, naming the node, the element and the value.
func (a *Activation) Forward(fc *ForwardCtx) (err error) {
	g := fc.Graph
	if err := a.checkRoles(g); err != nil {
		return err
	}
	xi := g.Tensors[a.x]
	n, padded := xi.Len(), int64(1)<<xi.NumVars()
	tab := a.core.args[0].tab
	vals := tab.cols[1].(*denseColumn).vals
	c := fc.chunk()
	release, err := fc.reserve("forward of "+a.name, 8*int64(len(vals))+3*int64(c)*8+2*int64(c)*32)
	if err != nil {
		return err
	}
	defer release()
	b := big.NewInt(a.bound(a.off))
	bz := big.NewInt(a.bound(0))
	if fc.Bounds != nil {
		fc.Bounds[a.y] = b
		fc.Bounds[a.multName()] = big.NewInt(padded)
		if a.off != 0 {
			fc.Bounds[a.lookedUp()] = bz
		}
	}
	wy, err := fc.Store.Create(a.y, xi.Shape, DTypeForBound(b), fc.Write)
	if err != nil {
		return fmt.Errorf("node %s: %w", a.name, err)
	}
	defer func() {
		if err != nil {
			wy.Abort()
		}
	}()
	// the sigmoid writes its centred advice z beside y
	var wz *tensorstore.Writer
	if a.off != 0 {
		if wz, err = fc.Store.Create(a.lookedUp(), xi.Shape, DTypeForBound(bz), fc.Write); err != nil {
			return fmt.Errorf("node %s: %w", a.name, err)
		}
		defer func() {
			if err != nil {
				wz.Abort()
			}
		}()
	}
	mult := make([]int64, len(vals))
	next, done, err := openInt64s(fc.Store, a.x)
	if err != nil {
		return fmt.Errorf("node %s: %w", a.name, err)
	}
	defer done()
	H := int64(1) << uint(a.bits-1)
	xs, ys, zs := make([]int64, c), make([]int64, c), make([]int64, c)
	for off := int64(0); off < n; off += int64(c) {
		m := int(min(int64(c), n-off))
		if err := next(xs[:m]); err != nil {
			return fmt.Errorf("node %s: input %q at %d: %w", a.name, a.x, off, err)
		}
		for i, x := range xs[:m] {
			if x < -H || x >= H {
				return fmt.Errorf("node %s: input %q element %d is %d, outside the %d-bit range [%d, %d) the %s table proves (requantize first)", a.name, a.x, off+int64(i), x, a.bits, -H, H, a.fn)
			}
			mult[x+H]++
			zs[i] = vals[x+H]
			ys[i] = zs[i] + a.off
		}
		if err := wy.WriteInt64s(ys[:m]); err != nil {
			return fmt.Errorf("node %s: %w", a.name, err)
		}
		if wz != nil {
			if err := wz.WriteInt64s(zs[:m]); err != nil {
				return fmt.Errorf("node %s: %w", a.name, err)
			}
		}
	}
	mult[tab.zeroRow] += padded - n
	wm, err := fc.Store.Create(a.multName(), []int{len(vals)}, DTypeForBound(big.NewInt(padded)), fc.Write)
	if err != nil {
		return fmt.Errorf("node %s: %w", a.name, err)
	}
	if err := wm.WriteInt64s(mult); err != nil {
		wm.Abort()
		return fmt.Errorf("node %s: %w", a.name, err)
	}
	if _, err := wm.Commit(); err != nil {
		return fmt.Errorf("node %s: %w", a.name, err)
	}
	if wz != nil {
		if _, err := wz.Commit(); err != nil {
			return fmt.Errorf("node %s: %w", a.name, err)
		}
	}
	if _, err := wy.Commit(); err != nil {
		return fmt.Errorf("node %s: %w", a.name, err)
	}
	return nil
}

var _ Kernel = (*Activation)(nil)
