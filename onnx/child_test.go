package onnx

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/streamprove/streamprove/scheduler"
)

// Provers whose peak RSS a test checks run in a child process (this test binary, re-executed
// with STREAMPROVE_ONNX_CHILD set), so that VmHWM is the prover's own and not the test's.

func TestMain(m *testing.M) {
	if os.Getenv("STREAMPROVE_ONNX_CHILD") == "prove" {
		os.Exit(childProve())
	}
	os.Exit(m.Run())
}

func childProve() int {
	budget, _ := strconv.ParseInt(os.Getenv("CHILD_BUDGET"), 10, 64)
	rep, err := scheduler.Prove(os.Getenv("CHILD_STORE"), os.Getenv("CHILD_OUT"), scheduler.Config{MemBudget: budget, Input: os.Getenv("CHILD_INPUT")})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	json.NewEncoder(os.Stdout).Encode(rep)
	return 0
}

// proveInChild proves the committed store st into proof under budget in a child process and
// returns its report, whose PeakRSSBytes is the child's VmHWM. input, when set, is given to the
// prover as prove --input.
func proveInChild(t *testing.T, st, proof string, budget int64, input ...string) *scheduler.Report {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "STREAMPROVE_ONNX_CHILD=prove", "CHILD_STORE="+st, "CHILD_OUT="+proof,
		"CHILD_BUDGET="+strconv.FormatInt(budget, 10), "CHILD_INPUT="+strings.Join(input, ""))
	out, err := cmd.Output()
	if err != nil {
		if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
			t.Fatalf("child prover: %v: %s", err, ee.Stderr)
		}
		t.Fatal(err)
	}
	var rep scheduler.Report
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("child report %q: %v", out, err)
	}
	return &rep
}
