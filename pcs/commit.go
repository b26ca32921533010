package pcs

import (
	"fmt"
	"runtime"

	"github.com/consensys/gnark-crypto/ecc/bn254"

	"github.com/streamprove/streamprove/field"
	"github.com/streamprove/streamprove/spill"
)

// chunkTarget is how many elements a streaming pass reads at once (1 MiB of field elements): big
// enough that every worker gets whole rows and the per-chunk goroutine start-up is noise, small
// enough to be a rounding error in any budget.
const chunkTarget = 1 << 15

func workerCount(w int) int {
	if w <= 0 {
		return runtime.GOMAXPROCS(0)
	}
	return w
}

// rowsPerChunk is the number of whole rows of 2^b elements a pass reads at once.
func rowsPerChunk(b, a, workers int) int {
	r := chunkTarget >> b
	if r < workers {
		r = workers
	}
	if r < 1 {
		r = 1
	}
	if int64(r) > int64(1)<<a {
		r = 1 << a
	}
	return r
}

// reserve takes n bytes from b (nil: unlimited) and returns the function that gives them back.
func reserve(b *spill.Budget, who string, n int64) (func(), error) {
	if b == nil {
		return func() {}, nil
	}
	if err := b.Reserve(who, n); err != nil {
		return nil, err
	}
	return func() { b.Release(n) }, nil
}

// sourceVars checks that src holds 2^n elements with n ≤ MaxVars.
func sourceVars(src field.Source) (int, error) {
	if src == nil {
		return 0, fmt.Errorf("pcs: nil source: %w", ErrClaim)
	}
	n, err := field.Log2(src.Len())
	if err != nil {
		return 0, fmt.Errorf("pcs: %w", err)
	}
	if n > MaxVars {
		return 0, fmt.Errorf("pcs: 2^%d elements exceed the 2^%d limit", n, MaxVars)
	}
	return n, nil
}

// Commit streams src once, row by row, and returns its Hyrax commitment. It holds one chunk of
// whole rows, one scratch per worker and the 2^a row commitments, all reserved from opt.Budget
// (released on return; the caller owns the returned commitment's 64·2^a bytes).
func Commit(src field.Source, opt Options) (*Commitment, error) {
	n, err := sourceVars(src)
	if err != nil {
		return nil, err
	}
	b, err := columnLog(n, opt.ColumnLog)
	if err != nil {
		return nil, err
	}
	a := n - b
	m := 1 << b
	gens, err := Generators(b)
	if err != nil {
		return nil, err
	}
	workers := workerCount(opt.Workers)
	rpc := rowsPerChunk(b, a, workers)
	if workers > rpc {
		workers = rpc
	}
	need := int64(rpc)*int64(m)*elemBytes + int64(workers)*workerBytes(b) + (int64(pointBytes) << a)
	release, err := reserve(opt.Budget, "pcs commit", need)
	if err != nil {
		return nil, err
	}
	defer release()

	com := &Commitment{NumVars: n, ColumnLog: b, Rows: make([]bn254.G1Affine, 1<<a)}
	pool := make(chan *rowWorker, workers)
	for i := 0; i < workers; i++ {
		pool <- newRowWorker(b)
	}
	buf := make([]field.Element, rpc*m)
	errs := make([]error, rpc)
	err = field.ForEachChunk(src, buf, func(j int64, chunk []field.Element) error {
		r0 := int(j) * rpc
		nr := len(chunk) / m
		// A chunk with fewer rows than workers gives each row's MultiExp the spare goroutines.
		tasks := workers / nr
		if tasks < 1 {
			tasks = 1
		}
		field.Parallel(nr, workers, func(start, end int) {
			w := <-pool
			defer func() { pool <- w }()
			for i := start; i < end; i++ {
				errs[i] = w.commitRow(&com.Rows[r0+i], gens, chunk[i*m:(i+1)*m], tasks)
			}
		})
		for i := 0; i < nr; i++ {
			if errs[i] != nil {
				return fmt.Errorf("pcs: row %d: %w", r0+i, errs[i])
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("pcs commit: %w", err)
	}
	return com, nil
}
