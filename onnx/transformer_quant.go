package onnx

import (
	"fmt"
	"math"
	"math/big"
	"math/bits"
	"slices"

	"github.com/streamprove/streamprove/kernels"
)

// seqInfo marks a QModel quantized from a token model: its graph input is the flat list of
// token ids [tokens] (the ONNX input [batch, T] read row-major: the gather kernel's public ids,
// or with QuantOptions.PrivateIDs its private ones), and the dimension batch = tokens/T names
// the attention tensors' leading axis.
type seqInfo struct {
	T int
	// reps maps the float model's values to their integers (for OpErrors); keep, when set,
	// receives every integer value of a run.
	reps map[string]irep
	keep map[string]*IntTensor
}

const (
	symTokens = "tokens"
	symBatch  = "batch"
	// Fixed-point widths of the transformer path (measured on the tiny GPT of testdata/onnx):
	seqResidualBits = 16 // the residual stream
	seqNormInBits   = 10 // a LayerNorm's input (the kernel's ρ keeps 15 − log2(σ) bits)
	seqNormBits     = 16 // LayerNorm's output
	seqGeluBits     = 12 // GELU's table input (2^12 rows)
	seqScoreBits    = 16 // attention scores into the softmax
	seqProbBits     = 12 // softmax output fraction bits
	seqAttnBits     = 12 // q, k and v (the attention products' operands), linear outputs
	seqEmbedBits    = 12 // the embedding table
)

// irep is how a float value of the model is held in integers: the graph tensor name, its scale
// (float ≈ scale · integer), whether it is a wide accumulator that must be requantized before a
// lookup or a linear, and whether a [batch, T, X] value is held flat as [tokens, X].
type irep struct {
	name  string
	scale float64
	wide  bool
	flat  bool
	// bt: a transposed operand kept as its source for matmul_bt (name is the source).
	bt bool
}

type seqQuant struct {
	q    *QModel
	m    *Model
	opt  QuantOptions
	vals map[string]*Tensor
	rep  map[string]irep
	uses map[string][]*Node
	prod map[string]*Node // each value's producing node
	skip map[*Node]bool
	T    int
	n    int // op counter for fresh names
}

// quantizeSeq quantizes a token model (int64 ids input): see seqInfo and the constants above.
// calib holds the ids as floats, [batch, T].
func quantizeSeq(m *Model, calib *Tensor, opt QuantOptions) (*QModel, error) {
	in := m.Inputs[0]
	if len(in.Shape) != 2 || in.Shape[1].Sym != "" {
		return nil, fmt.Errorf("quantize: token input %q of shape %v: want [batch, T] with T known", in.Name, in.Shape)
	}
	vals, err := m.runAll(map[string]*Tensor{in.Name: calib})
	if err != nil {
		return nil, fmt.Errorf("quantize: calibration run: %w", err)
	}
	s := &seqQuant{m: m, opt: opt, vals: vals, rep: map[string]irep{}, uses: map[string][]*Node{}, prod: map[string]*Node{}, skip: map[*Node]bool{}, T: in.Shape[1].N}
	s.q = &QModel{Name: m.Name, Weights: map[string]*IntTensor{}, WeightBits: map[string]int{}, Scales: map[string]float64{}, float: m, seq: &seqInfo{T: s.T}}
	s.q.Input = QValue{Name: in.Name, Shape: Shape{{Sym: symTokens}}, Scale: 1, Bits: 64, Private: opt.PrivateIDs}
	s.rep[in.Name] = irep{name: in.Name, scale: 1}
	for _, n := range m.Nodes {
		s.prod[n.Out] = n
		for _, x := range n.In {
			s.uses[x] = append(s.uses[x], n)
		}
	}
	for _, n := range m.Nodes {
		if s.skip[n] {
			continue
		}
		if err := s.node(n); err != nil {
			return nil, err
		}
	}
	out := m.Outputs[0]
	r, ok := s.rep[out.Name]
	if !ok || r.name != out.Name {
		return nil, fmt.Errorf("quantize: the output %q is not computed last", out.Name)
	}
	last := s.q.Ops[len(s.q.Ops)-1]
	s.q.seq.reps = s.rep
	s.q.Output = QValue{Name: out.Name, Shape: last.Shape, Scale: r.scale, Bits: last.Bits}
	if _, err := s.q.run(s.q.QuantizeInput(calib), true); err != nil {
		return nil, fmt.Errorf("quantize: integer calibration run: %w", err)
	}
	return s.q, nil
}

func (s *seqQuant) fresh(base string) string {
	s.n++
	return fmt.Sprintf("%s.q%d", base, s.n)
}

func (s *seqQuant) add(op *QOp) string {
	s.q.Ops = append(s.q.Ops, op)
	return op.Out
}

// flatShape is a value's shape as held: [batch, T, X] becomes [tokens, X].
func (s *seqQuant) flatShape(sh Shape) (Shape, bool) {
	if len(sh) == 3 && sh[0].Sym != "" && sh[1] == (Dim{N: s.T}) {
		return Shape{{Sym: symTokens}, sh[2]}, true
	}
	if len(sh) == 2 && sh[0].Sym != "" && sh[1] == (Dim{N: s.T}) {
		return Shape{{Sym: symTokens}}, true
	}
	return batchShape(sh), false
}

// batchShape names the leading dynamic dimension batch.
func batchShape(sh Shape) Shape {
	out := slices.Clone(sh)
	for i, d := range out {
		if d.Sym != "" {
			out[i] = Dim{Sym: symBatch}
		}
	}
	return out
}

// withLast is sh with its last dimension set to n.
func withLast(sh Shape, n int) Shape {
	out := slices.Clone(sh)
	out[len(out)-1] = Dim{N: n}
	return out
}

// maxAbs of a calibration value.
func (s *seqQuant) maxAbs(name string) float64 {
	r := calibRange(s.vals[name].F, s.opt)
	if r == 0 {
		return 1
	}
	return r
}

// requant appends requant_fixed from an accumulator at scale sIn to bits at scale sOut.
func (s *seqQuant) requant(ref nodeRef, in string, sh Shape, sIn, sOut float64, bits int, out string) (string, error) {
	ms, shift, err := fixedPoint([]float64{sIn / sOut})
	if err != nil {
		return "", fmt.Errorf("quantize: node %q (%s): %w", ref.name, ref.op, err)
	}
	if out == "" {
		out = s.fresh(in)
	}
	return s.add(&QOp{Op: "requant_fixed", Name: out, In: []string{in}, Out: out, Shape: sh, Multipliers: ms, Axis: -1, Shift: shift, Bits: bits}), nil
}

// narrow makes a value a narrow integer (requantizing a wide accumulator to bits at the scale
// its calibrated range needs).
func (s *seqQuant) narrow(ref nodeRef, float string, bits int) (irep, error) {
	r := s.rep[float]
	if !r.wide {
		return r, nil
	}
	sh := s.shapeOf(float, r.flat)
	sOut := s.maxAbs(float) / float64(int64(1)<<(bits-1)-1)
	name, err := s.requant(ref, r.name, sh, r.scale, sOut, bits, "")
	if err != nil {
		return irep{}, err
	}
	r.name, r.scale, r.wide = name, sOut, false
	s.rep[float] = r
	return r, nil
}

func (s *seqQuant) shapeOf(float string, flat bool) Shape {
	for _, n := range s.m.Nodes {
		if n.Out == float {
			sh, _ := s.flatShape(n.Shape)
			if !flat {
				sh = batchShape(n.Shape)
			}
			return sh
		}
	}
	return nil
}

// single returns the only consumer of name, or nil.
func (s *seqQuant) single(name string) *Node {
	if u := s.uses[name]; len(u) == 1 && !s.isOut(name) {
		return u[0]
	}
	return nil
}

// allSlices: name is read only by slices (a fused q, k, v projection).
func (s *seqQuant) allSlices(name string) bool {
	u := s.uses[name]
	for _, n := range u {
		if n.Op != opSlice {
			return false
		}
	}
	return len(u) > 0 && !s.isOut(name)
}

func (s *seqQuant) isOut(name string) bool { return name == s.m.Outputs[0].Name }

// vecConst returns a constant of n floats (any shape of n elements).
func (s *seqQuant) vecConst(name string, n int) ([]float64, bool) {
	t, ok := s.m.Weights[name]
	if !ok || t.F == nil || t.Len() != n {
		return nil, false
	}
	return t.F, true
}

func (s *seqQuant) node(n *Node) error {
	ref := nodeRef{n.Name, n.Op}
	switch n.Op {
	case opEmbed:
		tab := s.m.Weights[n.In[0]]
		// The embedding feeds a LayerNorm, which scales its error up by max|x|/rms(x): 12 bits.
		sw := s.maxAbs(n.In[0]) / float64(int64(1)<<(seqEmbedBits-1)-1)
		w := &IntTensor{Shape: slices.Clone(tab.Shape), V: make([]int64, len(tab.F))}
		for i, v := range tab.F {
			w.V[i] = int64(math.RoundToEven(v / sw))
		}
		wn := n.Name + ".table"
		s.q.Weights[wn], s.q.WeightBits[wn] = w, seqEmbedBits
		sh, _ := s.flatShape(n.Shape)
		out := s.add(&QOp{Op: "gather", Name: n.Name, In: []string{wn, s.rep[n.In[1]].name}, Out: n.Out + ".q", Shape: sh})
		s.rep[n.Out] = irep{name: out, scale: sw, flat: true}
		return nil
	case "Add":
		return s.addNode(n)
	case "MatMul":
		return s.linear(n)
	case opLayerNorm, opRMSNorm:
		return s.layerNorm(n)
	case opRope:
		return s.rope(n)
	case opMulAct:
		return s.swiglu(n)
	case opInvRms, opNeg, opConcatAct, opMulConst:
		what := map[string]string{opInvRms: "1/√(mean(x²) + ε) not multiplied by x", opNeg: "a Neg", opConcatAct: "a Concat of activations", opMulConst: "a Mul by a constant tensor"}[n.Op]
		return refuse(ref, "quantization: %s is not supported alone (only as a piece of an RMSNorm x·rsqrt(mean(x²) + ε)·γ over the last axis or of a RoPE q·cos + rotate_half(q)·sin, rotate_half(q) = cat(−q[..., d/2:], q[..., :d/2]), with constant cos and sin, recognised whole)", what)
	case opScale:
		r := s.rep[n.In[0]]
		r.scale *= n.Attr.Seq.Factor
		s.rep[n.Out] = r
		return nil
	case opSlice:
		r, err := s.narrow(ref, n.In[0], 8)
		if err != nil {
			return err
		}
		ax := n.Attr.Seq.Axis
		if r.flat {
			if ax == 0 || ax == 1 {
				return refuse(ref, "quantization: slicing the batch or token axis")
			}
			ax--
		}
		sh, _ := s.flatShape(n.Shape)
		if !r.flat {
			sh = batchShape(n.Shape)
		}
		out := s.add(&QOp{Op: "slice", Name: n.Out, In: []string{r.name}, Out: n.Out + ".q", Shape: sh,
			Extra: map[string]any{"starts": []int{n.Attr.Seq.Start}, "ends": []int{n.Attr.Seq.End}, "axes": []int{ax}}})
		s.rep[n.Out] = irep{name: out, scale: r.scale, flat: r.flat}
		return nil
	case "Reshape":
		r := s.rep[n.In[0]]
		sh, flat := s.flatShape(n.Shape)
		out := s.add(&QOp{Op: "reshape", Name: n.Name, In: []string{r.name}, Out: n.Out + ".q", Shape: sh})
		r.name, r.flat = out, flat
		s.rep[n.Out] = r
		return nil
	case opTranspose:
		r := s.rep[n.In[0]]
		p := n.Attr.Seq.Perm
		k := len(p)
		// A transpose read only as matmul's B with its last two axes swapped is matmul_bt of
		// the same transpose without that swap.
		if u := s.single(n.Out); u != nil && u.Op == opMatMulAct && u.In[1] == n.Out && u.In[0] != n.Out && k >= 2 {
			q := slices.Clone(p)
			q[k-1], q[k-2] = q[k-2], q[k-1]
			src := r.name
			if !isIdentity(q) {
				src = s.add(&QOp{Op: "transpose", Name: n.Name, In: []string{r.name}, Out: n.Out + ".q", Shape: swapLast(batchShape(n.Shape)), Extra: map[string]any{"perm": q}})
			}
			s.rep[n.Out] = irep{name: src, scale: r.scale, wide: r.wide, bt: true}
			return nil
		}
		out := s.add(&QOp{Op: "transpose", Name: n.Name, In: []string{r.name}, Out: n.Out + ".q", Shape: batchShape(n.Shape), Extra: map[string]any{"perm": p}})
		s.rep[n.Out] = irep{name: out, scale: r.scale, wide: r.wide}
		return nil
	case opMatMulAct:
		a, err := s.narrow(ref, n.In[0], 8)
		if err != nil {
			return err
		}
		b, err := s.narrow(ref, n.In[1], 8)
		if err != nil {
			return err
		}
		op := "matmul"
		if b.bt {
			op = "matmul_bt"
		}
		out := s.add(&QOp{Op: op, Name: n.Name, In: []string{a.name, b.name}, Out: n.Name + ".acc", Shape: batchShape(n.Shape)})
		s.rep[n.Out] = irep{name: out, scale: a.scale * b.scale, wide: true}
		return nil
	case opSoftmax:
		r := s.rep[n.In[0]]
		if !r.wide {
			return refuse(ref, "quantization: a softmax of a narrow value (want the scores' accumulator)")
		}
		// Fixed point 2^-frac with the calibrated range at a quarter of the input's 16 bits, so
		// the row spread stays below the exp limbs' 2^16.
		frac := min(16, max(0, int(math.Floor(math.Log2(float64(int64(1)<<(seqScoreBits-2))/s.maxAbs(n.In[0]))))))
		sh := batchShape(n.Shape)
		x, err := s.requant(ref, r.name, sh, r.scale, math.Ldexp(1, -frac), seqScoreBits, "")
		if err != nil {
			return err
		}
		op := "softmax"
		if n.Attr.Seq.Causal {
			op = "softmax_causal"
		}
		out := s.add(&QOp{Op: op, Name: n.Name, In: []string{x}, Out: n.Out + ".q", Shape: sh, Extra: map[string]any{"shift": frac, "bits": seqProbBits}})
		s.rep[n.Out] = irep{name: out, scale: math.Ldexp(1, -seqProbBits)}
		return nil
	case opGelu, opGeluTanh, opSigmoid, opTanh, opSilu:
		r := s.rep[n.In[0]]
		frac, ok := geluFrac(r.scale)
		if !ok || r.wide {
			return refuse(ref, "quantization: %s's input must come from a linear layer requantized to a fixed point", n.Op)
		}
		sh, _ := s.flatShape(n.Shape)
		if !r.flat {
			sh = batchShape(n.Shape)
		}
		out := s.add(&QOp{Op: actKernels[n.Op], Name: n.Name, In: []string{r.name}, Out: n.Out + ".q", Shape: sh, Extra: map[string]any{"shift": frac, "bits": seqGeluBits}})
		s.rep[n.Out] = irep{name: out, scale: r.scale, flat: r.flat}
		return nil
	}
	return refuse(ref, "quantization of %s is not implemented in the transformer path", n.Op)
}

func isIdentity(p []int) bool {
	for i, v := range p {
		if v != i {
			return false
		}
	}
	return true
}

func swapLast(sh Shape) Shape {
	k := len(sh)
	sh[k-1], sh[k-2] = sh[k-2], sh[k-1]
	return sh
}

// actKernels maps the smooth activations to their lookup kernels (kernels.Activation), each on
// a seqGeluBits-bit fixed point 2^-frac in and out.
var actKernels = map[string]string{opGelu: "gelu", opGeluTanh: "gelu_tanh", opSigmoid: "sigmoid", opTanh: "tanh", opSilu: "silu"}

// geluFrac returns frac when scale is 2^-frac.
func geluFrac(scale float64) (int, bool) {
	f, e := math.Frexp(scale)
	return 1 - e, f == 0.5 && 1-e >= 0 && 1-e <= seqGeluBits-2
}

// addNode: the positional embedding (a constant added to the embedding), or a residual add of
// two computed values (at a common scale, requantized to the residual width).
func (s *seqQuant) addNode(n *Node) error {
	ref := nodeRef{n.Name, n.Op}
	c := -1
	for i, in := range n.In {
		if _, ok := s.m.Weights[in]; ok {
			c = i
		}
	}
	if c >= 0 {
		r := s.rep[n.In[1-c]]
		if !r.flat || r.wide {
			return refuse(ref, "quantization: adding a constant is supported for the positional embedding only (a bias is folded into its linear layer)")
		}
		pos := s.m.Weights[n.In[c]]
		D := n.Shape[len(n.Shape)-1].N
		if pos.F == nil || pos.Len() != s.T*D {
			return refuse(ref, "quantization: a constant of shape %v added to %v (want a [T, D] positional embedding)", pos.Shape, n.Shape)
		}
		w := &IntTensor{Shape: []int{s.T, D}, V: make([]int64, len(pos.F))}
		for i, v := range pos.F {
			w.V[i] = int64(math.RoundToEven(v / r.scale))
			if w.V[i] >= 1<<15 || w.V[i] < -(1<<15) {
				return refuse(ref, "quantization: positional embedding %g does not fit int16 at the embedding's scale %g", v, r.scale)
			}
		}
		wn := n.Name + ".pos"
		s.q.Weights[wn], s.q.WeightBits[wn] = w, 16
		b3 := Shape{{Sym: symBatch}, {N: s.T}, {N: D}}
		x := s.add(&QOp{Op: "reshape", Name: n.Name + ".split", In: []string{r.name}, Out: n.Name + ".split", Shape: b3})
		y := s.add(&QOp{Op: "add", Name: n.Name, In: []string{x, wn}, Out: n.Name + ".sum", Shape: b3})
		out := s.add(&QOp{Op: "reshape", Name: n.Name + ".flat", In: []string{y}, Out: n.Out + ".q", Shape: Shape{{Sym: symTokens}, {N: D}}})
		s.rep[n.Out] = irep{name: out, scale: r.scale, flat: true}
		return nil
	}
	var terms [2]irep
	for j := range terms {
		r, err := s.narrow(ref, n.In[j], 8)
		if err != nil {
			return err
		}
		if !r.flat {
			return refuse(ref, "quantization: only residual adds of [batch, T, D] values are supported")
		}
		terms[j] = r
	}
	sh := Shape{{Sym: symTokens}, n.Shape[len(n.Shape)-1]}
	sc := min(terms[0].scale, terms[1].scale) / (1 << 12)
	names := make([]string, 2)
	for j, t := range terms {
		names[j] = t.name
		if f := int64(math.RoundToEven(t.scale / sc)); f != 1 {
			names[j] = s.add(&QOp{Op: "scale", Name: fmt.Sprintf("%s.in%d", n.Name, j), In: []string{t.name}, Out: fmt.Sprintf("%s.in%d", n.Name, j), Shape: sh, Multipliers: []int64{f}})
		}
	}
	sum := s.add(&QOp{Op: "add", Name: n.Name + ".sum", In: names, Out: n.Name + ".sum", Shape: sh})
	sOut := s.maxAbs(n.Out) / float64(int64(1)<<(seqResidualBits-1)-1)
	out, err := s.requant(ref, sum, sh, sc, sOut, seqResidualBits, n.Name+".out")
	if err != nil {
		return err
	}
	s.rep[n.Out] = irep{name: out, scale: sOut, flat: true}
	return nil
}

// linear maps MatMul by a constant [K, N] (and the bias Add after it) to linear + requant_fixed: int8 weights per output channel, int32 bias.
func (s *seqQuant) linear(n *Node) error {
	ref := nodeRef{n.Name, n.Op}
	r, err := s.narrow(ref, n.In[0], seqAttnBits)
	if err != nil {
		return err
	}
	if !r.flat {
		return refuse(ref, "quantization: a MatMul by a constant of a %v value (want [batch, T, K])", n.Shape)
	}
	w := s.m.Weights[n.In[1]]
	K, N := w.Shape[0], w.Shape[1]
	bias := make([]float64, N)
	out := n
	if u := s.single(n.Out); u != nil && u.Op == "Add" {
		for i, in := range u.In {
			if b, ok := s.vecConst(in, N); ok && u.In[1-i] == n.Out {
				copy(bias, b)
				out = u
				s.skip[u] = true
			}
		}
	}
	// The output's width: the graph output's, a fixed point for GELU's table, else 8 bits.
	bits, sOut, name := seqAttnBits, s.maxAbs(out.Out)/float64(int64(1)<<(seqAttnBits-1)-1), ""
	switch u := s.single(out.Out); {
	case s.allSlices(out.Out):
		bits = seqAttnBits
		sOut = s.maxAbs(out.Out) / float64(int64(1)<<(bits-1)-1)
	case s.isOut(out.Out):
		bits, name = s.opt.OutputBits, out.Out
		sOut = s.maxAbs(out.Out) / float64(int64(1)<<(bits-1)-1)
	case u != nil && actKernels[u.Op] != "":
		bits = seqGeluBits
		frac := min(seqGeluBits-2, int(math.Floor(math.Log2(float64(int64(1)<<(bits-1)-1)/s.maxAbs(out.Out)))))
		if frac < 0 {
			return refuse(ref, "quantization: %s input range %g is beyond the %d-bit table", u.Op, s.maxAbs(out.Out), bits)
		}
		sOut = math.Ldexp(1, -frac)
	}
	if name == "" {
		name = n.Out + ".q"
	}
	if err := s.emitLinear(ref, n.Name, r, func(k, o int) float64 { return w.F[k*N+o] }, K, N, bias, sOut, bits, name); err != nil {
		return err
	}
	s.rep[out.Out] = irep{name: name, scale: sOut, flat: true}
	return nil
}

// emitLinear appends linear (int8 weights per output channel w(k, o), int32 bias) on the
// narrow flat value r and requant_fixed of its accumulator to bits at scale sOut, named out.
func (s *seqQuant) emitLinear(ref nodeRef, name string, r irep, w func(k, o int) float64, K, N int, bias []float64, sOut float64, bits int, out string) error {
	qw := &IntTensor{Shape: []int{N, K}, V: make([]int64, N*K)}
	sw := make([]float64, N)
	for o := 0; o < N; o++ {
		m := 0.0
		for k := 0; k < K; k++ {
			m = max(m, math.Abs(w(k, o)))
		}
		if m == 0 {
			m = 127
		}
		sw[o] = m / 127
		for k := 0; k < K; k++ {
			qw.V[o*K+k] = int64(math.RoundToEven(w(k, o) / sw[o]))
		}
	}
	qb := &IntTensor{Shape: []int{N}, V: make([]int64, N)}
	for o := range qb.V {
		v := math.RoundToEven(bias[o] / (r.scale * sw[o]))
		if math.Abs(v) >= 1<<31 {
			return refuse(ref, "quantization: bias %g of channel %d does not fit int32 at scale %g", bias[o], o, r.scale*sw[o])
		}
		qb.V[o] = int64(v)
	}
	wn, bn := name+".weight", name+".bias"
	s.q.Weights[wn], s.q.WeightBits[wn] = qw, 8
	s.q.Weights[bn], s.q.WeightBits[bn] = qb, 32
	sh := Shape{{Sym: symTokens}, {N: N}}
	acc := s.add(&QOp{Op: "linear", Name: name, In: []string{r.name, wn, bn}, Out: name + ".acc", Shape: sh})
	ms := make([]float64, N)
	for o := range ms {
		ms[o] = r.scale * sw[o] / sOut
	}
	mult, shift, err := fixedPoint(ms)
	if err != nil {
		return fmt.Errorf("quantize: node %q (%s): %w", ref.name, ref.op, err)
	}
	s.add(&QOp{Op: "requant_fixed", Name: out, In: []string{acc}, Out: out, Shape: sh, Multipliers: mult, Axis: -1, Shift: shift, Bits: bits})
	return nil
}

// layerNorm maps LayerNormalization to the layernorm op: the input requantized to
// seqNormInBits (the kernel's ρ = ⌊2^(15+k)/(D·σ)⌋ keeps 15 − log2(σ) significant bits, so a
// wider input loses more in ρ than it gains in resolution), γ in int8 per tensor, β at the
// output's scale. An RMSNorm maps to the rmsnorm op the same way (ρ = ⌊2^15/rms⌋, the same
// 15 − log2(rms) bits; no β): y = ⌊x·ρ·γ/2^shift⌋ ≈ x/rms·γ·2^(15−shift). Its input width was
// measured on gpt_llama_tiny: logits' max error 3.4, 3.1, 1.9, 2.7, 5.1·10⁻² at 8, 9, 10, 11,
// 12 bits, so 10 bits as for LayerNorm.
func (s *seqQuant) layerNorm(n *Node) error {
	center := n.Op == opLayerNorm
	ref := nodeRef{n.Name, n.Op}
	r, err := s.narrow(ref, n.In[0], seqResidualBits)
	if err != nil {
		return err
	}
	if !r.flat {
		return refuse(ref, "quantization: a %s of a %v value (want [batch, T, D])", n.Op, n.Shape)
	}
	if s.isOut(n.Out) {
		return refuse(ref, "quantization: a %s as the graph output (its 16-bit output is not requantized)", n.Op)
	}
	D := n.Shape[len(n.Shape)-1].N
	sh := Shape{{Sym: symTokens}, {N: D}}
	gamma := s.m.Weights[n.In[1]].F
	beta := make([]float64, D)
	if center && len(n.In) == 3 {
		beta = s.m.Weights[n.In[2]].F
	}
	// Calibrated range of (x − μ)/σ·γ.
	x := s.vals[n.In[0]].F
	mn := 0.0
	for row := 0; row < len(x)/D; row++ {
		xs := x[row*D : (row+1)*D]
		mean, v := 0.0, 0.0
		if center {
			for _, e := range xs {
				mean += e
			}
			mean /= float64(D)
		}
		for _, e := range xs {
			v += (e - mean) * (e - mean)
		}
		sd := math.Sqrt(v/float64(D) + n.Attr.Seq.Eps)
		for j, e := range xs {
			mn = max(mn, math.Abs((e-mean)/sd*gamma[j]))
		}
	}
	sx := s.maxAbs(n.In[0]) / float64(int64(1)<<(seqNormInBits-1)-1)
	xq, err := s.requant(ref, r.name, sh, r.scale, sx, seqNormInBits, n.Name+".in")
	if err != nil {
		return err
	}
	sg := 0.0
	for _, g := range gamma {
		sg = max(sg, math.Abs(g))
	}
	if sg == 0 {
		sg = 127
	}
	sg /= 127
	g := &IntTensor{Shape: []int{D}, V: make([]int64, D)}
	for j, v := range gamma {
		g.V[j] = int64(math.RoundToEven(v / sg))
	}
	// y − β ≈ (x − μ)/σ·γ_int·2^(15−shift): the calibrated |y| (β included) at a quarter of
	// the output range.
	mb := 0.0
	for _, b := range beta {
		mb = max(mb, math.Abs(b))
	}
	shift := 15 - int(math.Floor(math.Log2(float64(int64(1)<<(seqNormBits-2))/((mn+mb)/sg))))
	shift = max(1, min(16, shift))
	sy := sg * math.Ldexp(1, shift-15)
	b := &IntTensor{Shape: []int{D}, V: make([]int64, D)}
	for j, v := range beta {
		b.V[j] = int64(math.RoundToEven(v / sy))
	}
	gn, bn := n.Name+".gamma", n.Name+".beta"
	s.q.Weights[gn], s.q.WeightBits[gn] = g, 8
	// ε at the squared input scale (the kernel's minimum is 1).
	eps := max(1, min(1<<20, int64(math.Round(n.Attr.Seq.Eps/(sx*sx)))))
	op, ins := "rmsnorm", []string{xq, gn}
	if center {
		s.q.Weights[bn], s.q.WeightBits[bn] = b, seqNormBits
		op, ins = "layernorm", []string{xq, gn, bn}
	}
	out := s.add(&QOp{Op: op, Name: n.Name, In: ins, Out: n.Out + ".q", Shape: sh,
		Extra: map[string]any{"shift": shift, "bits": seqNormBits, "eps": eps}})
	s.rep[n.Out] = irep{name: out, scale: sy, flat: true}
	return nil
}

// runSeqOp is the integer forward pass of the transformer ops, with the kernels' semantics
// (kernels.Gather, MatMul, Softmax, Activation, RMSNorm and the layout ops).
func runSeqOp(op *QOp, vals map[string]*IntTensor, in, out *IntTensor) error {
	fail := func(f string, a ...any) error {
		return fmt.Errorf("op %q (%s): %s", op.Name, op.Op, fmt.Sprintf(f, a...))
	}
	ai := func(k string) int { v, _ := op.Extra[k].(int); return v }
	shape := out.Shape
	switch op.Op {
	case "gather":
		tab, ids := in, vals[op.In[1]]
		D := tab.Shape[1]
		for t, id := range ids.V {
			if id < 0 || id >= int64(tab.Shape[0]) {
				return fail("token id %d at %d is outside the table's %d rows", id, t, tab.Shape[0])
			}
			copy(out.V[t*D:(t+1)*D], tab.V[int(id)*D:(int(id)+1)*D])
		}
	case "slice":
		ax := op.Extra["axes"].([]int)[0]
		lo, hi := op.Extra["starts"].([]int)[0], op.Extra["ends"].([]int)[0]
		outer, inner, n := numel(in.Shape[:ax]), numel(in.Shape[ax+1:]), in.Shape[ax]
		k := 0
		for o := 0; o < outer; o++ {
			k += copy(out.V[k:], in.V[(o*n+lo)*inner:(o*n+hi)*inner])
		}
	case "concat":
		// The inputs joined along axis: per outer index, each input's block in turn.
		ax := op.Extra["axis"].(int)
		outer, inner := numel(shape[:ax]), numel(shape[ax+1:])
		k := 0
		for o := 0; o < outer; o++ {
			for _, name := range op.In {
				x := vals[name]
				w := x.Shape[ax] * inner
				k += copy(out.V[k:], x.V[o*w:(o+1)*w])
			}
		}
	case "transpose":
		permute(in.Shape, op.Extra["perm"].([]int), func(dst, src int) { out.V[dst] = in.V[src] })
	case "matmul", "matmul_bt":
		b := vals[op.In[1]]
		r := len(shape)
		I, J, K := shape[r-2], shape[r-1], in.Shape[r-1]
		bt := op.Op == "matmul_bt"
		for l := 0; l < numel(shape[:r-2]); l++ {
			A, B, Y := in.V[l*I*K:], b.V[l*K*J:], out.V[l*I*J:]
			for i := 0; i < I; i++ {
				for j := 0; j < J; j++ {
					s := int64(0)
					for k := 0; k < K; k++ {
						if bt {
							s += A[i*K+k] * B[j*K+k]
						} else {
							s += A[i*K+k] * B[k*J+j]
						}
					}
					Y[i*J+j] = s
				}
			}
		}
	case "softmax", "softmax_causal":
		frac, qb := ai("shift"), ai("bits")
		e0, e1 := expLimb(frac, 0), expLimb(frac, 1)
		T, R := shape[len(shape)-1], shape[len(shape)-2]
		e := make([]int64, T)
		for row := 0; row < len(in.V)/T; row++ {
			x, y := in.V[row*T:(row+1)*T], out.V[row*T:(row+1)*T]
			keep := T
			if op.Op == "softmax_causal" {
				keep = row%R + 1
			}
			m := slices.Max(x[:keep])
			S := int64(0)
			for j := 0; j < keep; j++ {
				d := m - x[j]
				if d >= 1<<16 {
					return fail("row %d: element %d is %d below the row max (the exp limbs cover 2^16)", row, j, d)
				}
				e[j] = e0[d&255] * e1[d>>8]
				S += e[j]
			}
			for j := 0; j < keep; j++ {
				y[j] = (int64(1) << qb) * e[j] / S
			}
		}
	case "gelu", "gelu_tanh", "sigmoid", "tanh", "silu":
		frac, b := ai("shift"), ai("bits")
		H := int64(1) << (b - 1)
		for i, v := range in.V {
			if v < -H || v >= H {
				return fail("element %d: input %d is outside the %d-bit table", i, v, b)
			}
			y, err := kernels.ActivationValue(op.Op, v, frac)
			if err != nil {
				return fail("%v", err)
			}
			out.V[i] = y
		}
	case "mul":
		b := vals[op.In[1]]
		if bs, err := broadcastShape(in.Shape, b.Shape); err != nil || !slices.Equal(bs, in.Shape) {
			return fail("multiplying %v and %v", in.Shape, b.Shape)
		}
		ib := broadcastIndex(in.Shape, b.Shape)
		for i, v := range in.V {
			out.V[i] = v * b.V[ib(i)]
		}
	case "rmsnorm":
		shift, b := ai("shift"), ai("bits")
		eps, _ := op.Extra["eps"].(int64)
		g := vals[op.In[1]].V
		D := int64(len(g))
		H := int64(1) << (b - 1)
		C := new(big.Int).Lsh(big.NewInt(D), 30)
		for row := 0; row < len(in.V)/int(D); row++ {
			x := in.V[row*int(D) : (row+1)*int(D)]
			v := int64(0)
			for _, e := range x {
				v += e * e
			}
			// ρ = ⌊√(2^30·D / (v + ε·D))⌋ = ⌊2^15·√(D/W)⌋, the kernel's exact floor.
			rho := new(big.Int).Sqrt(new(big.Int).Quo(C, big.NewInt(v+eps*D))).Int64()
			if rho >= 1<<16 {
				return fail("row %d: ρ = %d is beyond 16 bits (the row's root mean square is too small)", row, rho)
			}
			for j, e := range x {
				t := new(big.Int).Mul(big.NewInt(e*rho), big.NewInt(g[j]))
				y := new(big.Int).Rsh(t, uint(shift)).Int64()
				if y < -H || y >= H {
					return fail("row %d element %d: output %d outside %d bits", row, j, y, b)
				}
				out.V[row*int(D)+j] = y
			}
		}
	case "layernorm":
		shift, b := ai("shift"), ai("bits")
		eps, _ := op.Extra["eps"].(int64)
		g, beta := vals[op.In[1]].V, vals[op.In[2]].V
		D := int64(len(g))
		k := bits.Len64(uint64(D - 1)) // ⌈log₂ D⌉
		H := int64(1) << (b - 1)
		C := new(big.Int).Lsh(big.NewInt(1), uint(2*(15+k)))
		for row := 0; row < len(in.V)/int(D); row++ {
			x := in.V[row*int(D) : (row+1)*int(D)]
			S, v := int64(0), int64(0)
			for _, e := range x {
				S += e
				v += e * e
			}
			// ρ = ⌊√(2^(2(15+k)) / (D·v − S² + ε·D²))⌋, the kernel's exact floor.
			W := new(big.Int).Mul(big.NewInt(D), big.NewInt(v))
			W.Sub(W, new(big.Int).Mul(big.NewInt(S), big.NewInt(S)))
			W.Add(W, big.NewInt(eps*D*D))
			rho := new(big.Int).Sqrt(new(big.Int).Quo(C, W)).Int64()
			if rho >= 1<<16 {
				return fail("row %d: ρ = %d is beyond 16 bits (the row's spread is too small)", row, rho)
			}
			for j, e := range x {
				t := new(big.Int).Mul(big.NewInt(D*e-S), big.NewInt(rho))
				t.Mul(t, big.NewInt(g[j]))
				y := new(big.Int).Rsh(t, uint(shift+k)).Int64() + beta[j]
				if y < -H || y >= H {
					return fail("row %d element %d: output %d outside %d bits", row, j, y, b)
				}
				out.V[row*int(D)+j] = y
			}
		}
	default:
		return fail("unknown op")
	}
	return nil
}

// expLimb is the softmax kernel's E_limb[a] = round(2^8·exp(−2^(8·limb)·a/2^frac)).
func expLimb(frac, limb int) []int64 {
	v := make([]int64, 256)
	for a := range v {
		v[a] = int64(math.Round(256 * math.Exp(-math.Ldexp(float64(a), 8*limb-frac))))
	}
	return v
}

// OpError is the error of one value of a quantized token model against the float reference.
type OpError struct {
	Value  string
	MaxAbs float64 // max |float|
	// RelErr is max |dequantized − float| / max |float|.
	RelErr float64
}

// OpErrors runs x through the float reference and the integer model and reports, for every
// float value the integer model holds,
// the relative error: where a quantized transformer loses accuracy.
func (q *QModel) OpErrors(x *Tensor) ([]OpError, error) {
	if q.seq == nil {
		return nil, fmt.Errorf("OpErrors: not a token model")
	}
	fv, err := q.float.runAll(map[string]*Tensor{q.Input.Name: x})
	if err != nil {
		return nil, err
	}
	q.seq.keep = map[string]*IntTensor{}
	defer func() { q.seq.keep = nil }()
	if _, err := q.run(q.QuantizeInput(x), false); err != nil {
		return nil, err
	}
	var out []OpError
	for _, n := range q.float.Nodes {
		r, ok := q.seq.reps[n.Out]
		iv := q.seq.keep[r.name]
		if !ok || iv == nil || len(iv.V) != len(fv[n.Out].F) || r.bt {
			continue
		}
		e := OpError{Value: n.Out}
		worst := 0.0
		for i, f := range fv[n.Out].F {
			e.MaxAbs = max(e.MaxAbs, math.Abs(f))
			worst = max(worst, math.Abs(float64(iv.V[i])*r.scale-f))
		}
		e.RelErr = worst / max(e.MaxAbs, 1e-30)
		out = append(out, e)
	}
	return out, nil
}

// swiglu maps the product of two activations — SwiGLU's silu(x·W1)·(x·W3), the SiLU (or another
// lookup activation) of a linear layer times a linear layer — to the mul op on the two narrow
// operands; the product is a wide accumulator at the product of their scales, which the next
// layer's narrow requantizes (requant_fixed) to its width.
func (s *seqQuant) swiglu(n *Node) error {
	ref := nodeRef{n.Name, n.Op}
	gate, up := s.prod[n.In[0]], s.prod[n.In[1]]
	if gate != nil && gate.Op == "MatMul" {
		gate, up = up, gate
	}
	if gate == nil || up == nil || actKernels[gate.Op] == "" || up.Op != "MatMul" || s.prod[gate.In[0]] == nil || s.prod[gate.In[0]].Op != "MatMul" {
		return refuse(ref, "quantization: only the SwiGLU product act(x·W1)·(x·W3) of a lookup activation of a linear layer and a linear layer is supported")
	}
	var r [2]irep
	for j := range r {
		var err error
		if r[j], err = s.narrow(ref, n.In[j], seqAttnBits); err != nil {
			return err
		}
		if !r[j].flat {
			return refuse(ref, "quantization: a SwiGLU product of %v values (want [batch, T, F])", n.Shape)
		}
	}
	sh, _ := s.flatShape(n.Shape)
	out := s.add(&QOp{Op: "mul", Name: n.Name, In: []string{r[0].name, r[1].name}, Out: n.Out + ".acc", Shape: sh})
	s.rep[n.Out] = irep{name: out, scale: r[0].scale * r[1].scale, wide: true, flat: true}
	return nil
}

// ropeTableBits is the fixed point of the RoPE cos and sin tables: 2^-14, so |cos| ≤ 1 fits int16.
const ropeTableBits = 14

// rope maps RoPE, q·cos + rotate_half(q)·sin, to exact graph ops: rotate_half (each head's halves
// of the last axis swapped, the new first half negated) is proven on the activation, as two
// slices of q's last axis, a scale by −1 and a concat, and then
//
//	rope = requant_fixed(mul(q, cos) + mul(rotate_half(q), sin))
//
// with cos and sin committed int16 weights [T, dh] at 2^-14 that broadcast over the batch and the
// heads. Folding rotate_half into a second weight W' (what this importer did before the graph
// had concat) cost one more linear layer per rotated projection and left W' a committed weight
// the proof did not tie to W; the four ops here cost sumchecks over q's elements only.
func (s *seqQuant) rope(n *Node) error {
	ref := nodeRef{n.Name, n.Op}
	fail := func(why string, a ...any) error {
		return refuse(ref, "quantization: RoPE of %q: %s", n.In[0], fmt.Sprintf(why, a...))
	}
	qs := n.Shape
	if len(qs) < 2 {
		return fail("shape %v (want [..., T, d] with T the tokens and d even)", qs)
	}
	dh := qs[len(qs)-1].N
	if qs[len(qs)-2] != (Dim{N: s.T}) || dh < 2 || dh%2 != 0 {
		return fail("shape %v (want [..., T, d] with T the tokens and d even)", qs)
	}
	qr := s.rep[n.In[0]]
	if qr.name == "" || qr.wide {
		return fail("q is not a requantized activation")
	}
	sh := batchShape(n.Shape)
	ax := len(sh) - 1
	half := func(suffix string, lo, hi int) string {
		return s.add(&QOp{Op: "slice", Name: n.Name + suffix, In: []string{qr.name}, Out: n.Name + suffix, Shape: withLast(sh, dh/2),
			Extra: map[string]any{"starts": []int{lo}, "ends": []int{hi}, "axes": []int{ax}}})
	}
	hi := half(".rh.hi", dh/2, dh)
	lo := half(".rh.lo", 0, dh/2)
	neg := s.add(&QOp{Op: "scale", Name: n.Name + ".rh.neg", In: []string{hi}, Out: n.Name + ".rh.neg", Shape: withLast(sh, dh/2), Multipliers: []int64{-1}})
	qrot := s.add(&QOp{Op: "concat", Name: n.Name + ".rh", In: []string{neg, lo}, Out: n.Name + ".rh", Shape: sh,
		Extra: map[string]any{"axis": ax}})
	// cos and sin as [T, dh] tables: constants that broadcast to q along its last two axes only.
	T := s.T
	table := func(name, what string) (string, error) {
		c := s.m.Weights[name]
		cs := c.Shape
		for len(cs) > 0 && cs[0] == 1 && len(cs) > 2 {
			cs = cs[1:]
		}
		if len(cs) > 2 || c.F == nil {
			return "", fail("%s of shape %v (want a constant [T, d] table)", what, c.Shape)
		}
		ib := broadcastIndex([]int{T, dh}, cs)
		t := &IntTensor{Shape: []int{T, dh}, V: make([]int64, T*dh)}
		for i := range t.V {
			v := c.F[ib(i)]
			if math.Abs(v) > 1.5 {
				return "", fail("%s value %g beyond ±1.5 (want a cos or sin table)", what, v)
			}
			t.V[i] = int64(math.RoundToEven(math.Ldexp(v, ropeTableBits)))
		}
		wn := n.Name + "." + what + "_table"
		s.q.Weights[wn], s.q.WeightBits[wn] = t, 16
		return wn, nil
	}
	cw, err := table(n.In[1], "cos")
	if err != nil {
		return err
	}
	sw, err := table(n.In[2], "sin")
	if err != nil {
		return err
	}
	a := s.add(&QOp{Op: "mul", Name: n.Name + ".cos", In: []string{qr.name, cw}, Out: n.Name + ".cos", Shape: sh})
	b := s.add(&QOp{Op: "mul", Name: n.Name + ".sin", In: []string{qrot, sw}, Out: n.Name + ".sin", Shape: sh})
	sum := s.add(&QOp{Op: "add", Name: n.Name + ".sum", In: []string{a, b}, Out: n.Name + ".sum", Shape: sh})
	sOut := s.maxAbs(n.Out) / float64(int64(1)<<(seqAttnBits-1)-1)
	out, err := s.requant(ref, sum, sh, qr.scale*math.Ldexp(1, -ropeTableBits), sOut, seqAttnBits, n.Out+".q")
	if err != nil {
		return err
	}
	s.rep[n.Out] = irep{name: out, scale: sOut}
	return nil
}
