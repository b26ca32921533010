package kernels

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/streamprove/streamprove/field"
	"github.com/streamprove/streamprove/gkr"
	"github.com/streamprove/streamprove/spill"
	"github.com/streamprove/streamprove/sumcheck"
	"github.com/streamprove/streamprove/tensorstore"
)

// The verifier's O(log) evaluation of every table column agrees with the MLE of its rows.
func TestLookupTableMLE(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	tabs := map[string]*lookupTable{
		"range[-128,128)": rangeTable(-128, 128),
		"range[0,100)":    rangeTable(0, 100),
		"range[-3,5)":     rangeTable(-3, 5),
		"range[0,1)":      rangeTable(0, 1),
		"relu8":           clampTable(8, 0, 127),
		"clamp10/8":       clampTable(10, -128, 127),
		"quot9/s3/relu8":  quotTable(9, 3, 0, 127),
		"rem1":            remTable(1),
		"rem2":            remTable(2),
		"rem5":            remTable(5),
		"rempar1":         remParTable(1),
		"rempar4":         remParTable(4),
		"quot10/s4":       quotTable(10, 4, -128, 127),
		"quot9/s1/relu":   quotTable(9, 1, 0, 127),
	}
	for name, tab := range tabs {
		size := 1 << tab.logSize
		for _, c := range tab.cols {
			rows := make([]field.Element, size)
			for j := range rows {
				rows[j] = field.NewInt(c.at(uint64(j)))
			}
			for trial := 0; trial < 3; trial++ {
				r := make([]field.Element, tab.logSize)
				for k := range r {
					r[k].SetUint64(rng.Uint64())
				}
				want, err := field.EvalSlice(rows, r, nil)
				if err != nil {
					t.Fatal(err)
				}
				if got := c.mle(r); !got.Equal(&want) {
					t.Fatalf("%s: column MLE disagrees with its rows", name)
				}
			}
		}
		for k := range tab.cols {
			if v := tab.cols[k].at(tab.zeroRow); v != 0 {
				t.Fatalf("%s: zero row %d has column %d = %d", name, tab.zeroRow, k, v)
			}
		}
	}
	// remTable holds exactly the remainders a tie-to-even rounding produces.
	for s := 1; s <= 6; s++ {
		tab := remTable(s)
		seen := map[[2]int64]bool{}
		for j := uint64(0); j < 1<<tab.logSize; j++ {
			seen[[2]int64{tab.cols[0].at(j), tab.cols[1].at(j)}] = true
		}
		for x := int64(-300); x <= 300; x++ {
			u, rem := roundHalfEven(x, s)
			if 2*u*(1<<s) > 2*x+(1<<s) || 2*u*(1<<s) < 2*x-(1<<s) {
				t.Fatalf("s=%d x=%d: u=%d is not a nearest integer", s, x, u)
			}
			if !seen[[2]int64{rem, u & 1}] {
				t.Fatalf("s=%d x=%d: (rem %d, parity %d) not in the table", s, x, rem, u&1)
			}
			if remRow(s, rem, u&1) >= 1<<tab.logSize || tab.cols[0].at(remRow(s, rem, u&1)) != rem {
				t.Fatalf("s=%d: remRow(%d, %d) is wrong", s, rem, u&1)
			}
		}
		// remParTable(s) holds 2r + p for exactly remTable's pairs, in the same rows.
		rp := remParTable(s)
		if rp.logSize != tab.logSize {
			t.Fatalf("s=%d: remParTable has 2^%d rows, remTable 2^%d", s, rp.logSize, tab.logSize)
		}
		zs := map[int64]bool{}
		for j := uint64(0); j < 1<<tab.logSize; j++ {
			z, r, p := rp.cols[0].at(j), tab.cols[0].at(j), tab.cols[1].at(j)
			if z != 2*r+p || zs[z] {
				t.Fatalf("s=%d row %d: z = %d for (r %d, p %d), or repeated", s, j, z, r, p)
			}
			zs[z] = true
		}
		// quotTable's first column 2^(s+1)·a − (a mod 2) is injective, next to clamp(a).
		q := quotTable(8, s, -16, 15)
		firsts := map[int64]bool{}
		for j := uint64(0); j < 1<<q.logSize; j++ {
			a := int64(j) - 128
			if v := q.cols[0].at(j); v != a<<uint(s+1)-a&1 || firsts[v] {
				t.Fatalf("s=%d a=%d: first column %d, or repeated", s, a, v)
			}
			firsts[q.cols[0].at(j)] = true
			if q.cols[1].at(j) != clamp(a, -16, 15) {
				t.Fatalf("s=%d a=%d: clamp column %d", s, a, q.cols[1].at(j))
			}
		}
	}
}

func TestRoundHalfEven(t *testing.T) {
	for _, c := range []struct{ x, u int64 }{
		{2, 0}, {6, 2}, {10, 2}, {14, 4}, {-2, 0}, {-6, -2}, {-10, -2}, {-14, -4}, {5, 1}, {-5, -1}, {7, 2}, {-7, -2}, {3, 1}, {-3, -1},
	} {
		if u, _ := roundHalfEven(c.x, 2); u != c.u {
			t.Fatalf("round(%d/4) = %d, want %d", c.x, u, c.u)
		}
	}
}

// dataVals adds an input or weight tensor with the given values.
func (m *model) dataVals(name string, role gkr.Role, shape []int, dt tensorstore.DType, v []int64) {
	m.t.Helper()
	m.graph.Tensors[name] = &gkr.TensorInfo{Name: name, Shape: shape, Role: role}
	w, err := m.store.Create(name, shape, dt, tensorstore.WriteOptions{ChunkElems: 64, Replace: true})
	if err != nil {
		m.t.Fatal(err)
	}
	if err := w.WriteInt64s(v); err != nil {
		m.t.Fatal(err)
	}
	if _, err := w.Commit(); err != nil {
		m.t.Fatal(err)
	}
	m.bounds[name] = BoundForDType(dt)
}

// lookup adds a lookup kernel and declares its advice tensors.
func (m *model) lookup(k *Lookup) {
	m.t.Helper()
	infos, err := AdviceTensors(m.graph, k)
	if err != nil {
		m.t.Fatal(err)
	}
	for i := range infos {
		ti := infos[i]
		m.graph.Tensors[ti.Name] = &ti
	}
	m.graph.Kernels = append(m.graph.Kernels, k)
	m.kerns = append(m.kerns, k)
}

func must[T any](t *testing.T) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// replaceTensor rewrites a stored tensor with other values (same shape).
func (m *model) replaceTensor(name string, v []int64) {
	m.t.Helper()
	info := m.graph.Tensors[name]
	w, err := m.store.Create(name, info.Shape, tensorstore.Int64, tensorstore.WriteOptions{Replace: true})
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

func (m *model) proveVerify(budget int64) error {
	m.t.Helper()
	pub := m.public()
	proof := m.prove(pub, budget)
	_, err := gkr.Verify(m.graph, pub, proof)
	return err
}

// reluModel: x → relu → y (advice) → linear → z (output).
func reluModel(t *testing.T, shape []int, bits int, xs []int64) *model {
	m := newModel(t, 7)
	dt := tensorstore.Int16
	m.dataVals("x", gkr.Input, shape, dt, xs)
	m.data("w", gkr.Weight, []int{3, shape[len(shape)-1]}, tensorstore.Int8)
	m.lookup(must[*Lookup](t)(NewReLU("relu", "x", "y", bits)))
	zs := append(append([]int(nil), shape[:len(shape)-1]...), 3)
	m.node(NewLinear("fc", "y", "w", "", "z"), zs, true)
	return m
}

func TestReLUCompleteness(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, c := range []struct {
		shape []int
		bits  int
	}{{[]int{1}, 8}, {[]int{2}, 8}, {[]int{5}, 2}, {[]int{3, 5}, 8}, {[]int{7}, 4}, {[]int{4, 33}, 16}, {[]int{5, 9}, 12}} {
		n := int(gkr.Numel(c.shape))
		H := int64(1) << (c.bits - 1)
		xs := make([]int64, n)
		for i := range xs {
			xs[i] = rng.Int64N(2*H) - H
		}
		xs[0] = -H // range ends
		if n > 1 {
			xs[n-1] = H - 1
		}
		m := reluModel(t, c.shape, c.bits, xs)
		m.forward()
		ys := m.values("y")
		for i, x := range xs {
			if ys[i] != max(x, 0) {
				t.Fatalf("%v: y[%d] = %d, want relu(%d)", c.shape, i, ys[i], x)
			}
		}
		for _, budget := range []int64{0, 256 << 10} {
			if err := m.proveVerify(budget); err != nil {
				t.Fatalf("%v bits %d budget %d: honest proof rejected: %v", c.shape, c.bits, budget, err)
			}
		}
	}
}

// requantModel: x (input, int32 values) → op → y (advice) → linear → z (output).
func requantModel(t *testing.T, op string, shape []int, shift, bits, qbits int, xs []int64) *model {
	m := newModel(t, 11)
	m.dataVals("x", gkr.Input, shape, tensorstore.Int32, xs)
	m.data("w", gkr.Weight, []int{2, shape[len(shape)-1]}, tensorstore.Int8)
	var k *Lookup
	var err error
	if op == "requant" {
		k, err = NewRequant("rq", "x", "y", shift, bits, QuotientBits(qbits))
	} else {
		k, err = NewRequantReLU("rq", "x", "y", shift, bits, QuotientBits(qbits))
	}
	if err != nil {
		t.Fatal(err)
	}
	m.lookup(k)
	zs := append(append([]int(nil), shape[:len(shape)-1]...), 2)
	m.node(NewLinear("fc", "y", "w", "", "z"), zs, true)
	return m
}

// requantInputs draws values whose quotient fits a qbits table, with ties, saturation on both
// sides and the extreme quotients.
func requantInputs(rng *rand.Rand, n, shift, qbits int) []int64 {
	H := int64(1) << (qbits - 1)
	xs := make([]int64, n)
	for i := range xs {
		u := rng.Int64N(2*H-2) - H + 1
		switch i % 4 {
		case 0:
			xs[i] = u << shift // exact
		case 1:
			if shift > 0 {
				xs[i] = u<<shift + int64(1)<<(shift-1) // tie
			} else {
				xs[i] = u
			}
		default:
			xs[i] = u<<shift + rng.Int64N(int64(1)<<shift) - int64(1)<<shift/2
		}
	}
	xs[0] = -H << shift // smallest quotient
	if n > 1 {
		xs[n-1] = (H-1)<<shift + (int64(1)<<shift)/2 - 1 // largest x rounding to H−1
		if shift == 0 {
			xs[n-1] = H - 1
		}
	}
	return xs
}

func TestRequantCompleteness(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, c := range []struct {
		op                 string
		shape              []int
		shift, bits, qbits int
	}{
		{"requant", []int{3, 5}, 4, 8, 10},
		{"requant_relu", []int{3, 5}, 4, 8, 10},
		{"requant", []int{1}, 3, 8, 9},
		{"requant", []int{2}, 1, 4, 6},
		{"requant_relu", []int{6, 7}, 0, 8, 10},
		{"requant", []int{9}, 0, 8, 8},
		{"requant", []int{4, 17}, 8, 16, 16},
		{"requant_relu", []int{5, 3}, 12, 8, 12},
	} {
		n := int(gkr.Numel(c.shape))
		xs := requantInputs(rng, n, c.shift, c.qbits)
		m := requantModel(t, c.op, c.shape, c.shift, c.bits, c.qbits, xs)
		m.forward()
		ys := m.values("y")
		lo, hi := -(int64(1) << (c.bits - 1)), int64(1)<<(c.bits-1)-1
		if c.op == "requant_relu" {
			lo = 0
		}
		for i, x := range xs {
			// reference: round half to even with big rationals' semantics, by hand
			d := int64(1) << c.shift
			q := x / d
			r := x - q*d
			if r < 0 {
				q--
				r += d
			}
			if 2*r > d || (2*r == d && q%2 != 0) {
				q++
			}
			if want := clamp(q, lo, hi); ys[i] != want {
				t.Fatalf("%+v: y[%d] = %d for x = %d, want %d", c, i, ys[i], x, want)
			}
		}
		if err := m.proveVerify(0); err != nil {
			t.Fatalf("%+v: honest proof rejected: %v", c, err)
		}
	}
}

func TestRangeCompleteness(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 9))
	for _, c := range []struct {
		shape  []int
		lo, hi int64
	}{{[]int{3, 5}, -128, 128}, {[]int{1}, 0, 256}, {[]int{33}, -32768, 32768}, {[]int{2, 3}, -3, 5}, {[]int{11}, 0, 100}, {[]int{3, 3, 3}, -1, 1000}, {[]int{2}, 0, 1}} {
		n := int(gkr.Numel(c.shape))
		xs := make([]int64, n)
		for i := range xs {
			xs[i] = c.lo + rng.Int64N(c.hi-c.lo)
		}
		xs[0] = c.lo
		xs[n-1] = c.hi - 1
		m := newModel(t, 12)
		m.dataVals("x", gkr.Input, c.shape, tensorstore.Int32, xs)
		m.lookup(must[*Lookup](t)(NewRange("rc", "x", c.lo, c.hi)))
		m.forward()
		if err := m.proveVerify(0); err != nil {
			t.Fatalf("%+v: honest proof rejected: %v", c, err)
		}
	}
}

// Values the tables cannot prove fail the forward pass with an error naming node and index.
func TestLookupForwardRejects(t *testing.T) {
	m := newModel(t, 13)
	m.dataVals("x", gkr.Input, []int{4}, tensorstore.Int32, []int64{0, 5, 300, -2})
	m.lookup(must[*Lookup](t)(NewRange("rc", "x", -128, 128)))
	fc := &ForwardCtx{Store: m.store, Graph: m.graph, Bounds: m.bounds}
	err := m.kerns[0].Forward(fc)
	if err == nil || !contains(err.Error(), "rc") || !contains(err.Error(), "element 2") {
		t.Fatalf("range forward on 300: %v", err)
	}
	m = requantModel(t, "requant", []int{3}, 4, 8, 10, []int64{0, 512 << 4, 1})
	fc = &ForwardCtx{Store: m.store, Graph: m.graph, Bounds: m.bounds}
	if err := m.kerns[0].Forward(fc); err == nil || !contains(err.Error(), "element 1") {
		t.Fatalf("requant forward on a wide input: %v", err)
	}
	m = reluModel(t, []int{2}, 8, []int64{-129, 0})
	fc = &ForwardCtx{Store: m.store, Graph: m.graph, Bounds: m.bounds}
	if err := m.kerns[0].Forward(fc); err == nil || !contains(err.Error(), "element 0") {
		t.Fatalf("relu forward on -129: %v", err)
	}
	if _, err := NewRange("bad", "x", 1, 10); err == nil {
		t.Fatal("a range without 0 accepted")
	}
	if _, err := NewRequant("bad", "x", "y", 4, 20, QuotientBits(16)); err == nil {
		t.Fatal("an output wider than the quotient table accepted")
	}
}

func contains(s, sub string) bool {
	return len(sub) == 0 || len(s) >= len(sub) && (s[:len(sub)] == sub || contains(s[1:], sub))
}

// TestLookupWorkingSet: ledgers swept up to just above a lookup's least working set
// (EstimateReaders' MinBytes, its readers sized from the store): below it the prove fails with
// ErrBudget, and once the kernels before it fit, the lookup itself refuses up front naming its
// node; just above it the lookup proves with its trees spilled and the proof verifies.
func TestLookupWorkingSet(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	shape := []int{16, 64}
	xs := make([]int64, 16*64)
	for i := range xs {
		xs[i] = rng.Int64N(1<<14) - 1<<13
	}
	m := requantModel(t, "requant_relu", shape, 6, 8, 16, xs)
	m.forward()
	var lk *Lookup
	for _, k := range m.graph.Kernels {
		if l, ok := k.(*Lookup); ok {
			lk = l
		}
	}
	rd := func(name string, asField bool) int64 {
		in, err := m.store.Stat(name)
		if err != nil {
			t.Fatal(err)
		}
		if in.DType.IsInt() && !asField {
			return in.StreamBytes(8)
		}
		return in.StreamBytes(field.Bytes)
	}
	est := lk.EstimateReaders(m.graph, rd, 0)
	// the 2^16-row quotient table's tree alone is 8 MiB: near the least it must spill
	if est.MinBytes <= 0 || est.TableBytes < 8<<20 {
		t.Fatalf("estimate %+v", est)
	}
	pub := m.public()
	prove := func(ledger int64) ([]byte, *spill.Budget, error) {
		b := spill.NewBudget(ledger)
		w := &StoreWitness{Store: m.store, Budget: b}
		defer w.Close()
		proof, err := gkr.Prove(m.graph, w, pub, gkr.Options{Sumcheck: sumcheck.Options{Budget: b, SpillDir: t.TempDir()}})
		return proof, b, err
	}
	refused := false
	for ledger := est.MinBytes / 2; ledger <= est.MinBytes; ledger += est.MinBytes / 32 {
		_, _, err := prove(ledger)
		if !errors.Is(err, spill.ErrBudget) {
			t.Fatalf("ledger %d below the least %d: %v, want ErrBudget", ledger, est.MinBytes, err)
		}
		refused = refused || strings.Contains(err.Error(), "node rq needs")
	}
	if !refused {
		t.Fatalf("no ledger up to the least %d reached the lookup's own refusal", est.MinBytes)
	}
	ledger := est.MinBytes + 64<<10 // the proof so far and the linear kernel's buffers
	proof, b, err := prove(ledger)
	if err != nil {
		t.Fatalf("ledger %d (least %d): %v", ledger, est.MinBytes, err)
	}
	if _, err := gkr.Verify(m.graph, pub, proof); err != nil {
		t.Fatalf("ledger %d: proof rejected: %v", ledger, err)
	}
	if b.Peak() > ledger || b.Used() != 0 {
		t.Fatalf("ledger %d: peak %d, still used %d", ledger, b.Peak(), b.Used())
	}
}

// remTable (the test's reference for remParTable) holds the pairs (r, p) allowed for the remainder r = x − 2^s·u of a rounding to the
// nearest with ties to even and the parity p of the quotient u: |r| < h with either parity, and
// r = ±h (a tie) only with p = 0, where h = 2^(s−1). That is exactly 4h = 2^(s+1) rows:
// j ∈ [0, 2h] ↦ (j − h, 0) and j ∈ (2h, 4h) ↦ (j − 3h, 1).
func remTable(s int) *lookupTable {
	h := int64(1) << uint(s-1)
	r := pwColumn{{lo: 0, hi: uint64(2*h + 1), c0: -h, c1: 1}}
	p := pwColumn{{lo: 0, hi: uint64(2*h + 1)}}
	if 2*h+1 < 4*h {
		r = append(r, segment{lo: uint64(2*h + 1), hi: uint64(4 * h), c0: -3 * h, c1: 1})
		p = append(p, segment{lo: uint64(2*h + 1), hi: uint64(4 * h), c0: 1})
	}
	return &lookupTable{logSize: s + 1, cols: []tableColumn{r, p}, zeroRow: uint64(h)}
}
