package onnx

import (
	"fmt"
	"math"
	"slices"
)

// MaxRunElements bounds the elements of any value in a reference run: the float reference
// holds every value in RAM and is meant for accuracy reports on calibration-sized batches.
const MaxRunElements = 1 << 26

// Run is the float reference forward pass: it binds the dynamic dimensions from the inputs'
// shapes, then runs the nodes in order in float64 arithmetic over the float32 weights. It
// returns every graph output.
func (m *Model) Run(inputs map[string]*Tensor) (map[string]*Tensor, error) {
	vals, err := m.runAll(inputs)
	if err != nil {
		return nil, err
	}
	res := map[string]*Tensor{}
	for _, o := range m.Outputs {
		res[o.Name] = vals[o.Name]
	}
	return res, nil
}

// runAll is Run returning every value (inputs, weights and each node's output).
func (m *Model) runAll(inputs map[string]*Tensor) (map[string]*Tensor, error) {
	env := map[string]int{}
	vals := map[string]*Tensor{}
	for _, in := range m.Inputs {
		t, ok := inputs[in.Name]
		if !ok {
			return nil, fmt.Errorf("input %q is missing", in.Name)
		}
		if t.F == nil || len(t.Shape) != len(in.Shape) || len(t.F) != t.Len() {
			return nil, fmt.Errorf("input %q: shape %v of %v, model wants %v of FLOAT", in.Name, t.Shape, t.DType, in.Shape)
		}
		for i, d := range in.Shape {
			got := t.Shape[i]
			if d.Sym == "" {
				if got != d.N {
					return nil, fmt.Errorf("input %q: dimension %d is %d, model wants %d", in.Name, i, got, d.N)
				}
				continue
			}
			if b, ok := env[d.Sym]; ok && b != got {
				return nil, fmt.Errorf("input %q: dimension %q is %d here and %d elsewhere", in.Name, d.Sym, got, b)
			}
			if got <= 0 {
				return nil, fmt.Errorf("input %q: dimension %q is %d", in.Name, d.Sym, got)
			}
			env[d.Sym] = got
		}
		vals[in.Name] = t
	}
	for name, w := range m.Weights {
		vals[name] = w
	}
	for _, n := range m.Nodes {
		shape, err := n.Shape.Bind(env)
		if err != nil {
			return nil, fmt.Errorf("node %q (%s): %w", n.Name, n.Op, err)
		}
		if numel(shape) > MaxRunElements {
			return nil, fmt.Errorf("node %q (%s): output %v is above the reference's %d elements", n.Name, n.Op, shape, MaxRunElements)
		}
		args := make([]*Tensor, len(n.In))
		for i, in := range n.In {
			args[i] = vals[in]
		}
		out, err := evalNode(n, args, shape)
		if err != nil {
			return nil, fmt.Errorf("node %q (%s): %w", n.Name, n.Op, err)
		}
		vals[n.Out] = out
	}
	return vals, nil
}

func evalNode(n *Node, in []*Tensor, shape []int) (*Tensor, error) {
	out := &Tensor{DType: Float32, Shape: shape, F: make([]float64, numel(shape))}
	switch n.Op {
	case "Relu":
		for i, v := range in[0].F {
			out.F[i] = max(v, 0)
		}
	case "Reshape":
		if len(in[0].F) != len(out.F) {
			return nil, fmt.Errorf("%v does not reshape to %v", in[0].Shape, shape)
		}
		copy(out.F, in[0].F)
	case "Add":
		ia, ib := broadcastIndex(shape, in[0].Shape), broadcastIndex(shape, in[1].Shape)
		for i := range out.F {
			out.F[i] = in[0].F[ia(i)] + in[1].F[ib(i)]
		}
	case "Gemm":
		a, b := in[0], in[1]
		k := a.Shape[1]
		nOut := shape[1]
		for r := 0; r < shape[0]; r++ {
			row := a.F[r*k : (r+1)*k]
			for o := 0; o < nOut; o++ {
				s := 0.0
				if n.Attr.TransB {
					s = dot(row, b.F[o*k:(o+1)*k])
				} else {
					for i, x := range row {
						s += x * b.F[i*nOut+o]
					}
				}
				if len(in) == 3 {
					s += in[2].F[o]
				}
				out.F[r*nOut+o] = s
			}
		}
	case "MatMul":
		a, b := in[0], in[1]
		k, nOut := b.Shape[0], b.Shape[1]
		rows := len(a.F) / k
		for r := 0; r < rows; r++ {
			for i, x := range a.F[r*k : (r+1)*k] {
				if x == 0 {
					continue
				}
				dst := out.F[r*nOut : (r+1)*nOut]
				for o, w := range b.F[i*nOut : (i+1)*nOut] {
					dst[o] += x * w
				}
			}
		}
	case "Conv":
		conv2d(out, in[0], in[1], in, n.Attr)
	case "MaxPool", "AveragePool", "GlobalAveragePool":
		pool2d(out, in[0], n.Op, n.Attr)
	default:
		if err := evalSeq(n, in, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func dot(a, b []float64) float64 {
	s := 0.0
	for i, x := range a {
		s += x * b[i]
	}
	return s
}

// conv2d: out[n,o,y,x] = b[o] + Σ_{c,i,j} X[n,c,y·sh−pt+i, x·sw−pl+j] · W[o,c,i,j].
func conv2d(out, x, w *Tensor, in []*Tensor, a Attr) {
	nb, c, h, wd := x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]
	o, kh, kw := w.Shape[0], w.Shape[2], w.Shape[3]
	ho, wo := out.Shape[2], out.Shape[3]
	for b := 0; b < nb; b++ {
		for oc := 0; oc < o; oc++ {
			bias := 0.0
			if len(in) == 3 {
				bias = in[2].F[oc]
			}
			for y := 0; y < ho; y++ {
				for xx := 0; xx < wo; xx++ {
					s := bias
					for ic := 0; ic < c; ic++ {
						for i := 0; i < kh; i++ {
							iy := y*a.Strides[0] - a.Pads[0] + i
							if iy < 0 || iy >= h {
								continue
							}
							for j := 0; j < kw; j++ {
								ix := xx*a.Strides[1] - a.Pads[1] + j
								if ix < 0 || ix >= wd {
									continue
								}
								s += x.F[((b*c+ic)*h+iy)*wd+ix] * w.F[((oc*c+ic)*kh+i)*kw+j]
							}
						}
					}
					out.F[((b*o+oc)*ho+y)*wo+xx] = s
				}
			}
		}
	}
}

// pool2d: MaxPool ignores padding; AveragePool divides by the window's in-bounds count, or by
// the full window (kh·kw) when count_include_pad is set.
func pool2d(out, x *Tensor, op string, a Attr) {
	nb, c, h, wd := x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]
	ho, wo := out.Shape[2], out.Shape[3]
	kh, kw := a.Kernel[0], a.Kernel[1]
	strides, pads := a.Strides, a.Pads
	if op == "GlobalAveragePool" {
		strides, pads = []int{1, 1}, []int{0, 0, 0, 0}
	}
	for p := 0; p < nb*c; p++ {
		plane := x.F[p*h*wd : (p+1)*h*wd]
		for y := 0; y < ho; y++ {
			for xx := 0; xx < wo; xx++ {
				best, sum, cnt := math.Inf(-1), 0.0, 0
				for i := 0; i < kh; i++ {
					iy := y*strides[0] - pads[0] + i
					if iy < 0 || iy >= h {
						continue
					}
					for j := 0; j < kw; j++ {
						ix := xx*strides[1] - pads[1] + j
						if ix < 0 || ix >= wd {
							continue
						}
						v := plane[iy*wd+ix]
						best = max(best, v)
						sum += v
						cnt++
					}
				}
				var r float64
				switch {
				case op == "MaxPool":
					r = best
				case a.CountIncludePad:
					r = sum / float64(kh*kw)
				default:
					r = sum / float64(cnt)
				}
				out.F[(p*ho+y)*wo+xx] = r
			}
		}
	}
}

// argmaxRows returns the argmax along the last axis of a tensor of rank ≥ 2.
func argmaxRows(t *Tensor) []int {
	if len(t.Shape) < 2 {
		return nil
	}
	cols := t.Shape[len(t.Shape)-1]
	rows := len(t.F) / cols
	out := make([]int, rows)
	for r := 0; r < rows; r++ {
		out[r] = slices.Index(t.F[r*cols:(r+1)*cols], slices.Max(t.F[r*cols:(r+1)*cols]))
	}
	return out
}

// work estimates the multiply-adds of a reference run at the given binding.
func (m *Model) work(env map[string]int) int64 {
	total := int64(0)
	for _, n := range m.Nodes {
		shape, err := n.Shape.Bind(env)
		if err != nil {
			return math.MaxInt64
		}
		per := int64(1)
		switch n.Op {
		case "Gemm", "MatMul", "Conv":
			if w := m.Weights[n.In[1]]; w != nil {
				per = int64(w.Len()) / int64(max(1, shape[1]))
				if n.Op == "MatMul" {
					per = int64(w.Shape[0])
				}
			}
		case "MaxPool", "AveragePool", "GlobalAveragePool":
			per = int64(n.Attr.Kernel[0]) * int64(n.Attr.Kernel[1])
		}
		total += int64(numel(shape)) * per
		if total > 1<<50 {
			return math.MaxInt64
		}
	}
	return total
}
