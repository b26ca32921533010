package kernels

import (
	"fmt"
	"math/big"
	"slices"

	"github.com/streamprove/streamprove/field"
	"github.com/streamprove/streamprove/gkr"
)

// Transpose permutes the dimensions of X: Y.shape[i] = X.shape[perm[i]] (ONNX Transpose), e.g.
// attention's head split [T, H, dh] → [H, T, dh] and back.
//
// Every dimension is padded to a power of two on its own, so each dimension owns a block of MLE
// variables (gkr.DimVars) and a permutation of dimensions is a permutation of those blocks:
// Ỹ(r) = X̃(r') where r' places each of Y's blocks at the variables its dimension owns in X.
// Like a reshape it is a relabeling — no sumcheck, no message, no pass over any tensor in the
// proof — and it needs no condition on the sizes. Zero padding: a padded position of Y is a
// padded position of X.
//
// The forward pass streams X once per window of Y's elements it can hold (the window is charged
// to the budget, at most 2^20 elements): one pass for the activations of a transformer, which
// are small; a tensor far beyond the budget costs several passes, never RAM.
type Transpose struct {
	name, x, y string
	perm       []int
}

// NewTranspose returns Y = X with its dimensions permuted by perm.
func NewTranspose(name, x, y string, perm []int) *Transpose {
	return &Transpose{name: name, x: x, y: y, perm: slices.Clone(perm)}
}

// TransposeShape returns Y's shape, or an error when perm is not a permutation of xs's axes.
func TransposeShape(xs, perm []int) ([]int, error) {
	if len(perm) != len(xs) {
		return nil, fmt.Errorf("perm %v has %d entries for a rank-%d input %v", perm, len(perm), len(xs), xs)
	}
	seen := make([]bool, len(xs))
	ys := make([]int, len(xs))
	for i, p := range perm {
		if p < 0 || p >= len(xs) || seen[p] {
			return nil, fmt.Errorf("perm %v is not a permutation of 0..%d", perm, len(xs)-1)
		}
		seen[p] = true
		ys[i] = xs[p]
	}
	return ys, nil
}

// Name returns the node name.
func (t *Transpose) Name() string { return t.name }

// Inputs returns X.
func (t *Transpose) Inputs() []string { return []string{t.x} }

// Outputs returns Y.
func (t *Transpose) Outputs() []string { return []string{t.y} }

// Describe encodes the op and its permutation for the graph digest.
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

// Estimate: nothing in RAM, nothing streamed.
func (t *Transpose) Estimate(g *gkr.Graph) gkr.Estimate { return gkr.Estimate{} }

// pull maps a point on Y to the point on X.
func (t *Transpose) pull(g *gkr.Graph, p []field.Element) ([]field.Element, error) {
	xs, ys := g.Tensors[t.x].Shape, g.Tensors[t.y].Shape
	xv, yv := gkr.DimVars(xs), gkr.DimVars(ys)
	if len(p) != g.Tensors[t.y].NumVars() {
		return nil, fmt.Errorf("node %s: claim on %q has %d variables, want %d", t.name, t.y, len(p), g.Tensors[t.y].NumVars())
	}
	q := make([]field.Element, len(p))
	for i, d := range t.perm {
		copy(q[xv[d][0]:xv[d][1]], p[yv[i][0]:yv[i][1]])
	}
	return q, nil
}

// Prove maps the claim's variables to X's.
func (t *Transpose) Prove(pc *gkr.ProveCtx, out []gkr.Claim) ([]gkr.Claim, error) {
	if err := t.check(pc.Graph); err != nil {
		return nil, err
	}
	q, err := t.pull(pc.Graph, out[0].Point)
	if err != nil {
		return nil, err
	}
	return []gkr.Claim{{Tensor: t.x, Point: q, Value: out[0].Value}}, nil
}

// Verify maps the claim's variables to X's.
func (t *Transpose) Verify(vc *gkr.VerifyCtx, out []gkr.Claim) ([]gkr.Claim, error) {
	if err := t.check(vc.Graph); err != nil {
		return nil, err
	}
	q, err := t.pull(vc.Graph, out[0].Point)
	if err != nil {
		return nil, err
	}
	return []gkr.Claim{{Tensor: t.x, Point: q, Value: out[0].Value}}, nil
}

// OutBound is X's bound.
func (t *Transpose) OutBound(g *gkr.Graph, in []*big.Int) (*big.Int, error) {
	return new(big.Int).Set(in[0]), nil
}

// Forward writes Y in order, one window of its elements per pass over X.
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
	if n == 0 {
		return nil
	}
	// ystride[d]: the step in Y's flat index of one step along X's dimension d.
	ystride := make([]int64, len(xs))
	s := int64(1)
	for i := len(ys) - 1; i >= 0; i-- {
		ystride[t.perm[i]] = s
		s *= int64(ys[i])
	}
	win, block := min(n, 1<<20), int64(fc.chunk())
	release, err := fc.reserve("transpose buffers of "+t.name, (win+block)*8)
	if err != nil {
		return err
	}
	defer release()
	out := make([]int64, win)
	buf := make([]int64, block)
	idx := make([]int, len(xs))
	for lo := int64(0); lo < n; lo += win {
		hi := min(lo+win, n)
		next, done, err := openInt64s(fc.Store, t.x)
		if err != nil {
			return err
		}
		clear(idx)
		pos := int64(0) // Y's flat index of X's element idx
		for off := int64(0); off < n; off += block {
			m := int(min(block, n-off))
			if err := next(buf[:m]); err != nil {
				done()
				return fmt.Errorf("input %q at %d: %w", t.x, off, err)
			}
			for _, v := range buf[:m] {
				if pos >= lo && pos < hi {
					out[pos-lo] = v
				}
				for k := len(idx) - 1; k >= 0; k-- {
					pos += ystride[k]
					if idx[k]++; idx[k] < xs[k] {
						break
					}
					pos -= int64(xs[k]) * ystride[k]
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
