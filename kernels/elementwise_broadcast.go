package kernels

import (
	"fmt"
	"io"

	"github.com/streamprove/streamprove/field"
	"github.com/streamprove/streamprove/gkr"
	"github.com/streamprove/streamprove/spill"
)

// Broadcasting of elementwise inputs (NumPy rules: shapes aligned on the right, a dimension of 1
// stretched to the output's).
//
// Let Y have shape (d_0, …, d_{k−1}) and an input B the aligned shape (e_0, …, e_{k−1}) with
// e_i ∈ {1, d_i}; call i a broadcast dimension when e_i = 1 < d_i. Y's dimension i owns the
// variables V_i; B's padded shape has the same padded size on the other dimensions and size 1
// (no variables) on the broadcast ones, so B's variables are exactly the V_i of the
// non-broadcast dimensions, in the same order: B's point for a Y point r is the sub-point
// r_B = (r_{V_i})_{i not broadcast}.
//
// The tensor that enters Y's relation is the broadcast B̄ over Y's padded index x:
//
//	B̄(x) = B(x_B) · Π_{i broadcast} [x_{V_i} < d_i]
//
// It equals B's value on every real entry of Y, and it is zero on Y's padding — there either a
// non-broadcast coordinate is in B's padding (zero by the invariant) or a broadcast coordinate
// is past d_i (the indicator) — so the padding of Y stays zero whatever the gate. Since eq
// factors over disjoint sets of variables,
//
//	B̄~(r) = Σ_x eq(r, x)·B(x_B)·Π_i [x_{V_i} < d_i] = B̃(r_B) · Π_{i broadcast} P(r_{V_i}, d_i)
//
// with P(ρ, d) = Σ_{j<d} eq(ρ, j) (field.EqPrefixSum): a claim on B̄ at r is a claim on B at r_B
// scaled by a factor the verifier computes in O(Σ|V_i|). A linear gate sends B̃(r_B) and the
// verifier multiplies by the factor; a sumcheck streams B̄ as a virtual source (B held in RAM,
// charged to the budget: a broadcast operand is small by nature, at most Y's size) and turns
// its final value B̄~(r') into the claim B̃(r'_B) = B̄~(r')/factor(r') (the factor is a non-zero
// polynomial in r', zero only with negligible probability, which both sides refuse).
type bcast struct {
	y    []int // Y's shape
	in   []int // the input's shape aligned to Y's rank (1s on the left)
	dims []int // Y's broadcast dimensions for this input
}

// BroadcastShape returns the NumPy broadcast of shapes, or an error naming the clash.
func BroadcastShape(shapes ...[]int) ([]int, error) {
	rank := 0
	for _, s := range shapes {
		rank = max(rank, len(s))
	}
	out := make([]int, rank)
	for i := range out {
		out[i] = 1
	}
	for _, s := range shapes {
		for j, d := range s {
			i := rank - len(s) + j
			switch {
			case d == out[i] || d == 1:
			case out[i] == 1:
				out[i] = d
			default:
				return nil, fmt.Errorf("shapes %v do not broadcast (dimension %d: %d vs %d)", shapes, i, out[i], d)
			}
		}
	}
	return out, nil
}

// newBcast returns the broadcast of an input of shape in to Y's shape y; nil when the shapes are
// equal (no broadcasting) and an error when in does not broadcast to y.
func newBcast(in, y []int) (*bcast, error) {
	if len(in) > len(y) {
		return nil, fmt.Errorf("shape %v has more dimensions than the output %v", in, y)
	}
	b := &bcast{y: y, in: make([]int, len(y))}
	off := len(y) - len(in)
	for i := range b.in {
		b.in[i] = 1
		if i >= off {
			b.in[i] = in[i-off]
		}
		switch {
		case b.in[i] == y[i]:
		case b.in[i] == 1:
			b.dims = append(b.dims, i)
		default:
			return nil, fmt.Errorf("shape %v does not broadcast to %v", in, y)
		}
	}
	if len(b.dims) == 0 && len(in) == len(y) {
		return nil, nil
	}
	return b, nil
}

func (b *bcast) isBcast(i int) bool {
	for _, d := range b.dims {
		if d == i {
			return true
		}
	}
	return false
}

// subPoint returns r_B: the coordinates of r on the non-broadcast dimensions, in variable order.
func (b *bcast) subPoint(r []field.Element) []field.Element {
	vars := gkr.DimVars(b.y)
	var out []field.Element
	for i := len(b.y) - 1; i >= 0; i-- {
		if !b.isBcast(i) {
			out = append(out, r[vars[i][0]:vars[i][1]]...)
		}
	}
	return out
}

// factor returns Π_{i broadcast} P(r_{V_i}, d_i).
func (b *bcast) factor(r []field.Element) field.Element {
	vars := gkr.DimVars(b.y)
	acc := field.One()
	for _, i := range b.dims {
		p := field.EqPrefixSum(r[vars[i][0]:vars[i][1]], uint64(b.y[i]))
		acc.Mul(&acc, &p)
	}
	return acc
}

// inputClaim turns B̄~(r) = v into the claim B̃(r_B) = v / factor(r).
func (b *bcast) inputClaim(name string, r []field.Element, v field.Element) (gkr.Claim, error) {
	f := b.factor(r)
	if f.IsZero() {
		return gkr.Claim{}, fmt.Errorf("%w: broadcast of %q: degenerate challenge (zero mask factor)", gkr.ErrBadProof, name)
	}
	f.Inverse(&f)
	v.Mul(&v, &f)
	return gkr.Claim{Tensor: name, Point: b.subPoint(r), Value: v}, nil
}

// source returns B̄ as a virtual source over Y's padded index, reading B's padded MLE-order
// source once into RAM (reserved from budget; released when the returned func is called).
func (b *bcast) source(src field.Source, budget *spill.Budget, who string) (field.Source, func(), error) {
	n := src.Len()
	bytes := n * field.Bytes
	if budget != nil {
		if err := budget.Reserve(who, bytes); err != nil {
			return nil, nil, err
		}
	}
	release := func() {
		if budget != nil {
			budget.Release(bytes)
		}
	}
	vals := make([]field.Element, n)
	st, err := src.Open()
	if err == nil {
		err = field.ReadFull(st, vals)
		st.Close()
	}
	if err != nil {
		release()
		return nil, nil, err
	}
	yv := gkr.DimVars(b.y)
	inv := gkr.DimVars(b.in)
	nv := 0
	for _, v := range yv {
		nv = max(nv, v[1])
	}
	return &bcastSource{b: b, vals: vals, yv: yv, inv: inv, len: int64(1) << nv}, release, nil
}

type bcastSource struct {
	b       *bcast
	vals    []field.Element
	yv, inv [][2]int
	len     int64
}

func (s *bcastSource) Len() int64                  { return s.len }
func (s *bcastSource) Open() (field.Stream, error) { return &bcastStream{s: s}, nil }

type bcastStream struct {
	s   *bcastSource
	pos int64
}

func (st *bcastStream) Next(buf []field.Element) (int, error) {
	s := st.s
	rest := s.len - st.pos
	if rest <= 0 {
		return 0, io.EOF
	}
	if int64(len(buf)) > rest {
		buf = buf[:rest]
	}
	for i := range buf {
		p := st.pos + int64(i)
		var q int64
		zero := false
		for d, v := range s.yv {
			k := (p >> v[0]) & (int64(1)<<(v[1]-v[0]) - 1)
			if s.b.in[d] == 1 {
				if k >= int64(s.b.y[d]) {
					zero = true
					break
				}
				continue
			}
			q |= k << s.inv[d][0]
		}
		if zero {
			buf[i].SetZero()
		} else {
			buf[i] = s.vals[q]
		}
	}
	st.pos += int64(len(buf))
	return len(buf), nil
}

func (st *bcastStream) Close() error { return nil }

// realIndexMap maps Y's real row-major index to an input's real row-major index (strides 0 on
// broadcast dimensions), walking Y's coordinates like an odometer.
type realIndexMap struct {
	y, stride, coord []int
	idx              int64
}

func newRealIndexMap(b *bcast) *realIndexMap {
	m := &realIndexMap{y: b.y, stride: make([]int, len(b.y)), coord: make([]int, len(b.y))}
	s := 1
	for i := len(b.y) - 1; i >= 0; i-- {
		if b.in[i] != 1 {
			m.stride[i] = s
			s *= b.in[i]
		}
	}
	return m
}

// next returns the input index of the current Y element and advances to the next one.
func (m *realIndexMap) next() int64 {
	cur := m.idx
	for i := len(m.y) - 1; i >= 0; i-- {
		m.coord[i]++
		m.idx += int64(m.stride[i])
		if m.coord[i] < m.y[i] {
			break
		}
		m.idx -= int64(m.stride[i]) * int64(m.coord[i])
		m.coord[i] = 0
	}
	return cur
}
