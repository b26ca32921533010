package kernels

import (
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/streamprove/streamprove/gkr"
	"github.com/streamprove/streamprove/tensorstore"
)

// BenchmarkGatherIDs proves an embedding (V = 32000 rows, D = GATHER_BENCH_D columns, default
// 256; T = GATHER_BENCH_T tokens, default 8) followed by a small linear head, with public ids and
// with private ids (the one-hot advice, its commitment, booleanity and openings on top), and
// reports the prove's CPU (user + system) and wall time and the proof's size. The private ids'
// extra work is T·V and does not depend on D; W's streaming (V·D) is the same in both. The
// weights' commitment is outside the timings.
func BenchmarkGatherIDs(b *testing.B) {
	env := func(k string, d int) int {
		if v, err := strconv.Atoi(os.Getenv(k)); err == nil && v > 0 {
			return v
		}
		return d
	}
	V, D, T, O := 32000, env("GATHER_BENCH_D", 256), env("GATHER_BENCH_T", 8), 4
	for _, private := range []bool{false, true} {
		name := "public"
		if private {
			name = "private"
		}
		b.Run(name, func(b *testing.B) {
			m := newModel(b, 77)
			m.chunk = 1 << 16
			m.data("w", gkr.Weight, []int{V, D}, tensorstore.Int8)
			m.data("w2", gkr.Weight, []int{O, D}, tensorstore.Int8)
			ids := testIDs(V, T)
			g := NewGather("embed", "w", "ids", "e")
			if private {
				m.ints("ids", gkr.PrivateInput, []int{T}, tensorstore.Int32, ids)
				g = NewGatherPrivate("embed", "w", "ids", "e")
				infos, _ := g.Declare(m.graph)
				m.graph.Tensors[infos[0].Name] = &infos[0]
			} else {
				m.ints("ids", gkr.Input, []int{T}, tensorstore.Int32, ids)
			}
			m.graph.Tensors["e"] = &gkr.TensorInfo{Name: "e", Shape: []int{T, D}, Role: gkr.Intermediate}
			m.graph.Kernels = append(m.graph.Kernels, g)
			m.kerns = append(m.kerns, g)
			m.node(NewLinear("head", "e", "w2", "", "y"), []int{T, O}, true)
			m.forward()
			pub := m.public()
			var cpu, wall time.Duration
			var size int
			for b.Loop() {
				w := &StoreWitness{Store: m.store}
				c0, t0 := processCPU(), time.Now()
				proof, err := gkr.Prove(m.graph, w, pub, gkr.Options{})
				cpu += processCPU() - c0
				wall += time.Since(t0)
				w.Close()
				if err != nil {
					b.Fatal(err)
				}
				if _, err := gkr.Verify(m.graph, pub, proof); err != nil {
					b.Fatal(err)
				}
				size = len(proof)
			}
			b.ReportMetric(cpu.Seconds()/float64(b.N), "prove_cpu_s/op")
			b.ReportMetric(wall.Seconds()/float64(b.N), "prove_wall_s/op")
			b.ReportMetric(float64(size), "proof_bytes")
		})
	}
}
