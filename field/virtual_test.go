package field

import (
	"math/rand/v2"
	"testing"
)

// collect reads a whole source with reads of uneven sizes, so chunk boundaries fall anywhere.
func collect(t *testing.T, src Source, step int) []Element {
	t.Helper()
	st, err := src.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	out := make([]Element, 0, src.Len())
	buf := make([]Element, step)
	for {
		n, err := st.Next(buf[:1+len(out)%step])
		out = append(out, buf[:n]...)
		if err != nil {
			break
		}
	}
	if int64(len(out)) != src.Len() {
		t.Fatalf("source yielded %d elements, Len says %d", len(out), src.Len())
	}
	return out
}

func TestEqSource(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, nv := range []int{0, 1, 3, 12, 13, 15} {
		p := randElems(rng, nv)
		got := collect(t, EqSource(p), 5000)
		want := EqTable(make([]Element, 1<<nv), p)
		for i := range want {
			if !got[i].Equal(&want[i]) {
				t.Fatalf("nv=%d: eq source [%d] differs from EqTable", nv, i)
			}
		}
		// its MLE at r is Eq(p, r): what a verifier checks a final value against
		r := randElems(rng, nv)
		v, err := EvalStream(EqSource(p), r, 4)
		if err != nil {
			t.Fatal(err)
		}
		if e := Eq(p, r); !v.Equal(&e) {
			t.Fatalf("nv=%d: MLE of the eq source at r is not Eq(p, r)", nv)
		}
	}
}

func TestMaskSource(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for _, c := range []struct {
		nv int
		n  int64
	}{{0, 1}, {0, 0}, {3, 5}, {4, 16}, {10, 1000}, {13, 4097}} {
		got := collect(t, MaskSource(c.nv, c.n), 777)
		for i := range got {
			want := Element{}
			if int64(i) < c.n {
				want = One()
			}
			if !got[i].Equal(&want) {
				t.Fatalf("%+v: mask[%d] wrong", c, i)
			}
		}
		r := randElems(rng, c.nv)
		v, err := EvalStream(MaskSource(c.nv, c.n), r, 3)
		if err != nil {
			t.Fatal(err)
		}
		if e := EqPrefixSum(r, uint64(c.n)); !v.Equal(&e) {
			t.Fatalf("%+v: MLE of the mask is not EqPrefixSum", c)
		}
	}
}
