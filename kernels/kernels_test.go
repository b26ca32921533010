package kernels

import (
	"bytes"
	"errors"
	"math/big"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/streamprove/streamprove/field"
	"github.com/streamprove/streamprove/gkr"
	"github.com/streamprove/streamprove/pcs"
	"github.com/streamprove/streamprove/spill"
	"github.com/streamprove/streamprove/sumcheck"
	"github.com/streamprove/streamprove/tensorstore"
)

// testChunk is the chunk length of stored test tensors: small, to exercise chunk edges (the
// benchmarks raise it).
var testChunk = 64

// model is a small graph with its store, built by the test.
type model struct {
	t      testing.TB
	store  *tensorstore.Store
	graph  *gkr.Graph
	kerns  []Kernel
	bounds map[string]*big.Int
	rng    *rand.Rand
	chunk  int // chunk elements of stored tensors (small in tests to exercise chunk edges)
}

func newModel(t testing.TB, seed uint64) *model {
	t.Helper()
	s, err := tensorstore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return &model{t: t, store: s, graph: &gkr.Graph{Name: "test", Tensors: map[string]*gkr.TensorInfo{}},
		bounds: map[string]*big.Int{}, rng: rand.New(rand.NewPCG(seed, seed+1)), chunk: testChunk}
}

// data adds an input or weight tensor of random int8 values (int32 for biases).
func (m *model) data(name string, role gkr.Role, shape []int, dt tensorstore.DType) {
	m.t.Helper()
	m.graph.Tensors[name] = &gkr.TensorInfo{Name: name, Shape: shape, Role: role}
	w, err := m.store.Create(name, shape, dt, tensorstore.WriteOptions{ChunkElems: m.chunk})
	if err != nil {
		m.t.Fatal(err)
	}
	n := gkr.Numel(shape)
	v := make([]int64, n)
	lim := int64(128)
	if dt == tensorstore.Int32 {
		lim = 1 << 20
	}
	for i := range v {
		v[i] = m.rng.Int64N(2*lim) - lim
	}
	if err := w.WriteInt64s(v); err != nil {
		m.t.Fatal(err)
	}
	if _, err := w.Commit(); err != nil {
		m.t.Fatal(err)
	}
	m.bounds[name] = BoundForDType(dt)
}

// node adds a kernel and declares its output (role Intermediate unless out is true).
func (m *model) node(k Kernel, shape []int, out bool) {
	role := gkr.Intermediate
	if out {
		role = gkr.Output
	}
	for _, o := range k.Outputs() {
		m.graph.Tensors[o] = &gkr.TensorInfo{Name: o, Shape: shape, Role: role}
	}
	m.graph.Kernels = append(m.graph.Kernels, k)
	m.kerns = append(m.kerns, k)
}

func (m *model) forward() {
	m.t.Helper()
	fc := &ForwardCtx{Store: m.store, Graph: m.graph, Bounds: m.bounds, Write: tensorstore.WriteOptions{ChunkElems: m.chunk}, ChunkElems: 50}
	for _, k := range m.kerns {
		if err := k.Forward(fc); err != nil {
			m.t.Fatal(err)
		}
	}
}

func (m *model) public() gkr.Public {
	m.t.Helper()
	cm := map[string]*pcs.Commitment{}
	w := &StoreWitness{Store: m.store}
	for _, name := range m.graph.Names(gkr.Weight) {
		src, err := w.Source(name)
		if err != nil {
			m.t.Fatal(err)
		}
		// Matmul weights get rows = out, columns = in (as the scheduler commits them), so the
		// linear kernel's w_r is their opening vector and the hinted opening path is exercised.
		opt := pcs.Options{ColumnLog: pcs.ColumnLogFor(m.graph.Tensors[name].Shape)}
		c, err := pcs.Commit(src, opt)
		if err != nil {
			m.t.Fatal(err)
		}
		cm[name] = c
	}
	allow := map[string]bool{}
	for _, name := range m.graph.Names(gkr.Input) {
		allow[name] = true
	}
	padding, err := gkr.ProveWeightPadding(m.graph, cm, w, pcs.Options{})
	if err != nil {
		m.t.Fatal(err)
	}
	return gkr.Public{Inputs: &StoreWitness{Store: m.store, Allow: allow}, Commitments: cm, WeightPadding: padding}
}

func (m *model) prove(pub gkr.Public, budget int64) []byte {
	m.t.Helper()
	w := &StoreWitness{Store: m.store}
	defer w.Close()
	opt := gkr.Options{Sumcheck: sumcheck.Options{Budget: spill.NewBudget(budget), SpillDir: m.t.TempDir(), ChunkLog: 5}}
	proof, err := gkr.Prove(m.graph, w, pub, opt)
	if err != nil {
		m.t.Fatal(err)
	}
	return proof
}

// values returns a stored tensor's real elements as signed integers.
func (m *model) values(name string) []int64 {
	m.t.Helper()
	e := m.readElems(name)
	v := make([]int64, len(e))
	if err := field.ToInt64s(v, e, -1<<63, 1<<63-1); err != nil {
		m.t.Fatal(err)
	}
	return v
}

// chain: linear(+bias) → add (residual with itself through a second path) → mul → linear.
func chainModel(t testing.TB, batch, in, hid, out int) *model {
	m := newModel(t, uint64(batch*1000+in))
	xs := []int{batch, in}
	hs := []int{batch, hid}
	if batch == 0 {
		xs, hs = []int{in}, []int{hid}
	}
	m.data("x", gkr.Input, xs, tensorstore.Int8)
	m.data("w1", gkr.Weight, []int{hid, in}, tensorstore.Int8)
	m.data("b1", gkr.Weight, []int{hid}, tensorstore.Int32)
	m.data("w2", gkr.Weight, []int{out, hid}, tensorstore.Int8)
	m.node(NewLinear("fc1", "x", "w1", "b1", "h"), hs, false)
	m.node(Add("res", "h", "h", "s"), hs, false)  // one tensor read twice
	m.node(Mul("gate", "s", "h", "g"), hs, false) // h feeds two kernels: claims merged
	os := []int{batch, out}
	if batch == 0 {
		os = []int{out}
	}
	m.node(NewLinear("fc2", "g", "w2", "", "y"), os, true)
	m.forward()
	return m
}

func TestChainCompleteness(t *testing.T) {
	for _, c := range []struct{ batch, in, hid, out int }{
		{1, 5, 3, 2}, {0, 7, 5, 3}, {3, 12, 9, 10}, {4, 16, 8, 4}, {5, 33, 17, 6},
	} {
		m := chainModel(t, c.batch, c.in, c.hid, c.out)
		// the forward pass computed what it should
		x, w1, b1, w2 := m.values("x"), m.values("w1"), m.values("b1"), m.values("w2")
		y := m.values("y")
		B := max(c.batch, 1)
		for b := 0; b < B; b++ {
			h := make([]int64, c.hid)
			for o := range h {
				h[o] = b1[o]
				for i := 0; i < c.in; i++ {
					h[o] += x[b*c.in+i] * w1[o*c.in+i]
				}
				h[o] = 2 * h[o] * h[o]
			}
			for o := 0; o < c.out; o++ {
				want := new(big.Int)
				for i := range h {
					want.Add(want, new(big.Int).Mul(big.NewInt(h[i]), big.NewInt(w2[o*c.hid+i])))
				}
				if want.Cmp(big.NewInt(y[b*c.out+o])) != 0 {
					t.Fatalf("%+v: y[%d,%d] = %d, want %s", c, b, o, y[b*c.out+o], want)
				}
			}
		}
		pub := m.public()
		for _, budget := range []int64{0, 64 << 10} {
			proof := m.prove(pub, budget)
			outs, err := gkr.Verify(m.graph, pub, proof)
			if err != nil {
				t.Fatalf("%+v budget %d: honest proof rejected: %v", c, budget, err)
			}
			for i, v := range y {
				if got, _ := field.ToInt64(&outs["y"][i]); got != v {
					t.Fatalf("%+v: verified output %d = %d, want %d", c, i, got, v)
				}
			}
		}
	}
}

func reject(t testing.TB, what string, err error) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: accepted", what)
	}
	if !errors.Is(err, gkr.ErrBadProof) {
		t.Fatalf("%s: rejected with %v, want ErrBadProof", what, err)
	}
}

func TestChainSoundness(t *testing.T) {
	m := chainModel(t, 3, 12, 9, 10)
	pub := m.public()
	proof := m.prove(pub, 0)
	if _, err := gkr.Verify(m.graph, pub, proof); err != nil {
		t.Fatal(err)
	}

	// Every flipped byte of the proof is rejected (a bit per byte, all bytes).
	for i := range proof {
		bad := append([]byte(nil), proof...)
		bad[i] ^= 1 << (i % 8)
		_, err := gkr.Verify(m.graph, pub, bad)
		if err == nil {
			t.Fatalf("proof with byte %d of %d flipped accepted", i, len(proof))
		}
	}
	_, err := gkr.Verify(m.graph, pub, proof[:len(proof)-1])
	reject(t, "truncated proof", err)
	_, err = gkr.Verify(m.graph, pub, append(append([]byte(nil), proof...), 0))
	reject(t, "proof with a trailing byte", err)

	// A proof checked against a different graph (the scale of one kernel changed).
	g2 := *m.graph
	g2.Kernels = append([]gkr.Kernel(nil), m.graph.Kernels...)
	g2.Kernels[1] = Scale("res", "h", 3, "s")
	_, err = gkr.Verify(&g2, pub, proof)
	reject(t, "proof for another graph", err)

	// Different weights: a commitment to other data.
	pub2 := gkr.Public{Inputs: pub.Inputs, Commitments: map[string]*pcs.Commitment{}}
	for k, v := range pub.Commitments {
		pub2.Commitments[k] = v
	}
	src := field.SliceSource(make([]field.Element, 1<<m.graph.Tensors["w1"].NumVars()))
	c, err := pcs.Commit(src, pcs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	pub2.Commitments["w1"] = c
	_, err = gkr.Verify(m.graph, pub2, proof)
	reject(t, "proof against another weight commitment", err)
}

// A prover that runs on a corrupted witness (an intermediate or the output changed after the
// forward pass) produces a proof that does not verify.
func TestCorruptWitnessRejected(t *testing.T) {
	for _, victim := range []string{"h", "s", "g", "y"} {
		m := chainModel(t, 3, 12, 9, 10)
		pub := m.public()
		v := m.values(victim)
		v[len(v)/2]++
		info := m.graph.Tensors[victim]
		w, err := m.store.Create(victim, info.Shape, tensorstore.Int64, tensorstore.WriteOptions{Replace: true})
		if err != nil {
			t.Fatal(err)
		}
		if err := w.WriteInt64s(v); err != nil {
			t.Fatal(err)
		}
		if _, err := w.Commit(); err != nil {
			t.Fatal(err)
		}
		wit := &StoreWitness{Store: m.store}
		proof, err := gkr.Prove(m.graph, wit, pub, gkr.Options{})
		wit.Close()
		if err != nil {
			t.Fatalf("prover on a corrupted %s: %v (want a proof that the verifier rejects)", victim, err)
		}
		_, err = gkr.Verify(m.graph, pub, proof)
		reject(t, "proof over a corrupted "+victim, err)
	}
}

// A weight changed after its commitment: the prover's witness disagrees with the commitment.
func TestChangedWeightRejected(t *testing.T) {
	m := chainModel(t, 2, 8, 4, 3)
	pub := m.public()
	v := m.values("w2")
	v[0] ^= 1
	w, err := m.store.Create("w2", m.graph.Tensors["w2"].Shape, tensorstore.Int8, tensorstore.WriteOptions{Replace: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.WriteInt64s(v); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	m.forward2()
	proof := m.prove(pub, 0)
	_, err = gkr.Verify(m.graph, pub, proof)
	reject(t, "proof with a weight changed after commit", err)
}

// forward2 reruns the forward pass replacing existing outputs.
func (m *model) forward2() {
	m.t.Helper()
	fc := &ForwardCtx{Store: m.store, Graph: m.graph, Bounds: m.bounds, Write: tensorstore.WriteOptions{Replace: true}}
	for _, k := range m.kerns {
		if err := k.Forward(fc); err != nil {
			m.t.Fatal(err)
		}
	}
}

func TestElementwiseKinds(t *testing.T) {
	m := newModel(t, 9)
	shape := []int{7, 5, 3}
	m.data("a", gkr.Input, shape, tensorstore.Int8)
	m.data("b", gkr.Input, shape, tensorstore.Int8)
	poly, err := NewElementwise("poly", "poly", []string{"a", "b"}, []Term{{3, []int{0, 0, 1}}, {-2, []int{1}}}, "p")
	if err != nil {
		t.Fatal(err)
	}
	m.node(Sub("sub", "a", "b", "d"), shape, false)
	m.node(Square("sq", "d", "q"), shape, false)
	m.node(Scale("sc", "q", -5, "r"), shape, false)
	m.node(poly, shape, false)
	m.node(Add("out", "r", "p", "y"), shape, true)
	m.forward()
	a, b, y := m.values("a"), m.values("b"), m.values("y")
	for i := range y {
		d := a[i] - b[i]
		want := -5*d*d + 3*a[i]*a[i]*b[i] - 2*b[i]
		if y[i] != want {
			t.Fatalf("y[%d] = %d, want %d", i, y[i], want)
		}
	}
	pub := m.public()
	proof := m.prove(pub, 0)
	if _, err := gkr.Verify(m.graph, pub, proof); err != nil {
		t.Fatal(err)
	}
	if _, err := NewElementwise("c", "c", []string{"a"}, []Term{{1, nil}}, "z"); err == nil {
		t.Fatal("constant term accepted")
	}
}

// A proof resumed from any checkpoint (after a round trip through its encoding) is byte for
// byte the uninterrupted proof.
func TestResumeFromEveryCheckpoint(t *testing.T) {
	m := chainModel(t, 3, 12, 9, 10)
	pub := m.public()
	var cps [][]byte
	w := &StoreWitness{Store: m.store}
	defer w.Close()
	full, err := gkr.Prove(m.graph, w, pub, gkr.Options{Checkpoint: func(cp *gkr.Checkpoint) error {
		b, err := cp.MarshalBinary()
		cps = append(cps, b)
		return err
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(cps) != len(m.graph.Kernels) {
		t.Fatalf("%d checkpoints for %d kernels", len(cps), len(m.graph.Kernels))
	}
	for i, b := range cps {
		cp := new(gkr.Checkpoint)
		if err := cp.UnmarshalBinary(b); err != nil {
			t.Fatal(err)
		}
		got, err := gkr.Prove(m.graph, w, pub, gkr.Options{Resume: cp})
		if err != nil {
			t.Fatalf("resume from checkpoint %d: %v", i, err)
		}
		if string(got) != string(full) {
			t.Fatalf("resume from checkpoint %d: different proof", i)
		}
		// a truncated checkpoint is an error, not a panic
		if err := new(gkr.Checkpoint).UnmarshalBinary(b[:len(b)-1]); err == nil {
			t.Fatal("truncated checkpoint accepted")
		}
	}
}

// A linear layer whose row vectors cannot be held in RAM spills them and still proves: the
// budget here is smaller than one row vector, so x_r and w_r live in spill files.
func TestLinearSpilledRowVectors(t *testing.T) {
	m := newModel(t, 21)
	m.chunk = 1 << 10
	m.data("x", gkr.Input, []int{3, 5000}, tensorstore.Int8)
	m.data("w", gkr.Weight, []int{4, 5000}, tensorstore.Int8)
	m.node(NewLinear("fc", "x", "w", "", "y"), []int{3, 4}, true)
	m.forward()
	pub := m.public()
	// 8192 padded columns × 32 B = 256 KiB per row vector; the budget holds one of them.
	proof := m.prove(pub, 512<<10)
	if _, err := gkr.Verify(m.graph, pub, proof); err != nil {
		t.Fatalf("proof with spilled row vectors: %v", err)
	}
	if string(proof) != string(m.prove(pub, 0)) {
		t.Fatal("spilled and in-RAM row vectors give different proofs")
	}
}

// The proof buffer (here mostly public outputs) is charged to the budget: a proof that cannot
// fit is refused with ErrBudget naming it, never built past the promise.
func TestProofBufferCharged(t *testing.T) {
	m := newModel(t, 31)
	m.chunk = 1 << 12
	shape := []int{1 << 17}
	m.data("a", gkr.Input, shape, tensorstore.Int8)
	m.data("b", gkr.Input, shape, tensorstore.Int8)
	m.node(Add("sum", "a", "b", "y"), shape, true)
	m.forward()
	pub := m.public()
	w := &StoreWitness{Store: m.store}
	defer w.Close()
	_, err := gkr.Prove(m.graph, w, pub, gkr.Options{Sumcheck: sumcheck.Options{Budget: spill.NewBudget(2 << 20)}})
	if !errors.Is(err, spill.ErrBudget) || !strings.Contains(err.Error(), "proof") {
		t.Fatalf("4 MiB of outputs under a 2 MiB ledger: %v", err)
	}
	b := spill.NewBudget(16 << 20)
	proof, err := gkr.Prove(m.graph, w, pub, gkr.Options{Sumcheck: sumcheck.Options{Budget: b}})
	if err != nil {
		t.Fatal(err)
	}
	if b.Used() != 0 {
		t.Fatalf("%d bytes still reserved after the proof", b.Used())
	}
	if b.Peak() < int64(len(proof)) {
		t.Fatalf("ledger peak %d is below the proof's %d bytes", b.Peak(), len(proof))
	}
	if _, err := gkr.Verify(m.graph, pub, proof); err != nil {
		t.Fatal(err)
	}
}

// TestProofFile: a proof written to a file as it is made is the in-RAM proof byte for byte, its
// checkpoints carry only its length, and resuming from each of them — with the file holding
// more than the checkpoint (a crash after it) — rebuilds the same bytes.
func TestProofFile(t *testing.T) {
	m := mlpModel(t, 3, 12, 10, 4, true, false)
	pub := m.public()
	w := &StoreWitness{Store: m.store}
	defer w.Close()
	full, err := gkr.Prove(m.graph, w, pub, gkr.Options{})
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(t.TempDir(), "proof"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var cps []*gkr.Checkpoint
	got, err := gkr.Prove(m.graph, w, pub, gkr.Options{ProofFile: f, Checkpoint: func(cp *gkr.Checkpoint) error {
		if cp.Proof != nil {
			t.Fatal("a file-backed checkpoint copied the proof")
		}
		b, _ := cp.MarshalBinary()
		c := new(gkr.Checkpoint)
		cps = append(cps, c)
		return c.UnmarshalBinary(b)
	}})
	if err != nil || got != nil {
		t.Fatalf("prove to file: %v (returned %d bytes)", err, len(got))
	}
	read := func() []byte {
		b, err := os.ReadFile(f.Name())
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	if !bytes.Equal(read(), full) {
		t.Fatal("the proof file differs from the in-RAM proof")
	}
	for i, cp := range cps {
		got, err := gkr.Prove(m.graph, w, pub, gkr.Options{ProofFile: f, Resume: cp})
		if err != nil || got != nil {
			t.Fatalf("resume from checkpoint %d: %v", i, err)
		}
		if !bytes.Equal(read(), full) {
			t.Fatalf("resume from checkpoint %d: different proof", i)
		}
	}
	// A file shorter than the checkpoint says so.
	if err := f.Truncate(100); err != nil {
		t.Fatal(err)
	}
	if _, err := gkr.Prove(m.graph, w, pub, gkr.Options{ProofFile: f, Resume: cps[len(cps)-1]}); err == nil {
		t.Fatal("resumed from a proof file shorter than its checkpoint")
	}
}
