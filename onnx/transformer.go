package onnx

import (
	"fmt"
	"math"
	"slices"

	"github.com/streamprove/streamprove/onnx/internal/onnxpb"
)

// The transformer ops of torch.onnx.export at opsets 13–17 (issue 15): an embedding Gather by
// int64 token ids, MatMul of two activations, Transpose, Split and Slice of activations, the
// causal mask (Where with a constant lower-triangular condition, folded into the Softmax after
// it), Softmax, LayerNormalization, the Erf form of GELU x·(1 + erf(x/√2))·0.5 and Mul/Div by
// constant scalars. They import to the float nodes below, which the float reference runs and
// quantizeSeq maps to graph ops.
const (
	opEmbed      = "Embed"      // In [table, ids]: table[ids]
	opMatMulAct  = "MatMulAct"  // In [a, b]: a·b batched over equal leading dims
	opTranspose  = "Transpose"  // Seq.Perm
	opSlice      = "Slice"      // Seq.Axis, Seq.Start, Seq.End (step 1)
	opSoftmax    = "Softmax"    // last axis, Seq.Causal
	opLayerNorm  = "LayerNorm"  // In [x, gamma, beta], last axis, Seq.Eps
	opGelu       = "Gelu"       // erf form
	opScale      = "Scale"      // x·Seq.Factor
	opMaskCausal = "MaskCausal" // −inf above the diagonal of the last two axes
	opErf        = "Erf"
	opSigmoid    = "Sigmoid"
	opTanh       = "Tanh"
	opSilu       = "Silu"     // x·Sigmoid(x), recognised at the Mul
	opGeluTanh   = "GeluTanh" // GELU's tanh form, recognised at its final Mul by ½
	opMulAct     = "MulAct"   // elementwise product of two activations of one shape
	opRMSNorm    = "RMSNorm"  // In [x, gamma], last axis, Seq.Eps: x/√(mean(x²) + ε)·γ
	// Rope is q·cos + rotate_half(q)·sin with rotate_half(q) = cat(−q[..., d/2:], q[..., :d/2])
	// along the last axis: In [q, cos, sin], cos and sin constants broadcast to q.
	opRope = "Rope"
	// The pieces of an RMSNorm and of a RoPE, until rmsParts and ropeParts recognise them.
	opInvRms    = "InvRms"    // 1/√(mean(x²) + Seq.Eps) over the last axis, kept as a size-1 axis
	opNeg       = "Neg"       // −x
	opConcatAct = "ConcatAct" // concatenation of activations along Seq.Axis
	opMulConst  = "MulConst"  // In [x, c]: x times a constant c that broadcasts to x
	// The opset-13 LayerNorm decomposition's pieces, until layerNormParts recognises them.
	opMeanLast = "MeanLast" // mean over the last axis, kept as a size-1 axis
	opSubAct   = "SubAct"   // x − m, m broadcast along the last axis
	opSquare   = "Square"
	opSqrt     = "Sqrt"
)

// seqAttr holds the transformer ops' attributes.
type seqAttr struct {
	Perm             []int
	Axis, Start, End int
	Causal           bool
	Eps, Factor      float64
}

// transformerOps are the ONNX ops this file adds to SupportedOps.
var transformerOps = []string{"Div", "Equal", "Erf", "LayerNormalization", "Mul", "Neg", "Pow", "Reciprocal", "ReduceMean", "Sigmoid", "Slice", "Softmax", "Split", "Sqrt", "Sub", "Tanh", "Transpose", "Where"}

// transformer imports the ops above; it returns false to leave a node to the other handlers.
func (c *nodeCtx) transformer() (bool, error) {
	switch c.ref.op {
	case "Gather":
		if _, ok := c.runtime(1); !ok {
			return false, nil
		}
		return true, c.embed()
	case "MatMul":
		if _, ok := c.runtime(1); !ok {
			return false, nil
		}
		return true, c.matmulAct()
	case "Transpose":
		return true, c.transpose()
	case "Split":
		return true, c.split()
	case "Slice":
		return true, c.slice()
	case "Equal":
		return true, c.equal()
	case "Where":
		return true, c.where()
	case "Softmax":
		return true, c.softmax()
	case "LayerNormalization":
		return true, c.layerNorm()
	case "Erf":
		if err := c.arity(1, 1); err != nil {
			return true, err
		}
		s, err := c.needFloatRuntime(0, "X")
		if err != nil {
			return true, err
		}
		return true, c.emit(opErf, slices.Clone(c.in), s, Attr{})
	case "Sigmoid", "Tanh":
		if err := c.arity(1, 1); err != nil {
			return true, err
		}
		s, err := c.needFloatRuntime(0, "X")
		if err != nil {
			return true, err
		}
		return true, c.emit(c.ref.op, slices.Clone(c.in), s, Attr{})
	case "Div", "Mul":
		return true, c.mulDiv()
	case "ReduceMean", "Sub", "Pow", "Sqrt":
		return true, c.lnPart()
	case "Add":
		if done, err := c.ropeAdd(); done || err != nil {
			return true, err
		}
		return c.lnShift()
	case "Neg":
		if err := c.arity(1, 1); err != nil {
			return true, err
		}
		s, err := c.needFloatRuntime(0, "X")
		if err != nil {
			return true, err
		}
		return true, c.emit(opNeg, slices.Clone(c.in), s, Attr{})
	case "Reciprocal":
		if err := c.arity(1, 1); err != nil {
			return true, err
		}
		if _, err := c.needFloatRuntime(0, "X"); err != nil {
			return true, err
		}
		return true, c.invRms(0)
	case "Concat":
		for i := range c.in {
			if _, ok := c.runtime(i); ok {
				return true, c.concatAct()
			}
		}
	}
	return false, nil
}

// rmsParts returns x and ε when s is √(mean(x²) + ε) over the last axis (the exporter's
// x.pow(2).mean(-1, keepdim=True) + eps under a Sqrt; a LayerNorm's denominator with x the
// centered input).
func (c *nodeCtx) rmsParts(s string) (string, float64, bool) {
	sq := c.producer(s)
	if sq == nil || sq.Op != opSqrt {
		return "", 0, false
	}
	add := c.producer(sq.In[0])
	if add == nil || add.Op != "Add" || len(add.In) != 2 {
		return "", 0, false
	}
	eps, ok := c.im.consts[add.In[1]]
	v := c.producer(add.In[0])
	if !ok || eps.F == nil || eps.Len() != 1 || !(eps.F[0] >= 0) || v == nil || v.Op != opMeanLast {
		return "", 0, false
	}
	p := c.producer(v.In[0])
	if p == nil || p.Op != opSquare {
		return "", 0, false
	}
	return p.In[0], eps.F[0], true
}

// invRms imports 1/s (Reciprocal, or Div by a constant 1) where s is an RMSNorm's root mean
// square (rmsParts): the InvRms piece that the Mul by x makes an RMSNorm.
func (c *nodeCtx) invRms(i int) error {
	x, eps, ok := c.rmsParts(c.in[i])
	if !ok {
		return refuse(c.ref, "only the reciprocal of an RMSNorm's √(mean(x²) + ε) over the last axis is supported")
	}
	s, _ := c.runtime(i)
	return c.emit(opInvRms, []string{x}, s, Attr{Seq: seqAttr{Eps: eps}})
}

// concatAct imports a Concat of activations (as rotate_half writes it); the RoPE Add recognises
// it, alone it is not quantized.
func (c *nodeCtx) concatAct() error {
	if len(c.in) < 1 {
		return malformed(c.ref, "no inputs")
	}
	s0, err := c.needFloatRuntime(0, "inputs")
	if err != nil {
		return err
	}
	ax, ok := index(c.a.int("axis", 0), len(s0))
	if !ok || !c.a.has("axis") {
		return malformed(c.ref, "axis %d of a rank-%d input", c.a.int("axis", 0), len(s0))
	}
	out := slices.Clone(s0)
	for i := 1; i < len(c.in); i++ {
		si, err := c.needFloatRuntime(i, "inputs")
		if err != nil {
			return err
		}
		if len(si) != len(s0) || si[ax].Sym != "" || s0[ax].Sym != "" {
			return refuse(c.ref, "inputs of shapes %v and %v: only a Concat along a known axis of one rank is supported", s0, si)
		}
		for k := range si {
			if k != ax && si[k] != s0[k] {
				return refuse(c.ref, "inputs of shapes %v and %v differ beyond axis %d", s0, si, ax)
			}
		}
		out[ax].N += si[ax].N
	}
	return c.emit(opConcatAct, slices.Clone(c.in), out, Attr{Seq: seqAttr{Axis: ax}})
}

// ropeParts returns q, cos and sin when a + b is q·cos + rotate_half(q)·sin, rotate_half(q) =
// Concat(Neg(q[..., d/2:]), q[..., :d/2]) along the last axis, cos and sin constants.
func (c *nodeCtx) ropeParts(a, b string) (q, cos, sin string, ok bool) {
	ma, mb := c.producer(a), c.producer(b)
	if ma == nil || mb == nil || ma.Op != opMulConst || mb.Op != opMulConst {
		return "", "", "", false
	}
	q, cos = ma.In[0], ma.In[1]
	cat := c.producer(mb.In[0])
	if cat == nil || cat.Op != opConcatAct || len(cat.In) != 2 {
		return "", "", "", false
	}
	r := len(cat.Shape)
	d := cat.Shape[r-1].N
	if cat.Attr.Seq.Axis != r-1 || d%2 != 0 || cat.Shape[r-1].Sym != "" {
		return "", "", "", false
	}
	half := func(name string, lo int) bool {
		sl := c.producer(name)
		return sl != nil && sl.Op == opSlice && sl.In[0] == q && sl.Attr.Seq.Axis == r-1 && sl.Attr.Seq.Start == lo && sl.Attr.Seq.End == lo+d/2
	}
	neg := c.producer(cat.In[0])
	if neg == nil || neg.Op != opNeg || !half(neg.In[0], d/2) || !half(cat.In[1], 0) {
		return "", "", "", false
	}
	if qs := c.im.shapes[q]; !slices.Equal(qs, cat.Shape) {
		return "", "", "", false
	}
	return q, cos, mb.In[1], true
}

// ropeAdd recognises the RoPE sum (ropeParts, either order) and emits a Rope node; the pieces
// become dead nodes.
func (c *nodeCtx) ropeAdd() (bool, error) {
	if len(c.in) != 2 {
		return false, nil
	}
	for k := 0; k < 2; k++ {
		if q, cos, sin, ok := c.ropeParts(c.in[k], c.in[1-k]); ok {
			return true, c.emit(opRope, []string{q, cos, sin}, c.im.shapes[q], Attr{})
		}
	}
	return false, nil
}

// lnPart imports a piece of the opset-13 LayerNorm decomposition
// ReduceMean → Sub → Pow(2) → ReduceMean → Add(ε) → Sqrt → Div → Mul(γ) → Add(β); the Div
// recognises the whole (layerNormParts) and the pieces become dead nodes.
func (c *nodeCtx) lnPart() error {
	if err := c.arity(1, 2); err != nil {
		return err
	}
	s, err := c.needFloatRuntime(0, "X")
	if err != nil {
		return err
	}
	switch c.ref.op {
	case "ReduceMean":
		ax := c.a.ints("axes")
		if len(ax) != 1 || (ax[0] != -1 && ax[0] != int64(len(s)-1)) || c.a.int("keepdims", 1) != 1 || len(c.in) != 1 {
			return refuse(c.ref, "axes %v: only a mean over the last axis with keepdims (a LayerNorm or RMSNorm) is supported", ax)
		}
		out := slices.Clone(s)
		out[len(out)-1] = Dim{N: 1}
		return c.emit(opMeanLast, c.in[:1], out, Attr{})
	case "Sub":
		sb, err := c.needFloatRuntime(1, "B")
		if err != nil {
			return err
		}
		if len(sb) != len(s) || !slices.Equal(sb[:len(sb)-1], s[:len(s)-1]) || sb[len(sb)-1] != (Dim{N: 1}) {
			return refuse(c.ref, "A %v minus B %v: only x minus its mean over the last axis (a LayerNorm) is supported", s, sb)
		}
		return c.emit(opSubAct, slices.Clone(c.in), s, Attr{})
	case "Pow":
		if e, ok := c.scalar(1); !ok || e != 2 {
			return refuse(c.ref, "only the square (exponent a constant 2, as in a LayerNorm or RMSNorm) is supported")
		}
		return c.emit(opSquare, c.in[:1], s, Attr{})
	}
	if len(c.in) != 1 {
		return malformed(c.ref, "%d inputs", len(c.in))
	}
	return c.emit(opSqrt, c.in, s, Attr{})
}

// layerNormParts returns x and ε when d / s is (x − mean(x)) / √(mean((x − mean(x))²) + ε).
func (c *nodeCtx) layerNormParts(d, s string) (string, float64, bool) {
	sub := c.producer(d)
	if sub == nil || sub.Op != opSubAct {
		return "", 0, false
	}
	x := sub.In[0]
	if m := c.producer(sub.In[1]); m == nil || m.Op != opMeanLast || m.In[0] != x {
		return "", 0, false
	}
	if z, eps, ok := c.rmsParts(s); ok && z == d {
		return x, eps, true
	}
	return "", 0, false
}

// lnConst adds a constant [D] of value v for a recognised LayerNorm's γ or β.
func (c *nodeCtx) lnConst(what string, D int, v float64) string {
	name := c.im.fresh(c.ref.name + "." + what)
	t := &Tensor{DType: Float32, Shape: []int{D}, F: make([]float64, D)}
	for i := range t.F {
		t.F[i] = v
	}
	c.im.consts[name] = t
	return name
}

// lnFold folds a constant vector [D] into the LayerNorm that computes x (γ for Mul when the
// LayerNorm's β is still zero, β for Add), emitting a new LayerNorm, or into an RMSNorm's γ
// (Mul only); false when x is not one.
func (c *nodeCtx) lnFold(x string, k int, mul bool) (bool, error) {
	ln := c.producer(x)
	t, ok := c.konst(k)
	if ln == nil || !ok || t.F == nil {
		return false, nil
	}
	if ln.Op == opRMSNorm && mul && len(ln.In) == 2 {
		D := ln.Shape[len(ln.Shape)-1].N
		if t.Len() != D || len(t.Shape) != 1 {
			return false, nil
		}
		g := c.lnConst("gamma", D, 0)
		for j := range t.F {
			c.im.consts[g].F[j] = t.F[j] * c.im.consts[ln.In[1]].F[j]
		}
		return true, c.emit(opRMSNorm, []string{ln.In[0], g}, ln.Shape, ln.Attr)
	}
	if ln.Op != opLayerNorm || len(ln.In) != 3 {
		return false, nil
	}
	D := ln.Shape[len(ln.Shape)-1].N
	if t.Len() != D || len(t.Shape) != 1 {
		return false, nil
	}
	in := slices.Clone(ln.In)
	if mul {
		for _, b := range c.im.consts[in[2]].F {
			if b != 0 {
				return false, nil
			}
		}
		g := c.lnConst("gamma", D, 0)
		for j := range t.F {
			c.im.consts[g].F[j] = t.F[j] * c.im.consts[in[1]].F[j]
		}
		in[1] = g
	} else {
		b := c.lnConst("beta", D, 0)
		for j := range t.F {
			c.im.consts[b].F[j] = t.F[j] + c.im.consts[in[2]].F[j]
		}
		in[2] = b
	}
	return true, c.emit(opLayerNorm, in, ln.Shape, ln.Attr)
}

// lnShift folds Add(LayerNorm, β) into the LayerNorm; other Adds are the generic handler's.
func (c *nodeCtx) lnShift() (bool, error) {
	if len(c.in) != 2 {
		return false, nil
	}
	for k := 0; k < 2; k++ {
		if _, ok := c.runtime(1 - k); ok {
			if done, err := c.lnFold(c.in[1-k], k, false); done || err != nil {
				return true, err
			}
		}
	}
	return false, nil
}

func (c *nodeCtx) embed() error {
	if err := c.arity(2, 2); err != nil {
		return err
	}
	if ax := c.a.int("axis", 0); ax != 0 {
		return refuse(c.ref, "axis %d: an embedding Gather selects rows (axis 0)", ax)
	}
	tab, err := c.needConst(0, "data (the embedding table)")
	if err != nil {
		return err
	}
	if len(tab.Shape) != 2 || tab.F == nil {
		return refuse(c.ref, "table of shape %v and type %v: only a 2-D float embedding table is supported", tab.Shape, tab.DType)
	}
	ids, _ := c.runtime(1)
	if dt := c.im.dtypes[c.in[1]]; dt != Int64 && dt != Int32 {
		return refuse(c.ref, "indices of type %v, want INT64 token ids", dt)
	}
	out := append(slices.Clone(ids), Dim{N: tab.Shape[1]})
	return c.emit(opEmbed, slices.Clone(c.in), out, Attr{})
}

func (c *nodeCtx) matmulAct() error {
	if err := c.arity(2, 2); err != nil {
		return err
	}
	sa, err := c.needFloatRuntime(0, "A")
	if err != nil {
		return err
	}
	sb, err := c.needFloatRuntime(1, "B")
	if err != nil {
		return err
	}
	n := len(sa)
	if n < 2 || len(sb) != n || !slices.Equal(sa[:n-2], sb[:n-2]) || sa[n-1] != sb[n-2] {
		return refuse(c.ref, "A %v times B %v: only operands of one rank ≥ 2 with equal leading dimensions are supported", sa, sb)
	}
	out := append(slices.Clone(sa[:n-1]), sb[n-1])
	return c.emit(opMatMulAct, slices.Clone(c.in), out, Attr{})
}

func (c *nodeCtx) transpose() error {
	if err := c.arity(1, 1); err != nil {
		return err
	}
	s, err := c.needFloatRuntime(0, "data")
	if err != nil {
		return err
	}
	perm := make([]int, len(s))
	if p := c.a.ints("perm"); p != nil {
		if len(p) != len(s) {
			return malformed(c.ref, "perm %v for a rank-%d input", p, len(s))
		}
		seen := make([]bool, len(s))
		for i, v := range p {
			if v < 0 || int(v) >= len(s) || seen[v] {
				return malformed(c.ref, "perm %v is not a permutation", p)
			}
			seen[v] = true
			perm[i] = int(v)
		}
	} else {
		for i := range perm {
			perm[i] = len(s) - 1 - i
		}
	}
	out := make(Shape, len(s))
	for i, p := range perm {
		out[i] = s[p]
	}
	return c.emit(opTranspose, slices.Clone(c.in), out, Attr{Seq: seqAttr{Perm: perm}})
}

// split emits one Slice node per output.
func (c *nodeCtx) split() error {
	if err := c.arity(1, 2); err != nil {
		return err
	}
	s, err := c.needFloatRuntime(0, "input")
	if err != nil {
		return err
	}
	ax, ok := index(c.a.int("axis", 0), len(s))
	if !ok || s[ax].Sym != "" {
		return refuse(c.ref, "axis %d of %v: only a known axis splits", c.a.int("axis", 0), s)
	}
	var sizes []int64
	if len(c.in) == 2 {
		t, err := c.needConst(1, "split")
		if err != nil {
			return err
		}
		sizes = t.I
	} else if c.a.has("split") {
		sizes = c.a.ints("split")
	} else {
		for range c.outs {
			sizes = append(sizes, int64(s[ax].N/len(c.outs)))
		}
	}
	if len(sizes) != len(c.outs) {
		return malformed(c.ref, "%d split sizes for %d outputs", len(sizes), len(c.outs))
	}
	start := 0
	for k, o := range c.outs {
		if sizes[k] <= 0 || int64(start)+sizes[k] > int64(s[ax].N) {
			return malformed(c.ref, "split sizes %v of axis %d (%d)", sizes, ax, s[ax].N)
		}
		end := start + int(sizes[k])
		delete(c.im.dropped, o)
		if o != "" {
			out := slices.Clone(s)
			out[ax] = Dim{N: end - start}
			oc := *c
			oc.out = o
			if err := oc.emit(opSlice, c.in[:1], out, Attr{Seq: seqAttr{Axis: ax, Start: start, End: end}}); err != nil {
				return err
			}
		}
		start = end
	}
	if start != s[ax].N {
		return malformed(c.ref, "split sizes %v do not add up to %d", sizes, s[ax].N)
	}
	return nil
}

// sliceArgs reads Slice's starts, ends, axes and steps (opset ≥ 10: inputs).
func (c *nodeCtx) sliceArgs(rank int, dims func(int) (int, bool)) (axes []int, lo, hi []int, err error) {
	get := func(i int, what string) ([]int64, error) {
		if i >= len(c.in) || c.in[i] == "" {
			return nil, nil
		}
		t, err := c.needConst(i, what)
		if err != nil {
			return nil, err
		}
		if t.I == nil || len(t.Shape) != 1 {
			return nil, malformed(c.ref, "%s must be a 1-D integer tensor", what)
		}
		return t.I, nil
	}
	starts, err := get(1, "starts")
	if err != nil {
		return nil, nil, nil, err
	}
	ends, err := get(2, "ends")
	if err != nil {
		return nil, nil, nil, err
	}
	ax, err := get(3, "axes")
	if err != nil {
		return nil, nil, nil, err
	}
	steps, err := get(4, "steps")
	if err != nil {
		return nil, nil, nil, err
	}
	if len(starts) != len(ends) || (ax != nil && len(ax) != len(starts)) || (steps != nil && len(steps) != len(starts)) {
		return nil, nil, nil, malformed(c.ref, "starts %v, ends %v, axes %v, steps %v differ in length", starts, ends, ax, steps)
	}
	for k := range starts {
		a := k
		if ax != nil {
			j, ok := index(ax[k], rank)
			if !ok {
				return nil, nil, nil, malformed(c.ref, "axis %d of a rank-%d input", ax[k], rank)
			}
			a = j
		}
		if steps != nil && steps[k] != 1 {
			return nil, nil, nil, refuse(c.ref, "step %d: only step 1 is supported", steps[k])
		}
		n, ok := dims(a)
		if !ok {
			return nil, nil, nil, refuse(c.ref, "slicing the dynamic axis %d", a)
		}
		clamp := func(v int64) int {
			if v < 0 {
				v += int64(n)
			}
			return int(max(0, min(v, int64(n))))
		}
		s, e := clamp(starts[k]), clamp(ends[k])
		if e < s {
			e = s
		}
		axes, lo, hi = append(axes, a), append(lo, s), append(hi, e)
	}
	return axes, lo, hi, nil
}

func (c *nodeCtx) slice() error {
	if err := c.arity(3, 5); err != nil {
		return err
	}
	if t, ok := c.konst(0); ok {
		axes, lo, hi, err := c.sliceArgs(len(t.Shape), func(a int) (int, bool) { return t.Shape[a], true })
		if err != nil {
			return err
		}
		out := t
		for k, a := range axes {
			out = sliceConst(out, a, lo[k], hi[k])
		}
		return c.setConst(out)
	}
	s, err := c.needFloatRuntime(0, "data")
	if err != nil {
		return err
	}
	axes, lo, hi, err := c.sliceArgs(len(s), func(a int) (int, bool) { return s[a].N, s[a].Sym == "" })
	if err != nil {
		return err
	}
	if len(axes) != 1 {
		return refuse(c.ref, "a Slice of an activation on %d axes (one is supported)", len(axes))
	}
	out := slices.Clone(s)
	out[axes[0]] = Dim{N: hi[0] - lo[0]}
	return c.emit(opSlice, c.in[:1], out, Attr{Seq: seqAttr{Axis: axes[0], Start: lo[0], End: hi[0]}})
}

// sliceConst keeps [lo, hi) of axis a.
func sliceConst(t *Tensor, a, lo, hi int) *Tensor {
	shape := slices.Clone(t.Shape)
	shape[a] = hi - lo
	out := &Tensor{DType: t.DType, Shape: shape}
	outer, inner := numel(t.Shape[:a]), numel(t.Shape[a+1:])
	n := t.Shape[a]
	for o := 0; o < outer; o++ {
		from, to := (o*n+lo)*inner, (o*n+hi)*inner
		if t.F != nil {
			out.F = append(out.F, t.F[from:to]...)
		} else {
			out.I = append(out.I, t.I[from:to]...)
		}
	}
	return out
}

func (c *nodeCtx) equal() error {
	if err := c.arity(2, 2); err != nil {
		return err
	}
	a, ok1 := c.konst(0)
	b, ok2 := c.konst(1)
	if !ok1 || !ok2 {
		return refuse(c.ref, "Equal of runtime tensors is not supported (only of constants, as in a mask)")
	}
	shape, err := broadcastShape(a.Shape, b.Shape)
	if err != nil || numel(shape) > maxFoldElements {
		return malformed(c.ref, "shapes %v and %v", a.Shape, b.Shape)
	}
	ia, ib := broadcastIndex(shape, a.Shape), broadcastIndex(shape, b.Shape)
	val := func(t *Tensor, i int) float64 {
		if t.F != nil {
			return t.F[i]
		}
		return float64(t.I[i])
	}
	out := &Tensor{DType: Bool, Shape: shape, I: make([]int64, numel(shape))}
	for i := range out.I {
		if val(a, ia(i)) == val(b, ib(i)) {
			out.I[i] = 1
		}
	}
	return c.setConst(out)
}

// where recognises the exporter's causal mask: Where(cond, −inf, x) with cond true exactly
// above the diagonal of x's last two axes.
func (c *nodeCtx) where() error {
	if err := c.arity(3, 3); err != nil {
		return err
	}
	cond, ok := c.konst(0)
	fill, ok2 := c.konst(1)
	s, ok3 := c.runtime(2)
	if !ok || !ok2 || !ok3 || cond.I == nil || fill.F == nil || fill.Len() != 1 {
		return refuse(c.ref, "only the causal mask Where(constant condition, −inf, scores) is supported")
	}
	if !(fill.F[0] < -1e30) {
		return refuse(c.ref, "fill value %g: only −inf (a mask) is supported", fill.F[0])
	}
	n := len(s)
	if n < 2 || len(cond.Shape) < 2 || s[n-1].Sym != "" || s[n-1] != s[n-2] {
		return refuse(c.ref, "scores %v and condition %v: the causal mask needs square [..., T, T] scores", s, cond.Shape)
	}
	T := s[n-1].N
	cs := cond.Shape
	if cs[len(cs)-1] != T || cs[len(cs)-2] != T || cond.Len() != T*T {
		return refuse(c.ref, "condition of shape %v: only one [T, T] mask broadcast over the heads is supported", cs)
	}
	for i := 0; i < T; i++ {
		for j := 0; j < T; j++ {
			if (cond.I[i*T+j] != 0) != (j > i) {
				return refuse(c.ref, "the condition is not the causal mask (true exactly where j > i)")
			}
		}
	}
	return c.emit(opMaskCausal, c.in[2:], s, Attr{})
}

// producer is the node that computes name, or nil.
func (c *nodeCtx) producer(name string) *Node {
	for i := len(c.im.nodes) - 1; i >= 0; i-- {
		if c.im.nodes[i].Out == name {
			return c.im.nodes[i]
		}
	}
	return nil
}

func (c *nodeCtx) softmax() error {
	if err := c.arity(1, 1); err != nil {
		return err
	}
	s, err := c.needFloatRuntime(0, "input")
	if err != nil {
		return err
	}
	if ax, ok := index(c.a.int("axis", -1), len(s)); !ok || ax != len(s)-1 {
		return refuse(c.ref, "axis %d: only the last axis is supported", c.a.int("axis", -1))
	}
	in, attr := c.in[0], seqAttr{}
	if p := c.producer(in); p != nil && p.Op == opMaskCausal {
		in, attr.Causal = p.In[0], true
	}
	return c.emit(opSoftmax, []string{in}, s, Attr{Seq: attr})
}

func (c *nodeCtx) layerNorm() error {
	if err := c.arity(2, 3); err != nil {
		return err
	}
	s, err := c.needFloatRuntime(0, "X")
	if err != nil {
		return err
	}
	if ax, ok := index(c.a.int("axis", -1), len(s)); !ok || ax != len(s)-1 {
		return refuse(c.ref, "axis %d: only the last axis is normalised", c.a.int("axis", -1))
	}
	if c.a.int("stash_type", 1) != 1 {
		return refuse(c.ref, "stash_type %d", c.a.int("stash_type", 1))
	}
	D := s[len(s)-1].N
	ins := slices.Clone(c.in)
	for i, what := range []string{"", "Scale", "B"} {
		if i == 0 || i >= len(c.in) {
			continue
		}
		t, err := c.needConst(i, what)
		if err != nil {
			return err
		}
		if !slices.Equal(t.Shape, []int{D}) || t.F == nil {
			return refuse(c.ref, "%s of shape %v: only a per-channel [%d] float vector is supported", what, t.Shape, D)
		}
	}
	eps := c.a.float("epsilon", 1e-5)
	if !(eps >= 0) || math.IsInf(eps, 0) {
		return malformed(c.ref, "epsilon %g", eps)
	}
	return c.emit(opLayerNorm, ins, s, Attr{Seq: seqAttr{Eps: eps}})
}

// scalar returns input i as a constant float scalar.
func (c *nodeCtx) scalar(i int) (float64, bool) {
	t, ok := c.konst(i)
	if !ok || t.Len() != 1 {
		return 0, false
	}
	if t.F != nil {
		return t.F[0], true
	}
	return float64(t.I[0]), true
}

// mulDiv folds constant arithmetic (C // heads in the exporter's shape code), turns a runtime
// tensor times or over a constant scalar into a Scale, and recognises GELU's erf form.
func (c *nodeCtx) mulDiv() error {
	if err := c.arity(2, 2); err != nil {
		return err
	}
	div := c.ref.op == "Div"
	ta, ca := c.konst(0)
	tb, cb := c.konst(1)
	if ca && cb {
		if ta.Len() != 1 || tb.Len() != 1 {
			return refuse(c.ref, "only scalar constant arithmetic folds")
		}
		out := &Tensor{DType: ta.DType, Shape: ta.Shape}
		switch {
		case ta.I != nil && tb.I != nil:
			if div && tb.I[0] == 0 {
				return malformed(c.ref, "division by zero")
			}
			v := ta.I[0] * tb.I[0]
			if div {
				v = ta.I[0] / tb.I[0]
			}
			out.I = []int64{v}
		case ta.F != nil && tb.F != nil:
			v := ta.F[0] * tb.F[0]
			if div {
				v = ta.F[0] / tb.F[0]
			}
			out.F = []float64{v}
		default:
			return refuse(c.ref, "mixed integer and float constants")
		}
		return c.setConst(out)
	}
	if _, ok := c.im.syms[c.in[0]]; ok {
		return refuse(c.ref, "arithmetic on a dynamic dimension")
	}
	x, k := 0, 1
	if ca && !div {
		x, k = 1, 0
	}
	if !div && (ca || cb) {
		if done, err := c.lnFold(c.in[x], k, true); done || err != nil {
			return err
		}
	}
	f, ok := c.scalar(k)
	if !ok && !div && (ca || cb) {
		return c.mulConst(x, k)
	}
	if !ok {
		if div {
			if one, ok := c.scalar(0); ok && one == 1 {
				if _, _, ok := c.rmsParts(c.in[1]); ok {
					return c.invRms(1)
				}
			}
			if xx, eps, ok := c.layerNormParts(c.in[0], c.in[1]); ok {
				s, _ := c.runtime(0)
				D := s[len(s)-1].N
				return c.emit(opLayerNorm, []string{xx, c.lnConst("gamma", D, 1), c.lnConst("beta", D, 0)}, s, Attr{Seq: seqAttr{Eps: eps}})
			}
			return refuse(c.ref, "only division by a constant scalar (or a LayerNorm's by its standard deviation) is supported")
		}
		sa, err := c.needFloatRuntime(0, "A")
		if err != nil {
			return err
		}
		sb, err := c.needFloatRuntime(1, "B")
		if err != nil {
			return err
		}
		for k := 0; k < 2; k++ {
			// x·(1/√(mean(x²) + ε)) is an RMSNorm (γ = 1 until a Mul folds it in)
			if r := c.producer(c.in[1-k]); r != nil && r.Op == opInvRms && r.In[0] == c.in[k] {
				s, _ := c.runtime(k)
				D := s[len(s)-1].N
				return c.emit(opRMSNorm, []string{c.in[k], c.lnConst("gamma", D, 1)}, s, Attr{Seq: r.Attr.Seq})
			}
		}
		if !slices.Equal(sa, sb) {
			return refuse(c.ref, "runtime operands of shapes %v and %v: only equal shapes multiply", sa, sb)
		}
		for k := 0; k < 2; k++ {
			// x·Sigmoid(x) is SiLU (PyTorch exports F.silu so at opsets below 22)
			if sg := c.producer(c.in[1-k]); sg != nil && sg.Op == opSigmoid && sg.In[0] == c.in[k] {
				return c.emit(opSilu, []string{c.in[k]}, sa, Attr{})
			}
		}
		return c.emit(opMulAct, slices.Clone(c.in), sa, Attr{})
	}
	s, err := c.needFloatRuntime(x, "X")
	if err != nil {
		return err
	}
	if div {
		if f == 0 {
			return malformed(c.ref, "division by zero")
		}
		f = 1 / f
	}
	if !(f > 0) || math.IsInf(f, 0) {
		return refuse(c.ref, "factor %g: only positive finite constant factors are supported", f)
	}
	if g := c.geluInput(c.in[x]); g != "" && math.Abs(f-0.5) < 1e-6 {
		return c.emit(opGelu, []string{g}, s, Attr{})
	}
	if g := c.geluTanhInput(c.in[x]); g != "" && math.Abs(f-0.5) < 1e-6 {
		return c.emit(opGeluTanh, []string{g}, s, Attr{})
	}
	return c.emit(opScale, []string{c.in[x]}, s, Attr{Seq: seqAttr{Factor: f}})
}

// mulConst imports input x times the non-scalar constant k (a RoPE's cos or sin table, until
// ropeParts recognises it): the constant must broadcast to x's shape.
func (c *nodeCtx) mulConst(x, k int) error {
	s, err := c.needFloatRuntime(x, "X")
	if err != nil {
		return err
	}
	t, _ := c.konst(k)
	if t.F == nil {
		return refuse(c.ref, "multiplying a float tensor by an integer constant")
	}
	if len(t.Shape) > len(s) {
		return refuse(c.ref, "constant of shape %v broadcasts beyond %v", t.Shape, s)
	}
	off := len(s) - len(t.Shape)
	for i, d := range t.Shape {
		if d != 1 && (s[off+i].Sym != "" || s[off+i].N != d) {
			return refuse(c.ref, "constant of shape %v does not broadcast to %v", t.Shape, s)
		}
	}
	return c.emit(opMulConst, []string{c.in[x], c.in[k]}, s, Attr{})
}

// geluTanhInput returns x when name is MulAct(x, Add(Tanh(Scale(Add(x, Scale(x·(x·x),
// 0.044715)), √(2/π))), 1)) (either order at each product and sum): what torch exports for
// GELU(approximate="tanh") below opset 20, all but its final Mul by ½.
func (c *nodeCtx) geluTanhInput(name string) string {
	m := c.producer(name)
	if m == nil || m.Op != opMulAct {
		return ""
	}
	near := func(a, b float64) bool { return math.Abs(a-b) < 1e-6 }
	// other returns the input of the two-input node n that is not x.
	other := func(n *Node, x string) (string, bool) {
		switch {
		case len(n.In) != 2:
			return "", false
		case n.In[0] == x:
			return n.In[1], true
		case n.In[1] == x:
			return n.In[0], true
		}
		return "", false
	}
	for k := 0; k < 2; k++ {
		x := m.In[k]
		add := c.producer(m.In[1-k])
		if add == nil || add.Op != "Add" || len(add.In) != 2 {
			continue
		}
		for j := 0; j < 2; j++ {
			one, ok := c.im.consts[add.In[1-j]]
			th := c.producer(add.In[j])
			if !ok || one.F == nil || one.Len() != 1 || one.F[0] != 1 || th == nil || th.Op != opTanh {
				continue
			}
			sc := c.producer(th.In[0])
			if sc == nil || sc.Op != opScale || !near(sc.Attr.Seq.Factor, math.Sqrt(2/math.Pi)) {
				continue
			}
			inner := c.producer(sc.In[0])
			if inner == nil || inner.Op != "Add" {
				continue
			}
			cn, ok := other(inner, x)
			c3 := c.producer(cn)
			if !ok || c3 == nil || c3.Op != opScale || !near(c3.Attr.Seq.Factor, 0.044715) {
				continue
			}
			cube := c.producer(c3.In[0])
			if cube == nil || cube.Op != opMulAct {
				continue
			}
			sqn, ok := other(cube, x)
			sq := c.producer(sqn)
			if ok && sq != nil && sq.Op == opMulAct && sq.In[0] == x && sq.In[1] == x {
				return x
			}
		}
	}
	return ""
}

// geluInput returns x when name is MulAct(x, Add(Erf(Scale(x, 1/√2)), 1)) (either order).
func (c *nodeCtx) geluInput(name string) string {
	m := c.producer(name)
	if m == nil || m.Op != opMulAct {
		return ""
	}
	for k := 0; k < 2; k++ {
		x, other := m.In[k], m.In[1-k]
		add := c.producer(other)
		if add == nil || add.Op != "Add" || len(add.In) != 2 {
			continue
		}
		for j := 0; j < 2; j++ {
			one, ok := c.im.consts[add.In[1-j]]
			erf := c.producer(add.In[j])
			if !ok || one.F == nil || one.Len() != 1 || one.F[0] != 1 || erf == nil || erf.Op != opErf {
				continue
			}
			sc := c.producer(erf.In[0])
			if sc != nil && sc.Op == opScale && sc.In[0] == x && math.Abs(sc.Attr.Seq.Factor-1/math.Sqrt2) < 1e-6 {
				return x
			}
		}
	}
	return ""
}

// evalSeq is the float reference of the transformer ops.
func evalSeq(n *Node, in []*Tensor, out *Tensor) error {
	shape := out.Shape
	switch n.Op {
	case opEmbed:
		tab, ids := in[0], in[1]
		D := tab.Shape[1]
		for t, v := range ids.F {
			id := int(v)
			if float64(id) != v || id < 0 || id >= tab.Shape[0] {
				return fmt.Errorf("token id %g at %d is outside the table's %d rows", v, t, tab.Shape[0])
			}
			copy(out.F[t*D:(t+1)*D], tab.F[id*D:(id+1)*D])
		}
	case opMatMulAct:
		a, b := in[0], in[1]
		r := len(shape)
		I, J, K := shape[r-2], shape[r-1], a.Shape[r-1]
		for l := 0; l < numel(shape[:r-2]); l++ {
			A, B, Y := a.F[l*I*K:], b.F[l*K*J:], out.F[l*I*J:]
			for i := 0; i < I; i++ {
				for k := 0; k < K; k++ {
					x := A[i*K+k]
					for j := 0; j < J; j++ {
						Y[i*J+j] += x * B[k*J+j]
					}
				}
			}
		}
	case opTranspose:
		permute(in[0].Shape, n.Attr.Seq.Perm, func(dst, src int) { out.F[dst] = in[0].F[src] })
	case opSlice:
		copy(out.F, sliceConst(in[0], n.Attr.Seq.Axis, n.Attr.Seq.Start, n.Attr.Seq.End).F)
	case opMaskCausal, opSoftmax:
		T := shape[len(shape)-1]
		for row := 0; row < len(out.F)/T; row++ {
			x, y := in[0].F[row*T:(row+1)*T], out.F[row*T:(row+1)*T]
			keep := T
			if n.Op == opMaskCausal || n.Attr.Seq.Causal {
				keep = row%shape[len(shape)-2] + 1
			}
			if n.Op == opMaskCausal {
				copy(y, x)
				for j := keep; j < T; j++ {
					y[j] = math.Inf(-1)
				}
				continue
			}
			m := slices.Max(x[:keep])
			s := 0.0
			for j := 0; j < keep; j++ {
				y[j] = math.Exp(x[j] - m)
				s += y[j]
			}
			for j := 0; j < keep; j++ {
				y[j] /= s
			}
		}
	case opLayerNorm:
		D := shape[len(shape)-1]
		for row := 0; row < len(out.F)/D; row++ {
			x, y := in[0].F[row*D:(row+1)*D], out.F[row*D:(row+1)*D]
			mean, v := 0.0, 0.0
			for _, e := range x {
				mean += e
			}
			mean /= float64(D)
			for _, e := range x {
				v += (e - mean) * (e - mean)
			}
			r := 1 / math.Sqrt(v/float64(D)+n.Attr.Seq.Eps)
			for j, e := range x {
				y[j] = (e - mean) * r * in[1].F[j]
				if len(in) == 3 {
					y[j] += in[2].F[j]
				}
			}
		}
	case opGelu:
		for i, v := range in[0].F {
			out.F[i] = 0.5 * v * (1 + math.Erf(v/math.Sqrt2))
		}
	case opScale:
		for i, v := range in[0].F {
			out.F[i] = v * n.Attr.Seq.Factor
		}
	case opErf:
		for i, v := range in[0].F {
			out.F[i] = math.Erf(v)
		}
	case opSigmoid:
		for i, v := range in[0].F {
			out.F[i] = 1 / (1 + math.Exp(-v))
		}
	case opTanh:
		for i, v := range in[0].F {
			out.F[i] = math.Tanh(v)
		}
	case opSilu:
		for i, v := range in[0].F {
			out.F[i] = v / (1 + math.Exp(-v))
		}
	case opGeluTanh:
		for i, v := range in[0].F {
			out.F[i] = 0.5 * v * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(v+0.044715*v*v*v)))
		}
	case opMulAct:
		for i, v := range in[0].F {
			out.F[i] = v * in[1].F[i]
		}
	case opMulConst:
		ib := broadcastIndex(shape, in[1].Shape)
		for i, v := range in[0].F {
			out.F[i] = v * in[1].F[ib(i)]
		}
	case opNeg:
		for i, v := range in[0].F {
			out.F[i] = -v
		}
	case opConcatAct:
		ax := n.Attr.Seq.Axis
		outer, inner := numel(shape[:ax]), numel(shape[ax+1:])
		k := 0
		for o := 0; o < outer; o++ {
			for _, t := range in {
				w := t.Shape[ax] * inner
				k += copy(out.F[k:], t.F[o*w:(o+1)*w])
			}
		}
	case opInvRms, opRMSNorm:
		D := in[0].Shape[len(in[0].Shape)-1]
		for row := 0; row < len(in[0].F)/D; row++ {
			x := in[0].F[row*D : (row+1)*D]
			v := 0.0
			for _, e := range x {
				v += e * e
			}
			r := 1 / math.Sqrt(v/float64(D)+n.Attr.Seq.Eps)
			if n.Op == opInvRms {
				out.F[row] = r
				continue
			}
			for j, e := range x {
				out.F[row*D+j] = e * r * in[1].F[j]
			}
		}
	case opRope:
		d := shape[len(shape)-1]
		ic, is := broadcastIndex(shape, in[1].Shape), broadcastIndex(shape, in[2].Shape)
		for i, v := range in[0].F {
			j := i % d
			rot := in[0].F[i-j+(j+d/2)%d]
			if j < d/2 {
				rot = -rot
			}
			out.F[i] = v*in[1].F[ic(i)] + rot*in[2].F[is(i)]
		}
	case opMeanLast:
		D := in[0].Shape[len(in[0].Shape)-1]
		for r := range out.F {
			for _, v := range in[0].F[r*D : (r+1)*D] {
				out.F[r] += v
			}
			out.F[r] /= float64(D)
		}
	case opSubAct:
		D := shape[len(shape)-1]
		for i, v := range in[0].F {
			out.F[i] = v - in[1].F[i/D]
		}
	case opSquare:
		for i, v := range in[0].F {
			out.F[i] = v * v
		}
	case opSqrt:
		for i, v := range in[0].F {
			out.F[i] = math.Sqrt(v)
		}
	default:
		return fmt.Errorf("no reference for op %q", n.Op)
	}
	return nil
}

// permute calls f(dst, src) for every element of a row-major tensor of shape transposed by
// perm (dst's dimension k is src's perm[k]).
func permute(shape, perm []int, f func(dst, src int)) {
	r := len(shape)
	st := rowStrides(shape)
	oshape := make([]int, r)
	for k, p := range perm {
		oshape[k] = shape[p]
	}
	idx := make([]int, r)
	for dst := 0; dst < numel(oshape); dst++ {
		src := 0
		for k := range idx {
			src += idx[k] * st[perm[k]]
		}
		f(dst, src)
		for k := r - 1; k >= 0; k-- {
			idx[k]++
			if idx[k] < oshape[k] {
				break
			}
			idx[k] = 0
		}
	}
}

// ReadIDs reads integer token ids from a .npy file as the float reference's input (floats
// holding the integers exactly).
func ReadIDs(path string) (*Tensor, error) {
	t, err := ReadNPY(path)
	if err != nil {
		return nil, err
	}
	return idsAsFloat(t, path)
}

func idsAsFloat(t *Tensor, path string) (*Tensor, error) {
	if t.I == nil {
		return nil, fmt.Errorf("%s: token ids must be integers, not %v", path, t.DType)
	}
	out := &Tensor{DType: Float32, Shape: t.Shape, F: make([]float64, len(t.I))}
	for i, v := range t.I {
		if v < 0 || v >= 1<<31 {
			return nil, fmt.Errorf("%s: token id %d at %d is out of range", path, v, i)
		}
		out.F[i] = float64(v)
	}
	return out, nil
}

// The transformer ops' attribute schemas join attrSchemas (see there).
func init() {
	for op, s := range map[string]map[string]onnxpb.AttributeProto_AttributeType{
		"Div": {}, "Mul": {}, "Equal": {}, "Erf": {}, "Where": {}, "Sigmoid": {}, "Tanh": {}, "Neg": {}, "Reciprocal": {},
		"Transpose":          {"perm": aInts},
		"Split":              {"axis": aInt, "split": aInts, "num_outputs": aInt},
		"Slice":              {},
		"Softmax":            {"axis": aInt},
		"LayerNormalization": {"axis": aInt, "epsilon": aFloat, "stash_type": aInt},
		"ReduceMean":         {"axes": aInts, "keepdims": aInt},
		"Sub":                {}, "Pow": {}, "Sqrt": {},
	} {
		if _, dup := attrSchemas[op]; !dup {
			attrSchemas[op] = s
		}
	}
}
