package onnx

import (
	"fmt"
	"math"
	"math/bits"
	"slices"
)

// IsQuantized reports whether the model is already quantized (QDQ pairs or the QLinear and
// Integer ops): FromQuantized imports it, no calibration needed.
func (m *Model) IsQuantized() bool {
	for _, n := range m.Nodes {
		if slices.Contains(quantizedOps, n.Op) {
			return true
		}
	}
	return false
}

// qval is a quantized runtime value: the graph tensor holding its integers, its scale and zero
// point (float ≈ scale·(q − zp)) and its ONNX type (INT8, UINT8, or INT32 for the accumulator
// of MatMulInteger and ConvInteger, which has no scale).
type qval struct {
	name     string
	scale    float32
	zp       int64
	dt       DType
	producer *QOp // the requant_fixed that computed it, if any (a Relu may fuse into it)
}

// pendingAcc is the float output of a QDQ Conv, Gemm or MatMul: an integer accumulator whose
// requantization waits for the QuantizeLinear after it (possibly past a Relu); or of a QDQ Add
// (sum holds its two operands), lowered once that QuantizeLinear gives the output's scale.
type pendingAcc struct {
	acc   string
	xs    float32
	ws    []float32
	axis  int
	shape Shape
	relu  bool
	bound []float64 // per output channel, max |accumulator|
	node  nodeRef
	sum   []*qval
}

type lowering struct {
	m       *Model
	q       *QModel
	ints    map[string]*qval       // ONNX integer values
	views   map[string]*qval       // ONNX float values that are exactly a DequantizeLinear of a qval
	pending map[string]*pendingAcc // QDQ Conv/Gemm/MatMul outputs waiting for their QuantizeLinear
	uses    map[string]int
}

// FromQuantized lowers an already-quantized model (QDQ or operator form) to integer ops with
// ONNX Runtime's integer semantics: int32 accumulation of (x − x_zp)·(w − w_zp) plus the int32
// bias, then y = saturate(round_half_even(acc · s) + y_zp) with s = x_scale·w_scale/y_scale in
// float32, written exactly as M/2^n (see requantMultipliers). Activation zero points fold into
// the bias (Σ_j (x_j − zx)·w'_ij = Σ_j x_j·w'_ij − zx·Σ_j w'_ij) or, before a padded conv,
// are subtracted from the input. The QuantizeLinear of the graph input becomes the graph's
// input (int8 with its scale, or int16 plus a requant adding the zero point).
func FromQuantized(m *Model) (*QModel, error) {
	if len(m.Inputs) != 1 || len(m.Outputs) != 1 {
		return nil, fmt.Errorf("quantized model: %d inputs and %d outputs; one of each is supported", len(m.Inputs), len(m.Outputs))
	}
	l := &lowering{m: m, ints: map[string]*qval{}, views: map[string]*qval{}, pending: map[string]*pendingAcc{}, uses: map[string]int{},
		q: &QModel{Name: m.Name, Weights: map[string]*IntTensor{}, WeightBits: map[string]int{}, Scales: map[string]float64{}}}
	for _, n := range m.Nodes {
		for _, in := range n.In {
			l.uses[in]++
		}
	}
	for _, n := range m.Nodes {
		if err := l.node(n); err != nil {
			return nil, err
		}
	}
	if err := l.output(); err != nil {
		return nil, err
	}
	return l.q, nil
}

func (l *lowering) node(n *Node) error {
	ref := nodeRef{n.Name, n.Op}
	in0 := n.In[0]
	switch n.Op {
	case "QuantizeLinear":
		s, zp, dt := l.params(n.In[1], n.In[2], Uint8)
		if in0 == l.m.Inputs[0].Name {
			return l.input(n, s, zp, dt)
		}
		if v, ok := l.views[in0]; ok {
			if v.scale != s || v.zp != zp || v.dt != dt {
				return refuse(ref, "requantizing a value from scale %g, zero point %d (%v) to scale %g, zero point %d (%v) is not supported", v.scale, v.zp, v.dt, s, zp, dt)
			}
			l.ints[n.Out] = v
			return nil
		}
		p, ok := l.pending[in0]
		if !ok {
			return refuse(ref, "input %q is neither the graph input, a DequantizeLinear output, nor a Conv/Gemm/MatMul/Add of dequantized values", in0)
		}
		var op *QOp
		var err error
		if p.sum != nil {
			op, err = l.qlinearAdd(ref, p, n.Out, s, zp, dt)
		} else {
			op, err = l.requant(ref, p.acc, n.Out, p.xs, p.ws, s, zp, dt, p.axis, p.shape, p.relu, p.bound)
		}
		if err != nil {
			return err
		}
		l.ints[n.Out] = &qval{name: n.Out, scale: s, zp: zp, dt: dt, producer: op}
		return nil

	case "DequantizeLinear":
		v, ok := l.ints[in0]
		if !ok || v.dt == Int32 {
			return refuse(ref, "input %q is not a quantized INT8/UINT8 value", in0)
		}
		s, zp, dt := l.params(n.In[1], n.In[2], 0)
		if s != v.scale && v.scale != 0 || zp != v.zp || dt != v.dt {
			return refuse(ref, "dequantizing with scale %g, zero point %d where the value has scale %g, zero point %d", s, zp, v.scale, v.zp)
		}
		l.views[n.Out] = v
		return nil

	case "Relu":
		if p, ok := l.pending[in0]; ok && l.uses[in0] == 1 {
			p.relu = true
			l.pending[n.Out] = p
			return nil
		}
		v, ok := l.views[in0]
		if !ok {
			return refuse(ref, "input %q is not a dequantized value or a quantized Conv/Gemm/MatMul", in0)
		}
		// relu(scale·(q − zp)) quantized back with the same parameters is max(q, zp).
		if v.producer != nil && l.uses[in0] == 1 && l.usesOfInt(v) == 1 {
			v.producer.Relu = true
			l.views[n.Out] = v
			return nil
		}
		if v.zp != 0 || v.dt != Int8 {
			return refuse(ref, "a Relu of a shared value with zero point %d (%v) is not supported", v.zp, v.dt)
		}
		l.q.Ops = append(l.q.Ops, &QOp{Op: "relu", Name: n.Name, In: []string{v.name}, Out: n.Out, Shape: n.Shape, Bits: 8})
		l.views[n.Out] = &qval{name: n.Out, scale: v.scale, zp: v.zp, dt: v.dt}
		return nil

	case "MaxPool", "Reshape":
		v, view := l.views[in0]
		if !view {
			if v = l.ints[in0]; v == nil || v.dt == Int32 {
				return refuse(ref, "input %q is not a quantized INT8/UINT8 value (or its dequantization)", in0)
			}
		}
		op := &QOp{Op: "reshape", Name: n.Name, In: []string{v.name}, Out: n.Out, Shape: n.Shape}
		if n.Op == "MaxPool" {
			// The max of dequantized values is the dequantized max (scale > 0); a UINT8 value
			// is a 9-bit signed one.
			op = &QOp{Op: "maxpool", Name: n.Name, In: []string{v.name}, Out: n.Out, Shape: n.Shape,
				Kernel: n.Attr.Kernel, Strides: n.Attr.Strides, Pads: n.Attr.Pads, Bits: 8}
			if v.dt == Uint8 {
				op.Bits = 9
			}
		}
		l.q.Ops = append(l.q.Ops, op)
		out := &qval{name: n.Out, scale: v.scale, zp: v.zp, dt: v.dt}
		if view {
			l.views[n.Out] = out
		} else {
			l.ints[n.Out] = out
		}
		return nil

	case "Conv", "Gemm", "MatMul":
		x, ok := l.views[in0]
		if !ok {
			return refuse(ref, "input %q must be a DequantizeLinear of a quantized value (QDQ form)", in0)
		}
		w, ok := l.m.qconst[n.In[1]]
		if !ok || w.q.DType == Int32 {
			return refuse(ref, "input %q (the weight) must be a DequantizeLinear of an INT8/UINT8 constant (QDQ form)", n.In[1])
		}
		var bias *qconst
		if len(n.In) == 3 {
			if bias, ok = l.m.qconst[n.In[2]]; !ok || bias.q.DType != Int32 {
				return refuse(ref, "input %q (the bias) must be a DequantizeLinear of an INT32 constant (QDQ form)", n.In[2])
			}
		}
		if l.uses[n.Out] != 1 {
			return refuse(ref, "its float output must go to exactly one QuantizeLinear (or Relu then QuantizeLinear)")
		}
		wt, zw, ws, err := l.weightRows(ref, n, w)
		if err != nil {
			return err
		}
		var b []int64
		if bias != nil {
			if len(bias.q.I) != wt.Shape[0] {
				return refuse(ref, "bias of %d values for %d output channels", len(bias.q.I), wt.Shape[0])
			}
			b = bias.q.I
		}
		acc, bound, err := l.accumulate(ref, n, x, wt, zw, b)
		if err != nil {
			return err
		}
		axis := -1
		if n.Op == "Conv" {
			axis = 1
		}
		l.pending[n.Out] = &pendingAcc{acc: acc, xs: x.scale, ws: ws, axis: axis, shape: n.Shape, bound: bound, node: ref}
		return nil

	case "Add":
		// A residual add: DequantizeLinear(a) + DequantizeLinear(b) → (Relu →) QuantizeLinear,
		// which ONNX Runtime fuses into QLinearAdd; lowered at the QuantizeLinear (qlinearAdd).
		sum := make([]*qval, 2)
		for j, in := range n.In {
			v, ok := l.views[in]
			switch {
			case ok && v.dt == Int32:
				return refuse(ref, "input %q is an INT32 value (only INT8/UINT8 operands are added)", in)
			case ok:
				sum[j] = v
			case l.m.Weights[in] != nil:
				return refuse(ref, "input %q is a constant: only the sum of two dequantized runtime values (a residual add) is supported, not adding a constant", in)
			default:
				return refuse(ref, "input %q is not a DequantizeLinear of a quantized value (QDQ form)", in)
			}
		}
		if sum[0].dt != sum[1].dt {
			return refuse(ref, "adding %v and %v values (ONNX Runtime fuses a QDQ Add into QLinearAdd only for one type)", sum[0].dt, sum[1].dt)
		}
		if sa, sb := l.m.valueShape(n.In[0]), l.m.valueShape(n.In[1]); !slices.Equal(sa, sb) || !slices.Equal(sa, n.Shape) {
			return refuse(ref, "operands of shapes %v and %v: only equal shapes are supported (no broadcasting)", sa, sb)
		}
		if l.uses[n.Out] != 1 {
			return refuse(ref, "its float output must go to exactly one QuantizeLinear (or Relu then QuantizeLinear)")
		}
		l.pending[n.Out] = &pendingAcc{shape: n.Shape, node: ref, sum: sum}
		return nil

	case "QLinearConv", "QLinearMatMul", "ConvInteger", "MatMulInteger":
		return l.operator(n)
	}
	return refuse(ref, "%s of quantized values is not supported (supported with quantized models: Conv, Gemm, MatMul, Add between QDQ pairs, QLinearConv, QLinearMatMul, ConvInteger, MatMulInteger, Relu, MaxPool, Flatten, Reshape)", n.Op)
}

// valueShape is the shape of a runtime value: a node output or the graph input.
func (m *Model) valueShape(name string) Shape {
	for _, p := range m.Nodes {
		if p.Out == name {
			return p.Shape
		}
	}
	if len(m.Inputs) > 0 && m.Inputs[0].Name == name {
		return m.Inputs[0].Shape
	}
	return nil
}

// usesOfInt counts the ONNX consumers of the integers behind v.
func (l *lowering) usesOfInt(v *qval) int {
	n := 0
	for name, w := range l.ints {
		if w == v {
			n += l.uses[name]
		}
	}
	return n
}

// params reads a per-tensor scale and zero point (checked on import) as float32 and integer.
func (l *lowering) params(scale, zp string, def DType) (float32, int64, DType) {
	s := float32(l.m.Weights[scale].F[0])
	if zp == "" {
		return s, 0, def
	}
	z := l.m.Weights[zp]
	return s, z.I[0], z.DType
}

// input makes the graph input from the QuantizeLinear of the model's float input. With zero
// point 0 and INT8 the graph input is those integers (prove --input quantizes a float .npy
// with the same rounding, half to even, and saturation); otherwise the graph input is
// round_half_even(x/scale) as int16 and a requant (×2/2^1, exact) adds the zero point and
// saturates to the type.
func (l *lowering) input(n *Node, s float32, zp int64, dt DType) error {
	in := l.m.Inputs[0]
	if len(n.Shape) > 0 && l.uses[in.Name] != 1 {
		return refuse(nodeRef{n.Name, n.Op}, "the graph input must go to exactly one QuantizeLinear")
	}
	l.q.Input = QValue{Name: in.Name, Shape: in.Shape, Scale: float64(s), Bits: 8}
	l.q.Scales[in.Name] = float64(s)
	if zp == 0 && dt == Int8 {
		l.ints[n.Out] = &qval{name: in.Name, scale: s, dt: dt}
		return nil
	}
	l.q.Input.Bits = 16
	op := &QOp{Op: "requant_fixed", Name: n.Name, In: []string{in.Name}, Out: n.Out, Shape: n.Shape,
		Multipliers: []int64{2}, Axis: -1, Shift: 1, Bits: 8, ZeroPoint: zp, Unsigned: dt == Uint8, QBits: 17}
	l.q.Ops = append(l.q.Ops, op)
	l.ints[n.Out] = &qval{name: n.Out, scale: s, zp: zp, dt: dt, producer: op}
	return nil
}

// weightRows lays a quantized weight out as [out, in…] (what linear and conv2d take) with one
// zero point and one float32 scale per output channel.
func (l *lowering) weightRows(ref nodeRef, n *Node, w *qconst) (*IntTensor, []int64, []float32, error) {
	q := w.q
	rows, cols := q.Shape[0], q.Len()/max(1, q.Shape[0])
	outAxis := 0
	isConv := n.Op == "Conv" || n.Op == "QLinearConv" || n.Op == "ConvInteger"
	transpose := !isConv && !n.Attr.TransB
	if transpose {
		rows, cols, outAxis = q.Shape[1], q.Shape[0], 1
	}
	if len(w.scale.F) > 1 && w.axis != outAxis {
		return nil, nil, nil, refuse(ref, "weight %q is quantized per channel along axis %d; only the output-channel axis %d is supported", n.In[1], w.axis, outAxis)
	}
	wt := &IntTensor{Shape: []int{rows, cols}, V: make([]int64, rows*cols)}
	if isConv {
		wt.Shape = slices.Clone(q.Shape)
	}
	for o := 0; o < rows; o++ {
		for i := 0; i < cols; i++ {
			if transpose {
				wt.V[o*cols+i] = q.I[i*rows+o]
			} else {
				wt.V[o*cols+i] = q.I[o*cols+i]
			}
		}
	}
	zw, ws := make([]int64, rows), make([]float32, rows)
	for o := range zw {
		k := 0
		if len(w.scale.F) > 1 {
			k = o
		}
		zw[o], ws[o] = w.zp.I[k], float32(w.scale.F[k])
	}
	return wt, zw, ws, nil
}

// accumulate appends the integer linear or conv2d computing Σ_j (x_j − zx)·(w_ij − zw_i) + b_i
// and returns its output's name and, per output channel, a bound on its magnitude.
func (l *lowering) accumulate(ref nodeRef, n *Node, x *qval, wt *IntTensor, zw, b []int64) (string, []float64, error) {
	rows := wt.Shape[0]
	cols := len(wt.V) / rows
	wc := &IntTensor{Shape: wt.Shape, V: make([]int64, len(wt.V))}
	wbits := 8
	for o := 0; o < rows; o++ {
		for i := 0; i < cols; i++ {
			v := wt.V[o*cols+i] - zw[o]
			wc.V[o*cols+i] = v
			if v < -128 || v > 127 {
				wbits = 16
			}
		}
	}
	lo, hi, _ := int8Range(x.dt)
	xin, zx := x.name, x.zp
	padded := n.Op == "Conv" && slices.ContainsFunc(n.Attr.Pads, func(p int) bool { return p != 0 })
	if zx != 0 && padded {
		// ONNX Runtime pads with the zero point: subtract it before the conv so padding is 0.
		zname := n.Name + ".x_zero_point"
		l.addWeight(zname, &IntTensor{Shape: []int{1}, V: []int64{zx}}, 16)
		xin = n.Name + ".x_centered"
		l.q.Ops = append(l.q.Ops, &QOp{Op: "sub", Name: xin, In: []string{x.name, zname}, Out: xin, Shape: l.m.nodeInputShape(n)})
		zx = 0
	}
	bx := float64(max(hi-x.zp, x.zp-lo))
	bias := &IntTensor{Shape: []int{rows}, V: make([]int64, rows)}
	bound := make([]float64, rows)
	for o := 0; o < rows; o++ {
		sum, abs := int64(0), int64(0)
		for i := 0; i < cols; i++ {
			v := wc.V[o*cols+i]
			sum += v
			abs += max(v, -v)
		}
		if b != nil {
			bias.V[o] = b[o]
		}
		bias.V[o] -= zx * sum
		if bias.V[o] < math.MinInt32 || bias.V[o] > math.MaxInt32 {
			return "", nil, refuse(ref, "the bias of channel %d with the zero-point correction (%d) does not fit int32", o, bias.V[o])
		}
		bound[o] = bx*float64(abs) + math.Abs(float64(bias.V[o]))
	}
	wname := n.Name + ".weight"
	l.addWeight(wname, wc, wbits)
	ins := []string{xin, wname}
	if b != nil || slices.ContainsFunc(bias.V, func(v int64) bool { return v != 0 }) {
		l.addWeight(n.Name+".bias", bias, 32)
		ins = append(ins, n.Name+".bias")
	}
	op := &QOp{Op: "linear", Name: n.Name, In: ins, Out: n.Name + ".acc", Shape: n.Shape}
	if n.Op == "Conv" || n.Op == "QLinearConv" || n.Op == "ConvInteger" {
		op.Op, op.Kernel, op.Strides, op.Pads = "conv2d", n.Attr.Kernel, n.Attr.Strides, n.Attr.Pads
	}
	l.q.Ops = append(l.q.Ops, op)
	return op.Out, bound, nil
}

// nodeInputShape is the shape of a node's first input (a graph input or a node output).
func (m *Model) nodeInputShape(n *Node) Shape {
	for _, p := range m.Nodes {
		if p.Out == n.In[0] {
			return p.Shape
		}
	}
	return m.Inputs[0].Shape
}

func (l *lowering) addWeight(name string, t *IntTensor, bits int) {
	l.q.Weights[name], l.q.WeightBits[name] = t, bits
}

// requant appends the requant_fixed from an accumulator at scale xs·ws[c] to y (scale ys, zero
// point zp, type dt).
func (l *lowering) requant(ref nodeRef, acc, out string, xs float32, ws []float32, ys float32, zp int64, dt DType, axis int, shape Shape, relu bool, bound []float64) (*QOp, error) {
	scales := make([]float32, len(ws))
	for i, w := range ws {
		// ONNX Runtime's QLinearConv and QLinearMatMul: x_scale·w_scale/y_scale in float32.
		scales[i] = float32(float32(xs*w) / ys)
	}
	ms, shift, err := requantMultipliers(scales)
	if err != nil {
		return nil, refuse(ref, "requantization: %v", err)
	}
	peak := 0.0
	for i, b := range bound {
		peak = max(peak, b*float64(scales[i%len(scales)]))
	}
	// The quotient table must hold every quotient this layer can produce: a static bound from
	// the integer ranges, capped where the lookup tables stop (beyond it the prover names the
	// element).
	qb := min(23, max(16, bits.Len64(uint64(math.Ceil(peak)))+2))
	if len(ms) == 1 {
		axis = -1
	}
	op := &QOp{Op: "requant_fixed", Name: ref.name + ".requant", In: []string{acc}, Out: out, Shape: shape,
		Multipliers: ms, Axis: axis, Shift: shift, Bits: 8, ZeroPoint: zp, Unsigned: dt == Uint8, Relu: relu, QBits: qb}
	l.q.Ops = append(l.q.Ops, op)
	return op, nil
}

// qlinearAdd lowers a QDQ Add (p.sum = a, b) and its QuantizeLinear (scale ys, zero point zp,
// type dt; p.relu when a Relu came between) the way ONNX Runtime computes the QLinearAdd it
// fuses them into: with the float32 ratios r_a = fl32(s_a/s_y) and r_b = fl32(s_b/s_y),
//
//	y = saturate(round_half_even(r_a·(a − z_a) + r_b·(b − z_b)) + z_y)
//
// (clamped below at z_y too with the Relu). A float32 is m·2^−k with an integer m < 2^24, so
// with K the larger k (at least 1) both ratios are integers over 2^K: r = R/2^K exactly. With
// G = gcd(R_a, R_b) and f = R/G the graph computes it exactly in integers:
//
//	sum = f_a·a + f_b·b − (f_a·z_a + f_b·z_b)   (scale, scale, add, sub of a constant)
//	y   = requant_fixed(sum, M = G, shift = K, zero point z_y, relu)
//
// since sum·G/2^K = r_a·(a − z_a) + r_b·(b − z_b) exactly. MLAS (the x86-64 AVX2 kernel) takes
// the same float32 ratios but evaluates fma(a, r_a, fma(b, r_b, F)) in float32 on the raw
// integers, with F = fl32(z_y − (r_a·z_a + r_b·z_b)) folding the zero points, and rounds that;
// the two agree except where the float32 roundings of F and of the two fmas move the value onto
// or across a half-integer: ties and near-ties, within a few float32 ulps of
// |r_a·a| + |r_b·b| + |F| (as for requant_fixed; see the package documentation). The SSE2 kernel
// rounds the products and sums separately, with the same kind of near-tie exceptions; the ARM
// (NEON) kernel uses 22-bit integer multipliers and rounds ties away from zero, so it may differ
// more often. With a Relu whose QuantizeLinear has the zero point −128 (INT8) or 0 (UINT8),
// ONNX Runtime drops the Relu (saturation is the Relu) and fuses the rest: the same formula. With
// another zero point it keeps the Relu and computes the Add in float32 (DequantizeLinear, Add,
// Relu, QuantizeLinear), which also equals the exact rounding except near ties.
func (l *lowering) qlinearAdd(ref nodeRef, p *pendingAcc, out string, ys float32, zp int64, dt DType) (*QOp, error) {
	a, b := p.sum[0], p.sum[1]
	if a.dt != dt {
		return nil, refuse(ref, "quantizing the sum of %v values to %v (ONNX Runtime fuses a QDQ Add into QLinearAdd only for one type)", a.dt, dt)
	}
	lo, hi, _ := int8Range(dt)
	ratios := []float32{float32(a.scale / ys), float32(b.scale / ys)}
	fs, g, shift, err := addMultipliers(ratios[0], ratios[1])
	if err != nil {
		return nil, refuse(p.node, "%v", err)
	}
	peak := 0.0
	terms := make([]string, 2)
	var centre int64
	for i, v := range p.sum {
		f := fs[i]
		terms[i] = v.name
		if f != 1 {
			terms[i] = fmt.Sprintf("%s.%c", p.node.name, 'a'+i)
			l.q.Ops = append(l.q.Ops, &QOp{Op: "scale", Name: terms[i], In: []string{v.name}, Out: terms[i], Shape: p.shape, Multipliers: []int64{f}})
		}
		centre += f * v.zp
		peak += float64(ratios[i]) * float64(max(hi-v.zp, v.zp-lo))
	}
	sum := p.node.name + ".sum"
	l.q.Ops = append(l.q.Ops, &QOp{Op: "add", Name: sum, In: terms, Out: sum, Shape: p.shape})
	if centre != 0 {
		zname := p.node.name + ".zero_points"
		wbits := 16
		if c := max(centre, -centre); c >= 1<<31 {
			wbits = 64
		} else if c >= 1<<15 {
			wbits = 32
		}
		l.addWeight(zname, &IntTensor{Shape: []int{1}, V: []int64{centre}}, wbits)
		in := sum
		sum = p.node.name + ".centred"
		l.q.Ops = append(l.q.Ops, &QOp{Op: "sub", Name: sum, In: []string{in, zname}, Out: sum, Shape: p.shape})
	}
	qb := min(23, max(16, bits.Len64(uint64(math.Ceil(peak)))+2))
	op := &QOp{Op: "requant_fixed", Name: ref.name + ".requant", In: []string{sum}, Out: out, Shape: p.shape,
		Multipliers: []int64{g}, Axis: -1, Shift: shift, Bits: 8, ZeroPoint: zp, Unsigned: dt == Uint8, Relu: p.relu, QBits: qb}
	l.q.Ops = append(l.q.Ops, op)
	return op, nil
}

// addMultipliers writes the float32 ratios r_a, r_b exactly as f_a·G/2^shift and f_b·G/2^shift
// with integers f_a, f_b (coprime), G and 1 ≤ shift ≤ 62: each float32 is m·2^−k with m odd
// and < 2^24; shift is the larger k (at least 1) and G the gcd of the two numerators over
// 2^shift. f·|a − z| then stays below 2^58 for 8-bit operands.
func addMultipliers(ra, rb float32) (fs [2]int64, g int64, shift int, err error) {
	var ms [2]int64
	var ks [2]int
	shift = 1
	for i, r := range []float32{ra, rb} {
		if !(r > 0) || math.IsInf(float64(r), 0) {
			return fs, 0, 0, fmt.Errorf("scale ratio %g of operand %d to the output's scale", r, i)
		}
		f, e := math.Frexp(float64(r)) // r = f·2^e, f in [0.5, 1)
		ms[i], ks[i] = int64(math.Ldexp(f, 24)), 24-e
		for ms[i]%2 == 0 {
			ms[i], ks[i] = ms[i]/2, ks[i]-1
		}
		shift = max(shift, ks[i])
	}
	if shift > 62 {
		return fs, 0, 0, fmt.Errorf("scale ratios %g and %g need a shift of %d (at most 62)", ra, rb, shift)
	}
	for i := range ms {
		if d := shift - ks[i]; d+bits.Len64(uint64(ms[i])) > 49 {
			return fs, 0, 0, fmt.Errorf("scale ratios %g and %g are too far apart (%d bits)", ra, rb, d+bits.Len64(uint64(ms[i])))
		}
		ms[i] <<= shift - ks[i]
	}
	g = gcd(ms[0], ms[1])
	return [2]int64{ms[0] / g, ms[1] / g}, g, shift, nil
}

func gcd(a, b int64) int64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// requantMultipliers writes float32 scales exactly as M_c/2^n with one shift n for all: a
// float32 is m·2^e with an integer m < 2^24, so M_c = m_c·2^(n+e_c). round_half_even(acc·M/2^n)
// is then the exact rounding of acc times the float32 scale. ONNX Runtime's MLAS rounds the
// float32 product fl(acc·s) to 24 bits first; the two differ only when that first rounding
// lands on or crosses a half-integer (see the package documentation).
func requantMultipliers(scales []float32) ([]int64, int, error) {
	type me struct {
		m int64
		n int
	}
	parts := make([]me, len(scales))
	n := math.MinInt
	for i, s := range scales {
		if !(s > 0) || math.IsInf(float64(s), 0) {
			return nil, 0, fmt.Errorf("scale %g", s)
		}
		f, e := math.Frexp(float64(s)) // s = f·2^e, f in [0.5, 1)
		m, k := int64(math.Ldexp(f, 24)), 24-e
		for m%2 == 0 && k > 1 {
			m, k = m/2, k-1
		}
		parts[i] = me{m, k}
		n = max(n, k)
	}
	n = max(n, 1)
	if n > 62 {
		return nil, 0, fmt.Errorf("scale %g needs a shift of %d (at most 62)", slices.Min(scales), n)
	}
	ms := make([]int64, len(scales))
	for i, p := range parts {
		d := n - p.n
		if d >= 62-bits.Len64(uint64(p.m)) {
			return nil, 0, fmt.Errorf("scales %g and %g are too far apart for one shift", scales[i], slices.Min(scales))
		}
		ms[i] = p.m << d
	}
	return ms, n, nil
}

// operator lowers QLinearConv, QLinearMatMul, ConvInteger and MatMulInteger.
func (l *lowering) operator(n *Node) error {
	ref := nodeRef{n.Name, n.Op}
	x, ok := l.ints[n.In[0]]
	if !ok || x.dt == Int32 {
		return refuse(ref, "input %q is not a quantized INT8/UINT8 value", n.In[0])
	}
	integer := n.Op == "ConvInteger" || n.Op == "MatMulInteger"
	wi, zxi, wsi, wzi, ysi := 3, 2, 4, 5, 6
	if integer {
		wi, zxi, wsi, wzi, ysi = 1, 2, -1, 3, -1
	}
	opt := func(i int) string {
		if i >= 0 && i < len(n.In) {
			return n.In[i]
		}
		return ""
	}
	if z := opt(zxi); z != "" && l.m.Weights[z].I[0] != x.zp {
		return refuse(ref, "x zero point %d differs from the value's %d", l.m.Weights[z].I[0], x.zp)
	}
	if z := opt(zxi); z == "" && x.zp != 0 {
		return refuse(ref, "x has zero point %d but the op names none", x.zp)
	}
	if !integer && float32(l.m.Weights[n.In[1]].F[0]) != x.scale {
		return refuse(ref, "x scale %g differs from the value's %g", l.m.Weights[n.In[1]].F[0], x.scale)
	}
	w := &qconst{q: l.m.Weights[n.In[wi]], axis: 0}
	if n.Op != "QLinearConv" && n.Op != "ConvInteger" {
		w.axis = 1
	}
	rows := w.q.Shape[w.axis]
	w.scale = &Tensor{Shape: []int{}, F: []float64{1}}
	if wsi >= 0 {
		w.scale = l.m.Weights[n.In[wsi]]
	}
	w.zp = &Tensor{Shape: slices.Clone(w.scale.Shape), I: make([]int64, max(1, w.scale.Len()))}
	if z := opt(wzi); z != "" {
		w.zp = l.m.Weights[z]
		if integer && w.zp.Len() > 1 {
			w.scale = &Tensor{Shape: []int{rows}, F: slices.Repeat([]float64{1}, rows)}
		}
	}
	wt, zw, ws, err := l.weightRows(ref, n, w)
	if err != nil {
		return err
	}
	var b []int64
	if n.Op == "QLinearConv" && len(n.In) == 9 {
		b = l.m.Weights[n.In[8]].I
	}
	acc, bound, err := l.accumulate(ref, n, x, wt, zw, b)
	if err != nil {
		return err
	}
	if integer {
		l.ints[n.Out] = &qval{name: acc, dt: Int32}
		return nil
	}
	ys, zp, dt := l.params(n.In[ysi], opt(ysi+1), Uint8)
	axis := -1
	if n.Op == "QLinearConv" {
		axis = 1
	}
	op, err := l.requant(ref, acc, n.Out, x.scale, ws, ys, zp, dt, axis, n.Shape, false, bound)
	if err != nil {
		return err
	}
	l.ints[n.Out] = &qval{name: n.Out, scale: ys, zp: zp, dt: dt, producer: op}
	return nil
}

// output names the graph output: a DequantizeLinear of a quantized value becomes that value
// minus its zero point, at its scale (so the graph's dequantization, scale·integer, is
// ONNX's); an INT8/UINT8 or INT32 output keeps its integers and has no scale.
func (l *lowering) output() error {
	out := l.m.Outputs[0]
	var v *qval
	deq := false
	if v = l.views[out.Name]; v != nil {
		deq = true
	} else if v = l.ints[out.Name]; v == nil {
		return fmt.Errorf("%w: graph output %q is not a quantized value (end the model with a QuantizeLinear/DequantizeLinear pair)", ErrUnsupported, out.Name)
	}
	l.q.Output = QValue{Name: out.Name, Shape: out.Shape, Bits: 8}
	if v.dt == Int32 {
		l.q.Output.Bits = 32
	}
	if deq {
		l.q.Output.Scale = float64(v.scale)
	}
	if deq && v.zp != 0 {
		zname := out.Name + ".zero_point"
		l.addWeight(zname, &IntTensor{Shape: []int{1}, V: []int64{v.zp}}, 16)
		l.q.Ops = append(l.q.Ops, &QOp{Op: "sub", Name: out.Name + ".centre", In: []string{v.name, zname}, Out: out.Name, Shape: out.Shape})
		l.q.Output.Bits = 16
		return nil
	}
	if v.name == l.q.Input.Name {
		return fmt.Errorf("%w: graph output %q is the input quantized", ErrUnsupported, out.Name)
	}
	// Rename the graph tensor to the output's name.
	for _, op := range l.q.Ops {
		if op.Out == v.name {
			op.Out = out.Name
		}
		for j, in := range op.In {
			if in == v.name {
				op.In[j] = out.Name
			}
		}
	}
	return nil
}
