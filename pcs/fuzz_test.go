package pcs

import (
	"math/rand/v2"
	"testing"

	"github.com/streamprove/streamprove/field"
)

func FuzzDecodeCommitment(f *testing.F) {
	rng := rand.New(rand.NewPCG(31, 32))
	for _, n := range []int{0, 3, 6} {
		c, err := Commit(testVector(rng, "int8", n), Options{})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(c.AppendBinary(nil))
	}
	f.Add([]byte{1, 48, 0})
	f.Add([]byte{1, 40, 20, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		c, rest, err := DecodeCommitment(data)
		if err != nil {
			return
		}
		// A decoded commitment re-encodes to exactly the bytes it came from.
		enc := c.AppendBinary(nil)
		if string(enc) != string(data[:len(data)-len(rest)]) {
			t.Fatal("re-encoding differs")
		}
	})
}

func FuzzDecodeOpening(f *testing.F) {
	rng := rand.New(rand.NewPCG(33, 34))
	s1 := testVector(rng, "int8", 5)
	s2 := testVector(rng, "int16", 2)
	c1, err := Commit(s1, Options{})
	if err != nil {
		f.Fatal(err)
	}
	c2, err := Commit(s2, Options{})
	if err != nil {
		f.Fatal(err)
	}
	claims := []Claim{claimFor(f, c1, s1, randPoint(rng, 5)), claimFor(f, c2, s2, randPoint(rng, 2))}
	op, err := Open(newTr(), claims, Options{})
	if err != nil {
		f.Fatal(err)
	}
	vc := verifierClaims(claims)
	f.Add(op.AppendBinary(nil))
	f.Add([]byte{1, 0, 0, 0, 2, 3})
	f.Add([]byte{1, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		o, _, err := DecodeOpening(data, vc)
		if err != nil {
			return
		}
		_ = Verify(field.NewTranscript("fuzz"), vc, o)
	})
}

func FuzzParseCommitmentFile(f *testing.F) {
	data, err := readFile("testdata/commitments.golden")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Add([]byte("SPCOMMIT\x00\x00\x00\x02\xff\xff\xff\xff\x00\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cf, err := ParseCommitmentFile(data)
		if err != nil {
			return
		}
		for name, c := range cf.Commitments {
			if err := c.check(); err != nil {
				t.Fatalf("entry %q decoded but is inconsistent: %v", name, err)
			}
		}
	})
}
