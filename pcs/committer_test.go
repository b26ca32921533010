package pcs

import (
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/streamprove/streamprove/field"
	"github.com/streamprove/streamprove/spill"
)

func TestCommitterMatchesCommit(t *testing.T) {
	rng := rand.New(rand.NewPCG(41, 42))
	src := testVector(rng, "int16", 11)
	want, err := Commit(src, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, step := range []int{1, 7, 100, 1 << 11} {
		cm, err := newCommitter(11, Options{Workers: 2}, false)
		if err != nil {
			t.Fatal(err)
		}
		for off := 0; off < len(src); off += step {
			end := min(off+step, len(src))
			if err := cm.Write(src[off:end]); err != nil {
				t.Fatal(err)
			}
		}
		got, err := cm.Finish()
		if err != nil {
			t.Fatal(err)
		}
		if got.Digest() != want.Digest() {
			t.Fatalf("chunks of %d: commitment differs from Commit", step)
		}
	}
}

func TestCommitterLengthErrors(t *testing.T) {
	b := spill.NewBudget(64 << 20)
	cm, err := newCommitter(4, Options{Budget: b}, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := cm.Write(make([]field.Element, 17)); !errors.Is(err, ErrClaim) {
		t.Fatalf("17 elements into 16: %v", err)
	}
	if err := cm.Write(make([]field.Element, 15)); err != nil {
		t.Fatal(err)
	}
	if _, err := cm.Finish(); !errors.Is(err, ErrClaim) {
		t.Fatalf("finish after 15 of 16: %v", err)
	}
	if b.Used() != 0 {
		t.Fatalf("%d bytes still reserved", b.Used())
	}
	// A source shorter than it claims is an error, not a commitment.
	if _, err := Commit(shortSource{field.SliceSource(make([]field.Element, 8))}, Options{}); err == nil {
		t.Fatal("short source committed")
	}
}

// shortSource claims twice the elements its stream yields.
type shortSource struct{ field.SliceSource }

func (s shortSource) Len() int64 { return 2 * s.SliceSource.Len() }

func TestBudgetRefusal(t *testing.T) {
	src := testVector(rand.New(rand.NewPCG(1, 1)), "int8", 12)
	if _, err := Commit(src, Options{Budget: spill.NewBudget(1 << 10)}); !errors.Is(err, spill.ErrBudget) {
		t.Fatalf("commit in 1 KiB: %v", err)
	}
	// Every reservation is given back.
	bud := spill.NewBudget(64 << 20)
	com, err := Commit(src, Options{Budget: bud})
	if err != nil {
		t.Fatal(err)
	}
	c := claimFor(t, com, src, randPoint(rand.New(rand.NewPCG(2, 2)), 12))
	if _, err := Open(newTr(), []Claim{c}, Options{Budget: bud}); err != nil {
		t.Fatal(err)
	}
	if bud.Used() != 0 || bud.Peak() == 0 {
		t.Fatalf("ledger used %d, peak %d after commit and open", bud.Used(), bud.Peak())
	}
}

func TestSuppliedU(t *testing.T) {
	rng := rand.New(rand.NewPCG(43, 44))
	src := testVector(rng, "int8", 9)
	com, err := Commit(src, Options{ColumnLog: 6})
	if err != nil {
		t.Fatal(err)
	}
	c := claimFor(t, com, src, randPoint(rng, 9))
	op, err := Open(newTr(), []Claim{c}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	// The same claim with U supplied and no source: same proof, no pass.
	c2 := c
	c2.Source, c2.U = nil, op.U[0]
	op2, err := Open(newTr(), []Claim{c2}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := Verify(newTr(), verifierClaims([]Claim{c2}), op2); err != nil {
		t.Fatal(err)
	}
	// A wrong U that still evaluates to the value is caught by Verify, not by Open.
	c2.U = sameEvalChange(op.U[0], c.Point[:6])
	op3, err := Open(newTr(), []Claim{c2}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := Verify(newTr(), verifierClaims([]Claim{c2}), op3); !errors.Is(err, ErrBadProof) {
		t.Fatalf("wrong supplied U: %v", err)
	}
}
