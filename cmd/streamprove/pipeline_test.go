package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/streamprove/streamprove/tensorstore"
)

// The demo runs end to end and its last line says the proof verified.
func TestDemoCommand(t *testing.T) {
	code, out, errs := runCLI("demo")
	if code != exitOK {
		t.Fatalf("demo exit %d: %s", code, errs)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if last := lines[len(lines)-1]; !strings.Contains(last, "verified") || strings.Contains(last, "NOT") {
		t.Fatalf("demo's last line: %q", last)
	}
	for _, want := range []string{"peak RSS", "proof ", "prove "} {
		if !strings.Contains(out, want) {
			t.Errorf("demo report lacks %q:\n%s", want, out)
		}
	}
}

// The whole command pipeline on the testdata model, with the exit codes a script relies on.
func TestPipelineCommands(t *testing.T) {
	dir := t.TempDir()
	store, proof, vkey := filepath.Join(dir, "st"), filepath.Join(dir, "proof.bin"), filepath.Join(dir, "model.vkey")
	steps := []struct {
		args     []string
		code     int
		out, err string
	}{
		{[]string{"prove", "--store", store, "--out", proof}, exitFailure, "", "no store at this path"},
		{[]string{"plan", "--store", store}, exitFailure, "", "no store at this path"},
		{[]string{"verify", "--store", store, "--proof", proof}, exitFailure, "", "no store at this path"},
		{[]string{"commit", "--store", store}, exitFailure, "", "no store at this path"},
		{[]string{"export-verifier", "--store", store, "--out", proof}, exitFailure, "", "no store at this path"},
		{[]string{"inspect", "--store", store}, exitFailure, "", "no store at"},
		{[]string{"import", "--store", store, "--graph", mlp + "graph.json"}, exitOK, "imported model mlp-demo", ""},
		{[]string{"export-verifier", "--store", store, "--out", proof}, exitFailure, "", "streamprove commit"},
		{[]string{"prove", "--store", store, "--out", proof}, exitFailure, "", "streamprove commit"},
		{[]string{"commit", "--store", store, "--mem-budget", "64MiB"}, exitOK, "committed fc1.w", ""},
		{[]string{"prove", "--store", store}, exitUsage, "", "--out is required"},
		{[]string{"plan", "--store", store, "--mem-budget", "64MiB"}, exitOK, "TABLES LIVE IN", ""},
		{[]string{"plan", "--store", store, "--mem-budget", "1MiB"}, exitFailure, "", "below the minimum"},
		{[]string{"prove", "--store", store, "--out", proof, "--mem-budget", "lots"}, exitUsage, "", "--mem-budget"},
		{[]string{"prove", "--store", store, "--out", proof, "--mem-budget", "1MiB"}, exitFailure, "", "below the minimum"},
		{[]string{"prove", "--store", store, "--out", proof, "--mem-budget", "128MiB", "--json"}, exitOK, `"peak_rss_bytes"`, ""},
		{[]string{"verify", "--store", store, "--proof", proof}, exitOK, "proof verified", ""},
		{[]string{"verify", "--store", store, "--proof", proof, "--json"}, exitOK, `"verified":true`, ""},
		{[]string{"verify", "--store", store}, exitUsage, "", "--proof is required"},
		{[]string{"verify", "--store", store, "--proof", filepath.Join(dir, "none")}, exitFailure, "", "no such file"},
		{[]string{"inspect", "--store", store}, exitOK, "meta run", ""},
		{[]string{"export-verifier", "--store", store}, exitUsage, "", "--out is required"},
		{[]string{"export-verifier", "--store", store, "--out", vkey}, exitOK, "fingerprint", ""},
		{[]string{"verify", "--proof", proof}, exitUsage, "", "exactly one of --vkey or --store"},
		{[]string{"verify", "--vkey", vkey, "--store", store, "--proof", proof}, exitUsage, "", "exactly one of --vkey or --store"},
		{[]string{"verify", "--vkey", vkey, "--proof", proof}, exitFailure, "", "give them with --input"},
	}
	for _, s := range steps {
		code, out, errs := runCLI(s.args...)
		if code != s.code || !strings.Contains(out, s.out) || !strings.Contains(errs, s.err) {
			t.Fatalf("%v: exit %d (want %d)\nstdout: %s\nstderr: %s\nwant stdout ⊇ %q, stderr ⊇ %q", s.args, code, s.code, out, errs, s.out, s.err)
		}
		if code != exitOK && strings.Count(strings.TrimSpace(errs), "\n") > 0 {
			t.Errorf("%v: error is not one line: %q", s.args, errs)
		}
		if strings.Contains(errs, "no store at") {
			if _, err := os.Stat(store); err == nil {
				t.Fatalf("%v created the store it refused", s.args)
			}
		}
	}
	// A rejected proof is exit 1 with the reason, and --json still prints the verdict.
	data, err := os.ReadFile(proof)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 4
	bad := filepath.Join(dir, "bad.bin")
	os.WriteFile(bad, data, 0o644)
	if code, _, errs := runCLI("verify", "--store", store, "--proof", bad); code != exitFailure || !strings.Contains(errs, "rejected") {
		t.Fatalf("flipped proof: exit %d, %q", code, errs)
	}
	if code, out, _ := runCLI("verify", "--store", store, "--proof", bad, "--json"); code != exitFailure || !strings.Contains(out, `"verified":false`) {
		t.Fatalf("flipped proof --json: exit %d, %q", code, out)
	}
	// A file that is not an input of the model is a clear error, not a silent fallback.
	if code, _, errs := runCLI("verify", "--store", store, "--proof", proof, "--input", mlp+"model.safetensors"); code != exitFailure || !strings.Contains(errs, "not a public input") {
		t.Fatalf("verify --input model.safetensors: exit %d, %q", code, errs)
	}
	// A different public input is rejected.
	other := filepath.Join(dir, "other.safetensors")
	vals := make([]int64, 36)
	vals[7] = 3
	if err := tensorstore.WriteSafetensors(other, []tensorstore.Array{{Name: "x", DType: "I8", Shape: []int{3, 12}, Values: vals}}, nil); err != nil {
		t.Fatal(err)
	}
	if code, _, errs := runCLI("verify", "--store", store, "--proof", proof, "--input", other); code != exitFailure || !strings.Contains(errs, "rejected") {
		t.Fatalf("verify with another input: exit %d, %q", code, errs)
	}
}

// A verifier with only the key, the proof and the input (no store) verifies; a damaged key is
// refused; an input override of another shape or dtype is refused naming tensor and field;
// weights re-imported after commit make prove refuse.
func TestVerifierKeyCommands(t *testing.T) {
	dir := t.TempDir()
	store, proof, vkey := filepath.Join(dir, "st"), filepath.Join(dir, "proof.bin"), filepath.Join(dir, "model.vkey")
	for _, args := range [][]string{
		{"import", "--store", store, "--graph", mlp + "graph.json"},
		{"commit", "--store", store},
		{"prove", "--store", store, "--out", proof},
		{"export-verifier", "--store", store, "--out", vkey},
	} {
		if code, _, errs := runCLI(args...); code != exitOK {
			t.Fatalf("%v: exit %d: %s", args, code, errs)
		}
	}
	// The verifier's directory holds the key, the proof and the input, nothing else.
	fresh := t.TempDir()
	for src, dst := range map[string]string{vkey: "model.vkey", proof: "proof.bin", mlp + "x.npy": "x.npy"} {
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(fresh, dst), data, 0o644)
	}
	os.Rename(store, store+".away")
	fk, fp, fx := filepath.Join(fresh, "model.vkey"), filepath.Join(fresh, "proof.bin"), filepath.Join(fresh, "x.npy")
	if code, out, errs := runCLI("verify", "--vkey", fk, "--proof", fp, "--input", fx); code != exitOK || !strings.Contains(out, "proof verified") {
		t.Fatalf("verify --vkey in a fresh dir: exit %d\n%s%s", code, out, errs)
	}
	os.Rename(store+".away", store)
	key, _ := os.ReadFile(fk)
	for name, bad := range map[string][]byte{
		"flipped":   append(append([]byte(nil), key[:len(key)/2]...), append([]byte{key[len(key)/2] ^ 1}, key[len(key)/2+1:]...)...),
		"truncated": key[:len(key)-7],
	} {
		p := filepath.Join(fresh, name+".vkey")
		os.WriteFile(p, bad, 0o644)
		code, _, errs := runCLI("verify", "--vkey", p, "--proof", fp, "--input", fx)
		if code != exitFailure || !strings.Contains(errs, "bad verifier key") || !strings.Contains(errs, p) {
			t.Fatalf("%s key: exit %d, %q", name, code, errs)
		}
	}
	wide := filepath.Join(fresh, "wide.safetensors")
	if err := tensorstore.WriteSafetensors(wide, []tensorstore.Array{{Name: "x", DType: "I8", Shape: []int{3, 16}, Values: make([]int64, 48)}}, nil); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"--vkey", fk}, {"--store", store}} {
		code, _, errs := runCLI(append(append([]string{"verify"}, args...), "--proof", fp, "--input", wide)...)
		if code != exitFailure || !strings.Contains(errs, `tensor "x": field "shape"`) || strings.Contains(errs, "rejected") {
			t.Fatalf("verify %v --input [3,16]: exit %d, %q", args, code, errs)
		}
	}
	// Stale weights: re-import fc2.w with other values after commit.
	changed := filepath.Join(fresh, "fc2.npy")
	vals := make([]int64, 160)
	vals[3] = 5
	data, err := tensorstore.EncodeNPY(tensorstore.Array{Name: "fc2.w", DType: "I8", Shape: []int{10, 16}, Values: vals})
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(changed, data, 0o644)
	if code, _, errs := runCLI("import", "--store", store, "--npy", changed, "--name", "fc2.w"); code != exitFailure || !strings.Contains(errs, "--replace") {
		t.Fatalf("import over fc2.w: exit %d, %q", code, errs)
	}
	if code, _, errs := runCLI("import", "--store", store, "--npy", changed, "--name", "fc2.w", "--replace"); code != exitOK {
		t.Fatalf("import --replace: exit %d, %q", code, errs)
	}
	code, _, errs := runCLI("prove", "--store", store, "--out", proof)
	if code != exitFailure || !strings.Contains(errs, "weights changed since commit: run `streamprove commit`") {
		t.Fatalf("prove after re-import: exit %d, %q", code, errs)
	}
}

// The ONNX path a user follows: import a float model with calibration samples, commit once,
// prove a float .npy input of another batch, and read the outputs: text (shape, argmax per
// row), --json (every value nested by shape, its scale and dequantized floats) and --output.
func TestONNXCommands(t *testing.T) {
	dir := t.TempDir()
	store, proof, y := filepath.Join(dir, "st"), filepath.Join(dir, "proof.bin"), filepath.Join(dir, "y.npy")
	onnxDir := filepath.Join("..", "..", "testdata", "onnx")
	// Five test images in the model's float layout.
	x, err := os.ReadFile(filepath.Join(onnxDir, "mlp_test_x.npy"))
	if err != nil {
		t.Fatal(err)
	}
	hdr := 128 // numpy's header of a 2-D float32 array is 128 bytes with the preamble
	raw := x[hdr : hdr+5*64*4]
	in := filepath.Join(dir, "x5.npy")
	if err := tensorstore.WriteNPY(in, tensorstore.Array{DType: "<f4", Shape: []int{5, 64}, Raw: raw}); err != nil {
		t.Fatal(err)
	}
	for _, s := range []struct {
		args     []string
		code     int
		out, err string
	}{
		{[]string{"import", "--store", store, "--onnx", filepath.Join(onnxDir, "mlp.onnx")}, exitUsage, "", "--calibrate"},
		{[]string{"import", "--store", store, "--onnx", filepath.Join(onnxDir, "mlp.onnx"), "--calibrate", filepath.Join(onnxDir, "mlp_calib.npy")}, exitOK, "argmax agreement", ""},
		{[]string{"commit", "--store", store}, exitOK, "committed", ""},
		{[]string{"prove", "--store", store, "--input", in, "--out", proof, "--mem-budget", "64MiB"}, exitOK, "output logits [5×10] (scale", ""},
		{[]string{"verify", "--store", store, "--proof", proof, "--input", in}, exitOK, "argmax per row [", ""},
		{[]string{"verify", "--store", store, "--proof", proof, "--input", filepath.Join(onnxDir, "mlp_calib.npy")}, exitFailure, "", "rejected"},
		{[]string{"verify", "--store", store, "--proof", proof, "--input", in, "--json", "--output", y}, exitOK, `"dequantized":[[`, ""},
	} {
		code, out, errs := runCLI(s.args...)
		if code != s.code || !strings.Contains(out, s.out) || !strings.Contains(errs, s.err) {
			t.Fatalf("%v: exit %d, out %q, err %q; want exit %d, %q, %q", s.args, code, out, errs, s.code, s.out, s.err)
		}
	}
	b, err := os.ReadFile(y)
	if err != nil || !strings.Contains(string(b[:128]), "'descr': '<f4'") || !strings.Contains(string(b[:128]), "(5, 10)") || len(b) != 128+5*10*4 {
		t.Fatalf("--output wrote %d bytes (%v): %q", len(b), err, b[:min(len(b), 128)])
	}
}

// TestONNXPrivateIDsCommands: import --private-ids declares a token model's ids private (its
// help says what that costs and that it is not zero-knowledge), and refuses, as a usage error,
// a CNN (no token ids) and a --graph import (a graph declares its private inputs itself).
func TestONNXPrivateIDsCommands(t *testing.T) {
	onnxDir := filepath.Join("..", "..", "testdata", "onnx")
	store := filepath.Join(t.TempDir(), "st")
	for _, s := range []struct {
		args     []string
		code     int
		out, err string
	}{
		{[]string{"import", "--help"}, exitOK, "one-hot [tokens, vocab] advice", ""},
		{[]string{"import", "--help"}, exitOK, "not zero-knowledge", ""},
		{[]string{"import", "--store", store, "--onnx", filepath.Join(onnxDir, "cnn.onnx"), "--calibrate", filepath.Join(onnxDir, "cnn_calib.npy"), "--private-ids"}, exitUsage, "", "--private-ids: onnx"},
		{[]string{"import", "--store", store, "--onnx", filepath.Join(onnxDir, "cnn.onnx"), "--calibrate", filepath.Join(onnxDir, "cnn_calib.npy"), "--private-ids"}, exitUsage, "", "for a token model"},
		{[]string{"import", "--store", store, "--graph", "graph.json", "--private-ids"}, exitUsage, "", "--private-ids is for --onnx"},
		{[]string{"import", "--store", store, "--onnx", filepath.Join(onnxDir, "gpt13_tiny.onnx"), "--calibrate", filepath.Join(onnxDir, "gpt13_tiny_ids.npy"), "--private-ids"}, exitOK, "private input ids: the 24 --calibrate ids", ""},
	} {
		code, out, errs := runCLI(s.args...)
		if code != s.code || !strings.Contains(out, s.out) || !strings.Contains(errs, s.err) {
			t.Fatalf("%v: exit %d, out %q, err %q; want exit %d, %q, %q", s.args, code, out, errs, s.code, s.out, s.err)
		}
	}
	if _, err := os.Stat(filepath.Join(store, "catalog.db")); err != nil {
		t.Fatalf("the token model's import wrote no store: %v", err)
	}
}

// TestQuantizedONNXPipeline: an already-quantized ONNX model (QDQ, uint8 activations with zero
// points) imports without --calibrate, and prove --input with float images proves the integers
// ONNX Runtime's semantics give (testdata/onnx/make_quantized.py's expectation).
func TestQuantizedONNXPipeline(t *testing.T) {
	onnxDir := filepath.Join("..", "..", "testdata", "onnx")
	dir := t.TempDir()
	store, proof := filepath.Join(dir, "st"), filepath.Join(dir, "proof")
	for _, s := range []struct {
		args     []string
		code     int
		out, err string
	}{
		{[]string{"import", "--store", store, "--onnx", filepath.Join(onnxDir, "qdq_cnn.onnx")}, exitOK, "already-quantized", ""},
		{[]string{"commit", "--store", store}, exitOK, "committed", ""},
		{[]string{"prove", "--store", store, "--input", filepath.Join(onnxDir, "qdq_cnn_x.npy"), "--out", proof, "--mem-budget", "64MiB"}, exitOK, "output y [16×10] (scale", ""},
		{[]string{"verify", "--store", store, "--proof", proof, "--input", filepath.Join(onnxDir, "qdq_cnn_x.npy"), "--json"}, exitOK, `"verified":true`, ""},
	} {
		code, out, errs := runCLI(s.args...)
		if code != s.code || !strings.Contains(out, s.out) || !strings.Contains(errs, s.err) {
			t.Fatalf("%v: exit %d, out %q, err %q; want exit %d, %q, %q", s.args, code, out, errs, s.code, s.out, s.err)
		}
		// The first row of the proven integers is make_quantized.py's expected one.
		if s.args[0] == "verify" && !strings.Contains(out, `"values":[[41,6,-37,24,-16,20,-21,-5,-12,-10],`) {
			t.Fatalf("verify --json: %.400s", out)
		}
	}
}
