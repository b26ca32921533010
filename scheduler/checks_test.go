package scheduler

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/streamprove/streamprove/tensorstore"
)

// verify --input is checked against the graph as import checks a source: a declared [3,12] int8
// input cannot be stood in for by a wider, longer or wider-typed array, whatever the proof.
func TestVerifyInputChecked(t *testing.T) {
	store, proof := committedMLP(t)
	vkey := filepath.Join(t.TempDir(), "k.vkey")
	if _, err := ExportVerifier(store, vkey); err != nil {
		t.Fatal(err)
	}
	ones := func(n int) []int64 {
		v := make([]int64, n)
		for i := range v {
			v[i] = 1
		}
		return v
	}
	outOfRange := ones(36)
	outOfRange[17] = 300
	cases := []struct {
		name  string
		arr   tensorstore.Array
		field string
		want  string
	}{
		{"wider", tensorstore.Array{Name: "x", DType: "I8", Shape: []int{3, 16}, Values: ones(48)}, `field "shape"`, "[3 12]"},
		{"flat", tensorstore.Array{Name: "x", DType: "I8", Shape: []int{64}, Values: ones(64)}, `field "shape"`, "[64]"},
		{"int64", tensorstore.Array{Name: "x", DType: "I64", Shape: []int{3, 12}, Values: ones(36)}, `field "dtype"`, "int64"},
		{"range", tensorstore.Array{Name: "x", DType: "I16", Shape: []int{3, 12}, Values: outOfRange}, `field "dtype"`, "300 at element 17"},
	}
	for _, c := range cases {
		path := filepath.Join(t.TempDir(), c.name+".safetensors")
		if err := tensorstore.WriteSafetensors(path, []tensorstore.Array{c.arr}, nil); err != nil {
			t.Fatal(err)
		}
		_, err1 := Verify(store, proof, path)
		_, err2 := VerifyKey(vkey, proof, path)
		for _, err := range []error{err1, err2} {
			if err == nil || errors.Is(err, ErrRejected) || !strings.Contains(err.Error(), `tensor "x"`) ||
				!strings.Contains(err.Error(), c.field) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%s: %v, want a refusal naming tensor \"x\", %s and %q", c.name, err, c.field, c.want)
			}
		}
	}
	// import applies the same check to a graph's sources.
	dir := t.TempDir()
	arr := cases[0].arr
	if err := tensorstore.WriteSafetensors(filepath.Join(dir, "input.safetensors"), []tensorstore.Array{arr}, nil); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"model.safetensors", "graph.json"} {
		data, _ := os.ReadFile(filepath.Join("../testdata/mlp", f))
		os.WriteFile(filepath.Join(dir, f), data, 0o644)
	}
	if _, err := Import(filepath.Join(dir, "st"), filepath.Join(dir, "graph.json"), tensorstore.WriteOptions{}); err == nil ||
		!strings.Contains(err.Error(), `tensor "x": field "shape"`) {
		t.Fatalf("import of a [3,16] source for [3,12]: %v", err)
	}
}

// A graph whose integer values can outgrow p/2 is refused at import and when a store's graph
// is loaded (plan, prove), naming the node; ordinary models still import.
func TestWrapRefused(t *testing.T) {
	// x is int8 (≤ 2^7): each square doubles the bit length: 2^14, 2^28, …, 2^448 after 6.
	graph := `{
  "format": "streamprove-graph/1", "name": "tower",
  "tensors": {"x": {"role": "input", "shape": [4], "dtype": "int8", "source": "input.safetensors"}, "y": {"role": "output"}},
  "nodes": [
    {"op": "square", "name": "s1", "in": ["x"], "out": "a1"},
    {"op": "square", "name": "s2", "in": ["a1"], "out": "a2"},
    {"op": "square", "name": "s3", "in": ["a2"], "out": "a3"},
    {"op": "square", "name": "s4", "in": ["a3"], "out": "a4"},
    {"op": "square", "name": "s5", "in": ["a4"], "out": "a5"},
    {"op": "mul", "name": "big", "in": ["a5", "a4"], "out": "a6"},
    {"op": "square", "name": "s7", "in": ["a6"], "out": "y"}
  ]}`
	dir := t.TempDir()
	g := writeModel(t, dir, graph, 1, map[string][]int{"x": {4}})
	_, err := Import(filepath.Join(dir, "store"), g, tensorstore.WriteOptions{})
	// s5 reaches 2^224; big = s5·s4 reaches 2^336.
	if !errors.Is(err, ErrGraph) || !strings.Contains(err.Error(), `node "big" (op mul)`) || !strings.Contains(err.Error(), "p/2") {
		t.Fatalf("import of a 2^336 bound: %v, want a refusal naming node big", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "store")); err == nil {
		t.Fatalf("a refused graph created a store")
	}
	// The same graph recorded in a store (by an older streamprove) is refused on load.
	s, err := tensorstore.Open(filepath.Join(dir, "old"))
	if err != nil {
		t.Fatal(err)
	}
	s.PutMeta(metaModel, keyGraph, []byte(graph))
	s.Close()
	if _, _, err := PlanStore(filepath.Join(dir, "old"), 0); !errors.Is(err, ErrGraph) || !strings.Contains(err.Error(), `"big"`) {
		t.Fatalf("plan of a stored wrapping graph: %v", err)
	}
	if _, err := Prove(filepath.Join(dir, "old"), filepath.Join(dir, "p"), Config{}); !errors.Is(err, ErrGraph) {
		t.Fatalf("prove of a stored wrapping graph: %v", err)
	}
	// Four squares and a scale (2^114) stay below p/2.
	ok := strings.Replace(graph, `{"op": "square", "name": "s7", "in": ["a6"], "out": "y"}`, `{"op": "scale", "name": "s7", "in": ["a4"], "factor": 3, "out": "y"}`, 1)
	ok = strings.Replace(ok, `    {"op": "mul", "name": "big", "in": ["a5", "a4"], "out": "a6"},`+"\n", "", 1)
	ok = strings.Replace(ok, `    {"op": "square", "name": "s5", "in": ["a4"], "out": "a5"},`+"\n", "", 1)
	g = writeModel(t, t.TempDir(), ok, 1, map[string][]int{"x": {4}})
	if _, err := Import(filepath.Join(t.TempDir(), "store"), g, tensorstore.WriteOptions{}); err != nil {
		t.Fatalf("a 2^114 bound: %v", err)
	}
}

// Commands that read a store refuse a path with no store and do not create one.
func TestMissingStore(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nope")
	p := filepath.Join(t.TempDir(), "p")
	_, e1 := Prove(dir, p, Config{})
	_, e2 := Verify(dir, p, "")
	_, _, e3 := PlanStore(dir, 0)
	_, e4 := Commit(dir, Config{})
	_, e5 := ExportVerifier(dir, p)
	for i, err := range []error{e1, e2, e3, e4, e5} {
		if !errors.Is(err, ErrNoStore) || !strings.Contains(err.Error(), dir) {
			t.Errorf("command %d on a missing store: %v, want ErrNoStore naming the path", i, err)
		}
	}
	if _, err := os.Stat(dir); err == nil {
		t.Fatal("a command that reads a store created it")
	}
}

// Re-importing the very same weights after commit is no change: prove goes on.
func TestReimportSameWeights(t *testing.T) {
	store, _ := committedMLP(t)
	if _, err := Import(store, mlpGraph, tensorstore.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := Prove(store, filepath.Join(t.TempDir(), "p"), Config{}); err != nil {
		t.Fatalf("prove after re-importing the same weights: %v", err)
	}
}

// A rejected proof reads "proof rejected: kernel K (op O): what did not match", once, in words.
func TestRejectionText(t *testing.T) {
	store, proof := committedMLP(t)
	data, _ := os.ReadFile(proof)
	re := regexp.MustCompile(`^proof rejected: kernel (fc1|act1|gate|residual|fc2) \(op (linear|requant_relu|mul|add)\): \S`)
	kernels := map[string]bool{}
	for i := 0; i < len(data); i += 211 {
		b := append([]byte(nil), data...)
		b[i] ^= 1
		bad := filepath.Join(t.TempDir(), "bad")
		os.WriteFile(bad, b, 0o644)
		_, err := Verify(store, bad, "")
		if !errors.Is(err, ErrRejected) {
			t.Fatalf("byte %d flipped: %v", i, err)
		}
		msg := err.Error()
		if strings.Count(msg, "proof rejected") != 1 || !strings.HasPrefix(msg, "proof rejected: ") ||
			strings.Contains(msg, "node ") || strings.Contains(msg, "E(r)") {
			t.Fatalf("byte %d flipped: %q", i, msg)
		}
		if m := re.FindStringSubmatch(msg); m != nil {
			kernels[m[1]] = true
		}
	}
	if len(kernels) < 3 {
		t.Fatalf("flips named kernels %v, want most of the model's", kernels)
	}
}

// A value past a requant's table names the graph's field ("qbits"), not a Go option.
func TestQBitsErrorNamesField(t *testing.T) {
	graph := `{
  "format": "streamprove-graph/1", "name": "rq",
  "tensors": {"x": {"role": "input", "shape": [4], "dtype": "int8", "source": "input.safetensors"}, "y": {"role": "output"}},
  "nodes": [
    {"op": "scale", "name": "up", "in": ["x"], "factor": 1000, "out": "u"},
    {"op": "requant", "name": "rq", "in": ["u"], "shift": 0, "bits": 8, "qbits": 9, "out": "q"},
    {"op": "scale", "name": "out", "in": ["q"], "factor": 1, "out": "y"}
  ]}`
	dir := t.TempDir()
	g := writeModel(t, dir, graph, 1, map[string][]int{"x": {4}})
	store := filepath.Join(dir, "store")
	if _, err := Import(store, g, tensorstore.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := Commit(store, Config{}); err != nil {
		t.Fatal(err)
	}
	_, err := Prove(store, filepath.Join(dir, "p"), Config{})
	if err == nil || !strings.Contains(err.Error(), `"qbits"`) || strings.Contains(err.Error(), "QuotientBits") || !strings.Contains(err.Error(), "node rq") {
		t.Fatalf("prove with values past the qbits table: %v", err)
	}
}
