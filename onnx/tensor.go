package onnx

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/streamprove/streamprove/onnx/internal/onnxpb"
)

// DType is an ONNX element type (TensorProto.DataType).
type DType int32

// The element types the importer reads.
const (
	Float32 DType = DType(onnxpb.TensorProto_FLOAT)
	Uint8   DType = DType(onnxpb.TensorProto_UINT8)
	Int8    DType = DType(onnxpb.TensorProto_INT8)
	Int32   DType = DType(onnxpb.TensorProto_INT32)
	Int64   DType = DType(onnxpb.TensorProto_INT64)
	Bool    DType = DType(onnxpb.TensorProto_BOOL)
	Float64 DType = DType(onnxpb.TensorProto_DOUBLE)
)

func (d DType) String() string {
	if n, ok := onnxpb.TensorProto_DataType_name[int32(d)]; ok {
		return n
	}
	return fmt.Sprintf("dtype(%d)", int32(d))
}

func (d DType) isFloat() bool { return d == Float32 || d == Float64 }

func (d DType) size() int {
	switch d {
	case Uint8, Int8, Bool:
		return 1
	case Float32, Int32:
		return 4
	case Int64, Float64:
		return 8
	}
	return 0
}

// Tensor is a constant held in RAM: an initializer or a folded value. Float tensors keep their
// values in F (float32 values widened exactly), integer and bool tensors in I.
type Tensor struct {
	DType DType
	Shape []int
	F     []float64
	I     []int64
}

// Len is the number of elements.
func (t *Tensor) Len() int { return numel(t.Shape) }

func numel(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// MaxTensorElements bounds one constant tensor: initializers are read into RAM, and a model
// whose weights do not fit in 2^28 elements (a GiB of float32) is beyond what the importer holds.
const MaxTensorElements = 1 << 28

// checkDims validates an ONNX shape and returns it as ints, refusing negative dimensions and
// element counts beyond limit before anything is allocated.
func checkDims(dims []int64, limit int64) ([]int, error) {
	if len(dims) > maxRank {
		return nil, fmt.Errorf("rank %d is above %d", len(dims), maxRank)
	}
	shape := make([]int, len(dims))
	n := int64(1)
	for i, d := range dims {
		if d < 0 {
			return nil, fmt.Errorf("dimension %d is %d", i, d)
		}
		if d > limit {
			return nil, fmt.Errorf("dimension %d is %d, above %d", i, d, limit)
		}
		n *= d
		if n > limit {
			return nil, fmt.Errorf("shape %v has more than %d elements", dims, limit)
		}
		shape[i] = int(d)
	}
	return shape, nil
}

// maxRank bounds tensor ranks: no model the importer supports goes beyond rank 8.
const maxRank = 8

// tensorFromProto converts an initializer or a Constant's value. The element count implied by
// dims is checked against MaxTensorElements and against the bytes actually present before the
// values are allocated, so a hostile dims field cannot make the importer allocate.
func tensorFromProto(p *onnxpb.TensorProto) (*Tensor, error) {
	if p.GetDataLocation() == onnxpb.TensorProto_EXTERNAL {
		return nil, fmt.Errorf("external data is not supported (re-export with the weights inside the .onnx file)")
	}
	dt := DType(p.GetDataType())
	if dt.size() == 0 {
		return nil, fmt.Errorf("element type %v is not supported (want FLOAT, DOUBLE, INT8, UINT8, INT32, INT64 or BOOL)", dt)
	}
	shape, err := checkDims(p.GetDims(), MaxTensorElements)
	if err != nil {
		return nil, err
	}
	n := numel(shape)
	t := &Tensor{DType: dt, Shape: shape}
	raw := p.GetRawData()
	// Exactly one source of values, holding exactly n of them.
	have := 0
	switch {
	case raw != nil:
		if len(raw) != n*dt.size() {
			return nil, fmt.Errorf("raw_data holds %d bytes, shape %v of %v needs %d", len(raw), shape, dt, n*dt.size())
		}
		have = n
	case dt == Float32:
		have = len(p.GetFloatData())
	case dt == Float64:
		have = len(p.GetDoubleData())
	case dt == Int64:
		have = len(p.GetInt64Data())
	default:
		have = len(p.GetInt32Data())
	}
	if have != n {
		return nil, fmt.Errorf("holds %d values, shape %v needs %d", have, shape, n)
	}
	if dt.isFloat() {
		t.F = make([]float64, n)
	} else {
		t.I = make([]int64, n)
	}
	for i := 0; i < n; i++ {
		if raw != nil {
			switch dt {
			case Float32:
				t.F[i] = float64(math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:])))
			case Float64:
				t.F[i] = math.Float64frombits(binary.LittleEndian.Uint64(raw[8*i:]))
			case Int8:
				t.I[i] = int64(int8(raw[i]))
			case Uint8:
				t.I[i] = int64(raw[i])
			case Bool:
				t.I[i] = int64(raw[i] & 1)
			case Int32:
				t.I[i] = int64(int32(binary.LittleEndian.Uint32(raw[4*i:])))
			case Int64:
				t.I[i] = int64(binary.LittleEndian.Uint64(raw[8*i:]))
			}
			continue
		}
		switch dt {
		case Float32:
			t.F[i] = float64(p.FloatData[i])
		case Float64:
			t.F[i] = p.DoubleData[i]
		case Int64:
			t.I[i] = p.Int64Data[i]
		case Int8:
			t.I[i] = int64(int8(p.Int32Data[i]))
		case Uint8:
			t.I[i] = int64(uint8(p.Int32Data[i]))
		case Bool:
			t.I[i] = int64(p.Int32Data[i] & 1)
		default:
			t.I[i] = int64(p.Int32Data[i])
		}
	}
	if dt.isFloat() {
		for i, v := range t.F {
			// A scalar −inf is the fill value of a mask (Where); only the causal-mask pattern
			// accepts it (transformer.go).
			if math.IsNaN(v) || math.IsInf(v, 1) || (math.IsInf(v, -1) && len(t.F) != 1) {
				return nil, fmt.Errorf("element %d is %v", i, v)
			}
		}
	}
	return t, nil
}
