package kernels

import (
	"errors"
	"strings"
	"testing"

	"github.com/streamprove/streamprove/field"
	"github.com/streamprove/streamprove/gkr"
	"github.com/streamprove/streamprove/pcs"
	"github.com/streamprove/streamprove/tensorstore"
)

// The attacks of issue 10 (F1): data hidden in the padding of committed tensors. Each one plays
// a cheating prover (pcs.Options.SkipProverChecks lets it open claims that do not hold) and
// asserts that the verifier rejects; TestMutationSuite runs them.

// commitAll commits every weight of g from w as the scheduler does (a matmul weight [out, in]
// has rows of in).
func commitAll(t testing.TB, g *gkr.Graph, w gkr.Witness) map[string]*pcs.Commitment {
	t.Helper()
	cm := map[string]*pcs.Commitment{}
	for _, name := range g.Names(gkr.Weight) {
		src, err := w.Source(name)
		if err != nil {
			t.Fatal(err)
		}
		opt := pcs.Options{ColumnLog: pcs.ColumnLogFor(g.Tensors[name].Shape)}
		c, err := pcs.Commit(src, opt)
		if err != nil {
			t.Fatal(err)
		}
		cm[name] = c
	}
	return cm
}

// hiddenMLP declares linear(x, w1, b1) → requant_relu → linear(·, w2) → y with hidden width
// `width` in g (tensors only; data comes from the caller).
func hiddenMLP(t *testing.T, m *model, width int) {
	m.node(NewLinear("fc1", "x", "w1", "b1", "h1"), []int{3, width}, false)
	m.lookup(must[*Lookup](t)(NewRequantReLU("act1", "h1", "a1", mlpShift, 8, QuotientBits(mlpQBits))))
	m.node(NewLinear("fc2", "a1", "w2", "", "y"), []int{3, 4}, true)
}

// hiddenNeurons is the attack as reported: the verifier's graph and commitments say width
// 10; the prover's store holds width 16, whose 6 extra neurons sit exactly in the padding of the
// width-10 tensors (rows 10–15 of w1 and entries of b1, columns 10–15 of w2) and change the
// outputs. In the second variant w1's hidden rows are zero, so its commitment is byte-identical
// to the honest one, and the neurons live in b1's padding alone.
func hiddenNeurons(t *testing.T) {
	for _, biasOnly := range []bool{false, true} {
		name := map[bool]string{false: "weight rows", true: "bias only"}[biasOnly]
		t.Run(name, func(t *testing.T) {
			// The prover's store: width 16.
			m := newModel(t, 77)
			m.data("x", gkr.Input, []int{3, 12}, tensorstore.Int8)
			w1 := make([]int64, 16*12)
			b1 := make([]int64, 16)
			w2 := make([]int64, 4*16)
			for o := 0; o < 16; o++ {
				for i := 0; i < 12; i++ {
					if o < 10 || !biasOnly {
						w1[o*12+i] = m.rng.Int64N(255) - 127
					}
				}
				b1[o] = m.rng.Int64N(8192) - 4096
				if o >= 10 {
					b1[o] = 20000 // a hidden neuron that always fires
				}
			}
			for i := range w2 {
				w2[i] = m.rng.Int64N(255) - 127
			}
			m.dataVals("w1", gkr.Weight, []int{16, 12}, tensorstore.Int8, w1)
			m.dataVals("b1", gkr.Weight, []int{16}, tensorstore.Int32, b1)
			m.dataVals("w2", gkr.Weight, []int{4, 16}, tensorstore.Int8, w2)
			hiddenMLP(t, m, 16)
			m.forward()

			// The verifier's graph: width 10, same names.
			v := newModel(t, 78)
			v.graph.Tensors["x"] = m.graph.Tensors["x"]
			for n, s := range map[string][]int{"w1": {10, 12}, "b1": {10}, "w2": {4, 10}} {
				v.graph.Tensors[n] = &gkr.TensorInfo{Name: n, Shape: s, Role: gkr.Weight}
			}
			hiddenMLP(t, v, 10)
			g10 := v.graph

			w := &StoreWitness{Store: m.store}
			defer w.Close()
			cm := commitAll(t, g10, w)
			if biasOnly {
				honest := commitAll(t, g10, &zeroPadded{w, g10})
				if cm["w1"].Digest() != honest["w1"].Digest() {
					t.Fatal("w1's commitment should be the honest one in this variant")
				}
			}
			// The honest committer refuses to prove this padding.
			if _, err := gkr.ProveWeightPadding(g10, cm, w, pcs.Options{}); !errors.Is(err, pcs.ErrClaim) {
				t.Fatalf("ProveWeightPadding on hidden neurons: %v, want pcs.ErrClaim", err)
			}
			forged, err := gkr.ProveWeightPadding(g10, cm, w, pcs.Options{SkipProverChecks: true})
			if err != nil {
				t.Fatal(err)
			}
			proof, err := gkr.Prove(g10, w, gkr.Public{Inputs: w, Commitments: cm}, gkr.Options{PCS: pcs.Options{SkipProverChecks: true}})
			if err != nil {
				t.Fatalf("the cheating prover failed: %v", err)
			}
			allow := &StoreWitness{Store: m.store, Allow: map[string]bool{"x": true}}
			defer allow.Close()
			for what, padding := range map[string][]byte{"no padding proof": nil, "forged padding proof": forged} {
				_, err := gkr.Verify(g10, gkr.Public{Inputs: allow, Commitments: cm, WeightPadding: padding}, proof)
				reject(t, what, err)
				if !strings.Contains(err.Error(), "padding") {
					t.Fatalf("%s: rejected for another reason: %v", what, err)
				}
			}
		})
	}
}

// zeroPadded reads each tensor through its declared shape in g: real positions from w, zero in
// the padding — what an honest store of g's shapes holds.
type zeroPadded struct {
	w gkr.Witness
	g *gkr.Graph
}

func (z *zeroPadded) Source(name string) (field.Source, error) {
	src, err := z.w.Source(name)
	if err != nil {
		return nil, err
	}
	all := make(field.SliceSource, src.Len())
	if err := field.ForEachChunk(src, make([]field.Element, 1024), func(j int64, c []field.Element) error {
		copy(all[j*1024:], c)
		return nil
	}); err != nil {
		return nil, err
	}
	shape := z.g.Tensors[name].Shape
	padded := gkr.PaddedShape(shape)
	for f := range all {
		rest := f
		for k := len(padded) - 1; k >= 0; k-- {
			if rest%padded[k] >= shape[k] {
				all[f].SetZero()
				break
			}
			rest /= padded[k]
		}
	}
	return all, nil
}

// padWith is a witness whose source of one tensor carries extra values in its padding.
type padWith struct {
	w     gkr.Witness
	name  string
	extra map[int]int64 // padded flat index → value
}

func (p *padWith) Source(name string) (field.Source, error) {
	src, err := p.w.Source(name)
	if err != nil || name != p.name {
		return src, err
	}
	all := make(field.SliceSource, src.Len())
	if err := field.ForEachChunk(src, make([]field.Element, 1024), func(j int64, c []field.Element) error {
		copy(all[j*1024:], c)
		return nil
	}); err != nil {
		return nil, err
	}
	for f, v := range p.extra {
		all[f] = field.NewInt(v)
	}
	return all, nil
}

// paddedPrivateInput: a private input with values in its padding. The next layer's weight
// is zero there, so every kernel identity still holds — only the padding claim inside the
// proof can catch it.
func paddedPrivateInput(t *testing.T) {
	m := newModel(t, 79)
	m.data("x", gkr.PrivateInput, []int{3, 12}, tensorstore.Int8)
	m.data("w", gkr.Weight, []int{4, 12}, tensorstore.Int8)
	m.node(NewLinear("fc", "x", "w", "", "y"), []int{3, 4}, true)
	m.forward()
	pub := m.public()
	honest := m.prove(pub, 0)
	if _, err := gkr.Verify(m.graph, pub, honest); err != nil {
		t.Fatal(err)
	}
	w := &StoreWitness{Store: m.store}
	defer w.Close()
	cheat := &padWith{w: w, name: "x", extra: map[int]int64{12: 5, 16 + 15: -3}} // row 0 col 12, row 1 col 15
	if _, err := gkr.Prove(m.graph, cheat, pub, gkr.Options{}); !errors.Is(err, pcs.ErrClaim) {
		t.Fatalf("honest prover on a padded private input: %v, want pcs.ErrClaim", err)
	}
	proof, err := gkr.Prove(m.graph, cheat, pub, gkr.Options{PCS: pcs.Options{SkipProverChecks: true}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = gkr.Verify(m.graph, pub, proof)
	reject(t, "private input with data in its padding", err)
	if !strings.Contains(err.Error(), "padding") {
		t.Fatalf("rejected for another reason: %v", err)
	}
}

// paddedAdvice: a lookup's committed output with values in its padding is rejected. The
// lookup runs over the padded domain, so LogUp alone already catches this one (its padded
// input is 0 and f(0) = 0); the padding claim is the second line of defence.
func paddedAdvice(t *testing.T) {
	m := newModel(t, 80)
	m.data("x", gkr.Input, []int{3, 12}, tensorstore.Int8)
	m.data("w1", gkr.Weight, []int{10, 12}, tensorstore.Int8)
	m.dataVals("b1", gkr.Weight, []int{10}, tensorstore.Int32, make([]int64, 10))
	m.data("w2", gkr.Weight, []int{4, 10}, tensorstore.Int8)
	hiddenMLP(t, m, 10)
	m.forward()
	pub := m.public()
	w := &StoreWitness{Store: m.store}
	defer w.Close()
	for _, adv := range []string{"a1"} {
		cheat := &padWith{w: w, name: adv, extra: map[int]int64{10: 7, 3*16 + 2: 1}} // row 0 col 10; padded row 3
		proof, err := gkr.Prove(m.graph, cheat, pub, gkr.Options{PCS: pcs.Options{SkipProverChecks: true}})
		if err != nil {
			t.Fatal(err)
		}
		_, err = gkr.Verify(m.graph, pub, proof)
		reject(t, "advice "+adv+" with data in its padding", err)
	}
}
