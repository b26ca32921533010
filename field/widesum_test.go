package field

import (
	"math/rand/v2"
	"testing"
)

// TestWideSum checks the unreduced sums against reduced field additions, including sums of
// elements near p (the worst case for the carry word and the final reduction) and many rows.
func TestWideSum(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	const n, rows = 37, 300
	var top Element
	top.SetInt64(-1) // p−1: the largest limbs an element can have
	w := NewWideSum(n)
	w8 := NewWideSum(n)
	want := make([]Element, n)
	for r := range rows {
		var table [256]Element
		e := randElems(rng, 1)[0]
		if r%3 == 0 {
			e = top
		}
		for v := range table {
			table[v].Mul(&e, &[]Element{NewInt(int64(v) - 128)}[0])
		}
		if r%5 == 0 {
			table[0], table[255] = top, top
		}
		vals := make([]int64, n)
		vals8 := make([]int8, n)
		for i := range vals {
			vals[i] = rng.Int64N(256) - 128
			if r%5 == 0 && i%2 == 0 {
				vals[i] = -128
			}
			vals8[i] = int8(vals[i])
			want[i].Add(&want[i], &table[vals[i]+128])
		}
		w.AddLookup(vals, -128, table[:])
		w8.AddLookup8(vals8, &table)
	}
	got := make([]Element, n)
	w.Reduce(got)
	got8 := randElems(rng, n)
	base := append([]Element(nil), got8...)
	w8.AddTo(got8)
	for i := range want {
		if !got[i].Equal(&want[i]) {
			t.Fatalf("sum %d: got %v, want %v", i, got[i].String(), want[i].String())
		}
		var d Element
		d.Sub(&got8[i], &base[i])
		if !d.Equal(&want[i]) {
			t.Fatalf("AddLookup8 sum %d: got %v, want %v", i, d.String(), want[i].String())
		}
	}
	w.Reset()
	w.Reduce(got)
	for i := range got {
		if !got[i].IsZero() {
			t.Fatalf("sum %d not zero after Reset", i)
		}
	}
}

// BenchmarkWideSum compares acc[i] += T[w[i]] in reduced field additions and in unreduced sums
// (int8 weights, one row of 4096).
func BenchmarkWideSum(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	const n = 4096
	table := randElems(rng, 256)
	vals := make([]int64, n)
	for i := range vals {
		vals[i] = rng.Int64N(256) - 128
	}
	b.Run("reduced", func(b *testing.B) {
		acc := make([]Element, n)
		for b.Loop() {
			for i, v := range vals {
				acc[i].Add(&acc[i], &table[v+128])
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/elem")
	})
	b.Run("wide", func(b *testing.B) {
		acc := NewWideSum(n)
		for b.Loop() {
			acc.AddLookup(vals, -128, table)
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/elem")
	})
}
