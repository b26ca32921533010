package onnx

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/streamprove/streamprove/onnx/internal/onnxpb"
	"google.golang.org/protobuf/proto"
)

// TestTransformerRefusals: transformer constructs the importer cannot represent fail with the
// node's name, its op and the reason, and no model.
func TestTransformerRefusals(t *testing.T) {
	x := func() []*onnxpb.ValueInfoProto { return []*onnxpb.ValueInfoProto{vinfo("x", "batch", 2, 4, 4)} }
	y := func() []*onnxpb.ValueInfoProto { return []*onnxpb.ValueInfoProto{vinfo("y", "batch", 2, 4, 4)} }
	tri := func(causal bool) *onnxpb.TensorProto {
		v := make([]int64, 16)
		for i := 0; i < 4; i++ {
			for j := 0; j < 4; j++ {
				if (j > i) == causal {
					v[i*4+j] = 1
				}
			}
		}
		return &onnxpb.TensorProto{Name: proto.String("cond"), Dims: []int64{1, 1, 4, 4}, DataType: proto.Int32(int32(Bool)), Int32Data: toI32(v)}
	}
	where := func(causal bool) graph {
		return graph{
			nodes: []*onnxpb.NodeProto{pnode("Where", "mask", []string{"cond", "ninf", "x"}, []string{"m"}), pnode("Softmax", "sm", []string{"m"}, []string{"y"}, attrI("axis", -1))},
			inits: []*onnxpb.TensorProto{tri(causal), tensorF("ninf", nil, float32(negInf()))},
			ins:   x(), outs: y(), opset: 17,
		}
	}
	softmaxAxis := graph{nodes: []*onnxpb.NodeProto{pnode("Softmax", "sm", []string{"x"}, []string{"y"}, attrI("axis", 1))}, ins: x(), outs: y(), opset: 17}
	elu := graph{nodes: []*onnxpb.NodeProto{pnode("Elu", "act", []string{"x"}, []string{"y"})}, ins: x(), outs: y(), opset: 17}
	mm := graph{
		nodes: []*onnxpb.NodeProto{pnode("Transpose", "t", []string{"x"}, []string{"xt"}, attrIs("perm", 1, 0, 2, 3)), pnode("MatMul", "qk", []string{"x", "xt"}, []string{"y"})},
		ins:   x(), outs: y(), opset: 17,
	}
	if _, err := where(true).decode(t); err != nil {
		t.Fatalf("the causal mask: %v", err)
	}
	for _, c := range []struct {
		name string
		g    graph
		want []string
	}{
		{"non-causal mask", where(false), []string{`node "mask" (Where)`, "not the causal mask"}},
		{"softmax axis", softmaxAxis, []string{`node "sm" (Softmax)`, "only the last axis"}},
		{"unknown op", elu, []string{`node "act" (Elu)`, `op "Elu" is not supported`, "LayerNormalization", "Tanh"}},
		{"matmul leading dims", mm, []string{`node "qk" (MatMul)`, "equal leading dimensions"}},
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

func toI32(v []int64) []int32 {
	out := make([]int32, len(v))
	for i, x := range v {
		out[i] = int32(x)
	}
	return out
}

func negInf() float64 { return math.Inf(-1) }

// TestTransformerQuantRefusal: a LayerNorm as the graph output (a 16-bit value the path does not
// requantize) is refused by quantization, naming the node.
func TestTransformerQuantRefusal(t *testing.T) {
	ids := vinfo("ids", "batch", 3)
	ids.GetType().GetTensorType().ElemType = proto.Int32(int32(Int64))
	g := graph{
		nodes: []*onnxpb.NodeProto{pnode("Gather", "emb", []string{"tab", "ids"}, []string{"e"}), pnode("LayerNormalization", "ln", []string{"e", "g", "b"}, []string{"y"}, attrI("axis", -1))},
		inits: []*onnxpb.TensorProto{tensorF("tab", []int64{5, 4}, 1, 2, 3, 4, 5, 6, 7, 8, 9, 1, 2, 3, 4, 5, 6, 7, 8, 9, 1, 2), tensorF("g", []int64{4}, 1, 1, 1, 1), tensorF("b", []int64{4}, 0, 0, 0, 0)},
		ins:   []*onnxpb.ValueInfoProto{ids}, outs: []*onnxpb.ValueInfoProto{vinfo("y", "batch", 3, 4)}, opset: 17,
	}
	m, err := g.decode(t)
	if err != nil {
		t.Fatal(err)
	}
	calib := &Tensor{DType: Float32, Shape: []int{2, 3}, F: []float64{0, 1, 2, 3, 4, 0}}
	ref, err := m.Run(map[string]*Tensor{"ids": calib})
	if err != nil || len(ref["y"].F) != 24 {
		t.Fatalf("float reference: %v", err)
	}
	_, err = Quantize(m, calib, QuantOptions{})
	if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), `node "ln"`) || !strings.Contains(err.Error(), "as the graph output") {
		t.Fatalf("err %v; want ErrUnsupported naming node \"ln\"", err)
	}
}
