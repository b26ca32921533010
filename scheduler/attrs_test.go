package scheduler

import (
	"bytes"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/streamprove/streamprove/gkr"
	"github.com/streamprove/streamprove/kernels"
)

// TestOpSchemas checks every op's declared attributes: distinct names, none shadowing a node
// field, and every default valid under its own schema.
func TestOpSchemas(t *testing.T) {
	for name, op := range ops {
		seen := map[string]bool{}
		for _, s := range op.attrs {
			if seen[s.name] || s.name == "op" || s.name == "name" || s.name == "in" || s.name == "out" {
				t.Errorf("op %s: attribute %q is declared twice or shadows a node field", name, s.name)
			}
			seen[s.name] = true
			if s.dflt != nil {
				if _, err := s.check(s.dflt); err != nil {
					t.Errorf("op %s: default of %q: %v", name, s.name, err)
				}
			}
		}
	}
}

const lookupGraph = `{"format": "streamprove-graph/1", "tensors": {
  "x": {"role": "input", "shape": [4], "dtype": "int8"}, "w": {"role": "weight", "shape": [2, 4], "dtype": "int8"},
  "y": {"role": "output"}},
 "nodes": [
  {"op": "requant", "name": "q", "in": ["x"], "out": "a", "shift": 2, "bits": 8},
  {"op": "linear", "name": "fc", "in": ["a", "w"], "out": "y"}]}`

func TestAttrErrors(t *testing.T) {
	const node = `"shift": 2, "bits": 8`
	cases := []struct{ edit, want string }{
		{`"shift": 2, "bits": 40`, `node 0 (requant "q"): field "bits" is 40, want 2..16`},
		{`"bits": 8`, `node 0 (requant "q"): field "shift" is missing`},
		{`"shift": "2", "bits": 8`, `node 0 (requant "q"): field "shift": want an integer, got "2"`},
		{`"shift": 2.5, "bits": 8`, `field "shift": want an integer, got 2.5`},
		{`"shift": [2], "bits": 8`, `field "shift": want an integer, got [2]`},
		{`"shift": 2, "bits": 8, "qbits": 30`, `field "qbits" is 30, want 2..24`},
		{`"shift": 2, "bits": 8, "factor": 3`, `node 0 (requant "q"): field "factor" does not apply to op "requant"`},
		{`"shift": 99999999999999999999, "bits": 8`, `field "shift": want an integer`},
		{`"shift": 2, "bits": 8, "in": "x"`, `node 0: field "in"`},
	}
	for _, c := range cases {
		g := strings.Replace(lookupGraph, node, c.edit, 1)
		_, err := ParseGraph([]byte(g))
		if !errors.Is(err, ErrGraph) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want ErrGraph mentioning %q", c.edit, err, c.want)
		}
	}
	// A null attribute is absent, as before attributes were a map.
	if _, err := ParseGraph([]byte(strings.Replace(lookupGraph, node, node+`, "qbits": null`, 1))); err != nil {
		t.Errorf("null qbits: %v", err)
	}
	scale := strings.Replace(lookupGraph, `"op": "requant", "name": "q", "in": ["x"], "out": "a", `+node, `"op": "scale", "name": "s", "in": ["x"], "out": "a", "factor": 0`, 1)
	if _, err := ParseGraph([]byte(scale)); err == nil || !strings.Contains(err.Error(), `node 0 (scale "s"): field "factor" is 0`) {
		t.Errorf("factor 0: %v", err)
	}
}

// TestAttrKinds declares a test op with every attribute kind and checks validation, defaults
// and the accessors a build function reads.
func TestAttrKinds(t *testing.T) {
	var got Attrs
	ops["kinds_test"] = opDef{arity: [2]int{1, 1}, attrs: []attrSpec{
		intsAttr("strides", 2, 1, 8),
		intsAttr("pads", 0, 0, 3).def([]int64{0, 0}),
		stringAttr("mode", "floor", "ceil").def("floor"),
		floatAttr("scale", 0, 1).optional(),
		intAttr("group", 1, 4).def(int64(1)),
		boolAttr("flag").def(true),
	}, build: func(n *NodeSpec, a Attrs, ins []*gkr.TensorInfo) (kernels.Kernel, []int, []gkr.TensorInfo, error) {
		got = a
		return kernels.Square(n.Name, n.In[0], n.Out), slices.Clone(ins[0].Shape), nil, nil
	}}
	defer delete(ops, "kinds_test")
	graph := func(attrs string) string {
		return `{"format": "streamprove-graph/1", "tensors": {
  "x": {"role": "input", "shape": [4], "dtype": "int8"}, "w": {"role": "weight", "shape": [2, 4], "dtype": "int8"},
  "y": {"role": "output"}},
 "nodes": [{"op": "kinds_test", "name": "c1", "in": ["x"], "out": "a"` + attrs + `},
  {"op": "linear", "name": "fc", "in": ["a", "w"], "out": "y"}]}`
	}
	if _, err := ParseGraph([]byte(graph(`, "strides": [2, 1], "mode": "ceil", "scale": 0.25`))); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.Ints("strides"), []int{2, 1}) || !slices.Equal(got.Ints("pads"), []int{0, 0}) ||
		got.Str("mode") != "ceil" || got.Float("scale") != 0.25 || got.Int("group") != 1 || !got.Has("scale") || !got.Bool("flag") {
		t.Fatalf("build saw %v", got)
	}
	if _, err := ParseGraph([]byte(graph(`, "strides": [1, 1], "flag": false`))); err != nil || got.Has("scale") || got.Str("mode") != "floor" || got.Bool("flag") {
		t.Fatalf("defaults: %v, build saw %v", err, got)
	}
	cases := []struct{ attrs, want string }{
		{`, "strides": [1, 1, 1]`, `node 0 (kinds_test "c1"): field "strides": want 2 integers, got 3`},
		{`, "strides": [1, 9]`, `field "strides"[1] is 9, want 1..8`},
		{`, "strides": 1`, `field "strides": want a list of integers, got 1`},
		{`, "strides": [1, 1], "mode": "round"`, `field "mode" is "round", want one of floor, ceil`},
		{`, "strides": [1, 1], "mode": 3`, `field "mode": want a string, got 3`},
		{`, "strides": [1, 1], "scale": 2`, `field "scale" is 2, want 0..1`},
		{`, "strides": [1, 1], "scale": "x"`, `field "scale": want a number, got "x"`},
		{`, "strides": [1, 1], "flag": 1`, `field "flag": want true or false, got 1`},
		{``, `field "strides" is missing`},
	}
	for _, c := range cases {
		_, err := ParseGraph([]byte(graph(c.attrs)))
		if !errors.Is(err, ErrGraph) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want ErrGraph mentioning %q", c.attrs, err, c.want)
		}
	}
}

// TestGraphRoundTrip: a parsed graph marshals to JSON that parses to the same graph (same
// digest, same attributes, same bytes when marshalled again).
func TestGraphRoundTrip(t *testing.T) {
	data, err := os.ReadFile("../testdata/mlp/graph.json")
	if err != nil {
		t.Fatal(err)
	}
	m1, err := ParseGraph(data)
	if err != nil {
		t.Fatal(err)
	}
	b1, err := m1.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b1, []byte(`"bits": 8`)) || !bytes.Contains(b1, []byte(`"shift": 8`)) {
		t.Fatalf("attributes not written at the node's top level:\n%s", b1)
	}
	m2, err := ParseGraph(b1)
	if err != nil {
		t.Fatal(err)
	}
	b2, _ := m2.Marshal()
	if !bytes.Equal(b1, b2) || m1.Graph.Digest() != m2.Graph.Digest() {
		t.Fatalf("round trip changed the graph:\n%s\n%s", b1, b2)
	}
}
