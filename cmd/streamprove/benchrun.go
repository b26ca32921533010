package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/streamprove/streamprove/internal/procstat"
	"github.com/streamprove/streamprove/scheduler"
	"github.com/streamprove/streamprove/spill"
)

// rssSample is one reading of a child's resident set size.
type rssSample struct {
	Seconds float64 `json:"t"`
	Bytes   int64   `json:"rss"`
}

// benchRun is one measured prove (and its verify), each run as a child process.
type benchRun struct {
	BudgetBytes       int64       `json:"budget_bytes"`
	WallSeconds       float64     `json:"wall_seconds"`
	PeakRSSBytes      int64       `json:"peak_rss_bytes"`
	BytesRead         int64       `json:"bytes_read"`
	BytesWritten      int64       `json:"bytes_written"`
	WitnessBytes      int64       `json:"witness_bytes"`
	ThroughputBPS     float64     `json:"throughput_witness_bytes_per_s"`
	ProofBytes        int64       `json:"proof_bytes"`
	VerifySeconds     float64     `json:"verify_seconds"`
	VerifyPeakRSS     int64       `json:"verify_peak_rss_bytes"`
	Verified          bool        `json:"verified"`
	Samples           []rssSample `json:"-"`
	ForwardSeconds    float64     `json:"forward_seconds"`
	ProveOnlySeconds  float64     `json:"prove_seconds"`
	UnderBudget       bool        `json:"under_budget"`
	BudgetDescription string      `json:"budget"`
}

// benchReport is a bench: the run at the budget, and optionally the same store unlimited.
type benchReport struct {
	Store     string    `json:"store"`
	Budgeted  *benchRun `json:"budgeted"`
	Unlimited *benchRun `json:"unlimited,omitempty"`
	// TimeRatio is budgeted wall time / unlimited wall time (streaming vs in-memory).
	TimeRatio float64 `json:"streaming_over_in_memory_time,omitempty"`
}

// runBench proves the store's model with the binary exe as a child process at the budget (and, if
// compare, again with no budget), sampling the child's RSS every 20 ms, then verifies each proof
// in another child. Peak RSS is the child's own VmHWM, the kernel's figure.
func runBench(exe, storeDir string, budget int64, workers int, compare bool) (*benchReport, error) {
	rep := &benchReport{Store: storeDir}
	var err error
	if rep.Budgeted, err = benchOnce(exe, storeDir, budget, workers); err != nil {
		return nil, err
	}
	if compare {
		if rep.Unlimited, err = benchOnce(exe, storeDir, 0, workers); err != nil {
			return nil, err
		}
		rep.TimeRatio = rep.Budgeted.WallSeconds / rep.Unlimited.WallSeconds
	}
	return rep, nil
}

func benchOnce(exe, storeDir string, budget int64, workers int) (*benchRun, error) {
	tmp, err := os.MkdirTemp("", "streamprove-bench-*")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	proof := filepath.Join(tmp, "proof.bin")
	args := []string{"prove", "--store", storeDir, "--out", proof, "--json", "--mem-budget", strconv.FormatInt(budget, 10)}
	if workers > 0 {
		args = append(args, "--workers", strconv.Itoa(workers))
	}
	run := &benchRun{BudgetBytes: budget, BudgetDescription: "unlimited"}
	if budget > 0 {
		run.BudgetDescription = spill.FormatBytes(budget)
	}
	out, samples, peak, secs, err := runSampled(exe, args)
	if err != nil {
		return nil, fmt.Errorf("bench prove: %w", err)
	}
	var pr scheduler.Report
	if err := json.Unmarshal(out, &pr); err != nil {
		return nil, fmt.Errorf("bench prove: reading its report: %w (output %q)", err, out)
	}
	run.Samples = samples
	run.WallSeconds = secs
	run.PeakRSSBytes = max(peak, pr.PeakRSSBytes)
	run.BytesRead, run.BytesWritten = pr.BytesRead, pr.BytesWritten
	run.WitnessBytes, run.ProofBytes = pr.WitnessBytes, pr.ProofBytes
	run.ForwardSeconds, run.ProveOnlySeconds = pr.ForwardSeconds, pr.ProveSeconds
	run.ThroughputBPS = float64(pr.WitnessBytes) / secs
	run.UnderBudget = budget <= 0 || run.PeakRSSBytes < budget

	vout, _, vpeak, vsecs, verr := runSampled(exe, []string{"verify", "--store", storeDir, "--proof", proof, "--json"})
	var vr scheduler.VerifyReport
	if jerr := json.Unmarshal(vout, &vr); jerr != nil && verr == nil {
		return nil, fmt.Errorf("bench verify: %w", jerr)
	}
	run.Verified = verr == nil && vr.Verified
	run.VerifySeconds = vsecs
	run.VerifyPeakRSS = vpeak
	return run, nil
}

// runSampled runs exe with args, sampling its RSS; it returns stdout, the samples, the child's
// peak RSS (VmHWM, last read before exit) and the wall time.
func runSampled(exe string, args []string) ([]byte, []rssSample, int64, float64, error) {
	cmd := exec.Command(exe, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, nil, 0, 0, err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var samples []rssSample
	var peak int64
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			secs := time.Since(start).Seconds()
			if err != nil {
				return stdout.Bytes(), samples, peak, secs, fmt.Errorf("%s %s: %v: %s", filepath.Base(exe), args[0], err, bytes.TrimSpace(stderr.Bytes()))
			}
			return stdout.Bytes(), samples, peak, secs, nil
		case <-tick.C:
			rss, hwm, err := procstat.ProcessRSS(cmd.Process.Pid)
			if err == nil {
				samples = append(samples, rssSample{Seconds: time.Since(start).Seconds(), Bytes: rss})
				peak = max(peak, hwm)
			}
		}
	}
}
