package kernels

import (
	"fmt"
	"io"

	"github.com/streamprove/streamprove/field"
	"github.com/streamprove/streamprove/gkr"
	"github.com/streamprove/streamprove/spill"
	"github.com/streamprove/streamprove/sumcheck"
)

// indexMap is the wiring of a layout op that is not a relabeling of variables: Y[y] = X[φ(y)] on
// Y's real elements, every real element of X read at most once, so that
//
//	Ỹ(r) = Σ_x X(x)·P(r, x),  P(r, x) = Σ_y eq(r, y)·[y real]·[φ(y) = x]
//
// and a claim on Y becomes a degree-2 sumcheck over X's variables (mapClaim). P factors into
// groups of dims: a group relates a run of X dims to a run of Y dims by an affine predicate
// (affinePred, evaluated by its carry automaton in O(bits · carries · 2^vars)): an identity dim is
// eq, a sliced or concatenated dim is [x = y + c]·[y < len], a reshape group is [flat(x) =
// flat(y)] with comparators for the real ranges. The prover streams P as a virtual source (one
// small table per group, never a table of X's length) next to X's own stream.
type indexMap struct {
	xs, ys []int
	groups []mapGroup
}

// mapGroup is one factor of P: X dims xd and Y dims yd (indices into the shapes, outermost
// first, consecutive once size-1 dims are left out).
type mapGroup struct {
	xd, yd []int
	// pred is nil for an identity dim (then P's factor is eq(r_d, s_d)); else its variables are
	// Y's dims innermost first, then X's dims innermost first.
	pred *affinePred
	// yOf maps a real multi-index of the group's X dims to the multi-index of its Y dims that
	// reads it (ok false: no Y element reads it).
	yOf func(x []int) (y []int, ok bool)
}

// dimPoints splits a point on a tensor of shape s into one slice per dim (LSB first).
func dimPoints(s []int, pt []field.Element) [][]field.Element {
	out := make([][]field.Element, len(s))
	for i, v := range gkr.DimVars(s) {
		out[i] = pt[v[0]:v[1]]
	}
	return out
}

// shapeVars is the number of MLE variables of a tensor of shape s.
func shapeVars(s []int) int { return (&gkr.TensorInfo{Shape: s}).NumVars() }

func dimBits(s []int) []int {
	out := make([]int, len(s))
	for i, v := range gkr.DimVars(s) {
		out[i] = v[1] - v[0]
	}
	return out
}

// varRange is the [lo, hi) range of variables the dims ds (consecutive up to size-1 dims) own.
func varRange(s []int, ds []int) (int, int) {
	dv := gkr.DimVars(s)
	lo, hi := dv[ds[len(ds)-1]][0], dv[ds[0]][1]
	return lo, hi
}

// eval returns P(r, s): the verifier's O(log) evaluation of the wiring predicate.
func (m *indexMap) eval(r, s []field.Element) (field.Element, error) {
	rd, sd := dimPoints(m.ys, r), dimPoints(m.xs, s)
	v := field.One()
	for _, g := range m.groups {
		var f field.Element
		if g.pred == nil {
			f = field.Eq(rd[g.yd[0]], sd[g.xd[0]])
		} else {
			var pt [][]field.Element
			for k := len(g.yd) - 1; k >= 0; k-- {
				pt = append(pt, rd[g.yd[k]])
			}
			for k := len(g.xd) - 1; k >= 0; k-- {
				pt = append(pt, sd[g.xd[k]])
			}
			var err error
			if f, err = g.pred.eval(pt); err != nil {
				return field.Element{}, err
			}
		}
		v.Mul(&v, &f)
	}
	return v, nil
}

// work is the verifier's cost of eval in automaton steps (a bound that check refuses above).
func (m *indexMap) work() int64 {
	var w int64
	for _, g := range m.groups {
		if g.pred == nil {
			continue
		}
		lo, hi, steps := g.pred.carryRange()
		w += (hi - lo + 1) << len(g.pred.cmp) << len(g.pred.coef) * int64(steps)
	}
	return w
}

// maxMapWork bounds the verifier's predicate work (about a second of field operations); a
// reshape group beyond it is refused with a clear error.
const maxMapWork = 1 << 26

// mapTableLimit is the largest per-group factor table (X side plus Y's eq table) the prover
// keeps; a bigger group computes each factor on the fly.
const mapTableLimit = 1 << 20

// source returns P(r, ·) over X's padded domain as a virtual source. Its per-group tables are
// charged to b (when it is not nil) and given back by the returned release.
func (m *indexMap) source(r []field.Element, b *spill.Budget) (field.Source, func(), error) {
	src := &predSource{n: int64(1) << shapeVars(m.xs)}
	xb, yb := dimBits(m.xs), dimBits(m.ys)
	var held int64
	release := func() {
		if b != nil {
			b.Release(held)
		}
	}
	for _, g := range m.groups {
		xlo, xhi := varRange(m.xs, g.xd)
		ylo, yhi := varRange(m.ys, g.yd)
		f := mapFactor{off: uint(xlo), mask: int64(1)<<(xhi-xlo) - 1}
		rg := r[ylo:yhi]
		value := func(xg int64) field.Element {
			x := make([]int, len(g.xd))
			for k := len(g.xd) - 1; k >= 0; k-- {
				d := g.xd[k]
				x[k] = int(xg & (1<<xb[d] - 1))
				xg >>= xb[d]
				if x[k] >= m.xs[d] {
					return field.Element{}
				}
			}
			y := x
			if g.yOf != nil {
				var ok bool
				if y, ok = g.yOf(x); !ok {
					return field.Element{}
				}
			}
			var yg uint64
			for k, d := range g.yd {
				yg = yg<<yb[d] | uint64(y[k])
			}
			return field.EqIndex(rg, yg)
		}
		size := int64(1) << (xhi - xlo)
		if bytes := size * field.Bytes; size <= mapTableLimit && (b == nil || b.TryReserve(bytes)) {
			if b != nil {
				held += bytes
			}
			f.tab = make([]field.Element, size)
			if g.pred == nil {
				field.EqTable(f.tab, rg)
			} else {
				for i := range f.tab {
					f.tab[i] = value(int64(i))
				}
			}
		} else {
			f.fn = value
		}
		src.f = append(src.f, f)
	}
	return src, release, nil
}

// mapFactor is one group's factor of the virtual source: a table over the group's X index
// (bits off.. of the flat index), or a function for a group too big for a table.
type mapFactor struct {
	off  uint
	mask int64
	tab  []field.Element
	fn   func(int64) field.Element
}

func (f *mapFactor) at(i int64) field.Element {
	xg := i >> f.off & f.mask
	if f.tab != nil {
		return f.tab[xg]
	}
	return f.fn(xg)
}

type predSource struct {
	n int64
	f []mapFactor
}

func (s *predSource) Len() int64 { return s.n }

func (s *predSource) Open() (field.Stream, error) { return &predStream{s: s}, nil }

type predStream struct {
	s   *predSource
	pos int64
}

// Next writes Π_g factor_g(i) for the next indices. The factor of the lowest group changes
// every element; the product of the others only when their bits do, so it is cached.
func (st *predStream) Next(buf []field.Element) (int, error) {
	rest := st.s.n - st.pos
	if rest <= 0 {
		return 0, io.EOF
	}
	n := int(min(int64(len(buf)), rest))
	fs := st.s.f
	var outer field.Element
	outerAt := int64(-1)
	var low *mapFactor
	lowMask := int64(0)
	for k := range fs {
		if fs[k].off == 0 && fs[k].mask > 0 {
			low = &fs[k]
			lowMask = fs[k].mask
		}
	}
	for t := 0; t < n; t++ {
		i := st.pos + int64(t)
		if hi := i &^ lowMask; hi != outerAt {
			outer, outerAt = field.One(), hi
			for k := range fs {
				if &fs[k] == low {
					continue
				}
				v := fs[k].at(i)
				outer.Mul(&outer, &v)
			}
		}
		if low == nil {
			buf[t] = outer
			continue
		}
		v := low.at(i)
		buf[t].Mul(&outer, &v)
	}
	st.pos += int64(n)
	return n, nil
}

func (st *predStream) Close() error { return nil }

// mapClaim reduces the claim c on Y to a claim on X through the index map: the sumcheck of
// X(x)·P(r, x) over X's variables, after which the verifier evaluates P at the bound point
// itself and compares it with the prover's final value.
func mapClaim(p *gkr.Party, node, x string, m *indexMap, c gkr.Claim) (gkr.Claim, error) {
	nv := shapeVars(m.xs)
	if nv == 0 {
		// one element: P is a constant the verifier knows
		pv, err := m.eval(c.Point, nil)
		if err != nil {
			return gkr.Claim{}, fmt.Errorf("node %s: %w", node, err)
		}
		if pv.IsZero() {
			return gkr.Claim{}, fmt.Errorf("%w: node %s: input %q is never read", gkr.ErrGraph, node, x)
		}
		var inv, v field.Element
		inv.Inverse(&pv)
		v.Mul(&c.Value, &inv)
		return gkr.Claim{Tensor: x, Point: []field.Element{}, Value: v}, nil
	}
	var release func()
	defer func() {
		if release != nil {
			release()
		}
	}()
	sc := &sumcheck.Claim{NumVars: nv, Gate: sumcheck.Product(2), Sum: c.Value}
	pt, fin, err := p.Sumcheck(sc, func() ([]field.Source, error) {
		pc := p.Prover()
		xsrc, err := pc.Source(x)
		if err != nil {
			return nil, err
		}
		var psrc field.Source
		psrc, release, err = m.source(c.Point, pc.Budget())
		if err != nil {
			return nil, err
		}
		return []field.Source{xsrc, psrc}, nil
	})
	if err != nil {
		return gkr.Claim{}, fmt.Errorf("node %s: %w", node, err)
	}
	want, err := m.eval(c.Point, pt)
	if err != nil {
		return gkr.Claim{}, fmt.Errorf("node %s: %w", node, err)
	}
	if !want.Equal(&fin[1]) {
		return gkr.Claim{}, fmt.Errorf("%w: node %s: the index map's predicate value does not match", gkr.ErrBadProof, node)
	}
	return gkr.Claim{Tensor: x, Point: pt, Value: fin[0]}, nil
}

// mapEstimate: the factor tables (small) and X streamed about twice by the sumcheck.
func mapEstimate(m *indexMap) gkr.Estimate {
	var tabs int64
	for _, g := range m.groups {
		xlo, xhi := varRange(m.xs, g.xd)
		tabs += min(int64(1)<<(xhi-xlo), mapTableLimit) * field.Bytes
	}
	return gkr.Estimate{MinBytes: 0, TableBytes: tabs, StreamBytes: 2 * (int64(1) << shapeVars(m.xs)) * field.Bytes}
}

// identityGroups returns one identity group per dim d of s not in skip (s is both X's and Y's
// shape there).
func identityGroup(d int) mapGroup { return mapGroup{xd: []int{d}, yd: []int{d}} }

// shiftGroup relates Y dim d (length yLen) and X dim d (length xLen) by x = y + start for a
// slice (start ≥ 0) or y = x + off for a concatenated part (off ≥ 0): one of start, off is 0.
// The predicate is [y + start = x + off]·[y < yLen]·[x < xLen].
func shiftGroup(d int, ybits, xbits int, start, off, yLen, xLen int) mapGroup {
	g := mapGroup{xd: []int{d}, yd: []int{d}}
	// y + start − x − off = 0 with a non-negative constant term (the automaton's c0)
	cmp := []predCmp{{v: 0, bound: int64(yLen)}, {v: 1, bound: int64(xLen)}}
	if start >= off {
		g.pred = &affinePred{coef: []int64{1, -1}, bits: []int{ybits, xbits}, c0: int64(start - off), cmp: cmp}
	} else {
		g.pred = &affinePred{coef: []int64{-1, 1}, bits: []int{ybits, xbits}, c0: int64(off - start), cmp: cmp}
	}
	g.yOf = func(x []int) ([]int, bool) {
		y := x[0] + off - start
		if y < 0 || y >= yLen {
			return nil, false
		}
		return []int{y}, true
	}
	return g
}

// strideGroup relates Y dim d (length yLen) and X dim d (length xLen) by x = step·y + start
// (a slice with step ≥ 2): the predicate [step·y + start − x = 0]·[y < yLen]·[x < xLen], the
// relation conv's strides use.
func strideGroup(d int, ybits, xbits int, start, step, yLen, xLen int) mapGroup {
	g := mapGroup{xd: []int{d}, yd: []int{d}}
	cmp := []predCmp{{v: 0, bound: int64(yLen)}, {v: 1, bound: int64(xLen)}}
	g.pred = &affinePred{coef: []int64{int64(step), -1}, bits: []int{ybits, xbits}, c0: int64(start), cmp: cmp}
	g.yOf = func(x []int) ([]int, bool) {
		if x[0] < start || (x[0]-start)%step != 0 {
			return nil, false
		}
		y := (x[0] - start) / step
		if y >= yLen {
			return nil, false
		}
		return []int{y}, true
	}
	return g
}

// reshapeGroups pairs the runs of X's and Y's non-1 dims whose products agree (the groups of
// ReshapeFree) and gives each a predicate: an identity when both runs are one dim of the same
// size, else [Σ y_k·B_k = Σ x_k·A_k] (B, A the real strides inside the run) with a comparator on
// every Y dim and every X dim but the outermost (which the equation bounds).
func reshapeGroups(xs, ys []int) ([]mapGroup, error) {
	nz := func(s []int) []int {
		var out []int
		for i, d := range s {
			if d != 1 {
				out = append(out, i)
			}
		}
		return out
	}
	a, b := nz(xs), nz(ys)
	xb, yb := dimBits(xs), dimBits(ys)
	var gs []mapGroup
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		if i >= len(a) || j >= len(b) {
			return nil, fmt.Errorf("shapes %v and %v have different sizes", xs, ys)
		}
		i2, j2 := i+1, j+1
		pa, pb := int64(xs[a[i]]), int64(ys[b[j]])
		for pa != pb {
			if pa < pb {
				if i2 >= len(a) {
					return nil, fmt.Errorf("shapes %v and %v have different sizes", xs, ys)
				}
				pa *= int64(xs[a[i2]])
				i2++
			} else {
				if j2 >= len(b) {
					return nil, fmt.Errorf("shapes %v and %v have different sizes", xs, ys)
				}
				pb *= int64(ys[b[j2]])
				j2++
			}
		}
		g := mapGroup{xd: a[i:i2], yd: b[j:j2]}
		if len(g.xd) == 1 && len(g.yd) == 1 {
			gs = append(gs, g)
			i, j = i2, j2
			continue
		}
		// variables: Y dims innermost first, then X dims innermost first
		p := &affinePred{}
		stride := int64(1)
		for k := len(g.yd) - 1; k >= 0; k-- {
			d := g.yd[k]
			p.cmp = append(p.cmp, predCmp{v: len(p.coef), bound: int64(ys[d])})
			p.coef = append(p.coef, stride)
			p.bits = append(p.bits, yb[d])
			stride *= int64(ys[d])
		}
		stride = 1
		for k := len(g.xd) - 1; k >= 0; k-- {
			d := g.xd[k]
			if k > 0 {
				p.cmp = append(p.cmp, predCmp{v: len(p.coef), bound: int64(xs[d])})
			}
			p.coef = append(p.coef, -stride)
			p.bits = append(p.bits, xb[d])
			stride *= int64(xs[d])
		}
		g.pred = p
		xd, yd := g.xd, g.yd
		g.yOf = func(x []int) ([]int, bool) {
			var f int64
			for k, d := range xd {
				f = f*int64(xs[d]) + int64(x[k])
			}
			y := make([]int, len(yd))
			for k := len(yd) - 1; k >= 0; k-- {
				n := int64(ys[yd[k]])
				y[k] = int(f % n)
				f /= n
			}
			return y, true
		}
		gs = append(gs, g)
		i, j = i2, j2
	}
	return gs, nil
}
