package scheduler

import (
	"errors"
	"os"
	"testing"
)

// FuzzParseGraph feeds arbitrary bytes to the graph parser: an error wrapping ErrGraph or a
// valid model, never a panic.
func FuzzParseGraph(f *testing.F) {
	f.Add([]byte(residualGraph))
	if data, err := os.ReadFile("../testdata/mlp/graph.json"); err == nil {
		f.Add(data)
	}
	f.Add([]byte(`{"format":"streamprove-graph/1","tensors":{"x":{"role":"input","shape":[1e9,1e9],"dtype":"int8"}},"nodes":[{"op":"relu","in":["x"],"out":"x"}]}`))
	f.Add([]byte(lookupGraph))
	f.Add([]byte(requantFixedGraph))
	f.Add([]byte(`{"format":"streamprove-graph/1","tensors":{"y":{"role":"output"}},"nodes":[{"op":"add","in":["y","y"],"out":"y"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseGraph(data)
		if err != nil {
			if !errors.Is(err, ErrGraph) {
				t.Fatalf("error not wrapping ErrGraph: %v", err)
			}
			return
		}
		if err := m.Graph.Validate(); err != nil {
			t.Fatalf("parsed graph does not validate: %v", err)
		}
		// What a store records (the canonical JSON) parses back to the same graph.
		out, err := m.Marshal()
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		m2, err := ParseGraph(out)
		if err != nil {
			t.Fatalf("canonical JSON does not parse: %v\n%s", err, out)
		}
		if m2.Graph.Digest() != m.Graph.Digest() {
			t.Fatalf("canonical JSON is another graph:\n%s", out)
		}
	})
}
