package onnx

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"math/bits"
	"slices"
	"sort"

	"github.com/streamprove/streamprove/tensorstore"
)

// Calibration chooses how an activation's range is read from the calibration samples.
type Calibration int

const (
	// MaxAbs takes the largest |value| seen: nothing seen in calibration is clipped.
	MaxAbs Calibration = iota
	// Percentile takes the given percentile of |value|: outliers are clipped to buy resolution.
	Percentile
)

// QuantOptions configures post-training static quantization.
type QuantOptions struct {
	// Bits of weights and activations (symmetric, zero point 0): 8 by default.
	Bits int
	// OutputBits of the graph output's requantization: 16 by default, so the dequantized
	// logits keep their resolution.
	OutputBits int
	Method     Calibration
	// Percentile for the Percentile method, e.g. 99.99.
	Percentile float64
	// PrivateIDs declares a token model's ids a private input of the emitted graph instead of
	// a public one: committed inside each proof (through the gather's one-hot [tokens, vocab]
	// advice), never read by the verifier. Sound, not zero-knowledge. A model without an int64
	// ids input refuses it with ErrNotTokenModel.
	PrivateIDs bool
}

// ErrNotTokenModel reports an option that only a token model (one int64 ids input) takes.
var ErrNotTokenModel = errors.New("private ids are for a token model (one int64 ids input)")

// IntTensor is a quantized constant or value: row-major integers.
type IntTensor struct {
	Shape []int
	V     []int64
}

// QOp is one integer op of a quantized model, in the vocabulary of streamprove's graph format:
// linear, conv2d, requant_fixed, relu, maxpool, sumpool, global_sumpool, reshape, scale (by
// the integer Multipliers[0]) and add.
type QOp struct {
	Op    string
	Name  string
	In    []string
	Out   string
	Shape Shape
	// conv2d and pools: window over (H, W); Pads are top, left, bottom, right.
	Kernel, Strides, Pads []int
	// requant_fixed: y = clamp(round_half_even(x·M/2^Shift), lo, hi), M = Multipliers[c] for
	// channel c along Axis (one multiplier: the whole tensor); [lo, hi] the signed Bits range,
	// lo raised to 0 by Relu. QBits bounds |round(x·M/2^Shift)| < 2^(QBits−1).
	Multipliers []int64
	Axis        int
	Shift       int
	Bits        int
	Relu        bool
	QBits       int
	// ZeroPoint is added after rounding, and the range is [0, 2^Bits−1] when Unsigned
	// (already-quantized models; Relu then clamps at ZeroPoint).
	ZeroPoint int64
	Unsigned  bool
	// Extra holds the graph attributes of the transformer ops (transformer_quant.go).
	Extra map[string]any
}

// QValue is a quantized graph input or output: float ≈ Scale · integer.
type QValue struct {
	Name  string
	Shape Shape
	Scale float64
	Bits  int
	// Private: the graph declares this input private_input (a token model's ids with
	// QuantOptions.PrivateIDs): no scale, no dynamic dimension, unseen by the verifier.
	Private bool
}

// QModel is a quantized model: integer ops, int8 weights (per output channel scales folded
// into the requant multipliers) and int32 biases, with the scales to quantize the input and
// dequantize the output.
type QModel struct {
	Name       string
	Input      QValue
	Output     QValue
	Ops        []*QOp
	Weights    map[string]*IntTensor
	WeightBits map[string]int
	// Scales holds every activation's scale (float ≈ Scale · integer).
	Scales map[string]float64
	float  *Model
	seq    *seqInfo
}

// Quantize quantizes a float model post-training: weights symmetric per output channel in
// opt.Bits, biases in int32 at the accumulator's scale, activations symmetric per tensor with
// scales read from calib (the model's input layout, a batch of samples), and every rescale as a
// fixed-point multiplier with a shift. A Relu after a Gemm/Conv is fused into the requant.
func Quantize(m *Model, calib *Tensor, opt QuantOptions) (*QModel, error) {
	if opt.Bits == 0 {
		opt.Bits = 8
	}
	if opt.OutputBits == 0 {
		opt.OutputBits = 16
	}
	if opt.Bits < 2 || opt.Bits > 16 || opt.OutputBits < opt.Bits || opt.OutputBits > 16 {
		return nil, fmt.Errorf("quantize: bits %d and output bits %d (want 2 ≤ bits ≤ output bits ≤ 16)", opt.Bits, opt.OutputBits)
	}
	if opt.Method == Percentile && !(opt.Percentile > 50 && opt.Percentile <= 100) {
		return nil, fmt.Errorf("quantize: percentile %g (want 50 < p ≤ 100)", opt.Percentile)
	}
	if len(m.Inputs) != 1 || len(m.Outputs) != 1 {
		return nil, fmt.Errorf("quantize: %d inputs and %d outputs; one of each is supported", len(m.Inputs), len(m.Outputs))
	}
	if m.Inputs[0].DType == Int64 {
		return quantizeSeq(m, calib, opt)
	}
	if opt.PrivateIDs {
		return nil, fmt.Errorf("quantize: input %q is %v %v: %w", m.Inputs[0].Name, m.Inputs[0].DType, m.Inputs[0].Shape, ErrNotTokenModel)
	}
	vals, err := m.runAll(map[string]*Tensor{m.Inputs[0].Name: calib})
	if err != nil {
		return nil, fmt.Errorf("quantize: calibration run: %w", err)
	}
	q := &QModel{Name: m.Name, Weights: map[string]*IntTensor{}, WeightBits: map[string]int{}, Scales: map[string]float64{}, float: m}
	outName := m.Outputs[0].Name
	bitsOf := func(name string) int {
		if name == outName {
			return opt.OutputBits
		}
		return opt.Bits
	}
	scaleOf := func(name string, b int) float64 {
		r := calibRange(vals[name].F, opt)
		if r == 0 {
			r = 1
		}
		return r / float64(int64(1)<<(b-1)-1)
	}
	in := m.Inputs[0]
	q.Input = QValue{Name: in.Name, Shape: in.Shape, Scale: scaleOf(in.Name, opt.Bits), Bits: opt.Bits}
	q.Scales[in.Name] = q.Input.Scale
	uses := map[string]int{}
	for _, n := range m.Nodes {
		for _, x := range n.In {
			uses[x]++
		}
	}
	fused := map[*Node]bool{}
	for i, n := range m.Nodes {
		if fused[n] {
			continue
		}
		ref := nodeRef{n.Name, n.Op}
		sIn := q.Scales[n.In[0]]
		switch n.Op {
		case "Gemm", "MatMul", "Conv":
			out, relu := n.Out, false
			if i+1 < len(m.Nodes) && m.Nodes[i+1].Op == "Relu" && m.Nodes[i+1].In[0] == n.Out && uses[n.Out] == 1 && n.Out != outName {
				out, relu = m.Nodes[i+1].Out, true
				fused[m.Nodes[i+1]] = true
			}
			op, sw, err := q.quantizeWeights(n, sIn, opt.Bits)
			if err != nil {
				return nil, err
			}
			b := bitsOf(out)
			sOut := scaleOf(out, b)
			ratios := make([]float64, len(sw))
			for o := range sw {
				ratios[o] = sIn * sw[o] / sOut
			}
			ms, shift, err := fixedPoint(ratios)
			if err != nil {
				return nil, fmt.Errorf("quantize: node %q (%s): %w", n.Name, n.Op, err)
			}
			axis := -1
			if n.Op == "Conv" {
				axis = 1
			}
			q.Ops = append(q.Ops, op, &QOp{Op: "requant_fixed", Name: n.Name + ".requant", In: []string{op.Out}, Out: out,
				Shape: n.Shape, Multipliers: ms, Axis: axis, Shift: shift, Bits: b, Relu: relu})
			q.Scales[out] = sOut
		case "Add":
			// a·s_a + b·s_b at a common scale s_c = min(s_a, s_b)/2^12: integer factors
			// round(s_a/s_c), round(s_b/s_c) (relative error ≤ 2^-13), then one requant to the
			// output's scale, with a following Relu fused.
			if _, ok := q.Scales[n.In[1]]; !ok {
				return nil, refuse(ref, "quantization: adding a constant is not implemented (only residual adds of two computed tensors)")
			}
			out, relu := n.Out, false
			if i+1 < len(m.Nodes) && m.Nodes[i+1].Op == "Relu" && m.Nodes[i+1].In[0] == n.Out && uses[n.Out] == 1 && n.Out != outName {
				out, relu = m.Nodes[i+1].Out, true
				fused[m.Nodes[i+1]] = true
			}
			sa, sb := q.Scales[n.In[0]], q.Scales[n.In[1]]
			sc := min(sa, sb) / (1 << 12)
			terms := make([]string, 2)
			for j, sIn := range []float64{sa, sb} {
				terms[j] = n.In[j]
				if f := int64(math.RoundToEven(sIn / sc)); f != 1 {
					terms[j] = fmt.Sprintf("%s.in%d", n.Name, j)
					q.Ops = append(q.Ops, &QOp{Op: "scale", Name: terms[j], In: []string{n.In[j]}, Out: terms[j], Shape: n.Shape, Multipliers: []int64{f}})
				}
			}
			b := bitsOf(out)
			sOut := scaleOf(out, b)
			ms, shift, err := fixedPoint([]float64{sc / sOut})
			if err != nil {
				return nil, fmt.Errorf("quantize: node %q (%s): %w", n.Name, n.Op, err)
			}
			sum := n.Name + ".sum"
			q.Ops = append(q.Ops, &QOp{Op: "add", Name: sum, In: terms, Out: sum, Shape: n.Shape},
				&QOp{Op: "requant_fixed", Name: n.Name + ".requant", In: []string{sum}, Out: out, Shape: n.Shape,
					Multipliers: ms, Axis: -1, Shift: shift, Bits: b, Relu: relu})
			q.Scales[out] = sOut
		case "Relu":
			q.Ops = append(q.Ops, &QOp{Op: "relu", Name: n.Name, In: n.In, Out: n.Out, Shape: n.Shape, Bits: opt.Bits})
			q.Scales[n.Out] = sIn
		case "MaxPool":
			q.Ops = append(q.Ops, &QOp{Op: "maxpool", Name: n.Name, In: n.In, Out: n.Out, Shape: n.Shape,
				Kernel: n.Attr.Kernel, Strides: n.Attr.Strides, Pads: n.Attr.Pads, Bits: opt.Bits})
			q.Scales[n.Out] = sIn
		case "Reshape":
			q.Ops = append(q.Ops, &QOp{Op: "reshape", Name: n.Name, In: n.In, Out: n.Out, Shape: n.Shape})
			q.Scales[n.Out] = sIn
		case "AveragePool", "GlobalAveragePool":
			sum := &QOp{Op: "sumpool", Name: n.Name + ".sum", In: n.In, Out: n.Out + ".sum", Kernel: n.Attr.Kernel, Strides: n.Attr.Strides, Pads: n.Attr.Pads}
			if n.Op == "GlobalAveragePool" {
				sum.Op, sum.Strides, sum.Pads = "global_sumpool", nil, nil
			} else if !n.Attr.CountIncludePad && slices.ContainsFunc(n.Attr.Pads, func(p int) bool { return p != 0 }) {
				return nil, refuse(ref, "quantization: an AveragePool with pads and count_include_pad = 0 divides by a varying count")
			}
			sum.Shape = n.Shape
			b := bitsOf(n.Out)
			sOut := scaleOf(n.Out, b)
			k := float64(n.Attr.Kernel[0] * n.Attr.Kernel[1])
			ms, shift, err := fixedPoint([]float64{sIn / (k * sOut)})
			if err != nil {
				return nil, fmt.Errorf("quantize: node %q (%s): %w", n.Name, n.Op, err)
			}
			q.Ops = append(q.Ops, sum, &QOp{Op: "requant_fixed", Name: n.Name + ".requant", In: []string{sum.Out}, Out: n.Out,
				Shape: n.Shape, Multipliers: ms, Axis: -1, Shift: shift, Bits: b})
			q.Scales[n.Out] = sOut
		default:
			return nil, refuse(ref, "quantization of %s is not implemented", n.Op)
		}
	}
	last := q.Ops[len(q.Ops)-1]
	if last.Out != outName {
		return nil, fmt.Errorf("quantize: the output %q is not computed last", outName)
	}
	ob := opt.Bits
	if last.Op == "requant_fixed" {
		ob = last.Bits
	}
	q.Output = QValue{Name: outName, Shape: m.Outputs[0].Shape, Scale: q.Scales[outName], Bits: ob}
	// Size each requant's quotient table from the calibration run: two bits of headroom beyond
	// the largest quotient seen (the prover's forward pass names an element that exceeds it).
	if _, err := q.run(q.QuantizeInput(calib), true); err != nil {
		return nil, fmt.Errorf("quantize: integer calibration run: %w", err)
	}
	return q, nil
}

// calibRange is the range of |v| the activation's scale must cover.
func calibRange(v []float64, opt QuantOptions) float64 {
	if opt.Method == MaxAbs || opt.Percentile >= 100 {
		r := 0.0
		for _, x := range v {
			r = max(r, math.Abs(x))
		}
		return r
	}
	a := make([]float64, len(v))
	for i, x := range v {
		a[i] = math.Abs(x)
	}
	sort.Float64s(a)
	if len(a) == 0 {
		return 0
	}
	k := int(math.Ceil(opt.Percentile/100*float64(len(a)))) - 1
	return a[max(0, min(k, len(a)-1))]
}

// quantizeWeights turns a Gemm/MatMul/Conv into a linear or conv2d op over int weights laid
// out [out, in…] with one scale per output channel, and an int32 bias at scale sIn·sw[o].
func (q *QModel) quantizeWeights(n *Node, sIn float64, b int) (*QOp, []float64, error) {
	ref := nodeRef{n.Name, n.Op}
	w := q.float.Weights[n.In[1]]
	var rows, cols int
	var at func(o, i int) float64
	switch {
	case n.Op == "Conv":
		rows, cols = w.Shape[0], w.Len()/w.Shape[0]
		at = func(o, i int) float64 { return w.F[o*cols+i] }
	case n.Op == "Gemm" && n.Attr.TransB:
		rows, cols = w.Shape[0], w.Shape[1]
		at = func(o, i int) float64 { return w.F[o*cols+i] }
	default: // [K, N]: output channels are columns
		rows, cols = w.Shape[1], w.Shape[0]
		at = func(o, i int) float64 { return w.F[i*rows+o] }
		if n.Op == "MatMul" && len(n.Shape) != 2 {
			return nil, nil, refuse(ref, "quantization: a MatMul of rank %d (only 2-D inputs map to linear)", len(n.Shape))
		}
	}
	qmax := float64(int64(1)<<(b-1) - 1)
	sw := make([]float64, rows)
	qw := &IntTensor{Shape: []int{rows, cols}, V: make([]int64, rows*cols)}
	if n.Op == "Conv" {
		qw.Shape = slices.Clone(w.Shape)
	}
	for o := 0; o < rows; o++ {
		r := 0.0
		for i := 0; i < cols; i++ {
			r = max(r, math.Abs(at(o, i)))
		}
		if r == 0 {
			r = qmax // an all-zero channel: any scale represents it exactly
		}
		sw[o] = r / qmax
		for i := 0; i < cols; i++ {
			qw.V[o*cols+i] = int64(math.RoundToEven(at(o, i) / sw[o]))
		}
	}
	wName, bName := n.Name+".weight", n.Name+".bias"
	q.Weights[wName], q.WeightBits[wName] = qw, b
	ins := []string{n.In[0], wName}
	if len(n.In) == 3 {
		bias := q.float.Weights[n.In[2]]
		qb := &IntTensor{Shape: []int{rows}, V: make([]int64, rows)}
		for o := range qb.V {
			v := math.RoundToEven(bias.F[o] / (sIn * sw[o]))
			if math.Abs(v) >= 1<<31 {
				return nil, nil, refuse(ref, "quantization: bias %g of channel %d does not fit int32 at scale %g", bias.F[o], o, sIn*sw[o])
			}
			qb.V[o] = int64(v)
		}
		q.Weights[bName], q.WeightBits[bName] = qb, 32
		ins = append(ins, bName)
	}
	op := &QOp{Op: "linear", Name: n.Name, In: ins, Out: n.Name + ".acc", Shape: n.Shape}
	if n.Op == "Conv" {
		op.Op, op.Kernel, op.Strides, op.Pads = "conv2d", n.Attr.Kernel, n.Attr.Strides, n.Attr.Pads
	}
	return op, sw, nil
}

// fixedPoint writes each ratio as M/2^shift with one shift for all: the largest multiplier in
// [2^30, 2^31), so every channel keeps about 31 significant bits unless its ratio is far below
// the largest.
func fixedPoint(ratios []float64) ([]int64, int, error) {
	top := slices.Max(ratios)
	if !(top > 0) || math.IsInf(top, 0) {
		return nil, 0, fmt.Errorf("rescale ratio %g", top)
	}
	_, e := math.Frexp(top) // top = f·2^e, f in [0.5, 1)
	shift := 31 - e
	if shift < 1 {
		return nil, 0, fmt.Errorf("rescale ratio %g is too large for a fixed-point multiplier", top)
	}
	shift = min(shift, 62)
	ms := make([]int64, len(ratios))
	for i, r := range ratios {
		ms[i] = max(1, int64(math.RoundToEven(math.Ldexp(r, shift))))
	}
	return ms, shift, nil
}

// roundShift returns round_half_even(x·m / 2^shift) computed exactly in 128 bits.
func roundShift(x, m int64, shift int) (int64, bool) {
	ax := uint64(x)
	if x < 0 {
		ax = uint64(-x)
	}
	hi, lo := bits.Mul64(ax, uint64(m))
	if hi>>shift != 0 {
		return 0, false
	}
	qv := hi<<(64-shift) | lo>>shift
	rem := lo & (1<<shift - 1)
	half := uint64(1) << (shift - 1)
	if rem > half || (rem == half && qv&1 == 1) {
		qv++
	}
	if qv >= 1<<63 {
		return 0, false
	}
	if x < 0 {
		return -int64(qv), true
	}
	return int64(qv), true
}

// QuantizeInput rounds a float input to the input's integers (ties to even, saturated to the
// graph input's dtype): what prove --input does to a float .npy (tensorstore.Quantizer).
func (q *QModel) QuantizeInput(x *Tensor) *IntTensor {
	qz := tensorstore.Quantizer{Scale: q.Input.Scale, DType: intDType(q.Input.Bits)}
	out := &IntTensor{Shape: slices.Clone(x.Shape), V: make([]int64, len(x.F))}
	if q.seq != nil {
		out.Shape = []int{len(x.F)} // token ids, flat
	}
	for i, v := range x.F {
		out.V[i], _ = qz.Quantize(v) // a non-finite value saturates to 0 here; prove --input refuses it
	}
	return out
}

// Run is the integer forward pass with the graph ops' exact semantics; it returns the output's
// integers.
func (q *QModel) Run(x *IntTensor) (*IntTensor, error) {
	return q.run(x, false)
}

// Dequantize maps output integers to floats.
func (q *QModel) Dequantize(y *IntTensor) *Tensor {
	t := &Tensor{DType: Float32, Shape: y.Shape, F: make([]float64, len(y.V))}
	for i, v := range y.V {
		t.F[i] = float64(v) * q.Output.Scale
	}
	return t
}

func (q *QModel) run(x *IntTensor, sizeQBits bool) (*IntTensor, error) {
	env, err := q.Input.Shape.bindTo(x.Shape, nil)
	if err != nil {
		return nil, err
	}
	if q.seq != nil {
		env[symBatch] = env[symTokens] / q.seq.T
	}
	vals := map[string]*IntTensor{q.Input.Name: x}
	for k, w := range q.Weights {
		vals[k] = w
	}
	for _, op := range q.Ops {
		shape, err := op.Shape.Bind(env)
		if err != nil {
			return nil, err
		}
		in := vals[op.In[0]]
		out := &IntTensor{Shape: shape, V: make([]int64, numel(shape))}
		switch op.Op {
		case "linear":
			w := vals[op.In[1]]
			k, nOut := w.Shape[1], w.Shape[0]
			for r := 0; r < shape[0]; r++ {
				for o := 0; o < nOut; o++ {
					s := int64(0)
					for i := 0; i < k; i++ {
						s += in.V[r*k+i] * w.V[o*k+i]
					}
					if len(op.In) == 3 {
						s += vals[op.In[2]].V[o]
					}
					out.V[r*nOut+o] = s
				}
			}
		case "conv2d":
			fx := &Tensor{Shape: in.Shape, F: toF(in.V)}
			fw := &Tensor{Shape: vals[op.In[1]].Shape, F: toF(vals[op.In[1]].V)}
			args := []*Tensor{fx, fw}
			if len(op.In) == 3 {
				args = append(args, &Tensor{F: toF(vals[op.In[2]].V)})
			}
			fo := &Tensor{Shape: shape, F: make([]float64, len(out.V))}
			// float64 holds these sums exactly: |x|,|w| < 2^15 and far fewer than 2^22 taps.
			conv2d(fo, fx, fw, args, Attr{Kernel: op.Kernel, Strides: op.Strides, Pads: op.Pads})
			for i, v := range fo.F {
				out.V[i] = int64(v)
			}
		case "sumpool", "global_sumpool", "maxpool":
			fx := &Tensor{Shape: in.Shape, F: toF(in.V)}
			fo := &Tensor{Shape: shape, F: make([]float64, len(out.V))}
			a := Attr{Kernel: op.Kernel, Strides: op.Strides, Pads: op.Pads, CountIncludePad: true}
			fop := "MaxPool"
			if op.Op == "global_sumpool" {
				fop, a.Kernel = "GlobalAveragePool", in.Shape[2:]
			} else if op.Op == "sumpool" {
				fop = "AveragePool"
			}
			pool2d(fo, fx, fop, a)
			k := float64(a.Kernel[0] * a.Kernel[1])
			for i, v := range fo.F {
				if fop != "MaxPool" {
					v = math.Round(v * k) // the average times the window is the exact sum
				}
				out.V[i] = int64(v)
			}
		case "relu":
			for i, v := range in.V {
				out.V[i] = max(v, 0)
			}
		case "scale":
			for i, v := range in.V {
				out.V[i] = v * op.Multipliers[0]
			}
		case "sub":
			// The already-quantized path subtracts a zero point: a one-element weight.
			z := vals[op.In[1]].V[0]
			for i, v := range in.V {
				out.V[i] = v - z
			}
		case "add":
			b := vals[op.In[1]]
			if !slices.Equal(b.Shape, in.Shape) {
				bs, err := broadcastShape(in.Shape, b.Shape)
				if err != nil || !slices.Equal(bs, in.Shape) {
					return nil, fmt.Errorf("op %q: adding %v and %v", op.Name, in.Shape, b.Shape)
				}
			}
			ib := broadcastIndex(in.Shape, b.Shape)
			for i, v := range in.V {
				out.V[i] = v + b.V[ib(i)]
			}
		case "reshape":
			copy(out.V, in.V)
		case "requant_fixed":
			lo, hi := -(int64(1) << (op.Bits - 1)), int64(1)<<(op.Bits-1)-1
			if op.Unsigned {
				lo, hi = 0, int64(1)<<op.Bits-1
			}
			if op.Relu {
				lo = op.ZeroPoint
			}
			inner := 1
			if op.Axis == 1 && len(shape) == 4 {
				inner = shape[2] * shape[3]
			}
			peak := int64(0)
			for i, v := range in.V {
				m := op.Multipliers[0]
				if len(op.Multipliers) > 1 {
					m = op.Multipliers[(i/inner)%len(op.Multipliers)]
				}
				r, ok := roundShift(v, m, op.Shift)
				if !ok {
					return nil, fmt.Errorf("op %q: %d·%d/2^%d overflows", op.Name, v, m, op.Shift)
				}
				peak = max(peak, r, -r)
				if !sizeQBits && op.QBits > 0 && peak >= int64(1)<<(op.QBits-1) {
					return nil, fmt.Errorf("op %q: element %d: quotient %d is outside the %d-bit table", op.Name, i, r, op.QBits)
				}
				out.V[i] = max(lo, min(hi, r+op.ZeroPoint))
			}
			if sizeQBits {
				// The kernel needs 2^(QBits−1) > the output range; its tables have 2^(QBits+1)
				// rows, so no more headroom than this is bought.
				op.QBits = max(16, op.Bits+1, bits.Len64(uint64(peak))+2)
			}
		default:
			if err := runSeqOp(op, vals, in, out); err != nil {
				return nil, err
			}
		}
		vals[op.Out] = out
	}
	if q.seq != nil && q.seq.keep != nil {
		maps.Copy(q.seq.keep, vals)
	}
	return vals[q.Output.Name], nil
}

func toF(v []int64) []float64 {
	f := make([]float64, len(v))
	for i, x := range v {
		f[i] = float64(x)
	}
	return f
}

// Agreement compares the quantized model with the float reference on a batch.
type Agreement struct {
	Samples int
	// MaxAbsErr is the largest |dequantized − float| over all outputs.
	MaxAbsErr float64
	// ArgmaxAgree is the fraction of rows whose argmax agrees (2-D outputs).
	ArgmaxAgree float64
}

// Compare runs x through the float reference and the quantized model.
func (q *QModel) Compare(x *Tensor) (Agreement, *Tensor, *Tensor, error) {
	fo, err := q.float.Run(map[string]*Tensor{q.Input.Name: x})
	if err != nil {
		return Agreement{}, nil, nil, err
	}
	yi, err := q.Run(q.QuantizeInput(x))
	if err != nil {
		return Agreement{}, nil, nil, err
	}
	f, d := fo[q.Output.Name], q.Dequantize(yi)
	a := Agreement{Samples: x.Shape[0]}
	for i := range f.F {
		a.MaxAbsErr = max(a.MaxAbsErr, math.Abs(f.F[i]-d.F[i]))
	}
	if fa, da := argmaxRows(f), argmaxRows(d); fa != nil {
		same := 0
		for i := range fa {
			if fa[i] == da[i] {
				same++
			}
		}
		a.ArgmaxAgree = float64(same) / float64(len(fa))
	}
	return a, f, d, nil
}
