package pcs

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/streamprove/streamprove/field"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// TestGolden pins the formats and the generators: a commitment file and an opening of fixed data
// must be byte-for-byte what the current versions produce. A change here breaks every stored commitment
// and proof; if it is intended, bump the version and regenerate with -update.
func TestGolden(t *testing.T) {
	src := make(field.SliceSource, 1<<7)
	for i := range src {
		src[i] = field.NewInt(int64(i*37%256) - 128)
	}
	src[5] = field.NewInt(1 << 40) // one wide value: the row takes a wider small MSM
	big := make(field.SliceSource, 1<<3)
	for i := range big {
		big[i].SetUint64(uint64(i) + 1)
		big[i].Inverse(&big[i]) // full-width field elements: MultiExp rows
	}
	c1, err := Commit(src, Options{})
	if err != nil {
		t.Fatal(err)
	}
	c2, err := Commit(big, Options{ColumnLog: 3})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := WriteCommitmentFile(filepath.Join(dir, "c"), map[string]*Commitment{"fc1.weight": c1, "fc1.bias": c2}, []byte{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	file, err := os.ReadFile(filepath.Join(dir, "c"))
	if err != nil {
		t.Fatal(err)
	}
	point := func(n int) []field.Element {
		p := make([]field.Element, n)
		for i := range p {
			p[i].SetUint64(uint64(1000 + 7*i + n))
		}
		return p
	}
	p1, p2 := point(7), point(3)
	v1, _ := field.EvalSlice(src, p1, nil)
	v2, _ := field.EvalSlice(big, p2, nil)
	claims := []Claim{{Commitment: c1, Source: src, Point: p1, Value: v1}, {Commitment: c2, Source: big, Point: p2, Value: v2}}
	tr := field.NewTranscript("streamprove/pcs-golden")
	op, err := Open(tr, claims, Options{})
	if err != nil {
		t.Fatal(err)
	}
	state := tr.State()
	opening := append(op.AppendBinary(nil), state[:]...)

	for name, got := range map[string][]byte{"commitments.golden": file, "opening.golden": opening} {
		path := filepath.Join("testdata", name)
		if *update {
			if err := os.WriteFile(path, got, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run with -update to create)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: encoding changed (%d bytes, golden %d)", name, len(got), len(want))
		}
	}
	cf, err := ReadCommitmentFile(filepath.Join("testdata", "commitments.golden"))
	if err != nil {
		t.Fatal(err)
	}
	coms := cf.Commitments
	vc := verifierClaims(claims)
	vc[0].Commitment, vc[1].Commitment = coms["fc1.weight"], coms["fc1.bias"]
	dec, _, err := DecodeOpening(opening, vc)
	if err != nil {
		t.Fatal(err)
	}
	if err := Verify(field.NewTranscript("streamprove/pcs-golden"), vc, dec); err != nil {
		t.Fatal(err)
	}
}

// A version-2 commitment file (compressed rows, written before version 3) still reads, to the
// same commitments as the current file of the same data.
func TestCommitmentFileV2Reads(t *testing.T) {
	v2, err := ReadCommitmentFile(filepath.Join("testdata", "commitments-v2.golden"))
	if err != nil {
		t.Fatal(err)
	}
	v3, err := ReadCommitmentFile(filepath.Join("testdata", "commitments.golden"))
	if err != nil {
		t.Fatal(err)
	}
	if len(v2.Commitments) != 2 || len(v3.Commitments) != 2 || !bytes.Equal(v2.Padding, v3.Padding) {
		t.Fatalf("v2 %d commitments, v3 %d; padding %v vs %v", len(v2.Commitments), len(v3.Commitments), v2.Padding, v3.Padding)
	}
	for name, c := range v3.Commitments {
		if c2 := v2.Commitments[name]; c2 == nil || c2.Digest() != c.Digest() {
			t.Fatalf("commitment %q differs between the version-2 and version-3 files", name)
		}
	}
}
