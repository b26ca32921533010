// Package kernels implements the layer kinds of streamprove: linear (matmul with optional bias),
// elementwise polynomial gates (add, sub, mul, square, scale, general small polynomials),
// non-linear layers proven by LogUp lookups (range, relu, requant, requant_relu: lookup*.go),
// and the zkCUDA-style data-parallel kernel built from a small arithmetic circuit (parallel*.go).
// Each kind knows how to compute its output from its inputs (Forward, streaming through the
// tensor store) and how to reduce a claim on its output to claims on its inputs (Prove/Verify,
// the gkr.Kernel interface).
//
// It does not walk graphs or choose memory plans (package scheduler does), and it owns no
// protocol state beyond one kernel's messages.
package kernels
