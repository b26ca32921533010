package sumcheck

import (
	"math/bits"
	"sync"

	"github.com/streamprove/streamprove/field"
)

// blocked is the RAM layout that makes LSB-first folding contiguous. Level 1 (the first table the
// prover owns) is cut into blocks of B = 2^b elements; inside block J, element J·B+i sits at
// J·B + rev_b(i) (its low b index bits reversed). Variable 0 of the level is then the block's most
// significant position bit: round pairs are the block's first and second halves, folding writes
// the first half in place and keeps the layout (rev_{b−1} of the remaining bits). Every round is
// whole-vector arithmetic on contiguous halves of a cache-sized block, with no de-interleaving,
// and no second table. After b rounds each block holds one element; they are gathered into a
// natural-order table of N/2/B elements and the plain RAM path finishes.
type blocked struct {
	B    int
	data [][]field.Element // k × N/2
	lb   int               // elements per block at the current level
	rev  []uint32          // rev_b
}

// blockSize is the block length of the blocked layout for a RAM prove from the caller's vectors,
// or 0 when the tables are too small for it to pay (a block per worker at least).
func (pr *prover) blockSize() int {
	if pr.n < 8 {
		return 0
	}
	return pr.blockSizeFor(int64(1) << (pr.n - 1))
}

// blockSizeFor is the block length for RAM tables of n elements, or 0 (fewer than a block of 4
// per worker).
func (pr *prover) blockSizeFor(n int64) int {
	B := min(int64(pr.maxPairs()), n/int64(pr.workers))
	if B < 4 || n < 128 {
		return 0
	}
	return 1 << (bits.Len64(uint64(B)) - 1)
}

// newBlocked makes blocked tables of n elements per source.
func newBlocked(k int, n int64, B int) *blocked {
	bl := &blocked{B: B, data: makeTables(k, n), lb: B, rev: make([]uint32, B)}
	b := bits.TrailingZeros(uint(B))
	for i := range bl.rev {
		bl.rev[i] = uint32(bits.Reverse32(uint32(i)) >> (32 - b))
	}
	return bl
}

// revCtx is roundCtx for blocked rounds: the eq weights of a block's pairs are in bit-reversed
// order, like the pairs.
func (pr *prover) revCtx(t, P int) *roundCtx {
	rc := pr.roundCtx(t, P)
	if P < 2 {
		return rc
	}
	b := bits.TrailingZeros(uint(P))
	for i, lo := range rc.lo {
		p := make([]field.Element, P)
		for x := range p {
			p[x] = lo[bits.Reverse32(uint32(x))>>(32-b)]
		}
		rc.lo[i] = p
	}
	return rc
}

// evalHalves accumulates a blocked round over block J, whose current lb elements per source are
// pairs (first half, second half).
func (pr *prover) evalHalves(ws *workspace, rc *roundCtx, acc []field.Element, J, lb int) {
	h := lb / 2
	base := J * pr.blk.B
	for j := 0; j < pr.k; j++ {
		ws.lo[j] = pr.blk.data[j][base : base+h]
		ws.hi[j] = pr.blk.data[j][base+h : base+lb]
	}
	rc.evalSplit(ws, acc, ws.lo, ws.hi, h, int64(J))
}

// parallelAcc runs fn over blocks [0, nb) in parallel, each range accumulating into its own
// vector of na elements, and returns the sum (field sums are exact: order does not matter).
func (pr *prover) parallelAcc(nb, na int, fn func(ws *workspace, acc []field.Element, J int)) []field.Element {
	acc := make([]field.Element, na)
	var mu sync.Mutex
	pr.parallel(nb, func(ws *workspace, s, e int) {
		mine := make([]field.Element, na)
		for J := s; J < e; J++ {
			fn(ws, mine, J)
		}
		mu.Lock()
		for i := range acc {
			acc[i].Add(&acc[i], &mine[i])
		}
		mu.Unlock()
	})
	return acc
}

// toBlocked folds the caller's level-0 vectors with r_0 into the blocked level 1, and computes
// round 1 on each block while it is in cache.
func (pr *prover) toBlocked(r *field.Element) {
	bl := pr.blk
	B := bl.B
	nb := len(bl.data[0]) / B
	var rc *roundCtx
	na := 0
	if pr.n > 1 {
		rc = pr.revCtx(1, B/2)
		na = rc.nTerms * len(rc.pts)
	}
	acc := pr.parallelAcc(nb, na, func(ws *workspace, acc []field.Element, J int) {
		for j := 0; j < pr.k; j++ {
			f, d := ws.ev[j][:B], ws.od[j][:B]
			deinterleave(f, d, pr.cur[j][2*J*B:2*(J+1)*B])
			vf, vd := field.Vector(f), field.Vector(d)
			vd.Sub(vd, vf)
			vd.ScalarMul(vd, r)
			vf.Add(vf, vd)
			dst := bl.data[j][J*B : (J+1)*B]
			for i, p := range bl.rev {
				dst[p] = f[i]
			}
		}
		if rc != nil {
			pr.evalHalves(ws, rc, acc, J, B)
		}
	})
	pr.cur = nil
	if rc != nil {
		pr.ahead, pr.aheadRC, pr.aheadT = acc, rc, 1
	}
}

// blockedFold binds r_t (t ≥ 1) in the blocked layout and computes round t+1 in the same pass;
// once every block is down to one element it gathers them for the plain RAM path.
func (pr *prover) blockedFold(t int, r *field.Element) {
	bl := pr.blk
	B, lb := bl.B, bl.lb
	h := lb / 2
	nb := len(bl.data[0]) / B
	var rc *roundCtx
	na := 0
	if h >= 2 {
		rc = pr.revCtx(t+1, h/2)
		na = rc.nTerms * len(rc.pts)
	}
	acc := pr.parallelAcc(nb, na, func(ws *workspace, acc []field.Element, J int) {
		base := J * B
		for j := 0; j < pr.k; j++ {
			lo := field.Vector(bl.data[j][base : base+h])
			hi := field.Vector(bl.data[j][base+h : base+lb])
			tmp := field.Vector(ws.e2[j][:h])
			tmp.Sub(hi, lo)
			tmp.ScalarMul(tmp, r)
			lo.Add(lo, tmp)
		}
		if rc != nil {
			pr.evalHalves(ws, rc, acc, J, h)
		}
	})
	bl.lb = h
	if rc != nil {
		pr.ahead, pr.aheadRC, pr.aheadT = acc, rc, t+1
		return
	}
	// One element per block: gather into a natural-order table (block J is element J).
	cur := makeTables(pr.k, int64(nb))
	for j := range cur {
		for J := 0; J < nb; J++ {
			cur[j][J] = bl.data[j][J*B]
		}
	}
	pr.blk = nil
	pr.cur, pr.next = cur, 0
	pr.bufs[0] = makeTables(pr.k, int64(nb/2))
	pr.bufs[1] = makeTables(pr.k, int64(nb/4))
}
