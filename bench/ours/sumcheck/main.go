// Command sumcheck proves and verifies Σ_x a(x)·b(x) = v for two random multilinear polynomials
// of n variables with streamprove's sumcheck prover, and prints one JSON line with the prove
// time. It is our side of bench/peers/run.sh sumcheck (the peer side is bench/peers/sumcheck, on
// gnark-crypto v0.14.0).
//
// By default the two tables are RAM slices (the in-memory prover). With -stream they are
// generated chunk by chunk straight into a tensorstore store in a temporary directory (the
// process never holds a whole table) and proved from the store's Sources under a ledger of
// -mem-budget bytes (default 1/16 of the two tables: 2·32·2^n/16) shared by the prover and the
// store's readers, spilling to the same directory; the JSON line then also carries "mode":
// "stream", the budget and the ledger's peak. The tables are the same in both modes, and so is
// the proof. Below n = 14 the default budget (under 64 KiB) cannot hold the prover's workspaces
// and readers and the prove fails with spill.ErrBudget: pass a larger -mem-budget.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/streamprove/streamprove/field"
	"github.com/streamprove/streamprove/internal/procstat"
	"github.com/streamprove/streamprove/spill"
	"github.com/streamprove/streamprove/sumcheck"
	"github.com/streamprove/streamprove/tensorstore"
)

// tableRNG is the generator of table seed: randomTable and writeTables draw the same values.
func tableRNG(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, seed^0x5eed)) }

// fillRandom fills t with the next len(t) pseudo-random field elements of rng.
func fillRandom(rng *rand.Rand, t []field.Element) {
	for i := range t {
		t[i].SetUint64(rng.Uint64())
		var h field.Element
		h.SetUint64(rng.Uint64())
		t[i].Mul(&t[i], &h)
	}
}

// randomTable returns 2^n pseudo-random field elements from seed.
func randomTable(n int, seed uint64) []field.Element {
	t := make([]field.Element, 1<<n)
	fillRandom(tableRNG(seed), t)
	return t
}

// tableNames are the store names of the tables of seeds 1 and 2.
var tableNames = [2]string{"a", "b"}

// writeTables writes the tables randomTable(n, 1) and randomTable(n, 2) into s as "a" and "b"
// (dtype field, chunks of chunkElems elements), generating them genElems at a time so that the
// process holds at most a few chunks, and returns their inner product (the claimed sum).
func writeTables(s *tensorstore.Store, n, chunkElems, genElems int) (field.Element, error) {
	var sum field.Element
	N := 1 << n
	genElems = min(genElems, N)
	var ws [2]*tensorstore.Writer
	var rngs [2]*rand.Rand
	var bufs [2][]field.Element
	for j := range ws {
		w, err := s.Create(tableNames[j], []int{N}, tensorstore.Field, tensorstore.WriteOptions{ChunkElems: chunkElems})
		if err != nil {
			for _, w := range ws[:j] {
				w.Abort()
			}
			return sum, err
		}
		ws[j], rngs[j], bufs[j] = w, tableRNG(uint64(j+1)), make([]field.Element, genElems)
	}
	for off := 0; off < N; off += genElems {
		for j := range ws {
			fillRandom(rngs[j], bufs[j])
			if err := ws[j].WriteElements(bufs[j]); err != nil {
				for _, w := range ws {
					w.Abort()
				}
				return sum, err
			}
		}
		v := field.InnerProduct(bufs[0], bufs[1])
		sum.Add(&sum, &v)
	}
	for j, w := range ws {
		if _, err := w.Commit(); err != nil {
			for _, w := range ws[j+1:] {
				w.Abort()
			}
			return sum, err
		}
	}
	return sum, nil
}

// storeChunkElems is the store's chunk length for a ledger of budget bytes: the largest power of
// two up to 2^16 (the store's default) such that the two sources' readers — each a decoded chunk
// in use, two prefetched and the read scratch, about 4 chunks — take at most a quarter of it,
// leaving the rest to the prover's workspaces and folded tables.
func storeChunkElems(budget int64) int {
	ce := 1 << 16
	for ce > 1<<6 && 2*4*int64(ce)*field.Bytes > budget/4 {
		ce >>= 1
	}
	return ce
}

// streamSetup is a stream-mode claim's store and ledger.
type streamSetup struct {
	store   *tensorstore.Store
	tensors []*tensorstore.Tensor
	budget  *spill.Budget
}

func (s *streamSetup) close() {
	for _, t := range s.tensors {
		t.Close()
	}
	s.store.Close()
}

// streamClaim writes the two tables into a store in dir and returns the claim over their
// Sources, whose readers charge budget.
func streamClaim(dir string, n int, budget *spill.Budget) (*sumcheck.Claim, *streamSetup, error) {
	store, err := tensorstore.Open(dir)
	if err != nil {
		return nil, nil, err
	}
	st := &streamSetup{store: store, budget: budget}
	sum, err := writeTables(store, n, storeChunkElems(budget.Limit()), 1<<14)
	if err != nil {
		st.close()
		return nil, nil, err
	}
	c := &sumcheck.Claim{NumVars: n, Gate: sumcheck.Product(2), Sum: sum}
	for _, name := range tableNames {
		t, err := store.Tensor(name)
		if err != nil {
			st.close()
			return nil, nil, err
		}
		t.SetReadOptions(tensorstore.ReadOptions{Budget: budget})
		st.tensors = append(st.tensors, t)
		c.Sources = append(c.Sources, t.Source())
	}
	return c, st, nil
}

// atExit is what the program undoes before it exits, last first: the stream mode's store and
// temporary directory. fail runs it too, since os.Exit skips deferred calls.
var atExit []func()

func cleanUp() {
	for i := len(atExit) - 1; i >= 0; i-- {
		atExit[i]()
	}
	atExit = nil
}

func fail(what string, err error) {
	fmt.Fprintf(os.Stderr, "sumcheck: %s: %v\n", what, err)
	cleanUp()
	os.Exit(1)
}

func main() {
	n := flag.Int("n", 20, "number of variables")
	workers := flag.Int("workers", runtime.GOMAXPROCS(0), "prover workers")
	reps := flag.Int("reps", 3, "prove this many times and report the fastest")
	stream := flag.Bool("stream", false, "prove from a store on disk under -mem-budget instead of from RAM slices")
	budgetS := flag.String("mem-budget", "", "with -stream: the ledger of the prover and the store's readers (default 1/16 of the two tables, 2·32·2^n/16 bytes)")
	dir := flag.String("dir", "", "with -stream: directory for the store and spill files (default: the temp dir)")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the prove steps (all -reps of them) to this file")
	flag.Parse()
	if *n < 1 || *n > 30 {
		fmt.Fprintln(os.Stderr, "sumcheck: -n must be in 1..30")
		os.Exit(2)
	}
	if !*stream && (*budgetS != "" || *dir != "") {
		fmt.Fprintln(os.Stderr, "sumcheck: -mem-budget and -dir need -stream")
		os.Exit(2)
	}

	var claim *sumcheck.Claim
	opt := sumcheck.Options{Workers: *workers}
	var st *streamSetup
	var budgetB int64
	if *stream {
		budgetB = int64(2*field.Bytes) << *n / 16
		if *budgetS != "" {
			b, err := spill.ParseSize(*budgetS)
			if err != nil {
				fail("mem-budget", err)
			}
			budgetB = b
		}
		if budgetB <= 0 {
			fmt.Fprintln(os.Stderr, "sumcheck: -mem-budget must be positive")
			os.Exit(2)
		}
		tmp, err := os.MkdirTemp(*dir, "streamprove-sumcheck-bench-")
		if err != nil {
			fail("temp dir", err)
		}
		atExit = append(atExit, func() { os.RemoveAll(tmp) })
		// The ledger is the budget itself, not spill.ForRun's split of a process budget: 1/16 of
		// the tables is below spill.MinBudget at the sizes run.sh measures.
		budget := spill.NewBudget(budgetB)
		claim, st, err = streamClaim(tmp+"/store", *n, budget)
		if err != nil {
			fail("store", err)
		}
		atExit = append(atExit, st.close)
		opt.Budget, opt.SpillDir = budget, tmp
	} else {
		a, b := randomTable(*n, 1), randomTable(*n, 2)
		sum := field.InnerProduct(a, b)
		claim = &sumcheck.Claim{NumVars: *n, Gate: sumcheck.Product(2), Sum: sum,
			Sources: []field.Source{field.SliceSource(a), field.SliceSource(b)}}
	}

	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fail("cpuprofile", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fail("cpuprofile", err)
		}
	}
	// The sources are not modified, so repetitions reuse them; a GC between repetitions lets the
	// next one reuse the fold tables' memory. The fastest repetition is reported, as on the peer's.
	proveS, verifyS, proveCPU := 0.0, 0.0, 0.0
	var proof *sumcheck.Proof
	var point []field.Element
	for rep := 0; rep < *reps; rep++ {
		runtime.GC()
		cpu0 := cpuSeconds()
		start := time.Now()
		p, _, err := sumcheck.Prove(field.NewTranscript("bench"), claim, opt)
		s := time.Since(start).Seconds()
		c := cpuSeconds() - cpu0
		if err != nil {
			fail("prove", err)
		}
		start = time.Now()
		r, err := sumcheck.Verify(field.NewTranscript("bench"), claim, p)
		v := time.Since(start).Seconds()
		if err != nil {
			fail("verify", err)
		}
		proof, point = p, r
		if rep == 0 || s < proveS {
			proveS, verifyS = s, v
		}
		if rep == 0 || c < proveCPU {
			proveCPU = c
		}
	}
	if *cpuprofile != "" {
		pprof.StopCPUProfile()
	}
	if !*stream {
		rss, _ := procstat.PeakRSS()
		json.NewEncoder(os.Stdout).Encode(map[string]any{
			"side": "ours", "lib": "streamprove", "bench": "sumcheck", "vars": *n,
			"workers": *workers, "reps": *reps, "prove_s": proveS, "prove_cpu_s": proveCPU, "verify_s": verifyS, "peak_rss_bytes": rss,
		})
		return
	}
	// Verify leaves the claims MLE(source j)(r) = Finals[j]; check them against the store (one
	// pass each, after the proves, in O(2^14) memory).
	for j, src := range claim.Sources {
		v, err := field.EvalStream(src, point, 14)
		if err != nil {
			fail("evaluate "+tableNames[j], err)
		}
		if !v.Equal(&proof.Finals[j]) {
			fail("verify", fmt.Errorf("final %d is not the MLE of table %s at the point", j, tableNames[j]))
		}
	}
	rss, _ := procstat.PeakRSS()
	json.NewEncoder(os.Stdout).Encode(map[string]any{
		"side": "ours", "lib": "streamprove", "bench": "sumcheck", "mode": "stream", "vars": *n,
		"workers": *workers, "reps": *reps, "prove_s": proveS, "prove_cpu_s": proveCPU, "verify_s": verifyS, "peak_rss_bytes": rss,
		"mem_budget_bytes": budgetB, "ledger_peak_bytes": st.budget.Peak(), "store_chunk_elems": st.tensors[0].Info().ChunkElems,
	})
	cleanUp()
}

// cpuSeconds is the process's user+system CPU time: under a loaded machine it moves far less than
// wall time, so run.sh reports both.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}
