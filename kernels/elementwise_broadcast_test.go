package kernels

import (
	"strings"
	"testing"

	"github.com/streamprove/streamprove/gkr"
	"github.com/streamprove/streamprove/tensorstore"
)

// bcastModel: a (shape as) op b (shape bs) → y (public output, the broadcast shape).
func bcastModel(t *testing.T, op string, as, bs []int, bRole gkr.Role) (*model, []int) {
	t.Helper()
	m := newModel(t, 13)
	m.data("a", gkr.Input, as, tensorstore.Int8)
	m.data("b", bRole, bs, tensorstore.Int8)
	ys, err := BroadcastShape(as, bs)
	if err != nil {
		t.Fatal(err)
	}
	var k *Elementwise
	switch op {
	case "add":
		k = Add("e", "a", "b", "y")
	case "sub":
		k = Sub("e", "a", "b", "y")
	case "mul":
		k = Mul("e", "a", "b", "y")
	case "affine": // y = 3a·b − 2b: a non-linear gate with the broadcast input twice
		k, err = NewElementwise("e", "affine", []string{"a", "b"}, []Term{{3, []int{0, 1}}, {-2, []int{1}}}, "y")
		if err != nil {
			t.Fatal(err)
		}
	}
	m.node(k, ys, true)
	return m, ys
}

// refBroadcast applies f elementwise with NumPy broadcasting over the real values.
func refBroadcast(as, bs, ys []int, a, b []int64, f func(x, y int64) int64) []int64 {
	ba, _ := newBcast(as, ys)
	bb, _ := newBcast(bs, ys)
	n := gkr.Numel(ys)
	out := make([]int64, n)
	var ma, mb *realIndexMap
	if ba != nil {
		ma = newRealIndexMap(ba)
	}
	if bb != nil {
		mb = newRealIndexMap(bb)
	}
	for i := int64(0); i < n; i++ {
		ia, ib := i, i
		if ma != nil {
			ia = ma.next()
		}
		if mb != nil {
			ib = mb.next()
		}
		out[i] = f(a[ia], b[ib])
	}
	return out
}

var bcastOps = map[string]func(x, y int64) int64{
	"add":    func(x, y int64) int64 { return x + y },
	"sub":    func(x, y int64) int64 { return x - y },
	"mul":    func(x, y int64) int64 { return x * y },
	"affine": func(x, y int64) int64 { return 3*x*y - 2*y },
}

func TestElementwiseBroadcast(t *testing.T) {
	cases := []struct {
		op     string
		as, bs []int
		role   gkr.Role
	}{
		{"mul", []int{2, 3, 3, 5}, []int{1, 3, 1, 1}, gkr.Weight}, // per-channel scale on NCHW
		{"add", []int{2, 3, 3, 5}, []int{3, 1, 1}, gkr.Weight},    // per-channel bias, lower rank
		{"add", []int{5, 6}, []int{6}, gkr.Weight},                // [B, C] + [C]
		{"sub", []int{5, 6}, []int{5, 1}, gkr.Input},              // per-row
		{"mul", []int{3, 7}, []int{7}, gkr.Input},
		{"affine", []int{3, 5, 6}, []int{5, 1}, gkr.Weight},
		{"mul", []int{3, 1, 6}, []int{5, 1}, gkr.Input},    // both operands broadcast → [3, 5, 6]
		{"add", []int{3, 1, 6}, []int{1, 5, 1}, gkr.Input}, // both broadcast, linear
		{"mul", []int{4, 4}, []int{4, 4}, gkr.Input},       // no broadcast
	}
	for _, c := range cases {
		m, ys := bcastModel(t, c.op, c.as, c.bs, c.role)
		m.forward()
		want := refBroadcast(c.as, c.bs, ys, m.values("a"), m.values("b"), bcastOps[c.op])
		got := m.values("y")
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("%s %v %v: y[%d] = %d, want %d", c.op, c.as, c.bs, i, got[i], want[i])
			}
		}
		if err := m.proveVerify(0); err != nil {
			t.Fatalf("%s %v %v: %v", c.op, c.as, c.bs, err)
		}
		if err := m.proveVerify(1 << 20); err != nil { // under a budget: the broadcast operand is charged
			t.Fatalf("%s %v %v under a budget: %v", c.op, c.as, c.bs, err)
		}
	}
}

func TestElementwiseBroadcastSoundness(t *testing.T) {
	for _, c := range []struct {
		op     string
		as, bs []int
	}{
		{"mul", []int{2, 3, 3, 5}, []int{1, 3, 1, 1}},
		{"add", []int{5, 6}, []int{6}},
		{"affine", []int{3, 5, 6}, []int{5, 1}},
	} {
		// An output computed with one broadcast value changed (as if another channel's scale
		// or bias were used for one element).
		m, _ := bcastModel(t, c.op, c.as, c.bs, gkr.Weight)
		m.forward()
		y := m.values("y")
		b := m.values("b")
		y[len(y)-1] = bcastOps[c.op](m.values("a")[0], b[0]+1)
		m.replaceTensor("y", y)
		m.proveReject(c.op + ": one output element with a wrong broadcast value")

		// The operand broadcast along the wrong axis: b's values in another order.
		m, ys := bcastModel(t, c.op, c.as, c.bs, gkr.Weight)
		m.forward()
		rev := append([]int64(nil), b...)
		for i, j := 0, len(rev)-1; i < j; i, j = i+1, j-1 {
			rev[i], rev[j] = rev[j], rev[i]
		}
		if rev[0] == b[0] && rev[len(rev)-1] == b[len(b)-1] {
			rev[0]++
		}
		m.replaceTensor("y", refBroadcast(c.as, c.bs, ys, m.values("a"), rev, bcastOps[c.op]))
		m.proveReject(c.op + ": output with the broadcast operand permuted")
	}
}

func TestBroadcastShapeErrors(t *testing.T) {
	if _, err := BroadcastShape([]int{2, 3}, []int{4}); err == nil || !strings.Contains(err.Error(), "do not broadcast") {
		t.Fatalf("[2 3] vs [4]: %v", err)
	}
	if s, err := BroadcastShape([]int{2, 1, 3}, []int{5, 1}); err != nil || len(s) != 3 || s[1] != 5 || s[2] != 3 {
		t.Fatalf("[2 1 3] vs [5 1] = %v, %v", s, err)
	}
	g := &gkr.Graph{Tensors: map[string]*gkr.TensorInfo{
		"a": {Name: "a", Shape: []int{2, 3}}, "b": {Name: "b", Shape: []int{2}}, "y": {Name: "y", Shape: []int{2, 3}}}}
	if _, err := Add("e", "a", "b", "y").check(g); err == nil || !strings.Contains(err.Error(), `input "b"`) {
		t.Fatalf("check: %v", err)
	}
}
