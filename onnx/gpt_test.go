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

// TestGPTQuantized: the quantized tiny GPT's exact integer forward pass (the graph ops'
// semantics) agrees with the float model's next-token argmax on the test ids.
func TestGPTQuantized(t *testing.T) {
	m, ids, _ := loadGPT(t)
	calib, err := ReadIDs(filepath.Join(digitsDir, "gpt_calib.npy"))
	if err != nil {
		t.Fatal(err)
	}
	q, err := Quantize(m, calib, QuantOptions{})
	if err != nil {
		t.Fatal(err)
	}
	a, _, _, err := q.Compare(ids)
	if err != nil {
		t.Fatal(err)
	}
	errs, err := q.OpErrors(ids)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range errs {
		t.Logf("%-55s max|float| %8.3f  rel err %.4f", e.Value, e.MaxAbs, e.RelErr)
	}
	t.Logf("gpt: %d integer ops; on %d test sequences: argmax agreement %.2f%%, max |error| %.3g", len(q.Ops), a.Samples, 100*a.ArgmaxAgree, a.MaxAbsErr)
	if a.ArgmaxAgree < 0.9 {
		t.Fatalf("argmax agreement %.4f < 0.90", a.ArgmaxAgree)
	}
}
