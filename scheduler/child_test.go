package scheduler

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"

	"github.com/streamprove/streamprove/internal/procstat"
	"github.com/streamprove/streamprove/spill"
)

// The tests below run a prover in a child process (this test binary, re-executed with
// STREAMPROVE_CHILD set) so that its peak RSS is its own and it can be killed for real.

func TestMain(m *testing.M) {
	if mode := os.Getenv("STREAMPROVE_CHILD"); mode != "" {
		os.Exit(childMain(mode))
	}
	os.Exit(m.Run())
}

func childMain(mode string) int {
	store, out := os.Getenv("CHILD_STORE"), os.Getenv("CHILD_OUT")
	budget, _ := strconv.ParseInt(os.Getenv("CHILD_BUDGET"), 10, 64)
	cfg := Config{MemBudget: budget, Resume: os.Getenv("CHILD_RESUME") == "1"}
	if mode == "kill" {
		// SIGKILL ourselves when the named phase reaches the given step: a real crash, with
		// no deferred cleanup and no flushing.
		phase := os.Getenv("CHILD_KILL_PHASE")
		at, _ := strconv.Atoi(os.Getenv("CHILD_KILL_AT"))
		cfg.Progress = func(e Event) {
			if e.Phase == phase && e.Done == at {
				syscall.Kill(os.Getpid(), syscall.SIGKILL)
			}
		}
	}
	if mode == "commit" {
		if _, err := Commit(store, cfg); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		peak, _ := procstat.PeakRSS()
		json.NewEncoder(os.Stdout).Encode(&Report{PeakRSSBytes: peak, BudgetBytes: budget})
		return 0
	}
	rep, err := Prove(store, out, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	json.NewEncoder(os.Stdout).Encode(rep)
	return 0
}

func runChild(t *testing.T, env ...string) (*Report, error) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.Output()
	if err != nil {
		if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
			return nil, fmt.Errorf("%w: %s", err, ee.Stderr)
		}
		return nil, err
	}
	var rep Report
	if err := json.Unmarshal(out, &rep); err != nil {
		return nil, fmt.Errorf("child report %q: %w", out, err)
	}
	return &rep, nil
}

// genModel makes a committed synthetic store.
func genModel(t *testing.T, spec GenSpec) string {
	t.Helper()
	store := filepath.Join(t.TempDir(), "store")
	if _, err := Gen(store, spec); err != nil {
		t.Fatal(err)
	}
	if _, err := Commit(store, Config{}); err != nil {
		t.Fatal(err)
	}
	return store
}

func TestCrashAndResume(t *testing.T) {
	store := genModel(t, GenSpec{Layers: 3, Width: 64, Batch: 2, Seed: 5})
	out := filepath.Join(t.TempDir(), "proof.bin")
	for _, kill := range []struct {
		phase string
		at    int
	}{{"forward", 2}, {"prove", 2}} {
		_, err := runChild(t, "STREAMPROVE_CHILD=kill", "CHILD_STORE="+store, "CHILD_OUT="+out,
			"CHILD_KILL_PHASE="+kill.phase, "CHILD_KILL_AT="+strconv.Itoa(kill.at), "CHILD_RESUME=1")
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ProcessState.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Fatalf("kill during %s: child ended with %v, want SIGKILL", kill.phase, err)
		}
		if _, err := os.Stat(out); err == nil {
			t.Fatalf("kill during %s: a proof file exists after the crash", kill.phase)
		}
		rep, err := runChild(t, "STREAMPROVE_CHILD=prove", "CHILD_STORE="+store, "CHILD_OUT="+out, "CHILD_RESUME=1")
		if err != nil {
			t.Fatalf("resume after a kill during %s: %v", kill.phase, err)
		}
		if rep.ResumedSteps == 0 {
			t.Fatalf("resume after a kill during %s redid everything", kill.phase)
		}
		if vr, err := Verify(store, out, ""); err != nil || !vr.Verified {
			t.Fatalf("resumed proof (kill during %s): %v", kill.phase, err)
		}
		os.Remove(out)
	}
}

// TestBudgetEndToEnd proves generated models whose witness is ≥ 16× the budget in a child
// process and checks the child's real peak RSS (VmHWM): a two-layer MLP at 256 MiB (issue 7),
// and one linear layer whose weight alone is 16× a 128 MiB budget (issue 5).
func TestBudgetEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-GiB witness; run without -short")
	}
	for _, c := range []struct {
		name   string
		spec   GenSpec
		budget int64
		weight int64 // bytes (as field elements) of the largest weight that must exceed 16× budget
	}{
		{"mlp-2x8192", GenSpec{Layers: 2, Width: 8192, Batch: 1, Seed: 6}, 256 << 20, 0},
		{"linear-8192", GenSpec{Layers: 1, Width: 8192, Batch: 4, Seed: 7}, 128 << 20, 8192 * 8192 * 32},
		// int16 lookups with 2^20-row tables under a tight budget: the tables must leave room
		// for the readers that follow them (weight -1: no 16× witness requirement).
		{"int16-lookups", GenSpec{Layers: 3, Width: 300, Batch: 5, DType: "int16", Seed: 8}, 80 << 20, -1},
	} {
		t.Run(c.name, func(t *testing.T) {
			// gen, then commit in a child under the same budget: commit streams too.
			store := filepath.Join(t.TempDir(), "store")
			if _, err := Gen(store, c.spec); err != nil {
				t.Fatal(err)
			}
			crep, err := runChild(t, "STREAMPROVE_CHILD=commit", "CHILD_STORE="+store, "CHILD_BUDGET="+strconv.FormatInt(c.budget, 10))
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("commit: peak RSS %s (budget %s)", spill.FormatBytes(crep.PeakRSSBytes), spill.FormatBytes(c.budget))
			if crep.PeakRSSBytes >= c.budget {
				t.Fatalf("commit: peak RSS %s ≥ budget %s", spill.FormatBytes(crep.PeakRSSBytes), spill.FormatBytes(c.budget))
			}
			out := filepath.Join(t.TempDir(), "proof.bin")
			rep, err := runChild(t, "STREAMPROVE_CHILD=prove", "CHILD_STORE="+store, "CHILD_OUT="+out,
				"CHILD_BUDGET="+strconv.FormatInt(c.budget, 10))
			if err != nil {
				t.Fatal(err)
			}
			if c.weight >= 0 && (rep.WitnessBytes < 16*c.budget || c.weight > 0 && c.weight < 16*c.budget) {
				t.Fatalf("witness %s is not 16× the budget", spill.FormatBytes(rep.WitnessBytes))
			}
			t.Logf("witness %s, budget %s, peak RSS %s, %.1fs", spill.FormatBytes(rep.WitnessBytes), spill.FormatBytes(c.budget),
				spill.FormatBytes(rep.PeakRSSBytes), rep.WallSeconds)
			if rep.PeakRSSBytes >= c.budget {
				t.Fatalf("peak RSS %s ≥ budget %s", spill.FormatBytes(rep.PeakRSSBytes), spill.FormatBytes(c.budget))
			}
			if vr, err := Verify(store, out, ""); err != nil || !vr.Verified {
				t.Fatalf("proof under budget: %v", err)
			}
		})
	}
}
