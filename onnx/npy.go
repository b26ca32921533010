package onnx

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
	"regexp"
	"strconv"
	"strings"
)

// The scheduler's .npy reader (tensorstore) takes integer arrays into the store; calibration
// samples and reference logits are float32 arrays read into RAM, which is this small reader.

var (
	npyDescr   = regexp.MustCompile(`'descr'\s*:\s*'([^']*)'`)
	npyFortran = regexp.MustCompile(`'fortran_order'\s*:\s*(True|False)`)
	npyShape   = regexp.MustCompile(`'shape'\s*:\s*\(([^)]*)\)`)
)

// ReadNPY reads a little-endian float32, float64 (into F) or int64 (into I) .npy file (C order),
// checking that the header's shape matches the file's size before allocating.
func ReadNPY(path string) (*Tensor, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	t, err := readNPY(f, st.Size())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

func readNPY(r io.ReaderAt, size int64) (*Tensor, error) {
	pre := make([]byte, 12)
	if size < 10 {
		return nil, fmt.Errorf("not an .npy file (%d bytes)", size)
	}
	if _, err := r.ReadAt(pre[:10], 0); err != nil {
		return nil, err
	}
	if string(pre[:6]) != "\x93NUMPY" {
		return nil, fmt.Errorf("not an .npy file (bad magic)")
	}
	var hl, start int64
	switch pre[6] {
	case 1:
		hl, start = int64(binary.LittleEndian.Uint16(pre[8:])), 10
	case 2, 3:
		if size < 12 {
			return nil, fmt.Errorf("truncated .npy header")
		}
		if _, err := r.ReadAt(pre, 0); err != nil {
			return nil, err
		}
		hl, start = int64(binary.LittleEndian.Uint32(pre[8:])), 12
	default:
		return nil, fmt.Errorf(".npy version %d is not supported", pre[6])
	}
	if hl > size-start || hl > 1<<16 {
		return nil, fmt.Errorf(".npy header of %d bytes does not fit", hl)
	}
	hdr := make([]byte, hl)
	if _, err := r.ReadAt(hdr, start); err != nil {
		return nil, err
	}
	h := string(hdr)
	d, fo, sh := npyDescr.FindStringSubmatch(h), npyFortran.FindStringSubmatch(h), npyShape.FindStringSubmatch(h)
	if d == nil || fo == nil || sh == nil {
		return nil, fmt.Errorf(".npy header %q lacks descr, fortran_order or shape", strings.TrimSpace(h))
	}
	if fo[1] != "False" {
		return nil, fmt.Errorf(".npy arrays in Fortran order are not supported")
	}
	var es int64
	switch d[1] {
	case "<f4":
		es = 4
	case "<f8", "<i8":
		es = 8
	default:
		return nil, fmt.Errorf(".npy dtype %q: float32 (<f4), float64 (<f8) or int64 (<i8) is wanted", d[1])
	}
	var dims []int64
	for _, s := range strings.Split(sh[1], ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, fmt.Errorf(".npy shape (%s): %v", sh[1], err)
		}
		dims = append(dims, v)
	}
	shape, err := checkDims(dims, MaxTensorElements)
	if err != nil {
		return nil, fmt.Errorf(".npy shape: %v", err)
	}
	n := int64(numel(shape))
	if size-start-hl != n*es {
		return nil, fmt.Errorf(".npy holds %d data bytes, shape %v needs %d", size-start-hl, shape, n*es)
	}
	raw := make([]byte, n*es)
	if _, err := r.ReadAt(raw, start+hl); err != nil && err != io.EOF {
		return nil, err
	}
	if d[1] == "<i8" {
		t := &Tensor{DType: Int64, Shape: shape, I: make([]int64, n)}
		for i := range t.I {
			t.I[i] = int64(binary.LittleEndian.Uint64(raw[8*i:]))
		}
		return t, nil
	}
	t := &Tensor{DType: Float32, Shape: shape, F: make([]float64, n)}
	for i := range t.F {
		if es == 4 {
			t.F[i] = float64(math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:])))
		} else {
			t.F[i] = math.Float64frombits(binary.LittleEndian.Uint64(raw[8*i:]))
		}
		if math.IsNaN(t.F[i]) || math.IsInf(t.F[i], 0) {
			return nil, fmt.Errorf(".npy element %d is %v", i, t.F[i])
		}
	}
	return t, nil
}
