package onnx

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// ErrFormat reports bytes that are not a well-formed ONNX model (or one whose sizes disagree).
var ErrFormat = errors.New("malformed ONNX model")

// ErrUnsupported reports a well-formed model that uses an op, attribute, type or opset the
// importer does not support. The message names the node, its op type and the attribute, and
// lists the supported ops.
var ErrUnsupported = errors.New("unsupported ONNX model")

// Dim is one dimension of a shape: a known size N, or a dynamic dimension named Sym (an ONNX
// dim_param such as "batch", bound only when an input is given).
type Dim struct {
	N   int
	Sym string
}

func (d Dim) String() string {
	if d.Sym != "" {
		return d.Sym
	}
	return fmt.Sprint(d.N)
}

// Shape is a tensor shape whose dimensions may be symbolic.
type Shape []Dim

func (s Shape) String() string {
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = d.String()
	}
	return "[" + strings.Join(parts, ",") + "]"
}

// Known returns the shape as ints, or false when a dimension is symbolic.
func (s Shape) Known() ([]int, bool) {
	out := make([]int, len(s))
	for i, d := range s {
		if d.Sym != "" {
			return nil, false
		}
		out[i] = d.N
	}
	return out, true
}

// Bind resolves symbolic dimensions with env.
func (s Shape) Bind(env map[string]int) ([]int, error) {
	out := make([]int, len(s))
	for i, d := range s {
		if d.Sym == "" {
			out[i] = d.N
			continue
		}
		v, ok := env[d.Sym]
		if !ok {
			return nil, fmt.Errorf("dimension %q is not bound by any input", d.Sym)
		}
		out[i] = v
	}
	return out, nil
}

func knownShape(dims []int) Shape {
	s := make(Shape, len(dims))
	for i, d := range dims {
		s[i] = Dim{N: d}
	}
	return s
}

// Value is a named graph input or output with its element type and shape.
type Value struct {
	Name  string
	DType DType
	Shape Shape
}

// Node is one op of the imported model after folding: its inputs are graph inputs, weights or
// earlier nodes' outputs, in run order.
type Node struct {
	Name string
	Op   string
	In   []string
	Out  string
	// Shape is the inferred shape of Out.
	Shape Shape
	Attr  Attr
	// eps is a BatchNormalization's epsilon until it is folded away.
	eps float64
}

// Attr holds the normalised attributes of the supported ops.
type Attr struct {
	// TransB: Gemm's B is [out, in] (PyTorch's layout) rather than [in, out].
	TransB bool
	// Axis: Flatten's axis (non-negative).
	Axis int
	// Kernel, Strides: Conv and pool windows over (H, W). Pads: top, left, bottom, right.
	Kernel, Strides, Pads []int
	// CountIncludePad: AveragePool divides by the full window, padding included.
	CountIncludePad bool
	// Seq: the transformer ops' attributes (transformer.go).
	Seq seqAttr
}

// Model is an imported ONNX model: float (or integer) weights in RAM, nodes in run order with
// inferred shapes, dynamic dimensions kept symbolic.
type Model struct {
	Name    string
	Opset   int64
	Inputs  []Value
	Outputs []Value
	Nodes   []*Node
	Weights map[string]*Tensor
	// qconst holds, for weights that are a DequantizeLinear of an integer constant, the
	// integers and their quantization (already-quantized models).
	qconst map[string]*qconst
}

// SupportedOps lists the ops the importer accepts: the ones kept as nodes, then the ones that
// only fold away (Constant, Identity, Dropout, Cast, Shape arithmetic, BatchNormalization after
// a Conv or Gemm, Pad before an AveragePool or a zero Pad).
func SupportedOps() []string {
	ops := []string{
		"Add", "AveragePool", "BatchNormalization", "Cast", "Concat", "Constant", "Conv", "Dropout",
		"Flatten", "Gather", "Gemm", "GlobalAveragePool", "Identity", "MatMul", "MaxPool", "Pad", "Relu",
		"Reshape", "Shape", "Squeeze", "Unsqueeze",
		// Already-quantized models (FromQuantized).
		"ConvInteger", "DequantizeLinear", "MatMulInteger", "QLinearConv", "QLinearMatMul", "QuantizeLinear",
	}
	return slices.Concat(ops, transformerOps)
}

func supportedList() string { return strings.Join(SupportedOps(), ", ") }

// refuse builds the error for an unsupported construct of a node.
func refuse(n nodeRef, what string, args ...any) error {
	return fmt.Errorf("%w: node %q (%s): %s; supported ops: %s", ErrUnsupported, n.name, n.op, fmt.Sprintf(what, args...), supportedList())
}

// malformed builds the error for a node that breaks ONNX's own rules (wrong arity, bad shape).
func malformed(n nodeRef, what string, args ...any) error {
	return fmt.Errorf("%w: node %q (%s): %s", ErrFormat, n.name, n.op, fmt.Sprintf(what, args...))
}

type nodeRef struct{ name, op string }

// MarshalJSON writes a known dimension as a number and a dynamic one as its name.
func (d Dim) MarshalJSON() ([]byte, error) {
	if d.Sym != "" {
		return json.Marshal(d.Sym)
	}
	return json.Marshal(d.N)
}

// bindTo binds the shape's dynamic dimensions to those of dims (adding to env, which may be
// nil) and checks the fixed ones: the input given is what decides a dynamic dimension.
func (s Shape) bindTo(dims []int, env map[string]int) (map[string]int, error) {
	if env == nil {
		env = map[string]int{}
	}
	if len(dims) != len(s) {
		return nil, fmt.Errorf("input of shape %v, model wants %v", dims, s)
	}
	for i, d := range s {
		switch v, seen := env[d.Sym]; {
		case d.Sym == "" && d.N != dims[i], d.Sym != "" && seen && v != dims[i], dims[i] <= 0:
			return nil, fmt.Errorf("input of shape %v, model wants %v", dims, s)
		case d.Sym != "":
			env[d.Sym] = dims[i]
		}
	}
	return env, nil
}
