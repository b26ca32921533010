package onnx

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/streamprove/streamprove/scheduler"
)

// TestEmitDigits writes both quantized digits models as streamprove graphs and checks what the
// files say: the op sequence, dtypes, sources, the dynamic batch and the scales.
func TestEmitDigits(t *testing.T) {
	for _, c := range []struct{ name, ops string }{
		{"mlp", "linear requant_fixed linear requant_fixed"},
		{"cnn", "conv2d requant_fixed maxpool conv2d requant_fixed sumpool requant_fixed reshape linear requant_fixed"},
	} {
		m, x, _ := loadDigits(t, c.name)
		calib, err := ReadNPY(filepath.Join(digitsDir, c.name+"_calib.npy"))
		if err != nil {
			t.Fatal(err)
		}
		q, err := Quantize(m, calib, QuantOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var qops []string
		for _, op := range q.Ops {
			qops = append(qops, op.Op)
		}
		if got := strings.Join(qops, " "); got != c.ops {
			t.Errorf("%s: quantized ops %q, want %q", c.name, got, c.ops)
		}
		two := &Tensor{DType: Float32, Shape: append([]int{2}, x.Shape[1:]...), F: x.F[:2*numel(x.Shape[1:])]}
		dir := t.TempDir()
		path, err := q.Emit(filepath.Join(dir, "graph.json"), two)
		if err != nil {
			t.Fatal(err)
		}
		var g struct {
			Format  string
			Tensors map[string]struct {
				Role, DType, Source string
				Shape               []int
				DimParams           []string `json:"dim_params"`
				Scale               float64
			}
			Nodes []map[string]any
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(data, &g); err != nil {
			t.Fatal(err)
		}
		var ops []string
		for _, n := range g.Nodes {
			ops = append(ops, n["op"].(string))
		}
		if got := strings.Join(ops, " "); got != c.ops || g.Format != scheduler.GraphFormat {
			t.Errorf("%s: format %q ops %q, want %q", c.name, g.Format, got, c.ops)
		}
		in := g.Tensors["x"]
		if in.Role != "input" || in.DType != "int8" || in.Shape[0] != 2 || in.Source != InputFile ||
			len(in.DimParams) != len(in.Shape) || in.DimParams[0] != "batch" || in.Scale != q.Input.Scale {
			t.Errorf("%s: input %+v", c.name, in)
		}
		if out := g.Tensors["logits"]; out.Role != "output" || out.Scale != q.Output.Scale {
			t.Errorf("%s: output %+v", c.name, out)
		}
		for _, n := range g.Nodes {
			if n["op"] == "reshape" && fmt.Sprint(n["shape"]) != "[-1 64]" {
				t.Errorf("%s: reshape to %v, want [-1 64] (the batch inferred from the input)", c.name, n["shape"])
			}
		}
		for _, f := range []string{scheduler.DataFile, InputFile} {
			if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() == 0 {
				t.Errorf("%s: %s: %v", c.name, f, err)
			}
		}
		if _, err := scheduler.LoadGraphFile(path); err != nil {
			t.Errorf("%s: scheduler.LoadGraphFile: %v", c.name, err)
		}
	}
}

// TestImportFile: the CLI's path — load, calibrate, compare, emit — and its refusals.
func TestImportFile(t *testing.T) {
	dir := t.TempDir()
	model, calib := filepath.Join(digitsDir, "mlp.onnx"), filepath.Join(digitsDir, "mlp_calib.npy")
	q, a, err := ImportFile(model, calib, filepath.Join(dir, "g.json"), QuantOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if a.Samples != 128 || a.ArgmaxAgree < 0.97 || a.MaxAbsErr <= 0 || q.Output.Bits != 16 {
		t.Errorf("agreement %+v, output %+v", a, q.Output)
	}
	if _, err := scheduler.LoadGraphFile(filepath.Join(dir, "g.json")); err != nil {
		t.Error(err)
	}
	if _, _, err := ImportFile(model, "", filepath.Join(dir, "h.json"), QuantOptions{}); err == nil || !strings.Contains(err.Error(), "calibration samples") {
		t.Errorf("no calibration: %v", err)
	}
	// CNN-shaped samples do not fit the MLP's input.
	if _, _, err := ImportFile(model, filepath.Join(digitsDir, "cnn_calib.npy"), filepath.Join(dir, "h.json"), QuantOptions{}); err == nil {
		t.Error("samples of the wrong layout were accepted")
	}
}
