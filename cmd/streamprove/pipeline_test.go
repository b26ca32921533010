package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/streamprove/streamprove/tensorstore"
)

// The demo runs end to end and its last line says the proof verified.
func TestDemoCommand(t *testing.T) {
	code, out, errs := runCLI("demo")
	if code != exitOK {
		t.Fatalf("demo exit %d: %s", code, errs)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if last := lines[len(lines)-1]; !strings.Contains(last, "verified") || strings.Contains(last, "NOT") {
		t.Fatalf("demo's last line: %q", last)
	}
	for _, want := range []string{"peak RSS", "proof ", "prove "} {
		if !strings.Contains(out, want) {
			t.Errorf("demo report lacks %q:\n%s", want, out)
		}
	}
}

// The whole command pipeline on the testdata model, with the exit codes a script relies on.
func TestPipelineCommands(t *testing.T) {
	dir := t.TempDir()
	store, proof := filepath.Join(dir, "st"), filepath.Join(dir, "proof.bin")
	steps := []struct {
		args     []string
		code     int
		out, err string
	}{
		{[]string{"prove", "--store", store, "--out", proof}, exitFailure, "", "no model"},
		{[]string{"import", "--store", store, "--graph", mlp + "graph.json"}, exitOK, "imported model mlp-demo", ""},
		{[]string{"prove", "--store", store, "--out", proof}, exitFailure, "", "streamprove commit"},
		{[]string{"commit", "--store", store, "--mem-budget", "64MiB"}, exitOK, "committed fc1.w", ""},
		{[]string{"prove", "--store", store}, exitUsage, "", "--out is required"},
		{[]string{"plan", "--store", store, "--mem-budget", "64MiB"}, exitOK, "TABLES LIVE IN", ""},
		{[]string{"plan", "--store", store, "--mem-budget", "1MiB"}, exitFailure, "", "below the minimum"},
		{[]string{"prove", "--store", store, "--out", proof, "--mem-budget", "lots"}, exitUsage, "", "--mem-budget"},
		{[]string{"prove", "--store", store, "--out", proof, "--mem-budget", "1MiB"}, exitFailure, "", "below the minimum"},
		{[]string{"prove", "--store", store, "--out", proof, "--mem-budget", "128MiB", "--json"}, exitOK, `"peak_rss_bytes"`, ""},
		{[]string{"verify", "--store", store, "--proof", proof}, exitOK, "proof verified", ""},
		{[]string{"verify", "--store", store, "--proof", proof, "--json"}, exitOK, `"verified":true`, ""},
		{[]string{"verify", "--store", store}, exitUsage, "", "--proof is required"},
		{[]string{"verify", "--store", store, "--proof", filepath.Join(dir, "none")}, exitFailure, "", "no such file"},
		{[]string{"inspect", "--store", store}, exitOK, "meta run", ""},
	}
	for _, s := range steps {
		code, out, errs := runCLI(s.args...)
		if code != s.code || !strings.Contains(out, s.out) || !strings.Contains(errs, s.err) {
			t.Fatalf("%v: exit %d (want %d)\nstdout: %s\nstderr: %s\nwant stdout ⊇ %q, stderr ⊇ %q", s.args, code, s.code, out, errs, s.out, s.err)
		}
		if code != exitOK && strings.Count(strings.TrimSpace(errs), "\n") > 0 {
			t.Errorf("%v: error is not one line: %q", s.args, errs)
		}
	}
	// A rejected proof is exit 1 with the reason, and --json still prints the verdict.
	data, err := os.ReadFile(proof)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 4
	bad := filepath.Join(dir, "bad.bin")
	os.WriteFile(bad, data, 0o644)
	if code, _, errs := runCLI("verify", "--store", store, "--proof", bad); code != exitFailure || !strings.Contains(errs, "rejected") {
		t.Fatalf("flipped proof: exit %d, %q", code, errs)
	}
	if code, out, _ := runCLI("verify", "--store", store, "--proof", bad, "--json"); code != exitFailure || !strings.Contains(out, `"verified":false`) {
		t.Fatalf("flipped proof --json: exit %d, %q", code, out)
	}
	// A file that is not an input of the model is a clear error, not a silent fallback.
	if code, _, errs := runCLI("verify", "--store", store, "--proof", proof, "--input", mlp+"model.safetensors"); code != exitFailure || !strings.Contains(errs, "not a public input") {
		t.Fatalf("verify --input model.safetensors: exit %d, %q", code, errs)
	}
	// A different public input is rejected.
	other := filepath.Join(dir, "other.safetensors")
	vals := make([]int64, 36)
	vals[7] = 3
	if err := tensorstore.WriteSafetensors(other, []tensorstore.Array{{Name: "x", DType: "I8", Shape: []int{3, 12}, Values: vals}}, nil); err != nil {
		t.Fatal(err)
	}
	if code, _, errs := runCLI("verify", "--store", store, "--proof", proof, "--input", other); code != exitFailure || !strings.Contains(errs, "rejected") {
		t.Fatalf("verify with another input: exit %d, %q", code, errs)
	}
}
