package scheduler

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/streamprove/streamprove/tensorstore"
)

var update = flag.Bool("update", false, "regenerate testdata/batch1")

// batch1Arrays is a second testdata model: batch 1, odd widths, .npy sources, a bias, a
// residual branch (h feeds two kernels) and an elementwise square.
func batch1Arrays() []tensorstore.Array {
	mk := func(name, dt string, shape []int, f func(i int) int64) tensorstore.Array {
		n := 1
		for _, d := range shape {
			n *= d
		}
		v := make([]int64, n)
		for i := range v {
			v[i] = f(i)
		}
		return tensorstore.Array{Name: name, DType: dt, Shape: shape, Values: v}
	}
	return []tensorstore.Array{
		mk("x", "I8", []int{1, 7}, func(i int) int64 { return int64(i*37%255) - 127 }),
		mk("w1", "I8", []int{5, 7}, func(i int) int64 { return int64(i*53%255) - 127 }),
		mk("b1", "I32", []int{5}, func(i int) int64 { return int64(i*1000 - 2000) }),
		mk("w2", "I16", []int{3, 5}, func(i int) int64 { return int64(i*911%4001) - 2000 }),
	}
}

// TestTestdataModels proves and verifies every model under testdata/ (each dir with a
// graph.json), and keeps testdata/batch1 equal to its generator (-update rewrites it).
func TestTestdataModels(t *testing.T) {
	dir := filepath.Join("..", "testdata", "batch1")
	for _, a := range batch1Arrays() {
		data, err := tensorstore.EncodeNPY(a)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, a.Name+".npy")
		if *update {
			os.MkdirAll(dir, 0o755)
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
		} else if old, err := os.ReadFile(path); err != nil || !bytes.Equal(old, data) {
			t.Fatalf("%s differs from its generator (go test ./scheduler -run TestTestdataModels -update): %v", path, err)
		}
	}
	graphs, _ := filepath.Glob(filepath.Join("..", "testdata", "*", "graph.json"))
	if len(graphs) < 2 {
		t.Fatalf("found %d testdata models, want at least 2", len(graphs))
	}
	for _, g := range graphs {
		t.Run(filepath.Base(filepath.Dir(g)), func(t *testing.T) {
			store := filepath.Join(t.TempDir(), "store")
			if _, err := Import(store, g, tensorstore.WriteOptions{}); err != nil {
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
		})
	}
}
