package sumcheck

import (
	"github.com/streamprove/streamprove/field"
)

// lagrangeAt returns P(x) for the polynomial P of degree < len(vals) with P(i) = vals[i],
// i = 0, 1, …. It costs O(len²) multiplications and one inversion: it runs once per round.
func lagrangeAt(vals []field.Element, x *field.Element) field.Element {
	m := len(vals)
	if m == 1 {
		return vals[0]
	}
	// x − i for every node; if x is a node, return its value.
	diff := make([]field.Element, m)
	for i := 0; i < m; i++ {
		var ni field.Element
		ni.SetUint64(uint64(i))
		diff[i].Sub(x, &ni)
		if diff[i].IsZero() {
			return vals[i]
		}
	}
	// L_i(x) = Π_{j≠i}(x−j) / Π_{j≠i}(i−j); the denominator is i!·(m−1−i)!·(−1)^(m−1−i).
	fact := make([]field.Element, m)
	fact[0].SetOne()
	for i := 1; i < m; i++ {
		var fi field.Element
		fi.SetUint64(uint64(i))
		fact[i].Mul(&fact[i-1], &fi)
	}
	// prefix and suffix products of diff
	pre := make([]field.Element, m+1)
	suf := make([]field.Element, m+1)
	pre[0].SetOne()
	suf[m].SetOne()
	for i := 0; i < m; i++ {
		pre[i+1].Mul(&pre[i], &diff[i])
	}
	for i := m - 1; i >= 0; i-- {
		suf[i].Mul(&suf[i+1], &diff[i])
	}
	dens := make([]field.Element, m)
	for i := 0; i < m; i++ {
		dens[i].Mul(&fact[i], &fact[m-1-i])
		if (m-1-i)%2 == 1 {
			dens[i].Neg(&dens[i])
		}
	}
	inv := field.BatchInvert(dens)
	var res field.Element
	for i := 0; i < m; i++ {
		var t field.Element
		t.Mul(&pre[i], &suf[i+1])
		t.Mul(&t, &inv[i])
		t.Mul(&t, &vals[i])
		res.Add(&res, &t)
	}
	return res
}

// eq1 returns eq(p, x) = (1−p)(1−x) + p·x for one variable.
func eq1(p, x *field.Element) field.Element {
	var t, px field.Element
	px.Mul(p, x)
	t.Double(&px)
	t.Sub(&t, p)
	t.Sub(&t, x)
	one := field.One()
	t.Add(&t, &one)
	return t
}
