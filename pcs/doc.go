// Package pcs owns streamprove's polynomial commitment: committing to a multilinear polynomial
// given as a field.Source (its 2^n evaluations in MLE order), opening it at points — several
// points and several commitments in one batch — and verifying those openings. The first and only
// scheme is Hyrax over BN254 G1 (DESIGN §10): the evaluations are a 2^a × 2^b matrix (row index =
// the high a variables, column index = the low b variables), the commitment is one Pedersen
// commitment per row against generators derived by hash-to-curve (no trusted setup), and an
// opening is the vector u = Σ_i eq(r_row, i)·row_i of length 2^b. Commit and Open each stream the
// source once, holding O(2^b) elements plus MSM scratch, reserved from the caller's budget.
// Commitments are binding but not hiding: the scheme proves correctness, not secrecy.
//
// It does not own the sources (tensorstore, spill tables or RAM slices), the transcript's
// surrounding protocol (gkr decides what is committed, when, and which claims reach the pcs), or
// generic field helpers (field). Small integer data — the common case for quantized weights and
// activations — takes a signed-bucket MSM whose cost follows the data's bit width, not the
// field's 254 bits; other rows fall back to gnark-crypto's MultiExp.
package pcs
