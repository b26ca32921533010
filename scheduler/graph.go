package scheduler

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"

	"github.com/streamprove/streamprove/gkr"
	"github.com/streamprove/streamprove/kernels"
	"github.com/streamprove/streamprove/tensorstore"
)

// GraphFormat is the format tag of model graph files.
const GraphFormat = "streamprove-graph/1"

// ErrGraph reports a malformed model graph; its message names the node or tensor and the field.
// It is gkr.ErrGraph: a kernel's refusal of its graph and the file's validation are one error.
var ErrGraph = gkr.ErrGraph

// TensorSpec is one entry of the graph file's "tensors" object.
type TensorSpec struct {
	Role   string `json:"role"`
	Shape  []int  `json:"shape,omitempty"`
	DType  string `json:"dtype,omitempty"`
	Source string `json:"source,omitempty"`
	// Key is the tensor's key inside a safetensors source (default: the tensor's name).
	Key string `json:"key,omitempty"`
	// DimParams names a public input's dynamic dimensions (ONNX dim_param, e.g. "batch"), one
	// entry per dimension, "" for a fixed one. Shape holds the current binding: an input given
	// to prove or verify may change these dimensions (Model.Bind), and the bound shapes are part
	// of the graph digest a proof carries.
	DimParams []string `json:"dim_params,omitempty"`
	// Scale, on a public input or an output of a quantized model, is what one integer step is
	// worth: float ≈ Scale · integer. A float .npy given as that input is quantized with it;
	// a verified output is dequantized with it.
	Scale float64 `json:"scale,omitempty"`
}

// NodeSpec is one entry of the graph file's "nodes" list. Attrs holds the op-specific
// attributes, which the file writes as further keys of the node object
// ({"op": "requant", "in": ["h"], "out": "a", "shift": 8, "bits": 8}); each op declares which
// it takes (see ops.go).
type NodeSpec struct {
	Op    string
	Name  string
	In    []string
	Out   string
	Attrs Attrs
}

// GraphFile is a model graph as written on disk.
type GraphFile struct {
	Format  string                 `json:"format"`
	Name    string                 `json:"name"`
	Tensors map[string]*TensorSpec `json:"tensors"`
	Nodes   []*NodeSpec            `json:"nodes"`
}

// Model is a validated graph: the proof's view (gkr.Graph), the kernels in run order, and the
// storage dtype of every input and weight.
type Model struct {
	File    *GraphFile
	Graph   *gkr.Graph
	Kernels []kernels.Kernel
	DTypes  map[string]tensorstore.DType
	// Dir is the directory source paths are relative to ("" for a graph read from a store).
	Dir string
}

// LoadGraphFile reads and validates a graph file.
func LoadGraphFile(path string) (*Model, error) {
	// A graph describes tensors, it never holds them: refuse a file larger than any graph
	// before reading it.
	if st, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("graph %s: %w", path, err)
	} else if st.Size() > maxGraphBytes {
		return nil, fmt.Errorf("graph %s: %w: %d bytes is larger than any graph (limit %d)", path, ErrGraph, st.Size(), maxGraphBytes)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("graph %s: %w", path, err)
	}
	m, err := ParseGraph(data)
	if err != nil {
		return nil, fmt.Errorf("graph %s: %w", path, err)
	}
	m.Dir = filepath.Dir(path)
	return m, nil
}

// maxGraphBytes bounds a graph file: graphs describe tensors, they never hold them.
const maxGraphBytes = 16 << 20

// maxElements bounds one tensor's element count (2^40: a TiB of int8).
const maxElements = 1 << 40

// ParseGraph decodes and validates a graph: format, roles, dtypes, shapes, ops and their
// attributes, and the data flow (every tensor produced once, before it is used; no cycles).
// Shapes of intermediates are inferred. Every error names the node or tensor and the field.
func ParseGraph(data []byte) (*Model, error) {
	if len(data) > maxGraphBytes {
		return nil, fmt.Errorf("%w: %d bytes is larger than any graph (limit %d)", ErrGraph, len(data), maxGraphBytes)
	}
	// Nodes are decoded one by one so that a malformed node's error names it.
	var raw struct {
		Format  string                 `json:"format"`
		Name    string                 `json:"name"`
		Tensors map[string]*TensorSpec `json:"tensors"`
		Nodes   []json.RawMessage      `json:"nodes"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrGraph, err)
	}
	f := &GraphFile{Format: raw.Format, Name: raw.Name, Tensors: raw.Tensors, Nodes: make([]*NodeSpec, len(raw.Nodes))}
	for i, rn := range raw.Nodes {
		if string(rn) == "null" {
			continue // refused by buildNodes, naming the node
		}
		f.Nodes[i] = new(NodeSpec)
		if err := f.Nodes[i].UnmarshalJSON(rn); err != nil {
			return nil, fmt.Errorf("%w: node %d: %w", ErrGraph, i, err)
		}
	}
	return newModel(f)
}

// newModel validates a decoded graph file and builds its model.
func newModel(f *GraphFile) (*Model, error) {
	if f.Format != GraphFormat {
		return nil, fmt.Errorf("%w: field \"format\" is %q, want %q", ErrGraph, f.Format, GraphFormat)
	}
	if len(f.Nodes) == 0 {
		return nil, fmt.Errorf("%w: field \"nodes\" is empty", ErrGraph)
	}
	m := &Model{File: f, Graph: &gkr.Graph{Name: f.Name, Tensors: map[string]*gkr.TensorInfo{}}, DTypes: map[string]tensorstore.DType{}}
	names := make([]string, 0, len(f.Tensors))
	for name := range f.Tensors {
		names = append(names, name)
	}
	sort.Strings(names)
	outputs := 0
	for _, name := range names {
		ts := f.Tensors[name]
		if ts == nil {
			return nil, fmt.Errorf("%w: tensor %q: null entry", ErrGraph, name)
		}
		if name == "" {
			return nil, fmt.Errorf("%w: a tensor has an empty name", ErrGraph)
		}
		role, err := gkr.ParseRole(ts.Role)
		if err != nil || role == gkr.Intermediate || role == gkr.Advice {
			return nil, fmt.Errorf("%w: tensor %q: field \"role\" is %q, want input, private_input, weight or output", ErrGraph, name, ts.Role)
		}
		if role == gkr.Output {
			outputs++
		}
		ti := &gkr.TensorInfo{Name: name, Role: role}
		if role == gkr.Input || role == gkr.Weight || role == gkr.PrivateInput {
			if len(ts.Shape) == 0 {
				return nil, fmt.Errorf("%w: tensor %q: field \"shape\" is missing", ErrGraph, name)
			}
			if err := checkShape(ts.Shape); err != nil {
				return nil, fmt.Errorf("%w: tensor %q: field \"shape\": %w", ErrGraph, name, err)
			}
			dt, err := tensorstore.ParseDType(ts.DType)
			if err != nil || !dt.IsInt() {
				return nil, fmt.Errorf("%w: tensor %q: field \"dtype\" is %q, want int8, int16, int32 or int64", ErrGraph, name, ts.DType)
			}
			m.DTypes[name] = dt
			ti.Shape = slices.Clone(ts.Shape)
		} else if len(ts.Shape) > 0 || ts.Source != "" {
			return nil, fmt.Errorf("%w: tensor %q: an output's shape and data come from its node; remove \"shape\"/\"source\"", ErrGraph, name)
		}
		if err := checkDimParams(ts, role); err != nil {
			return nil, fmt.Errorf("%w: tensor %q: %v", ErrGraph, name, err)
		}
		if ts.Scale != 0 && (role == gkr.Weight || role == gkr.PrivateInput || !(ts.Scale > 0) || math.IsInf(ts.Scale, 0)) {
			return nil, fmt.Errorf("%w: tensor %q: field \"scale\" is %v: want a positive finite number, on a public input or an output", ErrGraph, name, ts.Scale)
		}
		m.Graph.Tensors[name] = ti
	}
	if outputs == 0 {
		return nil, fmt.Errorf("%w: no tensor has role \"output\"", ErrGraph)
	}
	if err := m.buildNodes(); err != nil {
		return nil, err
	}
	if err := m.rangeCheckPrivate(); err != nil {
		return nil, err
	}
	if err := m.Graph.Validate(); err != nil {
		if !errors.Is(err, ErrGraph) {
			err = fmt.Errorf("%w: %w", ErrGraph, err)
		}
		return nil, err
	}
	return m, nil
}

// rangeCheckPrivate adds a range lookup (kernels.NewRange, "<name>/range") over every private
// input, in name order after the graph's nodes: a private input is committed by the prover
// inside each proof and never seen by the verifier, so without it the prover could commit field
// elements outside the declared dtype — even non-integers — and, through a linear layer, make
// any output verify (kernels.TestPrivateInputRange plays that attack). int8 and int16 inputs are
// checked against their dtype's range; ids read only by private-id gathers need no check (the
// gather's one-hot proves each is a row index); any other private input is refused.
func (m *Model) rangeCheckPrivate() error {
	for _, name := range m.Graph.Names(gkr.PrivateInput) {
		byGather := true
		used := false
		for _, k := range m.Kernels {
			if !slices.Contains(k.Inputs(), name) {
				continue
			}
			used = true
			g, ok := k.(*kernels.Gather)
			byGather = byGather && ok && g.Private() && k.Inputs()[1] == name && k.Inputs()[0] != name
		}
		if used && byGather {
			continue
		}
		var lo, hi int64
		switch dt := m.DTypes[name]; dt {
		case tensorstore.Int8:
			lo, hi = -1<<7, 1<<7
		case tensorstore.Int16:
			lo, hi = -1<<15, 1<<15
		default:
			return fmt.Errorf("%w: tensor %q: a private_input of dtype %s is not range-checked (its table would be too large); declare it int8 or int16, or use it only as the ids of a gather",
				ErrGraph, name, dt)
		}
		k, err := kernels.NewRange(name+"/range", name, lo, hi)
		if err != nil {
			return fmt.Errorf("%w: tensor %q: %w", ErrGraph, name, err)
		}
		infos, err := kernels.AdviceTensors(m.Graph, k)
		if err != nil {
			return fmt.Errorf("%w: tensor %q: %w", ErrGraph, name, err)
		}
		if err := m.addKernel(k, infos, "", fmt.Sprintf("the range check of private input %q", name)); err != nil {
			return err
		}
	}
	return nil
}

// addKernel declares k's advice tensors and appends k to the graph and the model. An advice
// tensor may not clash with a declared tensor, except the node's own output out when that is an
// intermediate (a lookup's y); where names the kernel in the error.
func (m *Model) addKernel(k kernels.Kernel, advice []gkr.TensorInfo, out, where string) error {
	for _, e := range advice {
		if ti, clash := m.Graph.Tensors[e.Name]; clash && !(e.Name == out && ti.Role == gkr.Intermediate) {
			return fmt.Errorf("%w: %s: its advice tensor %q clashes with a declared tensor", ErrGraph, where, e.Name)
		}
		e := e
		m.Graph.Tensors[e.Name] = &e
	}
	m.Graph.Kernels = append(m.Graph.Kernels, k)
	m.Kernels = append(m.Kernels, k)
	return nil
}

func checkShape(shape []int) error {
	n := int64(1)
	for _, d := range shape {
		if d <= 0 {
			return fmt.Errorf("dimension %d in %v", d, shape)
		}
		n *= int64(d)
		if n > maxElements {
			return fmt.Errorf("%v has more than 2^40 elements", shape)
		}
	}
	return nil
}

// buildNodes orders the nodes topologically (the file's order when it is already one), infers
// the shapes of what they produce and builds their kernels.
func (m *Model) buildNodes() error {
	f := m.File
	producer := map[string]int{}
	for i, n := range f.Nodes {
		if n == nil {
			return fmt.Errorf("%w: node %d: null entry", ErrGraph, i)
		}
		if n.Name == "" {
			n.Name = fmt.Sprintf("%s%d", n.Op, i)
		}
		if n.Out == "" {
			return fmt.Errorf("%w: node %d (%s %q): field \"out\" is missing", ErrGraph, i, n.Op, n.Name)
		}
		if p, dup := producer[n.Out]; dup {
			return fmt.Errorf("%w: node %d (%s %q): field \"out\": tensor %q is already produced by node %d", ErrGraph, i, n.Op, n.Name, n.Out, p)
		}
		if ti, ok := m.Graph.Tensors[n.Out]; ok && ti.Role != gkr.Output {
			return fmt.Errorf("%w: node %d (%s %q): field \"out\": %q is declared as %s and cannot be produced", ErrGraph, i, n.Op, n.Name, n.Out, ti.Role)
		}
		producer[n.Out] = i
	}
	order, err := topoOrder(f.Nodes, producer)
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, i := range order {
		n := f.Nodes[i]
		if seen[n.Name] {
			return fmt.Errorf("%w: node %d: field \"name\": %q is used twice", ErrGraph, i, n.Name)
		}
		seen[n.Name] = true
		where := fmt.Sprintf("node %d (%s %q)", i, n.Op, n.Name)
		op, ok := ops[n.Op]
		if !ok {
			return fmt.Errorf("%w: %s: field \"op\": unknown op %q (known: %s)", ErrGraph, where, n.Op, opNames())
		}
		attrs, err := op.checkNode(n)
		if err != nil {
			return fmt.Errorf("%w: %s: %w", ErrGraph, where, err)
		}
		// In topological order every input is declared with a shape or already produced.
		ins := make([]*gkr.TensorInfo, len(n.In))
		for j, in := range n.In {
			ti, ok := m.Graph.Tensors[in]
			if !ok || ti.Shape == nil {
				return fmt.Errorf("%w: %s: field \"in\": tensor %q is neither declared nor produced by a node", ErrGraph, where, in)
			}
			ins[j] = ti
		}
		k, shape, extra, err := op.build(n, attrs, ins)
		if err != nil {
			return fmt.Errorf("%w: %s: %w", ErrGraph, where, err)
		}
		if ti, ok := m.Graph.Tensors[n.Out]; ok {
			if slices.ContainsFunc(extra, func(e gkr.TensorInfo) bool { return e.Name == n.Out }) {
				return fmt.Errorf("%w: %s: field \"out\": %q is a public output, but a lookup's output is committed advice; add a node after it (e.g. a linear layer) to produce the public output", ErrGraph, where, n.Out)
			}
			ti.Shape = shape
		} else {
			m.Graph.Tensors[n.Out] = &gkr.TensorInfo{Name: n.Out, Shape: shape, Role: gkr.Intermediate}
		}
		if err := m.addKernel(k, extra, n.Out, where); err != nil {
			return err
		}
	}
	return nil
}

// topoOrder returns node indices so that every node comes after the producers of its inputs,
// keeping the file's order among independent nodes; a cycle is an error naming a node on it.
func topoOrder(nodes []*NodeSpec, producer map[string]int) ([]int, error) {
	state := make([]uint8, len(nodes)) // 0 new, 1 visiting, 2 done
	var order []int
	var visit func(i int) error
	visit = func(i int) error {
		switch state[i] {
		case 1:
			return fmt.Errorf("%w: node %d (%s %q) is on a cycle", ErrGraph, i, nodes[i].Op, nodes[i].Name)
		case 2:
			return nil
		}
		state[i] = 1
		for _, in := range nodes[i].In {
			if p, ok := producer[in]; ok {
				if err := visit(p); err != nil {
					return err
				}
			}
		}
		state[i] = 2
		order = append(order, i)
		return nil
	}
	for i := range nodes {
		if err := visit(i); err != nil {
			return nil, err
		}
	}
	return order, nil
}

// Marshal returns the graph file in canonical JSON (what a store keeps).
func (m *Model) Marshal() ([]byte, error) { return marshalFile(m.File) }

func marshalFile(f *GraphFile) ([]byte, error) { return json.MarshalIndent(f, "", "  ") }
