package tensorstore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"flag"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "regenerate the files under testdata/")

const testdataDir = "../testdata/mlp"

func seq(n int, f func(i int) int64) []int64 {
	v := make([]int64, n)
	for i := range v {
		v[i] = f(i)
	}
	return v
}

// mlpArrays is the tiny quantized MLP of testdata/mlp: deterministic from a fixed PCG seed.
func mlpArrays() (model, input []Array) {
	r := rand.New(rand.NewPCG(2026, 11))
	i8 := func(int) int64 { return int64(r.IntN(256) - 128) }
	model = []Array{
		{Name: "fc1.w", DType: "I8", Shape: []int{16, 12}, Values: seq(16*12, i8)},
		{Name: "fc1.b", DType: "I32", Shape: []int{16}, Values: seq(16, func(int) int64 { return int64(r.IntN(20001) - 10000) })},
		{Name: "fc2.w", DType: "I8", Shape: []int{10, 16}, Values: seq(10*16, i8)},
	}
	input = []Array{{Name: "x", DType: "I8", Shape: []int{3, 12}, Values: seq(3*12, i8)}}
	return model, input
}

// TestGenerateTestdata writes testdata/mlp (with -update) or checks that the files there are
// what the generator makes (golden files).
func TestGenerateTestdata(t *testing.T) {
	model, input := mlpArrays()
	files := map[string]func() ([]byte, error){
		"model.safetensors": func() ([]byte, error) {
			return EncodeSafetensors(model, map[string]string{"format": "streamprove-test", "model": "mlp 12-16-10"})
		},
		"input.safetensors": func() ([]byte, error) { return EncodeSafetensors(input, nil) },
		"x.npy":             func() ([]byte, error) { return EncodeNPY(input[0]) },
	}
	for name, gen := range files {
		want, err := gen()
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(testdataDir, name)
		if *update {
			if err := os.MkdirAll(testdataDir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test ./tensorstore -run TestGenerateTestdata -update)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from the generator's output (run with -update if the change is intended)", path)
		}
	}
}

func TestImportTestdata(t *testing.T) {
	s := openTemp(t)
	model, input := mlpArrays()
	infos, err := ImportSafetensors(s, filepath.Join(testdataDir, "model.safetensors"), nil, WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(infos) != 3 {
		t.Fatalf("imported %d tensors", len(infos))
	}
	for _, a := range model {
		tn, err := s.Tensor(a.Name)
		if err != nil {
			t.Fatal(err)
		}
		checkInts(t, tn, a.Values)
		tn.Close()
	}
	if _, err := ImportSafetensors(s, filepath.Join(testdataDir, "input.safetensors"), map[string]string{"x": "input"}, WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := ImportNPY(s, filepath.Join(testdataDir, "x.npy"), "x_npy", WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"input", "x_npy"} {
		tn, err := s.Tensor(name)
		if err != nil {
			t.Fatal(err)
		}
		if in := tn.Info(); in.DType != Int8 || len(in.Shape) != 2 || in.Shape[0] != 3 || in.Shape[1] != 12 {
			t.Fatalf("%s: %+v", name, in)
		}
		checkInts(t, tn, input[0].Values)
		tn.Close()
	}
	// importing again without Replace fails before writing anything
	if _, err := ImportSafetensors(s, filepath.Join(testdataDir, "model.safetensors"), nil, WriteOptions{}); !errors.Is(err, ErrExists) {
		t.Fatalf("second import: %v", err)
	}
}

func TestImportDTypes(t *testing.T) {
	s := openTemp(t)
	dir := t.TempDir()
	arrays := []Array{
		{Name: "i8", DType: "I8", Shape: []int{2, 3}, Values: []int64{-128, 127, 0, -1, 5, 6}},
		{Name: "u8", DType: "U8", Shape: []int{3}, Values: []int64{0, 255, 128}},
		{Name: "i16", DType: "I16", Shape: []int{2}, Values: []int64{-32768, 32767}},
		{Name: "i32", DType: "I32", Shape: []int{1}, Values: []int64{-1 << 31}},
		{Name: "i64", DType: "I64", Shape: []int{2}, Values: []int64{-1 << 63, 1<<63 - 1}},
		{Name: "scalar", DType: "I32", Shape: []int{}, Values: []int64{42}},
	}
	want := map[string]DType{"i8": Int8, "u8": Int16, "i16": Int16, "i32": Int32, "i64": Int64, "scalar": Int32}
	st := filepath.Join(dir, "a.safetensors")
	if err := WriteSafetensors(st, arrays, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := ImportSafetensors(s, st, nil, WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, a := range arrays {
		tn, err := s.Tensor(a.Name)
		if err != nil {
			t.Fatal(err)
		}
		if tn.Info().DType != want[a.Name] {
			t.Fatalf("%s stored as %v", a.Name, tn.Info().DType)
		}
		checkInts(t, tn, a.Values)
		tn.Close()

		np := filepath.Join(dir, a.Name+".npy")
		if err := WriteNPY(np, a); err != nil {
			t.Fatal(err)
		}
		if _, err := ImportNPY(s, np, "npy_"+a.Name, WriteOptions{}); err != nil {
			t.Fatal(err)
		}
		tn, _ = s.Tensor("npy_" + a.Name)
		checkInts(t, tn, a.Values)
		tn.Close()
	}
}

func TestImportRejects(t *testing.T) {
	s := openTemp(t)
	dir := t.TempDir()
	good, _ := EncodeSafetensors([]Array{{Name: "w", DType: "I8", Shape: []int{4}, Values: []int64{1, 2, 3, 4}}}, nil)
	withHeader := func(h string, data int) []byte {
		b := binary.LittleEndian.AppendUint64(nil, uint64(len(h)))
		return append(append(b, h...), make([]byte, data)...)
	}
	cases := map[string]struct {
		b    []byte
		want string
	}{
		"empty":          {nil, "too short"},
		"header too big": {binary.LittleEndian.AppendUint64(nil, 1<<40), "does not fit"},
		"header > file":  {append(binary.LittleEndian.AppendUint64(nil, 100), "{}"...), "does not fit"},
		"not json":       {withHeader("[1,2]", 0), "not a JSON object"},
		"float": {withHeader(`{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, 8),
			"quantized"},
		"bf16": {withHeader(`{"w":{"dtype":"BF16","shape":[2],"data_offsets":[0,4]}}`, 4), "quantized"},
		"bool": {withHeader(`{"w":{"dtype":"BOOL","shape":[2],"data_offsets":[0,2]}}`, 2), "unsupported dtype"},
		"lying length": {withHeader(`{"w":{"dtype":"I32","shape":[3],"data_offsets":[0,8]}}`, 8),
			"data bytes"},
		"offset out of file": {withHeader(`{"w":{"dtype":"I8","shape":[8],"data_offsets":[4,12]}}`, 8),
			"outside"},
		"reversed offsets": {withHeader(`{"w":{"dtype":"I8","shape":[0],"data_offsets":[4,0]}}`, 8), ""},
		"overflow shape": {withHeader(`{"w":{"dtype":"I8","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,8]}}`, 8),
			"2^57"},
		"negative dim": {withHeader(`{"w":{"dtype":"I8","shape":[-1],"data_offsets":[0,0]}}`, 0), "dimension"},
		"huge number":  {withHeader(`{"w":{"dtype":"I8","shape":[1e30],"data_offsets":[0,0]}}`, 0), ""},
	}
	for name, c := range cases {
		p := filepath.Join(dir, "bad.safetensors")
		os.WriteFile(p, c.b, 0o644)
		_, err := ImportSafetensors(s, p, nil, WriteOptions{Replace: true})
		if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v (want ErrFormat mentioning %q)", name, err, c.want)
		}
	}
	p := filepath.Join(dir, "good.safetensors")
	os.WriteFile(p, good, 0o644)
	if _, err := ImportSafetensors(s, p, map[string]string{"nope": "x"}, WriteOptions{}); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing key: %v", err)
	}
	if l, _ := s.List(); len(l) != 0 {
		t.Fatalf("rejected imports left tensors: %v", l)
	}

	npy := func(header string, data int) []byte {
		b := append([]byte(npyMagic), 1, 0)
		b = binary.LittleEndian.AppendUint16(b, uint16(len(header)))
		return append(append(b, header...), make([]byte, data)...)
	}
	npyCases := map[string]struct {
		b    []byte
		want string
	}{
		"magic":   {[]byte("NUMPY\x01\x00\x00\x00\x00\x00"), "magic"},
		"version": {append([]byte(npyMagic), 9, 0, 0, 0), "version"},
		"float":   {npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", 8), "quantized"},
		"big endian": {npy("{'descr': '>i4', 'fortran_order': False, 'shape': (2,), }", 8),
			"not supported"},
		"fortran":       {npy("{'descr': '<i4', 'fortran_order': True, 'shape': (2,), }", 8), "fortran"},
		"short data":    {npy("{'descr': '<i4', 'fortran_order': False, 'shape': (3,), }", 8), "data bytes"},
		"long data":     {npy("{'descr': '<i4', 'fortran_order': False, 'shape': (1,), }", 8), "data bytes"},
		"header > file": {append(append([]byte(npyMagic), 1, 0), 0xff, 0xff, '{'), "does not fit"},
		"garbage dict":  {npy("{'descr' '<i4'}", 0), "header"},
		"overflow": {npy("{'descr': '|i1', 'fortran_order': False, 'shape': (4294967296, 4294967296, 4294967296), }", 0),
			"2^57"},
		"no shape": {npy("{'descr': '|i1', 'fortran_order': False}", 0), "shape"},
	}
	for name, c := range npyCases {
		p := filepath.Join(dir, "bad.npy")
		os.WriteFile(p, c.b, 0o644)
		_, err := ImportNPY(s, p, "x", WriteOptions{})
		if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("npy %s: %v (want ErrFormat mentioning %q)", name, err, c.want)
		}
	}
}

func TestParsePyDict(t *testing.T) {
	d, err := parsePyDict("{'descr': '<i2', \"fortran_order\": False, 'shape': (3L, 4), }   \n")
	if err != nil {
		t.Fatal(err)
	}
	if d["descr"] != "<i2" || d["fortran_order"] != false {
		t.Fatalf("%v", d)
	}
	if s := d["shape"].([]int64); len(s) != 2 || s[0] != 3 || s[1] != 4 {
		t.Fatalf("shape %v", s)
	}
	d, err = parsePyDict("{'shape': ()}")
	if err != nil || len(d["shape"].([]int64)) != 0 {
		t.Fatalf("scalar shape: %v %v", d, err)
	}
}
