package kernels

import (
	"testing"

	"github.com/streamprove/streamprove/field"
	"github.com/streamprove/streamprove/gkr"
	"github.com/streamprove/streamprove/tensorstore"
)

// Attention's head split and merge: h = A·B per head [3, 5, 2] (padded 4×8×2), transposed to
// [5, 3, 2] and then to [2, 5, 3]; the values are checked against the index map, the proof
// verifies, and a wrong transposed value or a transposed claim in the wrong order is rejected.
func TestTranspose(t *testing.T) {
	m := newModel(t, 401)
	m.data("a", gkr.Input, []int{3, 5, 4}, tensorstore.Int8)
	m.data("b", gkr.Weight, []int{3, 4, 2}, tensorstore.Int8)
	m.node(NewMatMul("mm", "a", "b", "h", false), []int{3, 5, 2}, false)
	m.node(NewTranspose("t1", "h", "u", []int{1, 0, 2}), []int{5, 3, 2}, false)
	m.node(NewTranspose("t2", "u", "y", []int{2, 0, 1}), []int{2, 5, 3}, true)
	m.forward()
	h, u, y := m.values("h"), m.values("u"), m.values("y")
	for l := 0; l < 3; l++ {
		for i := 0; i < 5; i++ {
			for j := 0; j < 2; j++ {
				v := h[(l*5+i)*2+j]
				if got := u[(i*3+l)*2+j]; got != v {
					t.Fatalf("u[%d,%d,%d] = %d, want %d", i, l, j, got, v)
				}
				if got := y[(j*5+i)*3+l]; got != v {
					t.Fatalf("y[%d,%d,%d] = %d, want %d", j, i, l, got, v)
				}
			}
		}
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
	// A relabeling reads no tensor in the proof, so a false statement is a wrong output: the
	// verifier's public y with one value changed, and with heads 0 and 1 swapped.
	bad := append([]int64(nil), y...)
	bad[4]++
	m.rewriteInts("y", bad, tensorstore.Int64)
	reject(t, "transpose with a wrong value", verifyErr(m))
	copy(bad, y)
	for j := 0; j < 2; j++ {
		for i := 0; i < 5; i++ {
			bad[(j*5+i)*3+0], bad[(j*5+i)*3+1] = y[(j*5+i)*3+1], y[(j*5+i)*3+0]
		}
	}
	m.rewriteInts("y", bad, tensorstore.Int64)
	reject(t, "transpose with swapped heads", verifyErr(m))

	for _, c := range [][]int{{0, 1}, {0, 0, 1}, {0, 1, 3}} {
		if _, err := TransposeShape([]int{3, 5, 2}, c); err == nil {
			t.Errorf("perm %v accepted", c)
		}
	}
}

func verifyErr(m *model) error {
	pub := m.public()
	_, err := gkr.Verify(m.graph, pub, m.prove(pub, 0))
	return err
}
