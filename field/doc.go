// Package field owns streamprove's arithmetic: the BN254 scalar field (gnark-crypto's
// ecc/bn254/fr, named outside this package only as Element and Vector), conversions between
// machine integers and field elements (FromInts, FromIntsLE: table lookups), the canonical byte
// encodings, the multilinear helpers (eq tables, folding, evaluation) with the conventions of
// DESIGN §4, the chunked Source/Stream shape every streaming pass uses, and the Fiat–Shamir
// transcript shared by every prover and verifier.
//
// It does not know about files, budgets or protocols: callers bring buffers, and every helper
// works on a chunk at a time. Variable 0 of a multilinear extension is the least significant bit
// of the index, and folding binds variable 0 first, so folding is local to adjacent pairs.
// A second field backend starts in element.go, vector.go and ints.go, the files that name fr.
package field
