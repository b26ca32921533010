package scheduler

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/streamprove/streamprove/spill"
	"github.com/streamprove/streamprove/tensorstore"
)

// planSweepEnv, when set, widens TestPlanIsAPromise to a larger sweep of shapes and budgets.
const planSweepEnv = "STREAMPROVE_PLAN_SWEEP"

// TestPlanIsAPromise checks that the plan is exact on generated MLPs with lookups (issue 11):
// for every shape and every budget from the least the plan accepts upwards, a prove in a child
// process succeeds with its real peak RSS (VmHWM) within the budget and its proof verifies; below
// the least budget the plan refuses, and so does prove, before anything runs (no forward output
// is written). By default a handful of small, activation-heavy shapes (activations as large as
// the weights or larger); -short keeps one; STREAMPROVE_PLAN_SWEEP=1 sweeps more.
func TestPlanIsAPromise(t *testing.T) {
	type shape struct{ layers, width, batch int }
	shapes := []shape{{2, 1024, 64}, {3, 128, 1024}, {2, 512, 512}}
	budgets := []int64{0, 16 << 20} // above the least accepted budget
	if testing.Short() {
		shapes, budgets = shapes[:1], budgets[:1]
	}
	if os.Getenv(planSweepEnv) != "" {
		shapes = nil
		for _, layers := range []int{2, 3} {
			for _, width := range []int{64, 512, 1024, 4096} {
				for _, batch := range []int{1, 64, 256, 1024} {
					if width*batch <= 1<<20 {
						shapes = append(shapes, shape{layers, width, batch})
					}
				}
			}
		}
		shapes = append(shapes, shape{2, 4096, 128})
		budgets = []int64{0, 8 << 20, 16 << 20, 48 << 20, 128 << 20}
	}
	for _, sh := range shapes {
		t.Run(fmt.Sprintf("%dx%dx%d", sh.layers, sh.width, sh.batch), func(t *testing.T) {
			store := genModel(t, GenSpec{Layers: sh.layers, Width: sh.width, Batch: sh.batch, Seed: uint64(sh.width + sh.batch)})
			least := leastPlanned(t, store)

			// Below the least budget: plan and prove refuse, and prove writes nothing.
			if below := least - 4<<20; below > 0 {
				_, _, perr := PlanStore(store, below)
				if !errors.Is(perr, spill.ErrBudget) {
					t.Fatalf("plan at %s (least %s): %v, want a budget refusal", spill.FormatBytes(below), spill.FormatBytes(least), perr)
				}
				// Above the run's floor the refusal names the kernel and the least budget.
				want := "below the minimum"
				if below >= spill.MinBudget {
					want = "needs at least --mem-budget "
					if !strings.Contains(perr.Error(), "kernel ") || !strings.Contains(perr.Error(), want) {
						t.Fatalf("plan's refusal at %s does not name a kernel and the least budget: %v", spill.FormatBytes(below), perr)
					}
				}
				out := filepath.Join(t.TempDir(), "refused.bin")
				_, err := runChild(t, "STREAMPROVE_CHILD=prove", "CHILD_STORE="+store, "CHILD_OUT="+out,
					"CHILD_BUDGET="+strconv.FormatInt(below, 10))
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Fatalf("prove at %s, below the least planned budget %s: %v, want a refusal (%q)", spill.FormatBytes(below), spill.FormatBytes(least), err, want)
				}
				t.Logf("least planned budget %s; at %s: %v", spill.FormatBytes(least), spill.FormatBytes(below), perr)
				if h := forwardOutput(t, store); h != "" {
					t.Fatalf("prove at %s refused but wrote %q first", spill.FormatBytes(below), h)
				}
			}

			for _, extra := range budgets {
				budget := least + extra
				out := filepath.Join(t.TempDir(), "proof.bin")
				rep, err := runChild(t, "STREAMPROVE_CHILD=prove", "CHILD_STORE="+store, "CHILD_OUT="+out,
					"CHILD_BUDGET="+strconv.FormatInt(budget, 10))
				if err != nil {
					t.Fatalf("plan accepts %s but prove fails: %v", spill.FormatBytes(budget), err)
				}
				spills := 0
				for _, sp := range rep.Plan {
					if sp.Spills {
						spills++
					}
				}
				t.Logf("budget %s: VmHWM %s, prove %.2fs, witness %s, %d of %d steps spill",
					spill.FormatBytes(budget), spill.FormatBytes(rep.PeakRSSBytes), rep.ProveSeconds,
					spill.FormatBytes(rep.WitnessBytes), spills, len(rep.Plan))
				if rep.PeakRSSBytes > budget {
					t.Fatalf("budget %s: VmHWM %s exceeds it", spill.FormatBytes(budget), spill.FormatBytes(rep.PeakRSSBytes))
				}
				if vr, err := Verify(store, out, ""); err != nil || !vr.Verified {
					t.Fatalf("budget %s: proof does not verify: %v", spill.FormatBytes(budget), err)
				}
			}
		})
	}
}

// leastPlanned returns the least budget, in steps of 1 MiB from the minimum, that the plan of
// the store's model accepts.
func leastPlanned(t *testing.T, store string) int64 {
	t.Helper()
	for b := int64(spill.MinBudget); b <= 64<<30; b += 1 << 20 {
		_, _, err := PlanStore(store, b)
		if err == nil {
			return b
		}
		if !errors.Is(err, spill.ErrBudget) {
			t.Fatal(err)
		}
	}
	t.Fatal("no budget up to 64 GiB is accepted")
	return 0
}

// forwardOutput returns the name of a tensor the forward pass writes that exists in the store
// ("" when none does).
func forwardOutput(t *testing.T, store string) string {
	t.Helper()
	s, err := tensorstore.Open(store)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	m, err := LoadModel(s)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range m.Kernels {
		for _, o := range k.Outputs() {
			if _, err := s.Stat(o); err == nil {
				return o
			}
		}
	}
	return ""
}
