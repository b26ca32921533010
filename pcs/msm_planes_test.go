package pcs

import (
	"fmt"
	"math/bits"
	"math/rand/v2"
	"testing"

	"github.com/consensys/gnark-crypto/ecc/bn254"

	"github.com/streamprove/streamprove/field"
)

// planeRows are the rows msmPlanes is for (binary, two values with rare others, dense signed,
// mostly zero) and rows at its limits (constant, widest range, beyond it).
func planeRows(rng *rand.Rand, m int) map[string][]int64 {
	rows := map[string][]int64{}
	gen := func(name string, f func(j int) int64) {
		s := make([]int64, m)
		for j := range s {
			s[j] = f(j)
		}
		rows[name] = s
	}
	gen("binary", func(int) int64 { return rng.Int64N(2) })
	gen("saturated", func(int) int64 {
		switch r := rng.IntN(100); {
		case r < 48:
			return 0
		case r < 96:
			return 127
		default:
			return rng.Int64N(128)
		}
	})
	gen("rem9", func(int) int64 { return rng.Int64N(257) - 128 })
	gen("relu7", func(int) int64 { return max(0, rng.Int64N(256)-128) })
	gen("sparse-signed", func(j int) int64 {
		if j%13 == 0 {
			return rng.Int64N(31) - 15
		}
		return 0
	})
	gen("constant-negative", func(int) int64 { return -3 })
	gen("zeros", func(int) int64 { return 0 })
	gen("four-values", func(int) int64 { return []int64{-7, 0, 5, 9}[rng.IntN(4)] })
	gen("wide-11", func(int) int64 { return rng.Int64N(2048) - 1024 })
	gen("wide-12", func(int) int64 { return rng.Int64N(4096) - 2048 })
	return rows
}

// msmPlanes gives the MultiExp answer on every row, whether the cost rule takes it or not, and
// a committer's worker (with its subset table) commits every row to the same point.
func TestPlanesMSMEqualsMultiExp(t *testing.T) {
	rng := rand.New(rand.NewPCG(41, 42))
	gens, err := generators(10)
	if err != nil {
		t.Fatal(err)
	}
	w := newRowWorker(10)
	w.tab = newSubsetTable(gens, newRowWorker(10).sc)
	for _, m := range []int{1024, 64, 1000, 8} {
		for name, s := range planeRows(rng, m) {
			t.Run(fmt.Sprintf("%s/m=%d", name, m), func(t *testing.T) {
				row := make([]field.Element, m)
				field.FromInts(row, s)
				want := plainMSM(t, gens, row)
				var res bn254.G1Jac
				if w.sc.msmPlanes(&res, w.tab, s, w.maxC, 1<<40) {
					var got bn254.G1Affine
					got.FromJacobian(&res)
					if !got.Equal(&want) {
						t.Fatal("msmPlanes differs from MultiExp")
					}
				} else if m%blockBits == 0 && m <= 64 && name != "wide-12" && name != "zeros" {
					t.Fatal("msmPlanes declined a row it can take")
				}
				var got bn254.G1Affine
				w.commitRowInts(&got, gens, s)
				if !got.Equal(&want) {
					t.Fatal("commitRowInts with a subset table differs from MultiExp")
				}
				w.commitRow(&got, gens, row)
				if !got.Equal(&want) {
					t.Fatal("commitRow with a subset table differs from MultiExp")
				}
			})
		}
	}
	// The cost rule takes the rows it is for.
	for _, name := range []string{"binary", "saturated", "rem9"} {
		s := planeRows(rng, 1024)[name]
		var or uint64
		for _, v := range s {
			or |= uint64(max(v, -v))
		}
		var res bn254.G1Jac
		if !w.planes(&res, s, bits.Len64(or)) {
			t.Fatalf("%s: the subset sums were not used", name)
		}
	}
}

// A commitment big enough to build the subset table equals the one made row by row without it.
func TestCommitWithSubsetTable(t *testing.T) {
	rng := rand.New(rand.NewPCG(43, 44))
	n := 2 * planesMinRowsLog // 2^8 rows of 2^8
	v := make([]int64, 1<<n)
	for i := range v {
		switch i % 3 {
		case 0:
			v[i] = rng.Int64N(2)
		case 1:
			v[i] = rng.Int64N(257) - 128
		default:
			v[i] = 127
		}
	}
	com, err := Commit(intVec{v: v, bits: 9}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	b := com.ColumnLog
	if n-b < planesMinRowsLog {
		t.Fatalf("%d rows: too few to test the subset table", 1<<(n-b))
	}
	gens, err := generators(b)
	if err != nil {
		t.Fatal(err)
	}
	w := newRowWorker(b)
	for r := range com.Rows {
		var want bn254.G1Affine
		w.commitRowInts(&want, gens, v[r<<b:(r+1)<<b])
		if !com.Rows[r].Equal(&want) {
			t.Fatalf("row %d differs from the bucket method's", r)
		}
	}
}

// BenchmarkRowPlanes compares a row of 2^10 small integers committed with the subset table
// (msmPlanes where the cost rule takes it) and without (msmSmall).
func BenchmarkRowPlanes(b *testing.B) {
	rng := rand.New(rand.NewPCG(45, 46))
	gens, err := generators(10)
	if err != nil {
		b.Fatal(err)
	}
	tab := newSubsetTable(gens, newRowWorker(10).sc)
	for _, name := range []string{"binary", "saturated", "rem9", "relu7"} {
		s := planeRows(rng, 1024)[name]
		for _, with := range []bool{false, true} {
			b.Run(fmt.Sprintf("%s/table=%v", name, with), func(b *testing.B) {
				w := newRowWorker(10)
				if with {
					w.tab = tab
				}
				var p bn254.G1Affine
				for i := 0; i < b.N; i++ {
					w.commitRowInts(&p, gens, s)
				}
			})
		}
	}
}
