package kernels

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/streamprove/streamprove/field"
	"github.com/streamprove/streamprove/gkr"
	"github.com/streamprove/streamprove/pcs"
	"github.com/streamprove/streamprove/tensorstore"
)

// cheatMults recomputes a lookup's multiplicities from the witness as it now is in the store,
// counting every tuple that is a table row (a cheating prover's best effort: a tuple outside
// the table has no row to count).
func (m *model) cheatMults(l *Lookup) {
	m.t.Helper()
	core := l.coreOf(m.graph)
	vals := make([][]field.Element, len(core.tensors))
	for t, name := range core.tensors {
		v := m.values(name)
		vals[t] = make([]field.Element, len(v))
		field.FromInts(vals[t], v)
	}
	n := int64(len(vals[0]))
	padded := int64(1) << m.graph.Tensors[core.tensors[0]].NumVars()
	var gamma field.Element
	gamma.SetUint64(0x1234567)
	gpow := powers(gamma, 8)
	for _, arg := range core.args {
		rows := map[field.Element]uint64{}
		for j := uint64(1<<arg.tab.logSize) - 1; ; j-- {
			rows[arg.tab.fold(j, gpow)] = j
			if j == 0 {
				break
			}
		}
		// tuple is Σ_c γ^(c+shift)·col_c at element i
		tuple := func(i int64, shift int) field.Element {
			var w field.Element
			for c, col := range arg.cols {
				for _, term := range col {
					var v field.Element
					v.Mul(&term.coef, &vals[term.t][i])
					v.Mul(&v, &gpow[c+shift])
					w.Add(&w, &v)
				}
			}
			return w
		}
		mult := make([]int64, 1<<arg.tab.logSize)
		step, pad := int64(1), padded-n
		if core.pack {
			step, pad = 2, pad/2
		}
		for i := int64(0); i < n; i += step {
			w := tuple(i, 0)
			if core.pack {
				o := tuple(i+1, len(arg.cols))
				w.Add(&w, &o)
			}
			if j, ok := rows[w]; ok {
				mult[j]++
			}
		}
		mult[arg.tab.zeroRow] += pad
		m.replaceTensor(arg.mult, mult)
	}
	m.forwardAfter(l)
}

// forwardAfter reruns the forward pass of every kernel after the lookup l (replacing their
// outputs), so that the cheating witness is consistent everywhere but in l's relation.
func (m *model) forwardAfter(l *Lookup) {
	m.t.Helper()
	fc := &ForwardCtx{Store: m.store, Graph: m.graph, Bounds: m.bounds, Write: tensorstore.WriteOptions{Replace: true}}
	after := false
	for _, k := range m.kerns {
		if after {
			if err := k.Forward(fc); err != nil {
				m.t.Fatal(err)
			}
		}
		if k == Kernel(l) {
			after = true
		}
	}
}

// proveReject proves over the store as it is and asserts that the verifier rejects the proof
// with ErrBadProof.
func (m *model) proveReject(what string) {
	m.t.Helper()
	pub := m.public()
	w := &StoreWitness{Store: m.store}
	proof, err := gkr.Prove(m.graph, w, pub, gkr.Options{})
	w.Close()
	if err != nil {
		m.t.Fatalf("%s: the prover failed (%v); want a proof the verifier rejects", what, err)
	}
	_, err = gkr.Verify(m.graph, pub, proof)
	reject(m.t, what, err)
	m.t.Logf("%s: %v", what, err)
}

func TestReLUSoundness(t *testing.T) {
	xs := []int64{-5, 7, -128, 127, 0, -1, 3, 100, -77}
	// A wrong output (relu(-5) claimed as -5), multiplicities recomputed by the cheater.
	m := reluModel(t, []int{3, 3}, 8, xs)
	m.forward()
	y := m.values("y")
	y[0] = -5
	m.replaceTensor("y", y)
	m.cheatMults(m.kerns[0].(*Lookup))
	m.proveReject("relu output -5 for x = -5")

	// A wrong output that is in the output range but not relu(x) (3 → 4).
	m = reluModel(t, []int{3, 3}, 8, xs)
	m.forward()
	y = m.values("y")
	y[6] = 4
	m.replaceTensor("y", y)
	m.cheatMults(m.kerns[0].(*Lookup))
	m.proveReject("relu output 4 for x = 3")

	// Wrong multiplicities with the right output.
	m = reluModel(t, []int{3, 3}, 8, xs)
	m.forward()
	mult := m.values("relu/mult")
	mult[128+7]--
	mult[128+8]++
	m.replaceTensor("relu/mult", mult)
	m.forwardAfter(m.kerns[0].(*Lookup))
	m.proveReject("shifted multiplicity")

	// The honest model verifies (the tests above reject for their change alone).
	m = reluModel(t, []int{3, 3}, 8, xs)
	m.forward()
	if err := m.proveVerify(0); err != nil {
		t.Fatal(err)
	}
}

func TestRangeSoundness(t *testing.T) {
	xs := []int64{-128, 5, 127, 0, 9, -3, 44}
	for _, bad := range []int64{128, -129, 1 << 20, -(1 << 40)} {
		m := newModel(t, 14)
		m.dataVals("x", gkr.Input, []int{7}, tensorstore.Int32, xs)
		k := must[*Lookup](t)(NewRange("rc", "x", -128, 128))
		m.lookup(k)
		m.forward()
		v := append([]int64(nil), xs...)
		v[4] = bad
		m.replaceTensor("x", v)
		m.cheatMults(k)
		m.proveReject("out-of-range value forced into the witness")
	}
}

func TestRequantSoundness(t *testing.T) {
	const shift, bits, qbits = 4, 8, 10
	// x = 40 = 2.5·16 (a tie: rounds to 2), 24 = 1.5·16 (tie: 2), 7 (0.44: 0), 5000 (saturates).
	xs := []int64{40, 24, 7, 5000, -40, -24, 300, -3000}
	type cheat struct {
		what string
		i    int
		u    int64 // the cheating quotient
	}
	for _, c := range []cheat{
		{"tie rounded up to odd", 0, 3},
		{"tie rounded down to odd", 1, 1},
		{"negative tie rounded to odd", 4, -3},
		{"non-tie rounded the wrong way", 2, 1},
		{"saturated tie rounded to odd", 3, 313},
		{"saturated value off by one", 3, 311},
		{"quotient off by two", 6, 17},
	} {
		m := requantModel(t, "requant", []int{8}, shift, bits, qbits, xs)
		m.forward()
		y, rp := m.values("y"), m.values("rq/rp")
		x := xs[c.i]
		y[c.i] = clamp(c.u, -128, 127)
		rp[c.i] = 2*(x-c.u<<shift) + c.u&1
		m.replaceTensor("y", y)
		m.replaceTensor("rq/rp", rp)
		m.cheatMults(m.kerns[0].(*Lookup))
		m.proveReject(c.what)
	}
	// A tie with the wrong parity: the quotient one off (odd) and its remainder the tie ∓h,
	// claimed with parity 0 as if it were even. z = ∓2h is in remParTable (a tie of an even
	// quotient), so only the parity tying z to the quotient in quotTable can catch it.
	for _, c := range []struct {
		what string
		i    int
		u    int64
	}{{"tie 2.5 to 3 claimed even", 0, 3}, {"tie 1.5 to 1 claimed even", 1, 1}} {
		m := requantModel(t, "requant", []int{8}, shift, bits, qbits, xs)
		m.forward()
		y, rp := m.values("y"), m.values("rq/rp")
		r := xs[c.i] - c.u<<shift
		if r != 8 && r != -8 {
			t.Fatalf("%s: remainder %d is not a tie", c.what, r)
		}
		y[c.i], rp[c.i] = clamp(c.u, -128, 127), 2*r
		m.replaceTensor("y", y)
		m.replaceTensor("rq/rp", rp)
		m.cheatMults(m.kerns[0].(*Lookup))
		m.proveReject(c.what)
	}
	// The right quotient with a wrong saturation: y = 127 where u = 2.
	m := requantModel(t, "requant", []int{8}, shift, bits, qbits, xs)
	m.forward()
	y := m.values("y")
	y[0] = 127
	m.replaceTensor("y", y)
	m.cheatMults(m.kerns[0].(*Lookup))
	m.proveReject("wrong saturation")

	// requant_relu: a negative output.
	m = requantModel(t, "requant_relu", []int{8}, shift, bits, qbits, xs)
	m.forward()
	y = m.values("y")
	y[4] = -2
	m.replaceTensor("y", y)
	m.cheatMults(m.kerns[0].(*Lookup))
	m.proveReject("requant_relu with a negative output")

	// Wrong remainder multiplicities.
	m = requantModel(t, "requant", []int{8}, shift, bits, qbits, xs)
	m.forward()
	mr := m.values("rq/mult_rem")
	mr[0]++
	m.replaceTensor("rq/mult_rem", mr)
	m.forwardAfter(m.kerns[0].(*Lookup))
	m.proveReject("an extra remainder multiplicity")
}

// Changing the advice commitments in the proof (any byte of them) is rejected.
func TestLookupAdviceCommitmentTampering(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	xs := requantInputs(rng, 15, 4, 10)
	m := requantModel(t, "requant_relu", []int{3, 5}, 4, 8, 10, xs)
	m.forward()
	pub := m.public()
	proof := m.prove(pub, 0)
	if _, err := gkr.Verify(m.graph, pub, proof); err != nil {
		t.Fatal(err)
	}
	const headerLen = 4 + 2 + 32 + 32
	off := headerLen
	for _, name := range m.graph.Names(gkr.Advice) {
		_, rest, err := pcs.DecodeCommitment(proof[off:])
		if err != nil {
			t.Fatal(err)
		}
		end := len(proof) - len(rest)
		for trial := 0; trial < 6; trial++ {
			i := off + rng.IntN(end-off)
			bad := append([]byte(nil), proof...)
			bad[i] ^= 1 << rng.IntN(8)
			_, err := gkr.Verify(m.graph, pub, bad)
			reject(t, "flipped byte in the commitment of "+name, err)
		}
		off = end
	}
	// A valid commitment to other data in place of y's.
	ti := m.graph.Tensors["y"]
	other := make([]field.Element, 1<<ti.NumVars())
	other[0].SetUint64(1)
	c, err := pcs.Commit(field.SliceSource(other), pcs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	off = headerLen
	for _, name := range m.graph.Names(gkr.Advice) {
		_, rest, _ := pcs.DecodeCommitment(proof[off:])
		end := len(proof) - len(rest)
		if name == "y" {
			enc := c.AppendBinary(nil)
			if len(enc) != end-off {
				t.Fatalf("commitment sizes differ: %d vs %d", len(enc), end-off)
			}
			bad := append([]byte(nil), proof...)
			copy(bad[off:end], enc)
			_, err := gkr.Verify(m.graph, pub, bad)
			reject(t, "another commitment in place of y's", err)
		}
		off = end
	}
	// Flipped bytes anywhere in the lookup's part of the proof.
	for trial := 0; trial < 40; trial++ {
		i := off + rng.IntN(len(proof)-off)
		bad := append([]byte(nil), proof...)
		bad[i] ^= 1 << rng.IntN(8)
		if _, err := gkr.Verify(m.graph, pub, bad); err == nil {
			t.Fatalf("proof with byte %d of %d flipped accepted", i, len(proof))
		}
	}
}

// cheatLookup proves its lookups with witness trees built from other tensors (a valid witness)
// than the ones it is bound to: everything up to the leaves is consistent, and only the check of
// the leaves against the tensors' values can catch it.
type cheatLookup struct {
	*Lookup
	fake   []string       // tensors to build the trees from, in core.tensors order (nil: the real ones)
	tables []*lookupTable // tables to build the table trees from (nil: the real ones)
}

func (c *cheatLookup) Prove(pc *gkr.ProveCtx, out []gkr.Claim) ([]gkr.Claim, error) {
	ch := &lookupCheat{tables: c.tables}
	for _, name := range c.fake {
		s, err := pc.Source(name)
		if err != nil {
			return nil, err
		}
		ch.treeSrcs = append(ch.treeSrcs, s)
	}
	return c.coreOf(pc.Party().Graph()).proveWith(pc, ch)
}

func TestLookupLeafBinding(t *testing.T) {
	xs := []int64{-5, 7, -128, 127, 0, -1, 3, 100, -77}
	m := reluModel(t, []int{9}, 8, xs)
	m.forward()
	// y_fake is the honest output (the multiplicities fit it); y gets a wrong value.
	y := m.values("y")
	fw, err := m.store.Create("y_fake", []int{9}, tensorstore.Int64, tensorstore.WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := fw.WriteInt64s(y); err != nil {
		t.Fatal(err)
	}
	if _, err := fw.Commit(); err != nil {
		t.Fatal(err)
	}
	y[0] = -5
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
	reject(t, "witness trees built from other tensors", err)
	if !contains(err.Error(), "leaves are not the looked-up tensors") {
		t.Fatalf("rejected, but not by the leaf check: %v", err)
	}
	// Control: the cheating prover with the honest tensors as its "fake" ones is honest.
	m.replaceTensor("y", m.values("y_fake"))
	m.forwardAfter(m.kerns[0].(*Lookup))
	g.Kernels[0] = &cheatLookup{Lookup: m.kerns[0].(*Lookup), fake: []string{"x", "y_fake"}}
	w = &StoreWitness{Store: m.store}
	proof, err = gkr.Prove(&g, w, m.public(), gkr.Options{})
	w.Close()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := gkr.Verify(m.graph, m.public(), proof); err != nil {
		t.Fatalf("control: %v", err)
	}
}

// A prover that builds its table tree from another table (the ReLU table with the row of −5
// changed to (−5, −5)) is caught by the check of the table leaves against the table's MLE.
func TestLookupTableBinding(t *testing.T) {
	xs := []int64{-5, 7, -128, 127, 0, -1, 3, 100, -77}
	m := reluModel(t, []int{9}, 8, xs)
	m.forward()
	y := m.values("y")
	y[0] = -5
	m.replaceTensor("y", y)
	m.forwardAfter(m.kerns[0].(*Lookup))
	bad := &lookupTable{logSize: 8, zeroRow: 128, cols: []tableColumn{
		pwColumn{{lo: 0, hi: 256, c0: -128, c1: 1}},
		pwColumn{{lo: 0, hi: 123}, {lo: 123, hi: 124, c0: -5}, {lo: 124, hi: 128}, {lo: 128, hi: 256, c0: -128, c1: 1}},
	}}
	g := *m.graph
	g.Kernels = append([]gkr.Kernel(nil), m.graph.Kernels...)
	g.Kernels[0] = &cheatLookup{Lookup: m.kerns[0].(*Lookup), tables: []*lookupTable{bad}}
	pub := m.public()
	w := &StoreWitness{Store: m.store}
	proof, err := gkr.Prove(&g, w, pub, gkr.Options{})
	w.Close()
	if err != nil {
		t.Fatal(err)
	}
	_, err = gkr.Verify(m.graph, pub, proof)
	reject(t, "table tree built from another table", err)
	if !contains(err.Error(), "table leaves do not match the table") {
		t.Fatalf("rejected, but not by the table check: %v", err)
	}
}

// Random single-value corruptions of a requantization's advice (y, rem or par), with the
// multiplicities recomputed by the cheater: the advice is a function of x, so every change is
// rejected.
func TestRequantRandomCorruptions(t *testing.T) {
	rng := rand.New(rand.NewPCG(41, 42))
	const shift, bits, qbits = 3, 6, 8
	xs := requantInputs(rng, 13, shift, qbits)
	for trial := 0; trial < 12; trial++ {
		op := "requant"
		if trial%2 == 1 {
			op = "requant_relu"
		}
		m := requantModel(t, op, []int{13}, shift, bits, qbits, xs)
		m.forward()
		name := []string{"y", "rq/rp"}[rng.IntN(2)]
		v := m.values(name)
		i := rng.IntN(len(v))
		d := int64(1 + rng.IntN(3))
		if rng.IntN(2) == 0 {
			d = -d
		}
		v[i] += d
		m.replaceTensor(name, v)
		m.cheatMults(m.kerns[0].(*Lookup))
		m.proveReject(fmt.Sprintf("%s: %s[%d] %+d", op, name, i, d))
	}
}

// A requantization of a field-typed input (read through the field, not as integers).
func TestRequantFieldInput(t *testing.T) {
	rng := rand.New(rand.NewPCG(43, 44))
	xs := requantInputs(rng, 10, 5, 12)
	m := newModel(t, 15)
	m.dataVals("x", gkr.Input, []int{2, 5}, tensorstore.Field, xs)
	m.data("w", gkr.Weight, []int{2, 5}, tensorstore.Int8)
	m.lookup(must[*Lookup](t)(NewRequant("rq", "x", "y", 5, 8, QuotientBits(12))))
	m.node(NewLinear("fc", "y", "w", "", "z"), []int{2, 2}, true)
	m.forward()
	ys := m.values("y")
	for i, x := range xs {
		u, _ := roundHalfEven(x, 5)
		if ys[i] != clamp(u, -128, 127) {
			t.Fatalf("y[%d] = %d for x = %d", i, ys[i], x)
		}
	}
	if err := m.proveVerify(0); err != nil {
		t.Fatal(err)
	}
}
