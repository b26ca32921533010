package kernels

import (
	"fmt"
	"testing"

	"github.com/streamprove/streamprove/gkr"
	"github.com/streamprove/streamprove/spill"
	"github.com/streamprove/streamprove/tensorstore"
)

// The packed int8 forward (two batch rows per int64 lane, eight per pass over a W row) computes
// the exact products: batches that fill, straddle and undershoot the groups of eight, extreme
// values (−128 everywhere in some rows, the largest lane sums), a bias, and a budget so small
// that X is taken a few rows at a time. The proof of the result verifies.
func TestLinearForwardPacked(t *testing.T) {
	for _, c := range []struct {
		batch, in, out int
		budget         int64
	}{
		{1, 37, 5, 0}, {7, 64, 3, 0}, {8, 300, 4, 0}, {9, 33, 6, 0}, {17, 129, 2, 0}, {24, 50, 7, 48 << 10},
	} {
		t.Run(fmt.Sprintf("B%d_I%d_O%d", c.batch, c.in, c.out), func(t *testing.T) {
			m := newModel(t, uint64(c.batch*7+c.in))
			m.data("x", gkr.Input, []int{c.batch, c.in}, tensorstore.Int8)
			m.data("w", gkr.Weight, []int{c.out, c.in}, tensorstore.Int8)
			m.data("b", gkr.Weight, []int{c.out}, tensorstore.Int32)
			// extremes: X row 0 and W row 0 all −128 (the largest positive lane sum), X's last
			// row −128 against W's last row 127 (the most negative)
			x, w := m.values("x"), m.values("w")
			for i := 0; i < c.in; i++ {
				x[i], w[i] = -128, -128
				x[(c.batch-1)*c.in+i], w[(c.out-1)*c.in+i] = -128, 127
			}
			m.put("x", []int{c.batch, c.in}, x)
			m.put("w", []int{c.out, c.in}, w)
			m.node(NewLinear("fc", "x", "w", "b", "y"), []int{c.batch, c.out}, true)
			fc := &ForwardCtx{Store: m.store, Graph: m.graph, Bounds: m.bounds}
			if c.budget > 0 {
				fc.Budget = spill.NewBudget(c.budget)
			}
			if err := m.kerns[0].Forward(fc); err != nil {
				t.Fatal(err)
			}
			bias, y := m.values("b"), m.values("y")
			for b := 0; b < c.batch; b++ {
				for o := 0; o < c.out; o++ {
					want := bias[o]
					for i := 0; i < c.in; i++ {
						want += x[b*c.in+i] * w[o*c.in+i]
					}
					if y[b*c.out+o] != want {
						t.Fatalf("y[%d,%d] = %d, want %d", b, o, y[b*c.out+o], want)
					}
				}
			}
			pub := m.public()
			if _, err := gkr.Verify(m.graph, pub, m.prove(pub, 0)); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// put replaces a stored int8 tensor's values.
func (m *model) put(name string, shape []int, v []int64) {
	m.t.Helper()
	w, err := m.store.Create(name, shape, tensorstore.Int8, tensorstore.WriteOptions{ChunkElems: m.chunk, Replace: true})
	if err != nil {
		m.t.Fatal(err)
	}
	if err := w.WriteInt64s(v); err != nil {
		m.t.Fatal(err)
	}
	if _, err := w.Commit(); err != nil {
		m.t.Fatal(err)
	}
}
