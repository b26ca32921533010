package kernels

import (
	"testing"

	"github.com/streamprove/streamprove/field"
	"github.com/streamprove/streamprove/gkr"
	"github.com/streamprove/streamprove/tensorstore"
)

func TestReshapeFree(t *testing.T) {
	for _, c := range []struct {
		xs, ys []int
		free   bool
	}{
		{[]int{5, 3, 4, 8}, []int{5, 96}, true},   // merged dims below the outermost are powers of two
		{[]int{5, 3, 4, 8}, []int{15, 32}, false}, // 3 merged below 5
		{[]int{5, 4, 3}, []int{5, 12}, false},     // 3 merged below 4
		{[]int{6, 4}, []int{3, 2, 4}, true},       // split 6 → (3, 2): 2 is a power of two
		{[]int{6, 4}, []int{2, 3, 4}, false},      // split 6 → (2, 3)
		{[]int{1, 7, 1, 5}, []int{7, 5, 1}, true}, // size-1 dims
		{[]int{7, 5}, []int{5, 7}, false},
		{[]int{2, 3, 5}, []int{30}, false},
		{[]int{1, 1}, []int{1}, true},
	} {
		err := ReshapeFree(c.xs, c.ys)
		if (err == nil) != c.free {
			t.Errorf("%v → %v: %v, want free=%v", c.xs, c.ys, err, c.free)
		}
		if err == nil {
			// free means: every real element has the same padded flat index on both sides
			xi := &gkr.TensorInfo{Shape: c.xs}
			yi := &gkr.TensorInfo{Shape: c.ys}
			if xi.NumVars() != yi.NumVars() {
				t.Errorf("%v → %v: padded sizes differ", c.xs, c.ys)
			}
			for f := int64(0); f < gkr.Numel(c.xs); f++ {
				if a, b := paddedIndex(c.xs, f), paddedIndex(c.ys, f); a != b {
					t.Fatalf("%v → %v: element %d at padded %d and %d", c.xs, c.ys, f, a, b)
				}
			}
		}
	}
	if err := ReshapeFree([]int{2, 3}, []int{5}); err == nil {
		t.Error("reshape of 6 elements to 5 accepted")
	}
}

// paddedIndex is the padded row-major index of the real row-major element f.
func paddedIndex(shape []int, f int64) int64 {
	var pos, stride int64 = 0, 1
	for k := len(shape) - 1; k >= 0; k-- {
		d := int64(shape[k])
		pos += (f % d) * stride
		f /= d
		stride *= field.NextPow2(d)
	}
	return pos
}

// A free reshape between a conv and a linear: [N, 4, 4, 2] → [N, 32].
func TestReshapeIntoLinear(t *testing.T) {
	m := newModel(t, 302)
	m.data("x", gkr.Input, []int{5, 3, 4, 2}, tensorstore.Int8)
	m.data("w", gkr.Weight, []int{4, 3, 3, 3}, tensorstore.Int8)
	m.node(NewConv2D("conv", "x", "w", "", "h", ConvAttrs{PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1}), []int{5, 4, 4, 2}, false)
	m.node(NewReshape("flat", "h", "f"), []int{5, 32}, false)
	m.data("fc", gkr.Weight, []int{3, 32}, tensorstore.Int8)
	m.node(NewLinear("lin", "f", "fc", "", "y"), []int{5, 3}, true)
	m.forward()
	if h, f := m.values("h"), m.values("f"); len(h) != len(f) {
		t.Fatalf("reshape copied %d of %d values", len(f), len(h))
	} else {
		for i := range h {
			if h[i] != f[i] {
				t.Fatalf("f[%d] = %d, want %d", i, f[i], h[i])
			}
		}
	}
	pub := m.public()
	if _, err := gkr.Verify(m.graph, pub, m.prove(pub, 0)); err != nil {
		t.Fatal(err)
	}
	// a wrong value of the reshaped intermediate is rejected
	f := m.values("f")
	f[7]--
	m.rewriteInts("f", f, tensorstore.Int64)
	_, err := gkr.Verify(m.graph, pub, m.prove(pub, 0))
	reject(t, "reshape with a wrong value", err)
}

func TestPaddedFlatten(t *testing.T) {
	m := newModel(t, 301)
	m.data("x", gkr.Input, []int{3, 2, 7, 5}, tensorstore.Int8)
	m.data("w", gkr.Weight, []int{4, 2, 3, 3}, tensorstore.Int8)
	k := NewConv2D("conv", "x", "w", "", "h", ConvAttrs{PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1, StrideW: 2})
	hs, _ := ConvOutShape([]int{3, 2, 7, 5}, []int{4, 2, 3, 3}, k.a) // [3, 4, 7, 3]
	m.node(k, hs, false)
	fs, err := PaddedFlattenShape(hs, 1)
	if err != nil {
		t.Fatal(err)
	}
	if fs[1] != 4*8*4 {
		t.Fatalf("padded flatten of %v is %v", hs, fs)
	}
	m.node(NewPaddedFlatten("flat", "h", "f", 1), fs, false)
	// a linear layer over the padded columns (its zero-padding columns may hold anything: they
	// meet zeros)
	m.data("fc", gkr.Weight, []int{6, fs[1]}, tensorstore.Int8)
	m.node(NewLinear("lin", "f", "fc", "", "y"), []int{3, 6}, true)
	m.forward()
	h, f, fc, y := m.values("h"), m.values("f"), m.values("fc"), m.values("y")
	for b := 0; b < 3; b++ {
		for c := 0; c < 4; c++ {
			for i := 0; i < 8; i++ {
				for j := 0; j < 4; j++ {
					var want int64
					if i < 7 && j < 3 {
						want = h[((b*4+c)*7+i)*3+j]
					}
					if got := f[b*fs[1]+(c*8+i)*4+j]; got != want {
						t.Fatalf("f[%d, %d,%d,%d] = %d, want %d", b, c, i, j, got, want)
					}
				}
			}
		}
		for o := 0; o < 6; o++ {
			var want int64
			for i := 0; i < fs[1]; i++ {
				want += f[b*fs[1]+i] * fc[o*fs[1]+i]
			}
			if y[b*6+o] != want {
				t.Fatalf("y[%d,%d] = %d, want %d", b, o, y[b*6+o], want)
			}
		}
	}
	pub := m.public()
	proof := m.prove(pub, 0)
	outs, err := gkr.Verify(m.graph, pub, proof)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range y {
		if g, _ := field.ToInt64(&outs["y"][i]); g != v {
			t.Fatalf("verified output %d = %d, want %d", i, g, v)
		}
	}
	// a wrong value of the flattened intermediate is rejected
	f[5]++
	m.rewriteInts("f", f, tensorstore.Int64)
	_, err = gkr.Verify(m.graph, pub, m.prove(pub, 0))
	reject(t, "padded flatten with a wrong value", err)
}
