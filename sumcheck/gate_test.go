package sumcheck

import (
	"math/rand/v2"
	"testing"

	"github.com/streamprove/streamprove/field"
)

// TestGateEval checks the chunked gates against a scalar evaluation of their definition (the
// prover, the verifier and the tests' brute-force sums all use Eval, so it must be right on its
// own).
func TestGateEval(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	const L = 37
	for arity := 1; arity <= 4; arity++ {
		in := make([][]field.Element, arity)
		for j := range in {
			in[j] = randElems(rng, L)
		}
		// products
		out := make([]field.Element, L)
		Product(arity).Eval(out, in)
		for i := 0; i < L; i++ {
			want := field.One()
			for j := 0; j < arity; j++ {
				want.Mul(&want, &in[j][i])
			}
			if !want.Equal(&out[i]) {
				t.Fatalf("Product(%d) wrong at %d", arity, i)
			}
		}
		// random polynomials, with repeated variables and a constant term
		for trial := 0; trial < 5; trial++ {
			terms := []Term{{Coeff: randElems(rng, 1)[0]}, {Coeff: field.One(), Vars: []int{0, 0}}}
			for n := rng.IntN(4); n >= 0; n-- {
				tm := Term{Coeff: randElems(rng, 1)[0]}
				for l := rng.IntN(4); l >= 0; l-- {
					tm.Vars = append(tm.Vars, rng.IntN(arity))
				}
				terms = append(terms, tm)
			}
			g, err := NewPoly(arity, terms)
			if err != nil {
				t.Fatal(err)
			}
			g.Eval(out, in)
			for i := 0; i < L; i++ {
				var want field.Element
				for _, tm := range terms {
					m := tm.Coeff
					for _, v := range tm.Vars {
						m.Mul(&m, &in[v][i])
					}
					want.Add(&want, &m)
				}
				if !want.Equal(&out[i]) {
					t.Fatalf("poly gate wrong at %d", i)
				}
			}
		}
	}
	if g := Identity(); g.Arity() != 1 || g.Degree() != 1 {
		t.Fatal("Identity is not f_1")
	}
	if _, err := NewPoly(2, []Term{{Coeff: field.One(), Vars: []int{2}}}); err == nil {
		t.Fatal("NewPoly accepted an out-of-range variable")
	}
	if _, err := NewPoly(0, nil); err == nil {
		t.Fatal("NewPoly accepted arity 0")
	}
	c := &Claim{NumVars: 2, Gate: Product(0)}
	if _, err := Verify(field.NewTranscript("t"), c, &Proof{}); err == nil {
		t.Fatal("arity-0 claim accepted")
	}
}
