package pcs

import (
	"math/bits"

	"github.com/consensys/gnark-crypto/ecc/bn254"
	"github.com/consensys/gnark-crypto/ecc/bn254/fp"
	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
)

// smallMaxBits is the widest magnitude (in bits) that takes the int64 small-scalar MSM; wider
// rows take msmWide. Measured (BenchmarkRowMSM, 2^12 points, one core, shared machine):
//
//	         this package   MultiExp of |x| vs ±G   MultiExp   mixed-Jacobian buckets
//	int8     0.13 µs        0.38 µs                 3.4 µs     0.29 µs
//	int16    0.25–0.35      0.65                    4.1        0.62
//	int32    0.47           1.15                    4.3        1.26
//	int62    0.93           1.95                    4.8        2.56
//	random   3.7            —                       7.9        —
//
// MultiExp always runs ~254/c windows and reads −1 as p−1; the window count here follows the
// data's width, so every width smallInt accepts takes the small path.
const smallMaxBits = 62

// smallInt reads e as a signed integer of magnitude below 2^62 (the negative x is stored as
// p−|x|), or reports false. It converts out of Montgomery form once and reads a negative value by
// subtracting the canonical limbs from p, cheaper than field.ToInt64's comparisons for the
// per-element test of every committed row.
func smallInt(e *fr.Element) (int64, bool) {
	b := e.Bits()
	if b[1]|b[2]|b[3] == 0 {
		if b[0] < 1<<62 {
			return int64(b[0]), true
		}
		return 0, false
	}
	// p − b, limb by limb; b < p, so there is no final borrow.
	r0, c := bits.Sub64(modulus[0], b[0], 0)
	r1, c := bits.Sub64(modulus[1], b[1], c)
	r2, c := bits.Sub64(modulus[2], b[2], c)
	r3, _ := bits.Sub64(modulus[3], b[3], c)
	if r1|r2|r3 == 0 && r0 < 1<<62 {
		return -int64(r0), true
	}
	return 0, false
}

// modulus holds p's 64-bit limbs, least significant first.
var modulus = func() (q [4]uint64) {
	for i, w := range fr.Modulus().Bits() {
		q[i] = uint64(w)
	}
	return q
}()

// msmWindow picks the window width c for m points of magnitude below 2^nbits. It minimises the
// cost of ceil(nbits/c) windows, each m batch-affine bucket fills plus the combination of up to
// 2^c buckets by combineByBits — about c/2 affine additions per bucket — plus the doublings
// between windows (weighted 4: a Jacobian doubling costs about four vectorised affine additions).
func msmWindow(m, nbits, maxC int) int {
	if nbits <= 0 {
		return 1
	}
	best, bestCost := 1, int64(-1)
	for c := 1; c <= maxC; c++ {
		w := (nbits + c - 1) / c
		top := nbits - (w-1)*c // bits of the top window's digits
		cost := int64(w)*int64(m) + int64(w-1)*(int64(c)<<(c-1)) + int64(top)<<max(top-1, 0) + int64(4*(w-1)*c)
		if bestCost < 0 || cost < bestCost {
			best, bestCost = c, cost
		}
	}
	return best
}

// msmSmall sets res = Σ_j s_j·points_j for integer scalars whose magnitudes are below 2^nbits.
// It is Pippenger's bucket method with sign–magnitude digits: a negative scalar adds −G_j (the
// negation is free in affine form), so a signed int8 row costs what an unsigned one does — unlike
// MultiExp, which reads −1 as the 254-bit p−1. Per window, the points are sorted into their
// buckets (counting sort) and each bucket is summed as a binary tree whose levels are batches of
// independent affine additions sharing one inversion (Montgomery's trick): ~6 field
// multiplications per addition instead of the 11 of a mixed Jacobian addition, and on AVX-512
// IFMA vectors (addPairsVec). The bucket sums are combined by bit groups (combineByBits). Measured
// 2.2× faster than msmSmallJacobian, the plain-Pippenger reference kept in the tests.
func msmSmall(res *bn254.G1Jac, points []bn254.G1Affine, s []int64, nbits int, sc *msmScratch, maxC int) {
	*res = bn254.G1Jac{}
	if nbits == 0 {
		return
	}
	m := len(s)
	c := msmWindow(m, nbits, maxC)
	w := (nbits + c - 1) / c
	mask := uint64(1)<<c - 1
	digits := sc.digits[:m]
	for t := w - 1; t >= 0; t-- {
		if t < w-1 {
			for k := 0; k < c; k++ {
				res.DoubleAssign()
			}
		}
		shift := uint(t * c)
		for j, v := range s {
			if v < 0 {
				digits[j] = -int32((uint64(-v) >> shift) & mask)
			} else {
				digits[j] = int32((uint64(v) >> shift) & mask)
			}
		}
		sc.windowSum(res, points, digits, c)
	}
}

// msmWide is msmSmall for full-width field elements: each scalar is read as ±magnitude with the
// magnitude at most (p−1)/2 (253 bits), then the same bucket windows run over its limbs. On rows
// of 2^12 random scalars it needs half the CPU time of gnark-crypto's MultiExp (BenchmarkRowMSM).
func msmWide(res *bn254.G1Jac, points []bn254.G1Affine, row []fr.Element, sc *msmScratch, maxC int) {
	*res = bn254.G1Jac{}
	m := len(row)
	mag, neg := sc.mag[:m], sc.neg[:m]
	var or [4]uint64
	for j := range row {
		b := row[j].Bits()
		if greater(b, halfModulus) {
			var c uint64
			mag[j][0], c = bits.Sub64(modulus[0], b[0], 0)
			mag[j][1], c = bits.Sub64(modulus[1], b[1], c)
			mag[j][2], c = bits.Sub64(modulus[2], b[2], c)
			mag[j][3], _ = bits.Sub64(modulus[3], b[3], c)
			neg[j] = true
		} else {
			mag[j] = b
			neg[j] = false
		}
		or[0] |= mag[j][0]
		or[1] |= mag[j][1]
		or[2] |= mag[j][2]
		or[3] |= mag[j][3]
	}
	nbits := 0
	for l := 3; l >= 0; l-- {
		if or[l] != 0 {
			nbits = 64*l + bits.Len64(or[l])
			break
		}
	}
	if nbits == 0 {
		return
	}
	c := msmWindow(m, nbits, maxC)
	w := (nbits + c - 1) / c
	mask := uint64(1)<<c - 1
	digits := sc.digits[:m]
	for t := w - 1; t >= 0; t-- {
		if t < w-1 {
			for k := 0; k < c; k++ {
				res.DoubleAssign()
			}
		}
		shift := t * c
		li, off := shift/64, uint(shift%64)
		for j := range mag {
			d := mag[j][li] >> off
			if off+uint(c) > 64 && li < 3 {
				d |= mag[j][li+1] << (64 - off)
			}
			d &= mask
			if neg[j] {
				digits[j] = -int32(d)
			} else {
				digits[j] = int32(d)
			}
		}
		sc.windowSum(res, points, digits, c)
	}
}

// greater reports a > b for little-endian limbs.
func greater(a, b [4]uint64) bool {
	for l := 3; l >= 0; l-- {
		if a[l] != b[l] {
			return a[l] > b[l]
		}
	}
	return false
}

// halfModulus is (p−1)/2: canonical values above it are read as negative.
var halfModulus = func() (h [4]uint64) {
	q := modulus
	h[0] = q[0]>>1 | q[1]<<63
	h[1] = q[1]>>1 | q[2]<<63
	h[2] = q[2]>>1 | q[3]<<63
	h[3] = q[3] >> 1
	return h
}()

// windowSum adds Σ_j digits[j]·points[j] to res, for |digits[j]| < 2^c (a negative digit adds
// −points[j]). The points are counting-sorted into buckets by |digit|, each bucket is summed by
// reduceBuckets, and the buckets are combined by running sums up to the largest digit present.
func (sc *msmScratch) windowSum(res *bn254.G1Jac, points []bn254.G1Affine, digits []int32, c int) {
	m := len(digits)
	cnt := sc.cnt[:1<<c+1]
	// Counting sort by |digit|: cnt[d+1] counts digit d, then prefix sums give segment starts.
	clear(cnt)
	top := 0
	for _, v := range digits {
		d := int(v)
		if d < 0 {
			d = -d
		}
		cnt[d+1]++
		if d > top {
			top = d
		}
	}
	if top == 0 {
		return
	}
	for d := 1; d <= top+1; d++ {
		cnt[d] += cnt[d-1]
	}
	// cnt[d] is now the start of digit d's segment; digit 0's points are dropped.
	pos := sc.pos[:top+1]
	copy(pos, cnt[:top+1])
	list := sc.list[:m]
	for j, v := range digits {
		if v == 0 {
			continue
		}
		d := int(v)
		if d < 0 {
			d = -d
		}
		q := &list[pos[d]]
		q.X = points[j].X
		if v < 0 {
			q.Y.Neg(&points[j].Y)
		} else {
			q.Y = points[j].Y
		}
		pos[d]++
	}
	lens := sc.lens[:top+1]
	for d := 1; d <= top; d++ {
		lens[d] = cnt[d+1] - cnt[d]
	}
	sc.reduceBuckets(list, cnt, lens, top)
	if sc.combineByBits(res, list, cnt, lens, top) {
		return
	}
	// Σ_d d·B_d by running sums: sum accumulates B_top..B_d, acc accumulates the sums.
	var sum, acc bn254.G1Jac
	for d := top; d >= 1; d-- {
		if lens[d] > 0 {
			sum.AddMixed(&list[cnt[d]])
		}
		acc.AddAssign(&sum)
	}
	res.AddAssign(&acc)
}

// combineByBits adds Σ_d d·B_d to res (B_d = list[start[d]] when lens[d] > 0) as
// Σ_k 2^k·(Σ_{d with bit k set} B_d): the group sums are one more batch-affine tree reduction and
// only the final Horner steps are Jacobian. The running sums it replaces cost two Jacobian
// additions per bucket (~800 ns), about half the time of an int8 row of 2^10 points; this costs
// ~popcount(d) vectorised affine additions per bucket. It reports false, leaving res alone, when
// the groups would not fit the scratch.
func (sc *msmScratch) combineByBits(res *bn254.G1Jac, list []bn254.G1Affine, start, lens []int32, top int) bool {
	need := 0
	for d := 1; d <= top; d++ {
		if lens[d] > 0 {
			need += bits.OnesCount(uint(d))
		}
	}
	if need > len(sc.list2) {
		return false
	}
	nb := bits.Len(uint(top))
	// Group g = k+1 holds the buckets with bit k set; gcnt[g+1] counts it, then holds starts.
	gcnt := sc.gcnt[:nb+2]
	clear(gcnt)
	for d := 1; d <= top; d++ {
		if lens[d] > 0 {
			for k := 0; k < nb; k++ {
				if d>>k&1 == 1 {
					gcnt[k+2]++
				}
			}
		}
	}
	for g := 1; g <= nb+1; g++ {
		gcnt[g] += gcnt[g-1]
	}
	gpos := sc.gpos[:nb+1]
	copy(gpos, gcnt[:nb+1])
	list2 := sc.list2[:need]
	for d := 1; d <= top; d++ {
		if lens[d] > 0 {
			for k := 0; k < nb; k++ {
				if d>>k&1 == 1 {
					list2[gpos[k+1]] = list[start[d]]
					gpos[k+1]++
				}
			}
		}
	}
	glens := sc.glens[:nb+1]
	for g := 1; g <= nb; g++ {
		glens[g] = gcnt[g+1] - gcnt[g]
	}
	sc.reduceBuckets(list2, gcnt, glens, nb)
	var acc bn254.G1Jac
	for g := nb; g >= 1; g-- {
		acc.DoubleAssign()
		if glens[g] > 0 {
			acc.AddMixed(&list2[gcnt[g]])
		}
	}
	res.AddAssign(&acc)
	return true
}

// reduceBuckets sums each bucket's segment list[start[d] : start[d]+lens[d]] into its first
// entry, halving every segment per level with one batch of affine additions.
func (sc *msmScratch) reduceBuckets(list []bn254.G1Affine, start []int32, lens []int32, top int) {
	for {
		// Gather this level's pairs: (dst, a, b) = (seg[i], seg[2i], seg[2i+1]).
		np := 0
		for d := 1; d <= top; d++ {
			l := lens[d]
			if l < 2 {
				continue
			}
			base := start[d]
			for i := int32(0); i < l/2; i++ {
				sc.pairs[np] = [3]int32{base + i, base + 2*i, base + 2*i + 1}
				np++
			}
		}
		if np == 0 {
			return
		}
		if np >= vecMinPairs {
			sc.addPairsVec(list, sc.pairs[:np])
		} else {
			sc.addPairs(list, sc.pairs[:np])
		}
		// Odd segments carry their last point up to the new end, then halve.
		for d := 1; d <= top; d++ {
			l := lens[d]
			if l < 2 {
				continue
			}
			if l%2 == 1 {
				list[start[d]+l/2] = list[start[d]+l-1]
			}
			lens[d] = (l + 1) / 2
		}
	}
}

// addPairs sets list[dst] = list[a] + list[b] for each (dst, a, b) of one tree level, with one
// shared inversion (Montgomery's trick), element by element.
func (sc *msmScratch) addPairs(list []bn254.G1Affine, pairs [][3]int32) {
	np := len(pairs)
	den := sc.den[:np]
	pre := sc.pre[:np]
	special := false
	// Denominators x_b − x_a, with Montgomery's prefix products.
	var accum fp.Element
	accum.SetOne()
	for k, pr := range pairs {
		a, b := &list[pr[1]], &list[pr[2]]
		den[k].Sub(&b.X, &a.X)
		if den[k].IsZero() || a.IsInfinity() || b.IsInfinity() {
			// P = ±Q or an infinity: the generic addition below handles it. Honest data
			// never gets here unless the generators have a known small relation.
			den[k].SetOne()
			special = true
		}
		pre[k] = accum
		accum.Mul(&accum, &den[k])
	}
	accum.Inverse(&accum)
	for k := np - 1; k >= 0; k-- {
		var inv fp.Element
		inv.Mul(&pre[k], &accum)
		accum.Mul(&accum, &den[k])
		den[k] = inv
	}
	// Pairs are written in increasing order within each segment, and seg[i] is written
	// only after seg[2i], seg[2i+1] were read, so the additions can go in place.
	for k, pr := range pairs {
		a, b := list[pr[1]], &list[pr[2]]
		dst := &list[pr[0]]
		if special {
			var dx fp.Element
			dx.Sub(&b.X, &a.X)
			if dx.IsZero() || a.IsInfinity() || b.IsInfinity() {
				dst.Add(&a, b)
				continue
			}
		}
		var lambda, x3, t fp.Element
		lambda.Sub(&b.Y, &a.Y)
		lambda.Mul(&lambda, &den[k])
		x3.Square(&lambda)
		x3.Sub(&x3, &a.X)
		x3.Sub(&x3, &b.X)
		t.Sub(&a.X, &x3)
		t.Mul(&t, &lambda)
		dst.Y.Sub(&t, &a.Y)
		dst.X = x3
	}
}

// vecMinPairs is the level size from which addPairsVec's vector calls pay for their gathers.
const vecMinPairs = 32

// lanes is the width of gnark-crypto's AVX-512 IFMA field kernels (8 elements per block).
const lanes = 8

// addPairsVec is addPairs with the field arithmetic in gnark-crypto's fp.Vector kernels, which
// run on AVX-512 IFMA where the CPU has it (measured 10–18 ns per multiplication against 34–39 ns
// for fp.Element.Mul on this machine). The pairs are gathered into coordinate vectors; the
// batch inversion runs as 8 interleaved Montgomery chains, so each step is one 8-wide
// multiplication; then λ, x3 and y3 are whole-vector operations. Pairs that are doublings,
// inverses or involve infinity get the generic addition, computed before anything is written.
func (sc *msmScratch) addPairsVec(list []bn254.G1Affine, pairs [][3]int32) {
	np := len(pairs)
	n8 := (np + lanes - 1) / lanes * lanes
	ax, ay, bx, by := fp.Vector(sc.ax[:n8]), fp.Vector(sc.ay[:n8]), fp.Vector(sc.bx[:n8]), fp.Vector(sc.by[:n8])
	den, pre := fp.Vector(sc.den[:n8]), fp.Vector(sc.pre[:n8])
	for k, pr := range pairs {
		a, b := &list[pr[1]], &list[pr[2]]
		ax[k], ay[k], bx[k], by[k] = a.X, a.Y, b.X, b.Y
	}
	for k := np; k < n8; k++ { // padding: a harmless 0 + (1, 0) with denominator 1
		ax[k].SetZero()
		ay[k].SetZero()
		bx[k].SetOne()
		by[k].SetZero()
	}
	den.Sub(bx, ax)
	specials := sc.specials[:0]
	for k := 0; k < np; k++ {
		if den[k].IsZero() || (ax[k].IsZero() && ay[k].IsZero()) || (bx[k].IsZero() && by[k].IsZero()) {
			den[k].SetOne()
			var r bn254.G1Affine
			r.Add(&list[pairs[k][1]], &list[pairs[k][2]])
			specials = append(specials, special{k: int32(k), p: r})
		}
	}
	sc.specials = specials
	// Batch inversion: lane i chains the denominators k ≡ i (mod 8).
	acc, tmp := fp.Vector(sc.lane[0:lanes]), fp.Vector(sc.lane[lanes:2*lanes])
	for i := range acc {
		acc[i].SetOne()
	}
	for t := 0; t < n8; t += lanes {
		copy(pre[t:t+lanes], acc)
		tmp.Mul(acc, den[t:t+lanes])
		acc, tmp = tmp, acc
	}
	invert8(acc, tmp)
	for t := n8 - lanes; t >= 0; t -= lanes {
		d := den[t : t+lanes]
		tmp.Mul(acc, d)
		d.Mul(pre[t:t+lanes], acc) // d = 1/den
		acc, tmp = tmp, acc
	}
	// λ = (y_b − y_a)/den; x3 = λ² − x_a − x_b; y3 = λ(x_a − x3) − y_a.
	pre.Sub(by, ay)
	by.Mul(pre, den) // by = λ
	pre.Mul(by, by)
	den.Sub(pre, ax)
	pre.Sub(den, bx) // pre = x3
	den.Sub(ax, pre)
	bx.Mul(den, by)
	den.Sub(bx, ay) // den = y3
	for k, pr := range pairs {
		dst := &list[pr[0]]
		dst.X = pre[k]
		dst.Y = den[k]
	}
	for _, sp := range specials {
		list[pairs[sp.k][0]] = sp.p
	}
}

// special is a pair whose sum the generic addition computed.
type special struct {
	k int32
	p bn254.G1Affine
}

// invert8 inverts the 8 non-zero elements of v in place (Montgomery's trick: one inversion), using
// scratch of the same length.
func invert8(v, scratch fp.Vector) {
	var acc fp.Element
	acc.SetOne()
	for i := range v {
		scratch[i] = acc
		acc.Mul(&acc, &v[i])
	}
	acc.Inverse(&acc)
	for i := len(v) - 1; i >= 0; i-- {
		var inv fp.Element
		inv.Mul(&scratch[i], &acc)
		acc.Mul(&acc, &v[i])
		v[i] = inv
	}
}

// msmScratch is the small MSM's working memory for rows of up to 2^b points and windows of up to
// maxC bits.
type msmScratch struct {
	list  []bn254.G1Affine // points sorted by bucket
	cnt   []int32          // bucket starts (2^maxC + 1)
	pos   []int32          // fill cursors
	lens  []int32          // bucket lengths
	pairs [][3]int32       // one level's additions
	den   []fp.Element     // their denominators, then inverses
	pre   []fp.Element     // prefix products
	// addPairsVec's coordinate vectors, lane accumulators and generic-addition results.
	ax, ay, bx, by []fp.Element
	lane           []fp.Element
	specials       []special
	// One window's signed digits; msmWide's magnitudes and signs.
	digits []int32
	mag    [][4]uint64
	neg    []bool
	// combineByBits' bucket sums grouped by bit, and the groups' starts, cursors and lengths.
	list2             []bn254.G1Affine
	gcnt, gpos, glens []int32
	// msmPlanes' block masks: one byte per (class or plane, block of blockBits points).
	masks []byte
}

func newMSMScratch(b, maxC int) *msmScratch {
	m := 1 << b
	// A tree level halves at most max(len(list), len(list2)) = 2m points (≤ m pairs); list2 holds
	// up to 2m bucket sums (enough for every window of 2^b points: ≤ 2^(c−1)·c entries), list up to
	// 2m points: a row's m points, or msmPlanes' table points, one per block of 8 per class or bit
	// plane — 16 dense planes (a 9-bit row such as requant's 2·rem + parity takes 9·m/8).
	h := m + lanes
	return &msmScratch{
		list2:  make([]bn254.G1Affine, 2*m),
		gcnt:   make([]int32, 66),
		gpos:   make([]int32, 66),
		glens:  make([]int32, 66),
		ax:     make([]fp.Element, h),
		ay:     make([]fp.Element, h),
		bx:     make([]fp.Element, h),
		by:     make([]fp.Element, h),
		lane:   make([]fp.Element, 2*lanes),
		digits: make([]int32, m),
		mag:    make([][4]uint64, m),
		neg:    make([]bool, m),
		list:   make([]bn254.G1Affine, 2*m),
		cnt:    make([]int32, 1<<maxC+1),
		pos:    make([]int32, 1<<maxC+1),
		lens:   make([]int32, 1<<maxC+1),
		pairs:  make([][3]int32, h),
		den:    make([]fp.Element, h),
		pre:    make([]fp.Element, h),
		masks:  make([]byte, (maxFreq+maxC)*(m/blockBits+1)),
	}
}

// msmScratchBytes is what newMSMScratch allocates.
func msmScratchBytes(b, maxC int) int64 {
	m := int64(1) << b
	return m*(4*pointBytes+4+32+1) + 3*4*(int64(1)<<maxC+1) + (m+lanes)*(12+6*32) +
		int64(maxFreq+maxC)*(m/blockBits+1)
}

// rowWorker holds one goroutine's scratch for committing rows: the integer scalars of a row and
// the buckets of the small MSM.
type rowWorker struct {
	s    []int64
	sc   *msmScratch
	maxC int
	tab  *subsetTable // the generators' subset sums, shared by a committer's workers (or nil)
}

// workerBytes is the scratch a rowWorker for rows of 2^b elements holds.
func workerBytes(b int) int64 {
	return int64(8)<<b + msmScratchBytes(b, maxWindow(b))
}

// maxWindow caps the small MSM's window: beyond log2(m)+1 the running sums cost more than the
// bucket fills they save, so the cap never binds the optimum and bounds the bucket scratch.
func maxWindow(b int) int {
	c := b + 1
	if c < 4 {
		c = 4
	}
	if c > 16 {
		c = 16
	}
	return c
}

func newRowWorker(b int) *rowWorker {
	maxC := maxWindow(b)
	return &rowWorker{s: make([]int64, 1<<b), sc: newMSMScratch(b, maxC), maxC: maxC}
}

// commitRowInts is commitRow for a row of integers below 2^smallMaxBits in magnitude (an integer
// source's Bits says so): the small-scalar MSM straight from them.
func (w *rowWorker) commitRowInts(dst *bn254.G1Affine, gens []bn254.G1Affine, row []int64) {
	var or uint64
	for _, v := range row {
		if v < 0 {
			or |= uint64(-v)
		} else {
			or |= uint64(v)
		}
	}
	var res bn254.G1Jac
	switch {
	case w.planes(&res, row, bits.Len64(or)):
	case bits.Len64(or) <= smallMaxBits:
		msmSmall(&res, gens[:len(row)], row, bits.Len64(or), w.sc, w.maxC)
	default:
		// Not for a source that keeps its Bits promise; the field path stays exact.
		fe := make([]fr.Element, len(row))
		for j, v := range row {
			fe[j].SetInt64(v)
		}
		msmWide(&res, gens[:len(row)], fe, w.sc, w.maxC)
	}
	dst.FromJacobian(&res)
}

// commitRow sets dst = Σ_j row_j·gens_j: the small-scalar MSM when every element of the row is an
// integer of at most smallMaxBits bits, and msmWide (the same buckets over 253-bit magnitudes)
// otherwise. gnark-crypto's MultiExp is not used for rows: on 2^12 random scalars it took 2×
// msmWide's time (BenchmarkRowMSM/random), and far more on signed integers.
func (w *rowWorker) commitRow(dst *bn254.G1Affine, gens []bn254.G1Affine, row []fr.Element) {
	s := w.s[:len(row)]
	var or uint64
	small := true
	for j := range row {
		v, ok := smallInt(&row[j])
		if !ok {
			small = false
			break
		}
		s[j] = v
		if v < 0 {
			or |= uint64(-v)
		} else {
			or |= uint64(v)
		}
	}
	var res bn254.G1Jac
	switch {
	case small && w.planes(&res, s, bits.Len64(or)):
	case small && bits.Len64(or) <= smallMaxBits:
		msmSmall(&res, gens[:len(row)], s, bits.Len64(or), w.sc, w.maxC)
	default:
		msmWide(&res, gens[:len(row)], row, w.sc, w.maxC)
	}
	dst.FromJacobian(&res)
}

// blockBits is the width k of the generator blocks whose subset sums a subsetTable holds.
const blockBits = 8

// subsetTable holds, for a row's generators split into blocks of blockBits consecutive points,
// every block's subset sums — sums[blk<<blockBits | mask] = Σ_{bit i of mask} G_(blk·k+i) (mask 0
// unused) — and the sums of the first blocks' generators, prefix[i] = Σ_{j < i·k} G_j. With it a row of small integers is
// Σ_d d·B_d over a few buckets B_d, each a sum of one table point per block (msmPlanes): a set of
// elements (a frequent value, or a bit plane of the values) costs at most one addition per block
// of 8 points instead of one per element.
type subsetTable struct {
	sums   []bn254.G1Affine
	prefix []bn254.G1Jac
}

// subsetTableBytes is what a subsetTable for rows of 2^b points holds.
func subsetTableBytes(b int) int64 {
	return (int64(pointBytes)<<blockBits + jacBytes) * (int64(1)<<b/blockBits + 1)
}

// newSubsetTable builds the table for gens (a whole number of blocks), level by level: the sums
// with top bit j are the sums below 2^j plus G_(blk·k+j), one batch of affine additions (sc's
// addPairs, in slices of the scratch's pair capacity) per level for all blocks.
func newSubsetTable(gens []bn254.G1Affine, sc *msmScratch) *subsetTable {
	const k = blockBits
	nblk := len(gens) / k
	t := &subsetTable{sums: make([]bn254.G1Affine, nblk<<k)}
	for blk := 0; blk < nblk; blk++ {
		for j := 0; j < k; j++ {
			t.sums[blk<<k|1<<j] = gens[blk*k+j]
		}
	}
	step := min(len(sc.pairs), len(sc.den))
	pairs := make([][3]int32, 0, step)
	flush := func() {
		if len(pairs) >= vecMinPairs {
			sc.addPairsVec(t.sums, pairs)
		} else if len(pairs) > 0 {
			sc.addPairs(t.sums, pairs)
		}
		pairs = pairs[:0]
	}
	for j := 1; j < k; j++ {
		for blk := 0; blk < nblk; blk++ {
			base := int32(blk << k)
			for mask := int32(1); mask < 1<<j; mask++ {
				pairs = append(pairs, [3]int32{base | mask | 1<<j, base | mask, base | 1<<j})
				if len(pairs) == step {
					flush()
				}
			}
		}
		flush()
	}
	t.prefix = make([]bn254.G1Jac, nblk+1)
	for blk := 0; blk < nblk; blk++ {
		t.prefix[blk+1] = t.prefix[blk]
		t.prefix[blk+1].AddMixed(&t.sums[blk<<k|(1<<k-1)])
	}
	return t
}

// maxFreq is the most values msmPlanes sums as whole classes.
const maxFreq = 4

// msmPlanes sets res = Σ_j s_j·points_j with tab's subset sums (points a whole number of
// blocks) and reports true, or reports false, leaving res alone, when the bucket method
// (msmSmall, whose cost estimate for the row is bucketCost affine additions) is expected to be
// cheaper or the row does not fit the scratch. With lo = min(0, min s) it writes
// s_j = lo + u_j: Σ_j s_j·G_j = lo·Σ_j G_j + Σ_j u_j·G_j. Elements whose u is one of the few
// frequent values (each at least one per block on average) form one class per value, summed into
// the bucket of that value; the others are split into the bit planes of u, plane p summed into
// bucket 2^p. A class or plane adds one table point per block where it has an element, so a
// binary row of 2^10 elements costs ≤ 128 additions instead of ~512, a dense 9-bit row ~9·128
// instead of ~2,000. Buckets are combined by combineByBits.
func (sc *msmScratch) msmPlanes(res *bn254.G1Jac, tab *subsetTable, s []int64, maxC int, bucketCost int64) bool {
	const k = blockBits
	m := len(s)
	nblk := m / k
	if nblk == 0 || nblk<<k > len(tab.sums) || len(s)%k != 0 {
		return false
	}
	lo, hi := int64(0), int64(0)
	for _, v := range s {
		lo, hi = min(lo, v), max(hi, v)
	}
	nb := bits.Len64(uint64(hi - lo))
	if nb == 0 || nb > maxC || hi-lo < 0 {
		return false
	}
	// Histogram of u (in sc.cnt, 2^maxC + 1 entries), then the frequent values.
	hist := sc.cnt[:1<<nb]
	clear(hist)
	for _, v := range s {
		hist[v-lo]++
	}
	var freq [maxFreq]int64
	nf := 0
	for u := 1; u < len(hist) && nf < maxFreq; u++ {
		if int(hist[u]) >= nblk {
			freq[nf] = int64(u)
			nf++
		}
	}
	// One mask byte per (class or plane, block).
	nc := nf + nb
	masks := sc.masks[:nc*nblk]
	clear(masks)
	for j, v := range s {
		u := v - lo
		if u == 0 {
			continue
		}
		blk, bit := j/k, byte(1)<<uint(j%k)
		c := 0
		for c < nf && freq[c] != u {
			c++
		}
		if c < nf {
			masks[c*nblk+blk] |= bit
			continue
		}
		for x := uint64(u); x != 0; x &= x - 1 {
			p := bits.TrailingZeros64(x)
			masks[(nf+p)*nblk+blk] |= bit
		}
	}
	// Bucket of each class and plane; the points per bucket.
	top := 0
	bucket := func(c int) int {
		if c < nf {
			return int(freq[c])
		}
		return 1 << uint(c-nf)
	}
	cnt := sc.cnt[:1<<nb+1]
	clear(cnt)
	total := 0
	for c := 0; c < nc; c++ {
		d := bucket(c)
		for _, mk := range masks[c*nblk : (c+1)*nblk] {
			if mk != 0 {
				cnt[d+1]++
				total++
			}
		}
		if cnt[d+1] > 0 {
			top = max(top, d)
		}
	}
	if total > len(sc.list) || int64(total) >= bucketCost {
		return false
	}
	*res = bn254.G1Jac{}
	if lo != 0 {
		mulSmall(res, &tab.prefix[nblk], lo)
	}
	if top == 0 {
		return true
	}
	for d := 1; d <= top+1; d++ {
		cnt[d] += cnt[d-1]
	}
	pos := sc.pos[:top+1]
	copy(pos, cnt[:top+1])
	list := sc.list
	for c := 0; c < nc; c++ {
		d := bucket(c)
		for blk, mk := range masks[c*nblk : (c+1)*nblk] {
			if mk != 0 {
				list[pos[d]] = tab.sums[blk<<k|int(mk)]
				pos[d]++
			}
		}
	}
	lens := sc.lens[:top+1]
	for d := 1; d <= top; d++ {
		lens[d] = cnt[d+1] - cnt[d]
	}
	sc.reduceBuckets(list, cnt, lens, top)
	if !sc.combineByBits(res, list, cnt, lens, top) {
		var sum, acc bn254.G1Jac
		for d := top; d >= 1; d-- {
			if lens[d] > 0 {
				sum.AddMixed(&list[cnt[d]])
			}
			acc.AddAssign(&sum)
		}
		res.AddAssign(&acc)
	}
	return true
}

// mulSmall adds k·p to res for a small integer k (double-and-add over |k|'s bits).
func mulSmall(res *bn254.G1Jac, p *bn254.G1Jac, k int64) {
	q := *p
	if k < 0 {
		q.Neg(&q)
		k = -k
	}
	var acc bn254.G1Jac
	for i := bits.Len64(uint64(k)) - 1; i >= 0; i-- {
		acc.DoubleAssign()
		if k>>uint(i)&1 == 1 {
			acc.AddAssign(&q)
		}
	}
	res.AddAssign(&acc)
}

// bucketCost is msmSmall's expected affine additions for a row of m points, nnz of them
// non-zero, with magnitudes below 2^nbits: msmWindow's cost with the zero digits dropped.
func bucketCost(m, nnz, nbits, maxC int) int64 {
	c := msmWindow(m, nbits, maxC)
	w := (nbits + c - 1) / c
	top := nbits - (w-1)*c
	return int64(w)*int64(nnz) + int64(w-1)*(int64(c)<<(c-1)) + int64(top)<<max(top-1, 0) + int64(4*(w-1)*c)
}

// planes commits a row of integers of magnitude below 2^nbits with msmPlanes when the worker has
// a subset table and the row is expected to be cheaper that way than by msmSmall.
func (w *rowWorker) planes(res *bn254.G1Jac, row []int64, nbits int) bool {
	if w.tab == nil || nbits == 0 || nbits > w.maxC {
		return false
	}
	nnz := 0
	for _, v := range row {
		if v != 0 {
			nnz++
		}
	}
	return w.sc.msmPlanes(res, w.tab, row, w.maxC, bucketCost(len(row), nnz, nbits, w.maxC))
}
