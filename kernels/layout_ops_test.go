package kernels

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/streamprove/streamprove/field"
	"github.com/streamprove/streamprove/gkr"
	"github.com/streamprove/streamprove/spill"
	"github.com/streamprove/streamprove/tensorstore"
)

// refGather is the plain Go reference of a layout op: Y[y] = X[src(y)] over Y's real row-major
// multi-indices.
func refGather(x []int64, ys []int, src func(y []int) int64) []int64 {
	out := make([]int64, 0, gkr.Numel(ys))
	idx := make([]int, len(ys))
	for n := gkr.Numel(ys); n > 0; n-- {
		out = append(out, x[src(idx)])
		for k := len(idx) - 1; k >= 0; k-- {
			if idx[k]++; idx[k] < ys[k] {
				break
			}
			idx[k] = 0
		}
	}
	return out
}

func flatOf(s []int, idx []int) int64 {
	var f int64
	for k, d := range s {
		f = f*int64(d) + int64(idx[k])
	}
	return f
}

// layoutCase builds a → h = a∘a (so X is a kernel's output with its padding) → op → y (output),
// checks y against want(h), proves and verifies, then proves with a wrong output value and
// requires the verifier to reject it.
func layoutCase(t *testing.T, seed uint64, xShapes [][]int, op func(xs []string) Kernel, ys []int, want func(hs [][]int64) []int64) {
	t.Helper()
	m := newModel(t, seed)
	var hs []string
	for i, s := range xShapes {
		a, h := fmt.Sprintf("a%d", i), fmt.Sprintf("h%d", i)
		m.data(a, gkr.Input, s, tensorstore.Int8)
		m.node(Square("sq"+a, a, h), s, false)
		hs = append(hs, h)
	}
	m.node(op(hs), ys, true)
	m.forward()
	var hv [][]int64
	for _, h := range hs {
		hv = append(hv, m.values(h))
	}
	y, ref := m.values("y"), want(hv)
	if !slices.Equal(y, ref) {
		t.Fatalf("forward: y = %v, want %v", y, ref)
	}
	pub := m.public()
	outs, err := gkr.Verify(m.graph, pub, m.prove(pub, 0))
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range y {
		if g, _ := field.ToInt64(&outs["y"][i]); g != v {
			t.Fatalf("verified output %d = %d, want %d", i, g, v)
		}
	}
	// a wrong output value, and a right value at the wrong place, are rejected
	for _, bad := range []func(v []int64){
		func(v []int64) { v[len(v)/2]++ },
		func(v []int64) { v[0], v[len(v)-1] = v[len(v)-1], v[0]+1 },
	} {
		v := slices.Clone(y)
		bad(v)
		m.rewriteInts("y", v, tensorstore.Int64)
		_, err = gkr.Verify(m.graph, pub, m.prove(pub, 0))
		if err == nil {
			t.Fatalf("a wrong output of %v accepted", ys)
		}
		if !errors.Is(err, gkr.ErrBadProof) {
			t.Fatalf("a wrong output rejected with %v, want ErrBadProof", err)
		}
	}
	m.rewriteInts("y", y, tensorstore.Int64)
}

func TestTranspose(t *testing.T) {
	for i, c := range []struct {
		xs, perm []int
	}{
		{[]int{3, 5, 7}, []int{2, 0, 1}},
		{[]int{2, 3, 5, 6}, []int{0, 2, 3, 1}}, // NCHW → NHWC
		{[]int{5, 3}, []int{1, 0}},
		{[]int{1, 7, 1, 3}, []int{3, 1, 2, 0}},
	} {
		ys, err := TransposeShape(c.xs, c.perm)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(fmt.Sprint(c.xs, c.perm), func(t *testing.T) {
			layoutCase(t, uint64(400+i), [][]int{c.xs}, func(x []string) Kernel { return NewTranspose("tr", x[0], "y", c.perm) }, ys,
				func(h [][]int64) []int64 {
					return refGather(h[0], ys, func(y []int) int64 {
						x := make([]int, len(y))
						for k, j := range c.perm {
							x[j] = y[k]
						}
						return flatOf(c.xs, x)
					})
				})
		})
	}
	if _, err := TransposeShape([]int{2, 3}, []int{0, 0}); err == nil {
		t.Error("perm [0 0] accepted")
	}
}

// The forward pass of a transpose under a budget smaller than Y takes several windows.
func TestTransposeWindows(t *testing.T) {
	m := newModel(t, 410)
	m.data("a", gkr.Input, []int{7, 9, 11}, tensorstore.Int8)
	tr := NewTranspose("tr", "a", "y", []int{2, 0, 1})
	m.node(tr, []int{11, 7, 9}, true)
	var got []int64
	fc := &ForwardCtx{Store: m.store, Graph: m.graph, Budget: nil, ChunkElems: 16}
	// a budget of a few hundred bytes forces windows of a few dozen elements
	fc.Budget = spill.NewBudget(1200)
	if err := tr.forward(fc, func(v []int64) error { got = append(got, v...); return nil }); err != nil {
		t.Fatal(err)
	}
	a := m.values("a")
	want := refGather(a, []int{11, 7, 9}, func(y []int) int64 { return flatOf([]int{7, 9, 11}, []int{y[1], y[2], y[0]}) })
	if !slices.Equal(got, want) {
		t.Fatal("windowed transpose differs from the reference")
	}
}

func TestSlice(t *testing.T) {
	for i, c := range []struct {
		xs, starts, ends, steps []int
	}{
		{[]int{3, 5, 7}, []int{1, 0, 2}, []int{3, 5, 6}, nil},
		{[]int{6, 5}, []int{1, 1}, []int{6, 4}, nil},
		{[]int{2, 9, 4}, []int{0, 3, 0}, []int{2, 8, 4}, nil},    // one cut dim
		{[]int{4, 8}, []int{2, 4}, []int{4, 8}, nil},             // aligned offsets
		{[]int{5, 1, 13}, []int{4, 0, 12}, []int{5, 1, 13}, nil}, // a single element
		{[]int{3, 9, 7}, []int{0, 1, 2}, []int{3, 9, 7}, []int{1, 2, 3}},
		{[]int{4, 8}, []int{0, 0}, []int{4, 8}, []int{2, 2}},   // even positions of power-of-two dims
		{[]int{2, 11}, []int{1, 3}, []int{2, 10}, []int{1, 7}}, // a step that leaves one element per dim
		{[]int{6, 6, 5}, []int{1, 0, 0}, []int{6, 5, 5}, []int{2, 4, 1}},
	} {
		ys, err := SliceShape(c.xs, c.starts, c.ends, c.steps)
		if err != nil {
			t.Fatal(err)
		}
		steps := c.steps
		if steps == nil {
			steps = []int{1, 1, 1, 1}[:len(c.xs)]
		}
		t.Run(fmt.Sprint(c.xs, c.starts, c.ends, c.steps), func(t *testing.T) {
			layoutCase(t, uint64(420+i), [][]int{c.xs}, func(x []string) Kernel { return NewSlice("sl", x[0], "y", c.starts, c.ends, c.steps) }, ys,
				func(h [][]int64) []int64 {
					return refGather(h[0], ys, func(y []int) int64 {
						x := make([]int, len(y))
						for d := range y {
							x[d] = c.starts[d] + steps[d]*y[d]
						}
						return flatOf(c.xs, x)
					})
				})
		})
	}
	if _, err := SliceShape([]int{3, 4}, []int{0, 2}, []int{3, 2}, nil); err == nil {
		t.Error("an empty slice accepted")
	}
	if _, err := SliceShape([]int{3, 4}, []int{0, 0}, []int{3, 4}, []int{1, 0}); err == nil {
		t.Error("a zero step accepted")
	}
}

func TestConcat(t *testing.T) {
	for i, c := range []struct {
		parts [][]int
		axis  int
	}{
		{[][]int{{2, 3, 5}, {2, 1, 5}, {2, 4, 5}}, 1},
		{[][]int{{3, 5}, {2, 5}}, 0},
		{[][]int{{3, 5}, {3, 7}}, 1},
		{[][]int{{2, 4}, {2, 4}}, 1}, // aligned parts
	} {
		ys, err := ConcatShape(c.parts, c.axis)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(fmt.Sprint(c.parts, c.axis), func(t *testing.T) {
			layoutCase(t, uint64(440+i), c.parts, func(x []string) Kernel { return NewConcat("cat", x, "y", c.axis) }, ys,
				func(h [][]int64) []int64 {
					var all []int64
					var base []int64
					for _, v := range h {
						base = append(base, int64(len(all)))
						all = append(all, v...)
					}
					return refGather(all, ys, func(y []int) int64 {
						x := slices.Clone(y)
						for p, s := range c.parts {
							if x[c.axis] < s[c.axis] {
								return base[p] + flatOf(s, x)
							}
							x[c.axis] -= s[c.axis]
						}
						panic("index outside the parts")
					})
				})
		})
	}
	if _, err := ConcatShape([][]int{{2, 3}, {3, 3}}, 1); err == nil {
		t.Error("parts of different shapes accepted")
	}
}

// A reshape that changes the padding is proven by the relabeling sumcheck.
func TestReshapeRepad(t *testing.T) {
	for i, c := range [][2][]int{
		{{3, 5}, {15}},
		{{15}, {3, 5}},
		{{2, 3, 5}, {6, 5}},
		{{4, 3, 5}, {4, 15}},
		{{3, 5, 1}, {1, 5, 3}},
		{{2, 3, 7, 7}, {2, 147}}, // [N, C, H, W] → [N, C·H·W]
		{{6, 10}, {4, 15}},
	} {
		if ReshapeFree(c[0], c[1]) == nil {
			t.Fatalf("%v → %v is free; the case should change the padding", c[0], c[1])
		}
		t.Run(fmt.Sprint(c[0], c[1]), func(t *testing.T) {
			layoutCase(t, uint64(460+i), [][]int{c[0]}, func(x []string) Kernel { return NewReshape("rs", x[0], "y") }, c[1],
				func(h [][]int64) []int64 { return h[0] })
		})
	}
}

// The relabeling predicate's automaton agrees with the prover's table on the Boolean cube.
func TestIndexMapPredicate(t *testing.T) {
	for _, c := range [][2][]int{{{3, 5}, {15}}, {{2, 3, 5}, {6, 5}}, {{6, 10}, {4, 15}}} {
		gs, err := reshapeGroups(c[0], c[1])
		if err != nil {
			t.Fatal(err)
		}
		m := &indexMap{xs: c[0], ys: c[1], groups: gs}
		nx, ny := shapeVars(c[0]), shapeVars(c[1])
		for yi := 0; yi < 1<<ny; yi++ {
			r := bitsPoint(yi, ny)
			src, release, err := m.source(r, nil)
			if err != nil {
				t.Fatal(err)
			}
			st, _ := src.Open()
			tab := make([]field.Element, src.Len())
			if err := field.ReadFull(st, tab); err != nil {
				t.Fatal(err)
			}
			release()
			for xi := 0; xi < 1<<nx; xi++ {
				v, err := m.eval(r, bitsPoint(xi, nx))
				if err != nil {
					t.Fatal(err)
				}
				if !v.Equal(&tab[xi]) {
					t.Fatalf("%v → %v: P(%d, %d) = %v by the automaton, %v by the table", c[0], c[1], yi, xi, v, tab[xi])
				}
			}
		}
	}
}

func bitsPoint(v, n int) []field.Element {
	p := make([]field.Element, n)
	for i := range p {
		if v>>i&1 == 1 {
			p[i] = field.One()
		}
	}
	return p
}
