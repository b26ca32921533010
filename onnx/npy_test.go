package onnx

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadNPYRefusals(t *testing.T) {
	good, err := os.ReadFile(filepath.Join(digitsDir, "test_y.npy"))
	if err != nil {
		t.Fatal(err)
	}
	hdr := func(h string, data int) []byte {
		b := []byte("\x93NUMPY\x01\x00")
		b = append(b, byte(len(h)), byte(len(h)>>8))
		return append(append(b, h...), make([]byte, data)...)
	}
	for _, c := range []struct {
		data []byte
		want string
	}{
		{good[:len(good)-1], "data bytes"},
		{hdr("{'descr': '<f4', 'fortran_order': False, 'shape': (1099511627776, 4), }", 4), "above"},
		{hdr("{'descr': '<f4', 'fortran_order': True, 'shape': (1,), }", 4), "Fortran"},
		{hdr("{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }", 4), "dtype"},
		{hdr("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", 0), "data bytes"},
		{[]byte("\x93NUMPY\x01\x00\xff\xff"), "header"},
		{[]byte("PK\x03\x04"), "not an .npy"},
	} {
		_, err := readNPY(bytes.NewReader(c.data), int64(len(c.data)))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: err = %v, want %q", c.data[:min(len(c.data), 60)], err, c.want)
		}
	}
}

func FuzzReadNPY(f *testing.F) {
	for _, name := range []string{"test_y.npy", "mlp_logits.npy"} {
		if b, err := os.ReadFile(filepath.Join(digitsDir, name)); err == nil {
			f.Add(b[:min(len(b), 4096)])
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		x, err := readNPY(bytes.NewReader(data), int64(len(data)))
		if err == nil && x.Len() != len(x.F)+len(x.I) {
			t.Fatalf("shape %v with %d values", x.Shape, len(x.F)+len(x.I))
		}
	})
}
