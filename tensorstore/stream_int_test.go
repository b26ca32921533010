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
		// the padded int8 stream: the same vector as bytes, for int8 tensors only
		s8, err := is.(field.Int8Source).OpenInt8s()
		if dt != Int8 {
			if err == nil {
				t.Fatalf("%v: OpenInt8s did not fail", dt)
			}
			tn.Close()
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		var got8 []int64
		buf8 := make([]int8, 13)
		for {
			n, err := s8.Next(buf8)
			for _, x := range buf8[:n] {
				got8 = append(got8, int64(x))
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		s8.Close()
		if len(got8) != len(got) {
			t.Fatalf("int8 stream: %d values, want %d", len(got8), len(got))
		}
		for i := range got {
			if got8[i] != got[i] {
				t.Fatalf("int8 stream element %d: %d, want %d", i, got8[i], got[i])
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

// An int8 tensor's IntReader serves the same stream through Next (widened) and Next8, mixed
// in any order and across chunk edges; other dtypes refuse Next8.
func TestIntReaderInt8(t *testing.T) {
	s := openTemp(t)
	v := make([]int64, 101)
	for i := range v {
		v[i] = int64(i*37%256) - 128
	}
	for _, dt := range []DType{Int8, Int16} {
		w, err := s.Create("t"+dt.String(), []int{101}, dt, WriteOptions{ChunkElems: 16})
		if err != nil {
			t.Fatal(err)
		}
		if err := w.WriteInt64s(v); err != nil {
			t.Fatal(err)
		}
		if _, err := w.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	tn, err := s.Tensor("tint8")
	if err != nil {
		t.Fatal(err)
	}
	defer tn.Close()
	r, err := tn.Ints()
	if err != nil {
		t.Fatal(err)
	}
	if !r.Int8() {
		t.Fatal("int8 tensor's reader does not report Int8")
	}
	var got []int64
	b64, b8 := make([]int64, 7), make([]int8, 11)
	for k := 0; ; k++ {
		var n int
		if k%2 == 0 {
			n, err = r.Next(b64)
			got = append(got, b64[:n]...)
		} else {
			n, err = r.Next8(b8)
			for _, x := range b8[:n] {
				got = append(got, int64(x))
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	r.Close()
	if len(got) != len(v) {
		t.Fatalf("read %d values, want %d", len(got), len(v))
	}
	for i := range v {
		if got[i] != v[i] {
			t.Fatalf("value %d: %d, want %d", i, got[i], v[i])
		}
	}
	t16, err := s.Tensor("tint16")
	if err != nil {
		t.Fatal(err)
	}
	defer t16.Close()
	r16, err := t16.Ints()
	if err != nil {
		t.Fatal(err)
	}
	defer r16.Close()
	if _, err := r16.Next8(b8); err == nil || r16.Int8() {
		t.Fatal("Next8 on an int16 tensor did not fail")
	}
}
