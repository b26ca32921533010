package onnx

import (
	"github.com/streamprove/streamprove/onnx/internal/onnxpb"
)

// attrType abbreviations for the schemas below.
const (
	aFloat  = onnxpb.AttributeProto_FLOAT
	aInt    = onnxpb.AttributeProto_INT
	aString = onnxpb.AttributeProto_STRING
	aTensor = onnxpb.AttributeProto_TENSOR
	aFloats = onnxpb.AttributeProto_FLOATS
	aInts   = onnxpb.AttributeProto_INTS
)

// attrSchemas lists, per op, every attribute ONNX defines for it in opsets 11–21 that the
// importer can honour (possibly only for some values, checked by the op's handler) and its type.
// An attribute not listed here fails the import.
var attrSchemas = map[string]map[string]onnxpb.AttributeProto_AttributeType{
	"Add":                {},
	"Relu":               {},
	"MatMul":             {},
	"Identity":           {},
	"GlobalAveragePool":  {},
	"Shape":              {"start": aInt, "end": aInt},
	"Gather":             {"axis": aInt},
	"Unsqueeze":          {"axes": aInts},
	"Squeeze":            {"axes": aInts},
	"Concat":             {"axis": aInt},
	"Reshape":            {"allowzero": aInt},
	"Pad":                {"mode": aString},
	"Flatten":            {"axis": aInt},
	"Cast":               {"to": aInt, "saturate": aInt},
	"Dropout":            {"seed": aInt, "ratio": aFloat},
	"Constant":           {"value": aTensor, "value_float": aFloat, "value_floats": aFloats, "value_int": aInt, "value_ints": aInts},
	"Gemm":               {"alpha": aFloat, "beta": aFloat, "transA": aInt, "transB": aInt},
	"BatchNormalization": {"epsilon": aFloat, "momentum": aFloat, "training_mode": aInt, "spatial": aInt},
	"Conv":               {"auto_pad": aString, "dilations": aInts, "group": aInt, "kernel_shape": aInts, "pads": aInts, "strides": aInts},
	"MaxPool":            {"auto_pad": aString, "ceil_mode": aInt, "dilations": aInts, "kernel_shape": aInts, "pads": aInts, "storage_order": aInt, "strides": aInts},
	"AveragePool":        {"auto_pad": aString, "ceil_mode": aInt, "count_include_pad": aInt, "dilations": aInts, "kernel_shape": aInts, "pads": aInts, "strides": aInts},
}

// attrs is a node's attributes, checked against its op's schema.
type attrs struct {
	ref nodeRef
	m   map[string]*onnxpb.AttributeProto
}

func parseAttrs(ref nodeRef, n *onnxpb.NodeProto) (attrs, error) {
	schema, ok := attrSchemas[ref.op]
	if !ok {
		return attrs{}, refuse(ref, "op %q is not supported", ref.op)
	}
	a := attrs{ref: ref, m: map[string]*onnxpb.AttributeProto{}}
	for _, p := range n.GetAttribute() {
		name := p.GetName()
		want, ok := schema[name]
		if !ok {
			return attrs{}, refuse(ref, "attribute %q is not supported", name)
		}
		if p.GetRefAttrName() != "" {
			return attrs{}, refuse(ref, "attribute %q refers to a function attribute", name)
		}
		if _, dup := a.m[name]; dup {
			return attrs{}, malformed(ref, "attribute %q appears twice", name)
		}
		// Older exporters leave type unset; infer it from the one value present.
		got := p.GetType()
		if got == onnxpb.AttributeProto_UNDEFINED {
			got = guessType(p)
		}
		if got != want {
			return attrs{}, malformed(ref, "attribute %q has type %v, want %v", name, got, want)
		}
		a.m[name] = p
	}
	return a, nil
}

func guessType(p *onnxpb.AttributeProto) onnxpb.AttributeProto_AttributeType {
	switch {
	case p.T != nil:
		return aTensor
	case p.S != nil:
		return aString
	case len(p.Ints) > 0:
		return aInts
	case len(p.Floats) > 0:
		return aFloats
	case p.F != nil:
		return aFloat
	case p.I != nil:
		return aInt
	}
	return onnxpb.AttributeProto_UNDEFINED
}

func (a attrs) has(name string) bool { _, ok := a.m[name]; return ok }

func (a attrs) int(name string, def int64) int64 {
	if p, ok := a.m[name]; ok {
		return p.GetI()
	}
	return def
}

func (a attrs) float(name string, def float64) float64 {
	if p, ok := a.m[name]; ok {
		return float64(p.GetF())
	}
	return def
}

func (a attrs) str(name, def string) string {
	if p, ok := a.m[name]; ok {
		return string(p.GetS())
	}
	return def
}

func (a attrs) ints(name string) []int64 {
	if p, ok := a.m[name]; ok {
		return p.GetInts()
	}
	return nil
}

// want refuses an attribute whose value is not the only one supported.
func (a attrs) wantInt(name string, def, only int64) error {
	if v := a.int(name, def); v != only {
		return refuse(a.ref, "attribute %q = %d: only %d is supported", name, v, only)
	}
	return nil
}

func (a attrs) wantFloat(name string, def, only float64) error {
	if v := a.float(name, def); v != only {
		return refuse(a.ref, "attribute %q = %g: only %g is supported", name, v, only)
	}
	return nil
}

// smallInts converts an ints attribute whose values must lie in [lo, hi].
func (a attrs) smallInts(name string, lo, hi int64) ([]int, error) {
	v := a.ints(name)
	if v == nil {
		return nil, nil
	}
	if len(v) > maxRank*2 {
		return nil, malformed(a.ref, "attribute %q has %d values", name, len(v))
	}
	out := make([]int, len(v))
	for i, x := range v {
		if x < lo || x > hi {
			return nil, malformed(a.ref, "attribute %q value %d is outside [%d, %d]", name, x, lo, hi)
		}
		out[i] = int(x)
	}
	return out, nil
}

// window reads the (kernel_shape, strides, pads, dilations, auto_pad) attributes of a 2-D conv
// or pool whose kernel is (kh, kw) when known from the weight (0 when it must come from
// kernel_shape).
func (a attrs) window(kh, kw int) (kernel, strides, pads []int, err error) {
	const big = 1 << 20
	if s := a.str("auto_pad", "NOTSET"); s != "NOTSET" && s != "VALID" {
		return nil, nil, nil, refuse(a.ref, "attribute \"auto_pad\" = %q: only NOTSET and VALID are supported", s)
	}
	kernel, err = a.smallInts("kernel_shape", 1, big)
	if err != nil {
		return
	}
	if kh > 0 {
		if kernel != nil && (len(kernel) != 2 || kernel[0] != kh || kernel[1] != kw) {
			return nil, nil, nil, malformed(a.ref, "kernel_shape %v disagrees with the weight's %dx%d", kernel, kh, kw)
		}
		kernel = []int{kh, kw}
	}
	if len(kernel) != 2 {
		return nil, nil, nil, refuse(a.ref, "attribute \"kernel_shape\" = %v: only 2-D windows are supported", kernel)
	}
	strides, err = a.smallInts("strides", 1, big)
	if err != nil {
		return
	}
	if strides == nil {
		strides = []int{1, 1}
	}
	if len(strides) != 2 {
		return nil, nil, nil, malformed(a.ref, "attribute \"strides\" has %d values, want 2", len(strides))
	}
	pads, err = a.smallInts("pads", 0, big)
	if err != nil {
		return
	}
	if pads == nil {
		pads = []int{0, 0, 0, 0}
	}
	if len(pads) != 4 {
		return nil, nil, nil, malformed(a.ref, "attribute \"pads\" has %d values, want 4", len(pads))
	}
	// ONNX orders pads as (begin_h, begin_w, end_h, end_w): top, left, bottom, right.
	dil, err := a.smallInts("dilations", 1, big)
	if err != nil {
		return
	}
	for _, d := range dil {
		if d != 1 {
			return nil, nil, nil, refuse(a.ref, "attribute \"dilations\" = %v: only 1 is supported", dil)
		}
	}
	return kernel, strides, pads, nil
}

// constantValue is the tensor a Constant node defines.
func (a attrs) constantValue() (*Tensor, error) {
	if len(a.m) != 1 {
		return nil, malformed(a.ref, "a Constant needs exactly one value attribute, has %d", len(a.m))
	}
	for name, p := range a.m {
		switch name {
		case "value":
			t, err := tensorFromProto(p.GetT())
			if err != nil {
				return nil, malformed(a.ref, "attribute \"value\": %v", err)
			}
			return t, nil
		case "value_float":
			return &Tensor{DType: Float32, Shape: []int{}, F: []float64{float64(p.GetF())}}, nil
		case "value_int":
			return &Tensor{DType: Int64, Shape: []int{}, I: []int64{p.GetI()}}, nil
		case "value_floats":
			f := make([]float64, len(p.GetFloats()))
			for i, v := range p.GetFloats() {
				f[i] = float64(v)
			}
			return &Tensor{DType: Float32, Shape: []int{len(f)}, F: f}, nil
		case "value_ints":
			return &Tensor{DType: Int64, Shape: []int{len(p.GetInts())}, I: append([]int64(nil), p.GetInts()...)}, nil
		}
	}
	return nil, malformed(a.ref, "no value")
}
