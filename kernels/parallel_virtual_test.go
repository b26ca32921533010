package kernels

import (
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/streamprove/streamprove/field"
	"github.com/streamprove/streamprove/gkr"
	"github.com/streamprove/streamprove/sumcheck"
)

// gateSum returns Σ_x G(sources(x)) over the hypercube.
func gateSum(g sumcheck.Gate, srcs [][]field.Element) field.Element {
	out := make([]field.Element, len(srcs[0]))
	g.Eval(out, srcs)
	var s field.Element
	for i := range out {
		s.Add(&s, &out[i])
	}
	return s
}

// A prover that lies about a wire's values and covers the lie by bending a virtual source (an eq
// source or the mask) passes sumcheck.Verify — the sumcheck takes final values on trust — and
// is caught by the kernel's own check of those final values.
func TestParallelVirtualSourcesChecked(t *testing.T) {
	const N, nv = 5, 3
	kn, err := NewParallel("p", MiMCCircuit(MiMCConstants(2), 2), map[string]string{"x": "x", "key": "key"}, map[string]string{"y": "y"})
	if err != nil {
		t.Fatal(err)
	}
	k := kn.(*Parallel)
	const l = 1 // t² = (x + key + k_0)²: leaves x and key, and the mask
	if pr := k.p.progs[l]; len(pr.leaves) != 2 || !pr.mask {
		t.Fatalf("layer 1 has leaves %v, mask %v", pr.leaves, pr.mask)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	rnd := func(n int) []field.Element {
		v := make([]field.Element, n)
		for i := range v {
			v[i].SetUint64(rng.Uint64())
		}
		return v
	}
	x, key := rnd(1<<nv), rnd(1<<nv)
	for i := N; i < 1<<nv; i++ {
		x[i].SetZero()
		key[i].SetZero()
	}
	// Two claims with made-up values on the layer's wire, at two points: eq sources are used.
	lc := []pclaim{{w: 0, wclaim: wclaim{point: rnd(nv), value: field.NewInt(1)}},
		{w: 0, wclaim: wclaim{point: rnd(nv), value: field.NewInt(2)}}}
	eqTab := func(p []field.Element) []field.Element { return field.EqTable(make([]field.Element, 1<<nv), p) }
	mask := make([]field.Element, 1<<nv)
	for i := 0; i < N; i++ {
		mask[i].SetOne()
	}
	checked := 0
	for bend, tries := 0, 0; bend <= 4 && tries < 64; tries++ { // eq sources 0, 1; the mask (input 4)
		if bend == 2 {
			bend = 4
		}
		trP := field.NewTranscript("virtual")
		sc, pts := k.layerSumcheck(trP, l, nv, N, lc)
		g := sc.Gate.(*layerGate)
		if g.nE != 2 || g.noMask {
			t.Fatalf("gate with %d eq sources, noMask %v", g.nE, g.noMask)
		}
		srcs := [][]field.Element{eqTab(pts[0]), eqTab(pts[1]), x, key, append([]field.Element(nil), mask...)}
		// The gate is linear in an eq source: move one of its entries by δ to hit the claimed
		// sum. In the mask it is quadratic ((x + key + k·M)² with x = key = 0 in the padding):
		// set a padding entry to m with A·m² = the missing sum (a square root; half the sums have one).
		idx := 0
		if bend == 4 {
			idx = (1 << nv) - 1
		}
		base := gateSum(g, srcs)
		one := field.One()
		srcs[bend][idx].Add(&srcs[bend][idx], &one)
		var slope, delta field.Element
		shifted := gateSum(g, srcs)
		slope.Sub(&shifted, &base)
		if slope.IsZero() {
			t.Fatal("gate does not depend on the bent entry")
		}
		delta.Sub(&sc.Sum, &base).Div(&delta, &slope)
		if bend != 4 {
			delta.Sub(&delta, &one) // the entry was already moved by 1
			srcs[bend][idx].Add(&srcs[bend][idx], &delta)
		} else {
			if delta.Sqrt(&delta) == nil {
				lc[1].value.Add(&lc[1].value, &one) // another lie, with a square root this time
				continue
			}
			srcs[bend][idx] = delta
		}
		if s := gateSum(g, srcs); !s.Equal(&sc.Sum) {
			t.Fatal("bent sources do not reach the claimed sum")
		}
		for _, s := range srcs {
			sc.Sources = append(sc.Sources, field.SliceSource(s))
		}
		proof, _, err := sumcheck.Prove(trP, sc, sumcheck.Options{})
		if err != nil {
			t.Fatal(err)
		}

		trV := field.NewTranscript("virtual")
		scV, ptsV := k.layerSumcheck(trV, l, nv, N, lc)
		point, err := sumcheck.Verify(trV, scV, proof)
		if err != nil {
			t.Fatalf("bend %d: the sumcheck alone rejects (%v): the test does not exercise the final-value check", bend, err)
		}
		err = k.checkVirtual(l, scV.Gate.(*layerGate), ptsV, N, point, proof.Finals)
		if !errors.Is(err, gkr.ErrBadProof) {
			t.Fatalf("bend %d: a bent virtual source was accepted (%v)", bend, err)
		}
		bend++
		checked++
	}
	if checked != 3 {
		t.Fatalf("only %d of 3 virtual sources were bent", checked)
	}
}
