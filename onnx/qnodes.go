package onnx

import (
	"math"
	"slices"

	"github.com/streamprove/streamprove/onnx/internal/onnxpb"
)

// The already-quantized ops: QDQ pairs and the operator form. The importer only checks them and
// infers their shapes here; FromQuantized lowers them to integer ops.

// quantizedOps lists the ops of already-quantized models.
var quantizedOps = []string{"ConvInteger", "DequantizeLinear", "MatMulInteger", "QLinearConv", "QLinearMatMul", "QuantizeLinear"}

func init() {
	conv := attrSchemas["Conv"]
	attrSchemas["QuantizeLinear"] = map[string]attrType{"axis": aInt, "saturate": aInt, "block_size": aInt}
	attrSchemas["DequantizeLinear"] = map[string]attrType{"axis": aInt, "block_size": aInt}
	attrSchemas["QLinearConv"] = conv
	attrSchemas["ConvInteger"] = conv
	attrSchemas["QLinearMatMul"] = map[string]attrType{}
	attrSchemas["MatMulInteger"] = map[string]attrType{}
}

// qconst is a constant that a DequantizeLinear turned into floats: its integers and the
// parameters, kept so the lowering reads the integers rather than the floats.
type qconst struct {
	q, scale, zp *Tensor
	axis         int
}

// int8Range is the range of an INT8 or UINT8 tensor, false for another type.
func int8Range(dt DType) (lo, hi int64, ok bool) {
	switch dt {
	case Int8:
		return -128, 127, true
	case Uint8:
		return 0, 255, true
	}
	return 0, 0, false
}

// qparams checks a scale and zero point pair of a (De)QuantizeLinear or a QLinear op: both
// constants; the scale positive, finite, FLOAT; the zero point INT8 or UINT8 (INT32 for a
// DequantizeLinear of an INT32 bias, whose zero point must be 0) and in its type's range; per
// tensor, or per channel along axis of a tensor of shape dims when perAxis.
func (c *nodeCtx) qparams(si, zi int, what string, zpType DType, dims []int, axis int, perAxis bool) (scale, zp *Tensor, err error) {
	scale, err = c.needConst(si, what+"_scale")
	if err != nil {
		return nil, nil, err
	}
	if scale.DType != Float32 {
		return nil, nil, refuse(c.ref, "input %d (%s_scale) has type %v: only FLOAT scales are supported", si, what, scale.DType)
	}
	n := 1
	if scale.Len() != 1 {
		if !perAxis || len(scale.Shape) != 1 || axis < 0 || axis >= len(dims) || scale.Shape[0] != dims[axis] {
			return nil, nil, refuse(c.ref, "input %d (%s_scale) of shape %v: only a per-tensor scale or one per channel along the output axis is supported here", si, what, scale.Shape)
		}
		n = dims[axis]
	}
	for _, s := range scale.F {
		if !(s > 0) || math.IsInf(s, 0) || s < 0x1p-100 {
			return nil, nil, refuse(c.ref, "input %d (%s_scale) is %g: scales must be positive, normal and finite", si, what, s)
		}
	}
	if zi >= len(c.in) || c.in[zi] == "" {
		zp = &Tensor{DType: zpType, Shape: slices.Clone(scale.Shape), I: make([]int64, n)}
		return scale, zp, nil
	}
	zp, err = c.needConst(zi, what+"_zero_point")
	if err != nil {
		return nil, nil, err
	}
	if !slices.Equal(zp.Shape, scale.Shape) {
		return nil, nil, malformed(c.ref, "input %d (%s_zero_point) of shape %v, scale of shape %v", zi, what, zp.Shape, scale.Shape)
	}
	if zpType != 0 && zp.DType != zpType {
		return nil, nil, malformed(c.ref, "input %d (%s_zero_point) has type %v, want %v", zi, what, zp.DType, zpType)
	}
	lo, hi, ok := int8Range(zp.DType)
	if zp.DType == Int32 && zpType == Int32 {
		lo, hi, ok = 0, 0, true
	}
	if !ok {
		return nil, nil, refuse(c.ref, "attribute/input %d (%s_zero_point) has type %v: only INT8 and UINT8 (INT32 with zero point 0 for a bias) are supported", zi, what, zp.DType)
	}
	for _, v := range zp.I {
		if v < lo || v > hi {
			return nil, nil, refuse(c.ref, "input %d (%s_zero_point) = %d is out of range [%d, %d] for %v", zi, what, v, lo, hi, zp.DType)
		}
	}
	return scale, zp, nil
}

// quantized imports one op of an already-quantized model.
func (c *nodeCtx) quantized() error {
	switch c.ref.op {
	case "QuantizeLinear", "DequantizeLinear":
		return c.quantizeLinear()
	case "QLinearConv":
		return c.qconv(9, 3, 1, 2, 4, 5, 6)
	case "ConvInteger":
		return c.qconv(4, 1, -1, 2, -1, 3, -1)
	case "QLinearMatMul":
		return c.qmatmul(8, 3, 1, 2, 4, 5)
	case "MatMulInteger":
		return c.qmatmul(4, 1, -1, 2, -1, 3)
	}
	return refuse(c.ref, "op %q is not supported", c.ref.op)
}

func (c *nodeCtx) quantizeLinear() error {
	deq := c.ref.op == "DequantizeLinear"
	if err := c.arity(2, 3); err != nil {
		return err
	}
	if c.a.int("block_size", 0) != 0 {
		return refuse(c.ref, "attribute \"block_size\" = %d: blocked quantization is not supported (supported: per tensor, per axis)", c.a.int("block_size", 0))
	}
	if err := c.a.wantInt("saturate", 1, 1); err != nil {
		return err
	}
	var dims []int
	x, isConst := c.konst(0)
	shape, isRuntime := c.runtime(0)
	switch {
	case isConst:
		dims = x.Shape
	case isRuntime:
		dims, _ = shape.Known()
	default:
		return refuse(c.ref, "input 0 (%q) must be a constant or computed from the graph input", c.in[0])
	}
	// The default axis is 1; a per-channel 1-D tensor (a bias) can only mean 0.
	axis := 1
	if isConst && len(dims) == 1 {
		axis = 0
	}
	if c.a.has("axis") {
		r := len(dims)
		if !isConst {
			r = len(shape)
		}
		j, ok := index(c.a.int("axis", 1), r)
		if !ok && r > 0 {
			return malformed(c.ref, "attribute \"axis\" = %d for rank %d", c.a.int("axis", 1), r)
		}
		axis = j
	}
	var zpType DType // QuantizeLinear: its zero point's type, UINT8 without one
	if deq {
		zpType = 0
		if isConst {
			zpType = x.DType
		} else {
			zpType = c.im.dtypes[c.in[0]]
		}
	}
	scale, zp, err := c.qparams(1, 2, map[bool]string{true: "x", false: "y"}[deq], zpType, dims, axis, isConst)
	if err != nil {
		return err
	}
	if zp.DType == 0 {
		zp.DType = Uint8
	}
	if !deq {
		if isConst {
			return refuse(c.ref, "a QuantizeLinear of a constant is not supported (quantized weights are stored as integers with a DequantizeLinear)")
		}
		if dt := c.im.dtypes[c.in[0]]; dt != Float32 {
			return refuse(c.ref, "input 0 has type %v, want FLOAT", dt)
		}
		if err := c.emit("QuantizeLinear", slices.Clone(c.in), shape, Attr{}); err != nil {
			return err
		}
		c.im.dtypes[c.out] = zp.DType
		return nil
	}
	if isConst {
		if _, _, ok := int8Range(x.DType); !ok && x.DType != Int32 {
			return refuse(c.ref, "input 0 has type %v: only INT8, UINT8 and INT32 are supported", x.DType)
		}
		if x.DType == Int32 && len(scale.Shape) > 0 && len(dims) != 1 {
			return refuse(c.ref, "an INT32 DequantizeLinear (a bias) must be 1-D")
		}
		f := &Tensor{DType: Float32, Shape: slices.Clone(x.Shape), F: make([]float64, len(x.I))}
		inner := 1
		for _, d := range x.Shape[min(axis+1, len(x.Shape)):] {
			inner *= d
		}
		for i, v := range x.I {
			k := 0
			if len(scale.F) > 1 {
				k = (i / inner) % len(scale.F)
			}
			f.F[i] = float64(float32(float64(v-zp.I[k]) * scale.F[k]))
		}
		if err := c.setConst(f); err != nil {
			return err
		}
		c.im.qconst[c.out] = &qconst{q: x, scale: scale, zp: zp, axis: axis}
		return nil
	}
	if _, _, ok := int8Range(c.im.dtypes[c.in[0]]); !ok {
		return refuse(c.ref, "input 0 has type %v: only INT8 and UINT8 activations are supported", c.im.dtypes[c.in[0]])
	}
	if err := c.emit("DequantizeLinear", slices.Clone(c.in), shape, Attr{}); err != nil {
		return err
	}
	c.im.dtypes[c.out] = Float32
	return nil
}

// needInt8Runtime returns input i's shape, requiring an INT8 or UINT8 value computed from the
// graph input.
func (c *nodeCtx) needInt8Runtime(i int, what string) (Shape, error) {
	s, ok := c.runtime(i)
	if !ok {
		return nil, refuse(c.ref, "input %d (%s, %q) must be computed from the graph input, not a constant", i, what, c.in[i])
	}
	if _, _, ok := int8Range(c.im.dtypes[c.in[i]]); !ok {
		return nil, refuse(c.ref, "input %d (%s) has element type %v, want INT8 or UINT8", i, what, c.im.dtypes[c.in[i]])
	}
	return s, nil
}

// needInt8Const returns input i as an INT8 or UINT8 constant.
func (c *nodeCtx) needInt8Const(i int, what string) (*Tensor, error) {
	t, err := c.needConst(i, what)
	if err != nil {
		return nil, err
	}
	if _, _, ok := int8Range(t.DType); !ok {
		return nil, refuse(c.ref, "input %d (%s) has type %v: only INT8 and UINT8 are supported", i, what, t.DType)
	}
	return t, nil
}

// qconv checks a QLinearConv (n = 9 inputs) or ConvInteger (4): the positions of x, w, their
// scales (−1: none) and zero points, and of y's scale. Its output is y's type, or INT32.
func (c *nodeCtx) qconv(n, wi, xs, xz, ws, wz, ys int) error {
	if err := c.arity(map[bool]int{true: 8, false: 2}[n >= 8], n); err != nil {
		return err
	}
	if err := c.a.wantInt("group", 1, 1); err != nil {
		return err
	}
	sx, err := c.needInt8Runtime(0, "x")
	if err != nil {
		return err
	}
	h, w, err := c.spatial(sx)
	if err != nil {
		return err
	}
	wt, err := c.needInt8Const(wi, "w")
	if err != nil {
		return err
	}
	if len(wt.Shape) != 4 || wt.Shape[1] != sx[1].N {
		return malformed(c.ref, "weight of shape %v for input %v", wt.Shape, sx)
	}
	kernel, strides, pads, err := c.a.window(wt.Shape[2], wt.Shape[3])
	if err != nil {
		return err
	}
	if err := c.checkQParams(sx, wt, xs, xz, ws, wz, ys); err != nil {
		return err
	}
	o := wt.Shape[0]
	if n == 9 && len(c.in) == 9 {
		b, err := c.needConst(8, "B")
		if err != nil {
			return err
		}
		if b.DType != Int32 || !slices.Equal(b.Shape, []int{o}) {
			return malformed(c.ref, "input 8 (B) of shape %v and type %v, want [%d] INT32", b.Shape, b.DType, o)
		}
	}
	ho, ok1 := windowOut(h, kernel[0], strides[0], pads[0], pads[2])
	wo, ok2 := windowOut(w, kernel[1], strides[1], pads[1], pads[3])
	if !ok1 || !ok2 {
		return malformed(c.ref, "kernel %v larger than the padded input %v", kernel, sx)
	}
	return c.emitTyped(Shape{sx[0], {N: o}, {N: ho}, {N: wo}}, Attr{Kernel: kernel, Strides: strides, Pads: pads}, ys)
}

// qmatmul checks a QLinearMatMul (8 inputs) or MatMulInteger (4): A computed, B a 2-D constant.
func (c *nodeCtx) qmatmul(n, bi, as, az, bs, bz int) error {
	if err := c.arity(map[bool]int{true: 8, false: 2}[n >= 8], n); err != nil {
		return err
	}
	sa, err := c.needInt8Runtime(0, "A")
	if err != nil {
		return err
	}
	b, err := c.needInt8Const(bi, "B")
	if err != nil {
		return err
	}
	if len(sa) != 2 || len(b.Shape) != 2 {
		return refuse(c.ref, "A %v times B %v: only a 2-D A times a 2-D constant B is supported", sa, b.Shape)
	}
	if sa[1] != (Dim{N: b.Shape[0]}) {
		return malformed(c.ref, "A %v and B %v disagree on K", sa, b.Shape)
	}
	// B's output channels are its columns (axis 1).
	if err := c.checkQParams(sa, &Tensor{DType: b.DType, Shape: []int{b.Shape[1], b.Shape[0]}}, as, az, bs, bz, n-2); err != nil {
		return err
	}
	ys := n - 2
	if n == 4 {
		ys = -1
	}
	return c.emitTyped(Shape{sa[0], {N: b.Shape[1]}}, Attr{}, ys)
}

// checkQParams checks the scales and zero points of x (per tensor), of w (per tensor or per
// output channel, w's axis 0 as laid out in wt) and of y; a scale index of −1 means the op has
// none (ConvInteger, MatMulInteger: zero points only).
func (c *nodeCtx) checkQParams(sx Shape, wt *Tensor, xs, xz, ws, wz, ys int) error {
	xdt := c.im.dtypes[c.in[0]]
	if xs < 0 {
		// *Integer ops: optional zero points, without scales.
		for _, p := range [][3]any{{xz, "a_zero_point (x)", xdt}, {wz, "b_zero_point (w)", wt.DType}} {
			i, what, dt := p[0].(int), p[1].(string), p[2].(DType)
			if i >= len(c.in) || c.in[i] == "" {
				continue
			}
			zp, err := c.needConst(i, what)
			if err != nil {
				return err
			}
			if zp.DType != dt {
				return malformed(c.ref, "input %d (%s) has type %v, want %v", i, what, zp.DType, dt)
			}
			if zp.Len() != 1 && !(i == wz && slices.Equal(zp.Shape, []int{wt.Shape[0]})) {
				return refuse(c.ref, "input %d (%s) of shape %v: only a scalar (or, for the weight, one per output channel) is supported", i, what, zp.Shape)
			}
		}
		return nil
	}
	if _, _, err := c.qparams(xs, xz, "x", xdt, nil, 0, false); err != nil {
		return err
	}
	if _, _, err := c.qparams(ws, wz, "w", wt.DType, wt.Shape, 0, true); err != nil {
		return err
	}
	if _, _, err := c.qparams(ys, ys+1, "y", 0, nil, 0, false); err != nil {
		return err
	}
	return nil
}

// emitTyped appends a quantized node whose output has y's zero point's type (ys ≥ 0), or INT32.
func (c *nodeCtx) emitTyped(shape Shape, attr Attr, ys int) error {
	if err := c.emit(c.ref.op, slices.Clone(c.in), shape, attr); err != nil {
		return err
	}
	c.im.dtypes[c.out] = Int32
	if ys >= 0 {
		c.im.dtypes[c.out] = Uint8
		if zp, ok := c.konst(ys + 1); ok {
			c.im.dtypes[c.out] = zp.DType
		}
	}
	return nil
}

type attrType = onnxpb.AttributeProto_AttributeType

// needValueRuntime returns input i's shape, requiring a FLOAT, INT8 or UINT8 value computed
// from the graph input (ops that pass quantized values through: pools, reshapes).
func (c *nodeCtx) needValueRuntime(i int, what string) (Shape, error) {
	if s, ok := c.runtime(i); ok {
		if _, _, q := int8Range(c.im.dtypes[c.in[i]]); q {
			return s, nil
		}
	}
	return c.needFloatRuntime(i, what)
}
