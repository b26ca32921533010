package kernels

import (
	"fmt"
	"math/big"
	"slices"

	"github.com/streamprove/streamprove/field"
	"github.com/streamprove/streamprove/gkr"
)

// Transpose is Y = X with its dims permuted, ys[k] = xs[perm[k]] (ONNX Transpose). Every dim
// owns its own block of MLE variables (its padded size's log), and a permutation of dims is the
// same permutation of those blocks: a claim Ỹ(ρ) = v is the claim X̃(ρ') = v with ρ' the blocks
// of ρ put back in X's order — no message, no pass in the proof. Y's padding is X's padding
// moved with its dim, so it stays zero.
//
// The forward pass is the only cost: Y is written in windows of as many elements as the
// budget holds, each filled by one pass over X (one pass when Y fits).
type Transpose struct {
	name, x, y string
	perm       []int
}

// NewTranspose returns the transpose of X by perm (ys[k] = xs[perm[k]]).
func NewTranspose(name, x, y string, perm []int) *Transpose {
	return &Transpose{name: name, x: x, y: y, perm: slices.Clone(perm)}
}

// TransposeShape returns X's shape permuted by perm, checking perm is a permutation.
func TransposeShape(xs, perm []int) ([]int, error) {
	if len(perm) != len(xs) {
		return nil, fmt.Errorf("perm %v has %d entries for a tensor of %d dims", perm, len(perm), len(xs))
	}
	seen := make([]bool, len(xs))
	out := make([]int, len(xs))
	for k, j := range perm {
		if j < 0 || j >= len(xs) || seen[j] {
			return nil, fmt.Errorf("perm %v is not a permutation of 0..%d", perm, len(xs)-1)
		}
		seen[j] = true
		out[k] = xs[j]
	}
	return out, nil
}

// Name returns the node name.
func (t *Transpose) Name() string { return t.name }

// Inputs returns X.
func (t *Transpose) Inputs() []string { return []string{t.x} }

// Outputs returns Y.
func (t *Transpose) Outputs() []string { return []string{t.y} }

// Describe encodes the op for the graph digest.
func (t *Transpose) Describe() []byte {
	a := make([]int64, len(t.perm))
	for i, p := range t.perm {
		a[i] = int64(p)
	}
	return describe("transpose/1", a...)
}

func (t *Transpose) check(g *gkr.Graph) error {
	xi, yi := g.Tensors[t.x], g.Tensors[t.y]
	if xi == nil || yi == nil {
		return fmt.Errorf("%w: node %s: a tensor is not declared", gkr.ErrGraph, t.name)
	}
	want, err := TransposeShape(xi.Shape, t.perm)
	if err != nil {
		return fmt.Errorf("%w: node %s: %v", gkr.ErrGraph, t.name, err)
	}
	if !slices.Equal(want, yi.Shape) {
		return fmt.Errorf("%w: node %s: output %q has shape %v, want %v", gkr.ErrGraph, t.name, t.y, yi.Shape, want)
	}
	return nil
}

// Estimate: nothing in the proof.
func (t *Transpose) Estimate(g *gkr.Graph) gkr.Estimate { return gkr.Estimate{} }

// Prove moves the claim's variable blocks back to X's dims.
func (t *Transpose) Prove(pc *gkr.ProveCtx, out []gkr.Claim) ([]gkr.Claim, error) {
	return t.claims(pc.Graph, out)
}

// Verify moves the claim's variable blocks back to X's dims.
func (t *Transpose) Verify(vc *gkr.VerifyCtx, out []gkr.Claim) ([]gkr.Claim, error) {
	return t.claims(vc.Graph, out)
}

func (t *Transpose) claims(g *gkr.Graph, out []gkr.Claim) ([]gkr.Claim, error) {
	if err := t.check(g); err != nil {
		return nil, err
	}
	xs, ys := g.Tensors[t.x].Shape, g.Tensors[t.y].Shape
	rd := dimPoints(ys, out[0].Point)
	xd := make([][]field.Element, len(xs))
	for k, j := range t.perm {
		xd[j] = rd[k]
	}
	pt := make([]field.Element, 0, len(out[0].Point))
	for j := len(xs) - 1; j >= 0; j-- {
		pt = append(pt, xd[j]...)
	}
	return []gkr.Claim{{Tensor: t.x, Point: pt, Value: out[0].Value}}, nil
}

// OutBound is X's bound.
func (t *Transpose) OutBound(g *gkr.Graph, in []*big.Int) (*big.Int, error) {
	return new(big.Int).Set(in[0]), nil
}

// Forward writes Y in windows of real row-major indices; each window is one pass over X that
// drops every element whose Y index falls in the window into place.
func (t *Transpose) Forward(fc *ForwardCtx) error {
	if err := t.check(fc.Graph); err != nil {
		return err
	}
	w, _, err := fc.create(t, t.y)
	if err != nil {
		return err
	}
	if err := t.forward(fc, w.WriteInt64s); err != nil {
		w.Abort()
		return fmt.Errorf("node %s: %w", t.name, err)
	}
	return commit(t, w)
}

func (t *Transpose) forward(fc *ForwardCtx, write func([]int64) error) error {
	xs, ys := fc.Graph.Tensors[t.x].Shape, fc.Graph.Tensors[t.y].Shape
	n := gkr.Numel(xs)
	chunk := int64(fc.chunk())
	win := n
	if fc.Budget != nil {
		// half of what is left, at least one chunk: the window is the only buffer that grows
		win = max(min(n, (fc.Budget.Available()/2)/8-chunk), min(n, chunk))
	}
	release, err := fc.reserve("transpose window of "+t.name, (win+chunk)*8)
	if err != nil {
		return err
	}
	defer release()
	// stride in Y of each X dim
	ystr := make([]int64, len(ys))
	s := int64(1)
	for k := len(ys) - 1; k >= 0; k-- {
		ystr[k] = s
		s *= int64(ys[k])
	}
	xstr := make([]int64, len(xs))
	for k, j := range t.perm {
		xstr[j] = ystr[k]
	}
	out := make([]int64, win)
	buf := make([]int64, min(chunk, n))
	idx := make([]int, len(xs))
	for lo := int64(0); lo < n; lo += win {
		hi := min(lo+win, n)
		next, done, err := openInt64s(fc.Store, t.x)
		if err != nil {
			return err
		}
		clear(idx)
		var yi int64
		for off := int64(0); off < n; off += int64(len(buf)) {
			m := int(min(int64(len(buf)), n-off))
			if err := next(buf[:m]); err != nil {
				done()
				return fmt.Errorf("input %q at %d: %w", t.x, off, err)
			}
			for _, v := range buf[:m] {
				if yi >= lo && yi < hi {
					out[yi-lo] = v
				}
				for k := len(idx) - 1; k >= 0; k-- {
					idx[k]++
					yi += xstr[k]
					if idx[k] < xs[k] {
						break
					}
					yi -= int64(xs[k]) * xstr[k]
					idx[k] = 0
				}
			}
		}
		done()
		if err := write(out[:hi-lo]); err != nil {
			return err
		}
	}
	return nil
}

var _ Kernel = (*Transpose)(nil)

// Slice is Y = X[start_0:end_0:step_0, …, start_k:end_k:step_k] (ONNX Slice with positive
// steps, after its starts, ends and axes are normalized to one [start, end) and step per dim).
// Y reads X at x_d = start_d + step_d·y_d, so
//
//	Ỹ(r) = Σ_x X(x)·Π_d P_d(r_d, x_d),  P_d = [x_d = step_d·y_d + start_d]·[y_d < len_d]
//
// for a cut dim and P_d = eq for a dim kept whole: one degree-2 sumcheck over X's variables
// (mapClaim), P streamed as a virtual source from one small table per dim, its value at the
// bound point computed by the verifier with the affine automaton of conv (whose strides are the
// same x = s·y + c relation; O(bits) per dim). The result is a claim on X. A slice whose box is
// all of X with steps 1 is a relabeling and costs nothing. Negative steps (a reversal) are not
// supported: the forward pass streams X once in order.
//
// Padding: Y's padded positions (y_d ≥ its length) get P = 0 through the comparator, so the
// prover's Y, which the forward pass writes with zero padding, is the one the proof speaks about;
// X's own padding is never read (every x = step·y + start with y < len is real).
type Slice struct {
	name, x, y  string
	starts, end []int
	steps       []int // ≥ 1 per dim
}

// NewSlice returns the slice X[starts[d]:ends[d]:steps[d]] over every dim d; nil steps are all 1.
func NewSlice(name, x, y string, starts, ends, steps []int) *Slice {
	if steps == nil {
		steps = make([]int, len(starts))
		for d := range steps {
			steps[d] = 1
		}
	}
	return &Slice{name: name, x: x, y: y, starts: slices.Clone(starts), end: slices.Clone(ends), steps: slices.Clone(steps)}
}

// SliceShape checks the box and steps (nil: all 1) against X's shape and returns Y's shape.
func SliceShape(xs, starts, ends, steps []int) ([]int, error) {
	if len(starts) != len(xs) || len(ends) != len(xs) || steps != nil && len(steps) != len(xs) {
		return nil, fmt.Errorf("slice of a %d-dim tensor given %d starts, %d ends and %d steps", len(xs), len(starts), len(ends), len(steps))
	}
	out := make([]int, len(xs))
	for d := range xs {
		step := 1
		if steps != nil {
			step = steps[d]
		}
		if step < 1 {
			return nil, fmt.Errorf("dim %d: step %d (want ≥ 1: negative steps are not supported)", d, step)
		}
		if starts[d] < 0 || ends[d] > xs[d] || starts[d] >= ends[d] {
			return nil, fmt.Errorf("dim %d: slice [%d, %d) is empty or outside [0, %d)", d, starts[d], ends[d], xs[d])
		}
		out[d] = (ends[d] - starts[d] + step - 1) / step
	}
	return out, nil
}

// Name returns the node name.
func (s *Slice) Name() string { return s.name }

// Inputs returns X.
func (s *Slice) Inputs() []string { return []string{s.x} }

// Outputs returns Y.
func (s *Slice) Outputs() []string { return []string{s.y} }

// Describe encodes the op for the graph digest.
func (s *Slice) Describe() []byte {
	var a []int64
	stepped := false
	for d := range s.starts {
		a = append(a, int64(s.starts[d]), int64(s.end[d]))
		stepped = stepped || s.steps[d] != 1
	}
	if !stepped {
		return describe("slice/1", a...)
	}
	for _, st := range s.steps {
		a = append(a, int64(st))
	}
	return describe("slice/2", a...)
}

func (s *Slice) indexMap(g *gkr.Graph) (*indexMap, error) {
	xi, yi := g.Tensors[s.x], g.Tensors[s.y]
	if xi == nil || yi == nil {
		return nil, fmt.Errorf("%w: node %s: a tensor is not declared", gkr.ErrGraph, s.name)
	}
	want, err := SliceShape(xi.Shape, s.starts, s.end, s.steps)
	if err != nil {
		return nil, fmt.Errorf("%w: node %s: %v", gkr.ErrGraph, s.name, err)
	}
	if !slices.Equal(want, yi.Shape) {
		return nil, fmt.Errorf("%w: node %s: output %q has shape %v, want %v", gkr.ErrGraph, s.name, s.y, yi.Shape, want)
	}
	m := &indexMap{xs: xi.Shape, ys: yi.Shape}
	xb, yb := dimBits(xi.Shape), dimBits(yi.Shape)
	for d := range want {
		switch {
		case want[d] == xi.Shape[d]:
			m.groups = append(m.groups, identityGroup(d))
		case s.steps[d] == 1:
			m.groups = append(m.groups, shiftGroup(d, yb[d], xb[d], s.starts[d], 0, want[d], xi.Shape[d]))
		default:
			m.groups = append(m.groups, strideGroup(d, yb[d], xb[d], s.starts[d], s.steps[d], want[d], xi.Shape[d]))
		}
	}
	return m, nil
}

// Estimate: the per-dim tables; X streamed by the sumcheck.
func (s *Slice) Estimate(g *gkr.Graph) gkr.Estimate {
	m, err := s.indexMap(g)
	if err != nil {
		return gkr.Estimate{}
	}
	return mapEstimate(m)
}

// Prove reduces the claim on Y to one on X.
func (s *Slice) Prove(pc *gkr.ProveCtx, out []gkr.Claim) ([]gkr.Claim, error) {
	return s.protocol(pc.Party(), out)
}

// Verify checks the slice's sumcheck and returns the claim on X.
func (s *Slice) Verify(vc *gkr.VerifyCtx, out []gkr.Claim) ([]gkr.Claim, error) {
	return s.protocol(vc.Party(), out)
}

func (s *Slice) protocol(p *gkr.Party, out []gkr.Claim) ([]gkr.Claim, error) {
	m, err := s.indexMap(p.Graph())
	if err != nil {
		return nil, err
	}
	c, err := mapClaim(p, s.name, s.x, m, out[0])
	if err != nil {
		return nil, err
	}
	return []gkr.Claim{c}, nil
}

// OutBound is X's bound.
func (s *Slice) OutBound(g *gkr.Graph, in []*big.Int) (*big.Int, error) {
	return new(big.Int).Set(in[0]), nil
}

// Forward streams X once and writes the elements the slice reads, in order.
func (s *Slice) Forward(fc *ForwardCtx) error {
	if _, err := s.indexMap(fc.Graph); err != nil {
		return err
	}
	w, _, err := fc.create(s, s.y)
	if err != nil {
		return err
	}
	if err := s.forward(fc, w.WriteInt64s); err != nil {
		w.Abort()
		return fmt.Errorf("node %s: %w", s.name, err)
	}
	return commit(s, w)
}

func (s *Slice) forward(fc *ForwardCtx, write func([]int64) error) error {
	xs := fc.Graph.Tensors[s.x].Shape
	n := gkr.Numel(xs)
	chunk := min(int64(fc.chunk()), n)
	release, err := fc.reserve("slice buffers of "+s.name, 2*chunk*8)
	if err != nil {
		return err
	}
	defer release()
	next, done, err := openInt64s(fc.Store, s.x)
	if err != nil {
		return err
	}
	defer done()
	buf, out := make([]int64, chunk), make([]int64, 0, chunk)
	idx := make([]int, len(xs))
	inside := func(d, i int) bool { return i >= s.starts[d] && i < s.end[d] && (i-s.starts[d])%s.steps[d] == 0 }
	outside := 0 // dims whose index is not one the slice reads
	for d := range xs {
		if !inside(d, idx[d]) {
			outside++
		}
	}
	for off := int64(0); off < n; off += chunk {
		m := int(min(chunk, n-off))
		if err := next(buf[:m]); err != nil {
			return fmt.Errorf("input %q at %d: %w", s.x, off, err)
		}
		for _, v := range buf[:m] {
			if outside == 0 {
				out = append(out, v)
				if len(out) == cap(out) {
					if err := write(out); err != nil {
						return err
					}
					out = out[:0]
				}
			}
			for k := len(idx) - 1; k >= 0; k-- {
				in := inside(k, idx[k])
				idx[k]++
				if idx[k] == xs[k] {
					idx[k] = 0
				}
				now := inside(k, idx[k])
				if in && !now {
					outside++
				} else if !in && now {
					outside--
				}
				if idx[k] != 0 {
					break
				}
			}
		}
	}
	if len(out) > 0 {
		return write(out)
	}
	return nil
}

var _ Kernel = (*Slice)(nil)

// Concat is Y = concat(X_1, …, X_k) along axis (ONNX Concat): every input has Y's shape but
// along axis, where part i holds Y's indices [off_i, off_i + n_i). Ỹ splits into the parts,
//
//	Ỹ(r) = Σ_i Σ_x X_i(x)·P_i(r, x),  P_i = [y_axis = x_axis + off_i]·[x_axis < n_i] · eq(others),
//
// so the prover sends the k partial sums v_i, the verifier checks Σ v_i = Ỹ(r), and each v_i is
// reduced to a claim on X_i by one sumcheck over X_i's variables (mapClaim, the same shifted
// predicate as Slice). Padding: P_i vanishes on X_i's padding (the comparator) and maps every
// real x into the real range of Y's axis, so Y's padding, which the forward pass writes zero, is
// never the image of a part.
//
// A cheaper form exists when every part's axis length is a power of two and the offsets are
// multiples of them (then a part is a fixed setting of Y's high axis variables and its claim is
// Ỹ's point with those bits: no sumcheck); it is not implemented.
type Concat struct {
	name string
	xs   []string
	y    string
	axis int
}

// NewConcat returns the concatenation of xs along axis.
func NewConcat(name string, xs []string, y string, axis int) *Concat {
	return &Concat{name: name, xs: slices.Clone(xs), y: y, axis: axis}
}

// ConcatShape checks the parts' shapes and returns Y's.
func ConcatShape(shapes [][]int, axis int) ([]int, error) {
	if len(shapes) == 0 {
		return nil, fmt.Errorf("concat of no tensors")
	}
	r := len(shapes[0])
	if axis < 0 || axis >= r {
		return nil, fmt.Errorf("axis %d out of range for %d dims", axis, r)
	}
	out := slices.Clone(shapes[0])
	for i, s := range shapes[1:] {
		if len(s) != r {
			return nil, fmt.Errorf("input %d has %d dims, input 0 has %d", i+1, len(s), r)
		}
		for d := range s {
			if d != axis && s[d] != out[d] {
				return nil, fmt.Errorf("input %d has shape %v, which differs from %v outside axis %d", i+1, s, shapes[0], axis)
			}
		}
		out[axis] += s[axis]
	}
	return out, nil
}

// Name returns the node name.
func (c *Concat) Name() string { return c.name }

// Inputs returns the parts.
func (c *Concat) Inputs() []string { return slices.Clone(c.xs) }

// Outputs returns Y.
func (c *Concat) Outputs() []string { return []string{c.y} }

// Describe encodes the op for the graph digest.
func (c *Concat) Describe() []byte { return describe("concat/1", int64(c.axis), int64(len(c.xs))) }

func (c *Concat) maps(g *gkr.Graph) ([]*indexMap, error) {
	yi := g.Tensors[c.y]
	shapes := make([][]int, len(c.xs))
	for i, x := range c.xs {
		xi := g.Tensors[x]
		if xi == nil {
			return nil, fmt.Errorf("%w: node %s: input %q is not declared", gkr.ErrGraph, c.name, x)
		}
		shapes[i] = xi.Shape
	}
	if yi == nil {
		return nil, fmt.Errorf("%w: node %s: output %q is not declared", gkr.ErrGraph, c.name, c.y)
	}
	want, err := ConcatShape(shapes, c.axis)
	if err != nil {
		return nil, fmt.Errorf("%w: node %s: %v", gkr.ErrGraph, c.name, err)
	}
	if !slices.Equal(want, yi.Shape) {
		return nil, fmt.Errorf("%w: node %s: output %q has shape %v, want %v", gkr.ErrGraph, c.name, c.y, yi.Shape, want)
	}
	yb := dimBits(want)
	ms := make([]*indexMap, len(c.xs))
	off := 0
	for i, s := range shapes {
		m := &indexMap{xs: s, ys: want}
		xb := dimBits(s)
		for d := range s {
			if d != c.axis {
				m.groups = append(m.groups, identityGroup(d))
				continue
			}
			m.groups = append(m.groups, shiftGroup(d, yb[d], xb[d], 0, off, want[d], s[d]))
		}
		off += s[c.axis]
		ms[i] = m
	}
	return ms, nil
}

// Estimate: one part's tables at a time; every part streamed by its sumcheck and once for
// its partial sum.
func (c *Concat) Estimate(g *gkr.Graph) gkr.Estimate {
	ms, err := c.maps(g)
	if err != nil {
		return gkr.Estimate{}
	}
	var e gkr.Estimate
	for _, m := range ms {
		me := mapEstimate(m)
		e.TableBytes = max(e.TableBytes, me.TableBytes)
		e.StreamBytes += me.StreamBytes * 3 / 2
	}
	return e
}

// Prove sends the parts' sums and reduces each to a claim on its input.
func (c *Concat) Prove(pc *gkr.ProveCtx, out []gkr.Claim) ([]gkr.Claim, error) {
	return c.protocol(pc.Party(), out)
}

// Verify checks the parts' sums and their sumchecks.
func (c *Concat) Verify(vc *gkr.VerifyCtx, out []gkr.Claim) ([]gkr.Claim, error) {
	return c.protocol(vc.Party(), out)
}

func (c *Concat) protocol(p *gkr.Party, out []gkr.Claim) ([]gkr.Claim, error) {
	ms, err := c.maps(p.Graph())
	if err != nil {
		return nil, err
	}
	r := out[0].Point
	parts, err := p.Message("concat/parts", len(ms), func() ([]field.Element, error) {
		pc := p.Prover()
		vs := make([]field.Element, len(ms))
		for i, m := range ms {
			xsrc, err := pc.Source(c.xs[i])
			if err != nil {
				return nil, err
			}
			psrc, release, err := m.source(r, pc.Budget())
			if err != nil {
				return nil, err
			}
			vs[i], err = innerProduct(xsrc, psrc, min(xsrc.Len(), 1<<14))
			release()
			if err != nil {
				return nil, fmt.Errorf("node %s: part %q: %w", c.name, c.xs[i], err)
			}
		}
		return vs, nil
	})
	if err != nil {
		return nil, err
	}
	var sum field.Element
	for i := range parts {
		sum.Add(&sum, &parts[i])
	}
	// the verifier's check (a prover fed a wrong Y still sends its honest parts, so that the
	// verifier is the one who rejects)
	if p.Verifying() && !sum.Equal(&out[0].Value) {
		return nil, fmt.Errorf("%w: node %s: the parts' sums do not add up to the claim on %q", gkr.ErrBadProof, c.name, c.y)
	}
	cs := make([]gkr.Claim, len(ms))
	for i, m := range ms {
		cs[i], err = mapClaim(p, c.name, c.xs[i], m, gkr.Claim{Tensor: c.y, Point: r, Value: parts[i]})
		if err != nil {
			return nil, err
		}
	}
	return cs, nil
}

// innerProduct streams two sources of one length together: Σ a[i]·b[i].
func innerProduct(a, b field.Source, chunk int64) (field.Element, error) {
	if a.Len() != b.Len() {
		return field.Element{}, fmt.Errorf("sources of %d and %d elements", a.Len(), b.Len())
	}
	sa, err := a.Open()
	if err != nil {
		return field.Element{}, err
	}
	defer sa.Close()
	sb, err := b.Open()
	if err != nil {
		return field.Element{}, err
	}
	defer sb.Close()
	ba, bb := make([]field.Element, chunk), make([]field.Element, chunk)
	var acc field.Element
	for off := int64(0); off < a.Len(); off += chunk {
		m := min(chunk, a.Len()-off)
		if err := field.ReadFull(sa, ba[:m]); err != nil {
			return field.Element{}, err
		}
		if err := field.ReadFull(sb, bb[:m]); err != nil {
			return field.Element{}, err
		}
		v := field.InnerProduct(ba[:m], bb[:m])
		acc.Add(&acc, &v)
	}
	return acc, nil
}

// OutBound is the largest of the parts' bounds.
func (c *Concat) OutBound(g *gkr.Graph, in []*big.Int) (*big.Int, error) {
	b := new(big.Int)
	for _, x := range in {
		if x.Cmp(b) > 0 {
			b.Set(x)
		}
	}
	return b, nil
}

// Forward reads the parts side by side: for each index of the dims before axis, the next
// n_i·inner elements of each part in turn.
func (c *Concat) Forward(fc *ForwardCtx) error {
	if _, err := c.maps(fc.Graph); err != nil {
		return err
	}
	w, _, err := fc.create(c, c.y)
	if err != nil {
		return err
	}
	if err := c.forward(fc, w.WriteInt64s); err != nil {
		w.Abort()
		return fmt.Errorf("node %s: %w", c.name, err)
	}
	return commit(c, w)
}

func (c *Concat) forward(fc *ForwardCtx, write func([]int64) error) error {
	ys := fc.Graph.Tensors[c.y].Shape
	outer, inner := gkr.Numel(ys[:c.axis]), gkr.Numel(ys[c.axis+1:])
	chunk := int64(fc.chunk())
	release, err := fc.reserve("concat buffer of "+c.name, chunk*8)
	if err != nil {
		return err
	}
	defer release()
	nexts := make([]func([]int64) error, len(c.xs))
	for i, x := range c.xs {
		next, done, err := openInt64s(fc.Store, x)
		if err != nil {
			return err
		}
		defer done()
		nexts[i] = next
	}
	buf := make([]int64, chunk)
	for o := int64(0); o < outer; o++ {
		for i, x := range c.xs {
			n := int64(fc.Graph.Tensors[x].Shape[c.axis]) * inner
			for off := int64(0); off < n; off += chunk {
				m := min(chunk, n-off)
				if err := nexts[i](buf[:m]); err != nil {
					return fmt.Errorf("input %q: %w", x, err)
				}
				if err := write(buf[:m]); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

var _ Kernel = (*Concat)(nil)
