package gkr

import "errors"

var (
	// ErrBadProof reports a proof that does not verify or does not decode.
	ErrBadProof = errors.New("proof rejected")
	// ErrGraph reports a graph that is malformed for proving (unknown tensor, shape mismatch…).
	ErrGraph = errors.New("invalid graph")
)
