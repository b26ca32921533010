package onnx

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/streamprove/streamprove/scheduler"
	"github.com/streamprove/streamprove/tensorstore"
)

// TestProveDigitsMLP: the quantized digits MLP, emitted as a graph, imports, commits, proves
// and verifies, and the proven outputs equal the Go integer model's bit for bit (so the proven
// model's accuracy is the one TestDigitsQuantized measures). 64 test images by default, all 450
// without -short.
func TestProveDigitsMLP(t *testing.T) {
	n := 450
	if testing.Short() {
		n = 64
	}
	m, x, _ := loadDigits(t, "mlp")
	calib, err := ReadNPY(filepath.Join(digitsDir, "mlp_calib.npy"))
	if err != nil {
		t.Fatal(err)
	}
	q, err := Quantize(m, calib, QuantOptions{})
	if err != nil {
		t.Fatal(err)
	}
	xs := &Tensor{DType: Float32, Shape: []int{n, 64}, F: x.F[:n*64]}
	dir := t.TempDir()
	g, err := q.Emit(filepath.Join(dir, "graph.json"), xs)
	if err != nil {
		t.Fatal(err)
	}
	st := filepath.Join(dir, "store")
	if _, err := scheduler.Import(st, g, tensorstore.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := scheduler.Commit(st, scheduler.Config{}); err != nil {
		t.Fatal(err)
	}
	proof := filepath.Join(dir, "proof")
	if _, err := scheduler.Prove(st, proof, scheduler.Config{MemBudget: 64 << 20}); err != nil {
		t.Fatal(err)
	}
	rep, err := scheduler.Verify(st, proof, "")
	if err != nil || !rep.Verified {
		t.Fatalf("verify: %v", err)
	}
	want, err := q.Run(q.QuantizeInput(xs))
	if err != nil {
		t.Fatal(err)
	}
	got := rep.Outputs["logits"]
	if len(got) != min(len(want.V), scheduler.MaxReportedOutputs) {
		t.Fatalf("%d outputs reported, want %d", len(got), min(len(want.V), scheduler.MaxReportedOutputs))
	}
	for i, s := range got {
		if s != fmt.Sprint(want.V[i]) {
			t.Fatalf("output %d: proven %s, Go integer model %d", i, s, want.V[i])
		}
	}
}
