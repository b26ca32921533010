package gkr

import "errors"

var (
	// ErrBadProof reports a proof that does not verify or does not decode. It is the one sentinel
	// callers test (scheduler.ErrRejected is the same value): a lower layer's rejection
	// (sumcheck.ErrBadProof, pcs.ErrBadProof, field.ErrNonCanonical) is joined under it with %w,
	// so errors.Is finds both.
	ErrBadProof = errors.New("proof rejected")
	// ErrGraph reports a graph that is malformed for proving (unknown tensor, shape mismatch…).
	// It is the one sentinel for a bad graph: scheduler.ErrGraph, which reports a bad graph file,
	// is the same value.
	ErrGraph = errors.New("invalid model graph")
)
