package sumcheck

import (
	"fmt"
	"runtime"
	"sync"

	"github.com/streamprove/streamprove/field"
	"github.com/streamprove/streamprove/spill"
)

// defaultChunkLog is 2^16 elements (2 MiB) per source and chunk: large enough that per-chunk
// work (opening streams, the Hi scalar of the eq decomposition) is noise, small enough that a
// worker's buffers stay a few MiB per source.
const defaultChunkLog = 16

// maxChunkLog caps Options.ChunkLog: beyond 2^22 elements a chunk buys nothing but memory.
const maxChunkLog = 22

// Defaults of Options.SpillEvery and Options.SmallRounds.
const (
	defaultSpillEvery  = 3
	defaultSmallRounds = 3
)

// stats counts a prove's I/O, for benchmarks and the scheduler's estimates.
type stats struct {
	SourceElems  int64 // elements read from the claim's sources
	IntElems     int64 // integers read from the sources by the small-value pass
	SmallRounds  int   // rounds served by the small-value pass
	SpillRead    int64 // bytes read from spill files
	SpillWritten int64 // bytes written to spill files
	Passes       int   // streamed passes
	RAMFrom      int   // the round from which the prover ran in RAM (NumVars: never)
	PassLog      []string
}

// Prove runs the sumcheck prover for c, absorbing into and squeezing from tr in the order Verify
// uses, and returns the proof and the point r (r[k] = variable k, bound first to last). The
// sources are read, never modified. Tables that fit opt.Budget are folded in RAM; otherwise they
// are streamed and spilled (DESIGN §7); either way the proof bytes are the same.
func Prove(tr *field.Transcript, c *Claim, opt Options) (*Proof, []field.Element, error) {
	p, r, _, err := prove(tr, c, opt)
	return p, r, err
}

func prove(tr *field.Transcript, c *Claim, opt Options) (*Proof, []field.Element, stats, error) {
	if err := c.check(); err != nil {
		return nil, nil, stats{}, err
	}
	n, k := c.NumVars, c.Gate.Arity()
	if len(c.Sources) != k {
		return nil, nil, stats{}, fmt.Errorf("sumcheck: %d sources for a gate of %d inputs", len(c.Sources), k)
	}
	for j, s := range c.Sources {
		if s == nil || s.Len() != int64(1)<<n {
			l := int64(-1)
			if s != nil {
				l = s.Len()
			}
			return nil, nil, stats{}, fmt.Errorf("sumcheck: source %d has %d elements, want 2^%d", j, l, n)
		}
	}
	pr, err := newProver(c, opt)
	if err != nil {
		return nil, nil, stats{}, err
	}
	defer pr.close()

	o := order{tr}
	o.begin(c)
	pr.v = c.Sum
	proof := &Proof{Rounds: make([][]field.Element, n)}
	point := make([]field.Element, n)
	for t := 0; t < n; t++ {
		msg, err := pr.round(t)
		if err != nil {
			return nil, nil, pr.st, err
		}
		r := o.round(msg)
		proof.Rounds[t], point[t] = msg, r
		pr.bind(t, msg, r)
	}
	finals, err := pr.finals()
	if err != nil {
		return nil, nil, pr.st, err
	}
	o.end(finals)
	proof.Finals = finals
	return proof, point, pr.st, nil
}

// prover holds one prove's state: the claim, its settings and the round state, then the tables
// of whichever mode it is in — RAM mode (ramState: cur holds the tables of the current level) or
// stream mode (streamState: base holds the tables of level b, and pend the challenges
// r_b … r_{t−1} still to fold on the fly).
type prover struct {
	c       *Claim
	n, k, d int
	settings
	wss  []*workspace
	pool chan *workspace
	eqC  []field.Element // c_i·Π_{k<t} eq(p_i[k], r_k)
	v    field.Element   // the running claim
	st   stats

	ramState
	streamState
}

// settings are the prove's Options with defaults applied, and the budget it holds.
type settings struct {
	workers, chunkLog       int
	spillEvery, smallRounds int
	dir                     string
	budget                  *spill.Budget
	reserved                int64 // bytes this prove holds from budget
}

// ramState is the prover's tables once they fit in RAM.
type ramState struct {
	inRAM bool
	blk   *blocked // RAM tables of level ≥ 1 in the blocked layout (nil: natural layout in cur)
	// ahead is round aheadT's accumulators, computed by the fold that produced its tables
	ahead   []field.Element
	aheadRC *roundCtx
	aheadT  int
	cur     [][]field.Element
	bufs    [2][][]field.Element
	next    int
}

// streamState is the prover's base tables and pending challenges while it streams.
type streamState struct {
	sv       *smallValue // the first rounds from integer sources (nil: field passes only)
	intBytes int64       // reserved for the batches' integer buffers (intBatches)
	base     []field.Source
	b        int
	pend     []field.Element
	spills   []*spill.Table
	batches  [3]*batch // a batch is read while one is processed and one is written
}

func newProver(c *Claim, opt Options) (*prover, error) {
	pr := &prover{c: c, n: c.NumVars, k: c.Gate.Arity(), d: c.Gate.Degree(),
		settings: settings{dir: opt.SpillDir, budget: opt.Budget, workers: opt.Workers, chunkLog: opt.ChunkLog}}
	if pr.budget == nil {
		pr.budget = spill.NewBudget(0)
	}
	if pr.workers <= 0 {
		pr.workers = runtime.GOMAXPROCS(0)
	}
	if pr.chunkLog <= 0 {
		pr.chunkLog = defaultChunkLog
	}
	pr.spillEvery, pr.smallRounds = opt.SpillEvery, opt.SmallRounds
	if pr.spillEvery <= 0 {
		pr.spillEvery = defaultSpillEvery
	}
	if pr.smallRounds == 0 {
		pr.smallRounds = defaultSmallRounds
	}
	pr.chunkLog = min(max(pr.chunkLog, 2), maxChunkLog)
	if pr.chunkLog > pr.n {
		pr.chunkLog = max(pr.n, 1)
	}
	pr.eqC = make([]field.Element, len(c.Eq))
	for i := range c.Eq {
		pr.eqC[i] = c.Eq[i].Coeff
	}
	pr.st.RAMFrom = pr.n

	// RAM from the start when every source already lives in RAM and the fold tables fit (N/2
	// per source in the blocked layout, N/2 + N/4 in the natural one for tiny claims): the
	// caller's vectors are level 0 and are never written.
	N := int64(1) << pr.n
	if slices := ramSlices(c.Sources); slices != nil {
		pr.inRAM = true
		B := pr.blockSize()
		tables := N/2 + N/4
		if B > 0 {
			tables = N / 2 // the blocked layout folds in place
		}
		need := int64(pr.k)*tables*elemBytes + pr.wsBytes(pr.chunkLog)
		if pr.reserve("sumcheck fold tables", need) == nil {
			pr.cur, pr.st.RAMFrom = slices, 0
			if B > 0 {
				pr.blk = newBlocked(pr.k, N/2, B)
			} else {
				pr.bufs[0] = makeTables(pr.k, N/2)
				pr.bufs[1] = makeTables(pr.k, N/4)
			}
		} else {
			pr.inRAM = false
		}
	}
	if !pr.inRAM {
		// Streaming reads a chunk per source per worker; shrink chunks until the buffers take
		// at most half of what the budget has left (the rest is for folded tables).
		for pr.chunkLog > 4 && pr.wsBytes(pr.chunkLog) > pr.budget.Available()/2 {
			pr.chunkLog--
		}
		if err := pr.reserve("sumcheck workspaces", pr.wsBytes(pr.chunkLog)); err != nil {
			pr.close()
			return nil, err
		}
	}
	maxPairs := pr.maxPairs()
	for w := 0; w < pr.workers; w++ {
		ws := newWorkspace(pr.k, maxPairs)
		pr.wss = append(pr.wss, ws)
	}
	pr.pool = make(chan *workspace, len(pr.wss))
	for _, ws := range pr.wss {
		pr.pool <- ws
	}
	if !pr.inRAM {
		pr.sv = pr.newSmallValue()
		pr.base = c.Sources
		for i := range pr.batches {
			pr.batches[i] = &batch{bufs: make([][][]field.Element, pr.workers)}
			for w := range pr.batches[i].bufs {
				pr.batches[i].bufs[w] = makeTables(pr.k, 1<<pr.chunkLog)
			}
		}
	}
	return pr, nil
}

const elemBytes = int64(field.Bytes)

// maxPairs is the pairs per block of the gate evaluation: small enough that a block's vectors
// (4 per source and the gate's output) stay in a core's L2 cache (2^11 pairs: 64 KiB each).
func (pr *prover) maxPairs() int { return 1 << min(pr.chunkLog-1, 11) }

func (pr *prover) wsBytes(chunkLog int) int64 { return wsBytes(pr.k, pr.workers, chunkLog, !pr.inRAM) }

func wsBytes(k, workers, chunkLog int, streaming bool) int64 {
	per := int64(4*k+1) << min(chunkLog-1, 11) // ev, od, e2, o2, out
	if streaming {
		per += 3 * int64(k) << chunkLog // three batches of read chunks
	}
	return int64(workers) * per * elemBytes
}

// StreamWorkspaceBytes is what a streaming prove of a gate of arity k reserves for its
// workspaces with workers workers (0: GOMAXPROCS) and chunks of 2^chunkLog elements. A prover
// shrinks its chunks until they take at most half of what the budget has free, down to 2^4: a
// caller that wants its sumchecks to stream in chunks of 2^chunkLog leaves twice this free.
func StreamWorkspaceBytes(k, workers, chunkLog int) int64 {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	return wsBytes(k, workers, chunkLog, true)
}

func (pr *prover) reserve(who string, n int64) error {
	if err := pr.budget.Reserve(who, n); err != nil {
		return err
	}
	pr.reserved += n
	return nil
}

func (pr *prover) close() {
	pr.budget.Release(pr.reserved)
	pr.reserved = 0
	for _, t := range pr.spills {
		t.Release()
	}
	pr.spills = nil
	pr.cur, pr.bufs, pr.wss, pr.blk = nil, [2][][]field.Element{}, nil, nil
}

func makeTables(k int, n int64) [][]field.Element {
	t := make([][]field.Element, k)
	for j := range t {
		t[j] = make([]field.Element, n)
	}
	return t
}

// ramSlices returns the sources' vectors when all of them already live in RAM.
func ramSlices(srcs []field.Source) [][]field.Element {
	out := make([][]field.Element, len(srcs))
	for j, s := range srcs {
		switch v := s.(type) {
		case field.SliceSource:
			out[j] = v
		case *spill.Table:
			if out[j] = v.Slice(); out[j] == nil {
				return nil
			}
		default:
			return nil
		}
	}
	return out
}

// roundCtx prepares round t for blocks of P pairs.
func (pr *prover) roundCtx(t, P int) *roundCtx {
	rc := &roundCtx{gate: pr.c.Gate, k: pr.k, P: P, noEq: len(pr.c.Eq) == 0}
	if g, ok := pr.c.Gate.(product); ok && g.k == 2 {
		rc.prod2 = true
	}
	rc.pts = append(rc.pts, 0)
	if !rc.noEq && !pr.skipOne(t) && pr.d >= 1 {
		rc.pts = append(rc.pts, 1)
	}
	for X := 2; X <= pr.d; X++ {
		rc.pts = append(rc.pts, X)
	}
	rc.nTerms = 1
	if !rc.noEq {
		rc.nTerms = len(pr.c.Eq)
		blockLog := log2(P)
		for i := range pr.c.Eq {
			suffix := pr.c.Eq[i].Point[t+1:]
			ce := field.NewChunkEq(suffix, blockLog)
			rc.lo = append(rc.lo, ce.Lo)
			rc.hi = append(rc.hi, suffix[blockLog:])
		}
	}
	return rc
}

// skipOne reports whether round t's q(1) follows from the running claim (Gruen): with a single
// eq term, s(1) = c'·p_t·q(1), so the prover need not evaluate the gate at X = 1 when c'·p_t ≠ 0.
func (pr *prover) skipOne(t int) bool {
	if len(pr.c.Eq) != 1 || pr.d < 1 {
		return false
	}
	var cp field.Element
	cp.Mul(&pr.eqC[0], &pr.c.Eq[0].Point[t])
	return !cp.IsZero()
}

func log2(n int) int {
	l := 0
	for 1<<l < n {
		l++
	}
	return l
}

// message turns round t's accumulators into the compact round polynomial (values at 0, 2…D).
func (pr *prover) message(t int, rc *roundCtx, acc []field.Element) []field.Element {
	if rc.noEq {
		return append([]field.Element(nil), acc[:len(rc.pts)]...)
	}
	D := pr.d + 1
	s := make([]field.Element, D+1)
	np := len(rc.pts)
	for i := range pr.c.Eq {
		pt := &pr.c.Eq[i].Point[t]
		q := make([]field.Element, pr.d+1)
		for pi, X := range rc.pts {
			q[X] = acc[i*np+pi]
		}
		if np < pr.d+1 { // skipOne: q(1) = (v − c'(1−p)q(0)) / (c'·p)
			var zero, one field.Element
			one.SetOne()
			l0, l1 := eq1(pt, &zero), eq1(pt, &one)
			l0.Mul(&l0, &pr.eqC[i])
			l1.Mul(&l1, &pr.eqC[i])
			var s0 field.Element
			s0.Mul(&l0, &q[0])
			q[1].Sub(&pr.v, &s0)
			l1.Inverse(&l1)
			q[1].Mul(&q[1], &l1)
		}
		var xd field.Element
		xd.SetUint64(uint64(D))
		q = append(q, lagrangeAt(q, &xd))
		for X := 0; X <= D; X++ {
			var xe field.Element
			xe.SetUint64(uint64(X))
			w := eq1(pt, &xe)
			w.Mul(&w, &pr.eqC[i])
			w.Mul(&w, &q[X])
			s[X].Add(&s[X], &w)
		}
	}
	msg := make([]field.Element, 0, D)
	msg = append(msg, s[0])
	return append(msg, s[2:]...)
}

// bind records challenge r of round t: the running claim becomes s_t(r), the eq coefficients
// absorb eq(p_i[t], r), and the tables are folded (RAM) or the challenge is queued (stream).
func (pr *prover) bind(t int, msg []field.Element, r field.Element) {
	s := make([]field.Element, len(msg)+1)
	s[0] = msg[0]
	s[1].Sub(&pr.v, &msg[0])
	copy(s[2:], msg[1:])
	pr.v = lagrangeAt(s, &r)
	for i := range pr.eqC {
		e := eq1(&pr.c.Eq[i].Point[t], &r)
		pr.eqC[i].Mul(&pr.eqC[i], &e)
	}
	if !pr.inRAM {
		pr.pend = append(pr.pend, r)
		return
	}
	if pr.blk != nil {
		if t == 0 {
			pr.toBlocked(&r)
		} else {
			pr.blockedFold(t, &r)
		}
		return
	}
	half := len(pr.cur[0]) / 2
	dst := make([][]field.Element, pr.k)
	for j := range dst {
		dst[j] = pr.bufs[pr.next][j][:half]
	}
	pr.cur, pr.next = pr.foldRAM(t+1, dst, pr.cur, &r), pr.next^1
}

// foldRAM folds the RAM tables src (level t) with r into dst and, when level t+1 still has pairs,
// computes round t+1 in the same pass (pr.ahead).
func (pr *prover) foldRAM(t1 int, dst, src [][]field.Element, r *field.Element) [][]field.Element {
	half := len(dst[0])
	if half == 1 {
		for j := range dst {
			foldBlock(pr.wss[0].ev[j], pr.wss[0].od[j], dst[j], src[j], r)
		}
		return dst
	}
	pairs := half / 2
	Q := pr.blockPairs(pairs)
	rc := pr.roundCtx(t1, Q)
	acc := make([]field.Element, rc.nTerms*len(rc.pts))
	var mu sync.Mutex
	pr.parallel(pairs/Q, func(ws *workspace, s, e int) {
		mine := make([]field.Element, len(acc))
		d := make([][]field.Element, pr.k)
		sr := make([][]field.Element, pr.k)
		for J := s; J < e; J++ {
			for j := range d {
				d[j] = dst[j][2*J*Q : 2*(J+1)*Q]
				sr[j] = src[j][4*J*Q : 4*(J+1)*Q]
			}
			rc.foldEval(ws, mine, d, sr, r, int64(J))
		}
		mu.Lock()
		for i := range acc {
			acc[i].Add(&acc[i], &mine[i])
		}
		mu.Unlock()
	})
	pr.ahead, pr.aheadRC, pr.aheadT = acc, rc, t1
	return dst
}

// blockPairs picks the pairs per block for a RAM round over `pairs` pairs: as large as the
// workspace allows, but leaving at least one block per worker.
func (pr *prover) blockPairs(pairs int) int {
	P := min(pr.maxPairs(), pairs)
	for P > 64 && pairs/P < pr.workers {
		P /= 2
	}
	return P
}

// parallel runs fn on contiguous ranges of blocks [0, nb), one range per worker, each with its
// own workspace.
func (pr *prover) parallel(nb int, fn func(ws *workspace, s, e int)) {
	field.Parallel(nb, pr.workers, func(s, e int) {
		ws := <-pr.pool
		defer func() { pr.pool <- ws }()
		fn(ws, s, e)
	})
}

// round computes round t's message.
func (pr *prover) round(t int) ([]field.Element, error) {
	if !pr.inRAM {
		if pr.sv != nil && t < pr.sv.w {
			if !pr.sv.done {
				ok, err := pr.smallPass()
				if err != nil {
					return nil, err
				}
				if !ok {
					pr.sv = nil
					return pr.pass(t)
				}
			}
			return pr.smallRound(t)
		}
		return pr.pass(t)
	}
	if pr.ahead != nil && pr.aheadT == t {
		acc, rc := pr.ahead, pr.aheadRC
		pr.ahead, pr.aheadRC = nil, nil
		return pr.message(t, rc, acc), nil
	}
	pairs := len(pr.cur[0]) / 2
	P := pr.blockPairs(pairs)
	rc := pr.roundCtx(t, P)
	acc := make([]field.Element, rc.nTerms*len(rc.pts))
	var mu sync.Mutex
	pr.parallel(pairs/P, func(ws *workspace, s, e int) {
		mine := make([]field.Element, len(acc))
		tabs := make([][]field.Element, pr.k)
		for J := s; J < e; J++ {
			for j := range tabs {
				tabs[j] = pr.cur[j][2*J*P : 2*(J+1)*P]
			}
			rc.evalBlock(ws, mine, tabs, int64(J))
		}
		mu.Lock()
		for i := range acc {
			acc[i].Add(&acc[i], &mine[i])
		}
		mu.Unlock()
	})
	return pr.message(t, rc, acc), nil
}
