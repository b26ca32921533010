package tensorstore

import (
	"encoding/binary"

	"github.com/streamprove/streamprove/field"
)

// Integer → field conversion by table lookup. SetInt64 costs a Montgomery multiplication per
// element (measured ~35 ns on this machine, slower than the decompression it follows); an int8
// is one of 256 values, so its field element is a 32-byte copy from a table, and wider integers
// are sums of per-byte tables: v = Σ_k b_k·256^k with the top byte signed. Tables are 8 KiB each.
var byteTables = func() (t [8][256]field.Element) {
	var scale field.Element
	scale.SetOne()
	var b256 field.Element
	b256.SetUint64(256)
	for k := range t {
		for v := range 256 {
			e := field.NewInt(int64(v))
			t[k][v].Mul(&e, &scale)
		}
		scale.Mul(&scale, &b256)
	}
	return t
}()

// signedTables[k][b] is int8(b)·256^k: the top byte of a two's complement integer.
var signedTables = func() (t [4][256]field.Element) {
	var scale field.Element
	scale.SetOne()
	var b256 field.Element
	b256.SetUint64(256)
	for k := range t {
		for v := range 256 {
			e := field.NewInt(int64(int8(uint8(v))))
			t[k][v].Mul(&e, &scale)
		}
		scale.Mul(&scale, &b256)
	}
	return t
}()

func int8sToElements(dst []field.Element, raw []byte) {
	tab := &signedTables[0]
	dst = dst[:len(raw)]
	for i, b := range raw {
		dst[i] = tab[b]
	}
}

func int16sToElements(dst []field.Element, raw []byte) {
	t0, t1 := &byteTables[0], &signedTables[1]
	for i := range dst[:len(raw)/2] {
		dst[i].Add(&t0[raw[2*i]], &t1[raw[2*i+1]])
	}
}

func int32sToElements(dst []field.Element, raw []byte) {
	t0, t1, t2, t3 := &byteTables[0], &byteTables[1], &byteTables[2], &signedTables[3]
	for i := range dst[:len(raw)/4] {
		b := raw[4*i : 4*i+4]
		var lo, hi field.Element
		lo.Add(&t0[b[0]], &t1[b[1]])
		hi.Add(&t2[b[2]], &t3[b[3]])
		dst[i].Add(&lo, &hi)
	}
}

func int64sToElements(dst []field.Element, raw []byte) {
	for i := range dst[:len(raw)/8] {
		dst[i].SetInt64(int64(binary.LittleEndian.Uint64(raw[8*i:])))
	}
}
