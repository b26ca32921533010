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
}

func newMSMScratch(b, maxC int) *msmScratch {
	m := 1 << b
	// A tree level halves at most max(m, len(list2)) points; list2 holds up to 2m bucket sums
	// (enough for every window of 2^b points: ≤ 2^(c−1)·c entries).
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
		list:   make([]bn254.G1Affine, m),
		cnt:    make([]int32, 1<<maxC+1),
		pos:    make([]int32, 1<<maxC+1),
		lens:   make([]int32, 1<<maxC+1),
		pairs:  make([][3]int32, h),
		den:    make([]fp.Element, h),
		pre:    make([]fp.Element, h),
	}
}

// msmScratchBytes is what newMSMScratch allocates.
func msmScratchBytes(b, maxC int) int64 {
	m := int64(1) << b
	return m*(3*pointBytes+4+32+1) + 3*4*(int64(1)<<maxC+1) + (m+lanes)*(12+6*32)
}

// rowWorker holds one goroutine's scratch for committing rows: the integer scalars of a row and
// the buckets of the small MSM.
type rowWorker struct {
	s    []int64
	sc   *msmScratch
	maxC int
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
	if bits.Len64(or) <= smallMaxBits {
		msmSmall(&res, gens[:len(row)], row, bits.Len64(or), w.sc, w.maxC)
	} else {
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
	if small && bits.Len64(or) <= smallMaxBits {
		msmSmall(&res, gens[:len(row)], s, bits.Len64(or), w.sc, w.maxC)
	} else {
		msmWide(&res, gens[:len(row)], row, w.sc, w.maxC)
	}
	dst.FromJacobian(&res)
}
