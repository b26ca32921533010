package scheduler

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/streamprove/streamprove/gkr"
	"github.com/streamprove/streamprove/tensorstore"
)

// GraphBuilder assembles a model graph in Go: what an importer (ONNX, a generator) calls instead
// of writing JSON. Build validates it exactly as ParseGraph validates a file (it parses the very
// bytes WriteFiles writes), so every error names the node or tensor and the field.
//
//	b := scheduler.NewGraphBuilder("mlp")
//	b.Tensor("x", gkr.Input, []int{3, 12}, tensorstore.Int8).Source = "input.npy"
//	b.Tensor("fc1.w", gkr.Weight, []int{16, 12}, tensorstore.Int8)
//	b.Data("fc1.w", weights) // held in RAM, written by WriteFiles
//	b.Output("y")
//	b.Node("linear", "fc1", []string{"x", "fc1.w"}, "h1", nil)
//	b.Node("requant", "q1", []string{"h1"}, "y", scheduler.Attrs{"shift": 8, "bits": 8})
//	graphPath, err := b.WriteFiles(dir) // then scheduler.Import(store, graphPath, opts)
type GraphBuilder struct {
	f    GraphFile
	data map[string][]int64
}

// DataFile is the safetensors file WriteFiles writes the in-memory tensors (Data) to.
const DataFile = "data.safetensors"

// NewGraphBuilder starts an empty graph.
func NewGraphBuilder(name string) *GraphBuilder {
	return &GraphBuilder{f: GraphFile{Format: GraphFormat, Name: name, Tensors: map[string]*TensorSpec{}}, data: map[string][]int64{}}
}

// Tensor declares an input, private input or weight of the given shape and storage dtype and
// returns its spec, whose Source and Key the caller may set (relative to the graph file).
// Redeclaring a name replaces it.
func (b *GraphBuilder) Tensor(name string, role gkr.Role, shape []int, dt tensorstore.DType) *TensorSpec {
	ts := &TensorSpec{Role: role.String(), Shape: slices.Clone(shape), DType: dt.String()}
	b.f.Tensors[name] = ts
	return ts
}

// Output declares a public output (its shape comes from the node that produces it) and returns
// its spec, whose Scale the caller may set.
func (b *GraphBuilder) Output(name string) *TensorSpec {
	ts := &TensorSpec{Role: gkr.Output.String()}
	b.f.Tensors[name] = ts
	return ts
}

// Data attaches a declared tensor's values, held in RAM (row-major, within its dtype's range);
// WriteFiles writes them to DataFile and points the tensor's source there. For small tensors
// (an importer's initializers); a big weight belongs in its own file, named by Source.
func (b *GraphBuilder) Data(name string, values []int64) {
	b.data[name] = values
}

// Node appends a node; attrs are the op's attributes (nil when it takes none). The returned spec
// may be edited until Build.
func (b *GraphBuilder) Node(op, name string, in []string, out string, attrs Attrs) *NodeSpec {
	n := &NodeSpec{Op: op, Name: name, In: slices.Clone(in), Out: out, Attrs: attrs}
	b.f.Nodes = append(b.f.Nodes, n)
	return n
}

// Build validates the graph and returns its model.
func (b *GraphBuilder) Build() (*Model, error) {
	_, m, err := b.build()
	return m, err
}

func (b *GraphBuilder) build() ([]byte, *Model, error) {
	for _, name := range sortedKeys(b.data) {
		ts, ok := b.f.Tensors[name]
		if !ok {
			return nil, nil, fmt.Errorf("%w: tensor %q has data but is not declared", ErrGraph, name)
		}
		if ts.Source != "" && ts.Source != DataFile {
			return nil, nil, fmt.Errorf("%w: tensor %q: has both data and field \"source\" %q", ErrGraph, name, ts.Source)
		}
		ts.Source = DataFile
	}
	data, err := marshalFile(&b.f)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrGraph, err)
	}
	m, err := ParseGraph(data)
	if err != nil {
		return nil, nil, err
	}
	for _, name := range sortedKeys(b.data) {
		vals, shape := b.data[name], m.Graph.Tensors[name].Shape
		if int64(len(vals)) != gkr.Numel(shape) {
			return nil, nil, fmt.Errorf("%w: tensor %q: %d values for shape %v", ErrGraph, name, len(vals), shape)
		}
		lo, hi := m.DTypes[name].Bounds()
		if i := slices.IndexFunc(vals, func(v int64) bool { return v < lo || v > hi }); i >= 0 {
			return nil, nil, fmt.Errorf("%w: tensor %q: value %d at index %d is outside %v", ErrGraph, name, vals[i], i, m.DTypes[name])
		}
	}
	return data, m, nil
}

// WriteFiles validates the graph and writes it to dir/graph.json, with the in-memory tensors in
// dir/DataFile; it returns the graph file's path, ready for Import.
func (b *GraphBuilder) WriteFiles(dir string) (string, error) {
	data, m, err := b.build()
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	if len(b.data) > 0 {
		arrays := make([]tensorstore.Array, 0, len(b.data))
		for _, name := range sortedKeys(b.data) {
			dt := m.DTypes[name]
			arrays = append(arrays, tensorstore.Array{Name: name, DType: fmt.Sprintf("I%d", 8*dt.Size()),
				Shape: m.Graph.Tensors[name].Shape, Values: b.data[name]})
		}
		if err := tensorstore.WriteSafetensors(filepath.Join(dir, DataFile), arrays, nil); err != nil {
			return "", err
		}
	}
	path := filepath.Join(dir, "graph.json")
	if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
		return "", err
	}
	return path, nil
}
