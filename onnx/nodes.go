package onnx

import (
	"fmt"
	"math"
	"slices"

	"github.com/streamprove/streamprove/onnx/internal/onnxpb"
)

// node imports one NodeProto: it either folds it (constants, shape arithmetic, pass-through ops)
// or appends a Node with its inferred output shape.
func (im *importer) node(idx int, p *onnxpb.NodeProto) error {
	ref := nodeRef{name: p.GetName(), op: p.GetOpType()}
	if ref.name == "" {
		ref.name = fmt.Sprintf("#%d", idx)
	}
	if d := p.GetDomain(); d != "" && d != "ai.onnx" {
		return refuse(ref, "domain %q is not supported (only the default ONNX domain)", d)
	}
	a, err := parseAttrs(ref, p)
	if err != nil {
		return err
	}
	outs := p.GetOutput()
	if len(outs) == 0 || outs[0] == "" {
		return malformed(ref, "no output")
	}
	for _, o := range outs {
		if o != "" && (im.defined(o) || im.dropped[o] != "") {
			return malformed(ref, "output %q is defined twice", o)
		}
	}
	// Optional outputs (Dropout's mask, MaxPool's indices, BatchNormalization's running
	// statistics) are never computed: a node that reads one fails with this reason.
	if len(outs) > 1 {
		for _, o := range outs[1:] {
			if o != "" {
				im.dropped[o] = fmt.Sprintf("output %q of node %q (%s) is not supported", o, ref.name, ref.op)
			}
		}
	}
	ins := make([]string, len(p.GetInput()))
	for i, in := range p.GetInput() {
		if in == "" {
			continue
		}
		r := im.resolve(in)
		if why, ok := im.dropped[r]; ok {
			return refuse(ref, "input %q: %s", in, why)
		}
		if !im.defined(r) {
			return malformed(ref, "input %q is not defined before the node (ONNX nodes are in topological order)", in)
		}
		ins[i] = r
	}
	h := &nodeCtx{im: im, ref: ref, a: a, in: ins, out: outs[0], outs: outs}
	return h.run()
}

type nodeCtx struct {
	im  *importer
	ref nodeRef
	a   attrs
	in  []string
	out string
	// outs are all of the node's outputs (Split has several).
	outs []string
}

// arity checks the number of (non-empty) inputs.
func (c *nodeCtx) arity(min, max int) error {
	n := len(c.in)
	for n > 0 && c.in[n-1] == "" {
		n--
	}
	if n < min || n > max {
		if min == max {
			return malformed(c.ref, "%d inputs, want %d", n, min)
		}
		return malformed(c.ref, "%d inputs, want %d to %d", n, min, max)
	}
	for i := 0; i < min; i++ {
		if c.in[i] == "" {
			return malformed(c.ref, "input %d is missing", i)
		}
	}
	c.in = c.in[:n]
	return nil
}

func (c *nodeCtx) konst(i int) (*Tensor, bool) {
	if i >= len(c.in) || c.in[i] == "" {
		return nil, false
	}
	t, ok := c.im.consts[c.in[i]]
	return t, ok
}

// runtime returns input i's shape when it is computed from the graph input.
func (c *nodeCtx) runtime(i int) (Shape, bool) {
	if i >= len(c.in) {
		return nil, false
	}
	s, ok := c.im.shapes[c.in[i]]
	return s, ok
}

// needConst returns input i as a constant, refusing a runtime value.
func (c *nodeCtx) needConst(i int, what string) (*Tensor, error) {
	if t, ok := c.konst(i); ok {
		return t, nil
	}
	return nil, refuse(c.ref, "input %d (%s, %q) must be a constant (an initializer or folded value)", i, what, c.in[i])
}

// needFloatRuntime returns input i's shape, requiring a float value computed from the input.
func (c *nodeCtx) needFloatRuntime(i int, what string) (Shape, error) {
	s, ok := c.runtime(i)
	if !ok {
		return nil, refuse(c.ref, "input %d (%s, %q) must be computed from the graph input, not a constant", i, what, c.in[i])
	}
	if dt := c.im.dtypes[c.in[i]]; dt != Float32 {
		return nil, refuse(c.ref, "input %d (%s) has element type %v, want FLOAT", i, what, dt)
	}
	return s, nil
}

// emit appends a runtime node.
func (c *nodeCtx) emit(op string, ins []string, shape Shape, attr Attr) error {
	for _, d := range shape {
		if d.Sym == "" && d.N <= 0 {
			return malformed(c.ref, "output shape %v has an empty dimension", shape)
		}
	}
	if d, ok := shapeElems(shape); ok && d > MaxTensorElements*16 {
		return refuse(c.ref, "output shape %v is too large", shape)
	}
	c.im.nodes = append(c.im.nodes, &Node{Name: c.ref.name, Op: op, In: ins, Out: c.out, Shape: shape, Attr: attr})
	c.im.shapes[c.out] = shape
	c.im.dtypes[c.out] = Float32
	if len(c.in) > 0 {
		if _, _, ok := int8Range(c.im.dtypes[c.in[0]]); ok {
			// MaxPool, Reshape and Flatten of quantized values keep their type.
			c.im.dtypes[c.out] = c.im.dtypes[c.in[0]]
		}
	}
	return nil
}

func shapeElems(s Shape) (int64, bool) {
	n := int64(1)
	for _, d := range s {
		if d.Sym != "" {
			continue
		}
		n *= int64(d.N)
		if n > 1<<40 {
			return n, true
		}
	}
	return n, true
}

func (c *nodeCtx) setConst(t *Tensor) error {
	if t.Len() > MaxTensorElements {
		return refuse(c.ref, "folded constant of shape %v is too large", t.Shape)
	}
	c.im.consts[c.out] = t
	return nil
}

func (c *nodeCtx) run() error {
	im := c.im
	if done, err := c.transformer(); done {
		return err
	}
	switch c.ref.op {
	case "Constant":
		if err := c.arity(0, 0); err != nil {
			return err
		}
		t, err := c.a.constantValue()
		if err != nil {
			return err
		}
		return c.setConst(t)

	case "Identity":
		if err := c.arity(1, 1); err != nil {
			return err
		}
		im.alias[c.out] = c.in[0]
		return nil

	case "Dropout":
		if err := c.arity(1, 3); err != nil {
			return err
		}
		if len(c.in) == 3 {
			t, ok := c.konst(2)
			if !ok || t.Len() != 1 || (t.I != nil && t.I[0] != 0) || (t.F != nil && t.F[0] != 0) {
				return refuse(c.ref, "input training_mode must be a constant false (inference only)")
			}
		}
		// Inference: Dropout is the identity whatever its ratio.
		im.alias[c.out] = c.in[0]
		return nil

	case "Cast":
		if err := c.arity(1, 1); err != nil {
			return err
		}
		if !c.a.has("to") {
			return malformed(c.ref, "attribute \"to\" is missing")
		}
		to := DType(c.a.int("to", 0))
		if t, ok := c.konst(0); ok {
			out, err := castTensor(t, to)
			if err != nil {
				return refuse(c.ref, "attribute \"to\" = %v: %v", to, err)
			}
			return c.setConst(out)
		}
		if v, ok := im.syms[c.in[0]]; ok {
			if to != Int64 && to != Int32 {
				return refuse(c.ref, "attribute \"to\" = %v: shape arithmetic casts only to INT64 or INT32", to)
			}
			im.syms[c.out] = v
			return nil
		}
		if dt := im.dtypes[c.in[0]]; dt != to {
			return refuse(c.ref, "attribute \"to\" = %v: a Cast of a runtime %v tensor is not supported (only of constants)", to, dt)
		}
		im.alias[c.out] = c.in[0]
		return nil

	case "Shape":
		if err := c.arity(1, 1); err != nil {
			return err
		}
		var dims []Dim
		if s, ok := c.runtime(0); ok {
			dims = slices.Clone(s)
		} else if t, ok := c.konst(0); ok {
			dims = knownShape(t.Shape)
		} else {
			return refuse(c.ref, "input %q: Shape of shape arithmetic is not supported", c.in[0])
		}
		r := len(dims)
		start, end := int(clampAxis(c.a.int("start", 0), r)), int(clampAxis(c.a.int("end", int64(r)), r))
		if end < start {
			end = start
		}
		return c.setVec(symVec{d: dims[start:end]})

	case "Gather":
		if err := c.arity(2, 2); err != nil {
			return err
		}
		idx, err := c.needConst(1, "indices")
		if err != nil {
			return err
		}
		if idx.I == nil {
			return malformed(c.ref, "indices are %v, want an integer type", idx.DType)
		}
		if v, ok := im.syms[c.in[0]]; ok {
			if v.scalar {
				return malformed(c.ref, "Gather from a scalar")
			}
			if ax := c.a.int("axis", 0); ax != 0 && ax != -1 {
				return malformed(c.ref, "axis %d of a 1-D value", ax)
			}
			if len(idx.Shape) > 1 {
				return refuse(c.ref, "indices of rank %d into shape arithmetic", len(idx.Shape))
			}
			out := symVec{scalar: len(idx.Shape) == 0}
			for _, i := range idx.I {
				j, ok := index(i, len(v.d))
				if !ok {
					return malformed(c.ref, "index %d out of range for %d values", i, len(v.d))
				}
				out.d = append(out.d, v.d[j])
			}
			return c.setVec(out)
		}
		data, ok := c.konst(0)
		if !ok {
			return refuse(c.ref, "Gather of a runtime tensor (an embedding lookup) is not supported; only of constants and shapes")
		}
		out, err := gatherConst(data, idx, c.a.int("axis", 0))
		if err != nil {
			return malformed(c.ref, "%v", err)
		}
		return c.setConst(out)

	case "Unsqueeze", "Squeeze":
		return c.squeeze()

	case "Concat":
		return c.concat()

	case "Reshape":
		if err := c.arity(2, 2); err != nil {
			return err
		}
		if err := c.a.wantInt("allowzero", 0, 0); err != nil {
			return err
		}
		target, scalar, ok := c.vec(1)
		if !ok || scalar {
			return refuse(c.ref, "input shape (%q) must be a 1-D constant or shape arithmetic", c.in[1])
		}
		return c.reshapeTo(func(in Shape) (Shape, error) { return reshapeShape(in, target) })

	case "Flatten":
		if err := c.arity(1, 1); err != nil {
			return err
		}
		return c.reshapeTo(func(in Shape) (Shape, error) {
			ax := c.a.int("axis", 1)
			if ax < -int64(len(in)) || ax > int64(len(in)) {
				return nil, fmt.Errorf("axis %d of a rank-%d tensor", ax, len(in))
			}
			if ax < 0 {
				ax += int64(len(in))
			}
			lo, err := dimProduct(in[:ax])
			if err != nil {
				return nil, err
			}
			hi, err := dimProduct(in[ax:])
			if err != nil {
				return nil, err
			}
			return Shape{lo, hi}, nil
		})

	case "Relu":
		if err := c.arity(1, 1); err != nil {
			return err
		}
		if t, ok := c.konst(0); ok && t.F != nil {
			return c.setConst(evalRelu(t))
		}
		s, err := c.needFloatRuntime(0, "X")
		if err != nil {
			return err
		}
		return c.emit("Relu", c.in, s, Attr{})

	case "Add":
		return c.add()

	case "Gemm":
		return c.gemm()

	case "MatMul":
		return c.matmul()

	case "Conv":
		return c.conv()

	case "MaxPool", "AveragePool", "GlobalAveragePool":
		return c.pool()

	case "BatchNormalization":
		return c.batchNorm()

	case "Pad":
		return c.pad()

	case "QuantizeLinear", "DequantizeLinear", "QLinearConv", "QLinearMatMul", "MatMulInteger", "ConvInteger":
		return c.quantized()
	}
	return refuse(c.ref, "op %q is not supported", c.ref.op)
}

func clampAxis(a int64, r int) int64 {
	if a < 0 {
		a += int64(r)
	}
	return max(0, min(a, int64(r)))
}

func index(i int64, n int) (int, bool) {
	if i < 0 {
		i += int64(n)
	}
	if i < 0 || i >= int64(n) {
		return 0, false
	}
	return int(i), true
}

// setVec records shape arithmetic; fully known values become ordinary INT64 constants.
func (c *nodeCtx) setVec(v symVec) error {
	known := true
	for _, d := range v.d {
		known = known && d.Sym == ""
	}
	if !known {
		c.im.syms[c.out] = v
		return nil
	}
	t := &Tensor{DType: Int64, Shape: []int{len(v.d)}, I: make([]int64, len(v.d))}
	if v.scalar {
		t.Shape = []int{}
	}
	for i, d := range v.d {
		t.I[i] = int64(d.N)
	}
	return c.setConst(t)
}

// vec returns input i as shape arithmetic (from a constant of rank ≤ 1 or a symbolic value).
func (c *nodeCtx) vec(i int) (d []Dim, scalar, ok bool) {
	if i >= len(c.in) {
		return nil, false, false
	}
	if v, ok := c.im.syms[c.in[i]]; ok {
		return v.d, v.scalar, true
	}
	t, ok := c.konst(i)
	if !ok || t.I == nil || len(t.Shape) > 1 {
		return nil, false, false
	}
	d = make([]Dim, len(t.I))
	for j, v := range t.I {
		if v > MaxTensorElements || v < -1 {
			// Reshape's -1 and 0 are the only non-positive values that mean anything.
			if v < -1 {
				return nil, false, false
			}
		}
		d[j] = Dim{N: int(max(min(v, MaxTensorElements+1), -1))}
	}
	return d, len(t.Shape) == 0, true
}

// reshapeTo handles Reshape/Flatten/Squeeze/Unsqueeze: a constant is reshaped now, a runtime
// tensor becomes a Reshape node with the inferred shape.
func (c *nodeCtx) reshapeTo(f func(Shape) (Shape, error)) error {
	if t, ok := c.konst(0); ok {
		s, err := f(knownShape(t.Shape))
		if err != nil {
			return malformed(c.ref, "%v", err)
		}
		dims, _ := s.Known()
		out := *t
		out.Shape = dims
		return c.setConst(&out)
	}
	if v, ok := c.im.syms[c.in[0]]; ok {
		in := Shape{{N: len(v.d)}}
		if v.scalar {
			in = Shape{}
		}
		s, err := f(in)
		if err != nil {
			return malformed(c.ref, "%v", err)
		}
		if len(s) > 1 {
			return refuse(c.ref, "shape arithmetic of rank %d", len(s))
		}
		return c.setVec(symVec{scalar: len(s) == 0, d: v.d})
	}
	in, err := c.needValueRuntime(0, "data")
	if err != nil {
		return err
	}
	s, err := f(in)
	if err != nil {
		return malformed(c.ref, "input shape %v: %v", in, err)
	}
	return c.emit("Reshape", c.in[:1], s, Attr{})
}

func (c *nodeCtx) squeeze() error {
	if err := c.arity(1, 2); err != nil {
		return err
	}
	var axes []int64
	if c.opsetAxesInput() {
		if c.a.has("axes") {
			return malformed(c.ref, "attribute \"axes\" is an input from opset 13")
		}
		if len(c.in) == 2 {
			t, err := c.needConst(1, "axes")
			if err != nil {
				return err
			}
			if t.I == nil || len(t.Shape) > 1 {
				return malformed(c.ref, "axes must be a 1-D integer tensor")
			}
			axes = t.I
		}
	} else {
		if len(c.in) == 2 {
			return malformed(c.ref, "axes is an attribute before opset 13")
		}
		axes = c.a.ints("axes")
	}
	unsq := c.ref.op == "Unsqueeze"
	if unsq && len(axes) == 0 {
		return malformed(c.ref, "no axes")
	}
	return c.reshapeTo(func(in Shape) (Shape, error) {
		r := len(in)
		if unsq {
			r += len(axes)
		}
		mark := make([]bool, r)
		for _, a := range axes {
			j, ok := index(a, r)
			if !ok || mark[j] {
				return nil, fmt.Errorf("axis %d (rank %d)", a, r)
			}
			mark[j] = true
		}
		var out Shape
		if unsq {
			k := 0
			for j := 0; j < r; j++ {
				if mark[j] {
					out = append(out, Dim{N: 1})
				} else {
					out = append(out, in[k])
					k++
				}
			}
			return out, nil
		}
		for j, d := range in {
			if len(axes) == 0 && d == (Dim{N: 1}) {
				continue
			}
			if len(axes) > 0 && mark[j] {
				if d != (Dim{N: 1}) {
					return nil, fmt.Errorf("axis %d has size %v, not 1", j, d)
				}
				continue
			}
			out = append(out, d)
		}
		return out, nil
	})
}

// opsetAxesInput: from opset 13, Squeeze/Unsqueeze take axes as an input.
func (c *nodeCtx) opsetAxesInput() bool { return c.im.opset >= 13 }

func (c *nodeCtx) concat() error {
	if len(c.in) == 0 || len(c.in) > 1<<16 {
		return malformed(c.ref, "%d inputs", len(c.in))
	}
	if !c.a.has("axis") {
		return malformed(c.ref, "attribute \"axis\" is missing")
	}
	for i, in := range c.in {
		if in == "" {
			return malformed(c.ref, "input %d is empty", i)
		}
	}
	allConst := true
	for i := range c.in {
		_, ok := c.konst(i)
		allConst = allConst && ok
	}
	if allConst {
		ts := make([]*Tensor, len(c.in))
		for i := range c.in {
			ts[i], _ = c.konst(i)
		}
		out, err := concatConst(ts, c.a.int("axis", 0))
		if err != nil {
			return malformed(c.ref, "%v", err)
		}
		return c.setConst(out)
	}
	var out symVec
	for i := range c.in {
		d, scalar, ok := c.vec(i)
		if !ok || scalar {
			return refuse(c.ref, "input %d (%q): Concat of runtime tensors is not supported; only of constants and 1-D shape arithmetic", i, c.in[i])
		}
		out.d = append(out.d, d...)
	}
	if ax := c.a.int("axis", 0); ax != 0 && ax != -1 {
		return malformed(c.ref, "axis %d of 1-D values", ax)
	}
	return c.setVec(out)
}

func (c *nodeCtx) add() error {
	if err := c.arity(2, 2); err != nil {
		return err
	}
	ta, ca := c.konst(0)
	tb, cb := c.konst(1)
	if ca && cb {
		out, err := addConst(ta, tb)
		if err != nil {
			return malformed(c.ref, "%v", err)
		}
		return c.setConst(out)
	}
	// One runtime operand (the first after reordering); the other may broadcast into it.
	ins := slices.Clone(c.in)
	if ca {
		ins[0], ins[1] = ins[1], ins[0]
	}
	sa, err := c.needFloatRuntimeName(ins[0])
	if err != nil {
		return err
	}
	if t, ok := c.im.consts[ins[1]]; ok {
		if t.F == nil {
			return refuse(c.ref, "adding an integer constant to a float tensor")
		}
		if len(t.Shape) > len(sa) {
			return malformed(c.ref, "constant of shape %v broadcasts beyond %v", t.Shape, sa)
		}
		off := len(sa) - len(t.Shape)
		for i, d := range t.Shape {
			if d != 1 && (sa[off+i].Sym != "" || sa[off+i].N != d) {
				return malformed(c.ref, "constant of shape %v does not broadcast to %v", t.Shape, sa)
			}
		}
		return c.emit("Add", ins, sa, Attr{})
	}
	sb, err := c.needFloatRuntimeName(ins[1])
	if err != nil {
		return err
	}
	if !slices.Equal(sa, sb) {
		return refuse(c.ref, "runtime operands of shapes %v and %v: only equal shapes are supported", sa, sb)
	}
	return c.emit("Add", ins, sa, Attr{})
}

func (c *nodeCtx) needFloatRuntimeName(name string) (Shape, error) {
	s, ok := c.im.shapes[name]
	if !ok {
		return nil, refuse(c.ref, "input %q must be computed from the graph input", name)
	}
	if dt := c.im.dtypes[name]; dt != Float32 {
		return nil, refuse(c.ref, "input %q has element type %v, want FLOAT", name, dt)
	}
	return s, nil
}

func (c *nodeCtx) gemm() error {
	if err := c.arity(2, 3); err != nil {
		return err
	}
	if err := c.a.wantFloat("alpha", 1, 1); err != nil {
		return err
	}
	if err := c.a.wantFloat("beta", 1, 1); err != nil {
		return err
	}
	if err := c.a.wantInt("transA", 0, 0); err != nil {
		return err
	}
	transB := c.a.int("transB", 0)
	if transB != 0 && transB != 1 {
		return malformed(c.ref, "attribute \"transB\" = %d", transB)
	}
	sa, err := c.needFloatRuntime(0, "A")
	if err != nil {
		return err
	}
	b, err := c.needConst(1, "B")
	if err != nil {
		return err
	}
	if len(sa) != 2 || len(b.Shape) != 2 || b.F == nil {
		return malformed(c.ref, "A %v and B %v of %v must be 2-D float", sa, b.Shape, b.DType)
	}
	k, n := b.Shape[0], b.Shape[1]
	if transB == 1 {
		k, n = n, k
	}
	if sa[1] != (Dim{N: k}) {
		return malformed(c.ref, "A %v and B %v (transB=%d) disagree on K", sa, b.Shape, transB)
	}
	ins := c.in[:2]
	if len(c.in) == 3 {
		bias, err := c.needConst(2, "C")
		if err != nil {
			return err
		}
		vec, err := biasVector(bias, n)
		if err != nil {
			return refuse(c.ref, "input C: %v", err)
		}
		c.im.consts[c.in[2]] = vec
		ins = c.in
	}
	return c.emit("Gemm", slices.Clone(ins), Shape{sa[0], {N: n}}, Attr{TransB: transB == 1})
}

// biasVector normalises a Gemm bias to shape [n]: from [n], [1, n], [1] or a scalar.
func biasVector(t *Tensor, n int) (*Tensor, error) {
	if t.F == nil {
		return nil, fmt.Errorf("element type %v, want FLOAT", t.DType)
	}
	switch {
	case slices.Equal(t.Shape, []int{n}):
		return t, nil
	case slices.Equal(t.Shape, []int{1, n}):
		return &Tensor{DType: t.DType, Shape: []int{n}, F: t.F}, nil
	case t.Len() == 1 && len(t.Shape) <= 1:
		f := make([]float64, n)
		for i := range f {
			f[i] = t.F[0]
		}
		return &Tensor{DType: t.DType, Shape: []int{n}, F: f}, nil
	}
	return nil, fmt.Errorf("shape %v: only a per-output bias ([%d] or [1,%d]) is supported", t.Shape, n, n)
}

func (c *nodeCtx) matmul() error {
	if err := c.arity(2, 2); err != nil {
		return err
	}
	sa, err := c.needFloatRuntime(0, "A")
	if err != nil {
		return err
	}
	b, err := c.needConst(1, "B")
	if err != nil {
		return err
	}
	if len(sa) < 2 || len(b.Shape) != 2 || b.F == nil {
		return refuse(c.ref, "A %v times B %v of %v: only A of rank ≥ 2 times a 2-D float constant is supported", sa, b.Shape, b.DType)
	}
	if sa[len(sa)-1] != (Dim{N: b.Shape[0]}) {
		return malformed(c.ref, "A %v and B %v disagree on K", sa, b.Shape)
	}
	out := slices.Clone(sa)
	out[len(out)-1] = Dim{N: b.Shape[1]}
	return c.emit("MatMul", slices.Clone(c.in), out, Attr{})
}

// spatial returns H and W of an NCHW runtime input, which must be known.
func (c *nodeCtx) spatial(s Shape) (h, w int, err error) {
	if len(s) != 4 {
		return 0, 0, refuse(c.ref, "input of shape %v: only 4-D NCHW inputs are supported", s)
	}
	if s[1].Sym != "" || s[2].Sym != "" || s[3].Sym != "" {
		return 0, 0, refuse(c.ref, "input of shape %v: only the batch dimension may be dynamic", s)
	}
	return s[2].N, s[3].N, nil
}

func windowOut(n, k, s, p0, p1 int) (int, bool) {
	span := n + p0 + p1 - k
	if span < 0 {
		return 0, false
	}
	return span/s + 1, true
}

func (c *nodeCtx) conv() error {
	if err := c.arity(2, 3); err != nil {
		return err
	}
	if err := c.a.wantInt("group", 1, 1); err != nil {
		return err
	}
	sx, err := c.needFloatRuntime(0, "X")
	if err != nil {
		return err
	}
	h, w, err := c.spatial(sx)
	if err != nil {
		return err
	}
	wt, err := c.needConst(1, "W")
	if err != nil {
		return err
	}
	if len(wt.Shape) != 4 || wt.F == nil {
		return refuse(c.ref, "weight of shape %v and type %v: only 2-D convolutions with float weights are supported", wt.Shape, wt.DType)
	}
	o := wt.Shape[0]
	if wt.Shape[1] != sx[1].N {
		return malformed(c.ref, "weight %v has %d input channels, X %v has %d", wt.Shape, wt.Shape[1], sx, sx[1].N)
	}
	kernel, strides, pads, err := c.a.window(wt.Shape[2], wt.Shape[3])
	if err != nil {
		return err
	}
	if len(c.in) == 3 {
		b, err := c.needConst(2, "B")
		if err != nil {
			return err
		}
		if !slices.Equal(b.Shape, []int{o}) || b.F == nil {
			return malformed(c.ref, "bias of shape %v, want [%d] float", b.Shape, o)
		}
	}
	ho, ok1 := windowOut(h, kernel[0], strides[0], pads[0], pads[2])
	wo, ok2 := windowOut(w, kernel[1], strides[1], pads[1], pads[3])
	if !ok1 || !ok2 {
		return malformed(c.ref, "kernel %v larger than the padded input %v", kernel, sx)
	}
	return c.emit("Conv", slices.Clone(c.in), Shape{sx[0], {N: o}, {N: ho}, {N: wo}}, Attr{Kernel: kernel, Strides: strides, Pads: pads})
}

func (c *nodeCtx) pool() error {
	if err := c.arity(1, 1); err != nil {
		return err
	}
	sx, err := c.needValueRuntime(0, "X")
	if err != nil {
		return err
	}
	h, w, err := c.spatial(sx)
	if err != nil {
		return err
	}
	if c.ref.op == "GlobalAveragePool" {
		return c.emit("GlobalAveragePool", slices.Clone(c.in), Shape{sx[0], sx[1], {N: 1}, {N: 1}}, Attr{Kernel: []int{h, w}})
	}
	if err := c.a.wantInt("ceil_mode", 0, 0); err != nil {
		return err
	}
	if err := c.a.wantInt("storage_order", 0, 0); err != nil {
		return err
	}
	kernel, strides, pads, err := c.a.window(0, 0)
	if err != nil {
		return err
	}
	attr := Attr{Kernel: kernel, Strides: strides, Pads: pads}
	if c.ref.op == "AveragePool" {
		cip := c.a.int("count_include_pad", 0)
		if cip != 0 && cip != 1 {
			return malformed(c.ref, "attribute \"count_include_pad\" = %d", cip)
		}
		attr.CountIncludePad = cip == 1
	}
	if c.ref.op == "MaxPool" {
		for _, p := range pads {
			if p >= kernel[0] || p >= kernel[1] {
				return malformed(c.ref, "pads %v not smaller than the kernel %v", pads, kernel)
			}
		}
	}
	ho, ok1 := windowOut(h, kernel[0], strides[0], pads[0], pads[2])
	wo, ok2 := windowOut(w, kernel[1], strides[1], pads[1], pads[3])
	if !ok1 || !ok2 {
		return malformed(c.ref, "kernel %v larger than the padded input %v", kernel, sx)
	}
	return c.emit(c.ref.op, slices.Clone(c.in), Shape{sx[0], sx[1], {N: ho}, {N: wo}}, attr)
}

// batchNorm records an inference BatchNormalization; foldBatchNorm later folds it into the
// Conv or Gemm before it, or refuses the model.
func (c *nodeCtx) batchNorm() error {
	if err := c.arity(5, 5); err != nil {
		return err
	}
	if err := c.a.wantInt("training_mode", 0, 0); err != nil {
		return err
	}
	if c.a.has("spatial") {
		return refuse(c.ref, "attribute \"spatial\" (before opset 9) is not supported")
	}
	eps := c.a.float("epsilon", 1e-5)
	if !(eps >= 0) || math.IsInf(eps, 0) {
		return malformed(c.ref, "epsilon %g", eps)
	}
	sx, err := c.needFloatRuntime(0, "X")
	if err != nil {
		return err
	}
	if len(sx) < 2 || sx[1].Sym != "" {
		return refuse(c.ref, "input of shape %v: the channel dimension must be known", sx)
	}
	ch := sx[1].N
	for i, what := range []string{"scale", "B", "input_mean", "input_var"} {
		t, err := c.needConst(i+1, what)
		if err != nil {
			return err
		}
		if !slices.Equal(t.Shape, []int{ch}) || t.F == nil {
			return malformed(c.ref, "%s of shape %v, want [%d] float", what, t.Shape, ch)
		}
		if what == "input_var" {
			for _, v := range t.F {
				if v+eps <= 0 {
					return malformed(c.ref, "input_var %g + epsilon is not positive", v)
				}
			}
		}
	}
	n := len(c.im.nodes)
	if err := c.emit("BatchNormalization", slices.Clone(c.in), sx, Attr{}); err != nil {
		return err
	}
	c.im.nodes[n].eps = eps
	return nil
}

// pad records a constant-mode Pad on H and W; zero pads vanish, others must fold into the
// AveragePool after them (foldPads).
func (c *nodeCtx) pad() error {
	if err := c.arity(2, 4); err != nil {
		return err
	}
	if m := c.a.str("mode", "constant"); m != "constant" {
		return refuse(c.ref, "attribute \"mode\" = %q: only constant is supported", m)
	}
	sx, err := c.needFloatRuntime(0, "data")
	if err != nil {
		return err
	}
	pads, err := c.needConst(1, "pads")
	if err != nil {
		return err
	}
	if pads.I == nil || len(pads.Shape) != 1 {
		return malformed(c.ref, "pads must be a 1-D integer tensor")
	}
	if len(c.in) >= 3 && c.in[2] != "" {
		v, err := c.needConst(2, "constant_value")
		if err != nil {
			return err
		}
		if v.Len() != 1 || (v.F != nil && v.F[0] != 0) || (v.I != nil && v.I[0] != 0) {
			return refuse(c.ref, "input constant_value: only 0 is supported")
		}
	}
	r := len(sx)
	full := make([]int64, 2*r)
	if len(c.in) == 4 && c.in[3] != "" {
		ax, err := c.needConst(3, "axes")
		if err != nil {
			return err
		}
		if ax.I == nil || len(pads.I) != 2*len(ax.I) {
			return malformed(c.ref, "pads %v for axes %v", pads.I, ax.I)
		}
		for k, a := range ax.I {
			j, ok := index(a, r)
			if !ok {
				return malformed(c.ref, "axis %d", a)
			}
			full[j], full[j+r] = pads.I[k], pads.I[k+len(ax.I)]
		}
	} else {
		if len(pads.I) != 2*r {
			return malformed(c.ref, "%d pads for a rank-%d input", len(pads.I), r)
		}
		copy(full, pads.I)
	}
	zero := true
	for j, p := range full {
		if p < 0 {
			return refuse(c.ref, "negative pads %v (cropping) are not supported", full)
		}
		if p > 1<<20 {
			return malformed(c.ref, "pad %d", p)
		}
		if p != 0 && (r != 4 || j%r < 2) {
			return refuse(c.ref, "pads %v: only padding of H and W in NCHW is supported", full)
		}
		zero = zero && p == 0
	}
	if zero {
		c.im.alias[c.out] = c.in[0]
		return nil
	}
	out := slices.Clone(sx)
	out[2].N += int(full[2] + full[6])
	out[3].N += int(full[3] + full[7])
	return c.emit("Pad", c.in[:1], out, Attr{Pads: []int{int(full[2]), int(full[3]), int(full[6]), int(full[7])}})
}
