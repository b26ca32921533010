// Package sumcheck owns the sumcheck protocol of streamprove: a prover that streams its
// multilinear sources chunk by chunk under a memory budget (DESIGN §7) and the verifier that
// checks its proofs. A claim is Σ_{x∈{0,1}^n} E(x)·G(f_1(x),…,f_k(x)) = Sum, where G is a small
// polynomial (a Gate evaluated on whole chunks), the f_j are field.Sources in MLE order, and E is
// absent (E ≡ 1) or a sum of eq polynomials Σ_i c_i·eq(p_i, x) (one term for a plain claim,
// several for merged claims).
//
// Variables are bound least significant first, so folding is local to adjacent pairs and a
// folded table is produced by a sequential pass. The eq factor is never tabulated over the whole
// hypercube: each round splits it as eq(p_t, X)·eq(p_>t, x_rest) (Gruen) and the second factor
// is the chunk decomposition of field.NewChunkEq. Tables that do not fit the budget are read
// from their sources again (pending challenges are folded on the fly) and written to spill files
// only every few rounds; once the folded tables fit, the prover finishes in RAM. Streaming and
// in-memory proving produce byte-identical proofs.
//
// The package does not know about tensors, kernels or claim merging policy: its caller (gkr,
// kernels) builds the Claim and resolves the claims MLE(f_j)(r) = Finals[j] that Verify leaves.
package sumcheck
