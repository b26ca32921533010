package scheduler

import (
	"fmt"
	"slices"

	"github.com/streamprove/streamprove/gkr"
)

// A dynamic dimension (an ONNX dim_param such as the batch) belongs to the input, not to the
// model. The graph keeps concrete shapes, the current binding, and marks the dimensions an input
// may change with TensorSpec.DimParams; shapes downstream are inferred again from the inputs
// (reshape takes -1 for the batch), so binding is re-validating the graph with new input shapes.
// The proof binds the result: gkr's graph digest hashes every tensor's shape, so a proof made
// for 450 images carries a digest that a verifier computes only from a graph bound to an input
// of 450 images, and the verifier binds its graph from the input it is given (verify --input)
// before it checks the proof. Weights never have dynamic dimensions, so commitments never
// depend on the batch: one commit serves every batch.

const maxDimParam = 64

func checkDimParams(ts *TensorSpec, role gkr.Role) error {
	if len(ts.DimParams) == 0 {
		return nil
	}
	if role != gkr.Input {
		return fmt.Errorf("field \"dim_params\": only a public input has dynamic dimensions")
	}
	if len(ts.DimParams) != len(ts.Shape) {
		return fmt.Errorf("field \"dim_params\" has %d entries for a rank-%d shape", len(ts.DimParams), len(ts.Shape))
	}
	for i, p := range ts.DimParams {
		if len(p) > maxDimParam || slices.ContainsFunc([]byte(p), func(c byte) bool {
			return !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9')
		}) {
			return fmt.Errorf("field \"dim_params\"[%d]: %q is not a name (letters, digits, _; up to %d)", i, p, maxDimParam)
		}
	}
	return nil
}

// Bind returns the model with its public inputs given the shapes in shapes (by name; inputs not
// named keep theirs). Only dimensions the graph marks dynamic (dim_params) may change, and a
// name shared by several dimensions takes one value; every other shape follows by inference,
// and the result is validated as a graph file is. The model itself is not changed.
func (m *Model) Bind(shapes map[string][]int) (*Model, error) {
	f := *m.File
	f.Tensors = make(map[string]*TensorSpec, len(m.File.Tensors))
	for name, ts := range m.File.Tensors {
		t := *ts
		f.Tensors[name] = &t
	}
	f.Nodes = make([]*NodeSpec, len(m.File.Nodes))
	for i, n := range m.File.Nodes {
		c := *n
		f.Nodes[i] = &c
	}
	bound := map[string]int{}
	where := map[string]string{}
	for _, name := range sortedKeys(shapes) {
		ts, ok := f.Tensors[name]
		if !ok || ts.Role != gkr.Input.String() {
			return nil, fmt.Errorf("tensor %q is not a public input of model %s", name, m.File.Name)
		}
		got := shapes[name]
		if len(got) != len(ts.Shape) {
			return nil, fmt.Errorf("tensor %q: field \"shape\": the graph declares %v (%s), the data has %v of another rank", name, ts.Shape, dimString(ts), got)
		}
		for i, d := range got {
			p := ""
			if i < len(ts.DimParams) {
				p = ts.DimParams[i]
			}
			switch {
			case p == "" && d != ts.Shape[i]:
				return nil, fmt.Errorf("tensor %q: field \"shape\": the graph declares %v (%s), the data has %v: dimension %d is not dynamic", name, ts.Shape, dimString(ts), got, i)
			case p == "":
			case d <= 0:
				return nil, fmt.Errorf("tensor %q: field \"shape\": dimension %d (%s) is %d", name, i, p, d)
			default:
				if v, ok := bound[p]; ok && v != d {
					return nil, fmt.Errorf("tensor %q: field \"shape\": dimension %d (%s) is %d, but %s binds %s to %d", name, i, p, d, where[p], p, v)
				}
				bound[p], where[p] = d, fmt.Sprintf("tensor %q", name)
			}
		}
		ts.Shape = slices.Clone(got)
	}
	b, err := newModel(&f)
	if err != nil {
		return nil, err
	}
	if _, err := bounds(b); err != nil {
		return nil, err
	}
	b.Dir = m.Dir
	return b, nil
}

// dimString writes an input's shape with its dynamic dimensions named: [batch=128, 1, 8, 8].
func dimString(ts *TensorSpec) string {
	s := "["
	for i, d := range ts.Shape {
		if i > 0 {
			s += ", "
		}
		if i < len(ts.DimParams) && ts.DimParams[i] != "" {
			s += fmt.Sprintf("%s=%d", ts.DimParams[i], d)
		} else {
			s += fmt.Sprint(d)
		}
	}
	return s + "]"
}
