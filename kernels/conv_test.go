package kernels

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/streamprove/streamprove/field"
	"github.com/streamprove/streamprove/gkr"
	"github.com/streamprove/streamprove/tensorstore"
)

// The automaton's MLE equals the predicate on every Boolean point, and is multilinear.
func TestTapPredicate(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, c := range []struct{ in, out, k, s, d, p int }{
		{5, 3, 3, 2, 1, 1}, {7, 7, 3, 1, 1, 1}, {7, 2, 3, 2, 2, 1}, {8, 8, 1, 1, 1, 0}, {1, 1, 1, 1, 1, 0},
		{6, 2, 2, 3, 1, 0}, {5, 5, 5, 1, 1, 2}, {9, 4, 2, 2, 3, 0},
	} {
		xb, hb, ub := log2i(c.in), log2i(c.out), log2i(c.k)
		pr := tapPred(xb, hb, ub, c.p, c.s, c.d, c.out, c.k)
		bits := func(v, n int) []field.Element {
			e := make([]field.Element, n)
			for i := range e {
				e[i].SetUint64(uint64((v >> i) & 1))
			}
			return e
		}
		for x := 0; x < 1<<xb; x++ {
			for h := 0; h < 1<<hb; h++ {
				for u := 0; u < 1<<ub; u++ {
					got, err := pr.eval([][]field.Element{bits(x, xb), bits(h, hb), bits(u, ub)})
					if err != nil {
						t.Fatal(err)
					}
					want := pr.holds([]int64{int64(x), int64(h), int64(u)})
					if want != (c.s*h+c.d*u-c.p == x && h < c.out && u < c.k) {
						t.Fatalf("%+v: holds disagrees with the relation at %d,%d,%d", c, x, h, u)
					}
					if got.IsOne() != want || (!want && !got.IsZero()) {
						t.Fatalf("%+v: predicate at x=%d h=%d u=%d is %s, want %v", c, x, h, u, got.String(), want)
					}
				}
			}
		}
		// multilinear in each coordinate: f(z) = f(0) + z·(f(1) − f(0)) at a random point
		rnd := func(n int) []field.Element {
			e := make([]field.Element, n)
			for i := range e {
				e[i].SetUint64(rng.Uint64())
			}
			return e
		}
		pt := [][]field.Element{rnd(xb), rnd(hb), rnd(ub)}
		for j := range pt {
			for i := range pt[j] {
				z := pt[j][i]
				f := func(v field.Element) field.Element {
					pt[j][i] = v
					r, err := pr.eval(pt)
					if err != nil {
						t.Fatal(err)
					}
					return r
				}
				fz, f0, f1 := f(z), f(field.Element{}), f(field.One())
				var want field.Element
				want.Sub(&f1, &f0)
				want.Mul(&want, &z)
				want.Add(&want, &f0)
				pt[j][i] = z
				if !fz.Equal(&want) {
					t.Fatalf("%+v: not multilinear in variable %d bit %d", c, j, i)
				}
			}
		}
	}
}

// convRef is the plain forward reference.
func convRef(x, w, bias []int64, n, c, h, wd, k, kh, kw int, a ConvAttrs) ([]int64, int, int) {
	ho := outLen(h, a.PadTop, a.PadBottom, kh, a.StrideH, a.DilH)
	wo := outLen(wd, a.PadLeft, a.PadRight, kw, a.StrideW, a.DilW)
	cg, kg := c/a.Groups, k/a.Groups
	y := make([]int64, n*k*ho*wo)
	for b := 0; b < n; b++ {
		for o := 0; o < k; o++ {
			g := o / kg
			for i := 0; i < ho; i++ {
				for j := 0; j < wo; j++ {
					var s int64
					if bias != nil {
						s = bias[o]
					}
					for ci := 0; ci < cg; ci++ {
						for u := 0; u < kh; u++ {
							for v := 0; v < kw; v++ {
								r, q := a.StrideH*i+a.DilH*u-a.PadTop, a.StrideW*j+a.DilW*v-a.PadLeft
								if r < 0 || r >= h || q < 0 || q >= wd {
									continue
								}
								s += w[((o*cg+ci)*kh+u)*kw+v] * x[((b*c+g*cg+ci)*h+r)*wd+q]
							}
						}
					}
					y[((b*k+o)*ho+i)*wo+j] = s
				}
			}
		}
	}
	return y, ho, wo
}

type convCase struct {
	n, c, h, w, k, kh, kw int
	a                     ConvAttrs
	bias                  bool
}

func (c convCase) String() string {
	return fmt.Sprintf("x[%d,%d,%d,%d] w[%d,%d,%d,%d] %+v bias=%v", c.n, c.c, c.h, c.w, c.k, c.c/max(c.a.Groups, 1), c.kh, c.kw, c.a, c.bias)
}

var convCases = []convCase{
	{1, 3, 7, 5, 4, 3, 3, ConvAttrs{StrideH: 2, StrideW: 2, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1}, true},
	{5, 3, 7, 5, 4, 3, 3, ConvAttrs{StrideH: 2, StrideW: 2, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1}, false},
	{2, 2, 7, 5, 3, 3, 3, ConvAttrs{DilH: 2, DilW: 2, PadTop: 2, PadLeft: 1, PadBottom: 1, PadRight: 2}, true},
	{1, 4, 6, 5, 4, 2, 3, ConvAttrs{StrideH: 1, StrideW: 3, PadTop: 0, PadLeft: 2, PadBottom: 1, PadRight: 0}, true},
	{3, 4, 5, 7, 8, 3, 3, ConvAttrs{Groups: 2, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1}, true},
	{2, 3, 7, 5, 3, 3, 3, ConvAttrs{Groups: 3, StrideH: 2, StrideW: 1, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1}, true}, // depthwise
	{1, 5, 4, 4, 6, 1, 1, ConvAttrs{}, false},
}

func convModel(t testing.TB, c convCase, seed uint64) *model {
	m := newModel(t, seed)
	a := c.a
	g := max(a.Groups, 1)
	m.data("x", gkr.Input, []int{c.n, c.c, c.h, c.w}, tensorstore.Int8)
	m.data("w", gkr.Weight, []int{c.k, c.c / g, c.kh, c.kw}, tensorstore.Int8)
	bias := ""
	if c.bias {
		bias = "b"
		m.data("b", gkr.Weight, []int{c.k}, tensorstore.Int32)
	}
	k := NewConv2D("conv", "x", "w", bias, "y", a)
	ys, err := ConvOutShape([]int{c.n, c.c, c.h, c.w}, []int{c.k, c.c / g, c.kh, c.kw}, k.a)
	if err != nil {
		t.Fatal(err)
	}
	m.node(k, ys, true)
	m.forward()
	return m
}

func TestConvCompleteness(t *testing.T) {
	for i, c := range convCases {
		t.Run(c.String(), func(t *testing.T) {
			m := convModel(t, c, uint64(40+i))
			var bias []int64
			if c.bias {
				bias = m.values("b")
			}
			a := m.kerns[0].(*Conv2D).a
			want, _, _ := convRef(m.values("x"), m.values("w"), bias, c.n, c.c, c.h, c.w, c.k, c.kh, c.kw, a)
			got := m.values("y")
			for j := range want {
				if got[j] != want[j] {
					t.Fatalf("y[%d] = %d, want %d", j, got[j], want[j])
				}
			}
			pub := m.public()
			for _, budget := range []int64{0, 4 << 20} {
				proof := m.prove(pub, budget)
				outs, err := gkr.Verify(m.graph, pub, proof)
				if err != nil {
					t.Fatalf("budget %d: honest proof rejected: %v", budget, err)
				}
				for j, v := range want {
					if g, _ := field.ToInt64(&outs["y"][j]); g != v {
						t.Fatalf("verified output %d = %d, want %d", j, g, v)
					}
				}
			}
		})
	}
}
