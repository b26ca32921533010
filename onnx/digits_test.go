package onnx

import (
	"math"
	"path/filepath"
	"slices"
	"testing"
)

const digitsDir = "../testdata/onnx"

func loadDigits(t *testing.T, name string) (*Model, *Tensor, *Tensor) {
	t.Helper()
	m, err := Load(filepath.Join(digitsDir, name+".onnx"))
	if err != nil {
		t.Fatal(err)
	}
	x, err := ReadNPY(filepath.Join(digitsDir, name+"_test_x.npy"))
	if err != nil {
		t.Fatal(err)
	}
	want, err := ReadNPY(filepath.Join(digitsDir, name+"_logits.npy"))
	if err != nil {
		t.Fatal(err)
	}
	return m, x, want
}

// TestDigitsReference: the Go float reference reproduces PyTorch's logits on the 450 test
// images, for the MLP and the CNN exported by testdata/onnx/make_digits.py.
func TestDigitsReference(t *testing.T) {
	for _, name := range []string{"mlp", "cnn"} {
		t.Run(name, func(t *testing.T) {
			m, x, want := loadDigits(t, name)
			out, err := m.Run(map[string]*Tensor{m.Inputs[0].Name: x})
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
			t.Logf("%s: %d nodes %v, max |Go − PyTorch| = %.3g over %d logits", name, len(m.Nodes), ops(m), worst, len(got.F))
			if worst > 1e-4 {
				t.Fatalf("max abs difference %g > 1e-4", worst)
			}
		})
	}
}

func ops(m *Model) []string {
	var s []string
	for _, n := range m.Nodes {
		s = append(s, n.Op)
	}
	return s
}
