package scheduler

import (
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/streamprove/streamprove/gkr"
	"github.com/streamprove/streamprove/tensorstore"
)

// writeModel writes a graph file and its safetensors sources into dir and returns the graph path.
func writeModel(t *testing.T, dir, graph string, seed uint64, arrays map[string][]int) string {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 7))
	var model, input []tensorstore.Array
	for name, shape := range arrays {
		n := 1
		for _, d := range shape {
			n *= d
		}
		a := tensorstore.Array{Name: name, DType: "I8", Shape: shape, Values: make([]int64, n)}
		if strings.HasSuffix(name, ".b") {
			a.DType = "I32"
		}
		for i := range a.Values {
			a.Values[i] = rng.Int64N(255) - 127
		}
		if name == "x" {
			input = append(input, a)
		} else {
			model = append(model, a)
		}
	}
	if err := tensorstore.WriteSafetensors(filepath.Join(dir, "model.safetensors"), model, nil); err != nil {
		t.Fatal(err)
	}
	if err := tensorstore.WriteSafetensors(filepath.Join(dir, "input.safetensors"), input, nil); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "graph.json")
	if err := os.WriteFile(p, []byte(graph), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

const residualGraph = `{
  "format": "streamprove-graph/1",
  "name": "residual",
  "tensors": {
    "x":     {"role": "input",  "shape": [3, 10], "dtype": "int8", "source": "input.safetensors"},
    "fc1.w": {"role": "weight", "shape": [6, 10], "dtype": "int8", "source": "model.safetensors"},
    "fc1.b": {"role": "weight", "shape": [6],     "dtype": "int32", "source": "model.safetensors"},
    "fc2.w": {"role": "weight", "shape": [5, 6],  "dtype": "int8", "source": "model.safetensors"},
    "y":     {"role": "output"}
  },
  "nodes": [
    {"op": "linear", "in": ["x", "fc1.w", "fc1.b"], "out": "h1"},
    {"op": "add",    "in": ["h1", "h1"], "out": "s1"},
    {"op": "mul",    "in": ["s1", "h1"], "out": "m1"},
    {"op": "linear", "in": ["m1", "fc2.w"], "out": "y"}
  ]
}`

var residualArrays = map[string][]int{"x": {3, 10}, "fc1.w": {6, 10}, "fc1.b": {6}, "fc2.w": {5, 6}}

func setup(t *testing.T, seed uint64) (store, proof string) {
	t.Helper()
	dir := t.TempDir()
	g := writeModel(t, dir, residualGraph, seed, residualArrays)
	store = filepath.Join(dir, "store")
	if _, err := Import(store, g, tensorstore.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := Commit(store, Config{}); err != nil {
		t.Fatal(err)
	}
	proof = filepath.Join(dir, "proof.bin")
	rep, err := Prove(store, proof, Config{MemBudget: 256 << 20})
	if err != nil {
		t.Fatal(err)
	}
	if rep.ProofBytes == 0 || rep.WitnessBytes == 0 || rep.PeakRSSBytes == 0 {
		t.Fatalf("empty report: %+v", rep)
	}
	return store, proof
}

func TestEndToEnd(t *testing.T) {
	store, proof := setup(t, 1)
	rep, err := Verify(store, proof, "")
	if err != nil || !rep.Verified {
		t.Fatalf("honest proof: %v", err)
	}
	if len(rep.Outputs["y"].Values) != 15 {
		t.Fatalf("outputs: %v", rep.Outputs)
	}

	data, _ := os.ReadFile(proof)
	for _, i := range []int{0, 5, 40, 100, len(data) / 2, len(data) - 1} {
		bad := append([]byte(nil), data...)
		bad[i] ^= 0x10
		p := filepath.Join(t.TempDir(), "bad")
		os.WriteFile(p, bad, 0o644)
		if _, err := Verify(store, p, ""); !errors.Is(err, ErrRejected) {
			t.Fatalf("byte %d flipped: %v, want ErrRejected", i, err)
		}
	}

	// another input
	other := filepath.Join(t.TempDir(), "x.safetensors")
	vals := make([]int64, 30)
	vals[3] = 1
	if err := tensorstore.WriteSafetensors(other, []tensorstore.Array{{Name: "x", DType: "I8", Shape: []int{3, 10}, Values: vals}}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(store, proof, other); !errors.Is(err, ErrRejected) {
		t.Fatalf("different public input: %v, want ErrRejected", err)
	}

	// a proof from another model's store (same graph, other weights)
	store2, _ := setup(t, 2)
	if _, err := Verify(store2, proof, ""); !errors.Is(err, ErrRejected) {
		t.Fatalf("proof checked against another model: %v, want ErrRejected", err)
	}
}

// Weights re-imported after commit: prove refuses up front, and a prover that skips the check
// gets a proof the verifier rejects.
func TestWeightsChangedAfterCommit(t *testing.T) {
	store, _ := setup(t, 3)
	s, err := tensorstore.Open(store)
	if err != nil {
		t.Fatal(err)
	}
	w, err := s.Create("fc2.w", []int{5, 6}, tensorstore.Int8, tensorstore.WriteOptions{Replace: true})
	if err != nil {
		t.Fatal(err)
	}
	v := make([]int64, 30)
	v[0] = 1
	w.WriteInt64s(v)
	if _, err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	proof := filepath.Join(t.TempDir(), "p")
	s.Close()
	_, err = Prove(store, proof, Config{})
	if !errors.Is(err, ErrStaleCommitment) || !strings.Contains(err.Error(), "weights changed since commit: run `streamprove commit`") ||
		!strings.Contains(err.Error(), `"fc2.w"`) {
		t.Fatalf("prove after weights changed: %v, want ErrStaleCommitment naming fc2.w", err)
	}
	if _, err := ExportVerifier(store, filepath.Join(t.TempDir(), "k.vkey")); !errors.Is(err, ErrStaleCommitment) {
		t.Fatalf("export-verifier after weights changed: %v, want ErrStaleCommitment", err)
	}
	// A dishonest prover: it records the new weights as committed and proves anyway.
	s, err = tensorstore.Open(store)
	if err != nil {
		t.Fatal(err)
	}
	m, err := LoadModel(s)
	if err != nil {
		t.Fatal(err)
	}
	fp, err := weightFingerprints(s, m)
	if err != nil {
		t.Fatal(err)
	}
	if err := recordCommitted(s, fp); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := Prove(store, proof, Config{}); err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(store, proof, ""); !errors.Is(err, ErrRejected) {
		t.Fatalf("weights changed after commit: %v, want ErrRejected", err)
	}
	// After a new commit the store proves again.
	if _, err := Commit(store, Config{}); err != nil {
		t.Fatal(err)
	}
	if _, err := Prove(store, proof, Config{}); err != nil {
		t.Fatalf("prove after a new commit: %v", err)
	}
	if vr, err := Verify(store, proof, ""); err != nil || !vr.Verified {
		t.Fatalf("verify after a new commit: %v", err)
	}
}

func TestGraphErrors(t *testing.T) {
	base := residualGraph
	cases := []struct{ edit, old, want string }{
		{`"format": "other/1"`, `"format": "streamprove-graph/1"`, `field "format"`},
		{`"op": "conv"`, `"op": "add"`, `unknown op "conv"`},
		{`"shape": [6, 11]`, `"shape": [6, 10]`, `field "in"`},
		{`"in": ["h1", "nope"]`, `"in": ["h1", "h1"]`, `tensor "nope"`},
		{`"dtype": "float32"`, `"dtype": "int32"`, `field "dtype"`},
		{`"role": "hidden"`, `"role": "output"`, `field "role"`},
		{`"in": ["m1", "fc2.w"], "out": "y", "shift": 3`, `"in": ["m1", "fc2.w"], "out": "y"`, `field "shift"`},
		{`"in": ["y", "fc1.w", "fc1.b"]`, `"in": ["x", "fc1.w", "fc1.b"]`, `cycle`},
		{`"shape": [0, 10]`, `"shape": [3, 10]`, `field "shape"`},
		// W stored [in, out] is the weight's fault, not the input's.
		{`"fc2.w": {"role": "weight", "shape": [6, 5]`, `"fc2.w": {"role": "weight", "shape": [5, 6]`, `field "in"[1]: weight "fc2.w" has shape [6 5], which looks transposed`},
	}
	for _, c := range cases {
		g := strings.Replace(base, c.old, c.edit, 1)
		if g == base {
			t.Fatalf("edit %q did not apply", c.edit)
		}
		_, err := ParseGraph([]byte(g))
		if !errors.Is(err, ErrGraph) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want ErrGraph mentioning %q", c.edit, err, c.want)
		}
	}
	if _, err := ParseGraph([]byte(`{"format": `)); !errors.Is(err, ErrGraph) {
		t.Errorf("truncated JSON: %v", err)
	}
	if _, err := ParseGraph([]byte(base)); err != nil {
		t.Fatalf("base graph: %v", err)
	}
}

func TestImportErrors(t *testing.T) {
	dir := t.TempDir()
	g := writeModel(t, dir, residualGraph, 1, residualArrays)
	// a missing source file
	os.Remove(filepath.Join(dir, "model.safetensors"))
	store := filepath.Join(dir, "store")
	if _, err := Import(store, g, tensorstore.WriteOptions{}); err == nil || !strings.Contains(err.Error(), "fc1.b") {
		t.Fatalf("missing source: %v", err)
	}
	// the failed import left no model behind
	s, _ := tensorstore.Open(store)
	if _, err := LoadModel(s); !errors.Is(err, ErrNoModel) {
		t.Fatalf("after a failed import: %v", err)
	}
	s.Close()
	// a dtype wider than declared
	dir2 := t.TempDir()
	g2 := writeModel(t, dir2, strings.Replace(residualGraph, `"shape": [5, 6],  "dtype": "int8"`, `"shape": [5, 6],  "dtype": "int8"`, 1), 1, residualArrays)
	tensorstore.WriteSafetensors(filepath.Join(dir2, "input.safetensors"), []tensorstore.Array{{Name: "x", DType: "I32", Shape: []int{3, 10}, Values: make([]int64, 30)}}, nil)
	if _, err := Import(filepath.Join(dir2, "store"), g2, tensorstore.WriteOptions{}); err == nil || !strings.Contains(err.Error(), "dtype") {
		t.Fatalf("wider dtype: %v", err)
	}
}

func TestBudgetBelowMinimum(t *testing.T) {
	store, _ := setup(t, 4)
	_, err := Prove(store, filepath.Join(t.TempDir(), "p"), Config{MemBudget: 1 << 20})
	if err == nil || !strings.Contains(err.Error(), "--mem-budget") {
		t.Fatalf("1 MiB budget: %v", err)
	}
}

func TestDemo(t *testing.T) {
	rep, err := Demo(os.DirFS("../testdata/mlp"), ".", t.TempDir(), Config{MemBudget: 128 << 20})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Verify.Verified || len(rep.Verify.Outputs["y"].Values) != 30 {
		t.Fatalf("demo: %+v", rep.Verify)
	}
}

// Re-importing a model forgets the previous run's progress, so --resume cannot reuse outputs
// computed from other data.
func TestReimportClearsRunState(t *testing.T) {
	store, _ := setup(t, 8)
	s, err := tensorstore.Open(store)
	if err != nil {
		t.Fatal(err)
	}
	keys, _ := s.MetaKeys()
	if len(keys[metaRun]) == 0 {
		t.Fatal("a finished prove recorded no run state")
	}
	m, err := LoadModel(s)
	if err != nil {
		t.Fatal(err)
	}
	if err := saveModel(s, m); err != nil {
		t.Fatal(err)
	}
	keys, _ = s.MetaKeys()
	if len(keys[metaRun]) != 0 {
		t.Fatalf("run state survived a re-import: %v", keys[metaRun])
	}
	s.Close()
}

// A graph can launch a registered data-parallel circuit (the built-in "mimc") like any op.
func TestCircuitOp(t *testing.T) {
	dir := t.TempDir()
	graph := `{
  "format": "streamprove-graph/1",
  "name": "mimc",
  "tensors": {
    "x":   {"role": "input", "shape": [1000], "dtype": "int32", "source": "input.safetensors"},
    "key": {"role": "input", "shape": [1000], "dtype": "int32", "source": "input.safetensors"},
    "w":   {"role": "weight", "shape": [3, 1000], "dtype": "int8", "source": "model.safetensors"},
    "y":   {"role": "output"}
  },
  "nodes": [
    {"op": "mimc", "name": "perm", "in": ["x", "key"], "out": "h"},
    {"op": "linear", "name": "head", "in": ["h", "w"], "out": "y"}
  ]
}`
	vals := make([]int64, 1000)
	for i := range vals {
		vals[i] = int64(i*7919) - 3000000
	}
	if err := tensorstore.WriteSafetensors(filepath.Join(dir, "input.safetensors"), []tensorstore.Array{
		{Name: "x", DType: "I32", Shape: []int{1000}, Values: vals},
		{Name: "key", DType: "I32", Shape: []int{1000}, Values: vals[:1000]},
	}, nil); err != nil {
		t.Fatal(err)
	}
	w := make([]int64, 3000)
	for i := range w {
		w[i] = int64(i%255) - 127
	}
	if err := tensorstore.WriteSafetensors(filepath.Join(dir, "model.safetensors"), []tensorstore.Array{{Name: "w", DType: "I8", Shape: []int{3, 1000}, Values: w}}, nil); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "graph.json"), []byte(graph), 0o644)
	store := filepath.Join(dir, "store")
	if _, err := Import(store, filepath.Join(dir, "graph.json"), tensorstore.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := Commit(store, Config{}); err != nil {
		t.Fatal(err)
	}
	proof := filepath.Join(dir, "proof")
	if _, err := Prove(store, proof, Config{MemBudget: 128 << 20}); err != nil {
		t.Fatal(err)
	}
	if vr, err := Verify(store, proof, ""); err != nil || !vr.Verified {
		t.Fatalf("mimc graph: %v", err)
	}
	if err := RegisterCircuit("mimc", nil, "y", nil); err == nil {
		t.Fatal("registering a name twice was accepted")
	}
	bad := strings.Replace(graph, `"shape": [1000], "dtype": "int32", "source": "input.safetensors"},
    "key"`, `"shape": [10, 100], "dtype": "int32", "source": "input.safetensors"},
    "key"`, 1)
	if _, err := ParseGraph([]byte(bad)); err == nil || !strings.Contains(err.Error(), "vectors [N]") {
		t.Fatalf("mimc over a matrix: %v", err)
	}
}

// A flipped bit in any stored chunk stops the prover with ErrCorrupt naming the tensor and the
// chunk: never a proof built from corrupted data.
func TestCorruptStoreStopsProver(t *testing.T) {
	store, _ := setup(t, 9)
	files, _ := filepath.Glob(filepath.Join(store, "tensors", "*.chk"))
	if len(files) == 0 {
		t.Fatal("no segment files")
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		data[len(data)-3] ^= 0x20 // inside the last chunk's payload
		os.WriteFile(f, data, 0o644)
	}
	_, err := Prove(store, filepath.Join(t.TempDir(), "p"), Config{})
	t.Log(err)
	if !errors.Is(err, tensorstore.ErrCorrupt) || !strings.Contains(err.Error(), "chunk") || !strings.Contains(err.Error(), "tensor") {
		t.Fatalf("prove over a corrupted store: %v, want ErrCorrupt naming tensor and chunk", err)
	}
}

// A private input is committed inside each proof: the verifier checks the proof without it, and
// a proof whose private-input commitment is tampered with is rejected.
func TestPrivateInput(t *testing.T) {
	dir := t.TempDir()
	graph := strings.Replace(residualGraph, `"x":     {"role": "input",`, `"x":     {"role": "private_input",`, 1)
	g := writeModel(t, dir, graph, 11, residualArrays)
	store := filepath.Join(dir, "store")
	if _, err := Import(store, g, tensorstore.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := Commit(store, Config{}); err != nil {
		t.Fatal(err)
	}
	proof := filepath.Join(dir, "proof")
	if _, err := Prove(store, proof, Config{MemBudget: 64 << 20}); err != nil {
		t.Fatal(err)
	}
	// The verifier's view of the store does not serve x at all.
	s, _ := tensorstore.Open(store)
	m, _ := LoadModel(s)
	cm, _ := LoadCommitments(s)
	pub, err := public(s, m, cm)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pub.Inputs.Source("x"); err == nil {
		t.Fatal("the verifier's view serves the private input")
	}
	s.Close()
	if vr, err := Verify(store, proof, ""); err != nil || !vr.Verified {
		t.Fatalf("proof with a private input: %v", err)
	}
	data, _ := os.ReadFile(proof)
	data[70+20] ^= 1 // inside the first in-proof commitment (x's range multiplicities, then x), right after the header
	bad := filepath.Join(dir, "bad")
	os.WriteFile(bad, data, 0o644)
	if _, err := Verify(store, bad, ""); !errors.Is(err, ErrRejected) {
		t.Fatalf("tampered private-input commitment: %v", err)
	}
}

// TestPrivateInputRangeCheck: every private input is pinned to its dtype by a range lookup the
// model adds after the graph's nodes (rangeCheckPrivate; kernels.TestPrivateInputRange shows
// the attack it stops): an int8 x gets "x/range" over [−128, 128); private ids read only by a
// gather get none (its one-hot proves them); a wider private input feeding a linear layer is
// refused, naming it. TestPrivateInput proves and verifies the int8 model with its check.
func TestPrivateInputRangeCheck(t *testing.T) {
	private := strings.Replace(residualGraph, `"x":     {"role": "input",`, `"x":     {"role": "private_input",`, 1)
	m, err := ParseGraph([]byte(private))
	if err != nil {
		t.Fatal(err)
	}
	last := m.Kernels[len(m.Kernels)-1]
	if last.Name() != "x/range" || !slices.Equal(last.Inputs(), []string{"x"}) {
		t.Fatalf("last kernel %q over %v, want the range check x/range over x", last.Name(), last.Inputs())
	}
	if ti := m.Graph.Tensors["x/range/mult"]; ti == nil || ti.Role != gkr.Advice || ti.Len() != 256 {
		t.Fatalf("range multiplicities declared as %+v, want advice of 256 rows", ti)
	}
	ids := strings.Replace(embedGraph, `"ids":  {"role": "input"`, `"ids":  {"role": "private_input"`, 1)
	if m, err = ParseGraph([]byte(ids)); err != nil {
		t.Fatal(err)
	}
	for _, k := range m.Kernels {
		if strings.HasSuffix(k.Name(), "/range") {
			t.Fatalf("private ids read by a gather got a range check %q", k.Name())
		}
	}
	wide := strings.Replace(private, `"x":     {"role": "private_input",  "shape": [3, 10], "dtype": "int8"`, `"x":     {"role": "private_input",  "shape": [3, 10], "dtype": "int32"`, 1)
	if wide == private {
		t.Fatal("the int32 variant did not apply")
	}
	_, err = ParseGraph([]byte(wide))
	if !errors.Is(err, ErrGraph) || !strings.Contains(err.Error(), `tensor "x"`) || !strings.Contains(err.Error(), "int8 or int16") {
		t.Fatalf("int32 private input into a linear layer: %v, want ErrGraph naming x", err)
	}
}

// proveModel imports the graph file g (written by writeModel into dir), commits it, proves it
// under 256 MiB and verifies the proof, failing the test on any error; it returns the store, the
// proof's path and the verifier's report.
func proveModel(t *testing.T, dir, g string) (store, proof string, rep *VerifyReport) {
	t.Helper()
	store = filepath.Join(dir, "store")
	if _, err := Import(store, g, tensorstore.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := Commit(store, Config{}); err != nil {
		t.Fatal(err)
	}
	proof = filepath.Join(dir, "proof.bin")
	if _, err := Prove(store, proof, Config{MemBudget: 256 << 20}); err != nil {
		t.Fatal(err)
	}
	rep, err := Verify(store, proof, "")
	if err != nil || !rep.Verified {
		t.Fatalf("honest proof: %v", err)
	}
	return store, proof, rep
}
