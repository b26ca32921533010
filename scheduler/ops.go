package scheduler

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/streamprove/streamprove/gkr"
	"github.com/streamprove/streamprove/kernels"
)

// opDef builds a node's kernel from its spec and its inputs' infos, returning the kernel, the
// output's shape and any advice tensors the kernel adds (multiplicities, remainders).
type opDef struct {
	arity    [2]int   // min, max inputs
	attrs    []string // attributes the op requires
	optional []string // attributes the op may take
	summary  string
	build    func(n *NodeSpec, ins []*gkr.TensorInfo) (kernels.Kernel, []int, []gkr.TensorInfo, error)
}

// ops is the registry of node ops. Adding an op is one entry here.
var ops = map[string]opDef{
	"linear": {arity: [2]int{2, 3}, summary: "Y = X·Wᵀ (+ bias): in [x, w] or [x, w, bias], W is [out, in]",
		build: func(n *NodeSpec, ins []*gkr.TensorInfo) (kernels.Kernel, []int, []gkr.TensorInfo, error) {
			x, w := ins[0], ins[1]
			if len(w.Shape) != 2 {
				return nil, nil, nil, fmt.Errorf("field \"in\"[1]: weight %q has shape %v, want [out, in]", w.Name, w.Shape)
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
	"requant": lookup("y = round(x / 2^shift) saturated to signed bits (ONNX QuantizeLinear-style)", []string{"shift", "bits"}, []string{"qbits"},
		func(n *NodeSpec) (*kernels.Lookup, error) {
			return kernels.NewRequant(n.Name, n.In[0], n.Out, *n.Shift, *n.Bits, quotientBits(n))
		}),
	"relu": lookup("y = max(x, 0) for x in the signed bits range (bits default 8)", nil, []string{"bits"},
		func(n *NodeSpec) (*kernels.Lookup, error) {
			return kernels.NewReLU(n.Name, n.In[0], n.Out, intOr(n.Bits, 8))
		}),
	"requant_relu": lookup("y = max(requant(x), 0): the usual activation between linear layers", []string{"shift", "bits"}, []string{"qbits"},
		func(n *NodeSpec) (*kernels.Lookup, error) {
			return kernels.NewRequantReLU(n.Name, n.In[0], n.Out, *n.Shift, *n.Bits, quotientBits(n))
		}),
	"requant_fixed": {arity: [2]int{1, 1}, attrs: []string{"multipliers", "shift", "bits"}, optional: []string{"axis", "zero_point", "unsigned", "relu", "qbits"},
		summary: "y = clamp(round_half_even(x·M / 2^shift) + zero_point): integer multipliers per tensor or per channel (axis, default −1), shift 1..62, bits 2..16 (unsigned: [0, 2^bits−1]), relu clamps at zero_point",
		build: func(n *NodeSpec, ins []*gkr.TensorInfo) (kernels.Kernel, []int, []gkr.TensorInfo, error) {
			spec := kernels.RequantFixedSpec{Multipliers: n.Multipliers, Axis: intOr(n.Axis, -1), Shift: *n.Shift, Bits: *n.Bits,
				QuotientBits: intOr(n.QBits, 0), Unsigned: n.Unsigned != nil && *n.Unsigned, ReLU: n.ReLU != nil && *n.ReLU}
			if n.ZeroPoint != nil {
				spec.ZeroPoint = *n.ZeroPoint
			}
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
	"scale": {arity: [2]int{1, 1}, attrs: []string{"factor"}, summary: "Y = factor · A (factor a non-zero integer)",
		build: func(n *NodeSpec, ins []*gkr.TensorInfo) (kernels.Kernel, []int, []gkr.TensorInfo, error) {
			if *n.Factor == 0 {
				return nil, nil, nil, fmt.Errorf("field \"factor\" is 0")
			}
			return kernels.Scale(n.Name, n.In[0], *n.Factor, n.Out), slices.Clone(ins[0].Shape), nil, nil
		}},
}

// lookup registers a non-linear op proven by LogUp lookups. Its output and its multiplicities
// (and remainders) are advice tensors: committed during proving, opened at the end.
func lookup(summary string, attrs, optional []string, mk func(n *NodeSpec) (*kernels.Lookup, error)) opDef {
	return opDef{arity: [2]int{1, 1}, attrs: attrs, optional: optional, summary: summary,
		build: func(n *NodeSpec, ins []*gkr.TensorInfo) (kernels.Kernel, []int, []gkr.TensorInfo, error) {
			if n.Bits != nil && (*n.Bits < 2 || *n.Bits > 16) {
				return nil, nil, nil, fmt.Errorf("field \"bits\" is %d, want 2..16 (lookup tables of 2^bits entries)", *n.Bits)
			}
			if n.Shift != nil && (*n.Shift < 0 || *n.Shift > 32) {
				return nil, nil, nil, fmt.Errorf("field \"shift\" is %d, want 0..32", *n.Shift)
			}
			k, err := mk(n)
			if err != nil {
				return nil, nil, nil, err
			}
			return k, slices.Clone(ins[0].Shape), k.OutputInfos(ins[0].Shape), nil
		}}
}

// quotientBits is a requant's quotient table size: "qbits" when given, else 4 bits of
// headroom over the output range (at least 16 bits).
func quotientBits(n *NodeSpec) kernels.LookupOption {
	return kernels.QuotientBits(intOr(n.QBits, max(16, *n.Bits+4)))
}

func intOr(p *int, def int) int {
	if p == nil {
		return def
	}
	return *p
}

func elementwise(mk func(n *NodeSpec) kernels.Kernel, arity int, summary string) opDef {
	return opDef{arity: [2]int{arity, arity}, summary: summary,
		build: func(n *NodeSpec, ins []*gkr.TensorInfo) (kernels.Kernel, []int, []gkr.TensorInfo, error) {
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

// checkAttrs rejects missing and unexpected attributes.
func (d opDef) checkAttrs(n *NodeSpec) error {
	has := map[string]bool{"shift": n.Shift != nil, "bits": n.Bits != nil, "factor": n.Factor != nil, "qbits": n.QBits != nil,
		"multipliers": n.Multipliers != nil, "axis": n.Axis != nil, "zero_point": n.ZeroPoint != nil, "unsigned": n.Unsigned != nil, "relu": n.ReLU != nil}
	for _, a := range d.attrs {
		if !has[a] {
			return fmt.Errorf("field %q is missing", a)
		}
		delete(has, a)
	}
	for _, a := range d.optional {
		delete(has, a)
	}
	for a, set := range has {
		if set {
			return fmt.Errorf("field %q does not apply to op %q", a, n.Op)
		}
	}
	if len(n.In) < d.arity[0] || len(n.In) > d.arity[1] {
		if d.arity[0] == d.arity[1] {
			return fmt.Errorf("field \"in\" has %d tensors, want %d", len(n.In), d.arity[0])
		}
		return fmt.Errorf("field \"in\" has %d tensors, want %d to %d", len(n.In), d.arity[0], d.arity[1])
	}
	return nil
}
