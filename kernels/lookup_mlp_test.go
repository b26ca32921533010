package kernels

import (
	"testing"

	"github.com/streamprove/streamprove/field"
	"github.com/streamprove/streamprove/gkr"
	"github.com/streamprove/streamprove/tensorstore"
)

const mlpShift, mlpQBits = 7, 13

// mlpModel is a 3-layer quantized MLP: linear → requant → relu → linear → requant → relu →
// linear (the requant and relu fused or not). With residual, the first activation feeds both
// the second linear layer and an add after it (one advice tensor, two consumers).
func mlpModel(t *testing.T, batch, in, hid, out int, fused, residual bool) *model {
	m := newModel(t, uint64(batch*100+in))
	m.data("x", gkr.Input, []int{batch, in}, tensorstore.Int8)
	m.data("w1", gkr.Weight, []int{hid, in}, tensorstore.Int8)
	bias := make([]int64, hid)
	for i := range bias {
		bias[i] = m.rng.Int64N(8192) - 4096
	}
	m.dataVals("b1", gkr.Weight, []int{hid}, tensorstore.Int32, bias)
	m.data("w2", gkr.Weight, []int{hid, hid}, tensorstore.Int8)
	m.data("w3", gkr.Weight, []int{out, hid}, tensorstore.Int8)
	hs := []int{batch, hid}
	act := func(name, x, y string) {
		if fused {
			m.lookup(must[*Lookup](t)(NewRequantReLU(name, x, y, mlpShift, 8, QuotientBits(mlpQBits))))
			return
		}
		m.lookup(must[*Lookup](t)(NewRequant(name+"q", x, name+"_q", mlpShift, 8, QuotientBits(mlpQBits))))
		m.lookup(must[*Lookup](t)(NewReLU(name+"r", name+"_q", y, 8)))
	}
	m.node(NewLinear("fc1", "x", "w1", "b1", "h1"), hs, false)
	act("act1", "h1", "a1")
	m.node(NewLinear("fc2", "a1", "w2", "", "h2"), hs, false)
	if residual {
		m.node(Add("res", "h2", "a1", "s2"), hs, false)
		act("act2", "s2", "a2")
	} else {
		act("act2", "h2", "a2")
	}
	m.node(NewLinear("fc3", "a2", "w3", "", "y"), []int{batch, out}, true)
	m.forward()
	return m
}

// mlpReference computes the MLP's output with int64 arithmetic.
func mlpReference(m *model, batch, in, hid, out int, residual bool) []int64 {
	x, w1, b1, w2, w3 := m.values("x"), m.values("w1"), m.values("b1"), m.values("w2"), m.values("w3")
	act := func(v int64) int64 {
		u, _ := roundHalfEven(v, mlpShift)
		return clamp(clamp(u, -128, 127), 0, 127)
	}
	lin := func(a []int64, w []int64, k, o int) []int64 {
		y := make([]int64, batch*o)
		for b := 0; b < batch; b++ {
			for j := 0; j < o; j++ {
				for i := 0; i < k; i++ {
					y[b*o+j] += a[b*k+i] * w[j*k+i]
				}
			}
		}
		return y
	}
	h1 := lin(x, w1, in, hid)
	a1 := make([]int64, len(h1))
	for i := range h1 {
		a1[i] = act(h1[i] + b1[i%hid])
	}
	h2 := lin(a1, w2, hid, hid)
	a2 := make([]int64, len(h2))
	for i := range h2 {
		v := h2[i]
		if residual {
			v += a1[i]
		}
		a2[i] = act(v)
	}
	return lin(a2, w3, hid, out)
}

func TestQuantizedMLP(t *testing.T) {
	for _, c := range []struct {
		batch, in, hid, out int
		fused, residual     bool
	}{
		{3, 16, 12, 5, true, false},
		{3, 16, 12, 5, false, false},
		{2, 9, 8, 3, true, true},
		{1, 20, 7, 2, false, true},
	} {
		m := mlpModel(t, c.batch, c.in, c.hid, c.out, c.fused, c.residual)
		want := mlpReference(m, c.batch, c.in, c.hid, c.out, c.residual)
		y := m.values("y")
		for i := range want {
			if y[i] != want[i] {
				t.Fatalf("%+v: y[%d] = %d, want %d", c, i, y[i], want[i])
			}
		}
		pub := m.public()
		for _, budget := range []int64{0, 512 << 10} {
			proof := m.prove(pub, budget)
			outs, err := gkr.Verify(m.graph, pub, proof)
			if err != nil {
				t.Fatalf("%+v budget %d: honest proof rejected: %v", c, budget, err)
			}
			for i, v := range want {
				if got, _ := field.ToInt64(&outs["y"][i]); got != v {
					t.Fatalf("%+v: verified output %d = %d, want %d", c, i, got, v)
				}
			}
			t.Logf("%+v budget %d: proof %d bytes", c, budget, len(proof))
		}
		// A wrong activation anywhere in the network is rejected (cheating multiplicities,
		// downstream recomputed).
		a1 := m.values("a1")
		a1[1] = (a1[1] + 1) % 128
		m.replaceTensor("a1", a1)
		var act1 *Lookup
		for _, k := range m.kerns {
			if l, ok := k.(*Lookup); ok && l.y == "a1" {
				act1 = l
			}
		}
		m.cheatMults(act1)
		m.proveReject("MLP with a wrong first activation")
	}
}
