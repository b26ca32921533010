package kernels

import (
	"fmt"
	"io"

	"github.com/streamprove/streamprove/field"
	"github.com/streamprove/streamprove/gkr"
)

// Broadcasting, padding masks and per-axis constants over padded tensors.
//
// A tensor of shape (d_0, …, d_{k−1}) lives in its padded shape (D_0, …, D_{k−1}), D_i the next
// power of two, and dimension i owns the MLE variables V_i (gkr.DimVars; the last dimension the
// lowest). The padding mask, 1 on real entries and 0 on padding, is the product over dimensions of
// the indicator of [0, d_i) in D_i, so its MLE at r is
//
//	mask~(r) = Π_i P(r_{V_i}, d_i),    P(ρ, d) = Σ_{j<d} eq(ρ, j)   (field.EqPrefixSum, O(|V_i|)).
//
// A vector c of length d_a indexed by the coordinate along one axis a, broadcast to the whole
// tensor without a mask (its value at a padded index depends on that coordinate alone, and is 0
// for coordinates ≥ d_a), has the MLE c̃(r_{V_a}): the eq factors of the other dimensions sum to
// 1 over their hypercubes. The verifier evaluates it in O(d_a) from the vector itself.

// maskMLE returns the MLE at r of the padding mask of shape.
func maskMLE(shape []int, r []field.Element) field.Element {
	acc := field.One()
	for i, v := range gkr.DimVars(shape) {
		p := field.EqPrefixSum(r[v[0]:v[1]], uint64(shape[i]))
		acc.Mul(&acc, &p)
	}
	return acc
}

// axisMLE returns c̃(r_{V_axis}) for the vector c (len ≤ the padded dimension) along axis.
func axisMLE(shape []int, axis int, c []field.Element, r []field.Element) field.Element {
	v := gkr.DimVars(shape)[axis]
	pad := make([]field.Element, 1<<(v[1]-v[0]))
	copy(pad, c)
	out, _ := field.EvalSlice(pad, r[v[0]:v[1]], nil)
	return out
}

// axisSource is the virtual tensor z_i = x_i·c[coord_axis(i)] + h·mask(i) over shape's padded
// index (x nil: z_i = c[coord_axis(i)] + h·mask(i)). With len(c) = 1 the constant c[0] applies
// everywhere. It streams x once per pass and holds nothing witness-sized.
type axisSource struct {
	x     field.Source
	shape []int
	axis  int
	c     []field.Element
	h     field.Element
	len   int64
}

func newAxisSource(x field.Source, shape []int, axis int, c []field.Element, h field.Element) *axisSource {
	n := 0
	for _, v := range gkr.DimVars(shape) {
		n = max(n, v[1])
	}
	return &axisSource{x: x, shape: shape, axis: axis, c: c, h: h, len: int64(1) << n}
}

func (s *axisSource) Len() int64 { return s.len }

// StreamBytes is the least a stream of the source holds: its input's field stream (a lookup
// sizes its working set with it, see streamBytes).
func (s *axisSource) StreamBytes(bool) int64 {
	if x, ok := s.x.(interface{ StreamBytes(bool) int64 }); ok {
		return x.StreamBytes(false)
	}
	return 0
}

func (s *axisSource) Open() (field.Stream, error) {
	st := &axisStream{s: s, dims: gkr.DimVars(s.shape)}
	if s.x != nil {
		if s.x.Len() != s.len {
			return nil, fmt.Errorf("axis source: input has %d elements, want %d", s.x.Len(), s.len)
		}
		xs, err := s.x.Open()
		if err != nil {
			return nil, err
		}
		st.xs = xs
	}
	return st, nil
}

type axisStream struct {
	s    *axisSource
	dims [][2]int
	xs   field.Stream
	pos  int64
}

func (st *axisStream) Next(buf []field.Element) (int, error) {
	s := st.s
	rest := s.len - st.pos
	if rest <= 0 {
		return 0, io.EOF
	}
	if int64(len(buf)) > rest {
		buf = buf[:rest]
	}
	if st.xs != nil {
		if err := field.ReadFull(st.xs, buf); err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return 0, err
		}
	}
	av := st.dims[s.axis]
	amask := int64(1)<<(av[1]-av[0]) - 1
	addH := !s.h.IsZero()
	for i := range buf {
		p := st.pos + int64(i)
		c := &s.c[0]
		if len(s.c) > 1 {
			k := (p >> av[0]) & amask
			if k >= int64(len(s.c)) {
				buf[i].SetZero()
				continue
			}
			c = &s.c[k]
		}
		if st.xs != nil {
			buf[i].Mul(&buf[i], c)
		} else {
			buf[i] = *c
		}
		if addH && st.real(p) {
			buf[i].Add(&buf[i], &s.h)
		}
	}
	st.pos += int64(len(buf))
	return len(buf), nil
}

// real reports whether padded index p is a real entry of the shape.
func (st *axisStream) real(p int64) bool {
	for d, v := range st.dims {
		k := (p >> v[0]) & (int64(1)<<(v[1]-v[0]) - 1)
		if k >= int64(st.s.shape[d]) {
			return false
		}
	}
	return true
}

func (st *axisStream) Close() error {
	if st.xs != nil {
		return st.xs.Close()
	}
	return nil
}

// viewWitness serves a few virtual tensors by name and everything else from the run's witness.
type viewWitness struct {
	gkr.Witness
	virt map[string]field.Source
}

func (w *viewWitness) Source(name string) (field.Source, error) {
	if s, ok := w.virt[name]; ok {
		return s, nil
	}
	return w.Witness.Source(name)
}

// graphWith returns a shallow copy of g that also declares the given virtual tensors (so that the
// lookup core, which checks its tensors' shapes in the graph, sees them). The virtual names must
// not clash with declared tensors.
func graphWith(g *gkr.Graph, node string, virt ...gkr.TensorInfo) (*gkr.Graph, error) {
	v := *g
	v.Tensors = make(map[string]*gkr.TensorInfo, len(g.Tensors)+len(virt))
	for k, t := range g.Tensors {
		v.Tensors[k] = t
	}
	for i := range virt {
		if _, clash := g.Tensors[virt[i].Name]; clash {
			return nil, fmt.Errorf("%w: node %s: tensor %q is reserved for the node's virtual product", gkr.ErrGraph, node, virt[i].Name)
		}
		v.Tensors[virt[i].Name] = &virt[i]
	}
	return &v, nil
}
