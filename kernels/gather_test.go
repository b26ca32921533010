package kernels

import (
	"fmt"
	"strings"
	"testing"

	"github.com/streamprove/streamprove/field"
	"github.com/streamprove/streamprove/gkr"
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
