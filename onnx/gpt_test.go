package onnx

import (
	"math"
	"path/filepath"
	"slices"
	"testing"
)

// loadGPT loads the tiny GPT of testdata/onnx/make_gpt.py, its test ids (as floats, the float
// reference's input) and PyTorch's logits on them.
func loadGPT(t *testing.T) (*Model, *Tensor, *Tensor) {
	t.Helper()
	m, err := Load(filepath.Join(digitsDir, "gpt.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	ids, err := ReadIDs(filepath.Join(digitsDir, "gpt_test_ids.npy"))
	if err != nil {
		t.Fatal(err)
	}
	want, err := ReadNPY(filepath.Join(digitsDir, "gpt_logits.npy"))
	if err != nil {
		t.Fatal(err)
	}
	return m, ids, want
}

// TestGPTReference: the Go float reference reproduces PyTorch's logits of the tiny GPT.
func TestGPTReference(t *testing.T) {
	m, ids, want := loadGPT(t)
	out, err := m.Run(map[string]*Tensor{m.Inputs[0].Name: ids})
	if err != nil {
		t.Fatal(err)
	}
	got := out["logits"]
	if got == nil || !slices.Equal(got.Shape, want.Shape) {
		t.Fatalf("logits shape %v, want %v", got.Shape, want.Shape)
	}
	worst := 0.0
	for i := range got.F {
		worst = max(worst, math.Abs(got.F[i]-want.F[i]))
	}
	t.Logf("gpt: %d nodes %v, max |Go − PyTorch| = %.3g over %d logits", len(m.Nodes), ops(m), worst, len(got.F))
	if worst > 1e-3 {
		t.Fatalf("max abs difference %g > 1e-3", worst)
	}
}
