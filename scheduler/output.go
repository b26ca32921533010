package scheduler

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"

	"github.com/streamprove/streamprove/field"
	"github.com/streamprove/streamprove/gkr"
	"github.com/streamprove/streamprove/tensorstore"
)

// Output is one public output as a person reads it: its shape, every value (signed integers,
// row-major, unpadded) and, for a quantized model's output, the scale that dequantizes it
// (float ≈ Scale · integer, from the graph the verifier checked the proof against).
type Output struct {
	Shape []int
	Scale float64
	// Values are decimal signed integers; a field element beyond int64 is written in full.
	Values []string
}

// Ints returns the values as int64 and false if one does not fit.
func (o *Output) Ints() ([]int64, bool) {
	out := make([]int64, len(o.Values))
	for i, s := range o.Values {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, false
		}
		out[i] = v
	}
	return out, true
}

// Dequantized returns Scale · value for every value (the integers themselves without a scale),
// or false when a value does not fit int64.
func (o *Output) Dequantized() ([]float64, bool) {
	ints, ok := o.Ints()
	if !ok {
		return nil, false
	}
	out := make([]float64, len(ints))
	for i, v := range ints {
		out[i] = float64(v)
		if o.Scale > 0 {
			out[i] *= o.Scale
		}
	}
	return out, true
}

// ArgmaxRows returns, for a 2-D output, the index of the largest value of each row.
func (o *Output) ArgmaxRows() ([]int, bool) {
	ints, ok := o.Ints()
	if !ok || len(o.Shape) != 2 || o.Shape[1] == 0 {
		return nil, false
	}
	out := make([]int, o.Shape[0])
	for r := range out {
		row := ints[r*o.Shape[1] : (r+1)*o.Shape[1]]
		out[r] = slices.Index(row, slices.Max(row))
	}
	return out, true
}

// MarshalJSON writes {"shape": [...], "scale": s, "values": [...], "dequantized": [...]} with
// the values nested by the shape; "scale" and "dequantized" only for a quantized output.
func (o *Output) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(`{"shape":`)
	sh, err := json.Marshal(o.Shape)
	if err != nil {
		return nil, err
	}
	b.Write(sh)
	if o.Scale > 0 {
		b.WriteString(`,"scale":`)
		b.WriteString(strconv.FormatFloat(o.Scale, 'g', -1, 64))
	}
	b.WriteString(`,"values":`)
	nest(&b, o.Shape, len(o.Values), func(i int) string { return o.Values[i] })
	if deq, ok := o.Dequantized(); ok && o.Scale > 0 {
		b.WriteString(`,"dequantized":`)
		nest(&b, o.Shape, len(deq), func(i int) string { return strconv.FormatFloat(deq[i], 'g', 9, 64) })
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// nest writes n values as JSON arrays nested by shape (a flat list when shape does not fit n).
func nest(b *bytes.Buffer, shape []int, n int, val func(int) string) {
	if gkr.Numel(shape) != int64(n) {
		shape = []int{n}
	}
	var rec func(dim, off int) int
	rec = func(dim, off int) int {
		if dim == len(shape) {
			b.WriteString(val(off))
			return off + 1
		}
		b.WriteByte('[')
		for i := 0; i < shape[dim]; i++ {
			if i > 0 {
				b.WriteByte(',')
			}
			off = rec(dim+1, off)
		}
		b.WriteByte(']')
		return off
	}
	rec(0, 0)
}

// UnmarshalJSON reads what MarshalJSON writes (the values flattened again).
func (o *Output) UnmarshalJSON(data []byte) error {
	var raw struct {
		Shape  []int           `json:"shape"`
		Scale  float64         `json:"scale"`
		Values json.RawMessage `json:"values"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&raw); err != nil {
		return err
	}
	var vals any
	dec = json.NewDecoder(bytes.NewReader(raw.Values))
	dec.UseNumber()
	if err := dec.Decode(&vals); err != nil {
		return err
	}
	o.Shape, o.Scale, o.Values = raw.Shape, raw.Scale, nil
	var flat func(v any) error
	flat = func(v any) error {
		switch v := v.(type) {
		case []any:
			for _, e := range v {
				if err := flat(e); err != nil {
					return err
				}
			}
		case json.Number:
			o.Values = append(o.Values, v.String())
		default:
			return fmt.Errorf("output value %v is not a number", v)
		}
		return nil
	}
	return flat(vals)
}

// newOutputs describes the proven outputs of a graph.
func newOutputs(m *Model, outs map[string][]field.Element) map[string]*Output {
	res := make(map[string]*Output, len(outs))
	for name, vals := range outs {
		o := &Output{Shape: slices.Clone(m.Graph.Tensors[name].Shape), Values: make([]string, len(vals))}
		if ts := m.File.Tensors[name]; ts != nil {
			o.Scale = ts.Scale
		}
		for i := range vals {
			if v, ok := field.ToInt64(&vals[i]); ok {
				o.Values[i] = strconv.FormatInt(v, 10)
			} else {
				o.Values[i] = vals[i].String()
			}
		}
		res[name] = o
	}
	return res
}

// storeOutputs reads the public outputs the forward pass wrote to the store (unpadded,
// row-major): what a proof of the store's model proves. Outputs are small: the proof carries
// them all.
func storeOutputs(s *tensorstore.Store, m *Model) (map[string]*Output, error) {
	outs := map[string][]field.Element{}
	for _, name := range m.Graph.Names(gkr.Output) {
		t, err := s.Tensor(name)
		if err != nil {
			return nil, fmt.Errorf("output %q: %w", name, err)
		}
		src := t.RawSource() // unpadded, row-major
		st, err := src.Open()
		if err != nil {
			t.Close()
			return nil, fmt.Errorf("output %q: %w", name, err)
		}
		v := make([]field.Element, src.Len())
		for off := 0; off < len(v); {
			n, err := st.Next(v[off:])
			off += n
			if err != nil || n == 0 {
				if off < len(v) {
					st.Close()
					t.Close()
					return nil, fmt.Errorf("output %q: %d of %d values: %v", name, off, len(v), err)
				}
				break
			}
		}
		st.Close()
		t.Close()
		outs[name] = v
	}
	return newOutputs(m, outs), nil
}

// EncodeNPY returns the output as a .npy file: float32 dequantized values for a quantized
// output, int64 values otherwise.
func (o *Output) EncodeNPY() ([]byte, error) {
	if o.Scale > 0 {
		deq, ok := o.Dequantized()
		if !ok {
			return nil, fmt.Errorf("an output value does not fit int64")
		}
		raw := make([]byte, 0, 4*len(deq))
		for _, v := range deq {
			raw = binary.LittleEndian.AppendUint32(raw, math.Float32bits(float32(v)))
		}
		return tensorstore.EncodeNPY(tensorstore.Array{DType: "<f4", Shape: o.Shape, Raw: raw})
	}
	ints, ok := o.Ints()
	if !ok {
		return nil, fmt.Errorf("an output value does not fit int64")
	}
	return tensorstore.EncodeNPY(tensorstore.Array{DType: "I64", Shape: o.Shape, Values: ints})
}
