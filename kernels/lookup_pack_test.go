package kernels

import (
	"math/rand/v2"
	"testing"

	"github.com/streamprove/streamprove/field"
	"github.com/streamprove/streamprove/gkr"
	"github.com/streamprove/streamprove/tensorstore"
)

// A pair table's columns are its table's columns at the low and high halves of the row index,
// and their MLEs (the verifier's) agree with their rows.
func TestPairTableMLE(t *testing.T) {
	rng := rand.New(rand.NewPCG(31, 32))
	for name, tab := range map[string]*lookupTable{
		"relu3":       clampTable(3, 0, 3),
		"quot3/s2":    quotTable(3, 2, -4, 3),
		"rem2":        remTable(2),
		"range[-3,5)": rangeTable(-3, 5),
	} {
		p := pairTable(tab)
		L := tab.logSize
		if p.logSize != 2*L || len(p.cols) != 2*len(tab.cols) {
			t.Fatalf("%s: pair table of %d rows and %d columns", name, 1<<p.logSize, len(p.cols))
		}
		for j := uint64(0); j < 1<<p.logSize; j++ {
			lo, hi := j&(1<<L-1), j>>L
			for c, col := range tab.cols {
				if p.cols[c].at(j) != col.at(lo) || p.cols[len(tab.cols)+c].at(j) != col.at(hi) {
					t.Fatalf("%s: row %d column %d is not the pair (%d, %d)", name, j, c, lo, hi)
				}
			}
		}
		for c := range p.cols {
			if v := p.cols[c].at(p.zeroRow); v != 0 {
				t.Fatalf("%s: zero row has column %d = %d", name, c, v)
			}
			rows := make([]field.Element, 1<<p.logSize)
			for j := range rows {
				rows[j] = field.NewInt(p.cols[c].at(uint64(j)))
			}
			r := make([]field.Element, p.logSize)
			for k := range r {
				r[k].SetUint64(rng.Uint64())
			}
			want, err := field.EvalSlice(rows, r, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := p.cols[c].mle(r); !got.Equal(&want) {
				t.Fatalf("%s: column %d's MLE disagrees with its rows", name, c)
			}
		}
	}
}

// packedRequantModel is a requant(_relu) whose two tables are small enough to pack over 1024
// elements (shift 2, 3 output bits, 3-bit quotient table).
func packedRequantModel(t *testing.T, op string, xs []int64) *model {
	return requantModel(t, op, []int{32, 32}, 2, 3, 3, xs)
}

func checkPacked(t *testing.T, m *model, want bool) {
	t.Helper()
	k := m.kerns[0].(*Lookup)
	if got := k.coreOf(m.graph).pack; got != want {
		t.Fatalf("%s over %v: packed %v, want %v", k.op, m.graph.Tensors[k.x].Shape, got, want)
	}
}

func TestPackedLookupCompleteness(t *testing.T) {
	rng := rand.New(rand.NewPCG(33, 34))
	// ReLU: packed when the pair table has at most 2^(n−4) rows and the last dimension is even.
	for _, c := range []struct {
		shape []int
		bits  int
		pack  bool
	}{
		{[]int{32, 32}, 3, true}, {[]int{5, 38}, 2, true}, {[]int{6}, 2, false}, {[]int{33, 31}, 3, false},
		{[]int{16, 32}, 3, false}, {[]int{4, 64}, 2, true},
	} {
		n := int(gkr.Numel(c.shape))
		H := int64(1) << (c.bits - 1)
		xs := make([]int64, n)
		for i := range xs {
			xs[i] = rng.Int64N(2*H) - H
		}
		m := reluModel(t, c.shape, c.bits, xs)
		checkPacked(t, m, c.pack)
		m.forward()
		for i, y := range m.values("y") {
			if y != max(xs[i], 0) {
				t.Fatalf("%v: y[%d] = %d, want relu(%d)", c.shape, i, y, xs[i])
			}
		}
		for _, budget := range []int64{0, 256 << 10} {
			if err := m.proveVerify(budget); err != nil {
				t.Fatalf("%v bits %d budget %d: honest proof rejected: %v", c.shape, c.bits, budget, err)
			}
		}
	}
	// A range check and both requantizations (two packed lookups over four tensors).
	m := newModel(t, 14)
	xs := make([]int64, 1024)
	for i := range xs {
		xs[i] = rng.Int64N(8) - 3
	}
	m.dataVals("x", gkr.Input, []int{32, 32}, tensorstore.Int32, xs)
	m.lookup(must[*Lookup](t)(NewRange("rc", "x", -3, 5)))
	checkPacked(t, m, true)
	m.forward()
	if err := m.proveVerify(0); err != nil {
		t.Fatalf("range: %v", err)
	}
	for _, op := range []string{"requant", "requant_relu"} {
		m := packedRequantModel(t, op, requantInputs(rng, 1024, 2, 3))
		checkPacked(t, m, true)
		m.forward()
		for _, budget := range []int64{0, 256 << 10} {
			if err := m.proveVerify(budget); err != nil {
				t.Fatalf("%s budget %d: honest proof rejected: %v", op, budget, err)
			}
		}
	}
}

func TestPackedLookupSoundness(t *testing.T) {
	rng := rand.New(rand.NewPCG(35, 36))
	xs := make([]int64, 1024)
	for i := range xs {
		xs[i] = rng.Int64N(8) - 4
	}
	xs[10], xs[11] = -3, 2
	// A wrong ReLU output in the even and in the odd element of a pair.
	for _, c := range []struct {
		i int
		y int64
	}{{10, -3}, {11, 3}, {10, 1}} {
		m := reluModel(t, []int{32, 32}, 3, xs)
		checkPacked(t, m, true)
		m.forward()
		y := m.values("y")
		y[c.i] = c.y
		m.replaceTensor("y", y)
		m.cheatMults(m.kerns[0].(*Lookup))
		m.proveReject("packed relu with a wrong output")
	}
	// Multiplicities moved to another pair.
	m := reluModel(t, []int{32, 32}, 3, xs)
	m.forward()
	mult := m.values("relu/mult")
	for j := range mult {
		if mult[j] > 0 {
			mult[j]--
			mult[(j+1)%len(mult)]++
			break
		}
	}
	m.replaceTensor("relu/mult", mult)
	m.forwardAfter(m.kerns[0].(*Lookup))
	m.proveReject("packed relu with a shifted multiplicity")

	// A value outside a packed range check.
	for _, bad := range []int64{5, -4, 1 << 20} {
		m := newModel(t, 14)
		rs := make([]int64, 1024)
		for i := range rs {
			rs[i] = rng.Int64N(8) - 3
		}
		m.dataVals("x", gkr.Input, []int{32, 32}, tensorstore.Int32, rs)
		k := must[*Lookup](t)(NewRange("rc", "x", -3, 5))
		m.lookup(k)
		checkPacked(t, m, true)
		m.forward()
		rs[7] = bad
		m.replaceTensor("x", rs)
		m.cheatMults(k)
		m.proveReject("packed range check with an out-of-range value")
	}

	// Requantization by 4 (shift 2), quotient table [−4, 4), output [−4, 3]: x = 6 = 1.5·4 is a
	// tie rounding to 2, x = 10 = 2.5·4 one rounding to 2, x = 5 rounds to 1, x = 13 to 3.
	rq := requantInputs(rng, 1024, 2, 3)
	rq[100], rq[101], rq[102], rq[103] = 6, 10, 5, 13
	for _, c := range []struct {
		what string
		i    int
		u    int64
		rem  int64 // the cheating remainder when it is not x − 4u
	}{
		{"tie rounded up to odd", 101, 3, 0},
		{"tie rounded down to odd", 100, 1, 0},
		{"non-tie rounded the wrong way", 102, 2, 0},
		{"quotient beyond the table", 103, 4, 0},
		{"remainder out of range", 102, 0, 5},
	} {
		m := packedRequantModel(t, "requant", rq)
		checkPacked(t, m, true)
		m.forward()
		y, rp := m.values("y"), m.values("rq/rp")
		x := rq[c.i]
		y[c.i] = clamp(c.u, -4, 3)
		rem := x - c.u<<2
		if c.rem != 0 {
			rem = c.rem
			y[c.i] = clamp((x-c.rem)/4, -4, 3)
		}
		rp[c.i] = 2*rem + c.u&1
		m.replaceTensor("y", y)
		m.replaceTensor("rq/rp", rp)
		m.cheatMults(m.kerns[0].(*Lookup))
		m.proveReject("packed requant: " + c.what)
	}
	// A wrong y alone.
	m = packedRequantModel(t, "requant_relu", rq)
	m.forward()
	y := m.values("y")
	y[101] = 1
	m.replaceTensor("y", y)
	m.cheatMults(m.kerns[0].(*Lookup))
	m.proveReject("packed requant_relu with a wrong output")
}

// Witness trees built from other tensors than the packed lookup's are caught by the check of
// the quarter values; every flipped byte of the kernel's messages is rejected.
func TestPackedLookupLeafBinding(t *testing.T) {
	rng := rand.New(rand.NewPCG(37, 38))
	xs := make([]int64, 1024)
	for i := range xs {
		xs[i] = rng.Int64N(8) - 4
	}
	m := reluModel(t, []int{32, 32}, 3, xs)
	checkPacked(t, m, true)
	m.forward()
	y := m.values("y")
	fw, err := m.store.Create("y_fake", []int{32, 32}, tensorstore.Int64, tensorstore.WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := fw.WriteInt64s(y); err != nil {
		t.Fatal(err)
	}
	if _, err := fw.Commit(); err != nil {
		t.Fatal(err)
	}
	y[5] = -1
	m.replaceTensor("y", y)
	m.forwardAfter(m.kerns[0].(*Lookup))
	pub := m.public()
	g := *m.graph
	g.Kernels = append([]gkr.Kernel(nil), m.graph.Kernels...)
	g.Kernels[0] = &cheatLookup{Lookup: m.kerns[0].(*Lookup), fake: []string{"x", "y_fake"}}
	w := &StoreWitness{Store: m.store}
	proof, err := gkr.Prove(&g, w, pub, gkr.Options{})
	w.Close()
	if err != nil {
		t.Fatal(err)
	}
	_, err = gkr.Verify(m.graph, pub, proof)
	reject(t, "packed witness trees built from other tensors", err)
	if !contains(err.Error(), "leaves are not the looked-up tensors") {
		t.Fatalf("rejected, but not by the leaf check: %v", err)
	}

	// The honest proof, then flipped bytes in its last part (the kernel's messages and opening).
	m.replaceTensor("y", m.values("y_fake"))
	m.forwardAfter(m.kerns[0].(*Lookup))
	pub = m.public()
	proof = m.prove(pub, 0)
	if _, err := gkr.Verify(m.graph, pub, proof); err != nil {
		t.Fatal(err)
	}
	for trial := 0; trial < 40; trial++ {
		i := len(proof)/2 + rng.IntN(len(proof)/2)
		bad := append([]byte(nil), proof...)
		bad[i] ^= 1 << rng.IntN(8)
		if _, err := gkr.Verify(m.graph, pub, bad); err == nil {
			t.Fatalf("packed proof with byte %d of %d flipped accepted", i, len(proof))
		}
	}
}
