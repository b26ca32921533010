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
// output carry their scales. Token models as torch.onnx.export writes a small GPT (int64 ids,
// embedding Gather, LayerNormalization, Split/Reshape/Transpose, MatMul of activations, the
// causal Where mask, Softmax, the Erf form of GELU) import to the graph's transformer ops
// (transformer.go, transformer_quant.go); their graph input is the flat list of token ids, a
// public input, or with QuantOptions.PrivateIDs a private one committed inside each proof.
//
// Already-quantized models (QDQ pairs around Conv/Gemm/MatMul/Relu/MaxPool/Reshape/Add, and
// QLinearConv, QLinearMatMul, ConvInteger, MatMulInteger) need no calibration: FromQuantized
// lowers them with ONNX Runtime's integer semantics, every requantization a requant_fixed whose
// M/2^n is the float32 scale x_scale·w_scale/y_scale exactly (qdq.go). That is ORT bit for bit
// except on near-ties: MLAS rounds fl32(acc·s) to 24 bits before rounding to an integer, and when
// that lands on or crosses a half-integer the results differ by one; no integer M/2^n reproduces
// the double rounding. Measured rate: 2.5·10⁻⁶ of random accumulators (TestRequantMultipliersExact),
// none on the fixtures. A QDQ Add is ORT's QLinearAdd, round(r_a·(a − z_a) + r_b·(b − z_b)) with
// the float32 ratios r = fl32(scale/y_scale) exact over one power of two (qlinearAdd); MLAS's
// float32 fmas differ from that exact rounding on near-ties too (TestQLinearAddNearTies).
// The input's QuantizeLinear divides in float32 as ORT does, here and in
// prove --input (tensorstore.Quantizer uses the float32 quotient for a float32 scale).
//
// It refuses, with the node's name, op type, the attribute and the list of supported ops, every
// model it cannot represent exactly: it never returns a partial model. It does not prove
// anything and owns no on-disk format: the graph it emits is the scheduler's.
package onnx

//go:generate protoc --proto_path=. --go_out=internal/onnxpb --go_opt=paths=source_relative onnx.proto
