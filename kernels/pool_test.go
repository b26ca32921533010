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
