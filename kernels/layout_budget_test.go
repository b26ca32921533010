package kernels

import (
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/streamprove/streamprove/gkr"
	"github.com/streamprove/streamprove/internal/childtest"
	"github.com/streamprove/streamprove/pcs"
	"github.com/streamprove/streamprove/spill"
	"github.com/streamprove/streamprove/sumcheck"
	"github.com/streamprove/streamprove/tensorstore"
)

const (
	layoutBudgetEnv   = "STREAMPROVE_LAYOUT_BUDGET_DIR"
	layoutBudgetBytes = 32 << 20
)

// layoutBudgetX is 64 × 255 × 1024 (2^24 padded elements, 512 MiB as field elements: 16× the
// budget). The slice to [64, 253, 1000] and the reshape to [16192, 1000] (which changes the
// padding) are each a sumcheck over 2^24 variables' worth of X; a linear layer of 4 outputs
// makes the public output small.
var layoutBudgetX = []int{64, 255, 1024}

// TestLayoutBudget runs forward, prove and verify of slice → repad reshape → linear in a child
// process under a 32 MiB budget and checks the child's real peak RSS (VmHWM).
func TestLayoutBudget(t *testing.T) {
	if childtest.IsChild() {
		layoutBudgetChild(t, os.Getenv(layoutBudgetEnv))
		return
	}
	if testing.Short() {
		t.Skip("proves a slice and a reshape of a 2^24-element tensor under a 32 MiB budget")
	}
	out := childtest.Run(t, "TestLayoutBudget", layoutBudgetEnv+"="+t.TempDir())
	for _, r := range out.Values("REPORT") {
		t.Log(r)
	}
	hwm := out.CheckPeakRSS(t, layoutBudgetBytes)
	t.Logf("input %v (%s as field elements), budget %s, child VmHWM %s", layoutBudgetX,
		spill.FormatBytes(32*gkr.Numel(layoutBudgetX)), spill.FormatBytes(layoutBudgetBytes), spill.FormatBytes(hwm))
}

func layoutBudgetChild(t *testing.T, dir string) {
	spill.SetMemoryLimit(layoutBudgetBytes)
	bud := spill.NewBudget(layoutBudgetBytes - spill.RuntimeOverhead)
	bm := newBudgetModel(t, dir, "layout budget", bud, 7)
	s, g, bounds, opts, data := bm.s, bm.g, bm.bounds, bm.opts, bm.data
	data("x", gkr.Input, layoutBudgetX, tensorstore.Int8)
	data("w", gkr.Weight, []int{4, 1000}, tensorstore.Int8)
	sl := NewSlice("sl", "x", "s", []int{0, 1, 0}, []int{64, 254, 1000}, nil)
	rs := NewReshape("rs", "s", "r")
	ln := NewLinear("fc", "r", "w", "", "y")
	g.Tensors["s"] = &gkr.TensorInfo{Name: "s", Shape: []int{64, 253, 1000}, Role: gkr.Intermediate}
	g.Tensors["r"] = &gkr.TensorInfo{Name: "r", Shape: []int{64 * 253, 1000}, Role: gkr.Intermediate}
	g.Tensors["y"] = &gkr.TensorInfo{Name: "y", Shape: []int{64 * 253, 4}, Role: gkr.Output}
	g.Kernels = []gkr.Kernel{sl, rs, ln}

	start := time.Now()
	fc := &ForwardCtx{Store: s, Graph: g, Budget: bud, Bounds: bounds, Write: opts, ChunkElems: 1 << 14}
	for _, k := range []Kernel{sl, rs, ln} {
		if err := k.Forward(fc); err != nil {
			t.Fatal(err)
		}
	}
	fwd := time.Since(start)
	w := &StoreWitness{Store: s, Budget: bud}
	defer w.Close()
	cm := map[string]*pcs.Commitment{}
	src, err := w.Source("w")
	if err != nil {
		t.Fatal(err)
	}
	if cm["w"], err = pcs.Commit(src, pcs.Options{Budget: bud}); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir+"/spill", 0o755); err != nil {
		t.Fatal(err)
	}
	padding, err := gkr.ProveWeightPadding(g, cm, w, pcs.Options{Budget: bud})
	if err != nil {
		t.Fatal(err)
	}
	pub := gkr.Public{Inputs: &StoreWitness{Store: s, Budget: bud, Allow: map[string]bool{"x": true}}, Commitments: cm, WeightPadding: padding}
	start = time.Now()
	proof, err := gkr.Prove(g, w, pub, gkr.Options{Sumcheck: sumcheck.Options{Budget: bud, SpillDir: dir + "/spill"}, PCS: pcs.Options{Budget: bud}})
	if err != nil {
		t.Fatal(err)
	}
	prv := time.Since(start)
	start = time.Now()
	if _, err := gkr.Verify(g, pub, proof); err != nil {
		t.Fatalf("verify: %v", err)
	}
	ver := time.Since(start)
	fmt.Printf("REPORT forward %v, prove %v, verify %v (includes the public input's MLE), proof %d bytes, ledger peak %s of %s\n",
		fwd.Round(time.Millisecond), prv.Round(time.Millisecond), ver.Round(time.Millisecond), len(proof), spill.FormatBytes(bud.Peak()), spill.FormatBytes(bud.Limit()))
	childtest.ReportPeakRSS(t)
}
