package onnx

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/streamprove/streamprove/field"
	"github.com/streamprove/streamprove/gkr"
	"github.com/streamprove/streamprove/scheduler"
)

// TestPrivateIDs: the tiny opset-13 GPT quantized with PrivateIDs emits its ids as a
// private_input (no scale, no dynamic dimension) that the gather proves through a committed
// one-hot advice; the proof verifies from a verifier key and no input at all, and its logits
// equal the public-ids proof's and the Go integer model's bit for bit. Soundness: the proof with
// one claimed logit altered (a false statement about the hidden prompt's output) is rejected by
// the store's verifier and by the key's, and the honest proof is rejected against the public-ids
// graph of the same model (another statement: its digest differs).
func TestPrivateIDs(t *testing.T) {
	m, ids, _ := loadTokenModel(t, "gpt13_tiny", "gpt13_tiny_ids.npy")
	pub, err := Quantize(m, ids, QuantOptions{})
	if err != nil {
		t.Fatal(err)
	}
	priv, err := Quantize(m, ids, QuantOptions{PrivateIDs: true})
	if err != nil {
		t.Fatal(err)
	}
	// One sequence of the calibration batch keeps the two proofs to seconds.
	xs := &Tensor{DType: Float32, Shape: []int{1, ids.Shape[1]}, F: ids.F[:ids.Shape[1]]}
	tokens, name := len(xs.F), priv.Input.Name
	g, err := priv.Emit(filepath.Join(t.TempDir(), "graph.json"), xs)
	if err != nil {
		t.Fatal(err)
	}
	gm, err := scheduler.LoadGraphFile(g)
	if err != nil {
		t.Fatal(err)
	}
	ts, ti := gm.File.Tensors[name], gm.Graph.Tensors[name]
	if ti == nil || ti.Role != gkr.PrivateInput || ts.Scale != 0 || len(ts.DimParams) != 0 || !slices.Equal(ti.Shape, []int{tokens}) {
		t.Fatalf("ids %q declared %+v (%+v), want a private_input [%d] without scale or dim_params", name, ts, ti, tokens)
	}
	if in := gm.Graph.Names(gkr.Input); len(in) != 0 {
		t.Fatalf("public inputs %v, want none", in)
	}
	if oh := gm.Graph.Names(gkr.Advice); !slices.ContainsFunc(oh, func(n string) bool { return slices.Equal(gm.Graph.Tensors[n].Shape, []int{tokens, 10}) }) {
		t.Fatalf("no one-hot [%d, 10] advice among %v", tokens, oh)
	}

	pst, _, pubRep := proveEmitted(t, pub, xs, 64<<20)
	st, proof, privRep := proveEmitted(t, priv, xs, 64<<20)
	want, err := priv.Run(priv.QuantizeInput(xs))
	if err != nil {
		t.Fatal(err)
	}
	checkProven(t, privRep.Outputs["logits"], want, priv.Output.Scale)
	if got, pw := privRep.Outputs["logits"], pubRep.Outputs["logits"]; !slices.Equal(got.Values, pw.Values) || got.Scale != pw.Scale {
		t.Fatal("the private-ids proof's logits differ from the public-ids proof's")
	}
	vkey := filepath.Join(t.TempDir(), "model.vkey")
	if _, err := scheduler.ExportVerifier(st, vkey); err != nil {
		t.Fatal(err)
	}
	vr, err := scheduler.VerifyKey(vkey, proof, "")
	if err != nil || !vr.Verified {
		t.Fatalf("verify from the key alone, without ids: %v", err)
	}
	checkProven(t, vr.Outputs["logits"], want, priv.Output.Scale)
	t.Logf("gpt13_tiny, %d private ids: proof %d bytes (public ids: %d)", tokens, privRep.ProofBytes, pubRep.ProofBytes)

	// The proof carries the logits as canonical 32-byte big-endian elements, row-major.
	enc := make([]byte, 0, len(want.V)*field.Bytes)
	for _, v := range want.V {
		e := field.NewInt(v)
		var b [field.Bytes]byte
		field.PutBE(b[:], &e)
		enc = append(enc, b[:]...)
	}
	data, err := os.ReadFile(proof)
	if err != nil {
		t.Fatal(err)
	}
	at := bytes.Index(data, enc)
	if at < 0 || bytes.Index(data[at+1:], enc) >= 0 {
		t.Fatalf("the logits are not in the proof exactly once (at %d)", at)
	}
	const k = 7 // one logit of the first position
	e := field.NewInt(want.V[k] + 1)
	field.PutBE(data[at+k*field.Bytes:], &e)
	bad := filepath.Join(t.TempDir(), "proof.altered")
	if err := os.WriteFile(bad, data, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		what   string
		verify func() (*scheduler.VerifyReport, error)
	}{
		{"altered logit, store", func() (*scheduler.VerifyReport, error) { return scheduler.Verify(st, bad, "") }},
		{"altered logit, key", func() (*scheduler.VerifyReport, error) { return scheduler.VerifyKey(vkey, bad, "") }},
		{"honest proof, public-ids graph", func() (*scheduler.VerifyReport, error) { return scheduler.Verify(pst, proof, "") }},
	} {
		vr, err := c.verify()
		if !errors.Is(err, scheduler.ErrRejected) || vr == nil || vr.Verified {
			t.Fatalf("%s: %v (report %+v), want ErrRejected", c.what, err, vr)
		}
		t.Logf("%s: %v", c.what, err)
	}
}

// TestPrivateIDsRefused: a CNN (float input) and an already-quantized model have no token ids:
// PrivateIDs fails the import and the quantizer with ErrNotTokenModel naming the input, and
// writes no graph.
func TestPrivateIDsRefused(t *testing.T) {
	dir := t.TempDir()
	opt := QuantOptions{PrivateIDs: true}
	for _, c := range []struct{ model, calib string }{
		{"cnn.onnx", "cnn_calib.npy"},
		{"qdq_cnn.onnx", ""},
	} {
		calib := ""
		if c.calib != "" {
			calib = filepath.Join(digitsDir, c.calib)
		}
		g := filepath.Join(dir, c.model+".json")
		_, _, err := ImportFile(filepath.Join(digitsDir, c.model), calib, g, opt)
		if !errors.Is(err, ErrNotTokenModel) || !bytes.Contains([]byte(err.Error()), []byte("input")) {
			t.Fatalf("%s: %v, want ErrNotTokenModel naming the input", c.model, err)
		}
		if _, serr := os.Stat(g); !errors.Is(serr, os.ErrNotExist) {
			t.Fatalf("%s: a graph was written: %v", c.model, serr)
		}
		t.Logf("%s: %v", c.model, err)
	}
	m, x, _ := loadDigits(t, "cnn")
	if _, err := Quantize(m, x, opt); !errors.Is(err, ErrNotTokenModel) {
		t.Fatalf("Quantize(cnn, PrivateIDs): %v, want ErrNotTokenModel", err)
	}
}
