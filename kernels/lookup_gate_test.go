package kernels

import (
	"math/rand/v2"
	"testing"

	"github.com/streamprove/streamprove/field"
)

// TestFracGatesMatchTheirFormula checks the factored gate evaluations against the plain
// formulas, for one and two trees, with a first coefficient of 1 (as layerClaim makes them) and
// without, and with a zero coefficient (the plain fallback).
func TestFracGatesMatchTheirFormula(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	rnd := func() field.Element { return field.NewInt(rng.Int64()) }
	const n = 37
	for _, trees := range []int{1, 2, 3} {
		for _, mode := range []string{"powers", "random", "zero"} {
			var c []field.Element
			switch mode {
			case "powers":
				c = powers(rnd(), 2*trees)
			case "random":
				for range 2 * trees {
					c = append(c, rnd())
				}
			case "zero":
				c = powers(rnd(), 2*trees)
				c[2*(trees-1)].SetZero()
			}
			in := make([][]field.Element, 4*trees)
			for j := range in {
				in[j] = make([]field.Element, n)
				for i := range in[j] {
					in[j][i] = rnd()
				}
			}
			frac, unit := make([]field.Element, n), make([]field.Element, n)
			newFracGate(c).Eval(frac, in)
			unitGateOf(c).Eval(unit, in[:2*trees])
			for i := 0; i < n; i++ {
				var wantF, wantU field.Element
				for A := 0; A < trees; A++ {
					pe, po, qe, qo := in[4*A][i], in[4*A+1][i], in[4*A+2][i], in[4*A+3][i]
					var a, b, v field.Element
					a.Mul(&pe, &qo)
					b.Mul(&po, &qe)
					a.Add(&a, &b)
					a.Mul(&a, &c[2*A])
					v.Mul(&qe, &qo)
					v.Mul(&v, &c[2*A+1])
					wantF.Add(&wantF, &a)
					wantF.Add(&wantF, &v)
					ue, uo := in[2*A][i], in[2*A+1][i]
					a.Add(&ue, &uo)
					a.Mul(&a, &c[2*A])
					v.Mul(&ue, &uo)
					v.Mul(&v, &c[2*A+1])
					wantU.Add(&wantU, &a)
					wantU.Add(&wantU, &v)
				}
				if !frac[i].Equal(&wantF) || !unit[i].Equal(&wantU) {
					t.Fatalf("%d trees, %s coefficients: gate values differ at %d", trees, mode, i)
				}
			}
		}
	}
}

// TestIntHelpersMatchFieldArithmetic checks intDot and subScaledInts, on their table and their
// multiplication paths, against plain field arithmetic.
func TestIntHelpersMatchFieldArithmetic(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, c := range []struct {
		n      int
		lo, hi int64
	}{{64, 0, 1}, {64, -128, 127}, {4096, -256, 256}, {64, -1 << 30, 1 << 30}, {1, 5, 5}, {2, -3, 9}, {512, 7, 7}} {
		v := make([]int64, c.n)
		for i := range v {
			v[i] = c.lo + rng.Int64N(c.hi-c.lo+1)
		}
		w := make([]field.Element, c.n)
		q := make([]field.Element, c.n)
		want := make([]field.Element, c.n)
		var dot field.Element
		a := field.NewInt(rng.Int64())
		for i := range w {
			w[i] = field.NewInt(rng.Int64())
			q[i] = field.NewInt(rng.Int64())
			x := field.NewInt(v[i])
			var p field.Element
			p.Mul(&x, &w[i])
			dot.Add(&dot, &p)
			p.Mul(&x, &a)
			want[i].Sub(&q[i], &p)
		}
		if got := intDot(w, v, make([]field.Element, c.n)); !got.Equal(&dot) {
			t.Fatalf("intDot over %d values in [%d, %d]: wrong sum", c.n, c.lo, c.hi)
		}
		subScaledInts(q, make([]field.Element, c.n), v, &a)
		for i := range q {
			if !q[i].Equal(&want[i]) {
				t.Fatalf("subScaledInts over %d values in [%d, %d]: wrong at %d", c.n, c.lo, c.hi, i)
			}
		}
	}
}
