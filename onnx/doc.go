// Package onnx reads ONNX models into streamprove: it decodes the protobuf (Go types generated
// from the subset of ONNX's own schema in onnx.proto, see internal/onnxpb), checks every size
// before it allocates, infers shapes (keeping dynamic dimensions such as the batch symbolic),
// folds the noise of exporters away (Constant, Identity, Dropout, Cast of constants, the
// Shape → Gather → Unsqueeze → Concat → Reshape chains of a dynamic batch, BatchNormalization
// into the Conv or Gemm before it, a zero Pad into the AveragePool after it), runs a float
// reference forward pass in Go, quantizes float models post-training (Quantize: int8 weights per
// output channel, int32 biases, calibrated per-tensor activation scales, fixed-point requant
// multipliers) with an exact integer forward pass to measure them against the float model, and
// emits the quantized model as a streamprove graph (QModel.Emit) whose input keeps its dynamic
// dimensions (dim_params, bound by the input given to prove or verify) and whose input and
// output carry their scales.
//
// It refuses, with the node's name, op type, the attribute and the list of supported ops, every
// model it cannot represent exactly: it never returns a partial model. It does not prove
// anything and owns no on-disk format: the graph it emits is the scheduler's.
package onnx

//go:generate protoc --proto_path=. --go_out=internal/onnxpb --go_opt=paths=source_relative onnx.proto
