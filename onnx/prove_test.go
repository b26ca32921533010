package onnx

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
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
	_, _, rep := proveEmitted(t, q, xs, 64<<20)
	want, err := q.Run(q.QuantizeInput(xs))
	if err != nil {
		t.Fatal(err)
	}
	checkProven(t, rep.Outputs["logits"], want, q.Output.Scale)
}

// TestProveDigitsCNN: the digits CNN (Conv, BatchNorm, ReLU, MaxPool, AveragePool, Flatten,
// Gemm) quantized to int8 proves all 450 test images in one proof in a child process whose peak
// RSS stays under --mem-budget 64 MiB; the proof verifies, its outputs equal the Go integer
// model's bit for bit, and so the proven accuracy is the integer model's: within 1.5 points of
// the float model's, argmax agreement ≥ 97%. 64 images with -short.
func TestProveDigitsCNN(t *testing.T) {
	n := 450
	if testing.Short() {
		n = 64
	}
	m, x, _ := loadDigits(t, "cnn")
	labels, err := ReadNPY(filepath.Join(digitsDir, "test_y.npy"))
	if err != nil {
		t.Fatal(err)
	}
	calib, err := ReadNPY(filepath.Join(digitsDir, "cnn_calib.npy"))
	if err != nil {
		t.Fatal(err)
	}
	q, err := Quantize(m, calib, QuantOptions{})
	if err != nil {
		t.Fatal(err)
	}
	xs := &Tensor{DType: Float32, Shape: []int{n, 1, 8, 8}, F: x.F[:n*64]}
	dir := t.TempDir()
	if d := os.Getenv("STREAMPROVE_KEEP"); d != "" {
		dir = d
	}
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
	const budget = 64 << 20
	rep := proveInChild(t, st, proof, budget)
	t.Logf("cnn, %d images: prove %.2fs (forward %.2fs), peak RSS %.1f MiB (budget 64 MiB), proof %d bytes",
		n, rep.WallSeconds, rep.ForwardSeconds, float64(rep.PeakRSSBytes)/(1<<20), rep.ProofBytes)
	if rep.PeakRSSBytes <= 0 || rep.PeakRSSBytes > budget {
		t.Errorf("peak RSS %d bytes, budget %d", rep.PeakRSSBytes, budget)
	}
	vr, err := scheduler.Verify(st, proof, "")
	if err != nil || !vr.Verified {
		t.Fatalf("verify: %v", err)
	}
	t.Logf("verify %.2fs", vr.WallSeconds)
	want, err := q.Run(q.QuantizeInput(xs))
	if err != nil {
		t.Fatal(err)
	}
	checkProven(t, vr.Outputs["logits"], want, q.Output.Scale)
	checkProven(t, rep.Outputs["logits"], want, q.Output.Scale)
	f, err := m.Run(map[string]*Tensor{"x": xs})
	if err != nil {
		t.Fatal(err)
	}
	d := q.Dequantize(want)
	fAcc, qAcc := accuracy(f["logits"], labels.I[:n]), accuracy(d, labels.I[:n])
	agree := 0
	fa, da := argmaxRows(f["logits"]), argmaxRows(d)
	for i := range fa {
		if fa[i] == da[i] {
			agree++
		}
	}
	t.Logf("cnn, %d images: float accuracy %.4f, proven int8 accuracy %.4f, argmax agreement %.4f", n, fAcc, qAcc, float64(agree)/float64(n))
	if math.Abs(fAcc-qAcc) > 0.015 || float64(agree) < 0.97*float64(n) {
		t.Errorf("proven accuracy %.4f vs float %.4f, agreement %d/%d", qAcc, fAcc, agree, n)
	}
}

// checkProven: a proven output has the Go integer model's shape, scale and every value.
func checkProven(t *testing.T, got *scheduler.Output, want *IntTensor, scale float64) {
	t.Helper()
	if got == nil {
		t.Fatal("no proven output")
	}
	if !slices.Equal(got.Shape, want.Shape) || got.Scale != scale || len(got.Values) != len(want.V) {
		t.Fatalf("proven output of shape %v, scale %g, %d values; the Go integer model's: %v, %g, %d", got.Shape, got.Scale, len(got.Values), want.Shape, scale, len(want.V))
	}
	for i, s := range got.Values {
		if s != fmt.Sprint(want.V[i]) {
			t.Fatalf("output %d: proven %s, Go integer model %d", i, s, want.V[i])
		}
	}
}

// proveEmitted emits q's graph for the input xs into a fresh directory, imports, commits and
// proves it under budget in this process and verifies the proof, failing the test on any error;
// it returns the store, the proof's path and the verifier's report.
func proveEmitted(t *testing.T, q *QModel, xs *Tensor, budget int64) (st, proof string, rep *scheduler.VerifyReport) {
	t.Helper()
	dir := t.TempDir()
	g, err := q.Emit(filepath.Join(dir, "graph.json"), xs)
	if err != nil {
		t.Fatal(err)
	}
	st = filepath.Join(dir, "store")
	if _, err := scheduler.Import(st, g, tensorstore.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := scheduler.Commit(st, scheduler.Config{}); err != nil {
		t.Fatal(err)
	}
	proof = filepath.Join(dir, "proof")
	if _, err := scheduler.Prove(st, proof, scheduler.Config{MemBudget: budget}); err != nil {
		t.Fatal(err)
	}
	rep, err = scheduler.Verify(st, proof, "")
	if err != nil || !rep.Verified {
		t.Fatalf("verify: %v", err)
	}
	return st, proof, rep
}
