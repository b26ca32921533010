package main

import (
	"bytes"
	"testing"

	"github.com/streamprove/streamprove/field"
	"github.com/streamprove/streamprove/spill"
	"github.com/streamprove/streamprove/sumcheck"
)

// TestStreamMatchesRAM checks that -stream proves the in-memory mode's claim: the store holds
// randomTable's values, the claimed sums agree, and under the default budget (1/16 of the
// tables, which forces streamed passes and a spill) the proof bytes are the same.
func TestStreamMatchesRAM(t *testing.T) {
	const n = 14
	a, b := randomTable(n, 1), randomTable(n, 2)
	ram := &sumcheck.Claim{NumVars: n, Gate: sumcheck.Product(2), Sum: field.InnerProduct(a, b),
		Sources: []field.Source{field.SliceSource(a), field.SliceSource(b)}}

	dir := t.TempDir()
	budget := spill.NewBudget(int64(2*field.Bytes) << n / 16)
	st, setup, err := streamClaim(dir+"/store", n, budget)
	if err != nil {
		t.Fatal(err)
	}
	defer setup.close()
	if !st.Sum.Equal(&ram.Sum) {
		t.Fatal("stream claim's sum differs from the in-memory one")
	}
	for j, want := range [][]field.Element{a, b} {
		got := make([]field.Element, len(want))
		s, err := st.Sources[j].Open()
		if err != nil {
			t.Fatal(err)
		}
		if err := field.ReadFull(s, got); err != nil {
			t.Fatal(err)
		}
		s.Close()
		for i := range want {
			if !got[i].Equal(&want[i]) {
				t.Fatalf("table %s element %d differs from randomTable", tableNames[j], i)
			}
		}
	}

	pr, _, err := sumcheck.Prove(field.NewTranscript("bench"), ram, sumcheck.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ps, _, err := sumcheck.Prove(field.NewTranscript("bench"), st, sumcheck.Options{Budget: budget, SpillDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(pr.AppendBinary(nil), ps.AppendBinary(nil)) {
		t.Fatal("the streamed proof differs from the in-memory one")
	}
	if budget.Used() != 0 {
		t.Fatalf("%d bytes still reserved after the proves", budget.Used())
	}
	if _, err := sumcheck.Verify(field.NewTranscript("bench"), st, ps); err != nil {
		t.Fatal(err)
	}
}
