package kernels

import (
	"fmt"
	"math/big"
	"math/rand/v2"
	"syscall"
	"testing"
	"time"

	"github.com/streamprove/streamprove/gkr"
	"github.com/streamprove/streamprove/internal/childtest"
	"github.com/streamprove/streamprove/internal/procstat"
	"github.com/streamprove/streamprove/pcs"
	"github.com/streamprove/streamprove/spill"
	"github.com/streamprove/streamprove/sumcheck"
	"github.com/streamprove/streamprove/tensorstore"
)

// bigInput writes an input tensor of n = rows·cols int32 values, streamed in chunks.
func bigInput(s *tensorstore.Store, name string, rows, cols int, seed uint64, gen func(r *rand.Rand) int64) (*gkr.TensorInfo, error) {
	w, err := s.Create(name, []int{rows, cols}, tensorstore.Int32, tensorstore.WriteOptions{ChunkElems: 1 << 12})
	if err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(seed, seed+1))
	buf := make([]int64, cols)
	for r := 0; r < rows; r++ {
		for i := range buf {
			buf[i] = gen(rng)
		}
		if err := w.WriteInt64s(buf); err != nil {
			return nil, err
		}
	}
	if _, err := w.Commit(); err != nil {
		return nil, err
	}
	return &gkr.TensorInfo{Name: name, Shape: []int{rows, cols}, Role: gkr.Input}, nil
}

// stepTimes records the wall time of each step of a gkr.Prove through its Progress callback,
// and the process's CPU time (user + system) in cpu: on a shared machine wall times of one
// process vary with the load, its CPU time much less.
type stepTimes struct {
	last    time.Time
	lastCPU time.Duration
	step    string
	times   map[string]time.Duration
	cpu     map[string]time.Duration
}

// processCPU returns the process's user + system CPU time.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func (st *stepTimes) progress(step string, done, total int) {
	now, cpu := time.Now(), processCPU()
	if st.cpu == nil {
		st.cpu = map[string]time.Duration{}
	}
	if st.step != "" {
		st.times[st.step] += now.Sub(st.last)
		st.cpu[st.step] += cpu - st.lastCPU
		if childtest.IsChild() {
			hwm, _ := procstat.PeakRSS()
			fmt.Printf("REPORT after %s: VmHWM %s\n", st.step, spill.FormatBytes(hwm))
		}
	}
	st.step, st.last, st.lastCPU = step, now, cpu
}

// lookupGraph builds x (input, rows×cols) → kernel → advice, with nothing consuming y.
func lookupGraph(s *tensorstore.Store, op string, rows, cols int, budget *spill.Budget) (*gkr.Graph, error) {
	var gen func(*rand.Rand) int64
	var k *Lookup
	var err error
	switch op {
	case "relu":
		gen = func(r *rand.Rand) int64 { return r.Int64N(256) - 128 }
		k, err = NewReLU(op, "x", "y", 8)
	case "requant_relu":
		gen = func(r *rand.Rand) int64 { return r.Int64N(1<<20) - 1<<19 }
		k, err = NewRequantReLU(op, "x", "y", 8, 8)
	case "requant":
		gen = func(r *rand.Rand) int64 { return r.Int64N(1<<20) - 1<<19 }
		k, err = NewRequant(op, "x", "y", 8, 8)
	case "range":
		gen = func(r *rand.Rand) int64 { return r.Int64N(1<<16) - 1<<15 }
		k, err = NewRange(op, "x", -1<<15, 1<<15)
	}
	if err != nil {
		return nil, err
	}
	ti, err := bigInput(s, "x", rows, cols, 7, gen)
	if err != nil {
		return nil, err
	}
	g := &gkr.Graph{Name: op, Tensors: map[string]*gkr.TensorInfo{"x": ti}, Kernels: []gkr.Kernel{k}}
	infos, err := k.Declare(g)
	if err != nil {
		return nil, err
	}
	for i := range infos {
		g.Tensors[infos[i].Name] = &infos[i]
	}
	fc := &ForwardCtx{Store: s, Graph: g, Budget: budget, Bounds: map[string]*big.Int{"x": BoundForDType(tensorstore.Int32)},
		Write: tensorstore.WriteOptions{ChunkElems: 1 << 12}, ChunkElems: 1 << 12}
	if err := k.Forward(fc); err != nil {
		return nil, err
	}
	return g, nil
}

// proveLookupGraph proves and verifies g and reports the time per step and the proof size.
func proveLookupGraph(s *tensorstore.Store, g *gkr.Graph, budget *spill.Budget, dir string) (*stepTimes, []byte, error) {
	w := &StoreWitness{Store: s, Budget: budget}
	defer w.Close()
	st := &stepTimes{times: map[string]time.Duration{}}
	opt := gkr.Options{Sumcheck: sumcheck.Options{Budget: budget, SpillDir: dir}, PCS: pcs.Options{Budget: budget}, Progress: st.progress}
	proof, err := gkr.Prove(g, w, gkr.Public{Inputs: w, Commitments: map[string]*pcs.Commitment{}}, opt)
	if err != nil {
		return nil, nil, err
	}
	st.progress("", 0, 0)
	start := time.Now()
	if _, err := gkr.Verify(g, gkr.Public{Inputs: w, Commitments: map[string]*pcs.Commitment{}}, proof); err != nil {
		return nil, nil, fmt.Errorf("verify: %w", err)
	}
	st.times["verify"] = time.Since(start)
	return st, proof, nil
}

// lookupKernelBytes is the size of a lookup core's messages in a proof over 2^n elements:
// roots, then the witness GKR (layer k: k rounds of 3 elements and the finals; after the last,
// the tensors' half values — quarter values for a packed core, whose trees have n−1 layers),
// then each table GKR.
func lookupKernelBytes(core *lookupCore, n int) int {
	trees, nt := len(core.args), len(core.tensors)
	e := 4 * trees // roots
	d := n
	if n == 0 {
		e = nt + 2*trees
	} else {
		d = core.depth(n)
	}
	for k := 0; k < d; k++ {
		e += 3 * k
		if k == d-1 {
			e += 2*trees + core.parts()*nt
		} else {
			e += 4 * trees
		}
	}
	for _, a := range core.args {
		for k := 0; k < a.tab.logSize; k++ {
			e += 3*k + 4
		}
	}
	return 32 * e
}

func benchLookup(b *testing.B, op string, logN int) { benchLookupUnder(b, op, logN, 0) }

// benchLookupUnder is benchLookup with the prove under a ledger of ledger bytes (0: unlimited),
// readers included.
func benchLookupUnder(b *testing.B, op string, logN int, ledger int64) {
	s, err := tensorstore.Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	rows := 1 << (logN / 2)
	g, err := lookupGraph(s, op, rows, 1<<logN/rows, nil)
	if err != nil {
		b.Fatal(err)
	}
	N := float64(int64(1) << logN)
	var kern, commit, open, verify, total, cpu, kernCPU, commitCPU time.Duration
	var proof []byte
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		var bud *spill.Budget
		if ledger > 0 {
			bud = spill.NewBudget(ledger)
		}
		st, p, err := proveLookupGraph(s, g, bud, b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		total += time.Since(start)
		proof = p
		for step, d := range st.cpu {
			cpu += d
			switch {
			case step == op:
				kernCPU += d
			case len(step) > 6 && step[:6] == "commit":
				commitCPU += d
			}
		}
		for step, d := range st.times {
			switch {
			case step == op:
				kern += d
			case step == "opening":
				open += d
			case step == "verify":
				verify += d
			case len(step) > 6 && step[:6] == "commit":
				commit += d
			}
		}
	}
	n := float64(b.N)
	b.ReportMetric(float64(verify.Milliseconds())/n, "verify-ms")
	// commitment bytes: parse the advice commitments after the header
	off := 4 + 2 + 32 + 32
	for range g.Names(gkr.Advice) {
		_, rest, err := pcs.DecodeCommitment(proof[off:])
		if err != nil {
			b.Fatal(err)
		}
		off = len(proof) - len(rest)
	}
	comBytes := off - 70
	kb := lookupKernelBytes(g.Kernels[0].(*Lookup).coreOf(g), logN)
	b.ReportMetric(float64(cpu.Nanoseconds())/n/N, "prove-cpu-ns/elem")
	b.ReportMetric(float64(kernCPU.Nanoseconds())/n/N, "kernel-cpu-ns/elem")
	b.ReportMetric(float64(commitCPU.Nanoseconds())/n/N, "commit-cpu-ns/elem")
	b.ReportMetric(float64(kern.Nanoseconds())/n/N, "kernel-ns/elem")
	b.ReportMetric(float64(commit.Nanoseconds())/n/N, "commit-ns/elem")
	b.ReportMetric(float64(open.Nanoseconds())/n/N, "open-ns/elem")
	b.ReportMetric(100*float64(commit+open)/float64(kern+commit+open), "pcs-%")
	b.ReportMetric(float64(len(proof)), "proof-B")
	b.ReportMetric(float64(comBytes), "commit-B")
	b.ReportMetric(float64(kb), "kernel-B")
	b.ReportMetric(float64(len(proof)-70-comBytes-kb), "opening-B")
}

// BenchmarkLookupProve measures a lookup kernel's prove time per looked-up element (the
// kernel's messages alone, the advice commitments, the final opening) and its proof bytes.
func BenchmarkLookupProve(b *testing.B) {
	for _, op := range []string{"relu", "requant", "requant_relu", "range"} {
		for _, logN := range []int{16, 20} {
			b.Run(fmt.Sprintf("%s/2^%d", op, logN), func(b *testing.B) { benchLookup(b, op, logN) })
		}
	}
}

// BenchmarkLookupProveSpill is BenchmarkLookupProve under the ledger --mem-budget 48MiB gives
// (spill.LedgerFor): the trees no longer fit in RAM and live in spill files, so this measures
// what the spill path costs per element against the in-RAM figures above.
func BenchmarkLookupProveSpill(b *testing.B) {
	ledger, err := spill.LedgerFor(48 << 20)
	if err != nil {
		b.Fatal(err)
	}
	for _, op := range []string{"relu", "requant_relu"} {
		b.Run(fmt.Sprintf("%s/2^20", op), func(b *testing.B) { benchLookupUnder(b, op, 20, ledger) })
	}
}

// BenchmarkLinearProve is the reference: the linear kernel's prove time per element of X and W
// it streams (its weight commitment is made once per model, not per proof).
func BenchmarkLinearProve(b *testing.B) {
	for _, c := range []struct{ batch, in, out int }{{16, 1024, 1024}, {256, 1024, 256}} {
		b.Run(fmt.Sprintf("%dx%dx%d", c.batch, c.in, c.out), func(b *testing.B) {
			s, err := tensorstore.Open(b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			x, err := bigInput(s, "x", c.batch, c.in, 1, func(r *rand.Rand) int64 { return r.Int64N(256) - 128 })
			if err != nil {
				b.Fatal(err)
			}
			w, err := bigInput(s, "w", c.out, c.in, 2, func(r *rand.Rand) int64 { return r.Int64N(256) - 128 })
			if err != nil {
				b.Fatal(err)
			}
			w.Role = gkr.Weight
			k := NewLinear("fc", "x", "w", "", "y")
			g := &gkr.Graph{Name: "lin", Tensors: map[string]*gkr.TensorInfo{"x": x, "w": w,
				"y": {Name: "y", Shape: []int{c.batch, c.out}, Role: gkr.Output}}, Kernels: []gkr.Kernel{k}}
			fc := &ForwardCtx{Store: s, Graph: g, Bounds: map[string]*big.Int{"x": big.NewInt(128), "w": big.NewInt(128)}}
			if err := k.Forward(fc); err != nil {
				b.Fatal(err)
			}
			wit := &StoreWitness{Store: s}
			defer wit.Close()
			src, _ := wit.Source("w")
			com, err := pcs.Commit(src, pcs.Options{})
			if err != nil {
				b.Fatal(err)
			}
			pub := gkr.Public{Inputs: wit, Commitments: map[string]*pcs.Commitment{"w": com}}
			var kern time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				st := &stepTimes{times: map[string]time.Duration{}}
				if _, err := gkr.Prove(g, wit, pub, gkr.Options{Progress: st.progress}); err != nil {
					b.Fatal(err)
				}
				st.progress("", 0, 0)
				kern += st.times["fc"]
			}
			elems := float64(c.batch*c.in + c.out*c.in)
			b.ReportMetric(float64(kern.Nanoseconds())/float64(b.N)/elems, "kernel-ns/elem")
			b.ReportMetric(float64(kern.Nanoseconds())/float64(b.N)/float64(c.batch*c.out), "kernel-ns/out-elem")
		})
	}
}

// BenchmarkQuantizedMLP proves a 3-layer int8 MLP (linear → requant_relu → linear →
// requant_relu → linear) and splits the prove time between the linear kernels, the lookup
// kernels and the pcs work the lookups cause (advice commitments, the final opening).
func BenchmarkQuantizedMLP(b *testing.B) {
	for _, c := range []struct{ batch, width int }{{64, 1024}, {256, 512}} {
		b.Run(fmt.Sprintf("%dx%d", c.batch, c.width), func(b *testing.B) {
			s, err := tensorstore.Open(b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			int8s := func(r *rand.Rand) int64 { return r.Int64N(256) - 128 }
			g := &gkr.Graph{Name: "mlp", Tensors: map[string]*gkr.TensorInfo{}}
			bounds := map[string]*big.Int{}
			for i, name := range []string{"x", "w1", "w2", "w3"} {
				rows := c.width
				if name == "x" {
					rows = c.batch
				}
				ti, err := bigInput(s, name, rows, c.width, uint64(i), int8s)
				if err != nil {
					b.Fatal(err)
				}
				if name != "x" {
					ti.Role = gkr.Weight
				}
				g.Tensors[name] = ti
				bounds[name] = big.NewInt(128)
			}
			hs := []int{c.batch, c.width}
			var ks []Kernel
			add := func(k Kernel, out string, role gkr.Role) {
				ks = append(ks, k)
				g.Kernels = append(g.Kernels, k)
				if l, ok := k.(*Lookup); ok {
					for _, ti := range l.OutputInfos(hs) {
						g.Tensors[ti.Name] = &ti
					}
					return
				}
				g.Tensors[out] = &gkr.TensorInfo{Name: out, Shape: hs, Role: role}
			}
			act := func(name, x, y string) {
				l, err := NewRequantReLU(name, x, y, 10, 8)
				if err != nil {
					b.Fatal(err)
				}
				add(l, y, gkr.Advice)
			}
			add(NewLinear("fc1", "x", "w1", "", "h1"), "h1", gkr.Intermediate)
			act("act1", "h1", "a1")
			add(NewLinear("fc2", "a1", "w2", "", "h2"), "h2", gkr.Intermediate)
			act("act2", "h2", "a2")
			add(NewLinear("fc3", "a2", "w3", "", "y"), "y", gkr.Output)
			fc := &ForwardCtx{Store: s, Graph: g, Bounds: bounds, Write: tensorstore.WriteOptions{ChunkElems: 1 << 14}}
			for _, k := range ks {
				if err := k.Forward(fc); err != nil {
					b.Fatal(err)
				}
			}
			wit := &StoreWitness{Store: s}
			defer wit.Close()
			cm := map[string]*pcs.Commitment{}
			for _, w := range []string{"w1", "w2", "w3"} {
				src, _ := wit.Source(w)
				if cm[w], err = pcs.Commit(src, pcs.Options{}); err != nil {
					b.Fatal(err)
				}
			}
			pub := gkr.Public{Inputs: wit, Commitments: cm}
			var lin, look, commit, open, total time.Duration
			var size int
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				st := &stepTimes{times: map[string]time.Duration{}}
				start := time.Now()
				proof, err := gkr.Prove(g, wit, pub, gkr.Options{Progress: st.progress})
				if err != nil {
					b.Fatal(err)
				}
				total += time.Since(start)
				st.progress("", 0, 0)
				size = len(proof)
				for step, d := range st.times {
					switch {
					case step[:2] == "fc":
						lin += d
					case step[:3] == "act":
						look += d
					case step == "opening":
						open += d
					case len(step) > 6 && step[:6] == "commit":
						commit += d
					}
				}
				if _, err := gkr.Verify(g, pub, proof); err != nil {
					b.Fatal(err)
				}
			}
			n := float64(b.N)
			acts := float64(2 * c.batch * c.width)
			weights := float64(3 * c.width * c.width)
			b.ReportMetric(float64(lin.Nanoseconds())/n/weights, "linear-ns/weight")
			b.ReportMetric(float64(look.Nanoseconds())/n/acts, "lookup-ns/act")
			b.ReportMetric(100*float64(look)/float64(total), "lookup-%")
			b.ReportMetric(100*float64(commit)/float64(total), "advice-commit-%")
			b.ReportMetric(100*float64(open)/float64(total), "opening-%")
			b.ReportMetric(float64(size), "proof-B")
		})
	}
}
