package kernels

import (
	"fmt"
	"testing"
	"time"

	"github.com/streamprove/streamprove/gkr"
	"github.com/streamprove/streamprove/tensorstore"
)

// BenchmarkConv measures one conv layer's int64 forward pass and its whole proof (the kernel's
// two phases, the output's MLE and the weight's opening; the weight's commitment is excluded,
// done once per model) on the same store. Reported: forward_s/op, prove_s/op and
// prove_over_forward.
func BenchmarkConv(b *testing.B) {
	for _, c := range []convCase{
		{8, 64, 32, 32, 64, 3, 3, ConvAttrs{PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1}, true},
		{8, 128, 16, 16, 128, 3, 3, ConvAttrs{PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1}, true},
		{8, 32, 56, 56, 32, 3, 3, ConvAttrs{StrideH: 2, StrideW: 2, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1}, false},
	} {
		b.Run(fmt.Sprintf("B%d_C%d_K%d_%dx%d_s%d", c.n, c.c, c.k, c.h, c.w, max(c.a.StrideH, 1)), func(b *testing.B) {
			m := newModel(b, 3)
			m.chunk = 1 << 16
			m.data("x", gkr.Input, []int{c.n, c.c, c.h, c.w}, tensorstore.Int8)
			m.data("w", gkr.Weight, []int{c.k, c.c, c.kh, c.kw}, tensorstore.Int8)
			bias := ""
			if c.bias {
				bias = "b"
				m.data("b", gkr.Weight, []int{c.k}, tensorstore.Int32)
			}
			k := NewConv2D("conv", "x", "w", bias, "y", c.a)
			ys, err := ConvOutShape([]int{c.n, c.c, c.h, c.w}, []int{c.k, c.c, c.kh, c.kw}, k.a)
			if err != nil {
				b.Fatal(err)
			}
			m.node(k, ys, true)
			benchForwardProve(b, m)
		})
	}
}

func benchForwardProve(b *testing.B, m *model) {
	m.forward2()
	pub := m.public()
	var fwd, prv time.Duration
	for b.Loop() {
		t0 := time.Now()
		m.forward2()
		fwd += time.Since(t0)
		t1 := time.Now()
		m.prove(pub, 0)
		prv += time.Since(t1)
	}
	b.ReportMetric(fwd.Seconds()/float64(b.N), "forward_s/op")
	b.ReportMetric(prv.Seconds()/float64(b.N), "prove_s/op")
	b.ReportMetric(prv.Seconds()/fwd.Seconds(), "prove_over_forward")
}

// BenchmarkConvVsToeplitz proves one small conv layer twice: as conv2d, and unrolled into the
// dense Toeplitz linear layer a CNN needed before (X flattened to [N, C·H·W], the weight to
// [K·Ho·Wo, C·H·W]). Both include forward and proof; the Toeplitz weight's commitment, done once
// per model, is excluded from both, though it is 1152²/(8·8·9) = 2304× the conv's parameters.
func BenchmarkConvVsToeplitz(b *testing.B) {
	const n, c, h, w, k = 8, 8, 12, 12, 8
	a := ConvAttrs{PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1}
	b.Run("conv2d", func(b *testing.B) {
		m := newModel(b, 4)
		m.chunk = 1 << 16
		m.data("x", gkr.Input, []int{n, c, h, w}, tensorstore.Int8)
		m.data("w", gkr.Weight, []int{k, c, 3, 3}, tensorstore.Int8)
		m.node(NewConv2D("conv", "x", "w", "", "y", a), []int{n, k, h, w}, true)
		benchForwardProve(b, m)
	})
	b.Run("toeplitz_linear", func(b *testing.B) {
		m := newModel(b, 4)
		m.chunk = 1 << 16
		m.data("x", gkr.Input, []int{n, c * h * w}, tensorstore.Int8)
		m.data("wc", gkr.Input, []int{k, c, 3, 3}, tensorstore.Int8) // the conv's weights, to unroll
		wc := m.values("wc")
		in, out := c*h*w, k*h*w
		wt := make([]int64, out*in)
		for o := 0; o < k; o++ {
			for i := 0; i < h; i++ {
				for j := 0; j < w; j++ {
					row := wt[((o*h+i)*w+j)*in:]
					for ci := 0; ci < c; ci++ {
						for u := 0; u < 3; u++ {
							for v := 0; v < 3; v++ {
								r, q := i+u-1, j+v-1
								if r >= 0 && r < h && q >= 0 && q < w {
									row[(ci*h+r)*w+q] = wc[((o*c+ci)*3+u)*3+v]
								}
							}
						}
					}
				}
			}
		}
		m.graph.Tensors["w"] = &gkr.TensorInfo{Name: "w", Shape: []int{out, in}, Role: gkr.Weight}
		m.bounds["w"] = BoundForDType(tensorstore.Int8)
		m.rewriteInts("w", wt, tensorstore.Int8)
		delete(m.graph.Tensors, "wc")
		m.node(NewLinear("fc", "x", "w", "", "y"), []int{n, out}, true)
		benchForwardProve(b, m)
	})
}
