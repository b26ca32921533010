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
	wr := NewWideSum(n) // AddLookup8Rows, six rows at a time (one group of four and two single rows)
	var pendV [][]int8
	var pendT []*[256]Element
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
		tc := table
		pendV, pendT = append(pendV, vals8), append(pendT, &tc)
		if len(pendV) == 6 || r == rows-1 {
			wr.AddLookup8Rows(pendV, pendT)
			pendV, pendT = nil, nil
		}
	}
	gotRows := make([]Element, n)
	wr.Reduce(gotRows)
	got := make([]Element, n)
	w.Reduce(got)
	got8 := randElems(rng, n)
	base := append([]Element(nil), got8...)
	w8.AddTo(got8)
	for i := range want {
		if !got[i].Equal(&want[i]) {
			t.Fatalf("sum %d: got %v, want %v", i, got[i].String(), want[i].String())
		}
		if !gotRows[i].Equal(&want[i]) {
			t.Fatalf("AddLookup8Rows sum %d: got %v, want %v", i, gotRows[i].String(), want[i].String())
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

// BenchmarkWideSumRows compares eight int8 rows added one at a time (AddLookup8) and four at a
// time (AddLookup8Rows), one row of 4096.
func BenchmarkWideSumRows(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	const n, rows = 4096, 8
	vals := make([][]int8, rows)
	tables := make([]*[256]Element, rows)
	for k := range vals {
		vals[k] = make([]int8, n)
		for i := range vals[k] {
			vals[k][i] = int8(rng.IntN(256) - 128)
		}
		tables[k] = (*[256]Element)(randElems(rng, 256))
	}
	acc := NewWideSum(n)
	b.Run("one", func(b *testing.B) {
		for b.Loop() {
			for k := range vals {
				acc.AddLookup8(vals[k], tables[k])
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n*rows), "ns/elem")
	})
	b.Run("rows", func(b *testing.B) {
		for b.Loop() {
			acc.AddLookup8Rows(vals, tables)
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n*rows), "ns/elem")
	})
}
