package sumcheck

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/streamprove/streamprove/field"
	"github.com/streamprove/streamprove/internal/procstat"
	"github.com/streamprove/streamprove/spill"
)

// benchClaim is Σ_x a(x)·b(x) over two random tables of 2^n elements (eq: times eq(p, x)).
func benchClaim(b *testing.B, n int, eq bool) *Claim {
	rng := rand.New(rand.NewPCG(uint64(n), 11))
	a, c := randElems(rng, 1<<n), randElems(rng, 1<<n)
	cl := &Claim{NumVars: n, Gate: Product(2), Sources: []field.Source{field.SliceSource(a), field.SliceSource(c)}}
	if eq {
		cl.Eq = []EqTerm{{Coeff: field.One(), Point: randElems(rng, n)}}
		cl.Sum = bruteSum(n, [][]field.Element{a, c}, cl.Gate, cl.Eq)
	} else {
		cl.Sum = field.InnerProduct(a, c)
	}
	return cl
}

// BenchmarkProve compares the in-memory prover with the streaming one (a budget of 1/16 of the
// tables, spill every SpillEvery rounds) on the same claim. Metrics: source elements read,
// spill bytes read and written per element of the claim (k·2^n), and the process's peak RSS.
func BenchmarkProve(b *testing.B) {
	sizes := benchSizes()
	for _, n := range sizes {
		for _, eq := range []bool{false, true} {
			if n > 22 && eq {
				continue
			}
			cl := benchClaim(b, n, eq)
			elems := float64(int64(2) << n)
			for _, mode := range []string{"ram", "stream-every1", "stream-every2", "stream-every3"} {
				b.Run(fmt.Sprintf("n=%d/eq=%v/%s", n, eq, mode), func(b *testing.B) {
					opt := Options{SpillDir: b.TempDir()}
					if mode != "ram" {
						fmt.Sscanf(mode, "stream-every%d", &opt.SpillEvery)
						opt.Budget = spill.NewBudget(int64(2<<n) * 32 / 16)
					}
					var st stats
					cpu0 := cpuSeconds()
					for i := 0; i < b.N; i++ {
						var err error
						_, _, st, err = prove(field.NewTranscript("bench"), cl, opt)
						if err != nil {
							b.Fatal(err)
						}
					}
					b.ReportMetric((cpuSeconds()-cpu0)/float64(b.N), "cpu-s/op")
					b.ReportMetric(float64(st.SourceElems)/elems, "src-reads/elem")
					b.ReportMetric(float64(st.SpillRead)/elems, "spill-B-read/elem")
					b.ReportMetric(float64(st.SpillWritten)/elems, "spill-B-written/elem")
					b.ReportMetric(float64(st.RAMFrom), "ram-from-round")
					if rss, err := procstat.PeakRSS(); err == nil {
						b.ReportMetric(float64(rss)/(1<<20), "peak-RSS-MiB")
					}
				})
			}
		}
	}
}

// cpuSeconds is the process's user+system CPU time: on a shared machine it is a steadier measure
// than wall time.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

// BenchmarkSmallValue compares the field path (SmallRounds < 0) with the small-value rounds for
// w = 2…4 on int8 sources that are not in RAM (generated), streaming under a budget of 1/16 of
// the tables, and the in-memory prover on the same values loaded as field elements. Set
// SUMCHECK_BENCH_LARGE=1 for n = 20, 22, 24.
func BenchmarkSmallValue(b *testing.B) {
	sizes := benchSizes()
	for _, n := range sizes {
		for _, eq := range []bool{false, true} {
			srcs := []field.Source{intGen{n: n, bits: 8, seed: 1}, intGen{n: n, bits: 8, seed: 2}}
			tabs := [][]field.Element{loadSource(b, srcs[0]), loadSource(b, srcs[1])}
			cl := &Claim{NumVars: n, Gate: Product(2), Sources: srcs}
			if eq {
				rng := rand.New(rand.NewPCG(uint64(n), 12))
				cl.Eq = []EqTerm{{Coeff: field.One(), Point: randElems(rng, n)}}
			}
			cl.Sum = bruteSum(n, tabs, cl.Gate, cl.Eq)
			mem := *cl
			mem.Sources = []field.Source{field.SliceSource(tabs[0]), field.SliceSource(tabs[1])}
			elems := float64(int64(2) << n)
			for _, mode := range []string{"ram", "field", "small-w2", "small-w3", "small-w4"} {
				b.Run(fmt.Sprintf("n=%d/eq=%v/%s", n, eq, mode), func(b *testing.B) {
					opt := Options{SpillDir: b.TempDir(), Budget: spill.NewBudget(int64(2<<n) * 32 / 16)}
					c := cl
					switch mode {
					case "ram":
						c, opt = &mem, Options{}
					case "field":
						opt.SmallRounds = -1
					default:
						fmt.Sscanf(mode, "small-w%d", &opt.SmallRounds)
					}
					var st stats
					cpu0 := cpuSeconds()
					for i := 0; i < b.N; i++ {
						var err error
						_, _, st, err = prove(field.NewTranscript("bench"), c, opt)
						if err != nil {
							b.Fatal(err)
						}
					}
					b.ReportMetric((cpuSeconds()-cpu0)/float64(b.N), "cpu-s/op")
					b.ReportMetric(float64(st.SourceElems)/elems, "src-reads/elem")
					b.ReportMetric(float64(st.IntElems)/elems, "int-reads/elem")
					b.ReportMetric(float64(st.SpillRead)/elems, "spill-B-read/elem")
					b.ReportMetric(float64(st.SpillWritten)/elems, "spill-B-written/elem")
					b.ReportMetric(float64(st.Passes), "passes")
					b.ReportMetric(float64(st.SmallRounds), "small-rounds")
					if testing.Verbose() {
						for _, l := range st.PassLog {
							b.Log(l)
						}
					}
				})
			}
		}
	}
}

// benchSizes is 16 and 20 by default, 20, 22 and 24 with SUMCHECK_BENCH_LARGE=1, or the list in
// SUMCHECK_BENCH_SIZES (e.g. "26").
func benchSizes() []int {
	if v := os.Getenv("SUMCHECK_BENCH_SIZES"); v != "" {
		var out []int
		for _, f := range strings.Split(v, ",") {
			if n, err := strconv.Atoi(strings.TrimSpace(f)); err == nil {
				out = append(out, n)
			}
		}
		return out
	}
	if os.Getenv("SUMCHECK_BENCH_LARGE") != "" {
		return []int{20, 22, 24}
	}
	return []int{16, 20}
}
