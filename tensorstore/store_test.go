package tensorstore

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/streamprove/streamprove/field"
	"github.com/streamprove/streamprove/spill"
)

func openTemp(t testing.TB) *Store {
	t.Helper()
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// randValues returns n values in dt's range, including its extremes and negatives.
func randValues(r *rand.Rand, dt DType, n int) []int64 {
	lo, hi := dt.Bounds()
	v := make([]int64, n)
	for i := range v {
		switch i % 7 {
		case 0:
			v[i] = lo
		case 1:
			v[i] = hi
		case 2:
			v[i] = -1
		case 3:
			v[i] = 0
		default:
			if dt == Int64 || dt == Field {
				v[i] = int64(r.Uint64())
			} else {
				v[i] = lo + r.Int64N(hi-lo+1)
			}
		}
	}
	return v
}

func randField(r *rand.Rand, n int) []field.Element {
	v := make([]field.Element, n)
	for i := range v {
		v[i].SetUint64(r.Uint64())
		var h field.Element
		h.SetUint64(r.Uint64())
		v[i].Mul(&v[i], &h)
		v[i].Mul(&v[i], &v[i])
	}
	return v
}

// paddedInRAM builds the padded row-major vector of data (shape) the slow, obvious way.
func paddedInRAM(data []field.Element, shape []int) []field.Element {
	_, padded, pn, err := shapeLens(shape)
	if err != nil {
		panic(err)
	}
	out := make([]field.Element, pn)
	coords := make([]int, len(shape))
	for p := int64(0); p < pn; p++ {
		rem := p
		for k := len(shape) - 1; k >= 0; k-- {
			coords[k] = int(rem % int64(padded[k]))
			rem /= int64(padded[k])
		}
		idx, ok := 0, true
		for k := range shape {
			if coords[k] >= shape[k] {
				ok = false
				break
			}
			idx = idx*shape[k] + coords[k]
		}
		if ok {
			out[p] = data[idx]
		}
	}
	return out
}

func drain(t testing.TB, src field.Source, step int) []field.Element {
	t.Helper()
	st, err := src.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var out []field.Element
	buf := make([]field.Element, step)
	for {
		n, err := st.Next(buf)
		out = append(out, buf[:n]...)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if int64(len(out)) != src.Len() {
		t.Fatalf("stream gave %d elements, Len says %d", len(out), src.Len())
	}
	return out
}

func equalElems(t testing.TB, what string, got, want []field.Element) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d elements, want %d", what, len(got), len(want))
	}
	for i := range got {
		if !got[i].Equal(&want[i]) {
			t.Fatalf("%s: element %d is %s, want %s", what, i, got[i].String(), want[i].String())
		}
	}
}

func TestRoundTrip(t *testing.T) {
	s := openTemp(t)
	r := rand.New(rand.NewPCG(1, 2))
	shapes := [][]int{{3, 1000}, {7, 5, 3}, {1}, {1000, 3}, {}, {64}, {2, 3, 4, 5}}
	for _, dt := range []DType{Int8, Int16, Int32, Int64, Field} {
		for _, codec := range []Codec{CodecNone, CodecS2, CodecZstd} {
			for si, shape := range shapes {
				for _, ce := range []int{16, 1 << 16} {
					name := fmt.Sprintf("%v/%v/%d/%d", dt, codec, si, ce)
					n, _, _, _ := shapeLens(shape)
					var want []field.Element
					var ints []int64
					if dt == Field {
						want = randField(r, int(n))
					} else {
						ints = randValues(r, dt, int(n))
						want = make([]field.Element, n)
						field.FromInts(want, ints)
					}
					w, err := s.Create(name, shape, dt, WriteOptions{Codec: codec, ChunkElems: ce})
					if err != nil {
						t.Fatal(err)
					}
					// write in uneven pieces so that chunk boundaries fall mid-call
					for off := 0; off < int(n); {
						k := min(int(n)-off, 1+r.IntN(40))
						if dt == Field || off%2 == 0 {
							err = w.WriteElements(want[off : off+k])
						} else {
							err = w.WriteInt64s(ints[off : off+k])
						}
						if err != nil {
							t.Fatal(err)
						}
						off += k
					}
					if _, err := w.Commit(); err != nil {
						t.Fatal(err)
					}
					tn, err := s.Tensor(name)
					if err != nil {
						t.Fatal(err)
					}
					in := tn.Info()
					if in.Codec != codec || in.DType != dt || in.Len != n {
						t.Fatalf("%s: info %+v", name, in)
					}
					for _, pf := range []int{-1, 1, 3} {
						tn.SetReadOptions(ReadOptions{Prefetch: pf, Budget: spill.NewBudget(64 << 20)})
						equalElems(t, name+" raw", drain(t, tn.RawSource(), 1+r.IntN(50)), want)
						equalElems(t, name+" padded", drain(t, tn.Source(), 1+r.IntN(50)), paddedInRAM(want, shape))
					}
					// random access
					buf := make([]field.Element, in.ChunkElems)
					for j := in.NumChunks - 1; j >= 0; j-- {
						k, err := tn.ReadChunk(j, buf)
						if err != nil {
							t.Fatal(err)
						}
						equalElems(t, fmt.Sprintf("%s chunk %d", name, j), buf[:k], want[j*in.ChunkElems:j*in.ChunkElems+k])
					}
					if dt.IsInt() {
						checkInts(t, tn, ints)
					} else if _, err := tn.Ints(); !errors.Is(err, ErrFormat) {
						t.Fatalf("Ints of a field tensor: %v", err)
					}
					tn.Close()
				}
			}
		}
	}
}

func checkInts(t *testing.T, tn *Tensor, want []int64) {
	t.Helper()
	ir, err := tn.Ints()
	if err != nil {
		t.Fatal(err)
	}
	defer ir.Close()
	var got []int64
	buf := make([]int64, 13)
	for {
		n, err := ir.Next(buf)
		got = append(got, buf[:n]...)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("Ints: got %v…, want %v…", got[:min(5, len(got))], want[:min(5, len(want))])
	}
	in := tn.Info()
	ib := make([]int64, in.ChunkElems)
	for j := range in.NumChunks {
		k, err := tn.ReadChunkInt64(j, ib)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(ib[:k]) != fmt.Sprint(want[j*in.ChunkElems:j*in.ChunkElems+k]) {
			t.Fatalf("ReadChunkInt64 %d differs", j)
		}
	}
}

func TestInt8FastPathAndRange(t *testing.T) {
	s := openTemp(t)
	w, err := s.Create("a", []int{5}, Int8, WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.WriteInt8s([]int8{-128, 127}); err != nil {
		t.Fatal(err)
	}
	err = w.WriteInt64s([]int64{1, 128})
	if !errors.Is(err, ErrRange) || !strings.Contains(err.Error(), `"a"`) || !strings.Contains(err.Error(), "element 3") {
		t.Fatalf("out of range: %v", err)
	}
	if _, err := w.Commit(); err == nil {
		t.Fatal("commit after a failed write succeeded")
	}
	if _, err := s.Tensor("a"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("failed writer left a tensor: %v", err)
	}
	// a field element that is not a small integer does not fit int16
	w, _ = s.Create("b", []int{2}, Int16, WriteOptions{})
	big := field.NewInt(1 << 20)
	if err := w.WriteElements([]field.Element{field.NewInt(-5), big}); !errors.Is(err, ErrRange) {
		t.Fatalf("field → int16 out of range: %v", err)
	}
	w.Abort()
	// int8s into an int32 tensor widen
	w, _ = s.Create("c", []int{3}, Int32, WriteOptions{})
	if err := w.WriteInt8s([]int8{-1, 2, -3}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	tn, _ := s.Tensor("c")
	defer tn.Close()
	checkInts(t, tn, []int64{-1, 2, -3})
	// short write
	w, _ = s.Create("d", []int{3}, Int32, WriteOptions{})
	w.WriteInt8s([]int8{1})
	if _, err := w.Commit(); err == nil || !strings.Contains(err.Error(), "1 of 3") {
		t.Fatalf("short commit: %v", err)
	}
	// too many
	w, _ = s.Create("e", []int{1}, Int32, WriteOptions{})
	if err := w.WriteInt8s([]int8{1, 2}); err == nil {
		t.Fatal("overlong write accepted")
	}
	w.Abort()
}

func TestExistsReplaceDeleteList(t *testing.T) {
	s := openTemp(t)
	write := func(name string, v int8, opt WriteOptions) error {
		w, err := s.Create(name, []int{2}, Int8, opt)
		if err != nil {
			return err
		}
		if err := w.WriteInt8s([]int8{v, v}); err != nil {
			return err
		}
		_, err = w.Commit()
		return err
	}
	if err := write("x", 1, WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := write("x", 2, WriteOptions{}); !errors.Is(err, ErrExists) {
		t.Fatalf("second create: %v", err)
	}
	old, _ := s.Tensor("x") // stays readable across the replace
	defer old.Close()
	if err := write("x", 3, WriteOptions{Replace: true}); err != nil {
		t.Fatal(err)
	}
	nt, _ := s.Tensor("x")
	checkInts(t, nt, []int64{3, 3})
	nt.Close()
	checkInts(t, old, []int64{1, 1})
	if err := write("y", 4, WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	l, err := s.List()
	if err != nil || len(l) != 2 || l[0].Name != "x" || l[1].Name != "y" {
		t.Fatalf("List: %v %v", l, err)
	}
	if err := s.Delete("x"); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete("x"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	ents, _ := os.ReadDir(filepath.Join(s.Dir(), tensorsDir))
	if len(ents) != 1 {
		t.Fatalf("%d segment files after delete and replace, want 1", len(ents))
	}
}

func TestMeta(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetMeta("commitments", "fc1.w"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing meta: %v", err)
	}
	if err := s.PutMeta("commitments", "fc1.w", []byte("abc")); err != nil {
		t.Fatal(err)
	}
	if err := s.PutMeta("run", "state", []byte("{}")); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := Open(dir); err != nil { // reopen: durable
		t.Fatal(err)
	}
}

func TestMetaDurable(t *testing.T) {
	dir := t.TempDir()
	s, _ := Open(dir)
	s.PutMeta("commitments", "fc1.w", []byte("abc"))
	s.Close()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	v, err := s.GetMeta("commitments", "fc1.w")
	if err != nil || string(v) != "abc" {
		t.Fatalf("GetMeta: %q %v", v, err)
	}
	mk, err := s.MetaKeys()
	if err != nil || len(mk["commitments"]) != 1 {
		t.Fatalf("MetaKeys: %v %v", mk, err)
	}
	if _, err := Open(dir); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("second open of a locked store: %v", err)
	}
}

func TestBadCreate(t *testing.T) {
	s := openTemp(t)
	for _, c := range []struct {
		shape []int
		dt    DType
		opt   WriteOptions
	}{
		{[]int{0}, Int8, WriteOptions{}},
		{[]int{-1, 3}, Int8, WriteOptions{}},
		{[]int{1 << 30, 1 << 30, 1 << 30}, Int8, WriteOptions{}},
		{[]int{3}, 0, WriteOptions{}},
		{[]int{3}, Int8, WriteOptions{ChunkElems: 3}},
		{[]int{3}, Int8, WriteOptions{ChunkElems: 1 << 25}},
		{[]int{3}, Int8, WriteOptions{Codec: 9}},
	} {
		if _, err := s.Create("t", c.shape, c.dt, c.opt); !errors.Is(err, ErrFormat) {
			t.Errorf("Create(%v, %v, %+v): %v, want ErrFormat", c.shape, c.dt, c.opt, err)
		}
	}
}

func TestConvertTables(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	for _, dt := range []DType{Int8, Int16, Int32, Int64} {
		v := randValues(r, dt, 5000)
		raw := make([]byte, len(v)*dt.Size())
		encodeInts(dt, raw, v)
		got := make([]field.Element, len(v))
		if err := rawToElements(dt, got, raw); err != nil {
			t.Fatal(err)
		}
		want := make([]field.Element, len(v))
		field.FromInts(want, v)
		equalElems(t, dt.String(), got, want)
	}
}

func TestReaderBudget(t *testing.T) {
	s := openTemp(t)
	v := writeInt8Tensor(t, s, "w", []int{4096}, WriteOptions{ChunkElems: 256})
	tn, err := s.Tensor("w")
	if err != nil {
		t.Fatal(err)
	}
	defer tn.Close()
	want := make([]field.Element, len(v))
	field.FromInts(want, v)
	chunk := int64(256 * 32)
	scratch := int64(2 * 256)
	for _, c := range []struct {
		limit int64
		ok    bool
	}{
		{3*chunk + scratch, true}, // depth 2 fits
		{chunk + scratch, true},   // falls back to synchronous decoding
		{chunk, false},            // not even one chunk
	} {
		b := spill.NewBudget(c.limit)
		tn.SetReadOptions(ReadOptions{Budget: b, Prefetch: 2})
		st, err := tn.RawSource().Open()
		if !c.ok {
			if !errors.Is(err, spill.ErrBudget) {
				t.Fatalf("budget %d: %v, want ErrBudget", c.limit, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("budget %d: %v", c.limit, err)
		}
		if b.Used() == 0 || b.Used() > c.limit {
			t.Fatalf("budget %d: stream reserved %d", c.limit, b.Used())
		}
		st.Close()
		if b.Used() != 0 {
			t.Fatalf("budget %d: %d bytes still reserved after Close", c.limit, b.Used())
		}
		equalElems(t, "budgeted", drain(t, tn.RawSource(), 100), want)
	}
	// closing a stream part way stops its prefetcher
	tn.SetReadOptions(ReadOptions{Prefetch: 4})
	st, _ := tn.Source().Open()
	buf := make([]field.Element, 10)
	st.Next(buf)
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Next(buf); !errors.Is(err, ErrClosed) {
		t.Fatalf("Next after Close: %v", err)
	}
}

func TestConcurrentReadChunk(t *testing.T) {
	s := openTemp(t)
	v := writeInt8Tensor(t, s, "w", []int{1 << 14}, WriteOptions{ChunkElems: 1 << 10, Codec: CodecZstd})
	tn, _ := s.Tensor("w")
	defer tn.Close()
	errc := make(chan error, 8)
	for g := range 8 {
		go func() {
			buf := make([]field.Element, 1<<10)
			for j := range 16 {
				jj := (j + g) % 16
				n, err := tn.ReadChunk(jj, buf)
				if err != nil {
					errc <- err
					return
				}
				want := make([]field.Element, n)
				field.FromInts(want, v[jj<<10:jj<<10+n])
				for i := range want {
					if !want[i].Equal(&buf[i]) {
						errc <- fmt.Errorf("chunk %d element %d differs", jj, i)
						return
					}
				}
			}
			errc <- nil
		}()
	}
	for range 8 {
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
}
