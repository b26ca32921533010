package pcs

import (
	"fmt"
	"io"
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
func Commit(src field.Source, opt Options) (_ *Commitment, err error) {
	n, err := sourceVars(src)
	if err != nil {
		return nil, err
	}
	if is, ok := src.(field.IntSource); ok && is.Bits() <= smallMaxBits {
		return commitInts(is, n, opt)
	}
	cm, err := newCommitter(n, opt, false)
	if err != nil {
		return nil, err
	}
	defer cm.release()
	st, err := src.Open()
	if err != nil {
		return nil, fmt.Errorf("pcs commit: %w", err)
	}
	defer func() {
		if cerr := st.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("pcs commit: %w", cerr)
		}
	}()
	// Read straight into the committer's buffer: no second copy of the chunk.
	for cm.rowsDone < len(cm.com.Rows) {
		want := len(cm.buf)
		if left := (len(cm.com.Rows) - cm.rowsDone) << cm.com.ColumnLog; left < want {
			want = left
		}
		if err := field.ReadFull(st, cm.buf[:want]); err != nil {
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				err = fmt.Errorf("stream ended at element %d of %d: %w", int64(cm.rowsDone)<<cm.com.ColumnLog, src.Len(), io.ErrUnexpectedEOF)
			}
			return nil, fmt.Errorf("pcs commit: %w", err)
		}
		cm.fill = want
		if err := cm.flush(); err != nil {
			return nil, err
		}
	}
	return cm.Finish()
}

// commitInts is Commit for an integer source: its rows go to the small-scalar MSM as the stored
// integers, without the conversion to field elements and back (two Montgomery conversions per
// element, a tenth of an int8 row's MSM). The commitment is the one Commit makes from the same
// vector as field elements.
func commitInts(src field.IntSource, n int, opt Options) (_ *Commitment, err error) {
	cm, err := newCommitter(n, opt, true)
	if err != nil {
		return nil, err
	}
	defer cm.release()
	st, err := src.OpenInts()
	if err != nil {
		return nil, fmt.Errorf("pcs commit: %w", err)
	}
	defer func() {
		if cerr := st.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("pcs commit: %w", cerr)
		}
	}()
	m := 1 << cm.com.ColumnLog
	for cm.rowsDone < len(cm.com.Rows) {
		nr := min(len(cm.ints)/m, len(cm.com.Rows)-cm.rowsDone)
		chunk := cm.ints[:nr*m]
		for got := 0; got < len(chunk); {
			k, err := st.Next(chunk[got:])
			got += k
			if err != nil && got < len(chunk) {
				if err == io.EOF || err == io.ErrUnexpectedEOF {
					err = fmt.Errorf("stream ended at element %d of %d: %w", int64(cm.rowsDone)*int64(m)+int64(got), src.Len(), io.ErrUnexpectedEOF)
				}
				return nil, fmt.Errorf("pcs commit: %w", err)
			}
		}
		r0 := cm.rowsDone
		field.Parallel(nr, cm.workers, func(start, end int) {
			w := <-cm.pool
			defer func() { cm.pool <- w }()
			for i := start; i < end; i++ {
				w.commitRowInts(&cm.com.Rows[r0+i], cm.gens, chunk[i*m:(i+1)*m])
			}
		})
		cm.rowsDone += nr
	}
	com := cm.com
	return com, nil
}

// committer is the push form of Commit, which streams its source through one; it is kept apart
// for data produced rather than stored (an advice tensor committed during the forward pass that
// writes it, DESIGN §10), should a caller need it. Write the 2^n elements in index order, in
// chunks of any size, then call Finish. Its memory is Commit's, reserved from the budget when it
// is made and released by Finish (or Abort).
type committer struct {
	com       *Commitment
	gens      []bn254.G1Affine
	buf       []field.Element // rpc whole rows
	ints      []int64         // rpc whole rows of integers (commitInts; buf is then empty)
	fill      int             // elements in buf
	rowsDone  int             // rows committed
	workers   int
	pool      chan *rowWorker
	releaseFn func()
}

// newCommitter prepares to commit to a polynomial of numVars variables; its chunk buffer
// holds field elements, or integers with ints (commitInts).
func newCommitter(numVars int, opt Options, ints bool) (*committer, error) {
	if numVars < 0 || numVars > MaxVars {
		return nil, fmt.Errorf("pcs: %d variables (max %d)", numVars, MaxVars)
	}
	b, err := columnLog(numVars, opt.ColumnLog)
	if err != nil {
		return nil, err
	}
	a := numVars - b
	m := 1 << b
	gens, err := generators(b)
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
	cm := &committer{
		com:       &Commitment{NumVars: numVars, ColumnLog: b, Rows: make([]bn254.G1Affine, 1<<a)},
		gens:      gens,
		workers:   workers,
		pool:      make(chan *rowWorker, workers),
		releaseFn: release,
	}
	if ints {
		cm.buf, cm.ints = []field.Element{}, make([]int64, rpc*m)
	} else {
		cm.buf = make([]field.Element, rpc*m)
	}
	var tab *subsetTable
	if a >= planesMinRowsLog && m >= blockBits {
		// The subset table is optional: without the budget for it the rows take msmSmall.
		if rel, err := reserve(opt.Budget, "pcs commit subset sums", subsetTableBytes(b)); err == nil {
			w := newRowWorker(b)
			tab = newSubsetTable(gens, w.sc)
			prev := cm.releaseFn
			cm.releaseFn = func() { rel(); prev() }
		}
	}
	for i := 0; i < workers; i++ {
		w := newRowWorker(b)
		w.tab = tab
		cm.pool <- w
	}
	return cm, nil
}

// planesMinRowsLog: a commitment of at least 2^planesMinRowsLog rows builds a subsetTable (its
// 2^(b+blockBits)/blockBits additions are then a few percent of the rows' work).
const planesMinRowsLog = 8

// Write appends the next elements of the polynomial, committing every row it completes.
func (cm *committer) Write(elems []field.Element) error {
	if cm.buf == nil {
		return fmt.Errorf("pcs: write to a finished committer")
	}
	total := len(cm.com.Rows) << cm.com.ColumnLog
	if cm.rowsDone<<cm.com.ColumnLog+cm.fill+len(elems) > total {
		return fmt.Errorf("pcs: more than the %d elements of a %d-variable polynomial: %w", total, cm.com.NumVars, ErrClaim)
	}
	for len(elems) > 0 {
		k := copy(cm.buf[cm.fill:], elems)
		cm.fill += k
		elems = elems[k:]
		if cm.fill == len(cm.buf) {
			if err := cm.flush(); err != nil {
				return err
			}
		}
	}
	return nil
}

// flush commits the whole rows in buf, the rows in parallel.
func (cm *committer) flush() error {
	m := 1 << cm.com.ColumnLog
	nr := cm.fill / m
	if nr == 0 {
		return nil
	}
	r0 := cm.rowsDone
	chunk := cm.buf
	field.Parallel(nr, cm.workers, func(start, end int) {
		w := <-cm.pool
		defer func() { cm.pool <- w }()
		for i := start; i < end; i++ {
			w.commitRow(&cm.com.Rows[r0+i], cm.gens, chunk[i*m:(i+1)*m])
		}
	})
	cm.rowsDone += nr
	rest := copy(cm.buf, cm.buf[nr*m:cm.fill])
	cm.fill = rest
	return nil
}

// Finish returns the commitment once all 2^n elements were written, and releases the
// committer's memory.
func (cm *committer) Finish() (*Commitment, error) {
	if cm.buf == nil {
		return nil, fmt.Errorf("pcs: finish of a finished committer")
	}
	if err := cm.flush(); err != nil {
		cm.Abort()
		return nil, err
	}
	if cm.rowsDone != len(cm.com.Rows) || cm.fill != 0 {
		got := int64(cm.rowsDone)<<cm.com.ColumnLog + int64(cm.fill)
		cm.Abort()
		return nil, fmt.Errorf("pcs: %d of the %d elements were written: %w", got,
			int64(len(cm.com.Rows))<<cm.com.ColumnLog, ErrClaim)
	}
	com := cm.com
	cm.Abort()
	return com, nil
}

// Abort drops the committer's buffers and releases its reservation; it is safe to call after
// Finish.
func (cm *committer) Abort() { cm.release() }

func (cm *committer) release() {
	if cm.buf == nil {
		return
	}
	cm.buf, cm.ints, cm.pool = nil, nil, nil
	cm.releaseFn()
}
