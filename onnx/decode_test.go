package onnx

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/streamprove/streamprove/onnx/internal/onnxpb"
)

// gemmGraph: x[batch,3] → Gemm(W[4,3], transB) → y.
func gemmGraph() graph {
	return graph{
		nodes: []*onnxpb.NodeProto{pnode("Gemm", "fc", []string{"x", "W", "b"}, []string{"y"}, attrI("transB", 1))},
		inits: []*onnxpb.TensorProto{
			tensorF("W", []int64{4, 3}, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12),
			tensorF("b", []int64{4}, 0.5, -0.5, 1, -1),
		},
		ins:  []*onnxpb.ValueInfoProto{vinfo("x", "batch", 3)},
		outs: []*onnxpb.ValueInfoProto{vinfo("y", "batch", 4)},
	}
}

func TestOpsetRange(t *testing.T) {
	for _, c := range []struct {
		opset int64
		ok    bool
	}{{10, false}, {11, true}, {17, true}, {21, true}, {22, false}} {
		g := gemmGraph()
		g.opset = c.opset
		_, err := g.decode(t)
		if c.ok && err != nil {
			t.Errorf("opset %d: %v", c.opset, err)
		}
		if !c.ok && !errors.Is(err, ErrUnsupported) {
			t.Errorf("opset %d: err = %v, want ErrUnsupported", c.opset, err)
		}
	}
}

// TestRefusals: every unsupported op or attribute fails the whole import with the node's name,
// its op type, the attribute and the supported-op list.
func TestRefusals(t *testing.T) {
	conv := func(attrs ...*onnxpb.AttributeProto) graph {
		return graph{
			nodes: []*onnxpb.NodeProto{pnode("Conv", "c1", []string{"x", "W"}, []string{"y"}, attrs...)},
			inits: []*onnxpb.TensorProto{tensorF("W", []int64{1, 1, 1, 1}, 2)},
			ins:   []*onnxpb.ValueInfoProto{vinfo("x", 1, 1, 2, 2)},
			outs:  []*onnxpb.ValueInfoProto{vinfo("y", 1, 1, 2, 2)},
		}
	}
	lstm := gemmGraph()
	lstm.nodes = append(lstm.nodes, pnode("LSTM", "rnn", []string{"y"}, []string{"z"}))
	lstm.outs = []*onnxpb.ValueInfoProto{vinfo("z", "batch", 4)}
	alpha := gemmGraph()
	alpha.nodes[0].Attribute = append(alpha.nodes[0].Attribute, attrF("alpha", 0.5))
	custom := gemmGraph()
	custom.nodes[0].Domain = proto.String("com.microsoft")
	bnAfterRelu := graph{
		nodes: []*onnxpb.NodeProto{
			pnode("Relu", "act", []string{"x"}, []string{"r"}),
			pnode("BatchNormalization", "bn", []string{"r", "s", "b", "m", "v"}, []string{"y"}),
		},
		inits: []*onnxpb.TensorProto{tensorF("s", []int64{3}, 1, 1, 1), tensorF("b", []int64{3}, 0, 0, 0), tensorF("m", []int64{3}, 0, 0, 0), tensorF("v", []int64{3}, 1, 1, 1)},
		ins:   []*onnxpb.ValueInfoProto{vinfo("x", "batch", 3)},
		outs:  []*onnxpb.ValueInfoProto{vinfo("y", "batch", 3)},
	}
	maskUsed := gemmGraph()
	maskUsed.nodes = append(maskUsed.nodes, pnode("Dropout", "drop", []string{"y"}, []string{"d", "mask"}), pnode("Add", "use", []string{"d", "mask"}, []string{"z"}))
	maskUsed.outs = []*onnxpb.ValueInfoProto{vinfo("z", "batch", 4)}
	gatherRuntime := gemmGraph()
	gatherRuntime.inits = append(gatherRuntime.inits, tensorI("i", []int64{1}, 0))
	gatherRuntime.nodes = append(gatherRuntime.nodes, pnode("Gather", "emb", []string{"y", "i"}, []string{"z"}))
	gatherRuntime.outs = []*onnxpb.ValueInfoProto{vinfo("z", 1, 4)}
	for _, c := range []struct {
		name string
		g    graph
		want []string
	}{
		{"op", lstm, []string{`node "rnn" (LSTM)`, `op "LSTM" is not supported`, "supported ops: Add, AveragePool"}},
		{"group", conv(attrI("group", 2)), []string{`node "c1" (Conv)`, `attribute "group" = 2`, "supported ops:"}},
		{"auto_pad", conv(attrS("auto_pad", "SAME_UPPER")), []string{`node "c1" (Conv)`, `"auto_pad" = "SAME_UPPER"`}},
		{"dilations", conv(attrIs("dilations", 2, 2)), []string{`node "c1" (Conv)`, `"dilations"`}},
		{"unknown attribute", conv(attrI("frobnicate", 1)), []string{`node "c1" (Conv)`, `attribute "frobnicate" is not supported`}},
		{"alpha", alpha, []string{`node "fc" (Gemm)`, `attribute "alpha" = 0.5`}},
		{"domain", custom, []string{`node "fc" (Gemm)`, `domain "com.microsoft"`}},
		{"bn after relu", bnAfterRelu, []string{`node "bn" (BatchNormalization)`, "only right after a Conv or Gemm"}},
		{"dropout mask", maskUsed, []string{`node "use" (Add)`, `output "mask" of node "drop" (Dropout)`}},
		{"gather runtime", gatherRuntime, []string{`node "emb" (Gather)`, "embedding lookup"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			m, err := c.g.decode(t)
			if m != nil || !errors.Is(err, ErrUnsupported) {
				t.Fatalf("got model %v, err %v; want ErrUnsupported and no model", m != nil, err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

// TestSizesCheckedBeforeAllocation: a tensor claiming 2^40 elements with 4 bytes of data, and
// one claiming more values than it holds, fail as malformed without allocating their claim.
func TestSizesCheckedBeforeAllocation(t *testing.T) {
	for _, tp := range []*onnxpb.TensorProto{
		{Name: proto.String("W"), Dims: []int64{1 << 20, 1 << 20}, DataType: proto.Int32(int32(Float32)), RawData: make([]byte, 4)},
		{Name: proto.String("W"), Dims: []int64{1 << 14, 1 << 13}, DataType: proto.Int32(int32(Float32)), RawData: make([]byte, 4)},
		{Name: proto.String("W"), Dims: []int64{4, 3}, DataType: proto.Int32(int32(Float32)), FloatData: []float32{1}},
		{Name: proto.String("W"), Dims: []int64{-1, 3}, DataType: proto.Int32(int32(Float32))},
		{Name: proto.String("W"), Dims: []int64{4, 3}, DataType: proto.Int32(int32(onnxpb.TensorProto_STRING))},
	} {
		g := gemmGraph()
		g.inits[0] = tp
		data := g.bytes(t)
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, err := Decode(data)
		runtime.ReadMemStats(&after)
		if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), `initializer "W"`) {
			t.Errorf("dims %v: err = %v, want ErrFormat naming the initializer", tp.Dims, err)
		}
		if got := after.TotalAlloc - before.TotalAlloc; got > 1<<20 {
			t.Errorf("dims %v: decoding allocated %d bytes", tp.Dims, got)
		}
	}
	// An external-data initializer is refused, not read from a path an attacker chose.
	g := gemmGraph()
	g.inits[0].DataLocation = onnxpb.TensorProto_EXTERNAL.Enum()
	if _, err := g.decode(t); err == nil || !strings.Contains(err.Error(), "external data") {
		t.Errorf("external data: err = %v", err)
	}
}

// TestFoldNoise: Constant, Identity, Cast of a constant, Dropout and a Shape → Gather →
// Unsqueeze → Concat → Reshape chain over a dynamic batch all fold away; the batch stays
// symbolic and the output keeps its ONNX name through the trailing Identity.
func TestFoldNoise(t *testing.T) {
	for _, opset := range []int64{11, 13} {
		unsq := func(name, in, out string) []*onnxpb.NodeProto {
			if opset < 13 {
				return []*onnxpb.NodeProto{pnode("Unsqueeze", name, []string{in}, []string{out}, attrIs("axes", 0))}
			}
			return []*onnxpb.NodeProto{
				pnode("Constant", name+"_axes", nil, []string{name + "_ax"}, attrT("value", tensorI("", []int64{1}, 0))),
				pnode("Unsqueeze", name, []string{in, name + "_ax"}, []string{out}),
			}
		}
		nodes := []*onnxpb.NodeProto{
			pnode("Constant", "k", nil, []string{"bf"}, attrT("value", &onnxpb.TensorProto{Dims: []int64{4}, DataType: proto.Int32(int32(Float64)), DoubleData: []float64{0.5, -0.5, 1, -1}})),
			pnode("Cast", "cast", []string{"bf"}, []string{"b32"}, attrI("to", int64(Float32))),
			pnode("Identity", "id", []string{"W"}, []string{"Wi"}),
			pnode("Shape", "shape", []string{"x"}, []string{"s"}),
			pnode("Constant", "zero", nil, []string{"i0"}, attrT("value", tensorI("", nil, 0))),
			pnode("Gather", "g", []string{"s", "i0"}, []string{"n"}, attrI("axis", 0)),
			pnode("Constant", "m1", nil, []string{"minus1"}, attrT("value", tensorI("", nil, -1))),
		}
		nodes = append(nodes, unsq("u1", "n", "n1")...)
		nodes = append(nodes, unsq("u2", "minus1", "m1v")...)
		nodes = append(nodes,
			pnode("Concat", "cat", []string{"n1", "m1v"}, []string{"target"}, attrI("axis", 0)),
			pnode("Reshape", "flat", []string{"x", "target"}, []string{"xf"}),
			pnode("Gemm", "fc", []string{"xf", "Wi", "b32"}, []string{"h"}, attrI("transB", 1)),
			pnode("Dropout", "drop", []string{"h"}, []string{"hd"}, attrF("ratio", 0.5)),
			pnode("Identity", "out", []string{"hd"}, []string{"y"}),
		)
		g := graph{
			opset: opset,
			nodes: nodes,
			inits: []*onnxpb.TensorProto{tensorF("W", []int64{4, 3}, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12)},
			ins:   []*onnxpb.ValueInfoProto{vinfo("x", "batch", 3, 1)},
			outs:  []*onnxpb.ValueInfoProto{vinfo("y", "batch", 4)},
		}
		m, err := g.decode(t)
		if err != nil {
			t.Fatalf("opset %d: %v", opset, err)
		}
		if got := strings.Join(ops(m), " "); got != "Reshape Gemm" {
			t.Fatalf("opset %d: nodes %q, want \"Reshape Gemm\"", opset, got)
		}
		if s := m.Nodes[0].Shape.String(); s != "[batch,3]" {
			t.Errorf("reshape shape %s, want [batch,3]", s)
		}
		if o := m.Outputs[0]; o.Name != "y" || o.Shape.String() != "[batch,4]" || m.Nodes[1].Out != "y" {
			t.Errorf("output %+v (node out %q), want y [batch,4]", o, m.Nodes[1].Out)
		}
		x := &Tensor{DType: Float32, Shape: []int{2, 3, 1}, F: []float64{1, 0, -1, 2, 2, 2}}
		out, err := m.Run(map[string]*Tensor{"x": x})
		if err != nil {
			t.Fatal(err)
		}
		want := []float64{1 - 3 + 0.5, 4 - 6 - 0.5, 7 - 9 + 1, 10 - 12 - 1, 12 + 0.5, 30 - 0.5, 48 + 1, 66 - 1}
		if got := out["y"].F; !close(got, want, 1e-12) {
			t.Errorf("y = %v, want %v", got, want)
		}
	}
}

func close(a, b []float64, tol float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Abs(a[i]-b[i]) > tol {
			return false
		}
	}
	return true
}

// TestBatchNormFold: BatchNormalization after a Gemm (both weight layouts) and after a Conv is
// folded into the weights, and the folded model computes what the unfolded one does.
func TestBatchNormFold(t *testing.T) {
	gamma, beta, mean, vr, eps := []float64{1.5, -2, 0.25, 3}, []float64{float64(float32(0.1)), float64(float32(0.2)), float64(float32(-0.3)), float64(float32(0.4))}, []float64{1, -1, 2, 0}, []float64{0.5, 2, 1, 4}, 1e-3
	bnInits := []*onnxpb.TensorProto{
		tensorF("s", []int64{4}, 1.5, -2, 0.25, 3), tensorF("bb", []int64{4}, 0.1, 0.2, -0.3, 0.4),
		tensorF("m", []int64{4}, 1, -1, 2, 0), tensorF("v", []int64{4}, 0.5, 2, 1, 4),
	}
	bn := pnode("BatchNormalization", "bn", []string{"h", "s", "bb", "m", "v"}, []string{"y"}, attrF("epsilon", float32(eps)))
	w := []float32{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}
	x := []float64{1, -2, 0.5, 3, 0, -1}
	for _, transB := range []int64{0, 1} {
		dims := []int64{4, 3}
		if transB == 0 {
			dims = []int64{3, 4}
		}
		g := graph{
			nodes: []*onnxpb.NodeProto{pnode("Gemm", "fc", []string{"x", "W", "b"}, []string{"h"}, attrI("transB", transB)), bn},
			inits: append([]*onnxpb.TensorProto{tensorF("W", dims, w...), tensorF("b", []int64{4}, 0.5, -0.5, 1, -1)}, bnInits...),
			ins:   []*onnxpb.ValueInfoProto{vinfo("x", "n", 3)},
			outs:  []*onnxpb.ValueInfoProto{vinfo("y", "n", 4)},
		}
		m, err := g.decode(t)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(ops(m), " "); got != "Gemm" {
			t.Fatalf("nodes %q, want Gemm", got)
		}
		out, err := m.Run(map[string]*Tensor{"x": {DType: Float32, Shape: []int{2, 3}, F: x}})
		if err != nil {
			t.Fatal(err)
		}
		bias := []float64{0.5, -0.5, 1, -1}
		var want []float64
		for r := 0; r < 2; r++ {
			for o := 0; o < 4; o++ {
				h := bias[o]
				for i := 0; i < 3; i++ {
					wi := float64(w[o*3+i])
					if transB == 0 {
						wi = float64(w[i*4+o])
					}
					h += x[r*3+i] * wi
				}
				want = append(want, (h-mean[o])/math.Sqrt(vr[o]+float64(float32(eps)))*gamma[o]+beta[o])
			}
		}
		if !close(out["y"].F, want, 1e-9) {
			t.Errorf("transB=%d: y = %v, want %v", transB, out["y"].F, want)
		}
	}
	// Conv without bias, 1x1 kernel over 4 output channels.
	g := graph{
		nodes: []*onnxpb.NodeProto{pnode("Conv", "conv", []string{"x", "W"}, []string{"h"}, attrIs("kernel_shape", 1, 1)), bn},
		inits: append([]*onnxpb.TensorProto{tensorF("W", []int64{4, 1, 1, 1}, 1, 2, 3, 4)}, bnInits...),
		ins:   []*onnxpb.ValueInfoProto{vinfo("x", "n", 1, 1, 2)},
		outs:  []*onnxpb.ValueInfoProto{vinfo("y", "n", 4, 1, 2)},
	}
	m, err := g.decode(t)
	if err != nil {
		t.Fatal(err)
	}
	out, err := m.Run(map[string]*Tensor{"x": {DType: Float32, Shape: []int{1, 1, 1, 2}, F: []float64{2, -1}}})
	if err != nil {
		t.Fatal(err)
	}
	var want []float64
	for o := 0; o < 4; o++ {
		for _, xv := range []float64{2, -1} {
			want = append(want, (xv*float64(o+1)-mean[o])/math.Sqrt(vr[o]+float64(float32(eps)))*gamma[o]+beta[o])
		}
	}
	if !close(out["y"].F, want, 1e-9) || len(m.Nodes) != 1 {
		t.Errorf("conv: nodes %v, y = %v, want %v", ops(m), out["y"].F, want)
	}
}

// TestPadFoldsIntoAveragePool: zero padding then averaging is AveragePool with the pads counted.
func TestPadFoldsIntoAveragePool(t *testing.T) {
	g := graph{
		nodes: []*onnxpb.NodeProto{
			pnode("Pad", "pad", []string{"x", "p"}, []string{"xp"}, attrS("mode", "constant")),
			pnode("AveragePool", "pool", []string{"xp"}, []string{"y"}, attrIs("kernel_shape", 2, 2), attrIs("strides", 2, 2)),
		},
		inits: []*onnxpb.TensorProto{tensorI("p", []int64{8}, 0, 0, 1, 1, 0, 0, 1, 1)},
		ins:   []*onnxpb.ValueInfoProto{vinfo("x", "n", 1, 2, 2)},
		outs:  []*onnxpb.ValueInfoProto{vinfo("y", "n", 1, 2, 2)},
	}
	m, err := g.decode(t)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Nodes) != 1 || m.Nodes[0].Op != "AveragePool" || !m.Nodes[0].Attr.CountIncludePad {
		t.Fatalf("nodes %v attr %+v", ops(m), m.Nodes[0].Attr)
	}
	out, err := m.Run(map[string]*Tensor{"x": {DType: Float32, Shape: []int{1, 1, 2, 2}, F: []float64{4, 8, 12, 16}}})
	if err != nil {
		t.Fatal(err)
	}
	// Each 2x2 window of the padded 4x4 holds one input value and three zeros.
	if want := []float64{1, 2, 3, 4}; !close(out["y"].F, want, 1e-12) {
		t.Errorf("y = %v, want %v", out["y"].F, want)
	}
	// Before a MaxPool, zero padding is not the pool's own padding: refused.
	g.nodes[1].OpType = proto.String("MaxPool")
	if _, err := g.decode(t); !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), `node "pad" (Pad)`) {
		t.Errorf("pad before maxpool: %v", err)
	}
}

// TestDynamicBatch: the CNN's batch is bound by the input; one image alone gives the same
// logits as in a batch of 450.
func TestDynamicBatch(t *testing.T) {
	m, x, _ := loadDigits(t, "cnn")
	if s := m.Inputs[0].Shape.String(); s != "[batch,1,8,8]" {
		t.Fatalf("input shape %s", s)
	}
	all, err := m.Run(map[string]*Tensor{"x": x})
	if err != nil {
		t.Fatal(err)
	}
	one := &Tensor{DType: Float32, Shape: []int{1, 1, 8, 8}, F: x.F[7*64 : 8*64]}
	res, err := m.Run(map[string]*Tensor{"x": one})
	if err != nil {
		t.Fatal(err)
	}
	if !close(res["logits"].F, all["logits"].F[70:80], 1e-12) {
		t.Errorf("image 7 alone: %v, in the batch: %v", res["logits"].F, all["logits"].F[70:80])
	}
	bad := &Tensor{DType: Float32, Shape: []int{1, 1, 8, 7}, F: x.F[:56]}
	if _, err := m.Run(map[string]*Tensor{"x": bad}); err == nil {
		t.Error("an 8x7 image was accepted")
	}
}

func FuzzDecode(f *testing.F) {
	for _, name := range []string{"mlp.onnx", "cnn.onnx", "gpt.onnx", "gpt_act_tiny.onnx", "gpt_llama_tiny.onnx", "qdq_residual.onnx"} {
		if b, err := os.ReadFile(filepath.Join(digitsDir, name)); err == nil {
			f.Add(b)
		}
	}
	f.Add(gemmGraph().bytes(f))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Decode(data)
		if err != nil {
			if m != nil {
				t.Fatal("a model with an error")
			}
			return
		}
		if len(m.Nodes) == 0 || len(m.Outputs) == 0 {
			t.Fatal("an empty model without an error")
		}
		// A decoded model runs on a batch of one (or refuses cleanly) when that is cheap.
		in := map[string]*Tensor{}
		env := map[string]int{}
		for _, v := range m.Inputs {
			for _, d := range v.Shape {
				if d.Sym != "" {
					env[d.Sym] = 1
				}
			}
			shape, _ := v.Shape.Bind(env)
			if numel(shape) > 1<<16 {
				return
			}
			in[v.Name] = &Tensor{DType: Float32, Shape: shape, F: make([]float64, numel(shape))}
		}
		if m.work(env) > 1<<22 {
			return
		}
		_, _ = m.Run(in)
	})
}
