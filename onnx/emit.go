package onnx

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/streamprove/streamprove/gkr"
	"github.com/streamprove/streamprove/scheduler"
	"github.com/streamprove/streamprove/tensorstore"
)

// InputFile is the file Emit writes the graph's input to (the weights go to scheduler.DataFile).
const InputFile = "input.npy"

// Emit writes the quantized model as a streamprove graph file at path, through the scheduler's
// GraphBuilder (so it is validated exactly as a graph file is), with beside it the int8 weights
// and int32 biases (scheduler.DataFile) and x quantized as the graph's input in InputFile. The
// graph keeps the model's dynamic dimensions: the input declares them (dim_params), x binds
// them for now, and a reshape writes -1 where the batch goes, so prove --input may bind them
// anew. The input's and the output's scales are in the graph (TensorSpec.Scale). A private
// input (QValue.Private) is declared private_input with x's shape, without scale or dynamic
// dimensions. It returns path.
func (q *QModel) Emit(path string, x *Tensor) (string, error) {
	dir := filepath.Dir(path)
	xi := q.QuantizeInput(x)
	if _, err := q.Input.Shape.bindTo(xi.Shape, nil); err != nil {
		return "", fmt.Errorf("emit: %w", err)
	}
	name := q.Name
	if name == "" {
		name = "onnx"
	}
	b := scheduler.NewGraphBuilder(name)
	inDT := intDType(q.Input.Bits)
	role := gkr.Input
	if q.Input.Private {
		role = gkr.PrivateInput
	}
	in := b.Tensor(q.Input.Name, role, xi.Shape, inDT)
	in.Source = InputFile
	// A private input has neither a scale (the verifier dequantizes nothing of it) nor dynamic
	// dimensions (the verifier binds shapes from the inputs it reads): the ids' count is x's,
	// fixed in the graph and so public through its digest.
	if !q.Input.Private {
		in.Scale = q.Input.Scale
		if slices.ContainsFunc(q.Input.Shape, func(d Dim) bool { return d.Sym != "" }) {
			in.DimParams = make([]string, len(q.Input.Shape))
			for i, d := range q.Input.Shape {
				in.DimParams[i] = d.Sym
			}
		}
	}
	b.Output(q.Output.Name).Scale = q.Output.Scale
	for wname, w := range q.Weights {
		b.Tensor(wname, gkr.Weight, w.Shape, intDType(q.WeightBits[wname]))
		b.Data(wname, w.V)
	}
	for _, op := range q.Ops {
		var a scheduler.Attrs
		switch op.Op {
		case "conv2d":
			a = scheduler.Attrs{"strides": op.Strides, "pads": op.Pads}
		case "maxpool":
			a = scheduler.Attrs{"kernel_shape": op.Kernel, "strides": op.Strides, "pads": op.Pads, "bits": op.Bits}
		case "sumpool":
			a = scheduler.Attrs{"kernel_shape": op.Kernel, "strides": op.Strides, "pads": op.Pads}
		case "relu":
			a = scheduler.Attrs{"bits": op.Bits}
		case "scale":
			a = scheduler.Attrs{"factor": op.Multipliers[0]}
		case "reshape":
			// The dynamic dimension is left for the graph to infer from the input (-1).
			shape := make([]int, len(op.Shape))
			syms := 0
			for i, d := range op.Shape {
				shape[i] = d.N
				if d.Sym != "" {
					shape[i] = -1
					syms++
				}
			}
			if syms > 1 {
				return "", fmt.Errorf("emit: op %q: a reshape to %v has %d dynamic dimensions; the graph infers one", op.Name, op.Shape, syms)
			}
			a = scheduler.Attrs{"shape": shape}
		case "requant_fixed":
			a = scheduler.Attrs{"multipliers": op.Multipliers, "shift": op.Shift, "bits": op.Bits, "qbits": op.QBits}
			if len(op.Multipliers) > 1 {
				a["axis"] = op.Axis
			}
			if op.Relu {
				a["relu"] = true
			}
			if op.ZeroPoint != 0 {
				a["zero_point"] = op.ZeroPoint
			}
			if op.Unsigned {
				a["unsigned"] = true
			}
		default:
			// The transformer ops carry their graph attributes (transformer_quant.go).
			a = scheduler.Attrs(op.Extra)
		}
		b.Node(op.Op, op.Name, op.In, op.Out, a)
	}
	got, err := b.WriteFiles(dir)
	if err != nil {
		return "", fmt.Errorf("emit: %w", err)
	}
	if got != path {
		if err := os.Rename(got, path); err != nil {
			return "", err
		}
	}
	if err := tensorstore.WriteNPY(filepath.Join(dir, InputFile), tensorstore.Array{Name: q.Input.Name, DType: stDType(inDT), Shape: xi.Shape, Values: xi.V}); err != nil {
		return "", fmt.Errorf("emit: %w", err)
	}
	return path, nil
}

func intDType(bits int) tensorstore.DType {
	switch {
	case bits <= 8:
		return tensorstore.Int8
	case bits <= 16:
		return tensorstore.Int16
	case bits <= 32:
		return tensorstore.Int32
	}
	return tensorstore.Int64
}

func stDType(dt tensorstore.DType) string { return fmt.Sprintf("I%d", 8*dt.Size()) }

// ErrNeedCalibration reports a float model imported without calibration samples.
var ErrNeedCalibration = errors.New("a float model needs calibration samples")

// ImportFile is the importer's whole path from files: it loads the ONNX model, quantizes it with
// the float32 calibration samples in calibPath (.npy, the model's input layout), measures the
// quantized model against the float reference on those samples, and emits the graph at
// graphPath with the calibration samples as its input (a private input with opt.PrivateIDs,
// which only a token model takes).
func ImportFile(onnxPath, calibPath, graphPath string, opt QuantOptions) (*QModel, Agreement, error) {
	m, err := Load(onnxPath)
	if err != nil {
		return nil, Agreement{}, err
	}
	if opt.PrivateIDs && (m.IsQuantized() || len(m.Inputs) != 1 || m.Inputs[0].DType != Int64) {
		in := "its inputs"
		if len(m.Inputs) == 1 {
			in = fmt.Sprintf("its input %q is %v %v", m.Inputs[0].Name, m.Inputs[0].DType, m.Inputs[0].Shape)
		}
		return nil, Agreement{}, fmt.Errorf("onnx %s: %s: %w", onnxPath, in, ErrNotTokenModel)
	}
	if m.IsQuantized() {
		return importQuantized(m, onnxPath, calibPath, graphPath)
	}
	if calibPath == "" {
		return nil, Agreement{}, fmt.Errorf("onnx %s: %w (--calibrate samples.npy, float32 in the model's input layout) to choose its activation scales", onnxPath, ErrNeedCalibration)
	}
	calib, err := ReadNPY(calibPath)
	if err != nil {
		return nil, Agreement{}, fmt.Errorf("calibration: %w", err)
	}
	if calib.F == nil && len(m.Inputs) == 1 && m.Inputs[0].DType == Int64 {
		if calib, err = idsAsFloat(calib, calibPath); err != nil {
			return nil, Agreement{}, fmt.Errorf("calibration: %w", err)
		}
	}
	if calib.F == nil {
		return nil, Agreement{}, fmt.Errorf("calibration %s: float32 samples (or int64 token ids) are needed, not %v", calibPath, calib.DType)
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

// importQuantized emits an already-quantized model: no calibration; the graph's input is the
// samples in calibPath when given, else zeros with every dynamic dimension 1 (prove --input
// gives the real one).
func importQuantized(m *Model, onnxPath, calibPath, graphPath string) (*QModel, Agreement, error) {
	q, err := FromQuantized(m)
	if err != nil {
		return nil, Agreement{}, fmt.Errorf("onnx %s: %w", onnxPath, err)
	}
	var x *Tensor
	if calibPath != "" {
		if x, err = ReadNPY(calibPath); err != nil {
			return nil, Agreement{}, fmt.Errorf("input: %w", err)
		}
		if x.F == nil {
			return nil, Agreement{}, fmt.Errorf("input %s: float32 samples are needed, not %v", calibPath, x.DType)
		}
	} else {
		shape := make([]int, len(q.Input.Shape))
		for i, d := range q.Input.Shape {
			shape[i] = max(d.N, 1)
		}
		x = &Tensor{DType: Float32, Shape: shape, F: make([]float64, numel(shape))}
	}
	if _, err := q.Emit(graphPath, x); err != nil {
		return nil, Agreement{}, err
	}
	return q, Agreement{}, nil
}
