package onnx

import (
	"fmt"
	"os"
	"slices"

	"google.golang.org/protobuf/proto"

	"github.com/streamprove/streamprove/onnx/internal/onnxpb"
)

// MaxModelBytes bounds an .onnx file: protobuf itself cannot encode a message above 2 GiB, and
// the importer holds the weights in RAM.
const MaxModelBytes = 1 << 30

// Opsets the importer accepts for the default ONNX domain.
const (
	MinOpset = 11
	MaxOpset = 21
)

// maxNodes bounds the node count of a graph the importer walks.
const maxNodes = 1 << 20

// Load reads and imports an .onnx file, refusing a file larger than MaxModelBytes before reading it.
func Load(path string) (*Model, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("onnx: %w", err)
	}
	if st.Size() > MaxModelBytes {
		return nil, fmt.Errorf("onnx %s: %w: %d bytes is above the %d-byte limit", path, ErrFormat, st.Size(), MaxModelBytes)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("onnx: %w", err)
	}
	m, err := Decode(data)
	if err != nil {
		return nil, fmt.Errorf("onnx %s: %w", path, err)
	}
	return m, nil
}

// Decode imports a serialized ONNX ModelProto: it decodes, checks, folds and infers shapes, and
// returns either the whole model or an error; never a partial model.
func Decode(data []byte) (*Model, error) {
	if len(data) > MaxModelBytes {
		return nil, fmt.Errorf("%w: %d bytes is above the %d-byte limit", ErrFormat, len(data), MaxModelBytes)
	}
	var mp onnxpb.ModelProto
	// protobuf-go allocates at most in proportion to the input (every repeated element and
	// every length-delimited field consumes input bytes) and bounds nesting depth.
	if err := proto.Unmarshal(data, &mp); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrFormat, err)
	}
	opset := int64(-1)
	for _, o := range mp.GetOpsetImport() {
		switch o.GetDomain() {
		case "", "ai.onnx":
			if opset >= 0 {
				return nil, fmt.Errorf("%w: the default domain is imported twice", ErrFormat)
			}
			opset = o.GetVersion()
		}
	}
	if opset < 0 {
		return nil, fmt.Errorf("%w: no opset_import for the default ONNX domain", ErrFormat)
	}
	if opset < MinOpset || opset > MaxOpset {
		return nil, fmt.Errorf("%w: opset %d: opsets %d to %d are supported (re-export with opset_version in that range)", ErrUnsupported, opset, MinOpset, MaxOpset)
	}
	g := mp.GetGraph()
	if g == nil {
		return nil, fmt.Errorf("%w: no graph", ErrFormat)
	}
	if len(g.GetNode()) > maxNodes {
		return nil, fmt.Errorf("%w: %d nodes is above %d", ErrFormat, len(g.GetNode()), maxNodes)
	}
	im := &importer{
		opset:   opset,
		consts:  map[string]*Tensor{},
		syms:    map[string]symVec{},
		shapes:  map[string]Shape{},
		dtypes:  map[string]DType{},
		alias:   map[string]string{},
		dropped: map[string]string{},
		qconst:  map[string]*qconst{},
	}
	m, err := im.run(g)
	if err != nil {
		return nil, err
	}
	m.Name = g.GetName()
	m.Opset = opset
	return m, nil
}

// symVec is a 0-D or 1-D integer value known at import time except for symbolic entries: what
// Shape → Gather → Unsqueeze → Concat computes from a dynamic batch.
type symVec struct {
	scalar bool
	d      []Dim
}

type importer struct {
	opset   int64
	consts  map[string]*Tensor // initializers and folded constants
	syms    map[string]symVec  // partially symbolic shape arithmetic
	shapes  map[string]Shape   // runtime values: graph inputs and node outputs
	dtypes  map[string]DType
	alias   map[string]string  // outputs of Identity/Dropout → their input
	dropped map[string]string  // outputs that exist in ONNX but not here → why
	qconst  map[string]*qconst // DequantizeLinear of constants → their integers
	// outNames are the graph outputs (after aliases), which folding must not remove.
	outNames map[string]bool
	nodes    []*Node
}

func (im *importer) resolve(name string) string {
	for i := 0; i < 64; i++ {
		a, ok := im.alias[name]
		if !ok {
			return name
		}
		name = a
	}
	return name
}

func (im *importer) defined(name string) bool {
	if _, ok := im.consts[name]; ok {
		return true
	}
	if _, ok := im.syms[name]; ok {
		return true
	}
	if _, ok := im.shapes[name]; ok {
		return true
	}
	_, ok := im.alias[name]
	return ok
}

func (im *importer) run(g *onnxpb.GraphProto) (*Model, error) {
	for i, t := range g.GetInitializer() {
		name := t.GetName()
		if name == "" {
			return nil, fmt.Errorf("%w: initializer %d has no name", ErrFormat, i)
		}
		if im.defined(name) {
			return nil, fmt.Errorf("%w: initializer %q is defined twice", ErrFormat, name)
		}
		v, err := tensorFromProto(t)
		if err != nil {
			return nil, fmt.Errorf("%w: initializer %q: %v", ErrFormat, name, err)
		}
		im.consts[name] = v
	}
	m := &Model{}
	for _, vi := range g.GetInput() {
		name := vi.GetName()
		if _, ok := im.consts[name]; ok {
			continue // IR < 4 lists initializers among the inputs
		}
		v, err := valueInfo(vi)
		if err != nil {
			return nil, fmt.Errorf("graph input %q: %w", name, err)
		}
		if im.defined(name) {
			return nil, fmt.Errorf("%w: graph input %q is defined twice", ErrFormat, name)
		}
		if v.DType != Float32 && v.DType != Int64 {
			return nil, fmt.Errorf("%w: graph input %q has element type %v; float models (FLOAT inputs, or INT64 token ids) are supported", ErrUnsupported, name, v.DType)
		}
		im.shapes[name] = v.Shape
		im.dtypes[name] = v.DType
		m.Inputs = append(m.Inputs, v)
	}
	if len(m.Inputs) == 0 {
		return nil, fmt.Errorf("%w: the graph has no input", ErrFormat)
	}
	for i, n := range g.GetNode() {
		if err := im.node(i, n); err != nil {
			return nil, err
		}
	}
	im.outNames = map[string]bool{}
	for _, vi := range g.GetOutput() {
		im.outNames[im.resolve(vi.GetName())] = true
	}
	if err := im.foldBatchNorm(); err != nil {
		return nil, err
	}
	if err := im.foldPads(); err != nil {
		return nil, err
	}
	if len(g.GetOutput()) == 0 {
		return nil, fmt.Errorf("%w: the graph has no output", ErrFormat)
	}
	for _, vi := range g.GetOutput() {
		name := vi.GetName()
		src := im.resolve(name)
		if why, ok := im.dropped[src]; ok {
			return nil, fmt.Errorf("%w: graph output %q: %s", ErrUnsupported, name, why)
		}
		if _, ok := im.consts[src]; ok {
			return nil, fmt.Errorf("%w: graph output %q is a constant, not computed from the input", ErrUnsupported, name)
		}
		if _, ok := im.syms[src]; ok {
			return nil, fmt.Errorf("%w: graph output %q is shape arithmetic, not computed from the input", ErrUnsupported, name)
		}
		shape, ok := im.shapes[src]
		if !ok {
			return nil, fmt.Errorf("%w: graph output %q is not computed by any node", ErrFormat, name)
		}
		if src != name {
			if err := im.rename(src, name); err != nil {
				return nil, err
			}
		}
		m.Outputs = append(m.Outputs, Value{Name: name, DType: im.dtypes[name], Shape: shape})
	}
	m.Nodes, m.Weights = im.live(m.Outputs)
	m.qconst = im.qconst
	if len(m.Nodes) == 0 {
		return nil, fmt.Errorf("%w: no node computes an output from the input", ErrUnsupported)
	}
	return m, nil
}

// rename gives the node that computes src the graph output's name, so the imported model's
// outputs keep their ONNX names after Identity/Dropout are removed.
func (im *importer) rename(src, name string) error {
	if _, ok := im.shapes[name]; ok && im.resolve(name) == name {
		return fmt.Errorf("%w: graph output %q is also computed elsewhere", ErrFormat, name)
	}
	found := false
	for _, n := range im.nodes {
		if n.Out == src {
			n.Out = name
			found = true
		}
		for j, in := range n.In {
			if in == src {
				n.In[j] = name
			}
		}
	}
	if !found {
		return fmt.Errorf("%w: graph output %q is a graph input passed through", ErrUnsupported, name)
	}
	im.shapes[name] = im.shapes[src]
	im.dtypes[name] = im.dtypes[src]
	delete(im.alias, name)
	for k, v := range im.alias {
		if v == src {
			im.alias[k] = name
		}
	}
	return nil
}

// live keeps the nodes an output depends on and the weights they read.
func (im *importer) live(outs []Value) ([]*Node, map[string]*Tensor) {
	need := map[string]bool{}
	for _, o := range outs {
		need[o.Name] = true
	}
	var keep []*Node
	for i := len(im.nodes) - 1; i >= 0; i-- {
		n := im.nodes[i]
		if !need[n.Out] {
			continue
		}
		keep = append(keep, n)
		for _, in := range n.In {
			need[in] = true
		}
	}
	slices.Reverse(keep)
	w := map[string]*Tensor{}
	for name := range need {
		if t, ok := im.consts[name]; ok {
			w[name] = t
		}
	}
	return keep, w
}

func valueInfo(vi *onnxpb.ValueInfoProto) (Value, error) {
	tt := vi.GetType().GetTensorType()
	if tt == nil {
		return Value{}, fmt.Errorf("%w: not a tensor", ErrUnsupported)
	}
	v := Value{Name: vi.GetName(), DType: DType(tt.GetElemType())}
	if tt.GetShape() == nil {
		return Value{}, fmt.Errorf("%w: no shape", ErrUnsupported)
	}
	dims := tt.GetShape().GetDim()
	if len(dims) > maxRank {
		return Value{}, fmt.Errorf("%w: rank %d is above %d", ErrFormat, len(dims), maxRank)
	}
	for i, d := range dims {
		switch x := d.GetValue().(type) {
		case *onnxpb.TensorShapeProto_Dimension_DimValue:
			if x.DimValue <= 0 || x.DimValue > MaxTensorElements {
				return Value{}, fmt.Errorf("%w: dimension %d is %d", ErrFormat, i, x.DimValue)
			}
			v.Shape = append(v.Shape, Dim{N: int(x.DimValue)})
		case *onnxpb.TensorShapeProto_Dimension_DimParam:
			if x.DimParam == "" {
				return Value{}, fmt.Errorf("%w: dimension %d has an empty dim_param", ErrFormat, i)
			}
			v.Shape = append(v.Shape, Dim{Sym: x.DimParam})
		default:
			return Value{}, fmt.Errorf("%w: dimension %d has neither dim_value nor dim_param", ErrUnsupported, i)
		}
	}
	return v, nil
}
