package onnx

import (
	"fmt"
	"math"
	"slices"
)

// maxFoldElements bounds a constant that folding creates larger than its inputs (Gather with
// repeated indices, Concat of one tensor with itself, a broadcasting Add): a few bytes of
// protobuf must not make the importer allocate gigabytes.
const maxFoldElements = 1 << 20

// castTensor converts a constant (ONNX Cast: float → integer truncates toward zero).
func castTensor(t *Tensor, to DType) (*Tensor, error) {
	if to.size() == 0 {
		return nil, fmt.Errorf("element type %v is not supported", to)
	}
	out := &Tensor{DType: to, Shape: t.Shape}
	n := t.Len()
	if to.isFloat() {
		out.F = make([]float64, n)
		for i := range out.F {
			if t.F != nil {
				out.F[i] = t.F[i]
			} else {
				out.F[i] = float64(t.I[i])
			}
			if to == Float32 {
				out.F[i] = float64(float32(out.F[i]))
			}
		}
		return out, nil
	}
	out.I = make([]int64, n)
	for i := range out.I {
		var v int64
		if t.F != nil {
			f := math.Trunc(t.F[i])
			if to == Bool {
				if t.F[i] != 0 {
					v = 1
				}
			} else if f < math.MinInt64 || f >= math.MaxInt64 {
				return nil, fmt.Errorf("value %g does not fit %v", t.F[i], to)
			} else {
				v = int64(f)
			}
		} else {
			v = t.I[i]
		}
		switch to {
		case Int8:
			v = int64(int8(v))
		case Uint8:
			v = int64(uint8(v))
		case Int32:
			v = int64(int32(v))
		case Bool:
			if v != 0 {
				v = 1
			}
		}
		out.I[i] = v
	}
	return out, nil
}

// strides of a row-major shape.
func rowStrides(shape []int) []int {
	s := make([]int, len(shape))
	k := 1
	for i := len(shape) - 1; i >= 0; i-- {
		s[i] = k
		k *= shape[i]
	}
	return s
}

func gatherConst(data, idx *Tensor, axis int64) (*Tensor, error) {
	r := len(data.Shape)
	if r == 0 {
		return nil, fmt.Errorf("Gather from a scalar")
	}
	ax, ok := index(axis, r)
	if !ok {
		return nil, fmt.Errorf("axis %d of rank %d", axis, r)
	}
	shape := append(append(slices.Clone(data.Shape[:ax]), idx.Shape...), data.Shape[ax+1:]...)
	if len(shape) > maxRank {
		return nil, fmt.Errorf("result rank %d", len(shape))
	}
	outer, inner := numel(data.Shape[:ax]), numel(data.Shape[ax+1:])
	if int64(outer)*int64(len(idx.I))*int64(inner) > maxFoldElements {
		return nil, fmt.Errorf("result of shape %v is too large", shape)
	}
	out := &Tensor{DType: data.DType, Shape: shape}
	dn := data.Shape[ax]
	for o := 0; o < outer; o++ {
		for _, i := range idx.I {
			j, ok := index(i, dn)
			if !ok {
				return nil, fmt.Errorf("index %d out of range for %d", i, dn)
			}
			base := (o*dn + j) * inner
			if data.F != nil {
				out.F = append(out.F, data.F[base:base+inner]...)
			} else {
				out.I = append(out.I, data.I[base:base+inner]...)
			}
		}
	}
	if out.F == nil && out.I == nil {
		if data.F != nil {
			out.F = []float64{}
		} else {
			out.I = []int64{}
		}
	}
	return out, nil
}

func concatConst(ts []*Tensor, axis int64) (*Tensor, error) {
	r := len(ts[0].Shape)
	ax, ok := index(axis, r)
	if !ok {
		return nil, fmt.Errorf("axis %d of rank %d", axis, r)
	}
	shape := slices.Clone(ts[0].Shape)
	shape[ax] = 0
	total := int64(0)
	for i, t := range ts {
		if len(t.Shape) != r || t.DType != ts[0].DType {
			return nil, fmt.Errorf("input %d: shape %v of %v vs %v of %v", i, t.Shape, t.DType, ts[0].Shape, ts[0].DType)
		}
		for j := range t.Shape {
			if j != ax && t.Shape[j] != ts[0].Shape[j] {
				return nil, fmt.Errorf("input %d: shape %v vs %v", i, t.Shape, ts[0].Shape)
			}
		}
		shape[ax] += t.Shape[ax]
		total += int64(t.Len())
		if total > maxFoldElements && total > int64(ts[0].Len()) {
			return nil, fmt.Errorf("result is too large")
		}
	}
	out := &Tensor{DType: ts[0].DType, Shape: shape}
	outer := numel(shape[:ax])
	for o := 0; o < outer; o++ {
		for _, t := range ts {
			blk := numel(t.Shape[ax:])
			if t.F != nil {
				out.F = append(out.F, t.F[o*blk:(o+1)*blk]...)
			} else {
				out.I = append(out.I, t.I[o*blk:(o+1)*blk]...)
			}
		}
	}
	if out.F == nil && out.I == nil {
		if ts[0].F != nil {
			out.F = []float64{}
		} else {
			out.I = []int64{}
		}
	}
	return out, nil
}

// broadcastShape is numpy's broadcast of two known shapes.
func broadcastShape(a, b []int) ([]int, error) {
	r := max(len(a), len(b))
	out := make([]int, r)
	for i := 0; i < r; i++ {
		da, db := 1, 1
		if j := i - (r - len(a)); j >= 0 {
			da = a[j]
		}
		if j := i - (r - len(b)); j >= 0 {
			db = b[j]
		}
		switch {
		case da == db, db == 1:
			out[i] = da
		case da == 1:
			out[i] = db
		default:
			return nil, fmt.Errorf("shapes %v and %v do not broadcast", a, b)
		}
	}
	return out, nil
}

// broadcastIndex maps a flat index of shape out to the flat index of shape in (broadcast).
func broadcastIndex(out, in []int) func(int) int {
	off := len(out) - len(in)
	inStr := rowStrides(in)
	return func(i int) int {
		j := 0
		for k := len(out) - 1; k >= 0; k-- {
			c := i % out[k]
			i /= out[k]
			if kk := k - off; kk >= 0 && in[kk] != 1 {
				j += c * inStr[kk]
			}
		}
		return j
	}
}

func addConst(a, b *Tensor) (*Tensor, error) {
	if (a.F == nil) != (b.F == nil) {
		return nil, fmt.Errorf("adding %v and %v", a.DType, b.DType)
	}
	shape, err := broadcastShape(a.Shape, b.Shape)
	if err != nil {
		return nil, err
	}
	n := numel(shape)
	if n > maxFoldElements && n > max(a.Len(), b.Len()) {
		return nil, fmt.Errorf("result is too large")
	}
	ia, ib := broadcastIndex(shape, a.Shape), broadcastIndex(shape, b.Shape)
	out := &Tensor{DType: a.DType, Shape: shape}
	if a.F != nil {
		out.F = make([]float64, n)
		for i := range out.F {
			out.F[i] = a.F[ia(i)] + b.F[ib(i)]
		}
	} else {
		out.I = make([]int64, n)
		for i := range out.I {
			out.I[i] = a.I[ia(i)] + b.I[ib(i)]
		}
	}
	return out, nil
}

func evalRelu(t *Tensor) *Tensor {
	out := &Tensor{DType: t.DType, Shape: t.Shape, F: make([]float64, len(t.F))}
	for i, v := range t.F {
		out.F[i] = max(v, 0)
	}
	return out
}

// dimFactor is a product of dimensions: an integer times symbols.
type dimFactor struct {
	n    int64
	syms []string
}

func factor(s Shape) dimFactor {
	f := dimFactor{n: 1}
	for _, d := range s {
		if d.Sym != "" {
			f.syms = append(f.syms, d.Sym)
		} else {
			f.n *= int64(d.N)
			if f.n > 1<<40 {
				f.n = 1 << 40
			}
		}
	}
	slices.Sort(f.syms)
	return f
}

func (f dimFactor) dim() (Dim, error) {
	switch {
	case len(f.syms) == 0:
		return Dim{N: int(f.n)}, nil
	case len(f.syms) == 1 && f.n == 1:
		return Dim{Sym: f.syms[0]}, nil
	}
	return Dim{}, fmt.Errorf("a dimension would be %d×%v: only a dynamic dimension on its own is supported", f.n, f.syms)
}

func dimProduct(s Shape) (Dim, error) { return factor(s).dim() }

// reshapeShape is ONNX Reshape's output shape (allowzero = 0): 0 copies the input's dimension,
// -1 is inferred; dynamic dimensions must cancel exactly.
func reshapeShape(in Shape, target []Dim) (Shape, error) {
	if len(target) > maxRank {
		return nil, fmt.Errorf("target rank %d", len(target))
	}
	out := make(Shape, len(target))
	infer := -1
	for i, t := range target {
		switch {
		case t.Sym != "":
			out[i] = t
		case t.N == 0:
			if i >= len(in) {
				return nil, fmt.Errorf("target %v copies dimension %d of %v", target, i, in)
			}
			out[i] = in[i]
		case t.N == -1:
			if infer >= 0 {
				return nil, fmt.Errorf("target %v has two -1", target)
			}
			infer = i
		case t.N > 0 && t.N <= MaxTensorElements:
			out[i] = t
		default:
			return nil, fmt.Errorf("target dimension %d", t.N)
		}
	}
	fin := factor(in)
	var rest Shape
	for i, d := range out {
		if i != infer {
			rest = append(rest, d)
		}
	}
	fout := factor(rest)
	// Cancel the symbols of the known part against the input's.
	left := slices.Clone(fin.syms)
	for _, s := range fout.syms {
		j := slices.Index(left, s)
		if j < 0 {
			return nil, fmt.Errorf("target %v: dynamic dimension %q is not in the input %v", target, s, in)
		}
		left = slices.Delete(left, j, j+1)
	}
	if fout.n == 0 || fin.n%fout.n != 0 {
		return nil, fmt.Errorf("input %v does not reshape to %v", in, target)
	}
	q := dimFactor{n: fin.n / fout.n, syms: left}
	if infer >= 0 {
		d, err := q.dim()
		if err != nil {
			return nil, err
		}
		out[infer] = d
	} else if q.n != 1 || len(q.syms) != 0 {
		return nil, fmt.Errorf("input %v does not reshape to %v", in, target)
	}
	return out, nil
}

// consumers counts the nodes reading each value, plus one per graph-output use.
func (im *importer) consumers() map[string][]*Node {
	m := map[string][]*Node{}
	for _, n := range im.nodes {
		for _, in := range n.In {
			m[in] = append(m[in], n)
		}
	}
	return m
}

// foldBatchNorm folds every inference BatchNormalization into the Conv or Gemm that computes its
// input: y = (x − mean)·γ/√(var+ε) + β is per output channel affine, so it scales that channel's
// weights and shifts its bias. The folded weights are new constants; a shared weight stays intact.
func (im *importer) foldBatchNorm() error {
	uses := im.consumers()
	producer := map[string]*Node{}
	for _, n := range im.nodes {
		producer[n.Out] = n
	}
	var kept []*Node
	for _, bn := range im.nodes {
		if bn.Op != "BatchNormalization" {
			kept = append(kept, bn)
			continue
		}
		ref := nodeRef{bn.Name, bn.Op}
		p := producer[bn.In[0]]
		if p == nil || (p.Op != "Conv" && p.Op != "Gemm") || len(uses[p.Out]) != 1 || im.isOutput(p.Out) {
			return refuse(ref, "a BatchNormalization is supported only right after a Conv or Gemm whose output it alone reads")
		}
		gamma, beta, mean, vr := im.consts[bn.In[1]], im.consts[bn.In[2]], im.consts[bn.In[3]], im.consts[bn.In[4]]
		w := im.consts[p.In[1]]
		ch := len(gamma.F)
		scale := make([]float64, ch)
		shift := make([]float64, ch)
		for o := range scale {
			scale[o] = gamma.F[o] / math.Sqrt(vr.F[o]+bn.eps)
			shift[o] = beta.F[o] - mean.F[o]*scale[o]
		}
		nw := &Tensor{DType: w.DType, Shape: w.Shape, F: slices.Clone(w.F)}
		switch {
		case p.Op == "Conv":
			per := len(w.F) / w.Shape[0]
			for i := range nw.F {
				nw.F[i] *= scale[i/per]
			}
		case p.Attr.TransB: // [out, in]
			for i := range nw.F {
				nw.F[i] *= scale[i/w.Shape[1]]
			}
		default: // [in, out]
			for i := range nw.F {
				nw.F[i] *= scale[i%w.Shape[1]]
			}
		}
		nb := &Tensor{DType: Float32, Shape: []int{ch}, F: make([]float64, ch)}
		if len(p.In) == 3 {
			copy(nb.F, im.consts[p.In[2]].F)
		}
		for o := range nb.F {
			nb.F[o] = nb.F[o]*scale[o] + shift[o]
		}
		wName := im.fresh(p.In[1] + ".bnfold")
		bName := im.fresh(p.Name + ".bias.bnfold")
		im.consts[wName], im.consts[bName] = nw, nb
		p.In = []string{p.In[0], wName, bName}
		// The BatchNormalization's output is now the producer's.
		delete(im.shapes, p.Out)
		im.alias[p.Out] = bn.Out
		p.Out = bn.Out
	}
	im.nodes = kept
	return nil
}

func (im *importer) isOutput(name string) bool { return im.outNames[name] }

// fresh returns name, or name with a numeric suffix if it is taken.
func (im *importer) fresh(name string) string {
	n := name
	for i := 2; im.defined(n); i++ {
		n = fmt.Sprintf("%s.%d", name, i)
	}
	return n
}

// foldPads folds a zero-valued Pad into the AveragePool that alone reads it: padding with zeros
// and averaging over the full window is AveragePool with those pads and count_include_pad = 1.
func (im *importer) foldPads() error {
	uses := im.consumers()
	var kept []*Node
	for _, pd := range im.nodes {
		if pd.Op != "Pad" {
			kept = append(kept, pd)
			continue
		}
		ref := nodeRef{pd.Name, pd.Op}
		u := uses[pd.Out]
		if len(u) != 1 || u[0].Op != "AveragePool" || im.isOutput(pd.Out) {
			return refuse(ref, "a non-zero Pad is supported only before an AveragePool that alone reads it")
		}
		pool := u[0]
		zeroPads := !slices.ContainsFunc(pool.Attr.Pads, func(p int) bool { return p != 0 })
		if !zeroPads && !pool.Attr.CountIncludePad {
			return refuse(ref, "a Pad before an AveragePool with its own pads and count_include_pad = 0")
		}
		for i := range pool.Attr.Pads {
			pool.Attr.Pads[i] += pd.Attr.Pads[i]
		}
		pool.Attr.CountIncludePad = true
		pool.In[0] = pd.In[0]
	}
	im.nodes = kept
	return nil
}
