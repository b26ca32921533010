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
// coefficients and no constant term, over inputs of one shape.
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

func (e *Elementwise) check(g *gkr.Graph) error {
	ys := g.Tensors[e.y].Shape
	for _, in := range e.inputs {
		if s := g.Tensors[in].Shape; !slices.Equal(s, ys) {
			return fmt.Errorf("%w: node %s: input %q has shape %v, output %q has %v", gkr.ErrGraph, e.name, in, s, e.y, ys)
		}
	}
	return nil
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

// linearValue returns Σ_t Coeff_t·vals[Vars_t[0]] (the linear polynomial at the inputs' values).
func (e *Elementwise) linearValue(vals []field.Element) field.Element {
	var acc field.Element
	for _, t := range e.terms {
		c := field.NewInt(t.Coeff)
		c.Mul(&c, &vals[t.Vars[0]])
		acc.Add(&acc, &c)
	}
	return acc
}

func (e *Elementwise) claims(point []field.Element, vals []field.Element) []gkr.Claim {
	cs := make([]gkr.Claim, len(e.inputs))
	for i, in := range e.inputs {
		cs[i] = gkr.Claim{Tensor: in, Point: point, Value: vals[i]}
	}
	return cs
}

// Prove reduces the claim on Y to claims on the inputs.
func (e *Elementwise) Prove(pc *gkr.ProveCtx, out []gkr.Claim) ([]gkr.Claim, error) {
	if err := e.check(pc.Graph); err != nil {
		return nil, err
	}
	c := out[0]
	srcs := make([]field.Source, len(e.inputs))
	for i, in := range e.inputs {
		s, err := pc.Source(in)
		if err != nil {
			return nil, err
		}
		srcs[i] = s
	}
	if e.linear {
		vals := make([]field.Element, len(srcs))
		for i, s := range srcs {
			v, err := field.EvalStream(s, c.Point, 14)
			if err != nil {
				return nil, fmt.Errorf("input %q: %w", e.inputs[i], err)
			}
			vals[i] = v
		}
		pc.Send("elementwise/values", vals...)
		return e.claims(c.Point, vals), nil
	}
	g, err := e.gate()
	if err != nil {
		return nil, err
	}
	sc := &sumcheck.Claim{NumVars: len(c.Point), Sources: srcs, Gate: g,
		Eq: []sumcheck.EqTerm{{Coeff: field.One(), Point: c.Point}}, Sum: c.Value}
	point, finals, err := pc.Sumcheck(sc)
	if err != nil {
		return nil, err
	}
	return e.claims(point, finals), nil
}

// Verify checks the kernel's messages and returns the claims on the inputs.
func (e *Elementwise) Verify(vc *gkr.VerifyCtx, out []gkr.Claim) ([]gkr.Claim, error) {
	if err := e.check(vc.Graph); err != nil {
		return nil, err
	}
	c := out[0]
	if e.linear {
		vals, err := vc.Recv("elementwise/values", len(e.inputs))
		if err != nil {
			return nil, err
		}
		if got := e.linearValue(vals); !got.Equal(&c.Value) {
			return nil, fmt.Errorf("%w: node %s: inputs do not combine to the claimed output", gkr.ErrBadProof, e.name)
		}
		return e.claims(c.Point, vals), nil
	}
	g, err := e.gate()
	if err != nil {
		return nil, err
	}
	sc := &sumcheck.Claim{NumVars: len(c.Point), Gate: g,
		Eq: []sumcheck.EqTerm{{Coeff: field.One(), Point: c.Point}}, Sum: c.Value}
	point, finals, err := vc.Sumcheck(sc)
	if err != nil {
		return nil, err
	}
	return e.claims(point, finals), nil
}
