package scheduler

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/streamprove/streamprove/tensorstore"
)

const convGraph = `{
  "format": "streamprove-graph/1",
  "name": "cnn",
  "tensors": {
    "x":      {"role": "input",  "shape": [2, 3, 7, 5], "dtype": "int8", "source": "input.safetensors"},
    "c1.w":   {"role": "weight", "shape": [4, 3, 3, 3], "dtype": "int8", "source": "model.safetensors"},
    "c1.b":   {"role": "weight", "shape": [4], "dtype": "int32", "source": "model.safetensors"},
    "dw.w":   {"role": "weight", "shape": [4, 1, 3, 3], "dtype": "int8", "source": "model.safetensors"},
    "y":      {"role": "output"}
  },
  "nodes": [
    {"op": "conv2d", "name": "c1", "in": ["x", "c1.w", "c1.b"], "out": "h", "strides": [2, 2], "pads": [1, 1, 1, 1]},
    {"op": "conv2d", "name": "dw", "in": ["h", "dw.w"], "out": "y", "pads": [1, 0, 1, 2], "dilations": [1, 2], "group": 4}
  ]
}`

func TestConvGraph(t *testing.T) {
	dir := t.TempDir()
	g := writeModel(t, dir, convGraph, 3, map[string][]int{"x": {2, 3, 7, 5}, "c1.w": {4, 3, 3, 3}, "c1.b": {4}, "dw.w": {4, 1, 3, 3}})
	store := filepath.Join(dir, "store")
	if _, err := Import(store, g, tensorstore.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := Commit(store, Config{}); err != nil {
		t.Fatal(err)
	}
	proof := filepath.Join(dir, "proof")
	if _, err := Prove(store, proof, Config{MemBudget: 128 << 20}); err != nil {
		t.Fatal(err)
	}
	rep, err := Verify(store, proof, "")
	if err != nil || !rep.Verified {
		t.Fatalf("conv graph: %v", err)
	}
	// h is [2, 4, 4, 3]; y: rows (4+2−3)+1 = 4, columns (3+2−5)/1+1 = 1
	if len(rep.Outputs["y"].Values) != 2*4*4*1 {
		t.Fatalf("%d outputs, want 32", len(rep.Outputs["y"].Values))
	}

	for _, c := range []struct{ old, edit, want string }{
		{`"strides": [2, 2]`, `"strides": [2]`, `field "strides"`},
		{`"strides": [2, 2]`, `"strides": [0, 2]`, `field "strides"`},
		{`"pads": [1, 1, 1, 1]`, `"pads": [1, 1]`, `field "pads"`},
		{`"group": 4`, `"group": 3`, `not divisible`},
		{`"group": 4`, `"group": 0`, `field "group"`},
		{`"shape": [4, 3, 3, 3]`, `"shape": [4, 3, 11, 3]`, `does not fit`},
		{`"out": "h", "strides"`, `"out": "h", "shift": 2, "strides"`, `field "shift"`},
	} {
		bad := strings.Replace(convGraph, c.old, c.edit, 1)
		if bad == convGraph {
			t.Fatalf("edit %q did not apply", c.edit)
		}
		if _, err := ParseGraph([]byte(bad)); !errors.Is(err, ErrGraph) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want ErrGraph mentioning %q", c.edit, err, c.want)
		}
	}
}

const cnnGraph = `{
  "format": "streamprove-graph/1",
  "name": "small cnn",
  "tensors": {
    "x":    {"role": "input",  "shape": [2, 3, 9, 7], "dtype": "int8", "source": "input.safetensors"},
    "c1.w": {"role": "weight", "shape": [4, 3, 3, 3], "dtype": "int8", "source": "model.safetensors"},
    "y":    {"role": "output"}
  },
  "nodes": [
    {"op": "conv2d", "name": "c1", "in": ["x", "c1.w"], "out": "h", "pads": [1, 1, 1, 1]},
    {"op": "requant_relu", "name": "a1", "in": ["h"], "out": "a", "shift": 6, "bits": 8},
    {"op": "maxpool", "name": "mp", "in": ["a"], "out": "m", "kernel_shape": [2, 2], "strides": [2, 2]},
    {"op": "sumpool", "name": "sp", "in": ["m"], "out": "s", "kernel_shape": [2, 2]},
    {"op": "requant", "name": "avg", "in": ["s"], "out": "v", "shift": 2, "bits": 8},
    {"op": "global_sumpool", "name": "gp", "in": ["v"], "out": "y"}
  ]
}`

const flattenGraph = `{
  "format": "streamprove-graph/1",
  "name": "cnn with a classifier",
  "tensors": {
    "x":    {"role": "input",  "shape": [2, 3, 9, 7], "dtype": "int8", "source": "input.safetensors"},
    "c1.w": {"role": "weight", "shape": [4, 3, 3, 3], "dtype": "int8", "source": "model.safetensors"},
    "fc.w": {"role": "weight", "shape": [5, 64], "dtype": "int8", "source": "model.safetensors"},
    "y":    {"role": "output"}
  },
  "nodes": [
    {"op": "conv2d", "name": "c1", "in": ["x", "c1.w"], "out": "h", "pads": [1, 1, 1, 1]},
    {"op": "requant_relu", "name": "a1", "in": ["h"], "out": "a", "shift": 6, "bits": 8},
    {"op": "maxpool", "name": "mp", "in": ["a"], "out": "m", "kernel_shape": [2, 2], "strides": [2, 2]},
    {"op": "flatten_padded", "name": "flat", "in": ["m"], "out": "f"},
    {"op": "linear", "name": "fc", "in": ["f", "fc.w"], "out": "y"}
  ]
}`

// A small CNN end to end: conv, activation, max pool, 2×2 average pool (sum pool + requant by
// 4), global sum pool; and one ending in a padded flatten and a linear classifier.
func TestCNNGraph(t *testing.T) {
	proveGraph(t, cnnGraph, map[string][]int{"x": {2, 3, 9, 7}, "c1.w": {4, 3, 3, 3}}, "y", 8)
	proveGraph(t, flattenGraph, map[string][]int{"x": {2, 3, 9, 7}, "c1.w": {4, 3, 3, 3}, "fc.w": {5, 64}}, "y", 10)
	// m is [2, 4, 4, 3]: a plain flatten merges 3 below 4 and changes the padding, which the
	// relabeling sumcheck proves (the classifier then has 48 columns, not 64)
	flat := strings.Replace(strings.Replace(flattenGraph, `"flatten_padded"`, `"flatten"`, 1), `[5, 64]`, `[5, 48]`, 1)
	proveGraph(t, flat, map[string][]int{"x": {2, 3, 9, 7}, "c1.w": {4, 3, 3, 3}, "fc.w": {5, 48}}, "y", 10)
	for _, c := range []struct{ old, edit, want string }{
		{`"kernel_shape": [2, 2], "strides"`, `"strides"`, `field "kernel_shape" is missing`},
		{`"kernel_shape": [2, 2]}`, `"kernel_shape": [2, 2], "group": 2}`, `field "group"`},
		{`"out": "m", "kernel_shape": [2, 2]`, `"out": "m", "kernel_shape": [2, 2], "bits": 20`, `field "bits" is 20`},
		{`"kernel_shape": [2, 2]}`, `"kernel_shape": [2, 2], "pads": [3, 0, 3, 0]}`, `entirely in the padding`},
	} {
		bad := strings.Replace(cnnGraph, c.old, c.edit, 1)
		if bad == cnnGraph {
			t.Fatalf("edit %q did not apply", c.edit)
		}
		if _, err := ParseGraph([]byte(bad)); !errors.Is(err, ErrGraph) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want ErrGraph mentioning %q", c.edit, err, c.want)
		}
	}
}

const layoutGraph = `{
  "format": "streamprove-graph/1",
  "name": "layout ops",
  "tensors": {
    "x":    {"role": "input",  "shape": [2, 3, 5, 7], "dtype": "int8", "source": "input.safetensors"},
    "z":    {"role": "weight", "shape": [7, 2, 1], "dtype": "int8", "source": "model.safetensors"},
    "y":    {"role": "output"}
  },
  "nodes": [
    {"op": "transpose", "name": "t", "in": ["x"], "out": "xt", "perm": [0, 2, 3, 1]},
    {"op": "slice", "name": "s", "in": ["xt"], "out": "xs", "starts": [1, -2], "ends": [4, 1000], "axes": [1, -1]},
    {"op": "reshape", "name": "r", "in": ["xs"], "out": "xr", "shape": [2, 21, 1, 2]},
    {"op": "squeeze", "name": "q", "in": ["xr"], "out": "xq", "axes": [2]},
    {"op": "transpose", "name": "tz", "in": ["z"], "out": "zt"},
    {"op": "unsqueeze", "name": "u", "in": ["zt"], "out": "zu", "axes": [1]},
    {"op": "slice", "name": "sz", "in": ["zu"], "out": "zs", "starts": [0, 0, 0, 0], "ends": [1, 1, 2, 7]},
    {"op": "concat", "name": "c", "in": ["xq", "zs"], "out": "y", "axis": -2}
  ]
}`

// Every layout op in one graph: x [2,3,5,7] → NHWC [2,5,7,3] → [2,3,7,2] → [2,21,1,2] →
// [2,21,2]; z [7,2,1] → [1,2,7] → [1,1,2,7] → wrong rank for concat, so it is refused; then
// with a z that fits, y is [2, 21+k, 2].
func TestLayoutGraph(t *testing.T) {
	if _, err := ParseGraph([]byte(layoutGraph)); !errors.Is(err, ErrGraph) || !strings.Contains(err.Error(), "dims") {
		t.Errorf("concat of parts of different ranks: %v", err)
	}
	g := strings.Replace(layoutGraph, `"shape": [7, 2, 1]`, `"shape": [2, 5, 2]`, 1)
	g = strings.Replace(g, `{"op": "transpose", "name": "tz", "in": ["z"], "out": "zt"},`, `{"op": "transpose", "name": "tz", "in": ["z"], "out": "zt", "perm": [0, 1, 2]},`, 1)
	g = strings.Replace(g, `{"op": "unsqueeze", "name": "u", "in": ["zt"], "out": "zu", "axes": [1]},`, `{"op": "unsqueeze", "name": "u", "in": ["zt"], "out": "zu", "axes": [-1]},`, 1)
	g = strings.Replace(g, `"starts": [0, 0, 0, 0], "ends": [1, 1, 2, 7]`, `"starts": [1], "ends": [4], "axes": [1]`, 1)
	g = strings.Replace(g, `{"op": "concat", "name": "c", "in": ["xq", "zs"], "out": "y", "axis": -2}`,
		`{"op": "squeeze", "name": "q2", "in": ["zs"], "out": "zq"},
    {"op": "concat", "name": "c", "in": ["xq", "zq"], "out": "y", "axis": -2}`, 1)
	proveGraph(t, g, map[string][]int{"x": {2, 3, 5, 7}, "z": {2, 5, 2}}, "y", 2*24*2)
	for _, c := range []struct{ old, edit, want string }{
		{`"perm": [0, 2, 3, 1]`, `"perm": [0, 2, 2, 1]`, `not a permutation`},
		{`"axes": [2]}`, `"axes": [1]}`, `not 1`},
		{`"ends": [4, 1000]`, `"ends": [1, 1000]`, `empty`},
		{`"axis": -2`, `"axis": 3`, `field "axis"`},
	} {
		bad := strings.Replace(g, c.old, c.edit, 1)
		if bad == g {
			t.Fatalf("edit %q did not apply", c.edit)
		}
		if _, err := ParseGraph([]byte(bad)); !errors.Is(err, ErrGraph) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want ErrGraph mentioning %q", c.edit, err, c.want)
		}
	}
}

func proveGraph(t *testing.T, graph string, arrays map[string][]int, out string, want int) {
	t.Helper()
	dir := t.TempDir()
	g := writeModel(t, dir, graph, 5, arrays)
	store := filepath.Join(dir, "store")
	if _, err := Import(store, g, tensorstore.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := Commit(store, Config{}); err != nil {
		t.Fatal(err)
	}
	proof := filepath.Join(dir, "proof")
	if _, err := Prove(store, proof, Config{MemBudget: 128 << 20}); err != nil {
		t.Fatal(err)
	}
	rep, err := Verify(store, proof, "")
	if err != nil || !rep.Verified {
		t.Fatalf("graph: %v", err)
	}
	if len(rep.Outputs[out].Values) != want {
		t.Fatalf("%d outputs, want %d", len(rep.Outputs[out].Values), want)
	}
}
