// Package spill owns the memory budget of a run and the vectors that live under it.
//
// A Budget is the ledger behind --mem-budget: everything that grows with the witness (chunk
// buffers, folded sumcheck tables, matmul row vectors, prefetch queues) reserves its bytes first
// and releases them after; a reservation that cannot be met fails with ErrBudget naming who asked
// and how much. A Table is a vector of field elements that lives in RAM when its bytes can be
// reserved and in a spill file otherwise: NewTable keeps an eighth of the limit free for the
// readers of later steps, NewTableKeeping keeps exactly what its caller says it still needs. The
// ledger is a plan, not a measurement: the kernel's VmHWM (read by internal/procstat) is what
// tests and benchmarks check.
//
// Spill files are read and written with pread/pwrite into caller buffers rather than mmapped:
// every touched page of a mapping counts in RSS until it is unmapped or MADV_DONTNEED'd, while a
// read into a reused buffer keeps RSS flat (measured, DESIGN §5). Mapped windows unmapped (or
// MADV_DONTNEED'd) behind a pass keep RSS flat too; they save a copy of about 4 CPU-ns per element
// with 2 MiB windows and nothing with small ones (BenchmarkMmapFold, figures in the README), less
// than the restructuring of the sumcheck's in-place chunk folds they would need is worth. Spilled values are raw
// Montgomery limbs: they are random-looking, so compression would only cost time, and they never
// leave the process that wrote them.
package spill
