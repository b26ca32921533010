package pcs

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/streamprove/streamprove/field"
)

// kinds of test data: the integer ranges quantized models produce, and random field elements.
var kinds = []string{"int8", "int16", "negative", "random"}

func testVector(rng *rand.Rand, kind string, n int) field.SliceSource {
	v := make([]field.Element, 1<<n)
	for i := range v {
		switch kind {
		case "int8":
			v[i] = field.NewInt(int64(rng.IntN(256)) - 128)
		case "int16":
			v[i] = field.NewInt(int64(rng.IntN(65536)) - 32768)
		case "negative":
			v[i] = field.NewInt(-1 - int64(rng.IntN(1000)))
		case "random":
			v[i] = randElement(rng)
		default:
			panic(kind)
		}
	}
	return field.SliceSource(v)
}

func randElement(rng *rand.Rand) field.Element {
	var b [64]byte
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	var e field.Element
	e.SetBytes(b[:])
	return e
}

func randPoint(rng *rand.Rand, n int) []field.Element {
	p := make([]field.Element, n)
	for i := range p {
		p[i] = randElement(rng)
	}
	return p
}

func claimFor(t testing.TB, com *Commitment, src field.SliceSource, point []field.Element) Claim {
	t.Helper()
	v, err := field.EvalSlice(src, point, nil)
	if err != nil {
		t.Fatal(err)
	}
	return Claim{Commitment: com, Source: src, Point: point, Value: v}
}

func newTr() *field.Transcript { return field.NewTranscript("streamprove/pcs-test") }

// proveAndCheck opens claims, round-trips the opening through its encoding and verifies it.
func proveAndCheck(t *testing.T, claims []Claim, opt Options) *Opening {
	t.Helper()
	op, err := Open(newTr(), claims, opt)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	enc := op.AppendBinary(nil)
	dec, rest, err := DecodeOpening(enc, verifierClaims(claims))
	if err != nil || len(rest) != 0 {
		t.Fatalf("decode opening: %v (%d bytes left)", err, len(rest))
	}
	if err := Verify(newTr(), verifierClaims(claims), dec); err != nil {
		t.Fatalf("verify: %v", err)
	}
	return op
}

// verifierClaims strips the sources, as a verifier has none.
func verifierClaims(claims []Claim) []Claim {
	out := make([]Claim, len(claims))
	for i, c := range claims {
		c.Source, c.U = nil, nil
		out[i] = c
	}
	return out
}

func TestCompleteness(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 3, 7, 10, 13} {
		for _, kind := range kinds {
			t.Run(fmt.Sprintf("n=%d/%s", n, kind), func(t *testing.T) {
				src := testVector(rng, kind, n)
				com, err := Commit(src, Options{})
				if err != nil {
					t.Fatal(err)
				}
				if com.NumVars != n || com.ColumnLog != (n+1)/2 || len(com.Rows) != 1<<(n-(n+1)/2) {
					t.Fatalf("shape n=%d b=%d rows=%d", com.NumVars, com.ColumnLog, len(com.Rows))
				}
				checkRows(t, com, src)
				proveAndCheck(t, []Claim{claimFor(t, com, src, randPoint(rng, n))}, Options{})
			})
		}
	}
}

// checkRows compares every row commitment with gnark-crypto's MultiExp of the row.
func checkRows(t *testing.T, com *Commitment, src field.SliceSource) {
	t.Helper()
	m := 1 << com.ColumnLog
	gens, err := generators(com.ColumnLog)
	if err != nil {
		t.Fatal(err)
	}
	for i := range com.Rows {
		want := plainMSM(t, gens, src[i*m:(i+1)*m])
		if !want.Equal(&com.Rows[i]) {
			t.Fatalf("row %d commitment differs from MultiExp", i)
		}
	}
}

func TestForcedColumnLog(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	src := testVector(rng, "int8", 9)
	for _, b := range []int{1, 3, 9} {
		com, err := Commit(src, Options{ColumnLog: b, Workers: 3})
		if err != nil {
			t.Fatal(err)
		}
		if com.ColumnLog != b {
			t.Fatalf("b = %d, want %d", com.ColumnLog, b)
		}
		checkRows(t, com, src)
		proveAndCheck(t, []Claim{claimFor(t, com, src, randPoint(rng, 9))}, Options{Workers: 1})
	}
	if _, err := Commit(src, Options{ColumnLog: 10}); err == nil {
		t.Fatal("column log above n accepted")
	}
}

// batch returns claims for 2 commitments of different sizes (and different b) × 2 points each,
// interleaved so that the grouping by commitment is exercised.
func batch(t *testing.T, rng *rand.Rand) []Claim {
	s1 := testVector(rng, "int8", 10)
	s2 := testVector(rng, "random", 7)
	c1, err := Commit(s1, Options{})
	if err != nil {
		t.Fatal(err)
	}
	c2, err := Commit(s2, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return []Claim{
		claimFor(t, c1, s1, randPoint(rng, 10)),
		claimFor(t, c2, s2, randPoint(rng, 7)),
		claimFor(t, c1, s1, randPoint(rng, 10)),
		claimFor(t, c2, s2, randPoint(rng, 7)),
	}
}

func TestBatchCompleteness(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	claims := batch(t, rng)
	op := proveAndCheck(t, claims, Options{})
	// Each u must be the same as a single opening's: batching changes only the verifier's check.
	for i := range claims {
		single, err := Open(newTr(), claims[i:i+1], Options{})
		if err != nil {
			t.Fatal(err)
		}
		if !equalVec(single.U[0], op.U[i]) {
			t.Fatalf("claim %d: batched u differs from single", i)
		}
	}
}

func TestOpenRejectsWrongValue(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	claims := batch(t, rng)
	claims[1].Value.SetUint64(12345)
	if _, err := Open(newTr(), claims, Options{}); !errors.Is(err, ErrClaim) {
		t.Fatalf("open with a wrong value: %v", err)
	}
}

// TestSoundness changes one thing about an honest batch at a time; every change must be rejected.
func TestSoundness(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	claims := batch(t, rng)
	op := proveAndCheck(t, claims, Options{})
	other := testVector(rng, "int8", 10)
	otherCom, err := Commit(other, Options{})
	if err != nil {
		t.Fatal(err)
	}
	cloneOp := func() *Opening {
		o := &Opening{U: make([][]field.Element, len(op.U))}
		for i := range op.U {
			o.U[i] = append([]field.Element(nil), op.U[i]...)
		}
		return o
	}
	cloneClaims := func() []Claim {
		cs := verifierClaims(claims)
		for i := range cs {
			cs[i].Point = append([]field.Element(nil), cs[i].Point...)
		}
		return cs
	}
	cases := []struct {
		name   string
		mutate func(cs []Claim, o *Opening)
	}{
		{"wrong value", func(cs []Claim, o *Opening) { cs[2].Value.Add(&cs[2].Value, ptr(field.One())) }},
		{"changed u element", func(cs []Claim, o *Opening) { o.U[1][3].Add(&o.U[1][3], ptr(field.One())) }},
		// u changed along a direction where ũ(r_col) stays the same: only the MSM can catch it.
		{"changed u, same evaluation", func(cs []Claim, o *Opening) {
			o.U[0] = sameEvalChange(o.U[0], cs[0].Point[:cs[0].Commitment.ColumnLog])
		}},
		{"commitment of other data", func(cs []Claim, o *Opening) { cs[0].Commitment = otherCom; cs[2].Commitment = otherCom }},
		{"point from another claim", func(cs []Claim, o *Opening) { cs[0].Point = cs[2].Point }},
		{"swapped openings", func(cs []Claim, o *Opening) { o.U[0], o.U[2] = o.U[2], o.U[0] }},
		{"changed row commitment", func(cs []Claim, o *Opening) {
			c := *cs[3].Commitment
			c.Rows = append(c.Rows[:0:0], c.Rows...)
			c.Rows[1].Add(&c.Rows[1], &c.Rows[0])
			cs[1].Commitment, cs[3].Commitment = &c, &c
		}},
		{"missing claim", func(cs []Claim, o *Opening) { o.U = o.U[:3] }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cs, o := cloneClaims(), cloneOp()
			if tc.name == "missing claim" {
				tc.mutate(cs, o)
				if err := Verify(newTr(), cs, o); !errors.Is(err, ErrBadProof) {
					t.Fatalf("accepted or wrong error: %v", err)
				}
				return
			}
			tc.mutate(cs, o)
			if err := Verify(newTr(), cs, o); !errors.Is(err, ErrBadProof) {
				t.Fatalf("accepted or wrong error: %v", err)
			}
		})
	}
	// The honest batch still verifies after the clones were mutated.
	if err := Verify(newTr(), cloneClaims(), cloneOp()); err != nil {
		t.Fatal(err)
	}
	t.Run("different transcript", func(t *testing.T) {
		tr := newTr()
		tr.AppendUint64("something else", 1)
		// ρ changes, but an honest opening verifies under any ρ: that is the point of the
		// batching lemma. A transcript difference must not break completeness.
		if err := Verify(tr, cloneClaims(), cloneOp()); err != nil {
			t.Fatal(err)
		}
	})
}

func ptr[T any](v T) *T { return &v }

// sameEvalChange returns u + δ where δ is non-zero but ũ+δ̃ agrees with ũ at r: δ = (x, y, 0, …)
// with x·eq(r,0) + y·eq(r,1) = 0.
func sameEvalChange(u []field.Element, r []field.Element) []field.Element {
	out := append([]field.Element(nil), u...)
	if len(u) < 2 {
		out[0].Add(&out[0], ptr(field.One()))
		return out
	}
	e0, e1 := field.EqIndex(r, 0), field.EqIndex(r, 1)
	// x = e1, y = −e0.
	out[0].Add(&out[0], &e1)
	out[1].Sub(&out[1], &e0)
	if v1, _ := field.EvalSlice(out, r, nil); true {
		v0, _ := field.EvalSlice(u, r, nil)
		if !v0.Equal(&v1) {
			panic("sameEvalChange changed the evaluation")
		}
	}
	return out
}

func TestEncodingRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for _, n := range []int{0, 5, 10} {
		src := testVector(rng, "negative", n)
		com, err := Commit(src, Options{})
		if err != nil {
			t.Fatal(err)
		}
		enc := com.AppendBinary([]byte("prefix"))[6:]
		if len(enc) != 3+32*len(com.Rows) {
			t.Fatalf("encoding of %d bytes", len(enc))
		}
		dec, rest, err := DecodeCommitment(append(enc, 7, 7))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(rest, []byte{7, 7}) {
			t.Fatalf("rest %v", rest)
		}
		if dec.Digest() != com.Digest() || dec.NumVars != n {
			t.Fatal("decoded commitment differs")
		}
		for cut := 0; cut < len(enc); cut += 1 + len(enc)/7 {
			if _, _, err := DecodeCommitment(enc[:cut]); !errors.Is(err, ErrFormat) {
				t.Fatalf("truncated at %d: %v", cut, err)
			}
		}
	}
}

// TestDecodeRejects flips bytes of an encoded commitment and of an encoded opening: each flip
// must fail to decode, or decode to something that does not verify.
func TestDecodeRejects(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	claims := batch(t, rng)
	op := proveAndCheck(t, claims, Options{})
	vc := verifierClaims(claims)
	enc := op.AppendBinary(nil)
	step := len(enc)/97 + 1
	for i := 0; i < len(enc); i += step {
		for _, bit := range []byte{0x01, 0x80} {
			bad := append([]byte(nil), enc...)
			bad[i] ^= bit
			dec, rest, err := DecodeOpening(bad, vc)
			if err != nil {
				if !errors.Is(err, ErrFormat) {
					t.Fatalf("byte %d: decode error without ErrFormat: %v", i, err)
				}
				continue
			}
			if len(rest) != 0 {
				t.Fatalf("byte %d: %d bytes left", i, len(rest))
			}
			if err := Verify(newTr(), vc, dec); !errors.Is(err, ErrBadProof) {
				t.Fatalf("opening with byte %d flipped (bit %#x): %v", i, bit, err)
			}
		}
	}

	cenc := claims[1].Commitment.AppendBinary(nil)
	for i := 0; i < len(cenc); i += 5 {
		bad := append([]byte(nil), cenc...)
		bad[i] ^= 0x04
		c, _, err := DecodeCommitment(bad)
		if err != nil {
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("commitment byte %d: %v", i, err)
			}
			continue
		}
		cs := verifierClaims(claims)
		cs[1].Commitment, cs[3].Commitment = c, c
		if err := Verify(newTr(), cs, op); !errors.Is(err, ErrBadProof) {
			t.Fatalf("commitment with byte %d flipped verified: %v", i, err)
		}
	}
}

func TestCommitmentFile(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	coms := map[string]*Commitment{}
	for i, n := range []int{0, 4, 9} {
		c, err := Commit(testVector(rng, "int8", n), Options{})
		if err != nil {
			t.Fatal(err)
		}
		coms[fmt.Sprintf("layer%d.weight", i)] = c
	}
	path := t.TempDir() + "/model.commit"
	padding := []byte("an opening's bytes")
	if err := WriteCommitmentFile(path, coms, padding); err != nil {
		t.Fatal(err)
	}
	cf, err := ReadCommitmentFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(cf.Padding, padding) {
		t.Fatalf("padding proof %q, want %q", cf.Padding, padding)
	}
	got := cf.Commitments
	if len(got) != len(coms) {
		t.Fatalf("%d entries", len(got))
	}
	for name, c := range coms {
		if got[name] == nil || got[name].Digest() != c.Digest() {
			t.Fatalf("entry %q differs", name)
		}
	}
	data, err := readFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(data); i += 3 {
		bad := append([]byte(nil), data...)
		bad[i] ^= 0x10
		if _, err := ParseCommitmentFile(bad); !errors.Is(err, ErrFormat) {
			t.Fatalf("byte %d flipped: %v", i, err)
		}
	}
	if _, err := ParseCommitmentFile(data[:len(data)-1]); !errors.Is(err, ErrFormat) {
		t.Fatal("truncated file accepted")
	}
}

// The uncompressed row encoding of commitment files (version 3) accepts only RawBytes() of
// points of G1: a point off the curve, a compressed point in its place, a coordinate ≥ p and a
// truncated encoding are ErrFormat; the honest encoding round-trips.
func TestRawCommitmentRejects(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 18))
	c, err := Commit(testVector(rng, "int8", 6), Options{})
	if err != nil {
		t.Fatal(err)
	}
	enc := c.appendRaw(nil)
	got, rest, err := decodeCommitmentRaw(enc)
	if err != nil || len(rest) != 0 || got.Digest() != c.Digest() {
		t.Fatalf("round trip: %v, %d bytes left", err, len(rest))
	}
	row := func(b []byte, i int) []byte { return b[3+i*rawBytes : 3+(i+1)*rawBytes] }
	for _, tc := range []struct {
		what string
		edit func(b []byte) []byte
	}{
		{"y changed: off the curve", func(b []byte) []byte { row(b, 1)[63] ^= 1; return b }},
		{"compressed mask in a raw slot", func(b []byte) []byte { row(b, 0)[0] |= 0x80; return b }},
		{"x ≥ p", func(b []byte) []byte {
			r := row(b, 2)
			for i := 0; i < 32; i++ {
				r[i] = 0xff
			}
			r[0] = 0x3f
			return b
		}},
		{"truncated", func(b []byte) []byte { return b[:len(b)-1] }},
	} {
		bad := tc.edit(bytes.Clone(enc))
		if _, _, err := decodeCommitmentRaw(bad); !errors.Is(err, ErrFormat) {
			t.Errorf("%s: %v, want ErrFormat", tc.what, err)
		}
	}
}
