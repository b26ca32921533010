package kernels

import (
	"testing"
	"time"

	"github.com/streamprove/streamprove/gkr"
	"github.com/streamprove/streamprove/spill"
	"github.com/streamprove/streamprove/sumcheck"
)

// BenchmarkTransformerProve proves small transformer graphs and reports the prove time per
// element of the kernel's main tensor (scores for softmax and matmul, the input otherwise).
func BenchmarkTransformerProve(b *testing.B) {
	cases := []struct {
		name  string
		elems int64
		build func(b *testing.B) *model
	}{
		{"softmax_causal_4x128x128", 4 * 128 * 128, func(b *testing.B) *model {
			m, _ := attnModel(b, []int{4, 128, 128}, 8, 8, true, 1500)
			return m
		}},
		{"matmul_qk_pv_4x256x256_d16", 4 * 256 * 256, func(b *testing.B) *model { return attentionModel(b, []int{4}, 256, 16) }},
		{"silu_mul_256x256", 256 * 256, func(b *testing.B) *model {
			m, _ := swigluModel(b, "silu", []int{256, 256}, 16, 10)
			return m
		}},
		{"rmsnorm_64x1024", 64 * 1024, func(b *testing.B) *model {
			m, _ := normModel(b, 64, 1024, 12, 1)
			return m
		}},
	}
	defer func(c int) { testChunk = c }(testChunk)
	testChunk = 1 << 14
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			m := c.build(b)
			pub := m.public()
			w := &StoreWitness{Store: m.store}
			defer w.Close()
			b.ResetTimer()
			var total time.Duration
			for i := 0; i < b.N; i++ {
				start := time.Now()
				if _, err := gkr.Prove(m.graph, w, pub, gkr.Options{Sumcheck: sumcheck.Options{Budget: spill.NewBudget(0)}}); err != nil {
					b.Fatal(err)
				}
				total += time.Since(start)
			}
			b.ReportMetric(float64(total.Nanoseconds())/float64(b.N)/float64(c.elems), "ns/elem")
		})
	}
}
