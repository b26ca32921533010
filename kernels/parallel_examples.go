package kernels

import (
	"crypto/sha256"
	"fmt"

	"github.com/streamprove/streamprove/field"
)

// The example circuit of the data-parallel kernel (MiMC, which scheduler registers as the
// built-in "mimc" op), with its plain-Go reference for tests and benchmarks.

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
