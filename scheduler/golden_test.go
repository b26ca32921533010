package scheduler

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/streamprove/streamprove/gkr"
	"github.com/streamprove/streamprove/tensorstore"
)

// goldenProof pins the proof format: a small fixed model with one node of every kernel family
// (linear, lookup, fixed-point requant, elementwise with broadcasting, scale, a data-parallel
// circuit) is proven and the bytes must equal testdata/golden.proof. A change to any kernel's
// message order, the header or an encoding fails here; when the change is meant, bump
// gkr.ProofVersion and regenerate: go test ./scheduler -run TestGoldenProof -update.
const goldenProof = "testdata/golden.proof"

func goldenModel(t *testing.T) string {
	t.Helper()
	ints := func(n int, f func(i int) int64) []int64 {
		v := make([]int64, n)
		for i := range v {
			v[i] = f(i)
		}
		return v
	}
	b := NewGraphBuilder("golden")
	b.Tensor("x", gkr.Input, []int{3, 12}, tensorstore.Int8)
	b.Data("x", ints(36, func(i int) int64 { return int64(i*37%255) - 127 }))
	b.Tensor("fc1.w", gkr.Weight, []int{16, 12}, tensorstore.Int8)
	b.Data("fc1.w", ints(192, func(i int) int64 { return int64(i*53%255) - 127 }))
	b.Tensor("fc1.b", gkr.Weight, []int{16}, tensorstore.Int32)
	b.Data("fc1.b", ints(16, func(i int) int64 { return int64(i*1000 - 7000) }))
	b.Tensor("fc2.w", gkr.Weight, []int{10, 16}, tensorstore.Int8)
	b.Data("fc2.w", ints(160, func(i int) int64 { return int64(i*71%255) - 127 }))
	b.Tensor("gain", gkr.Weight, []int{16}, tensorstore.Int8)
	b.Data("gain", ints(16, func(i int) int64 { return int64(i%7) - 3 }))
	b.Tensor("v", gkr.Input, []int{8}, tensorstore.Int16)
	b.Data("v", ints(8, func(i int) int64 { return int64(i*977%4001) - 2000 }))
	b.Tensor("key", gkr.Weight, []int{8}, tensorstore.Int16)
	b.Data("key", ints(8, func(i int) int64 { return int64(i*13) - 50 }))
	b.Output("y")
	b.Output("z")
	b.Output("r")
	b.Node("linear", "fc1", []string{"x", "fc1.w", "fc1.b"}, "h1", nil)
	b.Node("requant_relu", "act1", []string{"h1"}, "a1", Attrs{"shift": 8, "bits": 8, "qbits": 12})
	b.Node("mul", "gate", []string{"a1", "gain"}, "g1", nil)
	b.Node("add", "residual", []string{"g1", "a1"}, "s1", nil)
	b.Node("linear", "fc2", []string{"s1", "fc2.w"}, "y", nil)
	b.Node("scale", "twice", []string{"h1"}, "t1", Attrs{"factor": 3})
	b.Node("requant_fixed", "rq", []string{"t1"}, "r", Attrs{"multipliers": []int64{1 << 20}, "shift": 28, "bits": 8, "qbits": 12})
	b.Node("mimc", "hash", []string{"v", "key"}, "z", nil)
	g, err := b.WriteFiles(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestGoldenProof(t *testing.T) {
	store := filepath.Join(t.TempDir(), "store")
	if _, err := Import(store, goldenModel(t), tensorstore.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := Commit(store, Config{}); err != nil {
		t.Fatal(err)
	}
	proof := filepath.Join(t.TempDir(), "proof")
	if _, err := Prove(store, proof, Config{MemBudget: 64 << 20}); err != nil {
		t.Fatal(err)
	}
	if vr, err := Verify(store, proof, ""); err != nil || !vr.Verified {
		t.Fatalf("verify: %v", err)
	}
	got, err := os.ReadFile(proof)
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(goldenProof, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(goldenProof)
	if err != nil {
		t.Fatalf("%v (create it with -update)", err)
	}
	if !bytes.Equal(got, want) {
		i := 0
		for i < len(got) && i < len(want) && got[i] == want[i] {
			i++
		}
		t.Fatalf("proof differs from %s at byte %d (%d bytes, golden %d): the proof format changed; if on purpose, bump gkr.ProofVersion and run -update",
			goldenProof, i, len(got), len(want))
	}
}
