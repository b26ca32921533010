// Package gkr owns the kernel-level proof: claims, the claims ledger, claim merging, the Kernel
// interface, the engine that walks a graph of kernels backwards from its public outputs to its
// inputs and weights (DESIGN §8), and the proof format.
//
// A claim says "the multilinear extension of this tensor (in padded row-major MLE order) at this
// point has this value". The engine starts from the public outputs at a random point and asks
// each kernel, in reverse topological order, to reduce the (merged) claim on its output to claims
// on its inputs. Intermediate tensors are never committed: their claims are consumed by their
// producer. Claims that stop are resolved at the end: public inputs by the verifier's own
// evaluation (after one merge per input), and claims on committed tensors — weights (committed
// once per model), advice of lookup kernels and private inputs (both committed at the start of
// each proof, before any challenge) — by one batched opening of the polynomial commitment.
// Every message goes through a channel that writes it to the proof and absorbs it into the
// Fiat–Shamir transcript in one step; the prover can checkpoint after each kernel and resume.
// Prover and verifier walk one description of the messages: the engine's kernel walk and claim
// merges (walk, merge) and each kernel's protocol are written once over a Party, so their
// transcripts cannot drift apart; scheduler/testdata/golden.proof pins the resulting bytes.
//
// The package does not read files or run forward passes: kernels get their data through the
// Witness interface, and package kernels implements the layer kinds.
package gkr
