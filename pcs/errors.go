package pcs

import "errors"

var (
	// ErrBadProof reports an opening that does not verify against its claims.
	ErrBadProof = errors.New("pcs: opening does not verify")
	// ErrFormat reports bytes that are not a valid encoding of a commitment, an opening or a
	// commitment file.
	ErrFormat = errors.New("pcs: malformed encoding")
	// ErrClaim reports a claim that is inconsistent with its commitment or source (wrong point
	// length, wrong source length, or — on the prover side — a value that is not the source's
	// evaluation at the point).
	ErrClaim = errors.New("pcs: inconsistent claim")
)
