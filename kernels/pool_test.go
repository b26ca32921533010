package kernels

import (
	"fmt"
	"testing"

	"github.com/streamprove/streamprove/field"
	"github.com/streamprove/streamprove/gkr"
	"github.com/streamprove/streamprove/tensorstore"
)

// poolRef is the plain reference: the sum and the max over each window's in-image taps.
func poolRef(x []int64, n, c, h, w, kh, kw int, a ConvAttrs) (sum, mx []int64, ho, wo int) {
	a = NewConv2D("", "", "", "", "", a).a
	ho = outLen(h, a.PadTop, a.PadBottom, kh, a.StrideH, a.DilH)
	wo = outLen(w, a.PadLeft, a.PadRight, kw, a.StrideW, a.DilW)
	for p := 0; p < n*c; p++ {
		for i := 0; i < ho; i++ {
			for j := 0; j < wo; j++ {
				var s int64
				m := int64(-1 << 62)
				for u := 0; u < kh; u++ {
					for v := 0; v < kw; v++ {
						r, q := a.StrideH*i+a.DilH*u-a.PadTop, a.StrideW*j+a.DilW*v-a.PadLeft
						if r < 0 || r >= h || q < 0 || q >= w {
							continue
						}
						s += x[(p*h+r)*w+q]
						m = max(m, x[(p*h+r)*w+q])
					}
				}
				sum = append(sum, s)
				mx = append(mx, m)
			}
		}
	}
	return sum, mx, ho, wo
}

type poolCase struct {
	n, c, h, w, kh, kw int
	a                  ConvAttrs
}

var poolCases = []poolCase{
	{1, 3, 7, 5, 3, 3, ConvAttrs{StrideH: 2, StrideW: 2, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1}},
	{5, 2, 7, 5, 2, 2, ConvAttrs{StrideH: 2, StrideW: 2}},
	{2, 3, 6, 7, 3, 2, ConvAttrs{DilH: 2, DilW: 1, PadTop: 2, PadLeft: 0, PadBottom: 1, PadRight: 1}},
	{3, 5, 7, 5, 7, 5, ConvAttrs{}}, // global
}

func (c poolCase) String() string {
	return fmt.Sprintf("x[%d,%d,%d,%d] %dx%d %+v", c.n, c.c, c.h, c.w, c.kh, c.kw, c.a)
}

func TestSumPool(t *testing.T) {
	for i, c := range poolCases {
		t.Run(c.String(), func(t *testing.T) {
			m := newModel(t, uint64(90+i))
			m.data("x", gkr.Input, []int{c.n, c.c, c.h, c.w}, tensorstore.Int8)
			ys, err := PoolOutShape([]int{c.n, c.c, c.h, c.w}, c.kh, c.kw, c.a)
			if err != nil {
				t.Fatal(err)
			}
			m.node(NewSumPool("pool", "x", "y", c.kh, c.kw, c.a), ys, true)
			m.forward()
			want, _, _, _ := poolRef(m.values("x"), c.n, c.c, c.h, c.w, c.kh, c.kw, c.a)
			got := m.values("y")
			for j := range want {
				if got[j] != want[j] {
					t.Fatalf("y[%d] = %d, want %d", j, got[j], want[j])
				}
			}
			pub := m.public()
			proof := m.prove(pub, 0)
			outs, err := gkr.Verify(m.graph, pub, proof)
			if err != nil {
				t.Fatalf("honest proof rejected: %v", err)
			}
			for j, v := range want {
				if g, _ := field.ToInt64(&outs["y"][j]); g != v {
					t.Fatalf("verified output %d = %d, want %d", j, g, v)
				}
			}
			// a wrong output pixel is rejected
			v := m.values("y")
			v[len(v)/2]--
			m.rewriteInts("y", v, tensorstore.Int64)
			_, err = gkr.Verify(m.graph, pub, m.prove(pub, 0))
			reject(t, "sum pool with a wrong pixel", err)
		})
	}
}

// maxPoolModel: X (input) → maxpool (advice Y) → sum pool over the whole map (public output).
func maxPoolModel(t testing.TB, c poolCase, seed uint64) (*model, *MaxPool) {
	m := newModel(t, seed)
	m.data("x", gkr.Input, []int{c.n, c.c, c.h, c.w}, tensorstore.Int8)
	p, err := NewMaxPool("mp", "x", "y", c.kh, c.kw, c.a, 8)
	if err != nil {
		t.Fatal(err)
	}
	infos, err := p.Declare(m.graph)
	if err != nil {
		t.Fatal(err)
	}
	for i := range infos {
		m.graph.Tensors[infos[i].Name] = &infos[i]
	}
	m.graph.Kernels = append(m.graph.Kernels, p)
	m.kerns = append(m.kerns, p)
	ys := infos[0].Shape
	m.node(NewSumPool("sum", "y", "s", ys[2], ys[3], ConvAttrs{}), []int{ys[0], ys[1], 1, 1}, true)
	m.forward()
	return m, p
}

func TestMaxPool(t *testing.T) {
	for i, c := range poolCases {
		t.Run(c.String(), func(t *testing.T) {
			m, _ := maxPoolModel(t, c, uint64(120+i))
			_, want, _, _ := poolRef(m.values("x"), c.n, c.c, c.h, c.w, c.kh, c.kw, c.a)
			got := m.values("y")
			for j := range want {
				if got[j] != want[j] {
					t.Fatalf("y[%d] = %d, want %d", j, got[j], want[j])
				}
			}
			pub := m.public()
			for _, budget := range []int64{0, 4 << 20} {
				if _, err := gkr.Verify(m.graph, pub, m.prove(pub, budget)); err != nil {
					t.Fatalf("budget %d: honest proof rejected: %v", budget, err)
				}
			}
		})
	}
}

// cheatMaxPool rewrites Y with edit applied, then the tap differences D_t = In_t·(Y − X_t) and
// their multiplicities as an honest forward pass would for that Y (entries outside the table
// are left uncounted: no multiplicity can prove them).
func cheatMaxPool(t *testing.T, m *model, p *MaxPool, c poolCase, edit func(y, x []int64), diffs bool) {
	t.Helper()
	x, y := m.values("x"), m.values("y")
	edit(y, x)
	m.rewriteInts("y", y, tensorstore.Int64)
	if !diffs {
		return
	}
	a := p.a
	_, _, ho, wo := poolRef(x, c.n, c.c, c.h, c.w, c.kh, c.kw, c.a)
	padded := int64(1) << m.graph.Tensors["y"].NumVars()
	mult := make([]int64, 1<<p.bits) // the taps share one table and one count
	for tp := 0; tp < c.kh*c.kw; tp++ {
		u, v := tp/c.kw, tp%c.kw
		d := make([]int64, len(y))
		for pl := 0; pl < c.n*c.c; pl++ {
			for i := 0; i < ho; i++ {
				for j := 0; j < wo; j++ {
					r, q := a.StrideH*i+a.DilH*u-a.PadTop, a.StrideW*j+a.DilW*v-a.PadLeft
					k := (pl*ho+i)*wo + j
					if r >= 0 && r < c.h && q >= 0 && q < c.w {
						d[k] = y[k] - x[(pl*c.h+r)*c.w+q]
					}
					if d[k] >= 0 && d[k] < 1<<p.bits {
						mult[d[k]]++
					}
				}
			}
		}
		mult[0] += padded - int64(len(y))
		m.rewriteInts(p.diffName(tp), d, tensorstore.Int64)
	}
	m.rewriteInts(p.multName(), mult, tensorstore.Int64)
}

func TestMaxPoolSoundness(t *testing.T) {
	c := poolCases[0] // 3×3, stride 2, padding 1 on 7×5
	{
		m, _ := maxPoolModel(t, c, 200)
		pub := m.public()
		proof := m.prove(pub, 0)
		if _, err := gkr.Verify(m.graph, pub, proof); err != nil {
			t.Fatal(err)
		}
		// 64 flipped bytes spread over the proof (each verification checks many commitments)
		for i := 3; i < len(proof); i += len(proof)/64 + 1 {
			bad := append([]byte(nil), proof...)
			bad[i] ^= 1 << (i % 8)
			if _, err := gkr.Verify(m.graph, pub, bad); err == nil {
				t.Fatalf("proof with byte %d of %d flipped accepted", i, len(proof))
			}
		}
	}
	_, _, ho, wo := poolRef(make([]int64, c.n*c.c*c.h*c.w), c.n, c.c, c.h, c.w, c.kh, c.kw, c.a)
	pix := (1*ho+1)*wo + 1 // channel 1, output (1, 1): window rows 1..3, columns 1..3
	for _, cs := range []struct {
		what  string
		edit  func(y, x []int64)
		diffs bool
	}{
		{"a value that is not the max (an in-window value below it)", func(y, x []int64) {
			lowest := y[pix]
			for r := 1; r <= 3; r++ {
				for q := 1; q <= 3; q++ {
					lowest = min(lowest, x[(1*c.h+r)*c.w+q])
				}
			}
			y[pix] = lowest
		}, true},
		{"a max that is not in the window (larger than every tap)", func(y, x []int64) { y[pix] += 3 }, true},
		{"a max from outside the window", func(y, x []int64) {
			big := y[pix]
			for _, v := range x[c.h*c.w : 2*c.h*c.w] {
				big = max(big, v)
			}
			if big == y[pix] {
				big++
			}
			y[pix] = big
		}, true},
		{"a smaller max with the honest differences kept", func(y, x []int64) { y[pix]-- }, false},
	} {
		m, p := maxPoolModel(t, c, 200)
		pub := m.public()
		cheatMaxPool(t, m, p, c, cs.edit, cs.diffs)
		// the sum pool after it is recomputed from the cheated Y, so only the max pool is false
		fc := &ForwardCtx{Store: m.store, Graph: m.graph, Bounds: m.bounds, Write: tensorstore.WriteOptions{Replace: true}}
		if err := m.kerns[1].Forward(fc); err != nil {
			t.Fatal(err)
		}
		_, err := gkr.Verify(m.graph, pub, m.prove(pub, 0))
		reject(t, cs.what, err)
		t.Logf("%s: %v", cs.what, err)
	}
	// differences that are all zero at a pixel (zero product and range hold) but are not Y − X
	m, p := maxPoolModel(t, c, 201)
	pub := m.public()
	for tp := 0; tp < c.kh*c.kw; tp++ {
		d := m.values(p.diffName(tp))
		if d[pix] != 0 {
			mult := m.values(p.multName())
			mult[d[pix]]--
			mult[0]++
			d[pix] = 0
			m.rewriteInts(p.diffName(tp), d, tensorstore.Int64)
			m.rewriteInts(p.multName(), mult, tensorstore.Int64)
		}
	}
	_, err := gkr.Verify(m.graph, pub, m.prove(pub, 0))
	reject(t, "differences unrelated to X", err)
	t.Logf("differences unrelated to X: %v", err)
}
