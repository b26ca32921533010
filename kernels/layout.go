package kernels

import (
	"fmt"
	"math/big"
	"slices"

	"github.com/streamprove/streamprove/field"
	"github.com/streamprove/streamprove/gkr"
)

// Reshape is a layout op that is a relabeling of MLE variables: Y has another shape but the
// same padded vector as X, so a claim Ỹ(ρ) = v is the claim X̃(ρ) = v — no sumcheck, no message,
// no pass over any tensor in the proof (kernels-and-zk.md §0.2, §3).
//
// Two forms:
//
//   - reshape/flatten to a shape whose padded layout equals X's (ReshapeFree reports when): dims
//     merged into one must all be powers of two except the outermost of each merged group (and a
//     split d → (d1, d2) needs d2 a power of two); size-1 dims are free.
//
//   - a padded flatten, X [d_0, …, d_{a−1}, d_a, …, d_k] → Y [d_0, …, d_{a−1}, d_a·D_{a+1}⋯D_k] with
//     D the padded sizes: X's inner padding becomes real zeros of Y. This is the flatten in front
//     of a linear layer whose weight columns the importer lays out in the same padded order (the
//     Flatten → Linear absorption of kernels-and-zk.md §3 (ii)); it costs the weight the padding
//     ratio (VGG's 512×7×7 → 512×8×8) and the prover nothing.
//
//   - a reshape that changes the padding ([3, 5] → [15], [N, C, 7, 7] → [N, 49·C]): Y[y] = X[x] where
//     the real row-major indices agree, and Ỹ(r) = Σ_x X(x)·P(r, x) with P the relabeling
//     predicate, one factor per run of dims whose products agree (ReshapeFree's groups):
//     [Σ y_k·B_k = Σ x_k·A_k] (B, A the real strides in the run) times a comparator per real range.
//     One degree-2 sumcheck over X's variables (mapClaim in layout_map.go) yields a claim on X;
//     the verifier evaluates P at the bound point with conv's carry automaton, in
//     O(bits · Σ strides · 2^dims) — a run whose strides make that too large (maxMapWork) is
//     refused with an error saying so. Padding: P is zero unless both y and x are real, so Y's
//     padding (written zero by the forward pass) is never the image of an element of X.
//
// The forward pass writes Y as a sequential copy of X (a store alias would avoid the copy).
type Reshape struct {
	name, x, y string
	padded     bool
	axis       int // padded flatten: the first merged dim
}

// repad returns the index map of a reshape that changes the padding (nil when the reshape is a
// relabeling).
func (r *Reshape) repad(g *gkr.Graph) (*indexMap, error) {
	if err := r.check(g); err != nil {
		return nil, err
	}
	xi, yi := g.Tensors[r.x], g.Tensors[r.y]
	if r.padded || ReshapeFree(xi.Shape, yi.Shape) == nil {
		return nil, nil
	}
	gs, err := reshapeGroups(xi.Shape, yi.Shape)
	if err != nil {
		return nil, fmt.Errorf("%w: node %s: %v", gkr.ErrGraph, r.name, err)
	}
	m := &indexMap{xs: xi.Shape, ys: yi.Shape, groups: gs}
	if w := m.work(); w > maxMapWork {
		return nil, fmt.Errorf("%w: node %s: reshape %v → %v changes the padding and its relabeling predicate would cost the verifier %d automaton steps (limit %d): split the reshape so each merged run has smaller strides", gkr.ErrGraph, r.name, xi.Shape, yi.Shape, w, maxMapWork)
	}
	return m, nil
}

// NewReshape returns a relabeling reshape (checked against the shapes when the graph is known).
func NewReshape(name, x, y string) *Reshape { return &Reshape{name: name, x: x, y: y} }

// NewPaddedFlatten returns the padded flatten of X's dims from axis on.
func NewPaddedFlatten(name, x, y string, axis int) *Reshape {
	return &Reshape{name: name, x: x, y: y, padded: true, axis: axis}
}

// ReshapeFree reports whether reshaping shape xs to ys keeps the padded MLE vector, and if not
// says why.
func ReshapeFree(xs, ys []int) error {
	if gkr.Numel(xs) != gkr.Numel(ys) {
		return fmt.Errorf("shapes %v and %v have different sizes", xs, ys)
	}
	strip := func(s []int) []int {
		var out []int
		for _, d := range s {
			if d != 1 {
				out = append(out, d)
			}
		}
		return out
	}
	a, b := strip(xs), strip(ys)
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		// one group: the shortest runs a[i:i2], b[j:j2] with equal products
		i2, j2 := i+1, j+1
		pa, pb := int64(a[i]), int64(b[j])
		for pa != pb {
			if pa < pb {
				pa *= int64(a[i2])
				i2++
			} else {
				pb *= int64(b[j2])
				j2++
			}
		}
		for _, run := range [][]int{a[i+1 : i2], b[j+1 : j2]} {
			for _, d := range run {
				if !isPow2(d) {
					return fmt.Errorf("reshape %v → %v changes the padded layout: dim %d is merged below another dim and is not a power of two (a repad sumcheck, or a padded flatten)", xs, ys, d)
				}
			}
		}
		i, j = i2, j2
	}
	return nil
}

// PaddedFlattenShape is the output shape of a padded flatten from axis.
func PaddedFlattenShape(xs []int, axis int) ([]int, error) {
	if axis < 0 || axis >= len(xs) {
		return nil, fmt.Errorf("axis %d out of range for shape %v", axis, xs)
	}
	inner := int64(xs[axis])
	for _, d := range xs[axis+1:] {
		inner *= field.NextPow2(int64(d))
	}
	if inner > 1<<40 {
		return nil, fmt.Errorf("flattened dim of %d elements is too large", inner)
	}
	return append(slices.Clone(xs[:axis]), int(inner)), nil
}

// Name returns the node name.
func (r *Reshape) Name() string { return r.name }

// Inputs returns X.
func (r *Reshape) Inputs() []string { return []string{r.x} }

// Outputs returns Y.
func (r *Reshape) Outputs() []string { return []string{r.y} }

// Describe encodes the op for the graph digest (the shapes are in the graph).
func (r *Reshape) Describe() []byte {
	if r.padded {
		return describe("flatten_padded/1", int64(r.axis))
	}
	return describe("reshape/1")
}

func (r *Reshape) check(g *gkr.Graph) error {
	xi, yi := g.Tensors[r.x], g.Tensors[r.y]
	if xi == nil || yi == nil {
		return fmt.Errorf("%w: node %s: a tensor is not declared", gkr.ErrGraph, r.name)
	}
	if r.padded {
		want, err := PaddedFlattenShape(xi.Shape, r.axis)
		if err != nil {
			return fmt.Errorf("%w: node %s: %v", gkr.ErrGraph, r.name, err)
		}
		if !slices.Equal(want, yi.Shape) {
			return fmt.Errorf("%w: node %s: output %q has shape %v, want %v", gkr.ErrGraph, r.name, r.y, yi.Shape, want)
		}
		if xi.NumVars() != yi.NumVars() {
			return fmt.Errorf("%w: node %s: %v and %v have different padded sizes", gkr.ErrGraph, r.name, xi.Shape, yi.Shape)
		}
	} else if gkr.Numel(xi.Shape) != gkr.Numel(yi.Shape) {
		return fmt.Errorf("%w: node %s: shapes %v and %v have different sizes", gkr.ErrGraph, r.name, xi.Shape, yi.Shape)
	} else if ReshapeFree(xi.Shape, yi.Shape) == nil && xi.NumVars() != yi.NumVars() {
		return fmt.Errorf("%w: node %s: %v and %v have different padded sizes", gkr.ErrGraph, r.name, xi.Shape, yi.Shape)
	}
	return nil
}

// Estimate: nothing for a relabeling; the predicate tables and X streamed for a repad.
func (r *Reshape) Estimate(g *gkr.Graph) gkr.Estimate {
	if m, err := r.repad(g); err == nil && m != nil {
		return mapEstimate(m)
	}
	return gkr.Estimate{}
}

// Prove passes the claim through (a relabeling) or proves the repad sumcheck.
func (r *Reshape) Prove(pc *gkr.ProveCtx, out []gkr.Claim) ([]gkr.Claim, error) {
	return r.protocol(pc.Party(), out)
}

// Verify passes the claim through (a relabeling) or checks the repad sumcheck.
func (r *Reshape) Verify(vc *gkr.VerifyCtx, out []gkr.Claim) ([]gkr.Claim, error) {
	return r.protocol(vc.Party(), out)
}

func (r *Reshape) protocol(p *gkr.Party, out []gkr.Claim) ([]gkr.Claim, error) {
	m, err := r.repad(p.Graph())
	if err != nil {
		return nil, err
	}
	if m == nil {
		return []gkr.Claim{{Tensor: r.x, Point: out[0].Point, Value: out[0].Value}}, nil
	}
	c, err := mapClaim(p, r.name, r.x, m, out[0])
	if err != nil {
		return nil, err
	}
	return []gkr.Claim{c}, nil
}

// OutBound is X's bound.
func (r *Reshape) OutBound(g *gkr.Graph, in []*big.Int) (*big.Int, error) {
	return new(big.Int).Set(in[0]), nil
}

// Forward copies X's values to Y in order; the padded flatten places each outer index's block
// at its padded inner positions, zeros elsewhere.
func (r *Reshape) Forward(fc *ForwardCtx) error {
	if err := r.check(fc.Graph); err != nil {
		return err
	}
	w, _, err := fc.create(r, r.y)
	if err != nil {
		return err
	}
	if err := r.forward(fc, w.WriteInt64s); err != nil {
		w.Abort()
		return fmt.Errorf("node %s: %w", r.name, err)
	}
	return commit(r, w)
}

func (r *Reshape) forward(fc *ForwardCtx, write func([]int64) error) error {
	xs := fc.Graph.Tensors[r.x].Shape
	n := gkr.Numel(xs)
	block, outLen := int64(fc.chunk()), int64(0)
	var dims []int
	if r.padded {
		dims = xs[r.axis:]
		block = gkr.Numel(dims)
		outLen = int64(dims[0]) * paddedLen(dims[1:])
	}
	release, err := fc.reserve("reshape buffers of "+r.name, (block+outLen)*8)
	if err != nil {
		return err
	}
	defer release()
	next, done, err := openInt64s(fc.Store, r.x)
	if err != nil {
		return err
	}
	defer done()
	buf := make([]int64, block)
	out := make([]int64, outLen)
	idx := make([]int, len(dims))
	for off := int64(0); off < n; off += block {
		m := int(min(block, n-off))
		if err := next(buf[:m]); err != nil {
			return fmt.Errorf("input %q at %d: %w", r.x, off, err)
		}
		if !r.padded {
			if err := write(buf[:m]); err != nil {
				return err
			}
			continue
		}
		// walk the real multi-index and place each element at its padded position
		for i := range idx {
			idx[i] = 0
		}
		for _, v := range buf[:m] {
			pos := int64(0)
			for k, d := range idx {
				if k > 0 {
					pos *= field.NextPow2(int64(dims[k]))
				}
				pos += int64(d)
			}
			out[pos] = v
			for k := len(idx) - 1; k >= 0; k-- {
				if idx[k]++; idx[k] < dims[k] {
					break
				}
				idx[k] = 0
			}
		}
		if err := write(out); err != nil {
			return err
		}
	}
	return nil
}

var _ Kernel = (*Reshape)(nil)

// paddedLen is the product of the padded sizes of dims.
func paddedLen(dims []int) int64 {
	n := int64(1)
	for _, d := range dims {
		n *= field.NextPow2(int64(d))
	}
	return n
}
