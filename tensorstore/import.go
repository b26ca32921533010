package tensorstore

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
)

// Import reads integer tensors from safetensors and .npy files into the store, streaming the
// data through a bounded buffer. Every length and offset in a file is checked against the file's
// size before anything is allocated or read: a lying header is an ErrFormat error, never a
// panic or an allocation larger than the file.

const (
	maxHeaderBytes = 100 << 20 // safetensors caps its JSON header at 100 MB too
	importBufBytes = 1 << 20
	maxRank        = 64
)

// srcKind is an integer element type of an input file.
type srcKind struct {
	size     int
	unsigned bool
	store    DType // the store dtype it imports as
	float    bool  // IEEE little-endian float (only through ImportNPYInput with a Quantizer)
}

// safetensors dtypes we import. U8 is stored as Int16, the narrowest signed dtype that holds
// 0..255 (the field sees the same integers either way).
var stKinds = map[string]srcKind{
	"I8":  {size: 1, store: Int8},
	"U8":  {size: 1, unsigned: true, store: Int16},
	"I16": {size: 2, store: Int16},
	"I32": {size: 4, store: Int32},
	"I64": {size: 8, store: Int64},
}

var floatDTypes = map[string]bool{"F16": true, "BF16": true, "F32": true, "F64": true,
	"F8_E4M3": true, "F8_E5M2": true, "f2": true, "f4": true, "f8": true}

func kindError(file, key, dt string) error {
	if floatDTypes[dt] {
		return fmt.Errorf("%s: tensor %q has floating-point dtype %s: streamprove proves quantized models; "+
			"export integer (int8/int16/int32) weights and inputs: %w", file, key, dt, ErrFormat)
	}
	return fmt.Errorf("%s: tensor %q has unsupported dtype %q (want I8, U8, I16, I32 or I64): %w", file, key, dt, ErrFormat)
}

// stEntry is one validated tensor of a safetensors file.
type stEntry struct {
	key   string
	kind  srcKind
	shape []int
	off   int64 // absolute file offset of the data
	n     int64 // elements
}

// parseSafetensors validates a safetensors header against the file size.
func parseSafetensors(r io.ReaderAt, size int64, file string) ([]stEntry, error) {
	var lb [8]byte
	if size < 8 {
		return nil, fmt.Errorf("%s: %d bytes is too short for a safetensors file: %w", file, size, ErrFormat)
	}
	if _, err := r.ReadAt(lb[:], 0); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	hl := binary.LittleEndian.Uint64(lb[:])
	if hl > uint64(size-8) || hl > maxHeaderBytes {
		return nil, fmt.Errorf("%s: safetensors header of %d bytes does not fit a %d-byte file: %w", file, hl, size, ErrFormat)
	}
	hdr := make([]byte, hl)
	if _, err := r.ReadAt(hdr, 8); err != nil {
		return nil, fmt.Errorf("%s: header: %w", file, err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(hdr, &raw); err != nil {
		return nil, fmt.Errorf("%s: safetensors header is not a JSON object: %v: %w", file, err, ErrFormat)
	}
	base := 8 + int64(hl)
	dataLen := size - base
	var out []stEntry
	for key, msg := range raw {
		if key == "__metadata__" {
			continue
		}
		var e struct {
			DType       string  `json:"dtype"`
			Shape       []int64 `json:"shape"`
			DataOffsets []int64 `json:"data_offsets"`
		}
		if err := json.Unmarshal(msg, &e); err != nil {
			return nil, fmt.Errorf("%s: tensor %q: %v: %w", file, key, err, ErrFormat)
		}
		kind, ok := stKinds[e.DType]
		if !ok {
			return nil, kindError(file, key, e.DType)
		}
		shape, n, err := checkShape(e.Shape)
		if err != nil {
			return nil, fmt.Errorf("%s: tensor %q: %w", file, key, err)
		}
		if len(e.DataOffsets) != 2 {
			return nil, fmt.Errorf("%s: tensor %q: data_offsets must be [begin, end]: %w", file, key, ErrFormat)
		}
		b, end := e.DataOffsets[0], e.DataOffsets[1]
		if b < 0 || end < b || end > dataLen {
			return nil, fmt.Errorf("%s: tensor %q: data_offsets [%d, %d] outside the %d data bytes: %w", file, key, b, end, dataLen, ErrFormat)
		}
		if end-b != n*int64(kind.size) {
			return nil, fmt.Errorf("%s: tensor %q: %d data bytes for shape %v of %s (want %d): %w",
				file, key, end-b, shape, e.DType, n*int64(kind.size), ErrFormat)
		}
		out = append(out, stEntry{key: key, kind: kind, shape: shape, off: base + b, n: n})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].key < out[j].key })
	return out, nil
}

// checkShape converts a file's shape to ints, rejecting empty, negative and overflowing ones.
func checkShape(s []int64) ([]int, int64, error) {
	if len(s) > maxRank {
		return nil, 0, fmt.Errorf("shape of rank %d (at most %d): %w", len(s), maxRank, ErrFormat)
	}
	shape := make([]int, len(s))
	for k, d := range s {
		if d <= 0 || d > maxLen {
			return nil, 0, fmt.Errorf("shape %v: dimension %d is %d (empty and negative dimensions are not supported): %w", s, k, d, ErrFormat)
		}
		shape[k] = int(d)
	}
	n, _, _, err := shapeLens(shape)
	return shape, n, err
}

// ImportSafetensors imports the integer tensors of a safetensors file. names maps keys in the
// file to tensor names in the store (nil: every tensor under its own key). The whole header is
// validated, and every target name checked, before any tensor is written; each tensor is then
// committed on its own.
func ImportSafetensors(s *Store, path string, names map[string]string, opt WriteOptions) ([]Info, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	entries, err := parseSafetensors(f, st.Size(), path)
	if err != nil {
		return nil, err
	}
	return importEntries(s, f, path, entries, names, opt)
}

func importEntries(s *Store, r io.ReaderAt, file string, entries []stEntry, names map[string]string, opt WriteOptions) ([]Info, error) {
	var sel []stEntry
	var targets []string
	if names == nil {
		sel = entries
		for _, e := range entries {
			targets = append(targets, e.key)
		}
	} else {
		byKey := map[string]stEntry{}
		for _, e := range entries {
			byKey[e.key] = e
		}
		keys := make([]string, 0, len(names))
		for k := range names {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			e, ok := byKey[k]
			if !ok {
				return nil, fmt.Errorf("%s: no tensor %q in the file: %w", file, k, ErrNotFound)
			}
			sel = append(sel, e)
			targets = append(targets, names[k])
		}
	}
	if !opt.Replace {
		for _, name := range targets {
			if _, _, err := s.lookup(name); err == nil {
				return nil, fmt.Errorf("import %s: tensor %q: %w", file, name, ErrExists)
			}
		}
	}
	out := make([]Info, 0, len(sel))
	for i, e := range sel {
		in, err := importData(s, r, file, e, targets[i], opt)
		if err != nil {
			return out, err
		}
		out = append(out, in)
	}
	return out, nil
}

// importData streams one tensor's little-endian data from r into a new tensor.
func importData(s *Store, r io.ReaderAt, file string, e stEntry, name string, opt WriteOptions) (Info, error) {
	w, err := s.Create(name, e.shape, e.kind.store, opt)
	if err != nil {
		return Info{}, err
	}
	defer w.Abort()
	sz := e.kind.size
	per := importBufBytes / sz
	if int64(per) > e.n {
		per = int(e.n)
	}
	buf := make([]byte, per*sz)
	var ints []int64
	if !(sz == 1 && !e.kind.unsigned) {
		ints = make([]int64, per)
	}
	for done := int64(0); done < e.n; {
		k := int(min(int64(per), e.n-done))
		b := buf[:k*sz]
		if _, err := r.ReadAt(b, e.off+done*int64(sz)); err != nil {
			return Info{}, fmt.Errorf("%s: tensor %q: reading element %d: %w", file, e.key, done, err)
		}
		if ints == nil {
			err = w.WriteInt8s(bytesAsInt8(b))
		} else {
			for i := range k {
				switch {
				case sz == 1:
					ints[i] = int64(b[i]) // U8
				case sz == 2:
					ints[i] = int64(int16(binary.LittleEndian.Uint16(b[2*i:])))
				case sz == 4:
					ints[i] = int64(int32(binary.LittleEndian.Uint32(b[4*i:])))
				default:
					ints[i] = int64(binary.LittleEndian.Uint64(b[8*i:]))
				}
			}
			err = w.WriteInt64s(ints[:k])
		}
		if err != nil {
			return Info{}, err
		}
		done += int64(k)
	}
	return w.Commit()
}

// npyKinds maps .npy descr strings to element kinds ('|' and '<' are the same for one byte).
var npyKinds = map[string]srcKind{
	"|i1": {size: 1, store: Int8}, "<i1": {size: 1, store: Int8}, "i1": {size: 1, store: Int8},
	"|u1": {size: 1, unsigned: true, store: Int16}, "<u1": {size: 1, unsigned: true, store: Int16}, "u1": {size: 1, unsigned: true, store: Int16},
	"<i2": {size: 2, store: Int16}, "<i4": {size: 4, store: Int32}, "<i8": {size: 8, store: Int64},
}

// npyFloatKinds are the float dtypes a model's float input may come in (quantized on import).
var npyFloatKinds = map[string]srcKind{"<f4": {size: 4, float: true}, "<f8": {size: 8, float: true}}

const npyMagic = "\x93NUMPY"

// parseNPY validates a .npy header against the file size and returns the data's entry.
func parseNPY(r io.ReaderAt, size int64, file string) (stEntry, error) {
	return parseNPYKinds(r, size, file, false)
}

// parseNPYKinds is parseNPY that also accepts little-endian float32/float64 when floats is set.
func parseNPYKinds(r io.ReaderAt, size int64, file string, floats bool) (stEntry, error) {
	var pre [12]byte
	if size < 10 {
		return stEntry{}, fmt.Errorf("%s: %d bytes is too short for a .npy file: %w", file, size, ErrFormat)
	}
	n := min(size, 12)
	if _, err := r.ReadAt(pre[:n], 0); err != nil {
		return stEntry{}, fmt.Errorf("%s: %w", file, err)
	}
	if string(pre[:6]) != npyMagic {
		return stEntry{}, fmt.Errorf("%s: not a .npy file (bad magic): %w", file, ErrFormat)
	}
	var hl, start int64
	switch pre[6] {
	case 1:
		hl, start = int64(binary.LittleEndian.Uint16(pre[8:])), 10
	case 2, 3:
		if size < 12 {
			return stEntry{}, fmt.Errorf("%s: truncated .npy header: %w", file, ErrFormat)
		}
		hl, start = int64(binary.LittleEndian.Uint32(pre[8:])), 12
	default:
		return stEntry{}, fmt.Errorf("%s: .npy version %d.%d is not supported: %w", file, pre[6], pre[7], ErrFormat)
	}
	if hl > size-start || hl > maxHeaderBytes {
		return stEntry{}, fmt.Errorf("%s: .npy header of %d bytes does not fit a %d-byte file: %w", file, hl, size, ErrFormat)
	}
	hdr := make([]byte, hl)
	if _, err := r.ReadAt(hdr, start); err != nil {
		return stEntry{}, fmt.Errorf("%s: header: %w", file, err)
	}
	d, err := parsePyDict(string(hdr))
	if err != nil {
		return stEntry{}, fmt.Errorf("%s: .npy header: %v: %w", file, err, ErrFormat)
	}
	descr, ok := d["descr"].(string)
	if !ok {
		return stEntry{}, fmt.Errorf("%s: .npy header has no descr: %w", file, ErrFormat)
	}
	kind, ok := npyKinds[descr]
	if fk, isFloat := npyFloatKinds[descr]; isFloat && floats {
		kind, ok = fk, true
	}
	if !ok {
		if len(descr) >= 2 && strings.ContainsAny(descr[:1], "<>|=") && descr[1] == 'f' {
			return stEntry{}, kindError(file, "array", "f"+descr[2:])
		}
		return stEntry{}, fmt.Errorf("%s: .npy dtype %q is not supported (want little-endian i1, u1, i2, i4 or i8): %w", file, descr, ErrFormat)
	}
	if fo, ok := d["fortran_order"].(bool); !ok || fo {
		return stEntry{}, fmt.Errorf("%s: .npy fortran_order must be False: %w", file, ErrFormat)
	}
	dims, ok := d["shape"].([]int64)
	if !ok {
		return stEntry{}, fmt.Errorf("%s: .npy header has no shape tuple: %w", file, ErrFormat)
	}
	shape, elems, err := checkShape(dims)
	if err != nil {
		return stEntry{}, fmt.Errorf("%s: %w", file, err)
	}
	off := start + hl
	if want := elems * int64(kind.size); size-off != want {
		return stEntry{}, fmt.Errorf("%s: %d data bytes for shape %v of %s (want %d): %w", file, size-off, shape, descr, want, ErrFormat)
	}
	return stEntry{key: "array", kind: kind, shape: shape, off: off, n: elems}, nil
}

// ImportNPY imports a .npy array (integer dtypes, C order, .npy versions 1–3) as tensor name.
func ImportNPY(s *Store, path, name string, opt WriteOptions) (Info, error) {
	f, err := os.Open(path)
	if err != nil {
		return Info{}, fmt.Errorf("import: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return Info{}, fmt.Errorf("import: %w", err)
	}
	e, err := parseNPY(f, st.Size(), path)
	if err != nil {
		return Info{}, err
	}
	if !opt.Replace {
		if _, _, err := s.lookup(name); err == nil {
			return Info{}, fmt.Errorf("import %s: tensor %q: %w", path, name, ErrExists)
		}
	}
	return importData(s, f, path, e, name, opt)
}

// parsePyDict parses the Python dict literal of a .npy header: string keys; values that are
// strings, True/False, or tuples of integers.
func parsePyDict(s string) (map[string]any, error) {
	p := &pyParser{s: s}
	p.skip()
	if !p.eat('{') {
		return nil, fmt.Errorf("want '{'")
	}
	out := map[string]any{}
	for {
		p.skip()
		if p.eat('}') {
			return out, nil
		}
		k, err := p.str()
		if err != nil {
			return nil, err
		}
		p.skip()
		if !p.eat(':') {
			return nil, fmt.Errorf("want ':' after %q", k)
		}
		p.skip()
		v, err := p.value()
		if err != nil {
			return nil, fmt.Errorf("%q: %v", k, err)
		}
		out[k] = v
		p.skip()
		if !p.eat(',') {
			p.skip()
			if !p.eat('}') {
				return nil, fmt.Errorf("want ',' or '}' at byte %d", p.i)
			}
			return out, nil
		}
	}
}

type pyParser struct {
	s string
	i int
}

func (p *pyParser) skip() {
	for p.i < len(p.s) && strings.IndexByte(" \t\n\r", p.s[p.i]) >= 0 {
		p.i++
	}
}

func (p *pyParser) eat(c byte) bool {
	if p.i < len(p.s) && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

func (p *pyParser) str() (string, error) {
	if p.i >= len(p.s) || (p.s[p.i] != '\'' && p.s[p.i] != '"') {
		return "", fmt.Errorf("want a string at byte %d", p.i)
	}
	q := p.s[p.i]
	j := strings.IndexByte(p.s[p.i+1:], q)
	if j < 0 {
		return "", fmt.Errorf("unterminated string")
	}
	v := p.s[p.i+1 : p.i+1+j]
	p.i += j + 2
	return v, nil
}

func (p *pyParser) value() (any, error) {
	if p.i >= len(p.s) {
		return nil, fmt.Errorf("missing value")
	}
	switch c := p.s[p.i]; {
	case c == '\'' || c == '"':
		return p.str()
	case strings.HasPrefix(p.s[p.i:], "True"):
		p.i += 4
		return true, nil
	case strings.HasPrefix(p.s[p.i:], "False"):
		p.i += 5
		return false, nil
	case c == '(':
		p.i++
		dims := []int64{}
		for {
			p.skip()
			if p.eat(')') {
				return dims, nil
			}
			j := p.i
			for j < len(p.s) && p.s[j] >= '0' && p.s[j] <= '9' {
				j++
			}
			v, err := strconv.ParseInt(p.s[p.i:j], 10, 64)
			if err != nil {
				return nil, fmt.Errorf("bad dimension at byte %d", p.i)
			}
			dims = append(dims, v)
			p.i = j
			p.eat('L') // Python 2 longs
			p.skip()
			if !p.eat(',') {
				p.skip()
				if !p.eat(')') {
					return nil, fmt.Errorf("want ',' or ')' at byte %d", p.i)
				}
				return dims, nil
			}
		}
	}
	return nil, fmt.Errorf("unsupported value at byte %d", p.i)
}
