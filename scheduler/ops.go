package scheduler

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/streamprove/streamprove/gkr"
	"github.com/streamprove/streamprove/kernels"
)

// opDef declares a node op: how many inputs it takes, its attributes (the schema checkNode
// validates every node against, in one place) and how it builds the node's kernel.
type opDef struct {
	arity   [2]int // min, max inputs
	attrs   []attrSpec
	summary string
	// build returns the node's kernel, the output's shape and any advice tensors the kernel
	// adds (multiplicities, remainders). a holds the validated attributes, defaults filled in.
	build func(n *NodeSpec, a Attrs, ins []*gkr.TensorInfo) (kernels.Kernel, []int, []gkr.TensorInfo, error)
}

// ops is the registry of node ops. Adding an op is one entry here.
var ops = map[string]opDef{
	"linear": {arity: [2]int{2, 3}, summary: "Y = X·Wᵀ (+ bias): in [x, w] or [x, w, bias], W is [out, in]",
		build: func(n *NodeSpec, _ Attrs, ins []*gkr.TensorInfo) (kernels.Kernel, []int, []gkr.TensorInfo, error) {
			x, w := ins[0], ins[1]
			if len(w.Shape) != 2 {
				return nil, nil, nil, fmt.Errorf("field \"in\"[1]: weight %q has shape %v, want [out, in]", w.Name, w.Shape)
			}
			if len(x.Shape) >= 1 && len(x.Shape) <= 2 && x.Shape[len(x.Shape)-1] != w.Shape[1] && x.Shape[len(x.Shape)-1] == w.Shape[0] {
				return nil, nil, nil, fmt.Errorf("field \"in\"[1]: weight %q has shape %v, which looks transposed: input %q has %d features and a linear weight is [out, in] (PyTorch's layout), so want [%d, %d]",
					w.Name, w.Shape, x.Name, w.Shape[0], w.Shape[1], w.Shape[0])
			}
			if len(x.Shape) < 1 || len(x.Shape) > 2 || x.Shape[len(x.Shape)-1] != w.Shape[1] {
				return nil, nil, nil, fmt.Errorf("field \"in\"[0]: input %q has shape %v, want [batch, %d] or [%d]", x.Name, x.Shape, w.Shape[1], w.Shape[1])
			}
			bias := ""
			if len(ins) == 3 {
				bias = ins[2].Name
				if !slices.Equal(ins[2].Shape, []int{w.Shape[0]}) {
					return nil, nil, nil, fmt.Errorf("field \"in\"[2]: bias %q has shape %v, want [%d]", bias, ins[2].Shape, w.Shape[0])
				}
				if ins[2].Role != gkr.Weight {
					return nil, nil, nil, fmt.Errorf("field \"in\"[2]: bias %q must be a weight", bias)
				}
			}
			if w.Role != gkr.Weight {
				return nil, nil, nil, fmt.Errorf("field \"in\"[1]: %q must be a weight (its claims end in the commitment opening)", w.Name)
			}
			shape := append(slices.Clone(x.Shape[:len(x.Shape)-1]), w.Shape[0])
			return kernels.NewLinear(n.Name, x.Name, w.Name, bias, n.Out), shape, nil, nil
		}},
	"add":    elementwise(func(n *NodeSpec) kernels.Kernel { return kernels.Add(n.Name, n.In[0], n.In[1], n.Out) }, 2, "Y = A + B (NumPy broadcasting)"),
	"sub":    elementwise(func(n *NodeSpec) kernels.Kernel { return kernels.Sub(n.Name, n.In[0], n.In[1], n.Out) }, 2, "Y = A − B (NumPy broadcasting)"),
	"mul":    elementwise(func(n *NodeSpec) kernels.Kernel { return kernels.Mul(n.Name, n.In[0], n.In[1], n.Out) }, 2, "Y = A ∘ B (elementwise, NumPy broadcasting)"),
	"square": elementwise(func(n *NodeSpec) kernels.Kernel { return kernels.Square(n.Name, n.In[0], n.Out) }, 1, "Y = A ∘ A"),
	"requant": lookup("y = round(x / 2^shift) saturated to signed bits (ONNX QuantizeLinear-style)",
		[]attrSpec{shiftAttr, bitsAttr, qbitsAttr},
		func(n *NodeSpec, a Attrs) (*kernels.Lookup, error) {
			return kernels.NewRequant(n.Name, n.In[0], n.Out, a.Int("shift"), a.Int("bits"), quotientBits(a))
		}),
	"relu": lookup("y = max(x, 0) for x in the signed bits range (bits default 8)",
		[]attrSpec{bitsAttr.def(8)},
		func(n *NodeSpec, a Attrs) (*kernels.Lookup, error) {
			return kernels.NewReLU(n.Name, n.In[0], n.Out, a.Int("bits"))
		}),
	"requant_relu": lookup("y = max(requant(x), 0): the usual activation between linear layers",
		[]attrSpec{shiftAttr, bitsAttr, qbitsAttr},
		func(n *NodeSpec, a Attrs) (*kernels.Lookup, error) {
			return kernels.NewRequantReLU(n.Name, n.In[0], n.Out, a.Int("shift"), a.Int("bits"), quotientBits(a))
		}),
	"requant_fixed": {arity: [2]int{1, 1}, attrs: []attrSpec{
		intsAttr("multipliers", 0, 1, 1<<62-1), intAttr("axis", -64, 63).def(-1), intAttr("shift", 1, 62), bitsAttr,
		intAttr("zero_point", -1<<16, 1<<16).def(0), boolAttr("unsigned").def(false), boolAttr("relu").def(false), qbitsAttr},
		summary: "y = clamp(round_half_even(x·M / 2^shift) + zero_point): integer multipliers per tensor or per channel (axis, default −1), shift 1..62, bits 2..16 (unsigned: [0, 2^bits−1]), relu clamps at zero_point",
		build: func(n *NodeSpec, a Attrs, ins []*gkr.TensorInfo) (kernels.Kernel, []int, []gkr.TensorInfo, error) {
			spec := kernels.RequantFixedSpec{Multipliers: a.Int64s("multipliers"), Axis: a.Int("axis"), Shift: a.Int("shift"), Bits: a.Int("bits"),
				ZeroPoint: a.Int64("zero_point"), QuotientBits: a.Int("qbits"), Unsigned: a.Bool("unsigned"), ReLU: a.Bool("relu")}
			k, err := kernels.NewRequantFixed(n.Name, n.In[0], n.Out, spec)
			if err != nil {
				return nil, nil, nil, err
			}
			extra, err := k.Declare(&gkr.Graph{Tensors: map[string]*gkr.TensorInfo{ins[0].Name: ins[0]}})
			if err != nil {
				return nil, nil, nil, err
			}
			return k, slices.Clone(ins[0].Shape), extra, nil
		}},
	"conv2d": {arity: [2]int{2, 3}, attrs: windowAttrs(false, intAttr("group", 1, 1<<16).def(1)),
		summary: "Y = conv(X, W) (+ bias): in [x, w] or [x, w, bias]; X [N, C, H, W], W [K, C/group, kh, kw]; strides [h, w], pads [top, left, bottom, right], dilations [h, w], group (1, depthwise, or power-of-two channels per group)",
		build: func(n *NodeSpec, at Attrs, ins []*gkr.TensorInfo) (kernels.Kernel, []int, []gkr.TensorInfo, error) {
			a := convAttrs(at)
			for j, t := range ins[1:] {
				if t.Role != gkr.Weight {
					return nil, nil, nil, fmt.Errorf("field \"in\"[%d]: %q must be a weight (its claims end in the commitment opening)", j+1, t.Name)
				}
			}
			bias := ""
			if len(ins) == 3 {
				bias = ins[2].Name
				if len(ins[2].Shape) != 1 || len(ins[1].Shape) < 1 || ins[2].Shape[0] != ins[1].Shape[0] {
					return nil, nil, nil, fmt.Errorf("field \"in\"[2]: bias %q has shape %v, want [K] for weight shape %v", bias, ins[2].Shape, ins[1].Shape)
				}
			}
			shape, err := kernels.ConvOutShape(ins[0].Shape, ins[1].Shape, a)
			if err != nil {
				return nil, nil, nil, fmt.Errorf("field \"in\": %v", err)
			}
			return kernels.NewConv2D(n.Name, n.In[0], n.In[1], bias, n.Out, a), shape, nil, nil
		}},
	"maxpool": {arity: [2]int{1, 1}, attrs: windowAttrs(true, bitsAttr.def(8)),
		summary: "Y = max over each window (padding never wins): X [N, C, H, W] of signed bits-bit integers (bits default 8); kernel_shape [kh, kw], strides, pads [top, left, bottom, right], dilations. Y is committed advice",
		build: func(n *NodeSpec, at Attrs, ins []*gkr.TensorInfo) (kernels.Kernel, []int, []gkr.TensorInfo, error) {
			ks := at.Ints("kernel_shape")
			p, err := kernels.NewMaxPool(n.Name, n.In[0], n.Out, ks[0], ks[1], convAttrs(at), at.Int("bits"))
			if err != nil {
				return nil, nil, nil, err
			}
			infos, err := p.OutputInfos(ins[0].Shape)
			if err != nil {
				return nil, nil, nil, fmt.Errorf("field \"in\": %v", err)
			}
			return p, slices.Clone(infos[0].Shape), infos, nil
		}},
	"sumpool": {arity: [2]int{1, 1}, attrs: windowAttrs(true),
		summary: "Y = sum over each window (zero padding): an average pool's numerator (follow it with requant, shift log2(kh·kw), for a 2×2 or 4×4 average)",
		build: func(n *NodeSpec, at Attrs, ins []*gkr.TensorInfo) (kernels.Kernel, []int, []gkr.TensorInfo, error) {
			ks, a := at.Ints("kernel_shape"), convAttrs(at)
			shape, err := kernels.PoolOutShape(ins[0].Shape, ks[0], ks[1], a)
			if err != nil {
				return nil, nil, nil, fmt.Errorf("field \"in\": %v", err)
			}
			return kernels.NewSumPool(n.Name, n.In[0], n.Out, ks[0], ks[1], a), shape, nil, nil
		}},
	"global_sumpool": {arity: [2]int{1, 1}, summary: "Y[n, c, 0, 0] = Σ_{h,w} X[n, c, h, w] (a global average pool's numerator)",
		build: func(n *NodeSpec, _ Attrs, ins []*gkr.TensorInfo) (kernels.Kernel, []int, []gkr.TensorInfo, error) {
			xs := ins[0].Shape
			if len(xs) != 4 {
				return nil, nil, nil, fmt.Errorf("field \"in\": input %q has shape %v, want [N, C, H, W]", ins[0].Name, xs)
			}
			return kernels.NewSumPool(n.Name, n.In[0], n.Out, xs[2], xs[3], kernels.ConvAttrs{}), []int{xs[0], xs[1], 1, 1}, nil, nil
		}},
	"reshape": {arity: [2]int{1, 1}, attrs: []attrSpec{intsAttr("shape", 0, -1, 1<<40)},
		summary: "Y = X with another shape (free when the padded layout is kept; else one sumcheck with the relabeling predicate); one dimension may be -1, inferred from the size (a dynamic batch)",
		build: func(n *NodeSpec, at Attrs, ins []*gkr.TensorInfo) (kernels.Kernel, []int, []gkr.TensorInfo, error) {
			shape, err := inferReshape(ins[0].Shape, at.Ints("shape"))
			if err != nil {
				return nil, nil, nil, fmt.Errorf("field \"shape\": %v", err)
			}
			if gkr.Numel(shape) != gkr.Numel(ins[0].Shape) {
				return nil, nil, nil, fmt.Errorf("field \"shape\": %v has %d elements, input %q %v has %d", shape, gkr.Numel(shape), ins[0].Name, ins[0].Shape, gkr.Numel(ins[0].Shape))
			}
			return kernels.NewReshape(n.Name, n.In[0], n.Out), shape, nil, nil
		}},
	"flatten": {arity: [2]int{1, 1}, attrs: []attrSpec{intAttr("axis", 0, 64).def(1)},
		summary: "Y [Π d<axis, Π d≥axis] (ONNX Flatten, axis default 1): free when the padded layout is kept, else a relabeling sumcheck (flatten_padded avoids it when the next linear's columns can follow the padding)",
		build: func(n *NodeSpec, at Attrs, ins []*gkr.TensorInfo) (kernels.Kernel, []int, []gkr.TensorInfo, error) {
			xs, axis := ins[0].Shape, at.Int("axis")
			if axis > len(xs) {
				return nil, nil, nil, fmt.Errorf("field \"axis\" is %d, want 0..%d", axis, len(xs))
			}
			shape := []int{int(gkr.Numel(xs[:axis])), int(gkr.Numel(xs[axis:]))}
			return kernels.NewReshape(n.Name, n.In[0], n.Out), shape, nil, nil
		}},
	"transpose": {arity: [2]int{1, 1}, attrs: []attrSpec{intsAttr("perm", 0, 0, 63).optional()},
		summary: "Y = X with dims permuted, Y.shape[k] = X.shape[perm[k]] (ONNX Transpose; perm default reverses the dims): free",
		build: func(n *NodeSpec, at Attrs, ins []*gkr.TensorInfo) (kernels.Kernel, []int, []gkr.TensorInfo, error) {
			xs := ins[0].Shape
			perm := make([]int, len(xs))
			for i := range perm {
				perm[i] = len(xs) - 1 - i
			}
			if at.Has("perm") {
				perm = at.Ints("perm")
			}
			shape, err := kernels.TransposeShape(xs, perm)
			if err != nil {
				return nil, nil, nil, fmt.Errorf("field \"perm\": %v", err)
			}
			return kernels.NewTranspose(n.Name, n.In[0], n.Out, perm), shape, nil, nil
		}},
	"squeeze": {arity: [2]int{1, 1}, attrs: []attrSpec{intsAttr("axes", 0, -64, 63).optional()},
		summary: "Y = X without the size-1 dims axes (ONNX Squeeze; negative axes count from the end; default every size-1 dim): free",
		build: func(n *NodeSpec, at Attrs, ins []*gkr.TensorInfo) (kernels.Kernel, []int, []gkr.TensorInfo, error) {
			xs := ins[0].Shape
			drop := make([]bool, len(xs))
			if at.Has("axes") {
				for _, a := range at.Ints("axes") {
					if a < -len(xs) || a >= len(xs) {
						return nil, nil, nil, fmt.Errorf("field \"axes\": axis %d out of range for input %q of %d dims", a, ins[0].Name, len(xs))
					}
					if a < 0 {
						a += len(xs)
					}
					if xs[a] != 1 {
						return nil, nil, nil, fmt.Errorf("field \"axes\": dim %d of input %q %v is %d, not 1", a, ins[0].Name, xs, xs[a])
					}
					drop[a] = true
				}
			} else {
				for i, d := range xs {
					drop[i] = d == 1
				}
			}
			var shape []int
			for i, d := range xs {
				if !drop[i] {
					shape = append(shape, d)
				}
			}
			if len(shape) == 0 {
				shape = []int{1}
			}
			return kernels.NewReshape(n.Name, n.In[0], n.Out), shape, nil, nil
		}},
	"unsqueeze": {arity: [2]int{1, 1}, attrs: []attrSpec{intsAttr("axes", 0, -64, 63)},
		summary: "Y = X with size-1 dims inserted at axes of the output (ONNX Unsqueeze; negative axes count from the output's end): free",
		build: func(n *NodeSpec, at Attrs, ins []*gkr.TensorInfo) (kernels.Kernel, []int, []gkr.TensorInfo, error) {
			xs, axes := ins[0].Shape, at.Ints("axes")
			r := len(xs) + len(axes)
			ins1 := make([]bool, r)
			for _, a := range axes {
				if a < -r || a >= r {
					return nil, nil, nil, fmt.Errorf("field \"axes\": axis %d out of range for an output of %d dims", a, r)
				}
				if a < 0 {
					a += r
				}
				if ins1[a] {
					return nil, nil, nil, fmt.Errorf("field \"axes\": axis %d given twice", a)
				}
				ins1[a] = true
			}
			shape := make([]int, 0, r)
			j := 0
			for i := 0; i < r; i++ {
				if ins1[i] {
					shape = append(shape, 1)
				} else {
					shape = append(shape, xs[j])
					j++
				}
			}
			return kernels.NewReshape(n.Name, n.In[0], n.Out), shape, nil, nil
		}},
	"slice": {arity: [2]int{1, 1}, attrs: []attrSpec{intsAttr("starts", 0, -1<<62, 1<<62), intsAttr("ends", 0, -1<<62, 1<<62),
		intsAttr("axes", 0, -64, 63).optional(), intsAttr("steps", 0, 1, 1<<30).optional()},
		summary: "Y = X[starts:ends:steps] on axes (ONNX Slice with positive steps: negative starts/ends count from the dim's end, then clamp to [0, dim]; axes default 0..len(starts)−1; steps default 1): one sumcheck with a shifted (strided) eq predicate",
		build: func(n *NodeSpec, at Attrs, ins []*gkr.TensorInfo) (kernels.Kernel, []int, []gkr.TensorInfo, error) {
			xs := ins[0].Shape
			st, en := at.Int64s("starts"), at.Int64s("ends")
			if len(st) != len(en) || len(st) == 0 {
				return nil, nil, nil, fmt.Errorf("field \"ends\": %d ends for %d starts", len(en), len(st))
			}
			axes := make([]int, len(st))
			for i := range axes {
				axes[i] = i
			}
			if at.Has("axes") {
				axes = at.Ints("axes")
				if len(axes) != len(st) {
					return nil, nil, nil, fmt.Errorf("field \"axes\": %d axes for %d starts", len(axes), len(st))
				}
			}
			if at.Has("steps") && len(at.Ints("steps")) != len(st) {
				return nil, nil, nil, fmt.Errorf("field \"steps\": %d steps for %d starts", len(at.Ints("steps")), len(st))
			}
			starts, ends, steps := make([]int, len(xs)), slices.Clone(xs), make([]int, len(xs))
			for d := range steps {
				steps[d] = 1
			}
			seen := make([]bool, len(xs))
			for i, a := range axes {
				if a < -len(xs) || a >= len(xs) {
					return nil, nil, nil, fmt.Errorf("field \"axes\": axis %d out of range for input %q of %d dims", a, ins[0].Name, len(xs))
				}
				if a < 0 {
					a += len(xs)
				}
				if seen[a] {
					return nil, nil, nil, fmt.Errorf("field \"axes\": axis %d given twice", a)
				}
				seen[a] = true
				d := int64(xs[a])
				clamp := func(v int64) int {
					if v < 0 {
						v += d
					}
					return int(max(0, min(v, d)))
				}
				starts[a], ends[a] = clamp(st[i]), clamp(en[i])
				if at.Has("steps") {
					steps[a] = at.Ints("steps")[i]
				}
			}
			shape, err := kernels.SliceShape(xs, starts, ends, steps)
			if err != nil {
				return nil, nil, nil, fmt.Errorf("field \"starts\": input %q %v: %v", ins[0].Name, xs, err)
			}
			return kernels.NewSlice(n.Name, n.In[0], n.Out, starts, ends, steps), shape, nil, nil
		}},
	"concat": {arity: [2]int{1, 64}, attrs: []attrSpec{intAttr("axis", -64, 63)},
		summary: "Y = the inputs joined along axis (ONNX Concat; negative axis counts from the end): one partial sum and one shifted-eq sumcheck per input",
		build: func(n *NodeSpec, at Attrs, ins []*gkr.TensorInfo) (kernels.Kernel, []int, []gkr.TensorInfo, error) {
			shapes := make([][]int, len(ins))
			for i, in := range ins {
				shapes[i] = in.Shape
			}
			axis := at.Int("axis")
			if r := len(shapes[0]); axis < -r || axis >= r {
				return nil, nil, nil, fmt.Errorf("field \"axis\" is %d, want %d..%d", axis, -r, r-1)
			} else if axis < 0 {
				axis += r
			}
			shape, err := kernels.ConcatShape(shapes, axis)
			if err != nil {
				return nil, nil, nil, fmt.Errorf("field \"in\": %v", err)
			}
			return kernels.NewConcat(n.Name, n.In, n.Out, axis), shape, nil, nil
		}},
	"flatten_padded": {arity: [2]int{1, 1}, attrs: []attrSpec{intAttr("axis", 0, 64).def(1)},
		summary: "Y [d0.., d_axis·D_{axis+1}⋯]: flatten keeping the inner dims' power-of-two padding as zeros (free; the next linear's columns follow the padded order)",
		build: func(n *NodeSpec, at Attrs, ins []*gkr.TensorInfo) (kernels.Kernel, []int, []gkr.TensorInfo, error) {
			shape, err := kernels.PaddedFlattenShape(ins[0].Shape, at.Int("axis"))
			if err != nil {
				return nil, nil, nil, fmt.Errorf("field \"axis\": %v", err)
			}
			return kernels.NewPaddedFlatten(n.Name, n.In[0], n.Out, at.Int("axis")), shape, nil, nil
		}},
	"matmul":    matmul(false, "Y = A·B over the last two dims, batched over equal leading dims (heads): in [a, b], A [..., I, K], B [..., K, J]"),
	"matmul_bt": matmul(true, "Y = A·Bᵀ over the last two dims (attention's Q·Kᵀ): in [a, b], A [..., I, K], B [..., J, K]"),
	// One op for both kinds of ids: the ids' role picks the kernel, so a graph says what the
	// verifier sees once (in the tensor's role) and public-id graphs keep their digest.
	"gather": {arity: [2]int{2, 2}, summary: "Y[t,:] = W[ids[t],:] (embedding): in [w, ids], W [rows, dim], ids [tokens] integers in [0, rows): a public input (the verifier reads them), or a private input or another node's output (proven through a committed one-hot [tokens, rows] advice)",
		build: func(n *NodeSpec, _ Attrs, ins []*gkr.TensorInfo) (kernels.Kernel, []int, []gkr.TensorInfo, error) {
			shape, err := kernels.GatherShape(ins[0].Shape, ins[1].Shape)
			if err != nil {
				return nil, nil, nil, fmt.Errorf("field \"in\": %q and %q: %v", ins[0].Name, ins[1].Name, err)
			}
			switch ins[1].Role {
			case gkr.Input:
				return kernels.NewGather(n.Name, n.In[0], n.In[1], n.Out), shape, nil, nil
			case gkr.Weight:
				return nil, nil, nil, fmt.Errorf("field \"in\"[1]: ids %q are a weight; want a public input (the verifier reads them), a private input or another node's output", ins[1].Name)
			}
			k := kernels.NewGatherPrivate(n.Name, n.In[0], n.In[1], n.Out)
			return k, shape, k.OutputInfos(ins[0].Shape, ins[1].Shape), nil
		}},
	"silu":           activation("silu", "y = x·σ(x) (SiLU; SwiGLU is silu then mul)"),
	"gelu":           activation("gelu", "y = x·Φ(x) (GELU, erf form)"),
	"gelu_tanh":      activation("gelu_tanh", "y = GELU's tanh approximation"),
	"tanh":           activation("tanh", "y = tanh(x)"),
	"sigmoid":        activation("sigmoid", "y = σ(x) = 1/(1+e^−x) (the committed advice is the centred σ − ½, so y may be a public output)"),
	"softmax":        softmax(false, "p = softmax(x/2^shift) along the last axis, in bits fraction bits (default 8), by lookups"),
	"softmax_causal": softmax(true, "softmax with the causal mask j ≤ i over the last two axes ([..., T, T])"),
	"rmsnorm": {arity: [2]int{2, 2}, attrs: normAttrs(),
		summary: "y = ⌊x·ρ·γ/2^shift⌋ with ρ = ⌊2^15/rms(x)⌋, rms over the last axis with eps at the squared input scale: in [x, gamma], x [..., D], γ [D]; y in bits (default 16)",
		build: func(n *NodeSpec, a Attrs, ins []*gkr.TensorInfo) (kernels.Kernel, []int, []gkr.TensorInfo, error) {
			if err := normShapes(ins); err != nil {
				return nil, nil, nil, err
			}
			k, err := kernels.NewRMSNorm(n.Name, ins[0].Name, ins[1].Name, n.Out, a.Int("shift"), a.Int("bits"), a.Int64("eps"))
			if err != nil {
				return nil, nil, nil, err
			}
			return k, slices.Clone(ins[0].Shape), k.OutputInfos(ins[0].Shape), nil
		}},
	"layernorm": {arity: [2]int{3, 3}, attrs: normAttrs(),
		summary: "y = ⌊(D·x − Σx)·ρ·γ/2^(shift+k)⌋ + β, k = ⌈log₂D⌉, ρ = ⌊2^(15+k)/(D·σ)⌋, σ² = var(x) + eps over the last axis: rmsnorm(x − mean)·γ + β exactly centered; in [x, gamma, beta], x [..., D] (D ≥ 2), γ, β [D] (β at y's scale); y in bits (default 16)",
		build: func(n *NodeSpec, a Attrs, ins []*gkr.TensorInfo) (kernels.Kernel, []int, []gkr.TensorInfo, error) {
			if err := normShapes(ins); err != nil {
				return nil, nil, nil, err
			}
			x := ins[0]
			k, err := kernels.NewLayerNorm(n.Name, x.Name, ins[1].Name, ins[2].Name, n.Out, x.Shape[len(x.Shape)-1], a.Int("shift"), a.Int("bits"), a.Int64("eps"))
			if err != nil {
				return nil, nil, nil, err
			}
			return k, slices.Clone(x.Shape), k.OutputInfos(x.Shape), nil
		}},
	"scale": {arity: [2]int{1, 1}, summary: "Y = factor · A (factor a non-zero integer)",
		attrs: []attrSpec{intAttr("factor", math.MinInt64, math.MaxInt64)},
		build: func(n *NodeSpec, a Attrs, ins []*gkr.TensorInfo) (kernels.Kernel, []int, []gkr.TensorInfo, error) {
			if a.Int64("factor") == 0 {
				return nil, nil, nil, fmt.Errorf("field \"factor\" is 0")
			}
			return kernels.Scale(n.Name, n.In[0], a.Int64("factor"), n.Out), slices.Clone(ins[0].Shape), nil, nil
		}},
}

// matmul registers the product of two activations (or of an activation and a weight of any
// rank); the claims on both operands flow backwards, nothing is committed.
func matmul(transB bool, summary string) opDef {
	return opDef{arity: [2]int{2, 2}, summary: summary,
		build: func(n *NodeSpec, _ Attrs, ins []*gkr.TensorInfo) (kernels.Kernel, []int, []gkr.TensorInfo, error) {
			shape, err := kernels.MatMulShape(ins[0].Shape, ins[1].Shape, transB)
			if err != nil {
				return nil, nil, nil, fmt.Errorf("field \"in\": %q and %q: %v", ins[0].Name, ins[1].Name, err)
			}
			return kernels.NewMatMul(n.Name, n.In[0], n.In[1], n.Out, transB), shape, nil, nil
		}}
}

// activation registers a smooth non-linearity proven by one lookup into its table of 2^bits
// rows (bits default 16); "shift" is the fraction bits of input and output (value = x/2^shift).
func activation(fn, summary string) opDef {
	return opDef{arity: [2]int{1, 1}, attrs: []attrSpec{intAttr("shift", 0, 14), bitsAttr.def(16)},
		summary: summary + " on fixed point x/2^shift, by lookup (bits ≤ 16)",
		build: func(n *NodeSpec, a Attrs, ins []*gkr.TensorInfo) (kernels.Kernel, []int, []gkr.TensorInfo, error) {
			k, err := kernels.NewActivation(n.Name, fn, n.In[0], n.Out, a.Int("bits"), a.Int("shift"))
			if err != nil {
				return nil, nil, nil, err
			}
			return k, slices.Clone(ins[0].Shape), k.OutputInfos(ins[0].Shape), nil
		}}
}

// softmax registers the integer softmax; "shift" is the logits' fraction bits, "bits" the
// output's (default 8). Its output and its advice are committed.
func softmax(causal bool, summary string) opDef {
	return opDef{arity: [2]int{1, 1}, attrs: []attrSpec{intAttr("shift", 0, 16), intAttr("bits", 1, 15).def(8)}, summary: summary,
		build: func(n *NodeSpec, a Attrs, ins []*gkr.TensorInfo) (kernels.Kernel, []int, []gkr.TensorInfo, error) {
			xs := ins[0].Shape
			if causal && (len(xs) < 2 || xs[len(xs)-1] != xs[len(xs)-2]) {
				return nil, nil, nil, fmt.Errorf("field \"in\": causal softmax needs a square [..., T, T] input, %q is %v", ins[0].Name, xs)
			}
			k, err := kernels.NewSoftmax(n.Name, n.In[0], n.Out, a.Int("shift"), a.Int("bits"), causal)
			if err != nil {
				return nil, nil, nil, err
			}
			return k, slices.Clone(xs), k.OutputInfos(xs), nil
		}}
}

// normAttrs are rmsnorm's and layernorm's: shift 1..16, bits 2..16 (default 16), eps ≥ 1 at the
// squared input scale (default 1).
func normAttrs() []attrSpec {
	return []attrSpec{intAttr("shift", 1, 16), intAttr("bits", 2, 16).def(16), intAttr("eps", 1, 1<<20).def(1)}
}

// normShapes checks a norm's inputs: x [..., D], then γ (and β) of shape [D].
func normShapes(ins []*gkr.TensorInfo) error {
	x := ins[0]
	if len(x.Shape) < 1 {
		return fmt.Errorf("field \"in\"[0]: x %q is a scalar, want [..., D]", x.Name)
	}
	D := x.Shape[len(x.Shape)-1]
	for j, t := range ins[1:] {
		if !slices.Equal(t.Shape, []int{D}) {
			return fmt.Errorf("field \"in\"[%d]: %q has shape %v, want [%d] (the last axis of x %q %v)", j+1, t.Name, t.Shape, D, x.Name, x.Shape)
		}
	}
	return nil
}

// Attributes shared by the lookup ops.
var (
	// bits: the signed output range; lookup tables have 2^bits entries.
	bitsAttr  = intAttr("bits", 2, 16)
	shiftAttr = intAttr("shift", 0, 32)
	// qbits sizes a requant's quotient table (2^qbits rows): how far beyond the output range an
	// input may reach before it saturates. Default max(16, bits+4) (see quotientBits).
	qbitsAttr = intAttr("qbits", 2, 24).optional()
)

// lookup registers a non-linear op proven by LogUp lookups. Its output and its multiplicities
// (and remainders) are advice tensors: committed during proving, opened at the end.
func lookup(summary string, attrs []attrSpec, mk func(n *NodeSpec, a Attrs) (*kernels.Lookup, error)) opDef {
	return opDef{arity: [2]int{1, 1}, attrs: attrs, summary: summary,
		build: func(n *NodeSpec, a Attrs, ins []*gkr.TensorInfo) (kernels.Kernel, []int, []gkr.TensorInfo, error) {
			k, err := mk(n, a)
			if err != nil {
				return nil, nil, nil, err
			}
			return k, slices.Clone(ins[0].Shape), k.OutputInfos(ins[0].Shape), nil
		}}
}

// quotientBits is a requant's quotient table size: "qbits" when given, else 4 bits of
// headroom over the output range (at least 16 bits).
func quotientBits(a Attrs) kernels.LookupOption {
	if a.Has("qbits") {
		return kernels.QuotientBits(a.Int("qbits"))
	}
	return kernels.QuotientBits(max(16, a.Int("bits")+4))
}

func elementwise(mk func(n *NodeSpec) kernels.Kernel, arity int, summary string) opDef {
	return opDef{arity: [2]int{arity, arity}, summary: summary,
		build: func(n *NodeSpec, _ Attrs, ins []*gkr.TensorInfo) (kernels.Kernel, []int, []gkr.TensorInfo, error) {
			// NumPy broadcasting: the output has the broadcast shape of the inputs.
			shapes := make([][]int, len(ins))
			for j, in := range ins {
				shapes[j] = in.Shape
			}
			shape, err := kernels.BroadcastShape(shapes...)
			if err != nil {
				return nil, nil, nil, fmt.Errorf("field \"in\": %v", err)
			}
			return mk(n), shape, nil, nil
		}}
}

func opNames() string {
	var names []string
	for k := range ops {
		names = append(names, k)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// windowAttrs declares the window geometry of conv2d and pooling (ONNX names): strides and
// dilations [h, w] (default [1, 1]), pads [top, left, bottom, right] (default 0), a pool's
// required kernel_shape [kh, kw], and any op-specific extras.
func windowAttrs(kernelShape bool, extra ...attrSpec) []attrSpec {
	a := []attrSpec{
		intsAttr("strides", 2, 1, 1<<16).def([]int{1, 1}),
		intsAttr("pads", 4, 0, 1<<16).def([]int{0, 0, 0, 0}),
		intsAttr("dilations", 2, 1, 1<<16).def([]int{1, 1}),
	}
	if kernelShape {
		a = append(a, intsAttr("kernel_shape", 2, 1, 1<<16))
	}
	return append(a, extra...)
}

// convAttrs reads validated window attributes.
func convAttrs(at Attrs) kernels.ConvAttrs {
	s, p, d := at.Ints("strides"), at.Ints("pads"), at.Ints("dilations")
	a := kernels.ConvAttrs{StrideH: s[0], StrideW: s[1], PadTop: p[0], PadLeft: p[1], PadBottom: p[2], PadRight: p[3],
		DilH: d[0], DilW: d[1], Groups: 1}
	if at.Has("group") {
		a.Groups = at.Int("group")
	}
	return a
}

// inferReshape resolves a reshape target whose one -1 dimension takes what the input's size
// leaves (ONNX Reshape's rule): a graph whose batch is bound by its input keeps -1 there.
func inferReshape(in, target []int) ([]int, error) {
	out := slices.Clone(target)
	at, known := -1, int64(1)
	for i, d := range target {
		switch {
		case d == -1 && at >= 0:
			return nil, fmt.Errorf("%v has more than one -1", target)
		case d == -1:
			at = i
		case d == 0:
			return nil, fmt.Errorf("dimension %d of %v is 0", i, target)
		default:
			known *= int64(d)
		}
	}
	if at >= 0 {
		n := gkr.Numel(in)
		if known == 0 || n%known != 0 {
			return nil, fmt.Errorf("%v does not divide the %d elements of input %v", target, n, in)
		}
		out[at] = int(n / known)
	}
	return out, nil
}
