package onnx

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/streamprove/streamprove/scheduler"
	"github.com/streamprove/streamprove/tensorstore"
)

// writeFloatNPY writes x as a float32 .npy file: a user's raw input.
func writeFloatNPY(t *testing.T, path string, x *Tensor) string {
	t.Helper()
	raw := make([]byte, 0, 4*len(x.F))
	for _, v := range x.F {
		raw = binary.LittleEndian.AppendUint32(raw, math.Float32bits(float32(v)))
	}
	if err := tensorstore.WriteNPY(path, tensorstore.Array{Name: "x", DType: "<f4", Shape: x.Shape, Raw: raw}); err != nil {
		t.Fatal(err)
	}
	return path
}

func rows(x *Tensor, lo, hi int) *Tensor {
	per := numel(x.Shape[1:])
	return &Tensor{DType: Float32, Shape: append([]int{hi - lo}, x.Shape[1:]...), F: x.F[lo*per : hi*per]}
}

// TestProveNewInput: the batch belongs to the input. The digits CNN is imported with 8 images
// and committed once; prove --input then proves float .npy inputs of 24 and 16 images (no
// re-import, no new commit: the commitment file is unchanged), each verifying against the
// store and against a verifier key exported before either prove, with outputs equal to the Go
// integer model's. A proof checked against an input of another batch is rejected, and an input
// whose fixed dimensions differ is refused naming the tensor and its shape.
func TestProveNewInput(t *testing.T) {
	m, x, _ := loadDigits(t, "cnn")
	calib, err := ReadNPY(filepath.Join(digitsDir, "cnn_calib.npy"))
	if err != nil {
		t.Fatal(err)
	}
	q, err := Quantize(m, calib, QuantOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	g, err := q.Emit(filepath.Join(dir, "graph.json"), rows(calib, 0, 8))
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
	commit0, err := os.ReadFile(filepath.Join(st, "model.commit"))
	if err != nil {
		t.Fatal(err)
	}
	vkey := filepath.Join(dir, "model.vkey")
	if _, err := scheduler.ExportVerifier(st, vkey); err != nil {
		t.Fatal(err)
	}
	proofs := map[int]string{}
	inputs := map[int]string{}
	for _, c := range []struct{ lo, hi int }{{0, 24}, {100, 116}} {
		n := c.hi - c.lo
		xs := rows(x, c.lo, c.hi)
		in := writeFloatNPY(t, filepath.Join(dir, fmt.Sprintf("x%d.npy", n)), xs)
		proof := filepath.Join(dir, fmt.Sprintf("proof%d", n))
		if _, err := scheduler.Prove(st, proof, scheduler.Config{MemBudget: 64 << 20, Input: in}); err != nil {
			t.Fatalf("prove --input of %d images: %v", n, err)
		}
		proofs[n], inputs[n] = proof, in
		want, err := q.Run(q.QuantizeInput(xs))
		if err != nil {
			t.Fatal(err)
		}
		for _, verify := range []func() (*scheduler.VerifyReport, error){
			func() (*scheduler.VerifyReport, error) { return scheduler.Verify(st, proof, in) },
			func() (*scheduler.VerifyReport, error) { return scheduler.Verify(st, proof, "") },
			func() (*scheduler.VerifyReport, error) { return scheduler.VerifyKey(vkey, proof, in) },
		} {
			rep, err := verify()
			if err != nil || !rep.Verified {
				t.Fatalf("%d images: verify: %v", n, err)
			}
			checkProven(t, rep.Outputs["logits"], want, q.Output.Scale)
		}
	}
	if commit1, err := os.ReadFile(filepath.Join(st, "model.commit")); err != nil || string(commit1) != string(commit0) {
		t.Fatalf("the commitment file changed with the batch (%v)", err)
	}
	// The proof of 24 images checked against 16 images: another graph digest, rejected.
	for _, verify := range []func() (*scheduler.VerifyReport, error){
		func() (*scheduler.VerifyReport, error) { return scheduler.Verify(st, proofs[24], inputs[16]) },
		func() (*scheduler.VerifyReport, error) { return scheduler.VerifyKey(vkey, proofs[24], inputs[16]) },
	} {
		if rep, err := verify(); !errors.Is(err, scheduler.ErrRejected) || rep == nil || rep.Verified {
			t.Errorf("a proof of 24 images verified against 16: %v", err)
		}
	}
	// Images of another size: the fixed dimensions are the model's.
	bad := writeFloatNPY(t, filepath.Join(dir, "bad.npy"), &Tensor{Shape: []int{2, 1, 8, 4}, F: make([]float64, 64)})
	_, err = scheduler.Prove(st, filepath.Join(dir, "bad"), scheduler.Config{Input: bad})
	if err == nil || !strings.Contains(err.Error(), `tensor "x": field "shape"`) || !strings.Contains(err.Error(), "[2 1 8 4]") {
		t.Errorf("an input of another image size: %v", err)
	}
}
