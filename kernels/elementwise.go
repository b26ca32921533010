package kernels

import (
	"fmt"
	"slices"

	"github.com/streamprove/streamprove/field"
	"github.com/streamprove/streamprove/gkr"
	"github.com/streamprove/streamprove/sumcheck"
)

// Term is one monomial of an elementwise polynomial: Coeff · Π_{j ∈ Vars} input_j (Vars may
// repeat an input for powers). A term without variables (a constant) is not allowed: it would
// fill the padding with non-zeros.
type Term struct {
	Coeff int64
	Vars  []int
}

// Elementwise is Y[x] = P(A_1[x], …, A_k[x]) for a small polynomial P with integer
// coefficients and no constant term, over inputs of Y's shape or NumPy-broadcastable to it (a
// per-channel [C] or [1, C, 1, 1] scale or bias against [N, C, H, W]: elementwise_broadcast.go).
//
// A linear P needs no sumcheck: the prover sends each distinct input's value at the claim's point
// and the verifier checks the linear combination. Otherwise the kernel proves
// Σ_x eq(r, x)·P(A(x)) = v with one sumcheck and returns the inputs' values at its final point.
type Elementwise struct {
	name   string
	op     string
	inputs []string // distinct inputs, in order of first use
	terms  []Term   // over indices into inputs
	y      string
	linear bool
}

// NewElementwise returns the kernel Y = Σ_t Coeff_t·Π inputs[Vars_t]. Repeated input names are
// merged, so add(a, a) is 2·a with one claim.
func NewElementwise(name, op string, inputs []string, terms []Term, y string) (*Elementwise, error) {
	e := &Elementwise{name: name, op: op, y: y, linear: true}
	idx := make([]int, len(inputs))
	for i, in := range inputs {
		j := slices.Index(e.inputs, in)
		if j < 0 {
			j = len(e.inputs)
			e.inputs = append(e.inputs, in)
		}
		idx[i] = j
	}
	if len(terms) == 0 {
		return nil, fmt.Errorf("%w: node %s: polynomial has no terms", gkr.ErrGraph, name)
	}
	for _, t := range terms {
		if len(t.Vars) == 0 {
			return nil, fmt.Errorf("%w: node %s: a constant term would make the padding non-zero", gkr.ErrGraph, name)
		}
		nt := Term{Coeff: t.Coeff}
		for _, v := range t.Vars {
			if v < 0 || v >= len(inputs) {
				return nil, fmt.Errorf("%w: node %s: term uses input %d of %d", gkr.ErrGraph, name, v, len(inputs))
			}
			nt.Vars = append(nt.Vars, idx[v])
		}
		if len(nt.Vars) > 1 {
			e.linear = false
		}
		e.terms = append(e.terms, nt)
	}
	return e, nil
}

// Add returns Y = A + B.
func Add(name, a, b, y string) *Elementwise {
	e, _ := NewElementwise(name, "add", []string{a, b}, []Term{{1, []int{0}}, {1, []int{1}}}, y)
	return e
}

// Sub returns Y = A − B.
func Sub(name, a, b, y string) *Elementwise {
	e, _ := NewElementwise(name, "sub", []string{a, b}, []Term{{1, []int{0}}, {-1, []int{1}}}, y)
	return e
}

// Mul returns Y = A ∘ B.
func Mul(name, a, b, y string) *Elementwise {
	e, _ := NewElementwise(name, "mul", []string{a, b}, []Term{{1, []int{0, 1}}}, y)
	return e
}

// Square returns Y = A ∘ A.
func Square(name, a, y string) *Elementwise {
	e, _ := NewElementwise(name, "square", []string{a}, []Term{{1, []int{0, 0}}}, y)
	return e
}

// Scale returns Y = factor · A.
func Scale(name, a string, factor int64, y string) *Elementwise {
	e, _ := NewElementwise(name, "scale", []string{a}, []Term{{factor, []int{0}}}, y)
	return e
}

// Name returns the node name.
func (e *Elementwise) Name() string { return e.name }

// Inputs returns the distinct inputs.
func (e *Elementwise) Inputs() []string { return e.inputs }

// Outputs returns Y.
func (e *Elementwise) Outputs() []string { return []string{e.y} }

// Describe encodes the polynomial for the graph digest.
func (e *Elementwise) Describe() []byte {
	b := describe("elementwise/1:"+e.op, int64(len(e.terms)))
	for _, t := range e.terms {
		b = append(b, describe("", t.Coeff, int64(len(t.Vars)))...)
		for _, v := range t.Vars {
			b = append(b, describe("", int64(v))...)
		}
	}
	return b
}

// check returns each input's broadcast to Y's shape (nil for an input of Y's shape): inputs may
// be NumPy-broadcastable to Y (elementwise_broadcast.go).
func (e *Elementwise) check(g *gkr.Graph) ([]*bcast, error) {
	yt, ok := g.Tensors[e.y]
	if !ok {
		return nil, fmt.Errorf("%w: node %s: output %q is not declared", gkr.ErrGraph, e.name, e.y)
	}
	bs := make([]*bcast, len(e.inputs))
	for i, in := range e.inputs {
		t, ok := g.Tensors[in]
		if !ok {
			return nil, fmt.Errorf("%w: node %s: input %q is not declared", gkr.ErrGraph, e.name, in)
		}
		b, err := newBcast(t.Shape, yt.Shape)
		if err != nil {
			return nil, fmt.Errorf("%w: node %s: input %q: %v", gkr.ErrGraph, e.name, in, err)
		}
		bs[i] = b
	}
	return bs, nil
}

// Estimate: no tables; inputs streamed once (twice for a sumcheck's first round and Finals).
func (e *Elementwise) Estimate(g *gkr.Graph) gkr.Estimate {
	ti := g.Tensors[e.y]
	n := int64(1) << ti.NumVars()
	est := gkr.Estimate{StreamBytes: int64(len(e.inputs)) * n * 32}
	if !e.linear {
		est.TableBytes = int64(len(e.inputs)) * n / 2 * 32 // the sumcheck's tables after one fold
	}
	return est
}

func (e *Elementwise) gate() (sumcheck.Gate, error) {
	terms := make([]sumcheck.Term, len(e.terms))
	for i, t := range e.terms {
		terms[i] = sumcheck.Term{Coeff: field.NewInt(t.Coeff), Vars: t.Vars}
	}
	return sumcheck.NewPoly(len(e.inputs), terms)
}

// linearValue returns Σ_t Coeff_t·vals[Vars_t[0]] (the linear polynomial at the inputs' values),
// a broadcast input's value (its own MLE at its sub-point) scaled by its mask factor at point.
func (e *Elementwise) linearValue(vals []field.Element, bs []*bcast, point []field.Element) field.Element {
	var acc field.Element
	for _, t := range e.terms {
		c := field.NewInt(t.Coeff)
		c.Mul(&c, &vals[t.Vars[0]])
		if b := bs[t.Vars[0]]; b != nil {
			f := b.factor(point)
			c.Mul(&c, &f)
		}
		acc.Add(&acc, &c)
	}
	return acc
}

// linearClaims: each input's claim at its own (sub-)point with the value sent.
func (e *Elementwise) linearClaims(point []field.Element, vals []field.Element, bs []*bcast) []gkr.Claim {
	cs := make([]gkr.Claim, len(e.inputs))
	for i, in := range e.inputs {
		p := point
		if bs[i] != nil {
			p = bs[i].subPoint(point)
		}
		cs[i] = gkr.Claim{Tensor: in, Point: p, Value: vals[i]}
	}
	return cs
}

// sumcheckClaims: the sumcheck's finals are the (broadcast) inputs at point; a broadcast input's
// final B̄~(point) becomes the claim B̃(point_B) = B̄~(point)/factor(point).
func (e *Elementwise) sumcheckClaims(point []field.Element, finals []field.Element, bs []*bcast) ([]gkr.Claim, error) {
	cs := make([]gkr.Claim, len(e.inputs))
	for i, in := range e.inputs {
		if bs[i] == nil {
			cs[i] = gkr.Claim{Tensor: in, Point: point, Value: finals[i]}
			continue
		}
		c, err := bs[i].inputClaim(in, point, finals[i])
		if err != nil {
			return nil, fmt.Errorf("node %s: %w", e.name, err)
		}
		cs[i] = c
	}
	return cs, nil
}

// Prove reduces the claim on Y to claims on the inputs.
func (e *Elementwise) Prove(pc *gkr.ProveCtx, out []gkr.Claim) ([]gkr.Claim, error) {
	return e.protocol(pc.Party(), out)
}

// Verify checks the kernel's messages and returns the claims on the inputs.
func (e *Elementwise) Verify(vc *gkr.VerifyCtx, out []gkr.Claim) ([]gkr.Claim, error) {
	return e.protocol(vc.Party(), out)
}

// protocol is the kernel's one description of its messages: for a linear polynomial, each
// input's value at the claim's (sub-)point, which the verifier combines; otherwise one sumcheck
// of eq(r, x)·P(A(x)) whose finals are the inputs' claims.
func (e *Elementwise) protocol(p *gkr.Party, out []gkr.Claim) ([]gkr.Claim, error) {
	bs, err := e.check(p.Graph())
	if err != nil {
		return nil, err
	}
	c := out[0]
	sources := func() ([]field.Source, error) {
		srcs := make([]field.Source, len(e.inputs))
		for i, in := range e.inputs {
			s, err := p.Prover().Source(in)
			if err != nil {
				return nil, err
			}
			srcs[i] = s
		}
		return srcs, nil
	}
	if e.linear {
		vals, err := p.Message("elementwise/values", len(e.inputs), func() ([]field.Element, error) {
			srcs, err := sources()
			if err != nil {
				return nil, err
			}
			vals := make([]field.Element, len(srcs))
			for i, s := range srcs {
				pt := c.Point
				if bs[i] != nil {
					pt = bs[i].subPoint(pt)
				}
				if vals[i], err = field.EvalStream(s, pt, 14); err != nil {
					return nil, fmt.Errorf("input %q: %w", e.inputs[i], err)
				}
			}
			return vals, nil
		})
		if err != nil {
			return nil, err
		}
		if got := e.linearValue(vals, bs, c.Point); p.Verifying() && !got.Equal(&c.Value) {
			return nil, fmt.Errorf("%w: node %s: inputs do not combine to the claimed output", gkr.ErrBadProof, e.name)
		}
		return e.linearClaims(c.Point, vals, bs), nil
	}
	g, err := e.gate()
	if err != nil {
		return nil, err
	}
	var releases []func()
	defer func() {
		for _, r := range releases {
			r()
		}
	}()
	sc := &sumcheck.Claim{NumVars: len(c.Point), Gate: g,
		Eq: []sumcheck.EqTerm{{Coeff: field.One(), Point: c.Point}}, Sum: c.Value}
	point, finals, err := p.Sumcheck(sc, func() ([]field.Source, error) {
		srcs, err := sources()
		if err != nil {
			return nil, err
		}
		for i, b := range bs {
			if b == nil {
				continue
			}
			src, release, err := b.source(srcs[i], p.Prover().Budget(), "broadcast of "+e.inputs[i]+" in "+e.name)
			if err != nil {
				return nil, fmt.Errorf("node %s: %w", e.name, err)
			}
			releases = append(releases, release)
			srcs[i] = src
		}
		return srcs, nil
	})
	if err != nil {
		return nil, err
	}
	return e.sumcheckClaims(point, finals, bs)
}
