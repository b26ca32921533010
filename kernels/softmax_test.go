package kernels

import (
	"math"
	"strings"
	"testing"

	"github.com/streamprove/streamprove/field"
	"github.com/streamprove/streamprove/gkr"
	"github.com/streamprove/streamprove/tensorstore"
)

// refSoftmax is the plain reference of the integer softmax of one row (kept positions j < n).
func refSoftmax(x []int64, n, frac, q int) []int64 {
	m := x[0]
	for _, v := range x[:n] {
		m = max(m, v)
	}
	e := make([]int64, len(x))
	var S int64
	for j := 0; j < n; j++ {
		d := float64(m - x[j])
		lo := math.Round(256 * math.Exp(-math.Mod(d, 256)/math.Ldexp(1, frac)))
		hi := math.Round(256 * math.Exp(-256*math.Floor(d/256)/math.Ldexp(1, frac)))
		e[j] = int64(lo) * int64(hi)
		S += e[j]
	}
	p := make([]int64, len(x))
	for j := 0; j < n; j++ {
		p[j] = (e[j] << q) / S
	}
	return p
}

// attnModel: x (logits) → softmax → p (advice) → o = p·V (output).
func attnModel(t testing.TB, shape []int, frac, q int, causal bool, spread int64) (*model, []int64) {
	m := newModel(t, uint64(len(shape)*7+frac))
	n := int(gkr.Numel(shape))
	xs := make([]int64, n)
	for i := range xs {
		xs[i] = m.rng.Int64N(2*spread) - spread
	}
	m.ints("x", gkr.Input, shape, tensorstore.Int16, xs)
	T := shape[len(shape)-1]
	vs := append(append([]int(nil), shape[:len(shape)-1]...), 3)
	vs[len(vs)-2] = T
	m.data("v", gkr.Input, vs, tensorstore.Int8)
	sm, err := NewSoftmax("sm", "x", "p", frac, q, causal)
	if err != nil {
		t.Fatal(err)
	}
	m.advice(sm)
	os := append(append([]int(nil), shape[:len(shape)-1]...), 3)
	m.node(NewMatMul("pv", "p", "v", "o", false), os, true)
	m.forward()
	return m, xs
}

func TestSoftmaxCompleteness(t *testing.T) {
	worst := 0.0
	for _, c := range []struct {
		shape   []int
		frac, q int
		causal  bool
		spread  int64
	}{
		{[]int{3, 5}, 8, 8, false, 1500},
		{[]int{2, 5, 5}, 8, 10, true, 3000},
		{[]int{3, 7, 7}, 6, 12, true, 30000},
		{[]int{1, 9}, 10, 15, false, 100},
		{[]int{4, 8, 8}, 7, 8, true, 800},
		{[]int{6, 3}, 8, 8, false, 0},
	} {
		m, xs := attnModel(t, c.shape, c.frac, c.q, c.causal, max(c.spread, 1))
		p := m.values("p")
		T := c.shape[len(c.shape)-1]
		I := 1
		if len(c.shape) >= 2 {
			I = c.shape[len(c.shape)-2]
		}
		for r := 0; r*T < len(xs); r++ {
			n := T
			if c.causal {
				n = r%I + 1
			}
			want := refSoftmax(xs[r*T:(r+1)*T], n, c.frac, c.q)
			var den float64
			mx := xs[r*T]
			for _, v := range xs[r*T : r*T+n] {
				mx = max(mx, v)
			}
			for _, v := range xs[r*T : r*T+n] {
				den += math.Exp(float64(v-mx) / math.Ldexp(1, c.frac))
			}
			for j := 0; j < T; j++ {
				if p[r*T+j] != want[j] {
					t.Fatalf("%+v: p[%d,%d] = %d, want %d", c, r, j, p[r*T+j], want[j])
				}
				if j < n {
					exact := math.Ldexp(math.Exp(float64(xs[r*T+j]-mx)/math.Ldexp(1, c.frac))/den, c.q)
					worst = max(worst, math.Abs(float64(p[r*T+j])-exact)/math.Ldexp(1, c.q))
				}
			}
		}
		budgets := []int64{0}
		if c.causal && c.shape[0] == 4 {
			budgets = append(budgets, 1<<20) // one case also under a small ledger
		}
		for _, budget := range budgets {
			if err := m.proveVerify(budget); err != nil {
				t.Fatalf("%+v budget %d: honest proof rejected: %v", c, budget, err)
			}
		}
	}
	t.Logf("largest |p/2^q − softmax| over the cases: %.5f", worst)
}

func TestSoftmaxSoundness(t *testing.T) {
	shape := []int{2, 5, 5}
	for _, c := range []struct {
		what   string
		victim string
		mutate func(v []int64) []int64
	}{
		// the output row of another row (a whole wrong softmax row)
		{"wrong softmax row", "p", func(v []int64) []int64 { copy(v[5*3:5*4], v[5*4:5*5]); return v }},
		{"one probability +1", "p", func(v []int64) []int64 { v[7]++; return v }},
		// a larger row sum (every output scaled down): the normalisation is wrong
		{"wrong normalisation", "sm/sum", func(v []int64) []int64 { v[4] += 1000; return v }},
		// a row max above the true max (every d shifted by one)
		{"row max not attained", "sm/max", func(v []int64) []int64 { v[2]++; return v }},
		// a probability in a masked (future) position
		{"mass on a masked position", "p", func(v []int64) []int64 { v[1] = 5; return v }},
	} {
		m, _ := attnModel(t, shape, 8, 8, true, 1500)
		m.replaceTensor(c.victim, c.mutate(m.values(c.victim)))
		m.fixMults(m.kerns[0].(*Softmax))
		m.forwardFrom("pv")
		err := m.proveVerify(0)
		reject(t, c.what, err)
		if strings.Contains(err.Error(), "lookup") {
			t.Fatalf("%s: rejected by a lookup (%v); the cheat keeps every lookup consistent", c.what, err)
		}
	}
	// A row "max" one above the true max with every other value of the row recomputed from it
	// (limbs, exponentials, sum, outputs, remainders, multiplicities): only Σ_j χ·d = 0 fails.
	m, xs := attnModel(t, shape, 8, 8, true, 1500)
	sm := m.kerns[0].(*Softmax)
	const row, T = 3, 5
	out := make([][]int64, smP+1)
	for i := range out {
		out[i] = make([]int64, T)
	}
	mx, S, err := softmaxRowAbove(xs[row*T:(row+1)*T], func(j int) bool { return j <= row%T }, expValues(8, 0), expValues(8, 1), 8, out, 1)
	if err != nil {
		t.Fatal(err)
	}
	for k, name := range append(sm.perElem(), sm.p) {
		v := m.values(name)
		copy(v[row*T:], out[k])
		m.replaceTensor(name, v)
	}
	for name, val := range map[string]int64{sm.rowMax(): mx, sm.rowSum(): S} {
		v := m.values(name)
		v[row] = val
		m.replaceTensor(name, v)
	}
	m.fixMults(sm)
	m.forwardFrom("pv")
	err = m.proveVerify(0)
	reject(t, "row max above the true max", err)
	if strings.Contains(err.Error(), "lookup") {
		t.Fatalf("rejected by a lookup (%v), not by the max relation", err)
	}

	// a causal proof does not verify as a non-causal softmax
	m, _ = attnModel(t, shape, 8, 8, true, 1500)
	pub := m.public()
	proof := m.prove(pub, 0)
	g2 := *m.graph
	g2.Kernels = append([]gkr.Kernel(nil), m.graph.Kernels...)
	g2.Kernels[0], _ = NewSoftmax("sm", "x", "p", 8, 8, false)
	_, err = gkr.Verify(&g2, pub, proof)
	reject(t, "causal proof checked as non-causal", err)

	m = newModel(t, 5)
	m.ints("x", gkr.Input, []int{1, 3}, tensorstore.Int32, []int64{0, 70000, 1})
	sm, _ = NewSoftmax("sm", "x", "p", 8, 8, false)
	m.advice(sm)
	fc := &ForwardCtx{Store: m.store, Graph: m.graph, Bounds: m.bounds}
	if err := sm.Forward(fc); err == nil || !strings.Contains(err.Error(), "2^16") {
		t.Fatalf("row spread ≥ 2^16: %v", err)
	}
}

// fixMults recounts every lookup's multiplicities from the advice as it now is, as a cheating
// prover would, so that a changed value is caught by the relations and not by a stale count.
// Each table here has the first column's value as its row index; lookups sharing a table
// (lookupCore.groups) share one count.
func (m *model) fixMults(s *Softmax) {
	m.t.Helper()
	for _, grp := range s.core.groups() {
		mult := make([]int64, 1<<grp.tab.logSize)
		for _, A := range grp.args {
			a := s.core.args[A]
			col := s.core.tensors[a.cols[0][0].t]
			vals := m.values(col)
			for _, v := range vals {
				if v < 0 || v >= int64(len(mult)) {
					m.t.Fatalf("%s holds %d, outside its table", col, v)
				}
				mult[v]++
			}
			mult[a.tab.zeroRow] += int64(1)<<m.graph.Tensors[col].NumVars() - int64(len(vals))
		}
		m.replaceTensor(grp.mult, mult)
	}
}

// causalMLE agrees with the mask on Boolean points, for several T.
func TestCausalMLE(t *testing.T) {
	for _, T := range []int{1, 2, 3, 5, 8, 13} {
		n := log2i(T)
		P := 1 << n
		for i := 0; i < P; i++ {
			for j := 0; j < P; j++ {
				rj, ri := bitsLE(j, n), bitsLE(i, n)
				got := causalMLE(rj, ri, uint64(T))
				want := int64(0)
				if i < T && j <= i {
					want = 1
				}
				if w := fieldInt(want); !got.Equal(&w) {
					t.Fatalf("T=%d (i=%d, j=%d): %v, want %d", T, i, j, got.String(), want)
				}
			}
		}
	}
}

func bitsLE(v, n int) []field.Element {
	out := make([]field.Element, n)
	for k := range out {
		out[k] = field.NewInt(int64(v>>k) & 1)
	}
	return out
}

func fieldInt(v int64) field.Element { return field.NewInt(v) }
