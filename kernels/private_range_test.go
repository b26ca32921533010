package kernels

import (
	"testing"

	"github.com/streamprove/streamprove/field"
	"github.com/streamprove/streamprove/gkr"
	"github.com/streamprove/streamprove/tensorstore"
)

// A private input is the prover's own: committed inside the proof, never seen by the verifier.
// Unless a lookup pins its elements to its dtype, a prover may commit field elements that are no
// integers at all — here x[0] = 1/2 — and a linear layer carries them to a public output: the
// proof verifies (the gap, shown so that it stays visible). With the range lookup the scheduler
// adds for every int8/int16 private input (scheduler.rangeCheckPrivate), the same cheating
// witness is rejected, although the cheater removed the honest x[0] from the multiplicities.
func TestPrivateInputRange(t *testing.T) {
	var half field.Element
	half.SetUint64(2)
	half.Inverse(&half)
	for _, checked := range []bool{false, true} {
		m := newModel(t, 5)
		m.data("x", gkr.PrivateInput, []int{4, 8}, tensorstore.Int8)
		m.data("w", gkr.Weight, []int{3, 8}, tensorstore.Int8)
		var rk *Lookup
		if checked {
			rk = must[*Lookup](t)(NewRange("x/range", "x", -128, 128))
			m.lookup(rk)
		}
		m.node(NewLinear("fc", "x", "w", "", "y"), []int{4, 3}, true)
		m.forward()
		x0 := m.values("x")[0]
		e := m.readElems("x")
		e[0] = half
		m.rewrite("x", e)
		// The cheater's own forward: y = x·Wᵀ over the field (the integer forward refuses x).
		w, y := m.readElems("w"), make([]field.Element, 4*3)
		for b := 0; b < 4; b++ {
			for o := 0; o < 3; o++ {
				y[b*3+o] = field.InnerProduct(e[b*8:(b+1)*8], w[o*8:(o+1)*8])
			}
		}
		nonInt := 0
		for o := 0; o < 3; o++ { // y[0, o] = w[o, 0]/2 + an integer
			if _, ok := field.ToInt64(&y[o]); !ok {
				nonInt++
			}
		}
		if nonInt == 0 {
			t.Fatal("every y[0, ·] is an integer: the cheat did not reach the output")
		}
		m.rewrite("y", y)
		if !checked {
			if err := m.proveVerify(0); err != nil {
				t.Fatalf("without a range check the half-valued private input should verify (the gap): %v", err)
			}
			continue
		}
		mult := m.values("x/range/mult")
		mult[x0+128]--
		m.replaceTensor("x/range/mult", mult)
		m.proveReject("a private int8 input holding 1/2")
	}
}
