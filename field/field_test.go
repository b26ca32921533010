package field

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
)

func randElems(rng *rand.Rand, n int) []Element {
	v := make([]Element, n)
	for i := range v {
		v[i].SetUint64(rng.Uint64())
		var t Element
		t.SetUint64(rng.Uint64())
		v[i].Mul(&v[i], &t)
	}
	return v
}

func TestIntRoundTrip(t *testing.T) {
	vals := []int64{0, 1, -1, 127, -128, 32767, -32768, math.MaxInt32, math.MinInt32, math.MaxInt64, math.MinInt64 + 1, math.MinInt64}
	for _, v := range vals {
		e := NewInt(v)
		got, ok := ToInt64(&e)
		if !ok || got != v {
			t.Errorf("ToInt64(NewInt(%d)) = %d, %v", v, got, ok)
		}
	}
	// negative x is p − |x|
	e := NewInt(-5)
	var want Element
	want.SetUint64(5)
	want.Neg(&want)
	if !e.Equal(&want) {
		t.Fatalf("NewInt(-5) is not p-5")
	}
	// a big element is not an int64
	var big Element
	big.SetUint64(math.MaxUint64)
	big.Mul(&big, &big)
	if _, ok := ToInt64(&big); ok {
		t.Fatalf("ToInt64 accepted a 128-bit value")
	}
	i8 := []int8{-128, -1, 0, 1, 127}
	dst := make([]Element, len(i8))
	FromInts(dst, i8)
	out := make([]int64, len(i8))
	if err := ToInt64s(out, dst, -128, 127); err != nil {
		t.Fatal(err)
	}
	for i := range i8 {
		if out[i] != int64(i8[i]) {
			t.Fatalf("int8 %d round trip: %d", i8[i], out[i])
		}
	}
	if err := ToInt64s(out, dst, 0, 127); err == nil {
		t.Fatalf("ToInt64s accepted -128 in [0,127]")
	}
	i16 := []int16{-32768, 32767, -3}
	FromInts(dst, i16)
	i32 := []int32{math.MinInt32, 7}
	FromInts(dst, i32)
	if v, _ := ToInt64(&dst[0]); v != math.MinInt32 {
		t.Fatalf("int32 round trip: %d", v)
	}
}

func TestLERoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	v := append(randElems(rng, 50), NewInt(-1), NewInt(0), NewInt(3))
	buf := make([]byte, len(v)*Bytes)
	PutLE(buf, v)
	// small values have mostly zero high bytes (this is why chunk files use canonical form)
	if !bytes.Equal(buf[len(buf)-Bytes:], append([]byte{3}, make([]byte, Bytes-1)...)) {
		t.Fatalf("3 encodes as %x", buf[len(buf)-Bytes:])
	}
	back := make([]Element, len(v))
	if err := FromLE(back, buf); err != nil {
		t.Fatal(err)
	}
	for i := range v {
		if !v[i].Equal(&back[i]) {
			t.Fatalf("element %d differs", i)
		}
	}
	// p itself is not canonical
	p := fr.Modulus().Bytes()
	le := make([]byte, Bytes)
	for i := range p {
		le[len(p)-1-i] = p[i]
	}
	if err := FromLE(back[:1], le); !errors.Is(err, ErrNonCanonical) {
		t.Fatalf("FromLE(p) = %v, want ErrNonCanonical", err)
	}
	var be [Bytes]byte
	copy(be[Bytes-len(p):], p)
	if _, err := FromBE(be[:]); !errors.Is(err, ErrNonCanonical) {
		t.Fatalf("FromBE(p) = %v", err)
	}
	e := NewInt(-7)
	PutBE(be[:], &e)
	if got, err := FromBE(be[:]); err != nil || !got.Equal(&e) {
		t.Fatalf("FromBE round trip: %v", err)
	}
}

// naiveEval evaluates Σ_i v_i·eq(i, point) directly from the definition.
func naiveEval(v, point []Element) Element {
	var acc Element
	for i := range v {
		e := EqIndex(point, uint64(i))
		e.Mul(&e, &v[i])
		acc.Add(&acc, &e)
	}
	return acc
}

func TestEqTable(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for k := 0; k <= 8; k++ {
		p := randElems(rng, k)
		tab := EqTable(make([]Element, 1<<k), p)
		var sum Element
		for i := range tab {
			want := EqIndex(p, uint64(i))
			if !tab[i].Equal(&want) {
				t.Fatalf("k=%d: eq table[%d] differs from EqIndex", k, i)
			}
			sum.Add(&sum, &tab[i])
			// Eq of the Boolean point agrees as well
			bitsPt := make([]Element, k)
			for b := 0; b < k; b++ {
				bitsPt[b].SetUint64(uint64(i>>b) & 1)
			}
			if e := Eq(p, bitsPt); !e.Equal(&want) {
				t.Fatalf("k=%d: Eq at Boolean %d differs", k, i)
			}
		}
		if one := One(); !sum.Equal(&one) {
			t.Fatalf("k=%d: eq table does not sum to 1", k)
		}
	}
}

func TestFoldAndEval(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for n := 0; n <= 10; n++ {
		v := randElems(rng, 1<<n)
		p := randElems(rng, n)
		want := naiveEval(v, p)
		got, err := EvalSlice(v, p, nil)
		if err != nil || !got.Equal(&want) {
			t.Fatalf("n=%d: EvalSlice differs (%v)", n, err)
		}
		for c := 0; c <= n; c++ {
			got, err := EvalStream(SliceSource(v), p, c)
			if err != nil || !got.Equal(&want) {
				t.Fatalf("n=%d c=%d: EvalStream differs (%v)", n, c, err)
			}
		}
		if n > 0 {
			// folding variable 0 by r = evaluating with point[0] = r
			f := fold(make([]Element, len(v)/2), v, &p[0])
			got, _ := EvalSlice(f, p[1:], nil)
			if !got.Equal(&want) {
				t.Fatalf("n=%d: fold then eval differs", n)
			}
		}
	}
	if _, err := EvalSlice(make([]Element, 3), nil, nil); err == nil {
		t.Fatal("EvalSlice accepted a mismatched length")
	}
	if _, err := EvalStream(SliceSource(make([]Element, 6)), make([]Element, 3), 2); err == nil {
		t.Fatal("EvalStream accepted a non-power-of-two source")
	}
}

func TestChunkEq(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	p := randElems(rng, 9)
	full := EqTable(make([]Element, 1<<9), p)
	ce := NewChunkEq(p, 4)
	for j := int64(0); j < 1<<5; j++ {
		hi := ce.Hi(j)
		for x := 0; x < ce.ChunkLen(); x++ {
			var e Element
			e.Mul(&hi, &ce.Lo[x])
			if !e.Equal(&full[int(j)*16+x]) {
				t.Fatalf("chunk %d x %d: decomposition differs", j, x)
			}
		}
	}
}

func TestTranscript(t *testing.T) {
	a := NewTranscript("test")
	b := NewTranscript("test")
	a.AppendElements("x", NewInt(1), NewInt(2))
	b.AppendElements("x", NewInt(1), NewInt(2))
	ca, cb := a.Challenge("r"), b.Challenge("r")
	if !ca.Equal(&cb) {
		t.Fatal("same transcript, different challenges")
	}
	// any difference in what was absorbed changes the challenge
	variants := []func(*Transcript){
		func(t *Transcript) { t.AppendElements("x", NewInt(1), NewInt(3)) },
		func(t *Transcript) { t.AppendElements("y", NewInt(1), NewInt(2)) },
		func(t *Transcript) { t.AppendElements("x", NewInt(1)); t.AppendElements("x", NewInt(2)) },
		func(t *Transcript) { t.AppendBytes("x", nil) },
	}
	for i, f := range variants {
		c := NewTranscript("test")
		f(c)
		if got := c.Challenge("r"); got.Equal(&ca) {
			t.Fatalf("variant %d gives the same challenge", i)
		}
	}
	if other := NewTranscript("other"); func() bool {
		other.AppendElements("x", NewInt(1), NewInt(2))
		c := other.Challenge("r")
		return c.Equal(&ca)
	}() {
		t.Fatal("domain does not separate transcripts")
	}
	// successive challenges differ
	if c2 := a.Challenge("r"); c2.Equal(&ca) {
		t.Fatal("two squeezes gave the same challenge")
	}
}

func TestParallelDeterministic(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	v := randElems(rng, 1000)
	sum := func(workers int) Element {
		parts := make([]Element, len(v))
		Parallel(len(v), workers, func(s, e int) {
			var acc Element
			for i := s; i < e; i++ {
				acc.Add(&acc, &v[i])
			}
			parts[s] = acc
		})
		var tot Element
		for i := range parts {
			tot.Add(&tot, &parts[i])
		}
		return tot
	}
	a, b := sum(1), sum(2)
	if !a.Equal(&b) {
		t.Fatal("Parallel sum depends on workers")
	}
}

func BenchmarkFieldMul(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	x := randElems(rng, 1<<14)
	y := randElems(rng, 1<<14)
	out := make(fr.Vector, len(x))
	b.SetBytes(int64(len(x)) * Bytes)
	for b.Loop() {
		out.Mul(x, y)
	}
}

func BenchmarkEvalStream(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	v := randElems(rng, 1<<20)
	p := randElems(rng, 20)
	b.SetBytes(int64(len(v)) * Bytes)
	for b.Loop() {
		if _, err := EvalStream(SliceSource(v), p, 14); err != nil {
			b.Fatal(err)
		}
	}
}

func TestEqPrefixSum(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for n := 0; n <= 6; n++ {
		p := randElems(rng, n)
		for k := uint64(0); k <= 1<<n; k++ {
			var want Element
			for b := uint64(0); b < k; b++ {
				e := EqIndex(p, b)
				want.Add(&want, &e)
			}
			if got := EqPrefixSum(p, k); !got.Equal(&want) {
				t.Fatalf("n=%d k=%d: prefix sum differs", n, k)
			}
		}
	}
}

// FromLE agrees with gnark-crypto's own little-endian decoder on random, small and edge values.
func TestFromLEMatchesGnark(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	v := append(randElems(rng, 1000), NewInt(0), NewInt(1), NewInt(-1), NewInt(-128))
	buf := make([]byte, len(v)*Bytes)
	PutLE(buf, v)
	got := make([]Element, len(v))
	if err := FromLE(got, buf); err != nil {
		t.Fatal(err)
	}
	for i := range v {
		want, err := fr.LittleEndian.Element((*[Bytes]byte)(buf[i*Bytes:]))
		if err != nil || !want.Equal(&got[i]) || !want.Equal(&v[i]) {
			t.Fatalf("element %d differs from gnark's decoder", i)
		}
	}
	// p − 1 is canonical, p and p + 1 are not
	pm1 := NewInt(-1)
	one := make([]byte, Bytes)
	PutLE(one, []Element{pm1})
	one[0]++ // p
	if err := FromLE(got[:1], one); err == nil {
		t.Fatal("p accepted")
	}
	one[0]++ // p + 1
	if err := FromLE(got[:1], one); err == nil {
		t.Fatal("p+1 accepted")
	}
}

func BenchmarkFromLE(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	v := randElems(rng, 1<<14)
	buf := make([]byte, len(v)*Bytes)
	PutLE(buf, v)
	out := make([]Element, len(v))
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		if err := FromLE(out, buf); err != nil {
			b.Fatal(err)
		}
	}
}

// TestFromInts: the table conversions (typed and little-endian bytes) agree with SetInt64 at
// every width, on the extremes and random values.
func TestFromInts(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	vals := []int64{math.MinInt64, math.MinInt32, math.MinInt16, -129, -128, -1, 0, 1, 127, 128, 255, 256, math.MaxInt16, math.MaxInt32, math.MaxInt64}
	for range 200 {
		vals = append(vals, int64(rng.Uint64()))
	}
	check := func(width int, got []Element, raw []byte) {
		t.Helper()
		le := make([]Element, len(got))
		FromIntsLE(le, raw, width)
		for i := range got {
			v := int64(binary.LittleEndian.Uint64(append(raw[width*i:width*i+width:width*i+width], make([]byte, 8-width)...)))
			v = v << (64 - 8*width) >> (64 - 8*width) // sign-extend
			want := NewInt(v)
			if !got[i].Equal(&want) || !le[i].Equal(&want) {
				t.Fatalf("width %d, value %d: FromInts %v, FromIntsLE %v, want %v", width, v, got[i].String(), le[i].String(), want.String())
			}
		}
	}
	n := len(vals)
	dst := make([]Element, n)
	i8, i16, i32 := make([]int8, n), make([]int16, n), make([]int32, n)
	r8, r16, r32, r64 := make([]byte, n), make([]byte, 2*n), make([]byte, 4*n), make([]byte, 8*n)
	for i, v := range vals {
		i8[i], i16[i], i32[i] = int8(v), int16(v), int32(v)
		r8[i] = byte(v)
		binary.LittleEndian.PutUint16(r16[2*i:], uint16(v))
		binary.LittleEndian.PutUint32(r32[4*i:], uint32(v))
		binary.LittleEndian.PutUint64(r64[8*i:], uint64(v))
	}
	FromInts(dst, i8)
	check(1, dst, r8)
	FromInts(dst, i16)
	check(2, dst, r16)
	FromInts(dst, i32)
	check(4, dst, r32)
	FromInts(dst, vals)
	check(8, dst, r64)
}
