// Command sumcheck proves and verifies Σ_x a(x)·b(x) = v for two random multilinear polynomials
// of n variables with gnark-crypto v0.14.0's ecc/bn254/fr/sumcheck, and prints one JSON line
// with the prove time. It is the peer side of bench/peers/run.sh sumcheck.
//
// The claim is written the way gnark-crypto's own GKR writes its claims: MultiLin tables folded
// with FoldParallel, partial sums split across -workers goroutines (default GOMAXPROCS), so the
// comparison is core for core.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"math/bits"
	"math/rand/v2"
	"os"
	"runtime"
	"sync"
	"syscall"
	"time"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/consensys/gnark-crypto/ecc/bn254/fr/polynomial"
	"github.com/consensys/gnark-crypto/ecc/bn254/fr/sumcheck"
	fiatshamir "github.com/consensys/gnark-crypto/fiat-shamir"
	"github.com/consensys/gnark-crypto/hash"
)

// randomTable fills t (allocating it when nil) with 2^n pseudo-random field elements from seed,
// the same values on every run.
func randomTable(t polynomial.MultiLin, n int, seed uint64) polynomial.MultiLin {
	rng := rand.New(rand.NewPCG(seed, seed^0x5eed))
	if t == nil {
		t = make(polynomial.MultiLin, 1<<n)
	}
	t = t[:1<<n]
	for i := range t {
		t[i].SetUint64(rng.Uint64())
		var h fr.Element
		h.SetUint64(rng.Uint64())
		t[i].Mul(&t[i], &h)
	}
	return t
}

// parallel splits [0, n) into workers ranges and waits for all.
func parallel(n, workers int, fn func(start, end int)) {
	if workers > n {
		workers = n
	}
	if workers <= 1 {
		fn(0, n)
		return
	}
	var wg sync.WaitGroup
	per := (n + workers - 1) / workers
	for s := 0; s < n; s += per {
		e := min(s+per, n)
		wg.Add(1)
		go func() { defer wg.Done(); fn(s, e) }()
	}
	wg.Wait()
}

// productClaim is the prover side of Σ_x a(x)·b(x): round polynomials are sent as their values
// at 1 and 2 (gnark binds X₁, the most significant variable, first: the pair is (i, i+mid)).
type productClaim struct {
	a, b    polynomial.MultiLin
	workers int
}

func (c *productClaim) VarsNum() int   { return bits.TrailingZeros(uint(len(c.a))) }
func (c *productClaim) ClaimsNum() int { return 1 }

func (c *productClaim) gj() polynomial.Polynomial {
	mid := len(c.a) / 2
	var mu sync.Mutex
	var g1, g2 fr.Element
	parallel(mid, c.workers, func(s, e int) {
		var s1, s2, a2, b2, t fr.Element
		for i := s; i < e; i++ {
			a0, a1, b0, b1 := &c.a[i], &c.a[i+mid], &c.b[i], &c.b[i+mid]
			t.Mul(a1, b1)
			s1.Add(&s1, &t)
			a2.Double(a1).Sub(&a2, a0)
			b2.Double(b1).Sub(&b2, b0)
			t.Mul(&a2, &b2)
			s2.Add(&s2, &t)
		}
		mu.Lock()
		g1.Add(&g1, &s1)
		g2.Add(&g2, &s2)
		mu.Unlock()
	})
	return polynomial.Polynomial{g1, g2}
}

func (c *productClaim) Combine(fr.Element) polynomial.Polynomial { return c.gj() }

func (c *productClaim) Next(r fr.Element) polynomial.Polynomial {
	mid := len(c.a) / 2
	ta, tb := c.a.FoldParallel(r), c.b.FoldParallel(r)
	parallel(mid, c.workers, func(s, e int) { ta(s, e); tb(s, e) })
	return c.gj()
}

// ProveFinalEval binds the last variable and sends a(r), b(r).
func (c *productClaim) ProveFinalEval(r []fr.Element) interface{} {
	c.a.Fold(r[len(r)-1])
	c.b.Fold(r[len(r)-1])
	return []fr.Element{c.a[0], c.b[0]}
}

// productLazyClaim is the verifier side: it checks a(r)·b(r) against the last round and keeps
// the two evaluation claims, which main checks against fresh copies of the tables.
type productLazyClaim struct {
	n      int
	sum    fr.Element
	finals []fr.Element
}

func (c *productLazyClaim) ClaimsNum() int                    { return 1 }
func (c *productLazyClaim) VarsNum() int                      { return c.n }
func (c *productLazyClaim) CombinedSum(fr.Element) fr.Element { return c.sum }
func (c *productLazyClaim) Degree(int) int                    { return 2 }
func (c *productLazyClaim) VerifyFinalEval(r []fr.Element, _ fr.Element, v fr.Element, proof interface{}) error {
	f, ok := proof.([]fr.Element)
	if !ok || len(f) != 2 {
		return fmt.Errorf("final evaluation proof malformed")
	}
	var p fr.Element
	p.Mul(&f[0], &f[1])
	if !p.Equal(&v) {
		return fmt.Errorf("final check failed")
	}
	c.finals = f
	return nil
}

func peakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	var kb int64
	for _, line := range splitLines(string(b)) {
		if n, _ := fmt.Sscanf(line, "VmHWM: %d kB", &kb); n == 1 {
			return kb << 10
		}
	}
	return 0
}

func splitLines(s string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return out
}

func main() {
	n := flag.Int("n", 20, "number of variables")
	workers := flag.Int("workers", runtime.GOMAXPROCS(0), "goroutines for folding and partial sums")
	reps := flag.Int("reps", 3, "prove this many times and report the fastest")
	flag.Parse()
	if *n < 1 || *n > 30 {
		fmt.Fprintln(os.Stderr, "sumcheck: -n must be in 1..30")
		os.Exit(2)
	}
	// The prover folds its tables in place, so every repetition regenerates them into the same
	// buffers (outside the timed region); the fastest repetition is reported, as on our side.
	var a, b polynomial.MultiLin
	var sum fr.Element
	proveS, verifyS, proveCPU := 0.0, 0.0, 0.0
	for rep := 0; rep < *reps; rep++ {
		a, b = randomTable(a, *n, 1), randomTable(b, *n, 2)
		sum = fr.Element{}
		for i := range a {
			var t fr.Element
			t.Mul(&a[i], &b[i])
			sum.Add(&sum, &t)
		}
		claim := &productClaim{a: a, b: b, workers: *workers}
		cpu0 := cpuSeconds()
		start := time.Now()
		proof, err := sumcheck.Prove(claim, fiatshamir.WithHash(hash.MIMC_BN254.New()))
		s := time.Since(start).Seconds()
		c := cpuSeconds() - cpu0
		if err != nil {
			fmt.Fprintln(os.Stderr, "sumcheck: prove:", err)
			os.Exit(1)
		}
		lazy := &productLazyClaim{n: *n, sum: sum}
		start = time.Now()
		err = sumcheck.Verify(lazy, proof, fiatshamir.WithHash(hash.MIMC_BN254.New()))
		v := time.Since(start).Seconds()
		if err != nil {
			fmt.Fprintln(os.Stderr, "sumcheck: verify:", err)
			os.Exit(1)
		}
		if rep == 0 || s < proveS {
			proveS, verifyS = s, v
		}
		if rep == 0 || c < proveCPU {
			proveCPU = c
		}
	}
	json.NewEncoder(os.Stdout).Encode(map[string]any{
		"side": "peer", "lib": "gnark-crypto v0.14.0", "bench": "sumcheck", "vars": *n,
		"workers": *workers, "reps": *reps, "prove_s": proveS, "prove_cpu_s": proveCPU, "verify_s": verifyS, "peak_rss_bytes": peakRSS(),
	})
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
