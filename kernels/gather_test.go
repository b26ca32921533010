package kernels

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/streamprove/streamprove/field"
	"github.com/streamprove/streamprove/gkr"
	"github.com/streamprove/streamprove/pcs"
	"github.com/streamprove/streamprove/tensorstore"
)

// ints adds a tensor with the given values.
func (m *model) ints(name string, role gkr.Role, shape []int, dt tensorstore.DType, v []int64) {
	m.t.Helper()
	m.graph.Tensors[name] = &gkr.TensorInfo{Name: name, Shape: shape, Role: role}
	w, err := m.store.Create(name, shape, dt, tensorstore.WriteOptions{ChunkElems: m.chunk})
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

// embedModel: e = W[ids] then y = e·W2ᵀ (the embedding's claim comes from a linear layer).
func embedModel(t testing.TB, V, D, T, O int, ids []int64) *model {
	m := newModel(t, uint64(V*100+T))
	m.data("w", gkr.Weight, []int{V, D}, tensorstore.Int8)
	m.data("w2", gkr.Weight, []int{O, D}, tensorstore.Int8)
	m.ints("ids", gkr.Input, []int{T}, tensorstore.Int32, ids)
	m.node(NewGather("embed", "w", "ids", "e"), []int{T, D}, false)
	m.node(NewLinear("head", "e", "w2", "", "y"), []int{T, O}, true)
	m.forward()
	return m
}

func TestGatherCompleteness(t *testing.T) {
	for _, c := range []struct{ V, D, T, O int }{{11, 5, 7, 3}, {16, 8, 4, 2}, {3, 1, 9, 1}, {33, 70, 1, 5}, {100, 6, 13, 4}} {
		ids := make([]int64, c.T)
		for i := range ids {
			ids[i] = int64((i*7 + 3) % c.V)
		}
		ids[0] = int64(c.V - 1) // the last real row
		m := embedModel(t, c.V, c.D, c.T, c.O, ids)
		w, e := m.values("w"), m.values("e")
		for i, id := range ids {
			if fmt.Sprint(e[i*c.D:(i+1)*c.D]) != fmt.Sprint(w[int(id)*c.D:(int(id)+1)*c.D]) {
				t.Fatalf("%+v: row %d of the embedding is not W[%d]", c, i, id)
			}
		}
		pub := m.public()
		for _, budget := range []int64{0, 64 << 10} {
			proof := m.prove(pub, budget)
			if _, err := gkr.Verify(m.graph, pub, proof); err != nil {
				t.Fatalf("%+v budget %d: honest proof rejected: %v", c, budget, err)
			}
		}
	}
}

// swapWitness serves some tensors from elsewhere: a prover that believes other ids.
type swapWitness struct {
	gkr.Witness
	over map[string]field.Source
}

func (s swapWitness) Source(name string) (field.Source, error) {
	if src, ok := s.over[name]; ok {
		return src, nil
	}
	return s.Witness.Source(name)
}

func TestGatherSoundness(t *testing.T) {
	const V, D, T, O = 11, 5, 7, 3
	ids := []int64{3, 1, 4, 1, 5, 9, 2}
	// A prover whose embedding took row 6 instead of ids[2] = 4 and that proves with those
	// ids throughout (so every other message is consistent): rejected by the verifier's own
	// selector computed from the public ids.
	m := embedModel(t, V, D, T, O, ids)
	pub := m.public()
	wrong := append([]int64(nil), ids...)
	wrong[2] = 6
	m2 := embedModel(t, V, D, T, O, wrong) // same seed: same weights
	if fmt.Sprint(m2.values("w")) != fmt.Sprint(m.values("w")) {
		t.Fatal("models differ in their weights")
	}
	w := &StoreWitness{Store: m2.store}
	defer w.Close()
	bad := make([]field.Element, 8)
	for i, id := range wrong {
		bad[i] = field.NewInt(id)
	}
	proof, err := gkr.Prove(m.graph, swapWitness{w, map[string]field.Source{"ids": field.SliceSource(bad)}}, pub, gkr.Options{})
	if err != nil {
		t.Fatalf("cheating prover failed: %v", err)
	}
	_, err = gkr.Verify(m.graph, pub, proof)
	reject(t, "embedding of a wrong token id", err)
	if !strings.Contains(err.Error(), "public ids") {
		t.Fatalf("rejected for another reason: %v", err)
	}

	// One embedding value changed (the ids right): rejected.
	m3 := embedModel(t, V, D, T, O, ids)
	pub3 := m3.public()
	e := m3.values("e")
	e[2*D+1]++
	m3.rewriteInts("e", e, tensorstore.Int64)
	w3 := &StoreWitness{Store: m3.store}
	defer w3.Close()
	proof, err = gkr.Prove(m3.graph, w3, pub3, gkr.Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = gkr.Verify(m3.graph, pub3, proof)
	reject(t, "embedding with a changed value", err)
}

// privateEmbedModel: e = W[ids] with ids a private input (or, with viaAdd, ids = a + b of two
// private inputs: an intermediate), then y = e·W2ᵀ.
func privateEmbedModel(t testing.TB, V, D, T, O int, ids []int64, viaAdd bool) (*model, *Gather) {
	m := newModel(t, uint64(V*100+T+7))
	m.data("w", gkr.Weight, []int{V, D}, tensorstore.Int8)
	m.data("w2", gkr.Weight, []int{O, D}, tensorstore.Int8)
	if viaAdd {
		a, b := make([]int64, T), make([]int64, T)
		for i, id := range ids {
			a[i] = id / 2
			b[i] = id - a[i]
		}
		m.ints("ida", gkr.PrivateInput, []int{T}, tensorstore.Int32, a)
		m.ints("idb", gkr.PrivateInput, []int{T}, tensorstore.Int32, b)
		m.node(Add("ids-add", "ida", "idb", "ids"), []int{T}, false)
	} else {
		m.ints("ids", gkr.PrivateInput, []int{T}, tensorstore.Int32, ids)
	}
	g := NewGatherPrivate("embed", "w", "ids", "e")
	infos, err := g.Declare(m.graph)
	if err != nil {
		t.Fatal(err)
	}
	for i := range infos {
		m.graph.Tensors[infos[i].Name] = &infos[i]
	}
	m.graph.Tensors["e"] = &gkr.TensorInfo{Name: "e", Shape: []int{T, D}, Role: gkr.Intermediate}
	m.graph.Kernels = append(m.graph.Kernels, g)
	m.kerns = append(m.kerns, g)
	m.node(NewLinear("head", "e", "w2", "", "y"), []int{T, O}, true)
	m.forward()
	return m, g
}

func testIDs(V, T int) []int64 {
	ids := make([]int64, T)
	for i := range ids {
		ids[i] = int64((i*7 + 3) % V)
	}
	ids[0] = int64(V - 1) // the last real row
	return ids
}

func TestGatherPrivateCompleteness(t *testing.T) {
	for _, c := range []struct {
		V, D, T, O int
		viaAdd     bool
	}{{5, 3, 7, 3, false}, {11, 5, 7, 3, false}, {16, 8, 4, 2, false}, {3, 1, 9, 1, false}, {33, 70, 1, 5, false},
		{100, 6, 13, 4, false}, {7, 3, 5, 2, true}} {
		ids := testIDs(c.V, c.T)
		m, g := privateEmbedModel(t, c.V, c.D, c.T, c.O, ids, c.viaAdd)
		w, e, oh := m.values("w"), m.values("e"), m.values(g.OneHot())
		for i, id := range ids {
			if fmt.Sprint(e[i*c.D:(i+1)*c.D]) != fmt.Sprint(w[int(id)*c.D:(int(id)+1)*c.D]) {
				t.Fatalf("%+v: row %d of the embedding is not W[%d]", c, i, id)
			}
			for v := 0; v < c.V; v++ {
				if want := int64(0); v == int(id) && oh[i*c.V+v] != 1 || v != int(id) && oh[i*c.V+v] != want {
					t.Fatalf("%+v: one-hot row %d is %v, want a 1 at %d", c, i, oh[i*c.V:(i+1)*c.V], id)
				}
			}
		}
		pub := m.public()
		for _, budget := range []int64{0, 64 << 10} {
			proof := m.prove(pub, budget)
			if _, err := gkr.Verify(m.graph, pub, proof); err != nil {
				t.Fatalf("%+v budget %d: honest proof rejected: %v", c, budget, err)
			}
		}
	}
}

func TestGatherPrivateDescribe(t *testing.T) {
	pub, priv := NewGather("e", "w", "ids", "y"), NewGatherPrivate("e", "w", "ids", "y")
	if string(pub.Describe()) != "gather/1" {
		t.Fatalf("public gather describes itself as %q", pub.Describe())
	}
	if string(priv.Describe()) == string(pub.Describe()) {
		t.Fatal("private and public gather share a description")
	}
	if len(pub.Outputs()) != 1 || len(priv.Outputs()) != 2 || priv.Outputs()[1] != priv.OneHot() {
		t.Fatalf("outputs %v and %v", pub.Outputs(), priv.Outputs())
	}
}

func TestGatherPrivateOutOfRange(t *testing.T) {
	m := newModel(t, 3)
	m.data("w", gkr.Weight, []int{5, 3}, tensorstore.Int8)
	m.ints("ids", gkr.PrivateInput, []int{4}, tensorstore.Int32, []int64{1, 0, 5, 2})
	g := NewGatherPrivate("embed", "w", "ids", "e")
	infos, _ := g.Declare(m.graph)
	m.graph.Tensors[infos[0].Name] = &infos[0]
	m.graph.Tensors["e"] = &gkr.TensorInfo{Name: "e", Shape: []int{4, 3}, Role: gkr.Intermediate}
	fc := &ForwardCtx{Store: m.store, Graph: m.graph, Bounds: m.bounds, Write: tensorstore.WriteOptions{ChunkElems: m.chunk}}
	err := g.Forward(fc)
	if err == nil || !strings.Contains(err.Error(), "embed") || !strings.Contains(err.Error(), "token id 5 at position 2") {
		t.Fatalf("id 5 of 5 rows: %v, want an error naming the node, position and value", err)
	}
}

// TestGatherPrivateSoundness forges the one-hot advice and the embedding consistently with each
// other (the linear after it recomputed, so only the gather's relation is false) and proves with
// two cheating strategies: the honest code (selector from the committed ids) and a selector
// built from the forged one-hot; openings of false claims are let through
// (pcs.Options.SkipProverChecks). Every variant must be rejected.
func TestGatherPrivateSoundness(t *testing.T) {
	const V, D, T, O = 11, 5, 7, 3
	ids := []int64{3, 1, 4, 1, 5, 9, 2}
	cheat := gkr.Options{PCS: pcs.Options{SkipProverChecks: true}}
	// forge returns the model after replacing C's row 2 by row and e's row 2 by Σ_v row[v]·W[v].
	forge := func(t *testing.T, row []int64, eRow func(w []int64) []int64) (*model, *Gather) {
		m, g := privateEmbedModel(t, V, D, T, O, ids, false)
		oh := m.values(g.OneHot())
		copy(oh[2*V:3*V], row)
		m.rewriteInts(g.OneHot(), oh, tensorstore.Int8)
		w, e := m.values("w"), m.values("e")
		var er []int64
		if eRow != nil {
			er = eRow(w)
		} else {
			er = make([]int64, D)
			for v, c := range row {
				for d := 0; d < D; d++ {
					er[d] += c * w[v*D+d]
				}
			}
		}
		copy(e[2*D:3*D], er)
		m.rewriteInts("e", e, tensorstore.Int64)
		fc := &ForwardCtx{Store: m.store, Graph: m.graph, Bounds: m.bounds, Write: tensorstore.WriteOptions{Replace: true}}
		if err := m.kerns[1].Forward(fc); err != nil { // y from the forged e
			t.Fatal(err)
		}
		return m, g
	}
	oneAt := func(js ...int) []int64 {
		r := make([]int64, V)
		for _, j := range js {
			r[j]++
		}
		return r
	}
	two := make([]int64, V) // 2·C[3] − C[2]: row sum 1, index sum 2·3 − 2 = 4 = ids[2]; not Boolean
	two[3], two[2] = 2, -1
	for _, c := range []struct {
		name string
		row  []int64
		eRow func(w []int64) []int64
		// want is what rejects the prover whose selector follows the forged one-hot (the
		// honest-code prover's selector follows the ids, so the row relation rejects it).
		want string
	}{
		{"a row with two ones", oneAt(4, 7), nil, "rows selected"},
		{"a row pointing at another row than the id", oneAt(6), nil, "rows selected"},
		{"a row with a 2 (and a −1) that passes the linear checks", two, nil, "booleanity"},
		{"an all-zero row for a real token", oneAt(), nil, "rows selected"},
		{"a 2 at the id's row", oneAt(4, 4), nil, "rows selected"},
		{"the embedding row taken from another table row", oneAt(4), func(w []int64) []int64 { return w[6*D : 7*D] }, "rows selected"},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, fromAdvice := range []bool{false, true} {
				m, g := forge(t, c.row, c.eRow)
				pub := m.public()
				g.selFromAdvice = fromAdvice
				w := &StoreWitness{Store: m.store}
				proof, err := gkr.Prove(m.graph, w, pub, cheat)
				w.Close()
				g.selFromAdvice = false
				if err != nil {
					t.Fatalf("selector from advice %v: cheating prover failed: %v", fromAdvice, err)
				}
				_, err = gkr.Verify(m.graph, pub, proof)
				reject(t, fmt.Sprintf("%s (selector from advice %v)", c.name, fromAdvice), err)
				if want := map[bool]string{false: "rows selected", true: c.want}[fromAdvice]; !strings.Contains(err.Error(), want) {
					t.Fatalf("selector from advice %v: rejected for another reason than %q: %v", fromAdvice, want, err)
				}
			}
		})
	}

	t.Run("flipped proof bytes", func(t *testing.T) {
		m, _ := privateEmbedModel(t, V, D, T, O, ids, false)
		pub := m.public()
		proof := m.prove(pub, 0)
		if _, err := gkr.Verify(m.graph, pub, proof); err != nil {
			t.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(5, 6))
		for k := 0; k < 24; k++ {
			bad := bytes.Clone(proof)
			bad[rng.IntN(len(bad))] ^= byte(1 << rng.IntN(8))
			_, err := gkr.Verify(m.graph, pub, bad)
			reject(t, "flipped byte", err)
		}
	})
}
