package scheduler

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/streamprove/streamprove/gkr"
	"github.com/streamprove/streamprove/tensorstore"
)

// attentionGraph is scores = x·kᵀ and y = scores·v per head (x public, k and v committed).
const attentionGraph = `{
  "format": "streamprove-graph/1",
  "name": "attention",
  "tensors": {
    "x": {"role": "input",  "shape": [3, 5, 4], "dtype": "int8", "source": "input.safetensors"},
    "k": {"role": "weight", "shape": [3, 5, 4], "dtype": "int8", "source": "model.safetensors"},
    "v": {"role": "weight", "shape": [3, 5, 6], "dtype": "int8", "source": "model.safetensors"},
    "y": {"role": "output"}
  },
  "nodes": [
    {"op": "matmul_bt", "name": "qk", "in": ["x", "k"], "out": "s"},
    {"op": "matmul",    "name": "sv", "in": ["s", "v"], "out": "y"}
  ]
}`

func TestMatMulOps(t *testing.T) {
	dir := t.TempDir()
	g := writeModel(t, dir, attentionGraph, 3, map[string][]int{"x": {3, 5, 4}, "k": {3, 5, 4}, "v": {3, 5, 6}})
	store := filepath.Join(dir, "store")
	m, err := Import(store, g, tensorstore.WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if s := m.Graph.Tensors["s"].Shape; len(s) != 3 || s[0] != 3 || s[1] != 5 || s[2] != 5 {
		t.Fatalf("scores shape %v, want [3 5 5]", s)
	}
	if _, err := Commit(store, Config{}); err != nil {
		t.Fatal(err)
	}
	proof := filepath.Join(dir, "proof.bin")
	if _, err := Prove(store, proof, Config{MemBudget: 256 << 20}); err != nil {
		t.Fatal(err)
	}
	rep, err := Verify(store, proof, "")
	if err != nil || !rep.Verified || len(rep.Outputs["y"].Values) != 3*5*6 {
		t.Fatalf("honest proof: %v %+v", err, rep)
	}
	data, _ := os.ReadFile(proof)
	bad := append([]byte(nil), data...)
	bad[len(bad)/2] ^= 0x10
	p := filepath.Join(t.TempDir(), "bad")
	os.WriteFile(p, bad, 0o644)
	if _, err := Verify(store, p, ""); !errors.Is(err, ErrRejected) {
		t.Fatalf("flipped byte: %v, want ErrRejected", err)
	}
	for _, c := range []struct{ old, edit, want string }{
		{`"op": "matmul_bt"`, `"op": "matmul"`, "inner dimensions"},
		{`"v": {"role": "weight", "shape": [3, 5, 6]`, `"v": {"role": "weight", "shape": [2, 5, 6]`, "leading dimensions"},
		{`"in": ["s", "v"]`, `"in": ["s"]`, `field "in"`},
	} {
		bad := strings.Replace(attentionGraph, c.old, c.edit, 1)
		if _, err := ParseGraph([]byte(bad)); !errors.Is(err, ErrGraph) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want ErrGraph mentioning %q", c.edit, err, c.want)
		}
	}
}

const embedGraph = `{
  "format": "streamprove-graph/1",
  "name": "embed",
  "tensors": {
    "ids":  {"role": "input",  "shape": [6],     "dtype": "int32", "source": "ids.safetensors"},
    "emb":  {"role": "weight", "shape": [10, 4], "dtype": "int8",  "source": "model.safetensors"},
    "head": {"role": "weight", "shape": [3, 4],  "dtype": "int8",  "source": "model.safetensors"},
    "y":    {"role": "output"}
  },
  "nodes": [
    {"op": "gather", "name": "embed", "in": ["emb", "ids"], "out": "e"},
    {"op": "linear", "name": "lm",    "in": ["e", "head"], "out": "y"}
  ]
}`

func TestGatherOp(t *testing.T) {
	dir := t.TempDir()
	g := writeModel(t, dir, embedGraph, 4, map[string][]int{"emb": {10, 4}, "head": {3, 4}})
	ids := []tensorstore.Array{{Name: "ids", DType: "I32", Shape: []int{6}, Values: []int64{9, 0, 3, 3, 7, 1}}}
	if err := tensorstore.WriteSafetensors(filepath.Join(dir, "ids.safetensors"), ids, nil); err != nil {
		t.Fatal(err)
	}
	store, proof, _ := proveModel(t, dir, g)
	// The same proof against other public ids is rejected.
	other := filepath.Join(t.TempDir(), "ids.safetensors")
	ids[0].Values[2] = 4
	if err := tensorstore.WriteSafetensors(other, ids, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(store, proof, other); !errors.Is(err, ErrRejected) {
		t.Fatalf("other ids: %v, want ErrRejected", err)
	}
	bad := strings.Replace(embedGraph, `"ids":  {"role": "input"`, `"ids":  {"role": "weight"`, 1)
	if _, err := ParseGraph([]byte(bad)); !errors.Is(err, ErrGraph) || !strings.Contains(err.Error(), "public input") {
		t.Errorf("committed ids: %v, want ErrGraph about a public input", err)
	}
}

// TestGatherPrivateIDs: the same embedding with the ids a private input. The gather op picks the
// private-ids kernel (a committed one-hot advice), the verifier checks the proof without the ids,
// and an id outside the table fails the forward pass naming node, position and value.
func TestGatherPrivateIDs(t *testing.T) {
	graph := strings.Replace(embedGraph, `"ids":  {"role": "input"`, `"ids":  {"role": "private_input"`, 1)
	m, err := ParseGraph([]byte(graph))
	if err != nil {
		t.Fatal(err)
	}
	if oh, ok := m.Graph.Tensors["embed/onehot"]; !ok || oh.Role != gkr.Advice || fmt.Sprint(oh.Shape) != "[6 10]" {
		t.Fatalf("one-hot advice declared as %+v", oh)
	}
	pub, err := ParseGraph([]byte(embedGraph))
	if err != nil {
		t.Fatal(err)
	}
	if pub.Graph.Digest() == m.Graph.Digest() {
		t.Fatal("public and private gathers share a graph digest")
	}
	for _, c := range []struct {
		ids  []int64
		want string // "" : proven and verified
	}{{[]int64{9, 0, 3, 3, 7, 1}, ""}, {[]int64{9, 0, 3, 10, 7, 1}, "token id 10 at position 3"}} {
		dir := t.TempDir()
		g := writeModel(t, dir, graph, 4, map[string][]int{"emb": {10, 4}, "head": {3, 4}})
		ids := []tensorstore.Array{{Name: "ids", DType: "I32", Shape: []int{6}, Values: c.ids}}
		if err := tensorstore.WriteSafetensors(filepath.Join(dir, "ids.safetensors"), ids, nil); err != nil {
			t.Fatal(err)
		}
		store := filepath.Join(dir, "store")
		if _, err := Import(store, g, tensorstore.WriteOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := Commit(store, Config{}); err != nil {
			t.Fatal(err)
		}
		proof := filepath.Join(dir, "proof.bin")
		_, err := Prove(store, proof, Config{MemBudget: 256 << 20})
		if c.want != "" {
			if err == nil || !strings.Contains(err.Error(), "embed") || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("ids %v: %v, want an error naming node embed and %q", c.ids, err, c.want)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if rep, err := Verify(store, proof, ""); err != nil || !rep.Verified {
			t.Fatalf("honest proof with private ids: %v", err)
		}
		data, _ := os.ReadFile(proof)
		data[len(data)/2] ^= 1
		bad := filepath.Join(dir, "bad")
		os.WriteFile(bad, data, 0o644)
		if _, err := Verify(store, bad, ""); !errors.Is(err, ErrRejected) {
			t.Fatalf("tampered proof with private ids: %v", err)
		}
	}
}

// swigluGraph: a = silu(requant(x·W1ᵀ)), b = x·W3ᵀ, y = (a ∘ b)·W2ᵀ: LLaMA's FFN shape.
const swigluGraph = `{
  "format": "streamprove-graph/1",
  "name": "swiglu",
  "tensors": {
    "x":    {"role": "input",  "shape": [3, 10], "dtype": "int8", "source": "input.safetensors"},
    "w1":   {"role": "weight", "shape": [6, 10], "dtype": "int8", "source": "model.safetensors"},
    "w3":   {"role": "weight", "shape": [6, 10], "dtype": "int8", "source": "model.safetensors"},
    "w2":   {"role": "weight", "shape": [4, 6],  "dtype": "int8", "source": "model.safetensors"},
    "y":    {"role": "output"}
  },
  "nodes": [
    {"op": "linear",  "name": "up",   "in": ["x", "w1"], "out": "h"},
    {"op": "requant", "name": "rq",   "in": ["h"], "out": "hq", "shift": 4, "bits": 12},
    {"op": "silu",    "name": "act",  "in": ["hq"], "out": "a", "shift": 6, "bits": 12},
    {"op": "linear",  "name": "gate", "in": ["x", "w3"], "out": "b"},
    {"op": "mul",     "name": "glu",  "in": ["a", "b"], "out": "g"},
    {"op": "linear",  "name": "down", "in": ["g", "w2"], "out": "y"}
  ]
}`

func TestActivationOps(t *testing.T) {
	dir := t.TempDir()
	g := writeModel(t, dir, swigluGraph, 5, map[string][]int{"x": {3, 10}, "w1": {6, 10}, "w3": {6, 10}, "w2": {4, 6}})
	proveModel(t, dir, g)
	for _, c := range []struct{ old, edit, want string }{
		{`"out": "a", "shift": 6, "bits": 12`, `"out": "a", "bits": 12`, `field "shift" is missing`},
		{`"out": "a", "shift": 6, "bits": 12`, `"out": "a", "shift": 6, "bits": 17`, `field "bits" is 17`},
		{`"in": ["a", "b"], "out": "g"}`, `"in": ["a", "b"], "out": "g"}, {"op": "gelu", "in": ["g"], "out": "y", "shift": 2}`, `lookup's output is committed advice`},
	} {
		bad := strings.Replace(swigluGraph, c.old, c.edit, 1)
		if c.want == `lookup's output is committed advice` {
			bad = strings.Replace(bad, `{"op": "linear",  "name": "down", "in": ["g", "w2"], "out": "y"}`, `{"op": "linear",  "name": "down", "in": ["g", "w2"], "out": "y2"}`, 1)
		}
		if bad == swigluGraph {
			t.Fatalf("edit %q did not apply", c.edit)
		}
		if _, err := ParseGraph([]byte(bad)); !errors.Is(err, ErrGraph) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want ErrGraph mentioning %q", c.edit, err, c.want)
		}
	}
}

// sigmoidGraph: y = σ(requant(x·Wᵀ)) as the public output (the sigmoid's advice is its centred
// table value, so unlike the other activations its y can be public).
const sigmoidGraph = `{
  "format": "streamprove-graph/1",
  "name": "sigmoid",
  "tensors": {
    "x":    {"role": "input",  "shape": [3, 10], "dtype": "int8", "source": "input.safetensors"},
    "w1":   {"role": "weight", "shape": [5, 10], "dtype": "int8", "source": "model.safetensors"},
    "y":    {"role": "output"}
  },
  "nodes": [
    {"op": "linear",  "name": "fc",  "in": ["x", "w1"], "out": "h"},
    {"op": "requant", "name": "rq",  "in": ["h"], "out": "hq", "shift": 4, "bits": 12},
    {"op": "sigmoid", "name": "act", "in": ["hq"], "out": "y", "shift": 6, "bits": 12}
  ]
}`

func TestSigmoidOutputOp(t *testing.T) {
	dir := t.TempDir()
	g := writeModel(t, dir, sigmoidGraph, 7, map[string][]int{"x": {3, 10}, "w1": {5, 10}})
	_, _, rep := proveModel(t, dir, g)
	y := rep.Outputs["y"]
	if y == nil {
		t.Fatalf("outputs %+v: no y", rep.Outputs)
	}
	vals, ok := y.Ints()
	if !ok || len(vals) != 15 {
		t.Fatalf("y %+v: want 15 integers", y)
	}
	for i, v := range vals {
		if v < 0 || v > 64 {
			t.Fatalf("y[%d] = %d, outside σ's range [0, 2^6]", i, v)
		}
	}
	if slices.Min(vals) == slices.Max(vals) {
		t.Fatalf("y is constant %d: the test says nothing about σ", vals[0])
	}
}

// headGraph is one causal attention head: s = requant(q·kᵀ), p = softmax_causal(s), y = p·v.
const headGraph = `{
  "format": "streamprove-graph/1",
  "name": "head",
  "tensors": {
    "x": {"role": "input",  "shape": [2, 6, 4], "dtype": "int8", "source": "input.safetensors"},
    "k": {"role": "weight", "shape": [2, 6, 4], "dtype": "int8", "source": "model.safetensors"},
    "v": {"role": "weight", "shape": [2, 6, 3], "dtype": "int8", "source": "model.safetensors"},
    "y": {"role": "output"}
  },
  "nodes": [
    {"op": "matmul_bt",      "name": "qk", "in": ["x", "k"], "out": "s"},
    {"op": "requant",        "name": "rq", "in": ["s"], "out": "sq", "shift": 2, "bits": 14},
    {"op": "softmax_causal", "name": "sm", "in": ["sq"], "out": "p", "shift": 8, "bits": 8},
    {"op": "matmul",         "name": "pv", "in": ["p", "v"], "out": "y"}
  ]
}`

func TestSoftmaxOps(t *testing.T) {
	dir := t.TempDir()
	g := writeModel(t, dir, headGraph, 6, map[string][]int{"x": {2, 6, 4}, "k": {2, 6, 4}, "v": {2, 6, 3}})
	proveModel(t, dir, g)
	bad := strings.Replace(headGraph, `"in": ["sq"], "out": "p"`, `"in": ["x"], "out": "p"`, 1)
	if _, err := ParseGraph([]byte(bad)); !errors.Is(err, ErrGraph) || !strings.Contains(err.Error(), "square") {
		t.Errorf("non-square causal softmax: %v", err)
	}
}

// normGraph: y = fc(rmsnorm(x, γ)).
const normGraph = `{
  "format": "streamprove-graph/1",
  "name": "norm",
  "tensors": {
    "x":  {"role": "input",  "shape": [3, 10], "dtype": "int8", "source": "input.safetensors"},
    "g":  {"role": "weight", "shape": [10],    "dtype": "int8", "source": "model.safetensors"},
    "w":  {"role": "weight", "shape": [4, 10], "dtype": "int8", "source": "model.safetensors"},
    "y":  {"role": "output"}
  },
  "nodes": [
    {"op": "rmsnorm", "name": "norm", "in": ["x", "g"], "out": "h", "shift": 12, "eps": 2},
    {"op": "linear",  "name": "fc",   "in": ["h", "w"], "out": "y"}
  ]
}`

func TestRMSNormOp(t *testing.T) {
	dir := t.TempDir()
	g := writeModel(t, dir, normGraph, 7, map[string][]int{"x": {3, 10}, "g": {10}, "w": {4, 10}})
	proveModel(t, dir, g)
	bad := strings.Replace(normGraph, `"shape": [10],`, `"shape": [9],`, 1)
	if _, err := ParseGraph([]byte(bad)); !errors.Is(err, ErrGraph) || !strings.Contains(err.Error(), "the last axis of x") {
		t.Errorf("γ of the wrong length: %v", err)
	}
}

// lnormGraph: y = fc(layernorm(x, γ, β)).
const lnormGraph = `{
  "format": "streamprove-graph/1",
  "name": "lnorm",
  "tensors": {
    "x":  {"role": "input",  "shape": [3, 10], "dtype": "int8", "source": "input.safetensors"},
    "g":  {"role": "weight", "shape": [10],    "dtype": "int8", "source": "model.safetensors"},
    "b":  {"role": "weight", "shape": [10],    "dtype": "int8", "source": "model.safetensors"},
    "w":  {"role": "weight", "shape": [4, 10], "dtype": "int8", "source": "model.safetensors"},
    "y":  {"role": "output"}
  },
  "nodes": [
    {"op": "layernorm", "name": "norm", "in": ["x", "g", "b"], "out": "h", "shift": 12, "eps": 2},
    {"op": "linear",    "name": "fc",   "in": ["h", "w"], "out": "y"}
  ]
}`

func TestLayerNormOp(t *testing.T) {
	dir := t.TempDir()
	g := writeModel(t, dir, lnormGraph, 7, map[string][]int{"x": {3, 10}, "g": {10}, "b": {10}, "w": {4, 10}})
	proveModel(t, dir, g)
	for bad, want := range map[string]string{
		strings.Replace(lnormGraph, `"shape": [10],    "dtype": "int8", "source": "model.safetensors"},
    "w"`, `"shape": [9],    "dtype": "int8", "source": "model.safetensors"},
    "w"`, 1): "the last axis of x",
		strings.Replace(lnormGraph, `"in": ["x", "g", "b"]`, `"in": ["x", "g"]`, 1): "in",
		strings.Replace(lnormGraph, `"shift": 12, "eps": 2`, `"shift": 17`, 1):      "shift",
	} {
		if _, err := ParseGraph([]byte(bad)); !errors.Is(err, ErrGraph) || !strings.Contains(err.Error(), want) {
			t.Errorf("want a graph error naming %q: %v", want, err)
		}
	}
}
