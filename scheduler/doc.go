// Package scheduler owns a model's life from graph file to verified proof: it reads and
// validates the model graph (streamprove-graph/1 JSON), imports the tensors it names into a store,
// commits the weights, plans each step's memory within --mem-budget (refusing up front when a
// step cannot fit), runs the forward pass and the proof over the kernels, records progress in the
// store's catalog so that an interrupted run resumes, and verifies proofs from the public parts of
// a store. It emits progress events for the CLI and measures what a run cost (peak RSS, bytes
// read and written).
//
// The graph's ops live in one registry (ops.go): each entry declares the op's arity, its
// attributes (kind, default, range: validated for every node in one place, checkNode) and how
// it builds the node's kernel from typed Attrs. Importers assemble graphs with GraphBuilder,
// which validates through ParseGraph.
//
// It holds no protocol logic (packages gkr and kernels do), prints nothing and measures no other
// process (the CLI does: cmd/streamprove's bench re-runs the binary and plots RSS).
package scheduler
