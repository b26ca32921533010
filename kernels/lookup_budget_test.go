package kernels

import (
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/streamprove/streamprove/internal/childtest"
	"github.com/streamprove/streamprove/spill"
	"github.com/streamprove/streamprove/tensorstore"
)

const (
	lookupBudgetEnv   = "STREAMPROVE_LOOKUP_BUDGET_DIR"
	lookupBudgetRows  = 1 << 12
	lookupBudgetCols  = 1 << 12  // 2^24 elements: 512 MiB as field elements
	lookupBudgetBytes = 32 << 20 // 16× smaller than the tensor as field elements
)

// TestLookupBudget proves a fused requant+ReLU over a tensor of 2^24 elements (512 MiB as field
// elements) in a child process whose budget is 32 MiB, and checks the child's real peak RSS
// (VmHWM) against the budget; the child also verifies the proof.
func TestLookupBudget(t *testing.T) {
	if childtest.IsChild() {
		lookupBudgetChild(t, os.Getenv(lookupBudgetEnv))
		return
	}
	if testing.Short() {
		t.Skip("proves a 2^24-element lookup under a 32 MiB budget")
	}
	out := childtest.Run(t, "TestLookupBudget", lookupBudgetEnv+"="+t.TempDir())
	for _, r := range out.Values("REPORT") {
		t.Log(r)
	}
	hwm := out.CheckPeakRSS(t, lookupBudgetBytes)
	t.Logf("2^24 elements (%s as field elements), budget %s, child VmHWM %s",
		spill.FormatBytes(32*lookupBudgetRows*lookupBudgetCols), spill.FormatBytes(lookupBudgetBytes), spill.FormatBytes(hwm))
}

func lookupBudgetChild(t *testing.T, dir string) {
	spill.SetMemoryLimit(lookupBudgetBytes)
	// The ledger gets what a plan would give it: the budget less the runtime's share (the Go
	// runtime, the test binary, the store's readers).
	bud := spill.NewBudget(lookupBudgetBytes - spill.RuntimeOverhead)
	s, err := tensorstore.Open(dir + "/store")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	start := time.Now()
	g, err := lookupGraph(s, "requant_relu", lookupBudgetRows, lookupBudgetCols, bud)
	if err != nil {
		t.Fatal(err)
	}
	fwd := time.Since(start)
	if err := os.MkdirAll(dir+"/spill", 0o755); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	times, proof, err := proveLookupGraph(s, g, bud, dir+"/spill")
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("REPORT forward %v, prove+verify %v, steps %v, proof %d bytes, ledger peak %s of %s\n",
		fwd.Round(time.Millisecond), time.Since(start).Round(time.Millisecond), times, len(proof), spill.FormatBytes(bud.Peak()), spill.FormatBytes(bud.Limit()))
	childtest.ReportPeakRSS(t)
}
