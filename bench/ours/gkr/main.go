// Command gkr proves and verifies the MiMC-style data-parallel circuit of kernels.MiMCCircuit
// (x_{i+1} = (x_i + key + k_i)^7 over -rounds rounds, y = x_R + key) over 2^n instances with
// streamprove: the inputs are written to a store in a temporary directory, the forward pass
// streams the wires to disk, and the proof runs under a memory budget (-mem-budget, default
// 512MiB, with the Go GC limit set from it). It prints one JSON line with the times and the
// process's peak RSS. It is our side of bench/peers/run.sh gkr (the peer side is
// bench/peers/gkr, gnark-crypto v0.14.0's in-memory GKR on the same circuit and instances).
package main

import (
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"math/big"
	"os"
	"runtime"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/streamprove/streamprove/field"
	"github.com/streamprove/streamprove/gkr"
	"github.com/streamprove/streamprove/internal/procstat"
	"github.com/streamprove/streamprove/kernels"
	"github.com/streamprove/streamprove/spill"
	"github.com/streamprove/streamprove/sumcheck"
	"github.com/streamprove/streamprove/tensorstore"
)

// splitmix64 and gen are shared with the peer program: instance i of input seed is
// gen(seed, i), so both sides prove the same instances.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

func gen(seed, i uint64) field.Element {
	var a, b field.Element
	a.SetUint64(splitmix64(seed<<40 ^ 2*i))
	b.SetUint64(splitmix64(seed<<40 ^ (2*i + 1)))
	a.Mul(&a, &b)
	return a
}

func fail(what string, err error) {
	fmt.Fprintf(os.Stderr, "gkr: %s: %v\n", what, err)
	os.Exit(1)
}

func writeInput(s *tensorstore.Store, name string, seed uint64, n int) {
	w, err := s.Create(name, []int{n}, tensorstore.Field, tensorstore.WriteOptions{})
	if err != nil {
		fail("create "+name, err)
	}
	buf := make([]field.Element, 1<<14)
	for off := 0; off < n; off += len(buf) {
		m := min(len(buf), n-off)
		for i := 0; i < m; i++ {
			buf[i] = gen(seed, uint64(off+i))
		}
		if err := w.WriteElements(buf[:m]); err != nil {
			fail("write "+name, err)
		}
	}
	if _, err := w.Commit(); err != nil {
		fail("commit "+name, err)
	}
}

func main() {
	logN := flag.Int("n", 16, "log2 of the number of instances")
	rounds := flag.Int("rounds", 16, "MiMC rounds")
	deg := flag.Int("deg", 7, "degree bound of a layer (7: one layer per round)")
	budgetS := flag.String("mem-budget", "512MiB", "memory budget")
	workers := flag.Int("workers", runtime.GOMAXPROCS(0), "workers")
	dir := flag.String("dir", "", "directory for the store and spill files (default: the temp dir)")
	debugMem := flag.Bool("debug-mem", false, "print RSS at each prove step on stderr")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the prove step to this file")
	vprofile := flag.String("verify-cpuprofile", "", "write a CPU profile of the verify step to this file")
	flag.Parse()
	if *logN < 0 || *logN > 30 {
		fmt.Fprintln(os.Stderr, "gkr: -n must be in 0..30")
		os.Exit(2)
	}
	budgetB, err := spill.ParseSize(*budgetS)
	if err != nil {
		fail("mem-budget", err)
	}
	// The same promise as `streamprove prove --mem-budget`: GC limit and ledger from spill.ForRun.
	budget, err := spill.ForRun(budgetB)
	if err != nil {
		fail("mem-budget", err)
	}
	n := 1 << *logN

	tmp, err := os.MkdirTemp(*dir, "streamprove-gkr-bench-")
	if err != nil {
		fail("temp dir", err)
	}
	defer os.RemoveAll(tmp)
	store, err := tensorstore.Open(tmp + "/store")
	if err != nil {
		fail("store", err)
	}
	defer store.Close()
	writeInput(store, "x", 1, n)
	writeInput(store, "key", 2, n)

	ks := kernels.MiMCConstants(*rounds)
	k, err := kernels.NewParallel("mimc", kernels.MiMCCircuit(ks, *deg),
		map[string]string{"x": "x", "key": "key"}, map[string]string{"y": "y"})
	if err != nil {
		fail("kernel", err)
	}
	g := &gkr.Graph{Name: "mimc", Kernels: []gkr.Kernel{k}, Tensors: map[string]*gkr.TensorInfo{
		"x":   {Name: "x", Shape: []int{n}, Role: gkr.Input},
		"key": {Name: "key", Shape: []int{n}, Role: gkr.Input},
		"y":   {Name: "y", Shape: []int{n}, Role: gkr.Output},
	}}
	half := new(big.Int).Rsh(field.Modulus(), 1)

	start := time.Now()
	fc := &kernels.ForwardCtx{Store: store, Graph: g, Budget: budget, Workers: *workers,
		Bounds: map[string]*big.Int{"x": half, "key": half}}
	if err := k.Forward(fc); err != nil {
		fail("forward", err)
	}
	forwardS := time.Since(start).Seconds()
	forwardPeak := phasePeak()

	wit := &kernels.StoreWitness{Store: store}
	pubIn := &kernels.StoreWitness{Store: store, Allow: map[string]bool{"x": true, "key": true}}
	pub := gkr.Public{Inputs: pubIn}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fail("cpuprofile", err)
		}
		pprof.StartCPUProfile(f)
	}
	cpu0 := cpuSeconds()
	start = time.Now()
	opt := gkr.Options{Sumcheck: sumcheck.Options{Budget: budget, SpillDir: tmp, Workers: *workers}}
	if *debugMem {
		opt.Progress = func(step string, done, total int) {
			rss, _ := procstat.CurrentRSS()
			hwm, _ := procstat.PeakRSS()
			fmt.Fprintf(os.Stderr, "%8.3fs %-12s rss %s hwm %s ledger %s\n", time.Since(start).Seconds(), step,
				spill.FormatBytes(rss), spill.FormatBytes(hwm), spill.FormatBytes(budget.Used()))
		}
	}
	proof, err := gkr.Prove(g, wit, pub, opt)
	proveS := time.Since(start).Seconds()
	proveCPU := cpuSeconds() - cpu0
	if *cpuprofile != "" {
		pprof.StopCPUProfile()
	}
	if err != nil {
		fail("prove", err)
	}
	wit.Close()
	provePeak := phasePeak()

	if *vprofile != "" {
		f, err := os.Create(*vprofile)
		if err != nil {
			fail("verify-cpuprofile", err)
		}
		pprof.StartCPUProfile(f)
	}
	start = time.Now()
	outs, err := gkr.Verify(g, pub, proof)
	verifyS := time.Since(start).Seconds()
	if *vprofile != "" {
		pprof.StopCPUProfile()
	}
	verifyPeak := phasePeak()
	verified := err == nil
	if err != nil {
		fmt.Fprintln(os.Stderr, "gkr: verify:", err)
	} else {
		// the verified outputs are MiMC of the inputs (spot check against the reference)
		for _, i := range []int{0, n / 2, n - 1} {
			want := kernels.MiMC(gen(1, uint64(i)), gen(2, uint64(i)), ks)
			if !outs["y"][i].Equal(&want) {
				verified = false
				fmt.Fprintf(os.Stderr, "gkr: output %d differs from the reference\n", i)
			}
		}
	}
	pubIn.Close()
	var y0 string
	if verified {
		b := outs["y"][0].Bytes()
		y0 = hex.EncodeToString(b[:])
	}
	layers, wires := k.(*kernels.Parallel).Layers()
	rss := max(forwardPeak, provePeak, verifyPeak)
	json.NewEncoder(os.Stdout).Encode(map[string]any{
		"side": "ours", "lib": "streamprove", "bench": "gkr", "instances": n, "log_n": *logN,
		"rounds": *rounds, "layers": layers, "stored_wires": wires, "workers": *workers,
		"mem_budget_bytes": budgetB, "forward_s": forwardS, "prove_s": proveS, "prove_cpu_s": proveCPU, "verify_s": verifyS,
		"proof_bytes": len(proof), "peak_rss_bytes": rss,
		"forward_peak_rss_bytes": forwardPeak, "prove_peak_rss_bytes": provePeak,
		"ledger_peak_bytes": budget.Peak(), "verify_peak_rss_bytes": verifyPeak, "verified": verified, "y0": y0,
	})
	if !verified {
		os.Exit(1)
	}
}

// cpuSeconds is the process's user and system CPU time so far (the machine may be shared: wall
// time alone can mislead).
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
}

// phasePeak returns the peak RSS (VmHWM) since the last call and resets it (writing 5 to
// /proc/self/clear_refs), so each phase — forward, prove, verify — reports its own peak.
func phasePeak() int64 {
	p, _ := procstat.PeakRSS()
	os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
	return p
}
