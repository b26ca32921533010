package pcs

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/streamprove/streamprove/field"
)

// TestOpenIntsMatchesFieldPath opens the same int8 tensor through its integers (openPassInts,
// as int64 and as int8) and as field elements: the vectors are identical for point claims and a padding claim batched
// on one commitment, with a block of several rows per read and with one row per read, and the
// opening verifies. A value that is not the tensor's evaluation is still refused by Open and,
// sent anyway, rejected by Verify. A short stream and a value outside the source's bits are
// errors.
func TestOpenIntsMatchesFieldPath(t *testing.T) {
	rng := rand.New(rand.NewPCG(51, 52))
	for _, c := range []struct {
		shape []int
		b     int
	}{{[]int{37, 9}, 9}, {[]int{5, 300}, 9}, {[]int{3, 600}, 10}, {[]int{300, 1000}, 10}} {
		t.Run(fmt.Sprintf("%v/b=%d", c.shape, c.b), func(t *testing.T) {
			fe := paddedTensor(rng, c.shape)
			v := make([]int64, len(fe))
			if err := field.ToInt64s(v, fe, -128, 127); err != nil {
				t.Fatal(err)
			}
			v[0] = -128 // the table's first entry
			fe[0] = field.NewInt(-128)
			is := intVec{v: v, bits: 8}
			com, err := Commit(fe, Options{ColumnLog: c.b})
			if err != nil {
				t.Fatal(err)
			}
			n := com.NumVars
			claims := func(src field.Source) []Claim {
				cs := []Claim{claimFor(t, com, fe, randPointSeeded(n, 1)), claimFor(t, com, fe, randPointSeeded(n, 2)),
					{Commitment: com, Source: fe, ZeroOutside: c.shape}}
				for i := range cs {
					cs[i].Source = src
				}
				return cs
			}
			want, err := Open(newTr(), claims(fe), Options{})
			if err != nil {
				t.Fatal(err)
			}
			for _, src := range []field.Source{is, int8Vec{is}} {
				got := proveAndCheck(t, claims(src), Options{Workers: 2})
				for k := range want.U {
					if !equalVec(got.U[k], want.U[k]) {
						t.Fatalf("%T: vector %d differs between the integer and the field path", src, k)
					}
				}
			}
			bad := claims(is)[:1]
			bad[0].Value.Add(&bad[0].Value, &[]field.Element{field.One()}[0])
			if _, err := Open(newTr(), bad, Options{}); !errors.Is(err, ErrClaim) {
				t.Fatalf("Open of a wrong value: got %v, want ErrClaim", err)
			}
			op, err := Open(newTr(), bad, Options{SkipProverChecks: true})
			if err != nil {
				t.Fatal(err)
			}
			bad[0].Source = nil
			if err := Verify(newTr(), bad, op); !errors.Is(err, ErrBadProof) {
				t.Fatalf("Verify of a wrong value: got %v, want ErrBadProof", err)
			}
			short := is
			short.fail = true
			for _, src := range []field.Source{short, int8Vec{short}} {
				if _, err := Open(newTr(), claims(src)[:1], Options{}); !errors.Is(err, io.ErrUnexpectedEOF) {
					t.Fatalf("%T: short integer stream: got %v, want io.ErrUnexpectedEOF", src, err)
				}
			}
			wide := intVec{v: append([]int64(nil), v...), bits: 8}
			wide.v[len(v)-1] = 128
			if _, err := Open(newTr(), claims(wide)[:1], Options{}); !errors.Is(err, ErrClaim) {
				t.Fatalf("value outside 8 bits: got %v, want ErrClaim", err)
			}
		})
	}
}

func randPointSeeded(n int, seed uint64) []field.Element {
	return randPoint(rand.New(rand.NewPCG(seed, seed+7)), n)
}

// int8Vec is an intVec of 8-bit values that also streams them as int8 (field.Int8Source).
type int8Vec struct{ intVec }

func (s int8Vec) OpenInt8s() (field.Int8Stream, error) {
	st, err := s.OpenInts()
	if err != nil {
		return nil, err
	}
	return &int8VecStream{st.(*intVecStream)}, nil
}

type int8VecStream struct{ *intVecStream }

func (st *int8VecStream) Next(buf []int8) (int, error) {
	tmp := make([]int64, len(buf))
	n, err := st.intVecStream.Next(tmp)
	for i, v := range tmp[:n] {
		buf[i] = int8(v)
	}
	return n, err
}
