package field

import (
	"encoding/binary"
	"fmt"
)

// Integer → field conversion by table lookup, for stored integers (tensorstore's chunks) and for
// integer slices. SetInt64 costs a Montgomery multiplication per
// element (measured ~35 ns on this machine, slower than the decompression it follows); an int8
// is one of 256 values, so its field element is a 32-byte copy from a table, and wider integers
// are sums of per-byte tables: v = Σ_k b_k·256^k with the top byte signed. Tables are 8 KiB each.
var byteTables = func() (t [8][256]Element) {
	var scale Element
	scale.SetOne()
	var b256 Element
	b256.SetUint64(256)
	for k := range t {
		for v := range 256 {
			e := NewInt(int64(v))
			t[k][v].Mul(&e, &scale)
		}
		scale.Mul(&scale, &b256)
	}
	return t
}()

// signedTables[k][b] is int8(b)·256^k: the top byte of a two's complement integer.
var signedTables = func() (t [4][256]Element) {
	var scale Element
	scale.SetOne()
	var b256 Element
	b256.SetUint64(256)
	for k := range t {
		for v := range 256 {
			e := NewInt(int64(int8(uint8(v))))
			t[k][v].Mul(&e, &scale)
		}
		scale.Mul(&scale, &b256)
	}
	return t
}()

func fromInt8LE(dst []Element, raw []byte) {
	tab := &signedTables[0]
	dst = dst[:len(raw)]
	for i, b := range raw {
		dst[i] = tab[b]
	}
}

func fromInt16LE(dst []Element, raw []byte) {
	t0, t1 := &byteTables[0], &signedTables[1]
	for i := range dst[:len(raw)/2] {
		dst[i].Add(&t0[raw[2*i]], &t1[raw[2*i+1]])
	}
}

func fromInt32LE(dst []Element, raw []byte) {
	t0, t1, t2, t3 := &byteTables[0], &byteTables[1], &byteTables[2], &signedTables[3]
	for i := range dst[:len(raw)/4] {
		b := raw[4*i : 4*i+4]
		var lo, hi Element
		lo.Add(&t0[b[0]], &t1[b[1]])
		hi.Add(&t2[b[2]], &t3[b[3]])
		dst[i].Add(&lo, &hi)
	}
}

func fromInt64LE(dst []Element, raw []byte) {
	for i := range dst[:len(raw)/8] {
		dst[i].SetInt64(int64(binary.LittleEndian.Uint64(raw[8*i:])))
	}
}

// FromIntsLE sets dst[i], for i < len(raw)/width, to the two's complement little-endian integer of
// width bytes (1, 2, 4 or 8) at raw[width·i:]: a stored integer tensor's chunk. Other widths
// panic (a caller's bug: widths come from a dtype).
func FromIntsLE(dst []Element, raw []byte, width int) {
	switch width {
	case 1:
		fromInt8LE(dst, raw)
	case 2:
		fromInt16LE(dst, raw)
	case 4:
		fromInt32LE(dst, raw)
	case 8:
		fromInt64LE(dst, raw)
	default:
		panic(fmt.Sprintf("field: FromIntsLE: width %d", width))
	}
}

// FromInts sets dst[i] = src[i] for i < len(src) (negative values become p−|v|); dst must be at
// least as long as src. Narrow integers go through the tables.
func FromInts[T int8 | int16 | int32 | int64](dst []Element, src []T) {
	dst = dst[:len(src)]
	switch s := any(src).(type) {
	case []int8:
		tab := &signedTables[0]
		for i, v := range s {
			dst[i] = tab[uint8(v)]
		}
	case []int16:
		t0, t1 := &byteTables[0], &signedTables[1]
		for i, v := range s {
			dst[i].Add(&t0[uint8(v)], &t1[uint8(v>>8)])
		}
	case []int32:
		t0, t1, t2, t3 := &byteTables[0], &byteTables[1], &byteTables[2], &signedTables[3]
		for i, v := range s {
			var lo, hi Element
			lo.Add(&t0[uint8(v)], &t1[uint8(v>>8)])
			hi.Add(&t2[uint8(v>>16)], &t3[uint8(v>>24)])
			dst[i].Add(&lo, &hi)
		}
	case []int64:
		for i, v := range s {
			dst[i].SetInt64(v)
		}
	}
}
