package kernels

import (
	"fmt"
	"testing"
	"time"

	"github.com/streamprove/streamprove/gkr"
	"github.com/streamprove/streamprove/tensorstore"
)

// BenchmarkLinear measures one linear layer's forward pass and proof side by side on the same
// store: the proof (two streaming passes and a sumcheck over I) should cost less than the
// matmul itself once the layer is large. Reported: forward and prove seconds per op and their
// ratio (prove_over_forward). Weight commitment is excluded (done once per model).
func BenchmarkLinear(b *testing.B) {
	for _, c := range []struct{ batch, in, out int }{{1, 2048, 2048}, {16, 2048, 2048}, {64, 4096, 4096}} {
		b.Run(fmt.Sprintf("B%d_I%d_O%d", c.batch, c.in, c.out), func(b *testing.B) {
			m := newModel(b, 1)
			m.chunk = 1 << 16
			m.data("x", gkr.Input, []int{c.batch, c.in}, tensorstore.Int8)
			m.data("w", gkr.Weight, []int{c.out, c.in}, tensorstore.Int8)
			m.node(NewLinear("fc", "x", "w", "", "y"), []int{c.batch, c.out}, true)
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
		})
	}
}
