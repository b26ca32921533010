package field

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
)

// Element is an element of the BN254 scalar field.
type Element = fr.Element

// Bytes is the size of one canonical field element encoding.
const Bytes = fr.Bytes

// ErrNonCanonical reports an encoding of a value that is not reduced modulo the field order.
var ErrNonCanonical = errors.New("field: non-canonical element encoding")

// One returns the multiplicative identity.
func One() Element { return fr.One() }

// NewInt returns v as a field element; a negative v becomes p−|v|.
func NewInt(v int64) Element {
	var e Element
	e.SetInt64(v)
	return e
}

// halfP is (p−1)/2: elements above it are read as negative integers.
var halfP = func() Element {
	var h Element
	h.SetInt64(-1)
	var two, inv Element
	two.SetUint64(2)
	inv.Inverse(&two)
	h.Mul(&h, &inv)
	return h
}()

// ToInt64 returns the signed integer that e represents (values above (p−1)/2 are negative),
// and false when it does not fit in an int64.
func ToInt64(e *Element) (int64, bool) {
	if e.Cmp(&halfP) > 0 {
		var n Element
		n.Neg(e)
		u, ok := toUint64(&n)
		if !ok || u > 1<<63 {
			return 0, false
		}
		return -int64(u-1) - 1, true
	}
	u, ok := toUint64(e)
	if !ok || u >= 1<<63 {
		return 0, false
	}
	return int64(u), true
}

func toUint64(e *Element) (uint64, bool) {
	if !e.IsUint64() {
		return 0, false
	}
	return e.Uint64(), true
}

// ToInt64s converts src to signed integers; it fails naming the first index that does not fit
// in [lo, hi].
func ToInt64s(dst []int64, src []Element, lo, hi int64) error {
	dst = dst[:len(src)]
	for i := range src {
		v, ok := ToInt64(&src[i])
		if !ok || v < lo || v > hi {
			return fmt.Errorf("field: element %d is outside [%d, %d]", i, lo, hi)
		}
		dst[i] = v
	}
	return nil
}

// PutLE writes the canonical little-endian encoding of src (32 bytes each) into dst, which must
// hold len(src)*Bytes bytes. Canonical (not Montgomery) form keeps small values mostly zero bytes,
// which compresses.
func PutLE(dst []byte, src []Element) {
	_ = dst[len(src)*Bytes-1]
	for i := range src {
		b := src[i].Bits()
		o := dst[i*Bytes:]
		binary.LittleEndian.PutUint64(o[0:], b[0])
		binary.LittleEndian.PutUint64(o[8:], b[1])
		binary.LittleEndian.PutUint64(o[16:], b[2])
		binary.LittleEndian.PutUint64(o[24:], b[3])
	}
}

// FromLE decodes len(dst) canonical little-endian elements from src; it rejects values ≥ p.
// The limbs are read as they are, checked against p, and brought into Montgomery form with one
// vectorised multiplication by R² for the whole slice (gnark-crypto's assembly), instead of a
// byte reversal and a scalar multiplication per element: this is the decoder of every
// field-typed chunk in the store.
func FromLE(dst []Element, src []byte) error {
	if len(src) != len(dst)*Bytes {
		return fmt.Errorf("field: %d bytes for %d elements", len(src), len(dst))
	}
	for i := range dst {
		o := src[i*Bytes:]
		z := &dst[i]
		z[0] = binary.LittleEndian.Uint64(o[0:])
		z[1] = binary.LittleEndian.Uint64(o[8:])
		z[2] = binary.LittleEndian.Uint64(o[16:])
		z[3] = binary.LittleEndian.Uint64(o[24:])
		if !belowModulus(z) {
			return fmt.Errorf("element %d: %w", i, ErrNonCanonical)
		}
	}
	v := fr.Vector(dst)
	v.ScalarMul(v, &rSquare)
	return nil
}

// modulusLimbs are p's 64-bit limbs, least significant first.
var modulusLimbs = func() [4]uint64 {
	var l [4]uint64
	m := fr.Modulus()
	for i := range l {
		l[i] = new(big.Int).Rsh(m, uint(64*i)).Uint64()
	}
	return l
}()

// rSquare holds R² mod p in its raw limbs, so that a Montgomery multiplication by it turns a
// plain value x into its Montgomery form x·R.
var rSquare = func() Element {
	r := new(big.Int).Lsh(big.NewInt(1), 512)
	r.Mod(r, fr.Modulus())
	var e Element
	for i := range e {
		e[i] = new(big.Int).Rsh(r, uint(64*i)).Uint64()
	}
	return e
}()

// belowModulus reports whether the plain limbs of z are < p.
func belowModulus(z *Element) bool {
	for i := 3; i >= 0; i-- {
		if z[i] != modulusLimbs[i] {
			return z[i] < modulusLimbs[i]
		}
	}
	return false
}

// PutBE writes the canonical 32-byte big-endian encoding of e (the wire format of proofs).
func PutBE(dst []byte, e *Element) {
	b := e.Bytes()
	copy(dst[:Bytes], b[:])
}

// FromBE decodes one canonical big-endian element, rejecting values ≥ p.
func FromBE(src []byte) (Element, error) {
	var e Element
	if len(src) != Bytes {
		return e, fmt.Errorf("field: %d bytes, want %d", len(src), Bytes)
	}
	if err := e.SetBytesCanonical(src); err != nil {
		return e, ErrNonCanonical
	}
	return e, nil
}

// Modulus returns the field order p (a fresh copy).
func Modulus() *big.Int { return fr.Modulus() }
