package sumcheck

import (
	"fmt"
	"sync"
	"time"

	"github.com/streamprove/streamprove/field"
	"github.com/streamprove/streamprove/spill"
)

// pass streams the base tables once for round t (t = NumVars: only to produce the finals). Each
// worker takes a chunk of 2^c base elements per source (sources read in lockstep), folds the
// pending challenges into it in place (LSB-first folding is local to the chunk), and accumulates
// round t over the level-t pairs it holds. The folded level-t chunk is also written out when that
// pays: into RAM tables when they fit the budget (the prover then finishes in RAM), or into the
// spill tables once spillEvery challenges are pending (the spill file then is the new base,
// overwritten in place: the write position never passes the read position).
func (pr *prover) pass(t int) ([]field.Element, error) {
	eval := t < pr.n
	shift := t - pr.b
	Nb := pr.base[0].Len()
	Nt := Nb >> shift
	C := min(int64(1)<<pr.chunkLog, Nb)
	Ct := C >> shift
	nch := Nb / C

	// Where does level t go?
	const (
		none = iota
		toRAM
		toSpill
	)
	target := none
	// Past level 0 the RAM tables take the blocked layout (folded in place: Nt per source);
	// the natural layout needs a second, half-size buffer.
	B := 0
	if eval && t > 0 {
		B = pr.blockSizeFor(Nt)
	}
	need := int64(pr.k) * (Nt + Nt/2) * elemBytes
	if B > 0 {
		need = int64(pr.k) * Nt * elemBytes
	}
	if !eval || pr.reserve("sumcheck folded tables", need) == nil {
		target = toRAM
		if B > 0 {
			pr.blk = newBlocked(pr.k, Nt, B)
		} else {
			pr.bufs[0] = makeTables(pr.k, Nt)
			pr.bufs[1] = makeTables(pr.k, Nt/2)
		}
	} else if shift > 0 && shift >= min(spillEvery, pr.chunkLog-1) && !(shift+1 <= pr.chunkLog-1 && pr.fits(Nt/2)) {
		// Spill, unless the next level fits in RAM: then one more pass over the base is
		// cheaper than writing this level and reading it back.
		target = toSpill
		if pr.spills == nil {
			for j := 0; j < pr.k; j++ {
				tb, err := spill.NewSpilledTable(fmt.Sprintf("sumcheck source %d", j), Nt, pr.dir)
				if err != nil {
					return nil, err
				}
				pr.spills = append(pr.spills, tb)
			}
		}
	}

	var rc *roundCtx
	var acc []field.Element
	if eval {
		rc = pr.roundCtx(t, min(int(Ct/2), pr.maxPairs()))
		acc = make([]field.Element, rc.nTerms*len(rc.pts))
		for _, ws := range pr.wss {
			ws.acc = make([]field.Element, len(acc))
		}
	}

	// From integer sources, the pending challenges fold straight into the integers.
	var ifold []*intFolder
	if pr.b == 0 && shift > 0 && pr.sv != nil && pr.intBatches() {
		for _, src := range pr.sv.srcs {
			f := newIntFolder(pr.pend, src.Bits())
			if f == nil {
				ifold = nil
				break
			}
			ifold = append(ifold, f)
		}
	}
	streams := make([]field.Stream, pr.k)
	istreams := make([]field.IntStream, pr.k)
	closeAll := func() {
		for _, s := range streams {
			if s != nil {
				s.Close()
			}
		}
		for _, s := range istreams {
			if s != nil {
				s.Close()
			}
		}
	}
	for j, src := range pr.base {
		var err error
		if ifold != nil {
			istreams[j], err = pr.sv.srcs[j].OpenInts()
		} else {
			streams[j], err = src.Open()
		}
		if err != nil {
			closeAll()
			return nil, fmt.Errorf("sumcheck: open source %d: %w", j, err)
		}
	}
	defer closeAll()
	fromSpill := pr.b > 0

	// A reader goroutine fills one batch (a chunk per worker and source) while the workers
	// fold and evaluate the other. With in-place spilling this stays safe: batch i writes below
	// (i+1)·W·Ct ≤ (i+1)·W·C, where batch i+1 starts reading.
	t0 := time.Now()
	var writeDur time.Duration
	W := int64(len(pr.wss))
	free := make(chan *batch, len(pr.batches))
	full := make(chan *batch, 2)
	done := make(chan struct{})
	var reader sync.WaitGroup
	// Runs before closeAll: the reader must be gone before its streams are closed.
	defer func() {
		close(done)
		reader.Wait()
	}()
	for _, bt := range pr.batches {
		free <- bt
	}
	reader.Add(1)
	go func() {
		defer reader.Done()
		for start := int64(0); start < nch; start += W {
			var bt *batch
			select {
			case bt = <-free:
			case <-done:
				return
			}
			bt.start, bt.nb, bt.err = start, min(W, nch-start), nil
		read:
			for c := int64(0); c < bt.nb; c++ {
				for j := 0; j < pr.k; j++ {
					var err error
					if ifold != nil {
						err = readInts(istreams[j], bt.ints[c][j][:C], pr.sv.srcs[j].Bits())
					} else {
						err = field.ReadFull(streams[j], bt.bufs[c][j][:C])
					}
					if err != nil {
						bt.err = fmt.Errorf("sumcheck: read source %d at %d of %d (level %d): %w", j, (start+c)*C, Nb, pr.b, err)
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
	}()

	// A writer goroutine stores the folded level while the workers process the next batch; it
	// hands each batch back to the reader. Writes trail reads, so in-place spilling stays safe.
	toWrite := make(chan *batch, 3)
	writeErr := make(chan error, 1)
	var writer sync.WaitGroup
	writer.Add(1)
	go func() {
		defer writer.Done()
		failed := false
		for bt := range toWrite {
			if !failed {
				tw := time.Now()
				if err := pr.writeLevel(bt, target == toSpill, B, C, Ct); err != nil {
					writeErr <- err
					failed = true
				}
				writeDur += time.Since(tw)
			}
			free <- bt
		}
	}()
	writerOpen := true
	defer func() { // on an early return, stop the writer before the reader and the streams
		if writerOpen {
			close(toWrite)
			writer.Wait()
		}
	}()

	for start := int64(0); start < nch; start += W {
		bt := <-full
		if bt.err != nil {
			return nil, bt.err
		}
		nb := bt.nb
		switch {
		case fromSpill:
			pr.st.SpillRead += nb * C * int64(pr.k) * elemBytes
		case ifold != nil:
			pr.st.IntElems += nb * C * int64(pr.k)
		default:
			pr.st.SourceElems += nb * C * int64(pr.k)
		}
		var wg sync.WaitGroup
		for c := int64(0); c < nb; c++ {
			wg.Add(1)
			go func(ws *workspace, chunks [][]field.Element, ints [][]int64, J int64) {
				defer wg.Done()
				tabs := make([][]field.Element, pr.k)
				sub := make([][]field.Element, pr.k)
				for j := 0; j < pr.k; j++ {
					if ifold != nil {
						tabs[j] = chunks[j][:Ct]
						ifold[j].fold(tabs[j], ints[j][:C])
						continue
					}
					ch := chunks[j][:C]
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
				if eval {
					// blocks of rc.P pairs, numbered across the whole level
					pairs := int64(Ct / 2)
					for sb := int64(0); sb < pairs/int64(rc.P); sb++ {
						for j := range sub {
							sub[j] = tabs[j][2*sb*int64(rc.P) : 2*(sb+1)*int64(rc.P)]
						}
						rc.evalBlock(ws, ws.acc, sub, J*(pairs/int64(rc.P))+sb)
					}
				}
			}(pr.wss[c], bt.bufs[c], bt.intsOf(c), bt.start+c)
		}
		wg.Wait()
		if target == none {
			free <- bt
			continue
		}
		select {
		case toWrite <- bt:
		case err := <-writeErr:
			return nil, err
		}
	}
	close(toWrite)
	writer.Wait()
	writerOpen = false
	select {
	case err := <-writeErr:
		return nil, err
	default:
	}
	pr.st.Passes++
	pr.st.PassLog = append(pr.st.PassLog, fmt.Sprintf("round %d: base level %d, %d pending, target %d, from integers %v: %v (write %v)",
		t, pr.b, shift, target, ifold != nil, time.Since(t0), writeDur))
	if target != none || !eval {
		pr.freeIntBatches() // the base is no longer the integer sources
	}

	switch target {
	case toRAM:
		for _, tb := range pr.spills {
			tb.Release()
		}
		pr.spills, pr.base, pr.pend = nil, nil, nil
		pr.inRAM, pr.cur, pr.next = true, pr.bufs[0], 1
		if pr.blk != nil {
			pr.cur = nil
		}
		pr.st.RAMFrom = t
	case toSpill:
		pr.base = make([]field.Source, pr.k)
		for j, tb := range pr.spills {
			if err := tb.Shrink(Nt); err != nil {
				return nil, err
			}
			pr.base[j] = tb
		}
		pr.b, pr.pend = t, nil
	}
	if !eval {
		return nil, nil
	}
	for _, ws := range pr.wss {
		for i := range acc {
			acc[i].Add(&acc[i], &ws.acc[i])
		}
	}
	return pr.message(t, rc, acc), nil
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
