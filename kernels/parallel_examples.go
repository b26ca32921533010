package kernels

import (
	"crypto/sha256"
	"fmt"

	"github.com/streamprove/streamprove/field"
)

// Two example circuits for the data-parallel kernel, with plain-Go references for tests and
// benchmarks.

// MiMCConstants returns the public round constants of MiMCCircuit: k_i is SHA-256 of
// "streamprove/mimc/<i>" read big-endian and reduced mod p (so other programs — the gnark peer
// benchmark — can derive the same constants without this package).
func MiMCConstants(rounds int) []field.Element {
	ks := make([]field.Element, rounds)
	for i := range ks {
		h := sha256.Sum256([]byte(fmt.Sprintf("streamprove/mimc/%d", i)))
		ks[i].SetBytes(h[:])
	}
	return ks
}

// MiMCCircuit is a MiMC-style permutation with a per-instance key: x_0 = x,
// x_{i+1} = (x_i + key + k_i)^7 for the given round constants, and output "y" = x_R + key. Its
// inputs are "x" and "key"; maxDeg is the layers' degree bound (7 gives one layer per round,
// 2 gives four: t², t⁴, t⁶, t⁷).
func MiMCCircuit(ks []field.Element, maxDeg int) *Circuit {
	c := NewCircuit().SetMaxDegree(maxDeg)
	x, key := c.Input("x"), c.Input("key")
	for _, k := range ks {
		t := c.Add(c.Add(x, key), c.ConstElement(k))
		t2 := c.Mul(t, t)
		t4 := c.Mul(t2, t2)
		t6 := c.Mul(t4, t2)
		x = c.Mul(t6, t)
	}
	c.Output("y", c.Add(x, key))
	return c
}

// MiMC computes MiMCCircuit for one instance.
func MiMC(x, key field.Element, ks []field.Element) field.Element {
	for i := range ks {
		var t, t2 field.Element
		t.Add(&x, &key).Add(&t, &ks[i])
		t2.Square(&t)
		x.Square(&t2).Mul(&x, &t2).Mul(&x, &t) // t⁴·t²·t
	}
	var y field.Element
	y.Add(&x, &key)
	return y
}

// NeuronCircuit is one small neuron per instance, y = (w1·x1 + w2·x2 + b)² with public integer
// weights and bias; it also outputs "z" = x1·y, which reads the output wire again (a claim on y
// from inside the circuit besides the engine's). Inputs "x1", "x2"; outputs "y", "z".
func NeuronCircuit(w1, w2, b int64) *Circuit {
	c := NewCircuit()
	x1, x2 := c.Input("x1"), c.Input("x2")
	s := c.Add(c.Add(c.Scale(x1, w1), c.Scale(x2, w2)), c.Const(b))
	y := c.Mul(s, s)
	c.Output("y", y)
	c.Output("z", c.Mul(x1, y))
	return c
}
