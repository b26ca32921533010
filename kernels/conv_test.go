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

// Two convolutions in a row: the first's output (odd sizes, so padded) is an intermediate whose
// claim flows back through the second; its padding must be zero for the second to be right.
func convChain(t testing.TB, seed uint64) *model {
	m := newModel(t, seed)
	m.data("x", gkr.Input, []int{2, 3, 7, 5}, tensorstore.Int8)
	m.data("w1", gkr.Weight, []int{5, 3, 3, 3}, tensorstore.Int8)
	m.data("b1", gkr.Weight, []int{5}, tensorstore.Int32)
	m.data("w2", gkr.Weight, []int{5, 1, 3, 3}, tensorstore.Int8)
	a1 := ConvAttrs{StrideH: 2, StrideW: 2, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1}
	k1 := NewConv2D("c1", "x", "w1", "b1", "h", a1)
	hs, _ := ConvOutShape([]int{2, 3, 7, 5}, []int{5, 3, 3, 3}, k1.a)
	m.node(k1, hs, false)
	k2 := NewConv2D("c2", "h", "w2", "", "y", ConvAttrs{Groups: 5, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1})
	ys, err := ConvOutShape(hs, []int{5, 1, 3, 3}, k2.a)
	if err != nil {
		t.Fatal(err)
	}
	m.node(k2, ys, true)
	m.forward()
	return m
}

func TestConvChain(t *testing.T) {
	m := convChain(t, 77)
	x, w1, b1, w2 := m.values("x"), m.values("w1"), m.values("b1"), m.values("w2")
	h, ho, wo := convRef(x, w1, b1, 2, 3, 7, 5, 5, 3, 3, m.kerns[0].(*Conv2D).a)
	y, _, _ := convRef(h, w2, nil, 2, 5, ho, wo, 5, 3, 3, m.kerns[1].(*Conv2D).a)
	got := m.values("y")
	for i := range y {
		if got[i] != y[i] {
			t.Fatalf("y[%d] = %d, want %d", i, got[i], y[i])
		}
	}
	pub := m.public()
	if _, err := gkr.Verify(m.graph, pub, m.prove(pub, 0)); err != nil {
		t.Fatal(err)
	}
}

// rewrite replaces a stored tensor's values (after the forward pass or after the commitment).
func (m *model) rewriteInts(name string, v []int64, dt tensorstore.DType) {
	m.t.Helper()
	w, err := m.store.Create(name, m.graph.Tensors[name].Shape, dt, tensorstore.WriteOptions{Replace: true})
	if err != nil {
		m.t.Fatal(err)
	}
	if err := w.WriteInt64s(v); err != nil {
		m.t.Fatal(err)
	}
	if _, err := w.Commit(); err != nil {
		m.t.Fatal(err)
	}
}

func TestConvSoundness(t *testing.T) {
	m := convChain(t, 78)
	pub := m.public()
	proof := m.prove(pub, 0)
	if _, err := gkr.Verify(m.graph, pub, proof); err != nil {
		t.Fatal(err)
	}
	// flipped bytes spread over the whole proof are rejected (128 positions: each verification
	// opens the commitments, so every byte would take minutes)
	for i := 1; i < len(proof); i += len(proof)/128 + 1 {
		bad := append([]byte(nil), proof...)
		bad[i] ^= 1 << (i % 8)
		if _, err := gkr.Verify(m.graph, pub, bad); err == nil {
			t.Fatalf("proof with byte %d of %d flipped accepted", i, len(proof))
		}
	}
	// a proof checked against another geometry (padding moved) is rejected
	g2 := *m.graph
	g2.Kernels = append([]gkr.Kernel(nil), m.graph.Kernels...)
	g2.Kernels[1] = NewConv2D("c2", "h", "w2", "", "y", ConvAttrs{Groups: 5, PadTop: 2, PadLeft: 1, PadBottom: 0, PadRight: 1})
	_, err := gkr.Verify(&g2, pub, proof)
	reject(t, "proof for another padding", err)

	// a wrong output pixel, and a wrong intermediate pixel (then every later value is honest
	// for the wrong one): the prover runs on the corrupted witness, the verifier rejects
	for _, victim := range []string{"y", "h"} {
		m := convChain(t, 78)
		pub := m.public()
		v := m.values(victim)
		v[len(v)/3] += 1
		m.rewriteInts(victim, v, tensorstore.Int64)
		if victim == "h" {
			// recompute y from the wrong h so that only conv c1's relation is false
			fc := &ForwardCtx{Store: m.store, Graph: m.graph, Bounds: m.bounds, Write: tensorstore.WriteOptions{Replace: true}}
			if err := m.kerns[1].Forward(fc); err != nil {
				t.Fatal(err)
			}
		}
		_, err := gkr.Verify(m.graph, pub, m.prove(pub, 0))
		reject(t, "proof over a wrong "+victim+" pixel", err)
	}
	// a weight changed after its commitment, with an honest forward pass on the new weight
	for _, victim := range []string{"w1", "w2", "b1"} {
		m := convChain(t, 78)
		pub := m.public()
		v := m.values(victim)
		v[len(v)-1] ^= 1
		dt := tensorstore.Int8
		if victim == "b1" {
			dt = tensorstore.Int32
		}
		m.rewriteInts(victim, v, dt)
		m.forward2()
		_, err := gkr.Verify(m.graph, pub, m.prove(pub, 0))
		reject(t, "proof with "+victim+" changed after commit", err)
	}
}
