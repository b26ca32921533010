package gkr

import (
	"fmt"

	"github.com/streamprove/streamprove/field"
	"github.com/streamprove/streamprove/sumcheck"
)

// Claim says that the MLE of Tensor (padded, MLE order) at Point equals Value.
type Claim struct {
	Tensor string
	Point  []field.Element
	Value  field.Element
	// Hint, prover side only, is the Hyrax opening vector of a claim on a committed tensor when
	// the kernel computed it anyway (a linear kernel's w_r is exactly the opening vector of its
	// weight, DESIGN §9): the final opening then skips its pass over the tensor. It is never sent
	// as such and never trusted: a wrong hint makes a proof that does not verify.
	Hint []field.Element
}

// SamePoint reports whether two points are equal coordinate by coordinate.
func SamePoint(a, b []field.Element) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !a[i].Equal(&b[i]) {
			return false
		}
	}
	return true
}

// dedupe drops claims that repeat an earlier claim's point. Two claims at one point with
// different values cannot both be true: that is a rejection, not a merge.
func dedupe(cs []Claim) ([]Claim, error) {
	var out []Claim
next:
	for _, c := range cs {
		for _, o := range out {
			if SamePoint(o.Point, c.Point) {
				if !o.Value.Equal(&c.Value) {
					return nil, fmt.Errorf("%w: tensor %q has two different values at one point", ErrBadProof, c.Tensor)
				}
				continue next
			}
		}
		out = append(out, c)
	}
	return out, nil
}

// MergeClaim builds the merge sumcheck of DESIGN §8 for several claims on one tensor: with α
// from the transcript, prove Σ_x (Σ_i α^i eq(r_i, x))·T(x) = Σ_i α^i v_i; the one claim left is
// T(r*) (the sumcheck's final value). Kernels that merge claims internally use it too.
func MergeClaim(tr *field.Transcript, cs []Claim, nv int) *sumcheck.Claim {
	alpha := tr.Challenge("merge/alpha")
	c := &sumcheck.Claim{NumVars: nv, Gate: sumcheck.Identity()}
	coef := field.One()
	for _, cl := range cs {
		c.Eq = append(c.Eq, sumcheck.EqTerm{Coeff: coef, Point: cl.Point})
		var t field.Element
		t.Mul(&coef, &cl.Value)
		c.Sum.Add(&c.Sum, &t)
		coef.Mul(&coef, &alpha)
	}
	return c
}

// merge merges several claims on one tensor into one by a sumcheck (MergeClaim), proven from the
// tensor's source or verified, and returns the merged claim; one claim is returned as it is.
func merge(p *Party, cs []Claim) (Claim, error) {
	cs, err := dedupe(cs)
	if err != nil {
		return Claim{}, err
	}
	if len(cs) == 1 {
		return cs[0], nil
	}
	name := cs[0].Tensor
	sc := MergeClaim(p.Transcript(), cs, len(cs[0].Point))
	point, finals, err := p.Sumcheck(sc, func() ([]field.Source, error) {
		src, err := p.Prover().Source(name)
		if err != nil {
			return nil, err
		}
		return []field.Source{src}, nil
	})
	if err != nil {
		return Claim{}, fmt.Errorf("merge claims on %q: %w", name, err)
	}
	return Claim{Tensor: name, Point: point, Value: finals[0]}, nil
}
