package kernels

import (
	"testing"

	"github.com/streamprove/streamprove/field"
)

// The table tree's leaf denominators (denoms: small steps by additions) equal β − fold(j) on
// every row of every table family the kernels build, across chunk boundaries at odd offsets.
func TestTableDenoms(t *testing.T) {
	var tabs []*lookupTable
	add := func(c *lookupCore) {
		for _, a := range c.args {
			tabs = append(tabs, a.tab)
		}
	}
	rq, err := NewRequant("rq", "x", "y", 5, 8, QuotientBits(12))
	if err != nil {
		t.Fatal(err)
	}
	add(&rq.core)
	if rq.pair != nil {
		add(rq.pair)
	}
	rr, err := NewRequantReLU("rr", "x", "y", 3, 6, QuotientBits(10))
	if err != nil {
		t.Fatal(err)
	}
	add(&rr.core)
	relu, err := NewReLU("relu", "x", "y", 8)
	if err != nil {
		t.Fatal(err)
	}
	add(&relu.core)
	if relu.pair != nil {
		add(relu.pair)
	}
	rg, err := NewRange("rg", "x", -5, 1000)
	if err != nil {
		t.Fatal(err)
	}
	add(&rg.core)
	for _, fn := range []string{"gelu", "sigmoid", "tanh"} {
		a, err := NewActivation("a", fn, "x", "y", 12, 8)
		if err != nil {
			t.Fatal(err)
		}
		add(&a.core)
	}
	n, err := NewRMSNorm("n", "x", "g", "y", 12, 16, 1)
	if err != nil {
		t.Fatal(err)
	}
	add(&n.elem)
	add(&n.row)
	sm, err := NewSoftmax("s", "x", "p", 8, 8, true)
	if err != nil {
		t.Fatal(err)
	}
	add(&sm.core)
	for _, spec := range []RequantFixedSpec{
		{Multipliers: []int64{1 << 30}, Shift: 38, Bits: 8},
		{Multipliers: []int64{12345, 999}, Axis: -1, Shift: 20, Bits: 8, Unsigned: true, ZeroPoint: 3, ReLU: true},
	} {
		k, err := NewRequantFixed("rf", "x", "y", spec)
		if err != nil {
			t.Fatal(err)
		}
		add(&k.core)
	}
	if len(tabs) < 8 {
		t.Fatalf("only %d tables collected", len(tabs))
	}
	beta := field.NewInt(987654321)
	for ti, tab := range tabs {
		gpow := make([]field.Element, len(tab.cols))
		g := field.NewInt(31337)
		gpow[0] = field.One()
		for c := 1; c < len(gpow); c++ {
			gpow[c].Mul(&gpow[c-1], &g)
		}
		N := uint64(1) << tab.logSize
		for off := uint64(0); off < N; {
			q := make([]field.Element, min(N-off, 1000))
			tab.denoms(q, off, beta, gpow)
			for i := range q {
				want := tab.fold(off+uint64(i), gpow)
				want.Sub(&beta, &want)
				if !q[i].Equal(&want) {
					t.Fatalf("table %d (%d columns, 2^%d rows), row %d: denoms %s, want %s", ti, len(tab.cols), tab.logSize, off+uint64(i), q[i].String(), want.String())
				}
			}
			off += uint64(len(q))
		}
	}
}
