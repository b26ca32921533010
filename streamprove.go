// Package streamprove is the root of the streamprove module: a prover for machine-learning
// inference whose witness lives on disk and streams through the prover under a memory budget.
// The command is cmd/streamprove; the rooms are field, tensorstore, spill, sumcheck, pcs, gkr,
// kernels and scheduler (see the README). This package only ships the embedded demo model.
package streamprove

import "embed"

// DemoModel is the embedded default model (testdata/mlp): a small quantized MLP with a residual
// branch — graph.json plus its safetensors sources — that `streamprove demo` proves.
//
//go:embed testdata/mlp/graph.json testdata/mlp/model.safetensors testdata/mlp/input.safetensors
var DemoModel embed.FS
