package onnx

import (
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/streamprove/streamprove/onnx/internal/onnxpb"
	"github.com/streamprove/streamprove/scheduler"
	"github.com/streamprove/streamprove/tensorstore"
)

// The already-quantized fixtures of testdata/onnx/make_quantized.py, with the expected integer
// outputs its NumPy reimplementation of ONNX Runtime's semantics computed.
var quantizedFixtures = []string{"qdq_cnn", "qdq_mlp", "qlinear_cnn", "convinteger", "matmulinteger", "qdq_residual"}

func loadQuantized(t *testing.T, name string) (*QModel, *Tensor, *Tensor) {
	t.Helper()
	m, err := Load(filepath.Join(digitsDir, name+".onnx"))
	if err != nil {
		t.Fatal(err)
	}
	if !m.IsQuantized() {
		t.Fatalf("%s: not recognised as quantized", name)
	}
	q, err := FromQuantized(m)
	if err != nil {
		t.Fatal(err)
	}
	x, err := ReadNPY(filepath.Join(digitsDir, name+"_x.npy"))
	if err != nil {
		t.Fatal(err)
	}
	want, err := ReadNPY(filepath.Join(digitsDir, name+"_expected.npy"))
	if err != nil {
		t.Fatal(err)
	}
	return q, x, want
}

// TestQuantizedFixturesMatchORT: the Go integer model of every fixture reproduces the NumPy
// reimplementation of ONNX Runtime's integer semantics on all 16 images, element for element.
func TestQuantizedFixturesMatchORT(t *testing.T) {
	for _, name := range quantizedFixtures {
		t.Run(name, func(t *testing.T) {
			q, x, want := loadQuantized(t, name)
			got, err := q.Run(q.QuantizeInput(x))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got.Shape, want.Shape) {
				t.Fatalf("shape %v, want %v", got.Shape, want.Shape)
			}
			// What prove --input does to a float .npy (tensorstore.Quantizer, as in
			// ImportNPYInput) against ONNX Runtime's float32 division.
			qz := tensorstore.Quantizer{Scale: q.Input.Scale, DType: intDType(q.Input.Bits)}
			lo, hi := qz.DType.Bounds()
			inDiffer := 0
			for i, v := range q.QuantizeInput(x).V {
				p, err := qz.Quantize(x.F[i])
				ort := math.RoundToEven(float64(float32(x.F[i]) / float32(q.Input.Scale)))
				ort = max(float64(lo), min(float64(hi), ort))
				if err != nil || p != v || p != int64(ort) {
					inDiffer++
				}
			}
			if inDiffer != 0 {
				t.Errorf("%s: input quantization: %d of %d elements differ from ORT's float32 division", name, inDiffer, len(x.F))
			}
			differ := 0
			for i := range got.V {
				if got.V[i] != want.I[i] {
					differ++
				}
			}
			t.Logf("%s: %d ops, %d of %d outputs equal ONNX Runtime's semantics", name, len(q.Ops), len(got.V)-differ, len(got.V))
			if differ != 0 {
				t.Errorf("%d outputs differ", differ)
			}
		})
	}
}

// TestQuantizedProve: each fixture, emitted as a graph, proves and verifies a batch of 4 images
// (all 16 without -short); the proven integers are the NumPy/ORT expected ones; a proof whose
// bytes are altered is rejected.
func TestQuantizedProve(t *testing.T) {
	for _, name := range quantizedFixtures {
		t.Run(name, func(t *testing.T) {
			q, x, want := loadQuantized(t, name)
			n := 16
			if testing.Short() {
				n = 4
			}
			per := x.Len() / x.Shape[0]
			xs := &Tensor{DType: Float32, Shape: append([]int{n}, x.Shape[1:]...), F: x.F[:n*per]}
			st, proof, rep := proveEmitted(t, q, xs, 64<<20)
			wantN := &IntTensor{Shape: append([]int{n}, want.Shape[1:]...), V: want.I[:n*(want.Len()/want.Shape[0])]}
			checkProven(t, rep.Outputs["y"], wantN, q.Output.Scale)

			// Tampering: flip one byte in the middle of the proof.
			b, err := os.ReadFile(proof)
			if err != nil {
				t.Fatal(err)
			}
			b[len(b)/2] ^= 0x20
			bad := filepath.Join(t.TempDir(), "bad")
			if err := os.WriteFile(bad, b, 0o644); err != nil {
				t.Fatal(err)
			}
			if rep, err := scheduler.Verify(st, bad, ""); err == nil && rep.Verified {
				t.Fatal("a tampered proof verified")
			}
		})
	}
}

// ortRequant is ONNX Runtime's (MLAS's) requantization: the int32 accumulator converted to
// float32, multiplied by the float32 scale in float32, rounded half to even.
func ortRequant(acc int64, s float32) int64 {
	return int64(math.RoundToEven(float64(float32(float32(acc) * s))))
}

// TestRequantMultipliersExact: M/2^n equals the float32 scale exactly, so the proof's
// round_half_even(acc·M/2^n) is the exact rounding of acc·s; it disagrees with ONNX Runtime's
// float32 product only where fl32(acc·s) rounds onto or across a half-integer. The test
// measures that rate over random accumulators (|acc| < 2^24, outputs in the int8 range).
func TestRequantMultipliersExact(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 13))
	var scales []float32
	for range 200 {
		scales = append(scales, float32(math.Ldexp(1+r.Float64(), -r.IntN(20)-4)))
	}
	scales = append(scales, float32(float32(float32(1.0/255)*0.0123)/0.021))
	trials, differ, nearTie := 0, 0, 0
	for _, s := range scales {
		ms, n, err := requantMultipliers([]float32{s})
		if err != nil {
			t.Fatal(err)
		}
		// The representation is exact: M/2^n == s.
		if math.Ldexp(float64(ms[0]), -n) != float64(s) {
			t.Fatalf("scale %g: M/2^n = %d/2^%d", s, ms[0], n)
		}
		lim := min(int64(1)<<24, int64(200/float64(s)))
		for range 20000 {
			acc := r.Int64N(2*lim) - lim
			exact, ok := roundShift(acc, ms[0], n)
			if !ok {
				t.Fatal("overflow")
			}
			trials++
			if exact != ortRequant(acc, s) {
				differ++
				// Every disagreement is a double-rounding near-tie: the exact product is within
				// one float32 ulp of a half-integer.
				p := float64(acc) * float64(s)
				frac := math.Abs(p - math.Floor(p) - 0.5)
				if frac > math.Abs(p)*0x1p-23 {
					t.Fatalf("acc %d, scale %g: exact %d, ORT %d, not a near-tie", acc, s, exact, ortRequant(acc, s))
				}
				nearTie++
			}
		}
	}
	t.Logf("exact M/2^n rounding vs ORT's float32 product: %d of %d random accumulators differ (%.2g), all near-ties", differ, trials, float64(differ)/float64(trials))
}

// fma32 is a float32 fused multiply-add x·r + c (one rounding), as MLAS's AVX2 QLinearAdd
// kernel evaluates it: the float64 product of an 8-bit integer and a float32 is exact, and the
// float64 sum is checked exact (TwoSum), so rounding it to float32 is the one rounding.
func fma32(t *testing.T, x int64, r, c float32) float32 {
	p, cf := float64(x)*float64(r), float64(c)
	s := p + cf
	bb := s - p
	if (p-(s-bb))+(cf-bb) != 0 {
		t.Fatalf("fma32(%d, %g, %g): the float64 sum is not exact", x, r, c)
	}
	return float32(s)
}

// TestQLinearAddNearTies: the exact rounding the proof computes for a QDQ Add (the float32
// ratios as M/2^n, addMultipliers) against MLAS's AVX2 QLinearAdd (fma(a, r_a, fma(b, r_b, F))
// in float32 on the raw integers, F folding the zero points), over every pair of INT8 operands
// for random scales and zero points. They may differ only where the exact sum is within a few
// float32 ulps of a half-integer; the test measures how often.
func TestQLinearAddNearTies(t *testing.T) {
	r := rand.New(rand.NewPCG(17, 17))
	trials, differ := 0, 0
	for range 60 {
		sc := float32(math.Exp(r.Float64()*4 - 5.5)) // ~0.004 … 0.2
		sa := float32(float64(sc) * math.Exp(r.Float64()*3-1.5))
		sb := float32(float64(sc) * math.Exp(r.Float64()*3-1.5))
		za, zb, zc := r.Int64N(256)-128, r.Int64N(256)-128, r.Int64N(256)-128
		ra, rb := sa/sc, sb/sc
		fs, g, shift, err := addMultipliers(ra, rb)
		if err != nil {
			t.Fatal(err)
		}
		// The representation is exact: f·G/2^n == r.
		for i, rr := range []float32{ra, rb} {
			if math.Ldexp(float64(fs[i]*g), -shift) != float64(rr) {
				t.Fatalf("ratio %g: %d·%d/2^%d", rr, fs[i], g, shift)
			}
		}
		fixed := float32(float32(zc) - float32(float32(ra*float32(za))+float32(rb*float32(zb))))
		for a := int64(-128); a < 128; a++ {
			for b := int64(-128); b < 128; b++ {
				q, ok := roundShift(fs[0]*(a-za)+fs[1]*(b-zb), g, shift)
				if !ok {
					t.Fatal("overflow")
				}
				exact := max(-128, min(127, q+zc))
				v := fma32(t, a, ra, fma32(t, b, rb, fixed))
				mlas := max(-128, min(127, int64(math.RoundToEven(float64(v)))))
				trials++
				if exact == mlas {
					continue
				}
				differ++
				x := float64(ra)*float64(a-za) + float64(rb)*float64(b-zb)
				tie := math.Abs(x - math.Floor(x) - 0.5)
				band := 0x1p-22 * (math.Abs(float64(ra)*float64(a)) + math.Abs(float64(rb)*float64(b)) + math.Abs(float64(fixed)))
				if tie > band {
					t.Fatalf("a %d, b %d, ratios %g %g, zero points %d %d %d: exact %d, MLAS %d, %.3g from a tie (band %.3g)", a, b, ra, rb, za, zb, zc, exact, mlas, tie, band)
				}
			}
		}
	}
	t.Logf("exact rounding vs MLAS's AVX2 float32 QLinearAdd: %d of %d operand pairs differ (%.2g), all near-ties", differ, trials, float64(differ)/float64(trials))
}

// TestQuantizedRefusals: unsupported constructs fail with the node's name, its op type, the
// attribute or input, and the list of supported ops.
func TestQuantizedRefusals(t *testing.T) {
	cases := []struct {
		name string
		mk   func() []byte
		want []string
	}{
		{"non-constant scale", func() []byte { return qlinearVariant(t, "scale") }, []string{`"qconv"`, "QLinearConv", "x_scale", "must be a constant", "supported ops"}},
		{"zero point out of range", func() []byte { return qlinearVariant(t, "zp") }, []string{`"b_dq"`, "DequantizeLinear", "zero_point", "out of range", "supported ops"}},
		{"auto_pad", func() []byte { return qlinearVariant(t, "autopad") }, []string{`"qconv"`, "QLinearConv", `"auto_pad"`, "supported ops"}},
		{"QDQ Add of a float constant", func() []byte { return residualVariant(t, "const") }, []string{`"add2"`, "(Add)", `"ddd"`, "is a constant", "residual add", "supported ops"}},
		{"QDQ Add broadcasting", func() []byte { return residualVariant(t, "broadcast") }, []string{`"add1"`, "(Add)", "equal shapes", "supported ops"}},
		{"QDQ Add of INT8 and UINT8", func() []byte { return residualVariant(t, "types") }, []string{`"add2"`, "(Add)", "INT8", "UINT8", "QLinearAdd", "supported ops"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Decode(c.mk())
			if err == nil {
				m, _ := Decode(c.mk())
				_, err = FromQuantized(m)
			}
			if !errors.Is(err, ErrUnsupported) {
				t.Fatalf("err %v, want ErrUnsupported", err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

// fixtureProto decodes testdata/onnx/name as the protobuf message, for tests that edit it.
func fixtureProto(t *testing.T, name string) *onnxpb.ModelProto {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(digitsDir, name))
	if err != nil {
		t.Fatal(err)
	}
	var m onnxpb.ModelProto
	if err := proto.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return &m
}

// qlinearVariant returns qlinear_cnn.onnx with one unsupported change.
func qlinearVariant(t *testing.T, kind string) []byte {
	t.Helper()
	m := fixtureProto(t, "qlinear_cnn.onnx")
	g := m.Graph
	var conv *onnxpb.NodeProto
	for _, n := range g.Node {
		if n.GetName() == "qconv" {
			conv = n
		}
	}
	switch kind {
	case "scale": // x_scale computed from the input
		conv.Input[1] = "x"
	case "zp": // an INT32 DequantizeLinear (a bias) with a non-zero zero point
		g.Initializer = append(g.Initializer, &onnxpb.TensorProto{Name: proto.String("bz"), DataType: proto.Int32(int32(Int32)), Int32Data: []int32{5}})
		g.Node = slices.Insert(g.Node, 1, pnode("DequantizeLinear", "b_dq", []string{"b1q", "s_in", "bz"}, []string{"bdq"}))
	case "autopad":
		conv.Attribute = append(conv.Attribute, attrS("auto_pad", "SAME_UPPER"))
	}
	out, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// residualVariant returns qdq_residual.onnx with one unsupported change to a QDQ Add.
func residualVariant(t *testing.T, kind string) []byte {
	t.Helper()
	m := fixtureProto(t, "qdq_residual.onnx")
	g := m.Graph
	node := func(name string) *onnxpb.NodeProto {
		for _, n := range g.Node {
			if n.GetName() == name {
				return n
			}
		}
		t.Fatalf("no node %q", name)
		return nil
	}
	switch kind {
	case "const": // add2's second operand a float constant of the same shape
		node("add2").Input[1] = "ddd"
		node("dd_dq").Output[0] = "ddd_unused"
		g.Initializer = append(g.Initializer, &onnxpb.TensorProto{Name: proto.String("ddd"), DataType: proto.Int32(int32(Float32)),
			Dims: []int64{4, 8, 8}, FloatData: make([]float32, 256)})
	case "broadcast": // add1 adds the [N, 1, 8, 8] input to a [N, 4, 8, 8] branch
		node("add1").Input[1] = "xd"
	case "types": // add2's second operand is quantized as UINT8 (zero point 128)
		g.Initializer = append(g.Initializer, &onnxpb.TensorProto{Name: proto.String("u8z"), DataType: proto.Int32(int32(Uint8)), Int32Data: []int32{128}})
		node("dd_q").Input[2] = "u8z"
		node("dd_dq").Input[2] = "u8z"
	}
	out, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// FuzzFromQuantized: hostile bytes that decode as an already-quantized model are lowered, and
// the integer model runs on a batch of one, or either step refuses; never a panic.
func FuzzFromQuantized(f *testing.F) {
	for _, name := range quantizedFixtures {
		if b, err := os.ReadFile(filepath.Join(digitsDir, name+".onnx")); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Decode(data)
		if err != nil || !m.IsQuantized() {
			return
		}
		q, err := FromQuantized(m)
		if err != nil {
			if q != nil {
				t.Fatal("a model with an error")
			}
			return
		}
		env := map[string]int{}
		for _, d := range q.Input.Shape {
			if d.Sym != "" {
				env[d.Sym] = 1
			}
		}
		shape, _ := q.Input.Shape.Bind(env)
		if numel(shape) > 1<<14 {
			return
		}
		work := 0
		for _, op := range q.Ops {
			s, err := op.Shape.Bind(env)
			if err != nil {
				return
			}
			n := numel(s)
			if w, ok := q.Weights[op.In[min(1, len(op.In)-1)]]; ok && (op.Op == "linear" || op.Op == "conv2d") {
				n *= len(w.V) / max(1, w.Shape[0])
			}
			if op.Op == "maxpool" {
				n *= op.Kernel[0] * op.Kernel[1]
			}
			if work += n; work > 1<<22 || n < 0 {
				return
			}
		}
		_, _ = q.Run(&IntTensor{Shape: shape, V: make([]int64, numel(shape))})
	})
}
