package main

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

const mlp = "../../testdata/mlp/"

func runCLI(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(append([]string{"streamprove"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

func TestCLI(t *testing.T) {
	store := filepath.Join(t.TempDir(), "store")
	steps := []struct {
		args     []string
		code     int
		out, err string // substrings expected in stdout / stderr
	}{
		{[]string{"--help"}, exitOK, "import", ""},
		{nil, exitOK, "COMMANDS", ""},
		{[]string{"frobnicate"}, exitUsage, "", `unknown command "frobnicate"`},
		{[]string{"import", "--bogus"}, exitUsage, "", "flag provided but not defined"},
		{[]string{"import", "--safetensors", mlp + "model.safetensors"}, exitUsage, "", "--store is required"},
		{[]string{"import", "--store", store}, exitUsage, "", "exactly one of"},
		{[]string{"import", "--store", store, "--npy", mlp + "x.npy"}, exitUsage, "", "--npy needs --name"},
		{[]string{"import", "--store", store, "--safetensors", mlp + "model.safetensors", "--codec", "lz4"}, exitUsage, "", "codec"},
		{[]string{"import", "--store", store, "--safetensors", mlp + "model.safetensors", "--chunk-elems", "1000"}, exitUsage, "", "power of two"},
		{[]string{"import", "--store", store, "--safetensors", mlp + "model.safetensors"}, exitOK, "imported fc2.w [10×16] int8", ""},
		{[]string{"import", "--store", store, "--safetensors", mlp + "model.safetensors"}, exitFailure, "", "already exists (add --replace to replace it)"},
		{[]string{"import", "--store", store, "--safetensors", mlp + "model.safetensors", "--replace", "--codec", "zstd", "--chunk-elems", "64"}, exitOK, "fc1.w", ""},
		{[]string{"import", "--store", store, "--npy", mlp + "x.npy", "--name", "x", "--codec", "none"}, exitOK, "imported x [3×12] int8", ""},
		{[]string{"import", "--store", store, "--npy", mlp + "missing.npy", "--name", "y"}, exitFailure, "", "no such file"},
		{[]string{"import", "--store", store, "--npy", mlp + "model.safetensors", "--name", "y"}, exitFailure, "", "not a .npy file"},
		{[]string{"inspect", "--store", store}, exitOK, "fc1.w", ""},
		{[]string{"inspect"}, exitUsage, "", "--store is required"},
		{[]string{"inspect", "--store", filepath.Join(store, "nope")}, exitFailure, "", "no store at"},
	}
	for _, s := range steps {
		code, out, errs := runCLI(s.args...)
		if code != s.code || !strings.Contains(out, s.out) || !strings.Contains(errs, s.err) {
			t.Errorf("streamprove %s: exit %d (want %d)\nstdout: %s\nstderr: %s", strings.Join(s.args, " "), code, s.code, out, errs)
		}
		if code != exitOK && (strings.Count(errs, "\n") != 1 || !strings.HasPrefix(errs, "streamprove: ")) {
			t.Errorf("streamprove %s: error is not one line: %q", strings.Join(s.args, " "), errs)
		}
	}

	code, out, _ := runCLI("inspect", "--store", store, "--json")
	if code != exitOK {
		t.Fatalf("inspect --json: exit %d", code)
	}
	var got struct {
		Tensors []tensorJSON `json:"tensors"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("inspect --json output: %v\n%s", err, out)
	}
	if len(got.Tensors) != 4 || got.Tensors[1].Name != "fc1.w" || got.Tensors[1].Codec != "zstd" ||
		got.Tensors[1].Chunks != 3 || got.Tensors[3].Codec != "none" || got.Tensors[1].FieldBytes != 16*12*32 {
		t.Fatalf("inspect --json: %+v", got.Tensors)
	}
}
