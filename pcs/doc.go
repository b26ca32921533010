// Package pcs owns streamprove's polynomial commitment: committing to a multilinear polynomial
// given as a field.Source (its 2^n evaluations in MLE order), opening it at points — several
// points on several commitments in one batch — and verifying those openings. The scheme is
// Hyrax over BN254 G1 (DESIGN §10): the evaluations are a 2^a × 2^b matrix (row index = the
// high a variables, column index = the low b variables), the commitment is one Pedersen
// commitment per row against generators G_j derived by hash-to-curve (no trusted setup; G_j does
// not depend on b, so every commitment shares one generator list), and the opening of a claim at (r_col, r_row) is u = Σ_i eq(r_row, i)·row_i, 2^b elements. Commit and
// Open each stream the source once with O(2^b) memory reserved from the caller's budget; the
// verifier folds a whole batch into one MSM. Commitments bind but do not hide. Besides point
// claims, a batch takes padding claims (padding.go): that a committed tensor is zero at every
// padded position of its shape, proven with up to three more opening vectors in the same pass.
//
// It does not own the sources (tensorstore, spill tables, RAM slices), the protocol around the
// transcript (gkr decides what is committed and which claims reach the pcs), or generic field
// helpers (field). Quantized data is the common case, so rows are committed by the package's own
// bucket MSM — sign–magnitude digits, batch-affine additions on AVX-512 IFMA field vectors —
// whose window count follows the data's bit width: about one group addition per int8 element,
// 26× faster than gnark-crypto's MultiExp on signed int8 and 2× on random field elements.
package pcs
