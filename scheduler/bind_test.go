package scheduler

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/streamprove/streamprove/gkr"
	"github.com/streamprove/streamprove/tensorstore"
)

// linearGraph is y = x·wᵀ with x [batch, 12] (batch dynamic when dynamic is set), committed.
func linearGraph(t *testing.T, dynamic bool) (store string, w []int64) {
	return linearGraphRole(t, gkr.Input, dynamic)
}

// linearGraphRole is linearGraph with x of the given role (an input or a private input).
func linearGraphRole(t *testing.T, role gkr.Role, dynamic bool) (store string, w []int64) {
	t.Helper()
	dir := t.TempDir()
	b := NewGraphBuilder("lin")
	x := b.Tensor("x", role, []int{4, 12}, tensorstore.Int8)
	if dynamic {
		x.DimParams = []string{"batch", ""}
	}
	b.Data("x", make([]int64, 48))
	b.Tensor("w", gkr.Weight, []int{5, 12}, tensorstore.Int8)
	w = make([]int64, 60)
	for i := range w {
		w[i] = int64(i%7 - 3)
	}
	b.Data("w", w)
	b.Output("y")
	b.Node("linear", "fc", []string{"x", "w"}, "y", nil)
	g, err := b.WriteFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	store = filepath.Join(dir, "store")
	if _, err := Import(store, g, tensorstore.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := Commit(store, Config{}); err != nil {
		t.Fatal(err)
	}
	return store, w
}

// TestProveInputGraphJSON: prove --input proves a new input of a graph-JSON model without
// re-importing; the batch may change only where the graph declares it dynamic; a verifier
// given another input rejects the proof.
func TestProveInputGraphJSON(t *testing.T) {
	for _, dynamic := range []bool{false, true} {
		store, w := linearGraph(t, dynamic)
		dir := t.TempDir()
		for _, batch := range []int{4, 6} {
			x := make([]int64, batch*12)
			for i := range x {
				x[i] = int64(i%11 - 5)
			}
			in := filepath.Join(dir, fmt.Sprintf("x%d.npy", batch))
			if err := tensorstore.WriteNPY(in, tensorstore.Array{Name: "x", DType: "I8", Shape: []int{batch, 12}, Values: x}); err != nil {
				t.Fatal(err)
			}
			proof := filepath.Join(dir, fmt.Sprintf("p%d", batch))
			_, err := Prove(store, proof, Config{Input: in})
			if !dynamic && batch != 4 {
				if err == nil || !strings.Contains(err.Error(), `tensor "x": field "shape"`) || !strings.Contains(err.Error(), "not dynamic") {
					t.Errorf("a fixed batch of 4 proved an input of %d: %v", batch, err)
				}
				continue
			}
			if err != nil {
				t.Fatalf("dynamic %v, batch %d: %v", dynamic, batch, err)
			}
			rep, err := Verify(store, proof, in)
			if err != nil || !rep.Verified {
				t.Fatalf("dynamic %v, batch %d: verify: %v", dynamic, batch, err)
			}
			for r := 0; r < batch; r++ {
				for o := 0; o < 5; o++ {
					s := int64(0)
					for i := 0; i < 12; i++ {
						s += x[r*12+i] * w[o*12+i]
					}
					if got := rep.Outputs["y"].Values[r*5+o]; got != fmt.Sprint(s) {
						t.Fatalf("batch %d: y[%d,%d] proven %s, want %d", batch, r, o, got, s)
					}
				}
			}
			// The same shape with other values: the transcript absorbs the input, rejected.
			x[0]++
			other := filepath.Join(dir, "other.npy")
			if err := tensorstore.WriteNPY(other, tensorstore.Array{Name: "x", DType: "I8", Shape: []int{batch, 12}, Values: x}); err != nil {
				t.Fatal(err)
			}
			if _, err := Verify(store, proof, other); !errors.Is(err, ErrRejected) {
				t.Errorf("batch %d: verified against another input: %v", batch, err)
			}
		}
	}
}

// TestProvePrivateInput: prove --input also takes a private input (the prover's to choose: a
// prompt proven under a model committed once), held to its declared shape; the proof verifies
// without it and its outputs are the new input's. The verifier's --input refuses it: a
// private input is never read by verify.
func TestProvePrivateInput(t *testing.T) {
	store, w := linearGraphRole(t, gkr.PrivateInput, false)
	dir := t.TempDir()
	input := func(name string, rows int) (string, []int64) {
		x := make([]int64, rows*12)
		for i := range x {
			x[i] = int64(i%13 - 6)
		}
		p := filepath.Join(dir, name)
		if err := tensorstore.WriteNPY(p, tensorstore.Array{Name: "x", DType: "I8", Shape: []int{rows, 12}, Values: x}); err != nil {
			t.Fatal(err)
		}
		return p, x
	}
	in, x := input("x.npy", 4)
	proof := filepath.Join(dir, "proof")
	if _, err := Prove(store, proof, Config{Input: in}); err != nil {
		t.Fatal(err)
	}
	rep, err := Verify(store, proof, "")
	if err != nil || !rep.Verified {
		t.Fatalf("verify without the private input: %v", err)
	}
	for r := 0; r < 4; r++ {
		for o := 0; o < 5; o++ {
			s := int64(0)
			for i := 0; i < 12; i++ {
				s += x[r*12+i] * w[o*12+i]
			}
			if got := rep.Outputs["y"].Values[r*5+o]; got != fmt.Sprint(s) {
				t.Fatalf("y[%d,%d] proven %s, want %d (the --input's)", r, o, got, s)
			}
		}
	}
	if _, err := Verify(store, proof, in); err == nil || errors.Is(err, ErrRejected) || !strings.Contains(err.Error(), "private") {
		t.Errorf("verify --input with a private input's .npy: %v, want a refusal naming it private", err)
	}
	st := filepath.Join(dir, "x.safetensors")
	if err := tensorstore.WriteSafetensors(st, []tensorstore.Array{{Name: "x", DType: "I8", Shape: []int{4, 12}, Values: x}}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(store, proof, st); err == nil || errors.Is(err, ErrRejected) || !strings.Contains(err.Error(), `"x" is a private input`) {
		t.Errorf("verify --input naming the private input: %v, want a refusal", err)
	}
	wide, _ := input("x6.npy", 6)
	if _, err := Prove(store, filepath.Join(dir, "p6"), Config{Input: wide}); err == nil || !strings.Contains(err.Error(), `tensor "x": field "shape"`) {
		t.Errorf("a private input of another shape: %v, want a refusal naming its shape", err)
	}
}

// TestBindRefusals: dynamic dimensions are declared on public inputs only, by name, and one
// name takes one value.
func TestBindRefusals(t *testing.T) {
	b := NewGraphBuilder("two")
	b.Tensor("a", gkr.Input, []int{2, 4}, tensorstore.Int8).DimParams = []string{"n", ""}
	b.Tensor("b", gkr.Input, []int{2, 4}, tensorstore.Int8).DimParams = []string{"n", ""}
	b.Output("y")
	b.Node("add", "s", []string{"a", "b"}, "y", nil)
	m, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Bind(map[string][]int{"a": {3, 4}, "b": {3, 4}}); err != nil {
		t.Errorf("a consistent binding: %v", err)
	}
	if _, err := m.Bind(map[string][]int{"a": {3, 4}, "b": {5, 4}}); err == nil || !strings.Contains(err.Error(), "binds n to 3") {
		t.Errorf("n bound to 3 and 5: %v", err)
	}
	for _, c := range []struct {
		params []string
		role   gkr.Role
		want   string
	}{
		{[]string{"n"}, gkr.Input, "1 entries for a rank-2"},
		{[]string{"n-1", ""}, gkr.Input, "is not a name"},
		{[]string{"n", ""}, gkr.Weight, "only a public input"},
	} {
		b := NewGraphBuilder("bad")
		b.Tensor("a", c.role, []int{2, 4}, tensorstore.Int8).DimParams = c.params
		b.Tensor("b", gkr.Input, []int{2, 4}, tensorstore.Int8)
		b.Output("y")
		b.Node("add", "s", []string{"a", "b"}, "y", nil)
		if _, err := b.Build(); err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), `"dim_params"`) {
			t.Errorf("dim_params %q on a %v: %v, want %q", c.params, c.role, err, c.want)
		}
	}
}
