package pcs

import (
	"fmt"
	"math/rand/v2"
	"syscall"
	"testing"

	"github.com/consensys/gnark-crypto/ecc"
	"github.com/consensys/gnark-crypto/ecc/bn254"

	"github.com/streamprove/streamprove/field"
)

var benchKinds = []string{"int8", "int16", "random"}

// BenchmarkCommit reports commit throughput (elements/s) for the data kinds of a quantized model.
func BenchmarkCommit(b *testing.B) {
	for _, n := range []int{20, 22, 24} {
		for _, kind := range benchKinds {
			if kind == "random" && n > 20 {
				continue // ~7 µs per element: minutes per op; the rate does not change with n
			}
			b.Run(fmt.Sprintf("n=%d/%s", n, kind), func(b *testing.B) {
				src := testVector(rand.New(rand.NewPCG(1, uint64(n))), kind, n)
				if _, err := generators((n + 1) / 2); err != nil {
					b.Fatal(err)
				}
				b.SetBytes(int64(len(src)) * field.Bytes)
				b.ResetTimer()
				cpu0 := cpuTime()
				for i := 0; i < b.N; i++ {
					if _, err := Commit(src, Options{}); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(len(src))*float64(b.N)/b.Elapsed().Seconds(), "elem/s")
				// CPU time per element is what to compare on a shared machine, where wall time
				// depends on the neighbours' load.
				b.ReportMetric(float64(cpuTime()-cpu0)/float64(len(src))/float64(b.N), "cpu-ns/elem")
			})
		}
	}
}

// BenchmarkRowMSM compares what commitRow does ("pcs": the small MSM, or msmWide for wide rows),
// the mixed-Jacobian reference, msmWide alone, and gnark-crypto's MultiExp on the same row of
// 2^12 points (one row of a 2^24-element commitment), one goroutine each.
func BenchmarkRowMSM(b *testing.B) {
	const logM = 12
	gens, err := generators(logM)
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(5, 5))
	for _, kind := range []string{"int8", "uint8", "int16", "int32", "int62", "random"} {
		row := make([]field.Element, 1<<logM)
		for j := range row {
			switch kind {
			case "int8":
				row[j] = field.NewInt(int64(rng.IntN(256)) - 128)
			case "uint8":
				row[j] = field.NewInt(int64(rng.IntN(256)))
			case "int16":
				row[j] = field.NewInt(int64(rng.IntN(65536)) - 32768)
			case "int32":
				row[j] = field.NewInt(int64(rng.Int32()) - 1<<30)
			case "int62":
				row[j] = field.NewInt(rng.Int64N(1<<62) - 1<<61)
			default:
				row[j] = randElement(rng)
			}
		}
		b.Run(kind+"/pcs", func(b *testing.B) {
			w := newRowWorker(logM)
			var p bn254.G1Affine
			for i := 0; i < b.N; i++ {
				w.commitRow(&p, gens, row)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(row)), "ns/point")
		})
		b.Run(kind+"/jacobian", func(b *testing.B) {
			s := make([]int64, len(row))
			var or uint64
			for j := range row {
				v, ok := smallInt(&row[j])
				if !ok {
					b.Skip("not small")
				}
				s[j] = v
				if v < 0 {
					v = -v
				}
				or |= uint64(v)
			}
			nb := 0
			for or>>nb != 0 {
				nb++
			}
			buckets := make([]bn254.G1Jac, 1<<maxWindow(logM))
			var res bn254.G1Jac
			for i := 0; i < b.N; i++ {
				msmSmallJacobian(&res, gens, s, nb, buckets, maxWindow(logM))
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(row)), "ns/point")
		})
		b.Run(kind+"/wide", func(b *testing.B) {
			sc := newMSMScratch(logM, maxWindow(logM))
			var res bn254.G1Jac
			for i := 0; i < b.N; i++ {
				msmWide(&res, gens, row, sc, maxWindow(logM))
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(row)), "ns/point")
		})
		// The other candidate of DESIGN §10: MultiExp of |x| against ±G (negatives against −G).
		b.Run(kind+"/abs-multiexp", func(b *testing.B) {
			pts := make([]bn254.G1Affine, len(row))
			abs := make([]field.Element, len(row))
			for j := range row {
				v, ok := smallInt(&row[j])
				if !ok {
					b.Skip("not small")
				}
				pts[j] = gens[j]
				if v < 0 {
					pts[j].Neg(&pts[j])
					v = -v
				}
				abs[j].SetUint64(uint64(v))
			}
			var p bn254.G1Affine
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := p.MultiExp(pts, abs, ecc.MultiExpConfig{NbTasks: 1}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(row)), "ns/point")
		})
		b.Run(kind+"/multiexp", func(b *testing.B) {
			var p bn254.G1Affine
			for i := 0; i < b.N; i++ {
				if _, err := p.MultiExp(gens, row, ecc.MultiExpConfig{NbTasks: 1}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(row)), "ns/point")
		})
	}
}

// BenchmarkOpenVerify times one opening and its verification, and reports the sizes of the
// commitment and the proof against N.
func BenchmarkOpenVerify(b *testing.B) {
	for _, n := range []int{16, 20, 22} {
		rng := rand.New(rand.NewPCG(7, uint64(n)))
		src := testVector(rng, "int8", n)
		com, err := Commit(src, Options{})
		if err != nil {
			b.Fatal(err)
		}
		point := randPoint(rng, n)
		v, err := field.EvalSlice(src, point, nil)
		if err != nil {
			b.Fatal(err)
		}
		claims := []Claim{{Commitment: com, Source: src, Point: point, Value: v}}
		op, err := Open(newTr(), claims, Options{})
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("open/n=%d", n), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if _, err := Open(newTr(), claims, Options{}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(src))*float64(b.N)/b.Elapsed().Seconds(), "elem/s")
		})
		vc := verifierClaims(claims)
		b.Run(fmt.Sprintf("verify/n=%d", n), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if err := Verify(newTr(), vc, op); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(com.AppendBinary(nil))), "commit-bytes")
			b.ReportMetric(float64(len(op.AppendBinary(nil))), "proof-bytes")
		})
	}
}

// BenchmarkGenerators times deriving 2^12 generators by hash-to-curve (cold cache).
func BenchmarkGenerators(b *testing.B) {
	for i := 0; i < b.N; i++ {
		genCache.mu.Lock()
		genCache.pts = nil
		genCache.mu.Unlock()
		if _, err := generators(12); err != nil {
			b.Fatal(err)
		}
	}
}

// cpuTime returns the process's user+system CPU time in nanoseconds.
func cpuTime() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
