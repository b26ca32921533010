package onnx

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/streamprove/streamprove/tensorstore"
)

// Files Emit writes beside the graph.
const (
	WeightsFile = "weights.safetensors"
	InputFile   = "input.npy"
	// ScalesFile records the input's and output's scales (float ≈ scale · integer), which the
	// graph format has no field for yet.
	ScalesFile = "scales.json"
)

// graphFormat is the scheduler's graph file format tag (scheduler.GraphFormat).
const graphFormat = "streamprove-graph/1"

// Emit writes the quantized model as a streamprove graph file at path and, beside it, the int8
// weights and int32 biases in WeightsFile, x quantized as the graph's input in InputFile (its
// batch binds the dynamic dimensions: the graph format fixes shapes), and the scales in
// ScalesFile. It returns path.
func (q *QModel) Emit(path string, x *Tensor) (string, error) {
	dir := filepath.Dir(path)
	xi := q.QuantizeInput(x)
	env := map[string]int{}
	if len(x.Shape) != len(q.Input.Shape) {
		return "", fmt.Errorf("emit: input of shape %v, model wants %v", x.Shape, q.Input.Shape)
	}
	for i, d := range q.Input.Shape {
		if d.Sym != "" {
			env[d.Sym] = x.Shape[i]
		} else if d.N != x.Shape[i] {
			return "", fmt.Errorf("emit: input of shape %v, model wants %v", x.Shape, q.Input.Shape)
		}
	}
	type tensor struct {
		Role   string `json:"role"`
		Shape  []int  `json:"shape,omitempty"`
		DType  string `json:"dtype,omitempty"`
		Source string `json:"source,omitempty"`
	}
	g := struct {
		Format  string             `json:"format"`
		Name    string             `json:"name"`
		Tensors map[string]*tensor `json:"tensors"`
		Nodes   []map[string]any   `json:"nodes"`
	}{Format: graphFormat, Name: q.Name, Tensors: map[string]*tensor{}}
	if g.Name == "" {
		g.Name = "onnx"
	}
	g.Tensors[q.Input.Name] = &tensor{Role: "input", Shape: xi.Shape, DType: intDType(q.Input.Bits), Source: InputFile}
	g.Tensors[q.Output.Name] = &tensor{Role: "output"}
	names := make([]string, 0, len(q.Weights))
	for name := range q.Weights {
		names = append(names, name)
	}
	sort.Strings(names)
	arrays := make([]tensorstore.Array, 0, len(names))
	for _, name := range names {
		w := q.Weights[name]
		dt := intDType(q.WeightBits[name])
		g.Tensors[name] = &tensor{Role: "weight", Shape: w.Shape, DType: dt, Source: WeightsFile}
		arrays = append(arrays, tensorstore.Array{Name: name, DType: stDType(dt), Shape: w.Shape, Values: w.V})
	}
	for _, op := range q.Ops {
		n := map[string]any{"op": op.Op, "name": op.Name, "in": op.In, "out": op.Out}
		switch op.Op {
		case "conv2d":
			n["strides"], n["pads"] = op.Strides, op.Pads
		case "maxpool":
			n["kernel_shape"], n["strides"], n["pads"], n["bits"] = op.Kernel, op.Strides, op.Pads, op.Bits
		case "sumpool":
			n["kernel_shape"], n["strides"], n["pads"] = op.Kernel, op.Strides, op.Pads
		case "relu":
			n["bits"] = op.Bits
		case "scale":
			n["factor"] = op.Multipliers[0]
		case "reshape":
			shape, err := op.Shape.Bind(env)
			if err != nil {
				return "", fmt.Errorf("emit: op %q: %w", op.Name, err)
			}
			n["shape"] = shape
		case "requant_fixed":
			n["multipliers"], n["shift"], n["bits"], n["qbits"] = op.Multipliers, op.Shift, op.Bits, op.QBits
			if len(op.Multipliers) > 1 {
				n["axis"] = op.Axis
			}
			if op.Relu {
				n["relu"] = true
			}
		}
		g.Nodes = append(g.Nodes, n)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	if err := tensorstore.WriteSafetensors(filepath.Join(dir, WeightsFile), arrays, map[string]string{"producer": "streamprove onnx import"}); err != nil {
		return "", fmt.Errorf("emit: %w", err)
	}
	if err := tensorstore.WriteNPY(filepath.Join(dir, InputFile), tensorstore.Array{Name: q.Input.Name, DType: stDType(intDType(q.Input.Bits)), Shape: xi.Shape, Values: xi.V}); err != nil {
		return "", fmt.Errorf("emit: %w", err)
	}
	scales, err := json.MarshalIndent(map[string]QValue{"input": q.Input, "output": q.Output}, "", "  ")
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, ScalesFile), append(scales, '\n'), 0o644); err != nil {
		return "", err
	}
	data, err := json.MarshalIndent(g, "", "  ")
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
		return "", err
	}
	return path, nil
}

func intDType(bits int) string {
	switch {
	case bits <= 8:
		return "int8"
	case bits <= 16:
		return "int16"
	case bits <= 32:
		return "int32"
	}
	return "int64"
}

func stDType(dt string) string {
	return map[string]string{"int8": "I8", "int16": "I16", "int32": "I32", "int64": "I64"}[dt]
}

// ImportFile is the importer's whole path from files: it loads the ONNX model, quantizes it with
// the float32 calibration samples in calibPath (.npy, the model's input layout), measures the
// quantized model against the float reference on those samples, and emits the graph at
// graphPath with the calibration samples as its input.
func ImportFile(onnxPath, calibPath, graphPath string, opt QuantOptions) (*QModel, Agreement, error) {
	m, err := Load(onnxPath)
	if err != nil {
		return nil, Agreement{}, err
	}
	if calibPath == "" {
		return nil, Agreement{}, fmt.Errorf("onnx %s: a float model needs calibration samples (--calibrate samples.npy, float32 in the model's input layout) to choose its activation scales", onnxPath)
	}
	calib, err := ReadNPY(calibPath)
	if err != nil {
		return nil, Agreement{}, fmt.Errorf("calibration: %w", err)
	}
	if calib.F == nil {
		return nil, Agreement{}, fmt.Errorf("calibration %s: float32 samples are needed, not %v", calibPath, calib.DType)
	}
	q, err := Quantize(m, calib, opt)
	if err != nil {
		return nil, Agreement{}, fmt.Errorf("onnx %s: %w", onnxPath, err)
	}
	a, _, _, err := q.Compare(calib)
	if err != nil {
		return nil, Agreement{}, fmt.Errorf("onnx %s: comparing with the float model: %w", onnxPath, err)
	}
	if _, err := q.Emit(graphPath, calib); err != nil {
		return nil, Agreement{}, err
	}
	return q, a, nil
}
