// Package childtest runs part of a test in a child process — the test binary re-executed with
// only that test — so the test can check the child's real peak RSS (VmHWM) against a memory
// budget, which is the promise --mem-budget makes. The child reports results as "key value"
// lines on stdout (Report, ReportPeakRSS); the parent reads them back from the Output.
//
//	func TestBig(t *testing.T) {
//		if childtest.IsChild() {
//			… work under the budget …
//			childtest.ReportPeakRSS(t)
//			return
//		}
//		out := childtest.Run(t, "TestBig", "BIG_DIR="+t.TempDir())
//		out.CheckPeakRSS(t, budget)
//	}
//
// It is test-only code, shared by the packages' budget tests.
package childtest

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/streamprove/streamprove/internal/procstat"
	"github.com/streamprove/streamprove/spill"
)

// childEnv marks the child run; its value is the test the child runs.
const childEnv = "STREAMPROVE_CHILD_TEST"

// IsChild reports whether this process is a child started by Run.
func IsChild() bool { return os.Getenv(childEnv) != "" }

// Output is what a child printed (stdout and stderr together).
type Output struct {
	Text string
	// Took is the child's wall time.
	Took time.Duration
}

// Run runs the test named test (exactly; a top-level test of this binary) in a child process,
// with env ("KEY=value") added to the environment, and returns its output. It fails t, with the
// output, when the child fails. The child has no test timeout of its own: it is the parent's.
func Run(t testing.TB, test string, env ...string) *Output {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+test+"$", "-test.v", "-test.timeout=0")
	cmd.Env = append(append(os.Environ(), childEnv+"="+test), env...)
	start := time.Now()
	out, err := cmd.CombinedOutput()
	o := &Output{Text: string(out), Took: time.Since(start)}
	if err != nil {
		t.Fatalf("child %s: %v\n%s", test, err, out)
	}
	return o
}

// Report prints a "key value" line for the parent to read (key must be one word).
func Report(key string, value any) { fmt.Printf("%s %v\n", key, value) }

// peakKey is the key under which ReportPeakRSS reports.
const peakKey = "VmHWM"

// ReportPeakRSS reports this process's peak RSS (VmHWM); call it last in the child.
func ReportPeakRSS(t testing.TB) {
	t.Helper()
	hwm, err := procstat.PeakRSS()
	if err != nil {
		t.Fatal(err)
	}
	Report(peakKey, hwm)
}

// Values returns the values of every line the child reported under key, in order.
func (o *Output) Values(key string) []string {
	var vs []string
	sc := bufio.NewScanner(strings.NewReader(o.Text))
	for sc.Scan() {
		if rest, found := strings.CutPrefix(sc.Text(), key+" "); found {
			vs = append(vs, rest)
		}
	}
	return vs
}

// Value returns the value of the last line the child reported under key.
func (o *Output) Value(key string) (string, bool) {
	vs := o.Values(key)
	if len(vs) == 0 {
		return "", false
	}
	return vs[len(vs)-1], true
}

// Int returns the integer the child reported under key; it fails t when there is none.
func (o *Output) Int(t testing.TB, key string) int64 {
	t.Helper()
	s, ok := o.Value(key)
	if !ok {
		t.Fatalf("child reported no %s:\n%s", key, o.Text)
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatalf("child reported %s %q: %v", key, s, err)
	}
	return v
}

// PeakRSS returns the peak RSS the child reported (ReportPeakRSS); it fails t when there is none.
func (o *Output) PeakRSS(t testing.TB) int64 {
	t.Helper()
	return o.Int(t, peakKey)
}

// CheckPeakRSS fails t unless the child's reported peak RSS is below budget, and returns it.
func (o *Output) CheckPeakRSS(t testing.TB, budget int64) int64 {
	t.Helper()
	hwm := o.PeakRSS(t)
	if hwm >= budget {
		t.Fatalf("child VmHWM %s exceeds the %s budget\n%s", spill.FormatBytes(hwm), spill.FormatBytes(budget), o.Text)
	}
	return hwm
}
