package sumcheck

import (
	"fmt"
	"sync"
	"time"

	"github.com/streamprove/streamprove/field"
	"github.com/streamprove/streamprove/spill"
)

// Where a pass writes the folded level.
const (
	toNone = iota
	toRAM
	toSpill
)

// passRun is one streamed pass: its geometry, where the folded level goes, its round context
// and accumulators, and the open streams. pass builds it (plan, openStreams), runs it (run:
// reader, workers, writer) and applies its result (finish).
type passRun struct {
	pr            *prover
	t             int
	eval          bool
	shift         int
	Nb, Nt, C, Ct int64
	nch           int64
	target        int
	B             int // block length of the blocked RAM layout (0: natural)
	rc            *roundCtx
	acc           []field.Element
	ifold         []*intFolder // pending challenges folded straight from integer sources
	streams       []field.Stream
	istreams      []field.IntStream
	fromSpill     bool
	writeDur      time.Duration
}

// pass streams the base tables once for round t (t = NumVars: only to produce the finals). Each
// worker takes a chunk of 2^c base elements per source (sources read in lockstep), folds the
// pending challenges into it in place (LSB-first folding is local to the chunk), and accumulates
// round t over the level-t pairs it holds. The folded level-t chunk is also written out when that
// pays: into RAM tables when they fit the budget (the prover then finishes in RAM), or into the
// spill tables once spillEvery challenges are pending (the spill file then is the new base,
// overwritten in place: the write position never passes the read position).
func (pr *prover) pass(t int) ([]field.Element, error) {
	ps := pr.plan(t)
	// The streams are opened before the level's tables are placed: their readers' bytes come
	// first, so RAM tables take only what is left after them and never starve them.
	if err := ps.openStreams(); err != nil {
		return nil, err
	}
	if err := ps.place(); err != nil {
		ps.closeStreams()
		return nil, err
	}
	t0 := time.Now()
	err := ps.run()
	ps.closeStreams()
	if err != nil {
		return nil, err
	}
	pr.st.Passes++
	pr.st.PassLog = append(pr.st.PassLog, fmt.Sprintf("round %d: base level %d, %d pending, target %d, from integers %v: %v (write %v)",
		t, pr.b, ps.shift, ps.target, ps.ifold != nil, time.Since(t0), ps.writeDur))
	return ps.finish()
}

// plan fixes a pass's geometry and whether it folds straight from integer sources.
func (pr *prover) plan(t int) *passRun {
	ps := &passRun{pr: pr, t: t, eval: t < pr.n, shift: t - pr.b, Nb: pr.base[0].Len(), fromSpill: pr.b > 0}
	ps.Nt = ps.Nb >> ps.shift
	ps.C = min(int64(1)<<pr.chunkLog, ps.Nb)
	ps.Ct = ps.C >> ps.shift
	ps.nch = ps.Nb / ps.C
	if ps.eval {
		ps.rc = pr.roundCtx(t, min(int(ps.Ct/2), pr.maxPairs()))
		ps.acc = make([]field.Element, ps.rc.nTerms*len(ps.rc.pts))
		for _, ws := range pr.wss {
			ws.acc = make([]field.Element, len(ps.acc))
		}
	}
	// From integer sources, the pending challenges fold straight into the integers.
	if pr.b == 0 && ps.shift > 0 && pr.sv != nil && pr.intBatches() {
		for _, src := range pr.sv.srcs {
			f := newIntFolder(pr.pend, src.Bits())
			if f == nil {
				ps.ifold = nil
				break
			}
			ps.ifold = append(ps.ifold, f)
		}
	}
	return ps
}

// place decides where level t goes: RAM tables when they fit (the prover then finishes in
// RAM), the spill tables when enough challenges are pending and the next level would not fit
// anyway, or nowhere.
func (ps *passRun) place() error {
	pr, t := ps.pr, ps.t
	// Past level 0 the RAM tables take the blocked layout (folded in place: Nt per source);
	// the natural layout needs a second, half-size buffer.
	if ps.eval && t > 0 {
		ps.B = pr.blockSizeFor(ps.Nt)
	}
	need := int64(pr.k) * (ps.Nt + ps.Nt/2) * elemBytes
	if ps.B > 0 {
		need = int64(pr.k) * ps.Nt * elemBytes
	}
	if !ps.eval || pr.reserve("sumcheck folded tables", need) == nil {
		ps.target = toRAM
		if ps.B > 0 {
			pr.blk = newBlocked(pr.k, ps.Nt, ps.B)
		} else {
			pr.bufs[0] = makeTables(pr.k, ps.Nt)
			pr.bufs[1] = makeTables(pr.k, ps.Nt/2)
		}
	} else if ps.shift > 0 && ps.shift >= min(pr.spillEvery, pr.chunkLog-1) && !(ps.shift+1 <= pr.chunkLog-1 && pr.fits(ps.Nt/2)) {
		// Spill, unless the next level fits in RAM: then one more pass over the base is
		// cheaper than writing this level and reading it back.
		ps.target = toSpill
		if pr.spills == nil {
			for j := 0; j < pr.k; j++ {
				tb, err := spill.NewSpilledTable(fmt.Sprintf("sumcheck source %d", j), ps.Nt, pr.dir)
				if err != nil {
					return err
				}
				pr.spills = append(pr.spills, tb)
			}
		}
	}
	return nil
}

// openStreams opens every base source: as integers when the pass folds from them.
func (ps *passRun) openStreams() error {
	pr := ps.pr
	ps.streams = make([]field.Stream, pr.k)
	ps.istreams = make([]field.IntStream, pr.k)
	for j, src := range pr.base {
		var err error
		if ps.ifold != nil {
			ps.istreams[j], err = pr.sv.srcs[j].OpenInts()
		} else {
			ps.streams[j], err = src.Open()
		}
		if err != nil {
			ps.closeStreams()
			return fmt.Errorf("sumcheck: open source %d: %w", j, err)
		}
	}
	return nil
}

func (ps *passRun) closeStreams() {
	for _, s := range ps.streams {
		if s != nil {
			s.Close()
		}
	}
	for _, s := range ps.istreams {
		if s != nil {
			s.Close()
		}
	}
}

// run pipelines the pass: a reader goroutine fills one batch (a chunk per worker and source)
// while the workers fold and evaluate another and a writer goroutine stores the folded level of
// a third. With in-place spilling this stays safe: batch i writes below (i+1)·W·Ct ≤ (i+1)·W·C,
// where batch i+1 starts reading. Every goroutine is gone when run returns.
func (ps *passRun) run() error {
	pr := ps.pr
	W := int64(len(pr.wss))
	free := make(chan *batch, len(pr.batches))
	full := make(chan *batch, 2)
	done := make(chan struct{})
	for _, bt := range pr.batches {
		free <- bt
	}
	var reader sync.WaitGroup
	reader.Add(1)
	go func() {
		defer reader.Done()
		ps.readLoop(W, free, full, done)
	}()
	defer func() {
		close(done)
		reader.Wait()
	}()

	toWrite := make(chan *batch, 3)
	writeErr := make(chan error, 1)
	var writer sync.WaitGroup
	writer.Add(1)
	go func() {
		defer writer.Done()
		ps.writeLoop(toWrite, free, writeErr)
	}()
	writerOpen := true
	defer func() { // on an early return, stop the writer before the reader
		if writerOpen {
			close(toWrite)
			writer.Wait()
		}
	}()

	for start := int64(0); start < ps.nch; start += W {
		bt := <-full
		if bt.err != nil {
			return bt.err
		}
		ps.process(bt)
		if ps.target == toNone {
			free <- bt
			continue
		}
		select {
		case toWrite <- bt:
		case err := <-writeErr:
			return err
		}
	}
	close(toWrite)
	writer.Wait()
	writerOpen = false
	select {
	case err := <-writeErr:
		return err
	default:
	}
	return nil
}

// readLoop reads the base chunk by chunk into free batches and hands them to the workers.
func (ps *passRun) readLoop(W int64, free, full chan *batch, done chan struct{}) {
	pr := ps.pr
	for start := int64(0); start < ps.nch; start += W {
		var bt *batch
		select {
		case bt = <-free:
		case <-done:
			return
		}
		bt.start, bt.nb, bt.err = start, min(W, ps.nch-start), nil
	read:
		for c := int64(0); c < bt.nb; c++ {
			for j := 0; j < pr.k; j++ {
				var err error
				if ps.ifold != nil {
					err = readInts(ps.istreams[j], bt.ints[c][j][:ps.C], pr.sv.srcs[j].Bits())
				} else {
					err = field.ReadFull(ps.streams[j], bt.bufs[c][j][:ps.C])
				}
				if err != nil {
					bt.err = fmt.Errorf("sumcheck: read source %d at %d of %d (level %d): %w", j, (start+c)*ps.C, ps.Nb, pr.b, err)
					break read
				}
			}
		}
		select {
		case full <- bt:
		case <-done:
			return
		}
		if bt.err != nil {
			return
		}
	}
}

// writeLoop stores the folded level of each batch and hands the batch back to the reader.
// Writes trail reads, so in-place spilling stays safe.
func (ps *passRun) writeLoop(toWrite <-chan *batch, free chan<- *batch, writeErr chan<- error) {
	failed := false
	for bt := range toWrite {
		if !failed {
			tw := time.Now()
			if err := ps.pr.writeLevel(bt, ps.target == toSpill, ps.B, ps.C, ps.Ct); err != nil {
				writeErr <- err
				failed = true
			}
			ps.writeDur += time.Since(tw)
		}
		free <- bt
	}
}

// process folds the pending challenges into each chunk of the batch (one worker per chunk) and
// accumulates round t over the level-t pairs.
func (ps *passRun) process(bt *batch) {
	pr := ps.pr
	switch {
	case ps.fromSpill:
		pr.st.SpillRead += bt.nb * ps.C * int64(pr.k) * elemBytes
	case ps.ifold != nil:
		pr.st.IntElems += bt.nb * ps.C * int64(pr.k)
	default:
		pr.st.SourceElems += bt.nb * ps.C * int64(pr.k)
	}
	var wg sync.WaitGroup
	for c := int64(0); c < bt.nb; c++ {
		wg.Add(1)
		go func(ws *workspace, chunks [][]field.Element, ints [][]int64, J int64) {
			defer wg.Done()
			ps.processChunk(ws, chunks, ints, J)
		}(pr.wss[c], bt.bufs[c], bt.intsOf(c), bt.start+c)
	}
	wg.Wait()
}

// processChunk folds one chunk J (of every source) to level t in place and evaluates round t
// over its pairs into the worker's accumulators.
func (ps *passRun) processChunk(ws *workspace, chunks [][]field.Element, ints [][]int64, J int64) {
	pr := ps.pr
	tabs := make([][]field.Element, pr.k)
	for j := 0; j < pr.k; j++ {
		if ps.ifold != nil {
			tabs[j] = chunks[j][:ps.Ct]
			ps.ifold[j].fold(tabs[j], ints[j][:ps.C])
			continue
		}
		ch := chunks[j][:ps.C]
		for i := range pr.pend {
			half := len(ch) / 2
			for off := 0; off < half; off += len(ws.ev[j]) {
				end := min(off+len(ws.ev[j]), half)
				foldBlock(ws.ev[j], ws.od[j], ch[off:end], ch[2*off:2*end], &pr.pend[i])
			}
			ch = ch[:half]
		}
		tabs[j] = ch
	}
	if !ps.eval {
		return
	}
	// blocks of rc.P pairs, numbered across the whole level
	sub := make([][]field.Element, pr.k)
	P := int64(ps.rc.P)
	pairs := ps.Ct / 2
	for sb := int64(0); sb < pairs/P; sb++ {
		for j := range sub {
			sub[j] = tabs[j][2*sb*P : 2*(sb+1)*P]
		}
		ps.rc.evalBlock(ws, ws.acc, sub, J*(pairs/P)+sb)
	}
}

// finish makes the written level the prover's new state (RAM tables, or the spill tables as
// the new base) and returns round t's message.
func (ps *passRun) finish() ([]field.Element, error) {
	pr := ps.pr
	if ps.target != toNone || !ps.eval {
		pr.freeIntBatches() // the base is no longer the integer sources
	}
	switch ps.target {
	case toRAM:
		for _, tb := range pr.spills {
			tb.Release()
		}
		pr.spills, pr.base, pr.pend = nil, nil, nil
		pr.inRAM, pr.cur, pr.next = true, pr.bufs[0], 1
		if pr.blk != nil {
			pr.cur = nil
		}
		pr.st.RAMFrom = ps.t
	case toSpill:
		pr.base = make([]field.Source, pr.k)
		for j, tb := range pr.spills {
			if err := tb.Shrink(ps.Nt); err != nil {
				return nil, err
			}
			pr.base[j] = tb
		}
		pr.b, pr.pend = ps.t, nil
	}
	if !ps.eval {
		return nil, nil
	}
	for _, ws := range pr.wss {
		for i := range ps.acc {
			ps.acc[i].Add(&ps.acc[i], &ws.acc[i])
		}
	}
	return pr.message(ps.t, ps.rc, ps.acc), nil
}

// finals returns every source's MLE at the bound point: the level-NumVars tables.
func (pr *prover) finals() ([]field.Element, error) {
	if !pr.inRAM {
		if _, err := pr.pass(pr.n); err != nil {
			return nil, err
		}
	}
	out := make([]field.Element, pr.k)
	for j := range out {
		out[j] = pr.cur[j][0]
	}
	return out, nil
}

// batch is one read-ahead unit of a pass: a chunk per worker and source.
type batch struct {
	bufs      [][][]field.Element // worker × source × chunk
	ints      [][][]int64         // worker × source × chunk: integers (intBatches), or nil
	start, nb int64
	err       error
}

// fits reports whether RAM tables of level length n (blocked, or natural with the half-size
// fold buffer) would fit what the budget has spare (tables can spill; readers cannot).
func (pr *prover) fits(n int64) bool {
	if pr.blockSizeFor(n) > 0 {
		return int64(pr.k)*n*elemBytes <= pr.budget.Spare()
	}
	return int64(pr.k)*(n+n/2)*elemBytes <= pr.budget.Spare()
}

// writeLevel stores the level-t chunks of one batch: into the spill tables, or into the RAM
// tables (natural order, or the blocked layout of block length B).
func (pr *prover) writeLevel(bt *batch, toSpill bool, B int, C, Ct int64) error {
	for c := int64(0); c < bt.nb; c++ {
		off := (bt.start + c) * Ct
		for j := 0; j < pr.k; j++ {
			lv := bt.bufs[c][j][:Ct]
			switch {
			case toSpill:
				if err := pr.spills[j].WriteAt(lv, off); err != nil {
					return fmt.Errorf("sumcheck: spill source %d: %w", j, err)
				}
				pr.st.SpillWritten += Ct * elemBytes
			case pr.blk == nil:
				copy(pr.bufs[0][j][off:], lv)
			default:
				d, mask, rev := pr.blk.data[j], int64(B-1), pr.blk.rev
				for i := range lv {
					x := off + int64(i)
					d[x&^mask|int64(rev[x&mask])] = lv[i]
				}
			}
		}
	}
	return nil
}

func (bt *batch) intsOf(c int64) [][]int64 {
	if bt.ints == nil {
		return nil
	}
	return bt.ints[c]
}

// intBatches gives every batch integer buffers for a pass that folds from integers, reserving
// them from the budget; it reports false (the pass reads field elements) if they do not fit.
func (pr *prover) intBatches() bool {
	if pr.batches[0].ints != nil {
		return true
	}
	C := int64(1) << pr.chunkLog
	need := int64(len(pr.batches)) * int64(pr.workers) * int64(pr.k) * C * 8
	if pr.reserve("sumcheck integer chunks", need) != nil {
		return false
	}
	pr.intBytes = need
	for _, bt := range pr.batches {
		bt.ints = make([][][]int64, pr.workers)
		for w := range bt.ints {
			bt.ints[w] = makeInts(pr.k, int(C))
		}
	}
	return true
}

// freeIntBatches drops the batches' integer buffers and returns their bytes to the budget.
func (pr *prover) freeIntBatches() {
	if pr.intBytes == 0 {
		return
	}
	for _, bt := range pr.batches {
		bt.ints = nil
	}
	pr.budget.Release(pr.intBytes)
	pr.reserved -= pr.intBytes
	pr.intBytes = 0
}
