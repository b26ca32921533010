package pcs

import (
	"fmt"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/consensys/gnark-crypto/ecc/bn254"

	"github.com/streamprove/streamprove/tensorstore"
)

// BenchmarkOpenWeight opens one point claim on an int8 weight [out, in] streamed from a store on
// disk, without a caller-supplied vector (the pass an un-hinted weight such as an embedding
// table pays), and reports the process CPU time per weight: on a shared machine wall time
// varies with the load. STREAMPROVE_OPEN_SHAPE=O,I picks the shape (default 4096,4096). The
// commitment's rows are placeholders: Open only reads its shape and digest.
func BenchmarkOpenWeight(b *testing.B) {
	out, in := 4096, 4096
	if s := os.Getenv("STREAMPROVE_OPEN_SHAPE"); s != "" {
		if _, err := fmt.Sscanf(s, "%d,%d", &out, &in); err != nil {
			b.Fatalf("STREAMPROVE_OPEN_SHAPE=%q: want O,I: %v", s, err)
		}
	}
	st, err := tensorstore.Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	w, err := st.Create("w", []int{out, in}, tensorstore.Int8, tensorstore.WriteOptions{ChunkElems: 1 << 16})
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	row := make([]int64, in)
	for range out {
		for i := range row {
			row[i] = rng.Int64N(256) - 128
		}
		if err := w.WriteInt64s(row); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := w.Commit(); err != nil {
		b.Fatal(err)
	}
	t, err := st.Tensor("w")
	if err != nil {
		b.Fatal(err)
	}
	defer t.Close()
	src := t.Source()
	n, err := sourceVars(src)
	if err != nil {
		b.Fatal(err)
	}
	cl := ColumnLogFor([]int{out, in})
	com := &Commitment{NumVars: n, ColumnLog: cl, Rows: make([]bn254.G1Affine, 1<<(n-cl))}
	claims := []Claim{{Commitment: com, Source: src, Point: randPoint(rng, n)}}
	var cpu int64
	for b.Loop() {
		c0 := cpuTime()
		if _, err := Open(newTr(), claims, Options{SkipProverChecks: true}); err != nil {
			b.Fatal(err)
		}
		cpu += cpuTime() - c0
	}
	b.ReportMetric(float64(cpu)/float64(b.N)/float64(out*in), "cpu_ns/weight")
}
