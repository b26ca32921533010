package pcs

import (
	"errors"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/streamprove/streamprove/field"
)

// intVec is an integer field.IntSource held in RAM; fail makes its integer stream end early.
type intVec struct {
	v    []int64
	bits int
	fail bool
}

func (s intVec) Len() int64 { return int64(len(s.v)) }
func (s intVec) Bits() int  { return s.bits }
func (s intVec) Open() (field.Stream, error) {
	e := make(field.SliceSource, len(s.v))
	field.FromInts(e, s.v)
	return e.Open()
}
func (s intVec) OpenInts() (field.IntStream, error) {
	v := s.v
	if s.fail {
		v = v[:len(v)/2]
	}
	return &intVecStream{v: v}, nil
}

type intVecStream struct{ v []int64 }

func (st *intVecStream) Next(buf []int64) (int, error) {
	if len(st.v) == 0 {
		return 0, io.EOF
	}
	n := copy(buf, st.v)
	st.v = st.v[n:]
	return n, nil
}
func (st *intVecStream) Close() error { return nil }

// TestCommitIntsMatchesFieldPath checks that an integer source commits, through its integers,
// to exactly the commitment of the same vector as field elements, for int8-, int16- and
// int32-sized values with mixed signs, and that a short integer stream is an error.
func TestCommitIntsMatchesFieldPath(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for _, c := range []struct{ n, bits int }{{6, 8}, {11, 8}, {10, 16}, {9, 32}, {12, 1}} {
		v := make([]int64, 1<<c.n)
		for i := range v {
			if c.bits == 1 {
				v[i] = rng.Int64N(2)
			} else {
				v[i] = rng.Int64N(1<<(c.bits-1)) - rng.Int64N(1<<(c.bits-1))
			}
		}
		src := intVec{v: v, bits: max(c.bits, 8)}
		got, err := Commit(src, Options{})
		if err != nil {
			t.Fatal(err)
		}
		fe := make(field.SliceSource, len(v))
		field.FromInts(fe, v)
		want, err := Commit(fe, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if got.Digest() != want.Digest() {
			t.Fatalf("2^%d values of %d bits: the integer path commits to something else", c.n, c.bits)
		}
		src.fail = true
		if _, err := Commit(src, Options{}); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("short integer stream: got %v, want io.ErrUnexpectedEOF", err)
		}
	}
}
