// Package sumcheck owns the sumcheck protocol of streamprove: a prover that streams its
// multilinear sources chunk by chunk under a memory budget (DESIGN §7) and the verifier that
// checks its proofs. A claim is Σ_{x∈{0,1}^n} E(x)·G(f_1(x),…,f_k(x)) = Sum, where G is a small
// polynomial (a Gate evaluated on whole chunks), the f_j are field.Sources in MLE order, and E is
// absent (E ≡ 1) or a sum of eq polynomials Σ_i c_i·eq(p_i, x) (one term for a plain claim,
// several for merged claims). It does not know about tensors, kernels or claim merging policy:
// its caller (gkr, kernels) builds the Claim and resolves the claims MLE(f_j)(r) = Finals[j].
//
// Protocol. Variables are bound least significant first (r[0] binds variable 0), so folding is
// local to adjacent pairs. Round t sends s_t(X) = Σ_{x>t} E(r_<t, X, x)·G(f(r_<t, X, x)), of
// degree D = RoundDegree(c) (deg G, plus one with an eq factor), as its values at 0, 2, 3, …, D:
// s_t(1) is the running claim minus s_t(0). The transcript order, shared by Prove and Verify, is:
// absorb NumVars, deg G, arity, the number of eq terms, each term's coefficient and point, Sum;
// per round absorb the message and squeeze r_t; at the end absorb Finals. A proof is encoded as
// the rounds' elements then the finals, each a canonical 32-byte big-endian element, no header.
//
// Prover. The eq factor is never tabulated over the hypercube: each round splits every term as
// c_i·eq(p_i[t], X)·eq(p_i[>t], x) (Gruen) and accumulates q_i(X) = Σ_x eq(p_i[>t], x)·G(…) with
// the weights from the chunk decomposition of field.NewChunkEq; with one term, q(1) follows from
// the running claim, so the gate is evaluated at deg G points per pair. Tables that fit the budget
// are folded in RAM, each fold fused with the next round's evaluation. Otherwise every round is a
// pass over the base tables (the sources, then spill files) that folds the pending challenges
// inside each chunk; a folded level is written to a spill file every few rounds, and to RAM as soon
// as it fits. When every source is a field.IntSource (a quantized tensor) and the gate is a
// product or a polynomial, the first rounds (3 by default) come from one pass over the raw
// integers instead (the small-value optimisation of Bagad–Dao–Domb–Thaler): it accumulates the
// round polynomials' values on the grid {0…deg G}^3 in native integers and one small×big
// multiply-add per grid point and window, and the next pass folds those rounds' challenges
// straight into the integers (Σ_y eq(r, y)·x_y per window, again small×big) before spilling. Spilled
// levels keep one pass per round: a field-valued window would save about a fifth of their CPU,
// a few percent of a prove (BenchmarkFieldWindow). Field sums are exact, so streaming, small-value and in-memory proving give
// byte-identical proofs.
package sumcheck
