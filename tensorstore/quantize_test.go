package tensorstore

import (
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// floatNPY writes a float32 .npy of the given shape.
func floatNPY(t *testing.T, shape string, v []float32) string {
	t.Helper()
	hdr := "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape + ", }"
	for (10+len(hdr)+1)%64 != 0 {
		hdr += " "
	}
	hdr += "\n"
	b := append([]byte(npyMagic), 1, 0, byte(len(hdr)), byte(len(hdr)>>8))
	b = append(b, hdr...)
	for _, x := range v {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
	}
	p := filepath.Join(t.TempDir(), "x.npy")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestImportNPYInput: a float input is quantized as it streams in (ties to even, saturated to
// the dtype), a float without a quantizer and a non-finite value are refused.
func TestImportNPYInput(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	p := floatNPY(t, "(2, 3)", []float32{0.25, -0.75, 0.5, 1000, -1000, 0.3})
	q := &Quantizer{Scale: 0.5, DType: Int8}
	in, err := ImportNPYInput(s, p, "x", q, WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(in.Shape, []int{2, 3}) || in.DType != Int8 {
		t.Fatalf("imported %v %v", in.Shape, in.DType)
	}
	got := readInts(t, s, "x")
	if want := []int64{0, -2, 1, 127, -128, 1}; !slices.Equal(got, want) {
		t.Fatalf("quantized %v, want %v", got, want)
	}
	if _, err := ImportNPYInput(s, p, "y", nil, WriteOptions{}); !errors.Is(err, ErrFormat) {
		t.Fatalf("a float input without a quantizer: %v", err)
	}
	nan := floatNPY(t, "(1,)", []float32{float32(math.NaN())})
	if _, err := ImportNPYInput(s, nan, "z", q, WriteOptions{}); !errors.Is(err, ErrFormat) {
		t.Fatalf("NaN input: %v", err)
	}
}

func readInts(t *testing.T, s *Store, name string) []int64 {
	t.Helper()
	tn, err := s.Tensor(name)
	if err != nil {
		t.Fatal(err)
	}
	defer tn.Close()
	r, err := tn.Ints()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	buf := make([]int64, 64)
	var out []int64
	for {
		n, err := r.Next(buf)
		out = append(out, buf[:n]...)
		if err != nil {
			return out
		}
	}
}
