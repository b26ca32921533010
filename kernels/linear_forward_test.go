package kernels

import (
	"fmt"
	"math/big"
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
	m.putDT(name, shape, tensorstore.Int8, v)
}

// An int16 X against an int8 W (a norm's output into a linear layer: sums beyond 32-bit
// lanes) takes the byte-read forward with one row per int64, four batch rows per pass over a W
// row; an int16 W the generic int64 forward, four rows at a time (dot4Int64) and the rest one by
// one. Batches below, at and past multiples of four, with extreme values, give the exact sums.
func TestLinearForwardWideSums(t *testing.T) {
	for _, wdt := range []tensorstore.DType{tensorstore.Int8, tensorstore.Int16} {
		for _, batch := range []int{1, 3, 4, 6, 9} {
			t.Run(fmt.Sprintf("W%v/B%d", wdt, batch), func(t *testing.T) {
				const in, out = 4100, 3
				m := newModel(t, uint64(batch))
				m.data("x", gkr.Input, []int{batch, in}, tensorstore.Int16)
				m.data("w", gkr.Weight, []int{out, in}, wdt)
				x, w := m.values("x"), m.values("w")
				for i := 0; i < in; i++ { // the largest positive and negative sums
					x[i], w[i] = -32768, -128
					x[(batch-1)*in+i], w[(out-1)*in+i] = 32767, -128
				}
				m.putDT("x", []int{batch, in}, tensorstore.Int16, x)
				m.putDT("w", []int{out, in}, wdt, w)
				m.node(NewLinear("fc", "x", "w", "", "y"), []int{batch, out}, true)
				lane := new(big.Int).Mul(m.bounds["x"], m.bounds["w"])
				if lane.Mul(lane, big.NewInt(in)).Cmp(big.NewInt(1<<31)) < 0 {
					t.Fatal("the sums fit 32-bit lanes: the test needs wider ones")
				}
				if err := m.kerns[0].Forward(&ForwardCtx{Store: m.store, Graph: m.graph, Bounds: m.bounds}); err != nil {
					t.Fatal(err)
				}
				y := m.values("y")
				for b := 0; b < batch; b++ {
					for o := 0; o < out; o++ {
						var want int64
						for i := 0; i < in; i++ {
							want += x[b*in+i] * w[o*in+i]
						}
						if y[b*out+o] != want {
							t.Fatalf("y[%d,%d] = %d, want %d", b, o, y[b*out+o], want)
						}
					}
				}
			})
		}
	}
}

// putDT replaces a stored tensor's values, with its dtype.
func (m *model) putDT(name string, shape []int, dt tensorstore.DType, v []int64) {
	m.t.Helper()
	w, err := m.store.Create(name, shape, dt, tensorstore.WriteOptions{ChunkElems: m.chunk, Replace: true})
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

// BenchmarkDotRows compares one W row against four X rows by dotInt64 (four passes) and by
// dot4Int64 (one pass), per multiply-add.
func BenchmarkDotRows(b *testing.B) {
	const n = 4096
	w := make([]int64, n)
	xs := make([][]int64, 4)
	for i := range w {
		w[i] = int64(i%255 - 127)
	}
	for k := range xs {
		xs[k] = make([]int64, n)
		for i := range xs[k] {
			xs[k][i] = int64((i*(k+3))%4001 - 2000)
		}
	}
	var sink int64
	b.Run("dotInt64", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			for _, x := range xs {
				sink += dotInt64(x, w)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/(4*n), "ns/mac")
	})
	b.Run("dot4Int64", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			a, c, d, e := dot4Int64(w, xs[0], xs[1], xs[2], xs[3])
			sink += a + c + d + e
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/(4*n), "ns/mac")
	})
	_ = sink
}
