package sumcheck

import (
	"fmt"
	"sync"

	"github.com/streamprove/streamprove/field"
)

// Gate is the polynomial G of a claim, evaluated on whole chunks: Eval sets
// out[i] = G(in[0][i], …, in[Arity-1][i]) for every i < len(out), with no call per element.
// Every in[j] holds at least len(out) elements; Eval must not keep or modify them.
type Gate interface {
	Arity() int
	Degree() int // total degree of G
	Eval(out []field.Element, in [][]field.Element)
}

// maxGateArity and maxGateDegree bound what NewPoly accepts: a round message has Degree+1
// elements and the prover keeps Arity buffers per worker.
const (
	maxGateArity  = 1 << 10
	maxGateDegree = 64
)

type product struct{ k int }

// Product returns the gate f_1·…·f_k (degree k). Product(0) is the constant 1 of arity 0,
// which Prove and Verify reject: a claim needs at least one source.
func Product(k int) Gate {
	if k < 0 {
		k = 0
	}
	return product{k}
}

// Identity returns the gate f_1 (arity 1, degree 1).
func Identity() Gate { return product{1} }

func (p product) Arity() int  { return p.k }
func (p product) Degree() int { return p.k }

func (p product) Eval(out []field.Element, in [][]field.Element) {
	n := len(out)
	if p.k == 0 {
		for i := range out {
			out[i].SetOne()
		}
		return
	}
	if p.k == 1 {
		copy(out, in[0][:n])
		return
	}
	v := field.Vector(out)
	v.Mul(field.Vector(in[0][:n]), field.Vector(in[1][:n]))
	for j := 2; j < p.k; j++ {
		v.Mul(v, field.Vector(in[j][:n]))
	}
}

// Term is one monomial Coeff·Π_{j∈Vars} f_j of a Poly gate; a variable may repeat (powers) and
// an empty Vars is a constant.
type Term struct {
	Coeff field.Element
	Vars  []int
}

type poly struct {
	arity, degree int
	terms         []Term
	scratch       sync.Pool // *[]field.Element
}

// NewPoly returns the gate Σ_t Coeff_t·Π_{j∈Vars_t} f_j of the given arity. It rejects variable
// indices outside [0, arity) and absurd sizes; its degree is the longest term's length.
func NewPoly(arity int, terms []Term) (Gate, error) {
	if arity < 1 || arity > maxGateArity {
		return nil, fmt.Errorf("sumcheck: poly gate of arity %d (want 1..%d)", arity, maxGateArity)
	}
	p := &poly{arity: arity, terms: make([]Term, len(terms))}
	for t, term := range terms {
		if len(term.Vars) > maxGateDegree {
			return nil, fmt.Errorf("sumcheck: poly gate term %d has degree %d (max %d)", t, len(term.Vars), maxGateDegree)
		}
		for _, v := range term.Vars {
			if v < 0 || v >= arity {
				return nil, fmt.Errorf("sumcheck: poly gate term %d uses f_%d of %d inputs", t, v, arity)
			}
		}
		p.terms[t] = Term{Coeff: term.Coeff, Vars: append([]int(nil), term.Vars...)}
		if len(term.Vars) > p.degree {
			p.degree = len(term.Vars)
		}
	}
	return p, nil
}

func (p *poly) Arity() int  { return p.arity }
func (p *poly) Degree() int { return p.degree }

func (p *poly) Eval(out []field.Element, in [][]field.Element) {
	n := len(out)
	o := field.Vector(out)
	for i := range out {
		out[i].SetZero()
	}
	if len(p.terms) == 0 {
		return
	}
	sp, _ := p.scratch.Get().(*[]field.Element)
	if sp == nil || cap(*sp) < n {
		s := make([]field.Element, n)
		sp = &s
	}
	tmp := field.Vector((*sp)[:n])
	one := field.One()
	for _, term := range p.terms {
		if term.Coeff.IsZero() {
			continue
		}
		switch len(term.Vars) {
		case 0:
			for i := range tmp {
				tmp[i] = term.Coeff
			}
			o.Add(o, tmp)
			continue
		case 1:
			copy(tmp, in[term.Vars[0]][:n])
		default:
			tmp.Mul(field.Vector(in[term.Vars[0]][:n]), field.Vector(in[term.Vars[1]][:n]))
			for _, v := range term.Vars[2:] {
				tmp.Mul(tmp, field.Vector(in[v][:n]))
			}
		}
		if !term.Coeff.Equal(&one) {
			tmp.ScalarMul(tmp, &term.Coeff)
		}
		o.Add(o, tmp)
	}
	p.scratch.Put(sp)
}
