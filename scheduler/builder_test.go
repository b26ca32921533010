package scheduler

import (
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/streamprove/streamprove/gkr"
	"github.com/streamprove/streamprove/tensorstore"
)

func randInts(rng *rand.Rand, n int, lim int64) []int64 {
	v := make([]int64, n)
	for i := range v {
		v[i] = rng.Int64N(2*lim+1) - lim
	}
	return v
}

// TestGraphBuilder builds testdata/mlp's graph in Go, checks it is the graph the JSON file
// describes, then writes it with in-memory data and runs import, commit, prove and verify on it.
func TestGraphBuilder(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	b := NewGraphBuilder("mlp-demo")
	b.Tensor("x", gkr.Input, []int{3, 12}, tensorstore.Int8).Source = "input.safetensors"
	b.Tensor("fc1.w", gkr.Weight, []int{16, 12}, tensorstore.Int8).Source = "model.safetensors"
	b.Tensor("fc1.b", gkr.Weight, []int{16}, tensorstore.Int32).Source = "model.safetensors"
	b.Tensor("fc2.w", gkr.Weight, []int{10, 16}, tensorstore.Int8).Source = "model.safetensors"
	b.Output("y")
	b.Node("linear", "fc1", []string{"x", "fc1.w", "fc1.b"}, "h1", nil)
	b.Node("requant_relu", "act1", []string{"h1"}, "a1", Attrs{"shift": 8, "bits": 8})
	b.Node("mul", "gate", []string{"a1", "a1"}, "g1", nil)
	b.Node("add", "residual", []string{"g1", "a1"}, "s1", nil)
	b.Node("linear", "fc2", []string{"s1", "fc2.w"}, "y", nil)
	m, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile("../testdata/mlp/graph.json")
	if err != nil {
		t.Fatal(err)
	}
	want, err := ParseGraph(data)
	if err != nil {
		t.Fatal(err)
	}
	if m.Graph.Digest() != want.Graph.Digest() {
		t.Fatal("the built graph differs from testdata/mlp/graph.json")
	}

	// The same graph with its data held in RAM.
	for _, ts := range b.f.Tensors {
		ts.Source = ""
	}
	b.Data("x", randInts(rng, 36, 127))
	b.Data("fc1.w", randInts(rng, 192, 127))
	b.Data("fc1.b", randInts(rng, 16, 1<<12))
	b.Data("fc2.w", randInts(rng, 160, 127))
	dir := t.TempDir()
	g, err := b.WriteFiles(filepath.Join(dir, "model"))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, rep := proveModel(t, dir, g); len(rep.Outputs["y"].Values) != 30 {
		t.Fatalf("outputs: %v", rep.Outputs)
	}
}

func TestGraphBuilderErrors(t *testing.T) {
	base := func() *GraphBuilder {
		b := NewGraphBuilder("g")
		b.Tensor("x", gkr.Input, []int{4}, tensorstore.Int8)
		b.Tensor("w", gkr.Weight, []int{2, 4}, tensorstore.Int8)
		b.Output("y")
		b.Node("relu", "r", []string{"x"}, "a", nil)
		b.Node("linear", "fc", []string{"a", "w"}, "y", nil)
		return b
	}
	cases := []struct {
		edit func(b *GraphBuilder)
		want string
	}{
		{func(b *GraphBuilder) { b.f.Nodes[0].Attrs = Attrs{"bits": 40} }, `node 0 (relu "r"): field "bits" is 40, want 2..16`},
		{func(b *GraphBuilder) { b.Tensor("z", gkr.Advice, []int{1}, tensorstore.Int8) }, `tensor "z": field "role" is "advice"`},
		{func(b *GraphBuilder) { b.Data("x", []int64{1, 2, 3}) }, `tensor "x": 3 values for shape [4]`},
		{func(b *GraphBuilder) { b.Data("x", []int64{1, 2, 3, 200}) }, `tensor "x": value 200 at index 3 is outside int8`},
		{func(b *GraphBuilder) { b.Data("q", []int64{1}) }, `tensor "q" has data but is not declared`},
		{func(b *GraphBuilder) { b.Node("add", "s", []string{"x"}, "z", nil) }, `node 2 (add "s"): field "in" has 1 tensors, want 2`},
	}
	for i, c := range cases {
		b := base()
		c.edit(b)
		_, err := b.Build()
		if !errors.Is(err, ErrGraph) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("case %d: %v, want ErrGraph mentioning %q", i, err, c.want)
		}
	}
	if _, err := base().Build(); err != nil {
		t.Fatal(err)
	}
}
