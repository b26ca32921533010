package onnx

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/streamprove/streamprove/onnx/internal/onnxpb"
)

// residualGraph: h = relu(x·W1ᵀ + b1); r = relu(h·W2ᵀ + b2 + h); y = r·W3ᵀ + b3 (a residual block).
func residualGraph(rng *rand.Rand) graph {
	w := func(name string, dims ...int64) *onnxpb.TensorProto {
		n := int64(1)
		for _, d := range dims {
			n *= d
		}
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(rng.NormFloat64() * 0.3)
		}
		return tensorF(name, dims, v...)
	}
	return graph{
		nodes: []*onnxpb.NodeProto{
			pnode("Gemm", "fc1", []string{"x", "W1", "b1"}, []string{"h0"}, attrI("transB", 1)),
			pnode("Relu", "act1", []string{"h0"}, []string{"h"}),
			pnode("Gemm", "fc2", []string{"h", "W2", "b2"}, []string{"g"}, attrI("transB", 1)),
			pnode("Add", "res", []string{"g", "h"}, []string{"s"}),
			pnode("Relu", "act2", []string{"s"}, []string{"r"}),
			pnode("Gemm", "fc3", []string{"r", "W3", "b3"}, []string{"y"}, attrI("transB", 1)),
		},
		inits: []*onnxpb.TensorProto{w("W1", 16, 12), w("b1", 16), w("W2", 16, 16), w("b2", 16), w("W3", 5, 16), w("b3", 5)},
		ins:   []*onnxpb.ValueInfoProto{vinfo("x", "batch", 12)},
		outs:  []*onnxpb.ValueInfoProto{vinfo("y", "batch", 5)},
	}
}

// TestResidualQuantizeProve: a residual add quantizes to scale, scale, add, requant_fixed (ReLU
// fused), agrees with the float model, and the emitted graph proves and verifies with outputs
// equal to the Go integer model's.
func TestResidualQuantizeProve(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	m, err := residualGraph(rng).decode(t)
	if err != nil {
		t.Fatal(err)
	}
	randn := func(n int) *Tensor {
		x := &Tensor{DType: Float32, Shape: []int{n, 12}, F: make([]float64, n*12)}
		for i := range x.F {
			x.F[i] = rng.NormFloat64()
		}
		return x
	}
	q, err := Quantize(m, randn(256), QuantOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var ops []string
	for _, op := range q.Ops {
		ops = append(ops, op.Op)
	}
	if got, want := strings.Join(ops, " "), "linear requant_fixed linear requant_fixed scale scale add requant_fixed linear requant_fixed"; got != want {
		t.Fatalf("ops %q, want %q", got, want)
	}
	x := randn(8)
	a, f, _, err := q.Compare(x)
	if err != nil {
		t.Fatal(err)
	}
	span := 0.0
	for _, v := range f.F {
		span = max(span, v, -v)
	}
	t.Logf("residual MLP int8: max |Δ| %.3g of a %.3g range, argmax agreement %.3f", a.MaxAbsErr, span, a.ArgmaxAgree)
	if a.MaxAbsErr > 0.05*span || a.ArgmaxAgree < 0.75 {
		t.Errorf("quantized outputs off: %+v", a)
	}
	_, _, rep := proveEmitted(t, q, x, 128<<20)
	want, err := q.Run(q.QuantizeInput(x))
	if err != nil {
		t.Fatal(err)
	}
	checkProven(t, rep.Outputs["y"], want, q.Output.Scale)
}
