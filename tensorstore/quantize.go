package tensorstore

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
)

// Quantizer maps a quantized model's float input to its integers: round_half_even(v / Scale)
// saturated to DType's range (ONNX QuantizeLinear with a zero point of 0). When Scale is a
// float32 value (every scale an ONNX model stores is), v is taken as a float32 and the quotient
// is the float32 one, as ONNX Runtime's QuantizeLinear computes it: on inputs that sit on a
// rounding tie a float64 quotient can round the other way. Other scales (the max-abs scales the
// importer calibrates) divide in float64.
type Quantizer struct {
	Scale float64
	DType DType
}

// Quantize returns the integer of one float value.
func (q Quantizer) Quantize(v float64) (int64, error) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("value %v is not a finite number", v)
	}
	lo, hi := q.DType.Bounds()
	var r float64
	if s32 := float32(q.Scale); float64(s32) == q.Scale {
		r = math.RoundToEven(float64(float32(v) / s32))
	} else {
		r = math.RoundToEven(v / q.Scale)
	}
	return int64(max(float64(lo), min(float64(hi), r))), nil
}

// ImportNPYInput imports a model input from a .npy file as tensor name: integer arrays as
// ImportNPY does, and, when q is not nil, float32/float64 arrays quantized by q as they stream
// in (a float array without q is refused, as by ImportNPY). The store dtype of a float array is
// q.DType.
func ImportNPYInput(s *Store, path, name string, q *Quantizer, opt WriteOptions) (Info, error) {
	if q != nil && !(q.Scale > 0 && !math.IsInf(q.Scale, 0) && q.DType.IsInt()) {
		return Info{}, fmt.Errorf("import %s: quantizer scale %v dtype %v", path, q.Scale, q.DType)
	}
	f, err := os.Open(path)
	if err != nil {
		return Info{}, fmt.Errorf("import: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return Info{}, fmt.Errorf("import: %w", err)
	}
	e, err := parseNPYKinds(f, st.Size(), path, q != nil)
	if err != nil {
		return Info{}, err
	}
	if !opt.Replace {
		if _, _, err := s.lookup(name); err == nil {
			return Info{}, fmt.Errorf("import %s: tensor %q: %w", path, name, ErrExists)
		}
	}
	if !e.kind.float {
		return importData(s, f, path, e, name, opt)
	}
	w, err := s.Create(name, e.shape, q.DType, opt)
	if err != nil {
		return Info{}, err
	}
	defer w.Abort()
	sz := e.kind.size
	per := int(min(int64(importBufBytes/sz), e.n))
	buf := make([]byte, per*sz)
	ints := make([]int64, per)
	for done := int64(0); done < e.n; {
		k := int(min(int64(per), e.n-done))
		b := buf[:k*sz]
		if _, err := f.ReadAt(b, e.off+done*int64(sz)); err != nil {
			return Info{}, fmt.Errorf("%s: reading element %d: %w", path, done, err)
		}
		for i := range k {
			var v float64
			if sz == 4 {
				v = float64(math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:])))
			} else {
				v = math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:]))
			}
			if ints[i], err = q.Quantize(v); err != nil {
				return Info{}, fmt.Errorf("%s: element %d: %w: %w", path, done+int64(i), err, ErrFormat)
			}
		}
		if err := w.WriteInt64s(ints[:k]); err != nil {
			return Info{}, err
		}
		done += int64(k)
	}
	return w.Commit()
}
