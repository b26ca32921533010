package kernels

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/streamprove/streamprove/field"
	"github.com/streamprove/streamprove/gkr"
	"github.com/streamprove/streamprove/pcs"
	"github.com/streamprove/streamprove/tensorstore"
)

// TestMutationSuite is the verifier's attack catalogue (issue 10; the README lists the classes):
// every class of false statement or tampered proof below must be rejected with ErrBadProof.
// The model is a quantized MLP (linear → requant_relu → linear → requant_relu → linear) whose
// hidden width 10 is padded, so padding, lookups and commitments are all in play.
func TestMutationSuite(t *testing.T) {
	const batch, in, hid, out = 3, 12, 10, 4
	mlp := func() *model { return mlpModel(t, batch, in, hid, out, true, false) }
	honest := func(t *testing.T) (*model, gkr.Public, []byte) {
		m := mlp()
		m.t = t
		pub := m.public()
		proof := m.prove(pub, 0)
		if _, err := gkr.Verify(m.graph, pub, proof); err != nil {
			t.Fatalf("honest proof: %v", err)
		}
		return m, pub, proof
	}
	cheat := gkr.Options{PCS: pcs.Options{SkipProverChecks: true}}
	verifyRejects := func(t *testing.T, what string, g *gkr.Graph, pub gkr.Public, proof []byte) {
		t.Helper()
		_, err := gkr.Verify(g, pub, proof)
		reject(t, what, err)
	}

	t.Run("flipped proof bytes", func(t *testing.T) {
		m, pub, proof := honest(t)
		rng := rand.New(rand.NewPCG(1, 2))
		for k := 0; k < 48; k++ {
			i := rng.IntN(len(proof))
			bad := bytes.Clone(proof)
			bad[i] ^= byte(1 << rng.IntN(8))
			verifyRejects(t, "flipped byte", m.graph, pub, bad)
		}
	})
	t.Run("truncated and extended proofs", func(t *testing.T) {
		m, pub, proof := honest(t)
		for _, bad := range [][]byte{proof[:len(proof)-1], proof[:len(proof)/2], proof[:70], nil,
			append(bytes.Clone(proof), 0), append(bytes.Clone(proof), make([]byte, 32)...)} {
			verifyRejects(t, "truncated or extended", m.graph, pub, bad)
		}
	})
	t.Run("swapped kernel messages", func(t *testing.T) {
		// Two 32-byte field elements of the kernel messages exchanged: each is well formed,
		// only the order is wrong.
		m, pub, proof := honest(t)
		rng := rand.New(rand.NewPCG(3, 4))
		for k := 0; k < 12; k++ {
			a, b := 70+32*rng.IntN((len(proof)-70)/32), 70+32*rng.IntN((len(proof)-70)/32)
			if bytes.Equal(proof[a:a+32], proof[b:b+32]) {
				continue
			}
			bad := bytes.Clone(proof)
			copy(bad[a:a+32], proof[b:b+32])
			copy(bad[b:b+32], proof[a:a+32])
			verifyRejects(t, "swapped messages", m.graph, pub, bad)
		}
	})
	t.Run("changed output", func(t *testing.T) {
		m, pub, proof := honest(t)
		outs, _ := gkr.Verify(m.graph, pub, proof)
		y := outs["y"][1].Bytes()
		i := bytes.Index(proof, y[:])
		if i < 0 {
			t.Fatal("output value not found in the proof")
		}
		var other field.Element
		other.SetOne()
		other.Add(&outs["y"][1], &other)
		bad := bytes.Clone(proof)
		o := other.Bytes()
		copy(bad[i:], o[:])
		verifyRejects(t, "changed output", m.graph, pub, bad)
	})
	t.Run("changed input", func(t *testing.T) {
		m, pub, proof := honest(t)
		w := &StoreWitness{Store: m.store}
		defer w.Close()
		pub.Inputs = &padWith{w: w, name: "x", extra: map[int]int64{3: 77}} // a real position
		verifyRejects(t, "changed input", m.graph, pub, proof)
	})
	t.Run("changed weight after commit", func(t *testing.T) {
		m, pub, _ := honest(t)
		v := m.values("w2")
		v[5] ^= 1
		m.replaceTensor("w2", v)
		m.forwardFrom("fc2")
		proof, err := gkr.Prove(m.graph, &StoreWitness{Store: m.store}, pub, cheat)
		if err != nil {
			t.Fatal(err)
		}
		verifyRejects(t, "weight changed after commit", m.graph, pub, proof)
	})
	t.Run("other graph", func(t *testing.T) {
		m, pub, proof := honest(t)
		g := *m.graph
		g.Kernels = append([]gkr.Kernel(nil), m.graph.Kernels...)
		for i, k := range g.Kernels {
			if k.Name() == "act2" {
				g.Kernels[i] = must[*Lookup](t)(NewRequantReLU("act2", "h2", "a2", mlpShift+1, 8, QuotientBits(mlpQBits)))
			}
		}
		verifyRejects(t, "another graph", &g, pub, proof)
	})
	t.Run("other commitment", func(t *testing.T) {
		m, pub, proof := honest(t)
		// Another model's weights: same shapes, w3 changed, with its own valid padding proof.
		v := m.values("w3")
		v[0] ^= 2
		m.replaceTensor("w3", v)
		other := m.public()
		other.Inputs = pub.Inputs
		verifyRejects(t, "another model's commitments", m.graph, other, proof)
	})
	t.Run("padding data: weight", hiddenNeurons)
	t.Run("padding data: advice", paddedAdvice)
	t.Run("padding data: private input", paddedPrivateInput)
	t.Run("out-of-range lookup value", func(t *testing.T) {
		for _, bad := range []int64{128, -129, 1 << 20} {
			m := newModel(t, 14)
			m.dataVals("x", gkr.Input, []int{7}, tensorstore.Int32, []int64{-128, 5, 127, 0, 9, -3, 44})
			k := must[*Lookup](t)(NewRange("rc", "x", -128, 128))
			m.lookup(k)
			m.forward()
			v := m.values("x")
			v[4] = bad
			m.replaceTensor("x", v)
			m.cheatMults(k)
			m.proveReject("out-of-range value")
		}
	})
	t.Run("wrong requant rounding", func(t *testing.T) {
		const shift = 4
		xs := []int64{40, 24, 7, 5000, -40, -24, 300, -3000}
		m := requantModel(t, "requant", []int{8}, shift, 8, 10, xs)
		m.forward()
		y, rp := m.values("y"), m.values("rq/rp")
		y[0], rp[0] = 3, 2*(40-3<<shift)+1 // the tie 2.5 rounded up to odd
		m.replaceTensor("y", y)
		m.replaceTensor("rq/rp", rp)
		m.cheatMults(m.kerns[0].(*Lookup))
		m.proveReject("tie rounded to odd")
	})
	t.Run("resume from a tampered checkpoint", func(t *testing.T) {
		m, pub, _ := honest(t)
		w := &StoreWitness{Store: m.store}
		defer w.Close()
		var cps []*gkr.Checkpoint
		full, err := gkr.Prove(m.graph, w, pub, gkr.Options{Checkpoint: func(cp *gkr.Checkpoint) error {
			b, _ := cp.MarshalBinary()
			c := new(gkr.Checkpoint)
			if err := c.UnmarshalBinary(b); err != nil {
				return err
			}
			cps = append(cps, c)
			return nil
		}})
		if err != nil {
			t.Fatal(err)
		}
		tampers := map[string]func(cp *gkr.Checkpoint){
			"claim value": func(cp *gkr.Checkpoint) {
				for _, cs := range cp.Claims {
					var one field.Element
					one.SetOne()
					cs[0].Value.Add(&cs[0].Value, &one)
					return
				}
			},
			"transcript state": func(cp *gkr.Checkpoint) { cp.State[0] ^= 1 },
			"proof so far":     func(cp *gkr.Checkpoint) { cp.Proof[len(cp.Proof)-1] ^= 1 },
		}
		rejected := 0
		for what, tamper := range tampers {
			for i, cp := range cps[:len(cps)-1] {
				if what == "claim value" && len(cp.Claims) == 0 {
					continue
				}
				b, _ := cp.MarshalBinary()
				c := new(gkr.Checkpoint)
				c.UnmarshalBinary(b)
				tamper(c)
				opt := cheat
				opt.Resume = c
				proof, err := gkr.Prove(m.graph, w, pub, opt)
				if err != nil {
					continue // the prover refused to resume: nothing to verify
				}
				if bytes.Equal(proof, full) {
					// The tampered part never reached the proof (a claim value the verifier
					// recomputes from the messages): the same true statement, the same bytes.
					continue
				}
				_, err = gkr.Verify(m.graph, pub, proof)
				reject(t, fmt.Sprintf("resume with a tampered %s at checkpoint %d", what, i), err)
				rejected++
			}
		}
		if rejected < len(cps) {
			t.Fatalf("only %d tampered resumes reached the verifier", rejected)
		}
	})
}

// forwardFrom reruns the forward pass from the kernel named first on (replacing outputs).
func (m *model) forwardFrom(first string) {
	m.t.Helper()
	fc := &ForwardCtx{Store: m.store, Graph: m.graph, Bounds: m.bounds, Write: tensorstore.WriteOptions{Replace: true}}
	on := false
	for _, k := range m.kerns {
		on = on || k.Name() == first
		if on {
			if err := k.Forward(fc); err != nil {
				m.t.Fatal(err)
			}
		}
	}
}
