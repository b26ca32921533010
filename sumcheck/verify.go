package sumcheck

import (
	"fmt"

	"github.com/streamprove/streamprove/field"
)

// Verify checks p against the claim c (c.Sources is ignored) with the shared transcript tr. It
// checks every round against the running sum, draws the challenges, and at the end checks
// E(r)·G(Finals) against the final running value. On success it returns the point r
// (r[k] = variable k), and the caller holds the claims MLE(Sources[j])(r) = p.Finals[j].
// Every rejection wraps ErrBadProof.
func Verify(tr *field.Transcript, c *Claim, p *Proof) ([]field.Element, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	if p == nil {
		return nil, fmt.Errorf("sumcheck: nil proof: %w", ErrBadProof)
	}
	n, k, deg := c.NumVars, c.Gate.Arity(), RoundDegree(c)
	if len(p.Rounds) != n {
		return nil, fmt.Errorf("sumcheck: proof has %d rounds, claim has %d variables: %w", len(p.Rounds), n, ErrBadProof)
	}
	if len(p.Finals) != k {
		return nil, fmt.Errorf("sumcheck: proof has %d finals, gate has %d inputs: %w", len(p.Finals), k, ErrBadProof)
	}
	o := order{tr}
	o.begin(c)
	v := c.Sum
	point := make([]field.Element, n)
	s := make([]field.Element, deg+1)
	for t, msg := range p.Rounds {
		if len(msg) != deg {
			return nil, fmt.Errorf("sumcheck: round %d has %d values, want %d: %w", t, len(msg), deg, ErrBadProof)
		}
		s[0] = msg[0]
		s[1].Sub(&v, &msg[0])
		copy(s[2:], msg[1:])
		point[t] = o.round(msg)
		v = lagrangeAt(s, &point[t])
	}
	o.end(p.Finals)
	e := evalE(c.Eq, point)
	out := make([]field.Element, 1)
	in := make([][]field.Element, k)
	for j := range in {
		in[j] = p.Finals[j : j+1]
	}
	c.Gate.Eval(out, in)
	out[0].Mul(&out[0], &e)
	if !out[0].Equal(&v) {
		return nil, fmt.Errorf("sumcheck: final check E(r)·G(finals) ≠ last round's value: %w", ErrBadProof)
	}
	return point, nil
}

// evalE returns E(r) = Σ_i c_i·eq(p_i, r), or 1 when there are no terms.
func evalE(terms []EqTerm, r []field.Element) field.Element {
	if len(terms) == 0 {
		return field.One()
	}
	var e field.Element
	for i := range terms {
		t := field.Eq(terms[i].Point, r)
		t.Mul(&t, &terms[i].Coeff)
		e.Add(&e, &t)
	}
	return e
}
