package scheduler

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/streamprove/streamprove/tensorstore"
)

// A quantized layer as an ONNX importer emits it: linear with an int32 bias, a per-channel
// fixed-point requantization with a zero point and a fused ReLU, a per-channel scale and shift
// broadcast from [6] and [1, 6] vectors, then a per-tensor requantization whose output is the
// public output (requant_fixed's output is not advice, so it may be).
const requantFixedGraph = `{
  "format": "streamprove-graph/1",
  "name": "requant-fixed",
  "tensors": {
    "x":     {"role": "input",  "shape": [3, 10], "dtype": "int8",  "source": "input.safetensors"},
    "fc1.w": {"role": "weight", "shape": [6, 10], "dtype": "int8",  "source": "model.safetensors"},
    "fc1.b": {"role": "weight", "shape": [6],     "dtype": "int32", "source": "model.safetensors"},
    "sc":    {"role": "weight", "shape": [6],     "dtype": "int8",  "source": "model.safetensors"},
    "sh.b":  {"role": "weight", "shape": [1, 6],  "dtype": "int32", "source": "model.safetensors"},
    "y":     {"role": "output"}
  },
  "nodes": [
    {"op": "linear", "name": "fc1", "in": ["x", "fc1.w", "fc1.b"], "out": "h1"},
    {"op": "requant_fixed", "name": "rq1", "in": ["h1"], "out": "a1", "multipliers": [1073741824, 1610612736, 1288490189, 1932735283, 1100000000, 2000000000],
     "shift": 40, "zero_point": -3, "bits": 8, "relu": true},
    {"op": "mul", "name": "scale", "in": ["a1", "sc"], "out": "m1"},
    {"op": "add", "name": "shift", "in": ["sh.b", "m1"], "out": "s1"},
    {"op": "requant_fixed", "name": "rq2", "in": ["s1"], "out": "y", "multipliers": [1431655765], "shift": 31, "zero_point": 10, "bits": 8, "unsigned": true}
  ]
}`

func TestRequantFixedOp(t *testing.T) {
	dir := t.TempDir()
	g := writeModel(t, dir, requantFixedGraph, 5, map[string][]int{"x": {3, 10}, "fc1.w": {6, 10}, "fc1.b": {6}, "sc": {6}, "sh.b": {1, 6}})
	store := filepath.Join(dir, "store")
	if _, err := Import(store, g, tensorstore.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := Commit(store, Config{}); err != nil {
		t.Fatal(err)
	}
	proof := filepath.Join(dir, "proof.bin")
	if _, err := Prove(store, proof, Config{MemBudget: 256 << 20}); err != nil {
		t.Fatal(err)
	}
	rep, err := Verify(store, proof, "")
	if err != nil || !rep.Verified {
		t.Fatalf("honest proof: %v", err)
	}
	ys := rep.Outputs["y"].Values
	if len(ys) != 18 {
		t.Fatalf("outputs: %v", rep.Outputs)
	}
	// y = clamp(round(s1·M/2^31) + 10, 0, 255).
	for i, v := range ys {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 || n > 255 {
			t.Fatalf("y[%d] = %v outside the range the graph allows", i, v)
		}
	}
	data, _ := os.ReadFile(proof)
	for _, i := range []int{len(data) / 3, len(data) / 2, len(data) - 40} {
		bad := append([]byte(nil), data...)
		bad[i] ^= 0x04
		p := filepath.Join(t.TempDir(), "bad")
		os.WriteFile(p, bad, 0o644)
		if _, err := Verify(store, p, ""); !errors.Is(err, ErrRejected) {
			t.Fatalf("byte %d flipped: %v, want ErrRejected", i, err)
		}
	}
}

func TestRequantFixedOpErrors(t *testing.T) {
	for _, c := range []struct{ old, new, want string }{
		{`"multipliers": [1431655765], `, ``, `field "multipliers" is missing`},
		{`"multipliers": [1073741824, 1610612736, 1288490189, 1932735283, 1100000000, 2000000000]`, `"multipliers": [1, 2]`, `2 multipliers for axis 1 of size 6`},
		{`"shift": 40`, `"shift": 0`, `field "shift" is 0, want 1..62`},
		{`"zero_point": 10`, `"zero_point": 300`, `zero point 300`},
		{`"shift": 31,`, `"shift": 31, "factor": 2,`, `field "factor" does not apply`},
		{`"shape": [1, 6],`, `"shape": [4],`, `do not broadcast`},
	} {
		_, err := ParseGraph([]byte(strings.Replace(requantFixedGraph, c.old, c.new, 1)))
		if err == nil || !errors.Is(err, ErrGraph) || !strings.Contains(err.Error(), c.want) {
			t.Fatalf("%s → %s: %v, want %q", c.old, c.new, err, c.want)
		}
	}
}
