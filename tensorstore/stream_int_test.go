package tensorstore

import (
	"io"
	"testing"

	"github.com/streamprove/streamprove/field"
)

// An integer tensor's Source is a field.IntSource whose integer stream is the same padded
// vector as its field stream.
func TestSourceInts(t *testing.T) {
	s := openTemp(t)
	for _, dt := range []DType{Int8, Int16, Int32, Int64} {
		shape := []int{3, 5, 7}
		w, err := s.Create("t"+dt.String(), shape, dt, WriteOptions{ChunkElems: 16})
		if err != nil {
			t.Fatal(err)
		}
		lo, hi := dt.Bounds()
		v := make([]int64, 105)
		for i := range v {
			v[i] = lo + int64(i)*((hi-lo)/105)
		}
		v[0], v[1] = lo, hi
		if err := w.WriteInt64s(v); err != nil {
			t.Fatal(err)
		}
		if _, err := w.Commit(); err != nil {
			t.Fatal(err)
		}
		tn, err := s.Tensor("t" + dt.String())
		if err != nil {
			t.Fatal(err)
		}
		is, ok := tn.Source().(field.IntSource)
		if !ok || is.Bits() != 8*dt.Size() {
			t.Fatalf("%v: Source is not an IntSource of %d bits", dt, 8*dt.Size())
		}
		want := drain(t, is, 7)
		st, err := is.OpenInts()
		if err != nil {
			t.Fatal(err)
		}
		var got []int64
		buf := make([]int64, 9)
		for {
			n, err := st.Next(buf)
			got = append(got, buf[:n]...)
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		st.Close()
		if len(got) != len(want) {
			t.Fatalf("%v: %d ints, %d elements", dt, len(got), len(want))
		}
		for i := range got {
			e := field.NewInt(got[i])
			if !e.Equal(&want[i]) {
				t.Fatalf("%v: element %d: int %d differs from the field stream", dt, i, got[i])
			}
		}
		tn.Close()
	}
	// a field tensor's Source is not an IntSource
	w, _ := s.Create("f", []int{4}, Field, WriteOptions{})
	w.WriteElements(make([]field.Element, 4))
	w.Commit()
	tn, _ := s.Tensor("f")
	defer tn.Close()
	if _, ok := tn.Source().(field.IntSource); ok {
		t.Fatal("a field tensor's Source claims to be an IntSource")
	}
}
