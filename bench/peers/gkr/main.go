// Command gkr proves and verifies the MiMC-style data-parallel circuit of streamprove's
// kernels.MiMCCircuit — x_{i+1} = (x_i + key + k_i)^7 over -rounds rounds, y = x_R + key, with
// k_i = SHA-256("streamprove/mimc/<i>") mod p — over 2^n instances with gnark-crypto v0.14.0's
// ecc/bn254/fr/gkr (all wires in RAM), and prints one JSON line with the times and the peak RSS.
// It is the peer side of bench/peers/run.sh gkr.
//
// Each round is one wire whose gate (x + key + k_i)^7 has degree 7 (the last adds key), the way
// gnark's own MiMC GKR circuits are written; streamprove with -deg 7 cuts the circuit into the
// same layers. The instances are the same on both sides (gen below).
package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/consensys/gnark-crypto/ecc/bn254/fr/gkr"
	"github.com/consensys/gnark-crypto/ecc/bn254/fr/polynomial"
	fiatshamir "github.com/consensys/gnark-crypto/fiat-shamir"
)

func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// gen is instance i of input seed, as in bench/ours/gkr.
func gen(seed, i uint64) fr.Element {
	var a, b fr.Element
	a.SetUint64(splitmix64(seed<<40 ^ 2*i))
	b.SetUint64(splitmix64(seed<<40 ^ (2*i + 1)))
	a.Mul(&a, &b)
	return a
}

// mimcRound is (in[0] + in[1] + k)^7 (+ in[1] in the last round): in[0] is the state, in[1] the key.
type mimcRound struct {
	k      fr.Element
	addKey bool
}

func (g mimcRound) Evaluate(in ...fr.Element) fr.Element {
	var t, t2, r fr.Element
	t.Add(&in[0], &in[1]).Add(&t, &g.k)
	t2.Square(&t)
	r.Square(&t2).Mul(&r, &t2).Mul(&r, &t)
	if g.addKey {
		r.Add(&r, &in[1])
	}
	return r
}

func (g mimcRound) Degree() int { return 7 }

func peakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			f := strings.Fields(line)
			v, _ := strconv.ParseInt(f[1], 10, 64)
			return v * 1024
		}
	}
	return 0
}

func main() {
	logN := flag.Int("n", 16, "log2 of the number of instances")
	rounds := flag.Int("rounds", 16, "MiMC rounds")
	workers := flag.Int("workers", runtime.GOMAXPROCS(0), "GOMAXPROCS")
	flag.Parse()
	if *logN < 1 || *logN > 30 || *rounds < 1 {
		fmt.Fprintln(os.Stderr, "gkr: -n must be in 1..30, -rounds ≥ 1")
		os.Exit(2)
	}
	runtime.GOMAXPROCS(*workers)
	n := 1 << *logN

	c := make(gkr.Circuit, 2+*rounds)
	for i := 0; i < *rounds; i++ {
		h := sha256.Sum256([]byte(fmt.Sprintf("streamprove/mimc/%d", i)))
		var k fr.Element
		k.SetBytes(h[:])
		c[2+i] = gkr.Wire{Gate: mimcRound{k: k, addKey: i == *rounds-1}, Inputs: []*gkr.Wire{&c[1+i], &c[1]}}
	}
	c[2].Inputs[0] = &c[0]
	x, key, y := &c[0], &c[1], &c[len(c)-1]

	a := gkr.WireAssignment{x: make(polynomial.MultiLin, n), key: make(polynomial.MultiLin, n)}
	for i := 0; i < n; i++ {
		a[x][i], a[key][i] = gen(1, uint64(i)), gen(2, uint64(i))
	}
	start := time.Now()
	a.Complete(c)
	forwardS := time.Since(start).Seconds()

	cpu0 := cpuSeconds()
	start = time.Now()
	proof, err := gkr.Prove(c, a, fiatshamir.WithHash(sha256.New()))
	proveS := time.Since(start).Seconds()
	proveCPU := cpuSeconds() - cpu0
	if err != nil {
		fmt.Fprintln(os.Stderr, "gkr: prove:", err)
		os.Exit(1)
	}
	// The verifier holds the inputs and the outputs only.
	va := gkr.WireAssignment{x: a[x], key: a[key], y: a[y]}
	start = time.Now()
	err = gkr.Verify(c, va, proof, fiatshamir.WithHash(sha256.New()))
	verifyS := time.Since(start).Seconds()
	verified := err == nil
	if err != nil {
		fmt.Fprintln(os.Stderr, "gkr: verify:", err)
	}
	y0 := a[y][0].Bytes()
	json.NewEncoder(os.Stdout).Encode(map[string]any{
		"side": "peer", "lib": "gnark-crypto v0.14.0", "bench": "gkr", "instances": n, "log_n": *logN,
		"rounds": *rounds, "workers": *workers, "forward_s": forwardS, "prove_s": proveS, "prove_cpu_s": proveCPU,
		"verify_s": verifyS, "peak_rss_bytes": peakRSS(), "verified": verified, "y0": hex.EncodeToString(y0[:]),
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
