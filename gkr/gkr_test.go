package gkr

import (
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/streamprove/streamprove/field"
)

func randElems(rng *rand.Rand, n int) []field.Element {
	v := make([]field.Element, n)
	for i := range v {
		v[i].SetUint64(rng.Uint64())
	}
	return v
}

// evalReal (used by the verifier on the public outputs) equals the MLE of the padded tensor
// built in full, and realIndex walks exactly the real positions in row-major order.
func TestEvalRealMatchesPadded(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, shape := range [][]int{{1}, {5}, {3, 10}, {7, 5, 3}, {1, 1, 9}, {4, 4}} {
		n := Numel(shape)
		vals := randElems(rng, int(n))
		ti := &TensorInfo{Name: "t", Shape: shape}
		padded := make([]field.Element, 1<<ti.NumVars())
		it := newRealIndex(shape)
		for i := range vals {
			p := it.next()
			if p < 0 || p >= int64(len(padded)) {
				t.Fatalf("%v: real index %d out of range", shape, p)
			}
			padded[p] = vals[i]
		}
		if it.next() != -1 {
			t.Fatalf("%v: realIndex yields more than %d positions", shape, n)
		}
		r := randElems(rng, ti.NumVars())
		want, err := field.EvalSlice(padded, r, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := evalReal(vals, shape, r); !got.Equal(&want) {
			t.Fatalf("%v: evalReal differs from the padded MLE", shape)
		}
	}
}

func TestCheckpointRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	proof := append([]byte("SPRF-proof-so-far"), make([]byte, headerLen)...)
	cp := &Checkpoint{Next: 3, ProofLen: int64(len(proof)), Proof: proof, Claims: map[string][]Claim{
		"a": {{Tensor: "a", Point: randElems(rng, 3), Value: randElems(rng, 1)[0]}},
		"b": {{Tensor: "b", Point: randElems(rng, 0)}, {Tensor: "b", Point: randElems(rng, 2)}},
	}}
	cp.State[5] = 9
	data, err := cp.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var got Checkpoint
	if err := got.UnmarshalBinary(data); err != nil {
		t.Fatal(err)
	}
	again, _ := got.MarshalBinary()
	if string(again) != string(data) || got.Next != 3 || got.State != cp.State || len(got.Claims["b"]) != 2 {
		t.Fatal("checkpoint does not round-trip")
	}
	// A checkpoint of a proof kept in a file carries its length only.
	inFile := &Checkpoint{Next: 1, ProofLen: 1 << 30}
	data2, _ := inFile.MarshalBinary()
	var got2 Checkpoint
	if err := got2.UnmarshalBinary(data2); err != nil || got2.ProofLen != 1<<30 || got2.Proof != nil {
		t.Fatalf("file checkpoint: %v %+v", err, got2)
	}
	// A proof length that disagrees with the bytes, or is shorter than a header, is refused.
	for _, bad := range []*Checkpoint{{ProofLen: 5}, {ProofLen: 100, Proof: proof}} {
		b, _ := bad.MarshalBinary()
		if err := new(Checkpoint).UnmarshalBinary(b); err == nil {
			t.Fatalf("checkpoint with proof length %d and %d bytes accepted", bad.ProofLen, len(bad.Proof))
		}
	}
	for _, bad := range [][]byte{data[:len(data)-1], append(append([]byte(nil), data...), 0), []byte("SPCX")} {
		if err := new(Checkpoint).UnmarshalBinary(bad); err == nil {
			t.Fatal("bad checkpoint accepted")
		}
	}
}

func TestDedupe(t *testing.T) {
	p := []field.Element{field.NewInt(1), field.NewInt(2)}
	q := []field.Element{field.NewInt(1), field.NewInt(3)}
	cs, err := dedupe([]Claim{{"t", p, field.NewInt(5), nil}, {"t", q, field.NewInt(6), nil}, {"t", p, field.NewInt(5), nil}})
	if err != nil || len(cs) != 2 {
		t.Fatalf("dedupe kept %d claims (%v)", len(cs), err)
	}
	// one point, two values: cannot both hold
	if _, err := dedupe([]Claim{{"t", p, field.NewInt(5), nil}, {"t", p, field.NewInt(7), nil}}); !errors.Is(err, ErrBadProof) {
		t.Fatalf("conflicting claims: %v", err)
	}
}

func TestHeader(t *testing.T) {
	var gd, cd [32]byte
	gd[0], cd[0] = 1, 2
	h := appendHeader(nil, gd, cd)
	if err := checkHeader(h, gd, cd); err != nil {
		t.Fatal(err)
	}
	other := gd
	other[1] = 1
	for _, c := range []struct {
		p      []byte
		gd, cd [32]byte
	}{{h, other, cd}, {h, gd, other}, {h[:10], gd, cd}, {append([]byte("XPRF"), h[4:]...), gd, cd}} {
		if err := checkHeader(c.p, c.gd, c.cd); !errors.Is(err, ErrBadProof) {
			t.Fatalf("bad header accepted: %v", err)
		}
	}
}

func TestValidate(t *testing.T) {
	g := &Graph{Tensors: map[string]*TensorInfo{
		"x": {Name: "x", Shape: []int{2}, Role: Input},
		"y": {Name: "y", Shape: []int{2}, Role: Output},
	}}
	if err := g.Validate(); !errors.Is(err, ErrGraph) {
		t.Fatalf("an output nobody produces: %v", err)
	}
	g.Tensors["x"].Shape = []int{0}
	delete(g.Tensors, "y")
	if err := g.Validate(); !errors.Is(err, ErrGraph) {
		t.Fatalf("a zero dimension: %v", err)
	}
}

func TestParseRole(t *testing.T) {
	for r := Intermediate; r <= PrivateInput; r++ {
		if got, err := ParseRole(r.String()); err != nil || got != r {
			t.Errorf("ParseRole(%q) = %v, %v", r.String(), got, err)
		}
	}
	if _, err := ParseRole("hidden"); err == nil {
		t.Error("ParseRole accepted an unknown role")
	}
}
