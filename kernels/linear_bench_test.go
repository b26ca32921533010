package kernels

import (
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/streamprove/streamprove/gkr"
	"github.com/streamprove/streamprove/tensorstore"
)

// BenchmarkLinear measures one linear layer's forward pass and proof side by side on the same
// store: the proof (two streaming passes and a sumcheck over I) should cost less than the
// matmul itself once the layer is large. Reported: forward and prove seconds per op and their
// ratio (prove_over_forward), and the process CPU time per stored weight of each (on a shared
// machine wall times vary with the load, CPU time much less). Weight commitment is excluded
// (done once per model). STREAMPROVE_LINEAR_SHAPE=B,I,O (e.g. 8,4096,11008) runs that one
// shape instead of the default set; the proof then runs under a 1 GiB budget like production.
func BenchmarkLinear(b *testing.B) {
	type shape struct{ batch, in, out int }
	shapes := []shape{{1, 2048, 2048}, {16, 2048, 2048}, {64, 4096, 4096}}
	var budget int64
	if s := os.Getenv("STREAMPROVE_LINEAR_SHAPE"); s != "" {
		var c shape
		if _, err := fmt.Sscanf(s, "%d,%d,%d", &c.batch, &c.in, &c.out); err != nil {
			b.Fatalf("STREAMPROVE_LINEAR_SHAPE=%q: want B,I,O: %v", s, err)
		}
		shapes, budget = []shape{c}, 1<<30
	}
	for _, c := range shapes {
		b.Run(fmt.Sprintf("B%d_I%d_O%d", c.batch, c.in, c.out), func(b *testing.B) {
			m := newModel(b, 1)
			m.chunk = 1 << 16
			m.data("x", gkr.Input, []int{c.batch, c.in}, tensorstore.Int8)
			m.data("w", gkr.Weight, []int{c.out, c.in}, tensorstore.Int8)
			m.node(NewLinear("fc", "x", "w", "", "y"), []int{c.batch, c.out}, true)
			pub := m.public()
			var fwd, prv, fwdCPU, prvCPU time.Duration
			for b.Loop() {
				t0, c0 := time.Now(), processCPU()
				m.forward2()
				t1, c1 := time.Now(), processCPU()
				m.prove(pub, budget)
				prv += time.Since(t1)
				prvCPU += processCPU() - c1
				fwd += t1.Sub(t0)
				fwdCPU += c1 - c0
			}
			n := float64(b.N)
			weights := float64(c.in) * float64(c.out) * n
			b.ReportMetric(fwd.Seconds()/n, "forward_s/op")
			b.ReportMetric(prv.Seconds()/n, "prove_s/op")
			b.ReportMetric(prv.Seconds()/fwd.Seconds(), "prove_over_forward")
			b.ReportMetric(float64(fwdCPU.Nanoseconds())/weights, "forward_cpu_ns/weight")
			b.ReportMetric(float64(prvCPU.Nanoseconds())/weights, "prove_cpu_ns/weight")
		})
	}
}
