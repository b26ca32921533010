package onnx

import (
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/streamprove/streamprove/scheduler"
	"github.com/streamprove/streamprove/tensorstore"
)

// TestResNet18Reference imports a torchvision ResNet-18 exported with a dynamic batch (32×32
// input) and checks the float reference against PyTorch's logits. The model (45 MB) is not
// committed: set STREAMPROVE_RESNET18_DIR to a directory holding resnet18.onnx, x.npy and
// logits.npy (testdata/onnx/make_resnet18.py writes them).
func TestResNet18Reference(t *testing.T) {
	dir := os.Getenv("STREAMPROVE_RESNET18_DIR")
	if dir == "" {
		t.Skip("STREAMPROVE_RESNET18_DIR is not set")
	}
	m, err := Load(filepath.Join(dir, "resnet18.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	x, err := ReadNPY(filepath.Join(dir, "x.npy"))
	if err != nil {
		t.Fatal(err)
	}
	want, err := ReadNPY(filepath.Join(dir, "logits.npy"))
	if err != nil {
		t.Fatal(err)
	}
	out, err := m.Run(map[string]*Tensor{m.Inputs[0].Name: x})
	if err != nil {
		t.Fatal(err)
	}
	got := out[m.Outputs[0].Name]
	worst := 0.0
	for i := range got.F {
		worst = max(worst, math.Abs(got.F[i]-want.F[i]))
	}
	counts := map[string]int{}
	for _, n := range m.Nodes {
		counts[n.Op]++
	}
	t.Logf("resnet18: %d nodes %v, %d weights; max |Go − PyTorch| = %.3g", len(m.Nodes), counts, len(m.Weights), worst)
	if worst > 1e-4 {
		t.Errorf("max abs difference %g > 1e-4", worst)
	}
	calib, err := ReadNPY(filepath.Join(dir, "calib.npy"))
	if err != nil {
		t.Fatal(err)
	}
	q, err := Quantize(m, calib, QuantOptions{})
	if err != nil {
		t.Fatal(err)
	}
	a, f, _, err := q.Compare(x)
	if err != nil {
		t.Fatal(err)
	}
	span := 0.0
	for _, v := range f.F {
		span = max(span, math.Abs(v))
	}
	t.Logf("resnet18 int8: %d ops; on %d inputs max |Δlogit| %.3g (logits up to %.3g), argmax agreement %.3f",
		len(q.Ops), a.Samples, a.MaxAbsErr, span, a.ArgmaxAgree)
	if a.MaxAbsErr > 0.1*span {
		t.Errorf("quantized logits are off by %.3g of a %.3g range", a.MaxAbsErr, span)
	}
}

// TestResNet18Prove proves one 32×32 image through the quantized ResNet-18 (residual adds,
// strided convs, max and global average pooling) in a child process under --mem-budget
// 256 MiB: the model is imported with the calibration batch and committed once, the image is
// given as prove's float input (the batch bound by it), the proof verifies and its logits
// equal the Go integer model's bit for bit. Set STREAMPROVE_RESNET18_DIR (see
// TestResNet18Reference); testdata/onnx/resnet18.sh runs it in one command.
func TestResNet18Prove(t *testing.T) {
	dir := os.Getenv("STREAMPROVE_RESNET18_DIR")
	if dir == "" {
		t.Skip("STREAMPROVE_RESNET18_DIR is not set")
	}
	m, err := Load(filepath.Join(dir, "resnet18.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	x, err := ReadNPY(filepath.Join(dir, "x.npy"))
	if err != nil {
		t.Fatal(err)
	}
	calib, err := ReadNPY(filepath.Join(dir, "calib.npy"))
	if err != nil {
		t.Fatal(err)
	}
	q, err := Quantize(m, calib, QuantOptions{})
	if err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	g, err := q.Emit(filepath.Join(work, "graph.json"), rows(calib, 0, 1))
	if err != nil {
		t.Fatal(err)
	}
	st := filepath.Join(work, "store")
	if _, err := scheduler.Import(st, g, tensorstore.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := scheduler.Commit(st, scheduler.Config{}); err != nil {
		t.Fatal(err)
	}
	xs := rows(x, 0, 1)
	in := writeFloatNPY(t, filepath.Join(work, "x1.npy"), xs)
	proof := filepath.Join(work, "proof")
	const budget = 256 << 20
	rep := proveInChild(t, st, proof, budget, in)
	vr, err := scheduler.Verify(st, proof, in)
	if err != nil || !vr.Verified {
		t.Fatalf("verify: %v", err)
	}
	t.Logf("resnet18, 1 image: prove %.1fs (forward %.1fs), peak RSS %.1f MiB (budget 256 MiB), proof %d bytes, verify %.2fs, witness %.0f MiB",
		rep.WallSeconds, rep.ForwardSeconds, float64(rep.PeakRSSBytes)/(1<<20), rep.ProofBytes, vr.WallSeconds, float64(rep.WitnessBytes)/(1<<20))
	if rep.PeakRSSBytes <= 0 || rep.PeakRSSBytes > budget {
		t.Errorf("peak RSS %d bytes, budget %d", rep.PeakRSSBytes, budget)
	}
	want, err := q.Run(q.QuantizeInput(xs))
	if err != nil {
		t.Fatal(err)
	}
	checkProven(t, vr.Outputs["logits"], want, q.Output.Scale)
}
