// Package kernels implements the layer kinds of streamprove: linear (matmul with optional bias),
// conv2d (a two-phase sumcheck through the convolution's tap predicate, conv*.go), pooling
// (maxpool, sumpool: pool*.go), layout ops as index maps (reshape, flatten, transpose, squeeze/unsqueeze free; slice, concat and
// padding-changing reshapes by one sumcheck with a wiring predicate: layout*.go),
// elementwise polynomial gates (add, sub, mul, square, scale, general small polynomials),
// non-linear layers proven by LogUp lookups (range, relu, requant, requant_relu: lookup*.go),
// the zkCUDA-style data-parallel kernel built from a small arithmetic circuit (parallel*.go), and
// the transformer operators: matmul of two activations batched over heads (matmul*.go), gather
// with public or private token ids (gather*.go; private ids through a committed one-hot), softmax with an optional causal mask (softmax*.go), rmsnorm
// and layernorm (one kernel, norm*.go) and smooth activations by lookup (activation*.go).
// Each kind knows how to compute its output from its inputs (Forward, streaming through the
// tensor store) and how to reduce a claim on its output to claims on its inputs (Prove/Verify,
// the gkr.Kernel interface).
//
// Zero padding (DESIGN §4): every tensor is an MLE over its padded shape, and each kind keeps
// the padding of what it writes zero given zero padding in what it reads — which the proof relies
// on, since an identity over padded tensors says nothing about a model whose padding carries data.
// Committed tensors get theirs proven (gkr/padding.go: weights at commit, advice and private
// inputs in each proof); public inputs and outputs are laid out by the verifier. Linear adds its
// bias under the mask of the real batch rows, and the bias's own padding is a proven zero;
// elementwise gates are polynomials without a constant term (G(0,…,0) = 0); the data-parallel
// builder masks its constants; every lookup table holds (0, f(0)) with f(0) = 0, and the lookup
// runs over the padded domain, so the padding of its inputs forces that of its outputs (the
// sigmoid, σ(0) = ½, looks up σ − ½ and adds ½ under the real-position mask). A new kernel must
// say how it keeps this, and test a padded shape.
//
// Lookups within one kernel that read the same table share one table tree and one committed
// multiplicity tensor (lookupCore.groups: norms' limbs, softmax's range checks, requant_fixed's
// limbs, maxpool's taps); the witness trees stay one per lookup.
//
// It does not walk graphs or choose memory plans (package scheduler does), and it owns no
// protocol state beyond one kernel's messages.
package kernels
