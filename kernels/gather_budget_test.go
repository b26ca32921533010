package kernels

import (
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/streamprove/streamprove/gkr"
	"github.com/streamprove/streamprove/internal/childtest"
	"github.com/streamprove/streamprove/spill"
	"github.com/streamprove/streamprove/sumcheck"
	"github.com/streamprove/streamprove/tensorstore"
)

const (
	gatherBudgetEnv   = "STREAMPROVE_GATHER_BUDGET_DIR"
	gatherBudgetV     = 30000    // table rows (padded 2^15)
	gatherBudgetT     = 500      // private token ids (padded 2^9)
	gatherBudgetD     = 8        // table columns
	gatherBudgetBytes = 32 << 20 // the one-hot [T, V] is 2^24 elements, 512 MiB as field elements: 16×
)

// TestGatherPrivateBudget proves a gather with private ids whose committed one-hot [500, 30000]
// is 16× the 32 MiB budget as field elements, in a child process: forward, prove and verify,
// the child's real peak RSS (VmHWM) checked against the budget.
func TestGatherPrivateBudget(t *testing.T) {
	if childtest.IsChild() {
		gatherBudgetChild(t, os.Getenv(gatherBudgetEnv))
		return
	}
	if testing.Short() {
		t.Skip("proves a private-id gather whose one-hot is 16× a 32 MiB budget")
	}
	out := childtest.Run(t, "TestGatherPrivateBudget", gatherBudgetEnv+"="+t.TempDir())
	for _, r := range out.Values("REPORT") {
		t.Log(r)
	}
	hwm := out.CheckPeakRSS(t, gatherBudgetBytes)
	t.Logf("one-hot %s as field elements, budget %s, child VmHWM %s", spill.FormatBytes(32<<24),
		spill.FormatBytes(gatherBudgetBytes), spill.FormatBytes(hwm))
}

func gatherBudgetChild(t *testing.T, dir string) {
	spill.SetMemoryLimit(gatherBudgetBytes)
	bud := spill.NewBudget(gatherBudgetBytes - spill.RuntimeOverhead)
	m := newBudgetModel(t, dir, "private gather", bud, 11)
	// The table is public here (no weight commitment to make); the ids are private.
	m.data("w", gkr.Input, []int{gatherBudgetV, gatherBudgetD}, tensorstore.Int8)
	w, err := m.s.Create("ids", []int{gatherBudgetT}, tensorstore.Int32, m.opts)
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]int64, gatherBudgetT)
	for i := range ids {
		ids[i] = m.rng.Int64N(gatherBudgetV)
	}
	if err := w.WriteInt64s(ids); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	m.g.Tensors["ids"] = &gkr.TensorInfo{Name: "ids", Shape: []int{gatherBudgetT}, Role: gkr.PrivateInput}
	m.bounds["ids"] = BoundForDType(tensorstore.Int32)
	k := NewGatherPrivate("embed", "w", "ids", "y")
	infos, err := k.Declare(m.g)
	if err != nil {
		t.Fatal(err)
	}
	for i := range infos {
		m.g.Tensors[infos[i].Name] = &infos[i]
	}
	m.g.Tensors["y"] = &gkr.TensorInfo{Name: "y", Shape: []int{gatherBudgetT, gatherBudgetD}, Role: gkr.Output}
	m.g.Kernels = append(m.g.Kernels, k)
	start := time.Now()
	fc := &ForwardCtx{Store: m.s, Graph: m.g, Budget: bud, Bounds: m.bounds, Write: m.opts}
	if err := k.Forward(fc); err != nil {
		t.Fatal(err)
	}
	fwd := time.Since(start)
	if err := os.MkdirAll(dir+"/spill", 0o755); err != nil {
		t.Fatal(err)
	}
	pub := gkr.Public{Inputs: &StoreWitness{Store: m.s, Allow: map[string]bool{"w": true}, Budget: bud}}
	wit := &StoreWitness{Store: m.s, Budget: bud}
	start = time.Now()
	proof, err := gkr.Prove(m.g, wit, pub, gkr.Options{Sumcheck: sumcheck.Options{Budget: bud, SpillDir: dir + "/spill"}})
	wit.Close()
	if err != nil {
		t.Fatal(err)
	}
	prv := time.Since(start)
	start = time.Now()
	if _, err := gkr.Verify(m.g, pub, proof); err != nil {
		t.Fatalf("verify: %v", err)
	}
	ver := time.Since(start)
	fmt.Printf("REPORT forward %v, prove %v, verify %v, proof %d bytes, ledger peak %s of %s\n",
		fwd.Round(time.Millisecond), prv.Round(time.Millisecond), ver.Round(time.Millisecond), len(proof),
		spill.FormatBytes(bud.Peak()), spill.FormatBytes(bud.Limit()))
	childtest.ReportPeakRSS(t)
}
