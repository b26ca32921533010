package spill

import (
	"errors"
	"fmt"
	"math"
	"runtime/debug"
	"sync"
)

// ErrBudget reports a reservation the memory budget cannot meet.
var ErrBudget = errors.New("memory budget exceeded")

// Budget is the memory ledger of one run. The zero limit means unlimited. It is safe for
// concurrent use.
type Budget struct {
	mu    sync.Mutex
	limit int64
	used  int64
	peak  int64
}

// NewBudget returns a ledger of limit bytes (0: unlimited).
func NewBudget(limit int64) *Budget { return &Budget{limit: limit} }

// Unlimited reports whether the budget has no limit.
func (b *Budget) Unlimited() bool { return b.limit <= 0 }

// Limit returns the budget in bytes (0: unlimited).
func (b *Budget) Limit() int64 { return b.limit }

// Reserve takes n bytes for who, or fails with ErrBudget naming who, n and what is left.
func (b *Budget) Reserve(who string, n int64) error {
	if n < 0 {
		return fmt.Errorf("spill: %s reserves %d bytes", who, n)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.limit > 0 && b.used+n > b.limit {
		return fmt.Errorf("%s needs %s but only %s of the %s budget is free: %w",
			who, FormatBytes(n), FormatBytes(b.limit-b.used), FormatBytes(b.limit), ErrBudget)
	}
	b.used += n
	if b.used > b.peak {
		b.peak = b.used
	}
	return nil
}

// TryReserve takes n bytes if they are free and reports whether it did.
func (b *Budget) TryReserve(n int64) bool { return b.Reserve("", n) == nil }

// ReserveKeeping takes n bytes only if keep bytes stay free afterwards, and reports whether it
// did: a caller that knows what it will still need (the readers and buffers it opens later)
// takes RAM for what could spill only from the rest.
func (b *Budget) ReserveKeeping(n, keep int64) bool {
	if n < 0 || keep < 0 {
		return false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.limit > 0 && b.used+n+keep > b.limit {
		return false
	}
	b.used += n
	if b.used > b.peak {
		b.peak = b.used
	}
	return true
}

// Release returns n bytes taken by Reserve.
func (b *Budget) Release(n int64) {
	b.mu.Lock()
	b.used -= n
	if b.used < 0 {
		b.used = 0
	}
	b.mu.Unlock()
}

// Available returns the bytes still free (math.MaxInt64 when unlimited).
func (b *Budget) Available() int64 {
	if b.limit <= 0 {
		return math.MaxInt64
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.limit - b.used
}

// Spare returns what may be taken for something that could live on disk instead (a table that
// can spill): what is free less an eighth of the limit, kept for the buffers that cannot spill
// (stream readers, chunk buffers) of the steps that come after. Unlimited: math.MaxInt64.
func (b *Budget) Spare() int64 {
	if b.limit <= 0 {
		return math.MaxInt64
	}
	return b.Available() - b.limit/8
}

// Used returns the bytes reserved now; Peak the most ever reserved at once.
func (b *Budget) Used() int64 { b.mu.Lock(); defer b.mu.Unlock(); return b.used }

// Peak returns the most bytes ever reserved at once.
func (b *Budget) Peak() int64 { b.mu.Lock(); defer b.mu.Unlock(); return b.peak }

// Carve reserves n bytes for who and returns a child budget of exactly that size whose Close
// gives them back: a step's plan gets a sub-ledger it cannot overdraw.
func (b *Budget) Carve(who string, n int64) (*Budget, error) {
	if err := b.Reserve(who, n); err != nil {
		return nil, err
	}
	return &Budget{limit: n}, nil
}

// RuntimeOverhead is what the Go runtime, the binary and the goroutine stacks take before any
// ledger entry (measured: ~12–20 MiB for the streamprove binary at rest). Plans subtract it.
const RuntimeOverhead = 24 << 20

// SetMemoryLimit tells the Go GC to work for the budget: the soft limit is set to the budget
// less a margin, so garbage is collected before the heap pushes RSS past the promise. It returns
// the previous limit. A zero budget leaves the GC alone.
func SetMemoryLimit(budget int64) int64 {
	if budget <= 0 {
		return debug.SetMemoryLimit(-1)
	}
	margin := budget / 8
	if margin < 16<<20 {
		margin = 16 << 20
	}
	// RSS also holds what the GC does not count: the binary's mapped text and data and the
	// catalog's mmap (measured RssFile: ~14 MiB for streamprove during a prove), on top of
	// which the soft limit is overshot by what is allocated between collections (measured: a
	// 2×4096×128 MLP at 80 MiB peaked at 92 MiB without this term, 79.5 MiB with it).
	margin += fileBacked
	lim := budget - margin
	if lim < 8<<20 {
		lim = 8 << 20
	}
	return debug.SetMemoryLimit(lim)
}

// fileBacked is the part of RSS outside the Go runtime's accounting that SetMemoryLimit leaves
// room for.
const fileBacked = 8 << 20

// ForRun sets a process up to keep its peak RSS under memBudget and returns the ledger it must
// reserve from: the GC's soft limit goes a margin below the budget, and the ledger gets half of
// what the Go runtime leaves, the other half covering heap slack between collections, goroutine
// stacks and the transient buffers of decoders the ledger does not see. A zero memBudget means
// unlimited (nil ledger); a budget too small to run at all is an ErrBudget naming the minimum.
func ForRun(memBudget int64) (*Budget, error) {
	ledger, err := LedgerFor(memBudget)
	if err != nil || ledger < 0 {
		SetMemoryLimit(0)
		return nil, err
	}
	SetMemoryLimit(memBudget)
	return NewBudget(ledger), nil
}

// MinBudget is the least --mem-budget a run accepts (LedgerFor refuses less).
const MinBudget = 48 << 20

// BudgetFor returns the least --mem-budget whose ledger (LedgerFor) is at least ledger bytes.
func BudgetFor(ledger int64) int64 {
	return max(MinBudget, 2*max(ledger, 0)+RuntimeOverhead)
}

// LedgerFor returns the ledger ForRun would give a budget (−1 for an unlimited one), or
// ErrBudget for a budget too small to run at all.
func LedgerFor(memBudget int64) (int64, error) {
	if memBudget <= 0 {
		return -1, nil
	}
	// Below this a step's stream readers (a few chunks of prefetch each) no longer fit the
	// ledger next to its tables (measured: a 3-layer int8 MLP with lookups fails at 40 MiB
	// mid-proof and runs at 48 MiB with 39 MiB peak).
	const floor = MinBudget
	if memBudget < floor {
		return 0, fmt.Errorf("--mem-budget %s is below the minimum of %s (the runtime alone takes ~%s): %w",
			FormatBytes(memBudget), FormatBytes(floor), FormatBytes(RuntimeOverhead), ErrBudget)
	}
	return (memBudget - RuntimeOverhead) / 2, nil
}
