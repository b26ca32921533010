package tensorstore

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
)

// Array is a small integer array held in RAM, for writing test inputs and testdata files.
// DType is a safetensors dtype name: "I8", "U8", "I16", "I32" or "I64". Raw, when set, is
// written as the data instead of Values (to write malformed or float files in tests).
type Array struct {
	Name   string
	DType  string
	Shape  []int
	Values []int64
	Raw    []byte
}

func (a *Array) bytes() ([]byte, error) {
	if a.Raw != nil {
		return a.Raw, nil
	}
	k, ok := stKinds[a.DType]
	if !ok {
		return nil, fmt.Errorf("array %q: dtype %q: %w", a.Name, a.DType, ErrFormat)
	}
	n := 1
	for _, d := range a.Shape {
		n *= d
	}
	if n != len(a.Values) {
		return nil, fmt.Errorf("array %q: %d values for shape %v: %w", a.Name, len(a.Values), a.Shape, ErrFormat)
	}
	b := make([]byte, n*k.size)
	for i, v := range a.Values {
		switch k.size {
		case 1:
			b[i] = byte(v)
		case 2:
			binary.LittleEndian.PutUint16(b[2*i:], uint16(v))
		case 4:
			binary.LittleEndian.PutUint32(b[4*i:], uint32(v))
		default:
			binary.LittleEndian.PutUint64(b[8*i:], uint64(v))
		}
	}
	return b, nil
}

// EncodeSafetensors returns a safetensors file holding arrays (in name order), with optional
// __metadata__. The output is deterministic.
func EncodeSafetensors(arrays []Array, metadata map[string]string) ([]byte, error) {
	sorted := append([]Array(nil), arrays...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	type entry struct {
		DType       string   `json:"dtype"`
		Shape       []int    `json:"shape"`
		DataOffsets [2]int64 `json:"data_offsets"`
	}
	hdr := map[string]any{}
	if metadata != nil {
		hdr["__metadata__"] = metadata
	}
	var data []byte
	for i := range sorted {
		b, err := sorted[i].bytes()
		if err != nil {
			return nil, err
		}
		shape := sorted[i].Shape
		if shape == nil {
			shape = []int{}
		}
		hdr[sorted[i].Name] = entry{sorted[i].DType, shape, [2]int64{int64(len(data)), int64(len(data) + len(b))}}
		data = append(data, b...)
	}
	h, err := json.Marshal(hdr) // map keys are sorted: deterministic
	if err != nil {
		return nil, err
	}
	for len(h)%8 != 0 { // the reference implementation pads the header with spaces
		h = append(h, ' ')
	}
	out := binary.LittleEndian.AppendUint64(nil, uint64(len(h)))
	out = append(out, h...)
	return append(out, data...), nil
}

// WriteSafetensors writes arrays to a safetensors file.
func WriteSafetensors(path string, arrays []Array, metadata map[string]string) error {
	b, err := EncodeSafetensors(arrays, metadata)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

var npyDescr = map[string]string{"I8": "|i1", "U8": "|u1", "I16": "<i2", "I32": "<i4", "I64": "<i8"}

// EncodeNPY returns a version 1.0 .npy file holding a (C order). a.DType may also be a raw
// numpy descr such as "<f4" when a.Raw is set.
func EncodeNPY(a Array) ([]byte, error) {
	b, err := a.bytes()
	if err != nil {
		return nil, err
	}
	descr, ok := npyDescr[a.DType]
	if !ok {
		descr = a.DType
	}
	dims := make([]string, len(a.Shape))
	for i, d := range a.Shape {
		dims[i] = fmt.Sprint(d)
	}
	shape := "(" + strings.Join(dims, ", ")
	if len(dims) == 1 {
		shape += ","
	}
	shape += ")"
	h := fmt.Sprintf("{'descr': '%s', 'fortran_order': False, 'shape': %s, }", descr, shape)
	// numpy pads the header with spaces and a newline so the data starts on a 64-byte boundary
	for (10+len(h)+1)%64 != 0 {
		h += " "
	}
	h += "\n"
	out := append([]byte(npyMagic), 1, 0)
	out = binary.LittleEndian.AppendUint16(out, uint16(len(h)))
	out = append(out, h...)
	return append(out, b...), nil
}

// WriteNPY writes a to a .npy file.
func WriteNPY(path string, a Array) error {
	b, err := EncodeNPY(a)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}
