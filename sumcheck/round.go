package sumcheck

import (
	"github.com/streamprove/streamprove/field"
)

// workspace is one worker's scratch: de-interleaved halves of a block of pairs per source, the
// gate's output.
type workspace struct {
	ev, od [][]field.Element // k × maxPairs
	e2, o2 [][]field.Element // k × maxPairs: the other half of a stride-4 split (fused fold)
	out    []field.Element   // maxPairs
	ins    [][]field.Element // k views handed to Gate.Eval
	lo, hi [][]field.Element // k views of a blocked round's pairs
	acc    []field.Element   // this worker's share of the round's accumulators
}

func newWorkspace(k, maxPairs int) *workspace {
	ws := &workspace{ev: make([][]field.Element, k), od: make([][]field.Element, k),
		e2: make([][]field.Element, k), o2: make([][]field.Element, k),
		out: make([]field.Element, maxPairs), ins: make([][]field.Element, k),
		lo: make([][]field.Element, k), hi: make([][]field.Element, k)}
	for j := 0; j < k; j++ {
		ws.ev[j] = make([]field.Element, maxPairs)
		ws.od[j] = make([]field.Element, maxPairs)
		ws.e2[j] = make([]field.Element, maxPairs)
		ws.o2[j] = make([]field.Element, maxPairs)
	}
	return ws
}

// roundCtx is what one round's block evaluation needs: the gate's evaluation points and, per eq
// term, the chunk decomposition of eq(p_>t, ·) over the pair index for blocks of P pairs.
type roundCtx struct {
	gate   Gate
	k      int
	pts    []int // X values at which q (eq) or s (no eq) is accumulated
	P      int   // pairs per block
	lo     [][]field.Element
	hi     [][]field.Element // per eq term: the point coordinates above the block
	noEq   bool
	prod2  bool // the gate is f_1·f_2: Σ a·b is one fused inner product
	nTerms int  // accumulators are nTerms × len(pts)
}

// deinterleave splits src (2P elements) into its even and odd positions.
func deinterleave(ev, od, src []field.Element) {
	ev = ev[:len(src)/2]
	od = od[:len(ev)]
	src = src[:2*len(ev)]
	for i := range ev {
		p := src[2*i : 2*i+2 : 2*i+2]
		ev[i], od[i] = p[0], p[1]
	}
}

// foldBlock writes dst[i] = src[2i] + r·(src[2i+1] − src[2i]) for a block of len(dst) pairs; dst
// may alias src (the block is copied into the workspace first).
func foldBlock(ev, od, dst, src []field.Element, r *field.Element) {
	P := len(src) / 2
	ev, od = ev[:P], od[:P]
	deinterleave(ev, od, src)
	vo := field.Vector(od)
	vo.Sub(vo, field.Vector(ev))
	vo.ScalarMul(vo, r)
	vd := field.Vector(dst[:P])
	vd.Add(field.Vector(ev), vo)
}

// evalBlock accumulates block J (pairs J·P … J·P+P−1 of the current level, given as tabs[j] of
// 2P elements per source) into acc. For each evaluation point X it forms f_j(X) = a + X·(b−a)
// for every pair (a, b) as whole vectors, evaluates the gate once on the block, and adds
// Σ_pairs G (no eq) or eq(p_>t, pair)·G (per eq term; the weights are Hi(J)·Lo[pair]).
func (rc *roundCtx) evalBlock(ws *workspace, acc []field.Element, tabs [][]field.Element, J int64) {
	P := len(tabs[0]) / 2
	for j := 0; j < rc.k; j++ {
		deinterleave(ws.ev[j][:P], ws.od[j][:P], tabs[j])
	}
	rc.evalSplit(ws, acc, ws.ev, ws.od, P, J)
}

// foldEval folds a block of 4Q elements per source with r into dst (2Q per source) and, when rc
// is not nil, accumulates the next round over the Q pairs it produced while they are in cache.
// A stride-4 split makes the folded evens and odds come out as separate vectors, which are
// exactly the de-interleaved pairs the next round needs: one pass over memory per round.
func (rc *roundCtx) foldEval(ws *workspace, acc []field.Element, dst, src [][]field.Element, r *field.Element, J int64) {
	Q := len(src[0]) / 4
	for j := range src {
		s0, s1, s2, s3 := ws.ev[j][:Q], ws.e2[j][:Q], ws.od[j][:Q], ws.o2[j][:Q]
		sj := src[j][:4*Q]
		for i := range s0 {
			q := sj[4*i : 4*i+4 : 4*i+4]
			s0[i], s1[i], s2[i], s3[i] = q[0], q[1], q[2], q[3]
		}
		v0, v1, v2, v3 := field.Vector(s0), field.Vector(s1), field.Vector(s2), field.Vector(s3)
		v1.Sub(v1, v0)
		v1.ScalarMul(v1, r)
		v0.Add(v0, v1)
		v3.Sub(v3, v2)
		v3.ScalarMul(v3, r)
		v2.Add(v2, v3)
		dj := dst[j][:2*Q]
		for i := range s0 {
			d := dj[2*i : 2*i+2 : 2*i+2]
			d[0], d[1] = s0[i], s2[i]
		}
	}
	if rc != nil {
		rc.evalSplit(ws, acc, ws.ev, ws.od, Q, J)
	}
}

// evalSplit is evalBlock on pairs already split into lo (a) and hi (b), P per source. It reads
// lo and hi only until it writes ws.ev and ws.od, so they may be those buffers.
func (rc *roundCtx) evalSplit(ws *workspace, acc []field.Element, lo, hi [][]field.Element, P int, J int64) {
	var his []field.Element
	if !rc.noEq {
		his = make([]field.Element, len(rc.lo))
		for i := range rc.lo {
			his[i] = field.EqIndex(rc.hi[i], uint64(J))
		}
	}
	out := field.Vector(ws.out[:P])
	add := func(pi int) {
		if rc.noEq && rc.prod2 {
			s := field.InnerProduct(ws.ins[0][:P], ws.ins[1][:P])
			acc[pi].Add(&acc[pi], &s)
			return
		}
		rc.gate.Eval(out, ws.ins)
		if rc.noEq {
			s := out.Sum()
			acc[pi].Add(&acc[pi], &s)
			return
		}
		for i := range rc.lo {
			s := out.InnerProduct(field.Vector(rc.lo[i][:P]))
			s.Mul(&s, &his[i])
			a := &acc[i*len(rc.pts)+pi]
			a.Add(a, &s)
		}
	}
	x := 0 // the X that ws.od currently holds (0: not computed yet)
	for pi, X := range rc.pts {
		switch X {
		case 0:
			for j := range ws.ins {
				ws.ins[j] = lo[j][:P]
			}
		case 1:
			for j := range ws.ins {
				ws.ins[j] = hi[j][:P]
			}
		default:
			if x == 0 {
				// from here on ws.ev holds b−a and ws.od holds f(X)
				for j := 0; j < rc.k; j++ {
					e, o := field.Vector(ws.ev[j][:P]), field.Vector(ws.od[j][:P])
					e.Sub(field.Vector(hi[j][:P]), field.Vector(lo[j][:P]))
					o.Add(field.Vector(hi[j][:P]), e)
				}
				x = 2
			}
			for ; x < X; x++ {
				for j := 0; j < rc.k; j++ {
					e, o := field.Vector(ws.ev[j][:P]), field.Vector(ws.od[j][:P])
					o.Add(o, e)
				}
			}
			for j := range ws.ins {
				ws.ins[j] = ws.od[j][:P]
			}
		}
		add(pi)
	}
}
