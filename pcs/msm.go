package pcs

import (
	"math/bits"

	"github.com/consensys/gnark-crypto/ecc"
	"github.com/consensys/gnark-crypto/ecc/bn254"
	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
)

// smallMaxBits is the widest magnitude (in bits) that takes the small-scalar MSM; wider rows go
// to gnark-crypto's MultiExp. The small MSM does ceil(bits/c) windows where MultiExp always does
// ~254/c, so it wins up to a width that the benchmarks in msm_test.go locate.
const smallMaxBits = 32

// smallInt reads e as a signed integer of magnitude below 2^62 (the negative x is stored as
// p−|x|), or reports false. It converts out of Montgomery form at most twice, cheaper than
// field.ToInt64's comparisons for the per-element test of every committed row.
func smallInt(e *fr.Element) (int64, bool) {
	b := e.Bits()
	if b[1]|b[2]|b[3] == 0 && b[0] < 1<<62 {
		return int64(b[0]), true
	}
	var n fr.Element
	n.Neg(e)
	c := n.Bits()
	if c[1]|c[2]|c[3] == 0 && c[0] < 1<<62 {
		return -int64(c[0]), true
	}
	return 0, false
}

// msmWindow picks the window width c for m points of magnitude below 2^nbits: it minimises the
// group additions ceil(nbits/c)·m (bucket fills) + 2·2^c per full window (running sums, which only
// run up to the top window's largest possible digit) + the doublings between windows.
func msmWindow(m, nbits, maxC int) int {
	if nbits <= 0 {
		return 1
	}
	best, bestCost := 1, int64(-1)
	for c := 1; c <= maxC; c++ {
		w := (nbits + c - 1) / c
		top := nbits - (w-1)*c // bits of the top window's digits
		cost := int64(w)*int64(m) + int64(w-1)*(int64(2)<<c) + int64(2)<<top + int64((w-1)*c)
		if bestCost < 0 || cost < bestCost {
			best, bestCost = c, cost
		}
	}
	return best
}

// msmSmall sets res = Σ_j s_j·points_j for integer scalars whose magnitudes are below 2^nbits.
// It is Pippenger's bucket method with sign–magnitude digits: a negative scalar adds −G_j (the
// negation is free in affine form), so a signed int8 row costs what an unsigned one does — unlike
// MultiExp, which reads −1 as the 254-bit p−1. buckets must hold at least 2^maxC points.
func msmSmall(res *bn254.G1Jac, points []bn254.G1Affine, s []int64, nbits int, buckets []bn254.G1Jac, maxC int) {
	*res = bn254.G1Jac{}
	if nbits == 0 {
		return
	}
	m := len(s)
	c := msmWindow(m, nbits, maxC)
	w := (nbits + c - 1) / c
	mask := uint64(1)<<c - 1
	for t := w - 1; t >= 0; t-- {
		if t < w-1 {
			for k := 0; k < c; k++ {
				res.DoubleAssign()
			}
		}
		shift := uint(t * c)
		top := 0
		for j := 0; j < m; j++ {
			v := s[j]
			mag := uint64(v)
			if v < 0 {
				mag = uint64(-v)
			}
			d := int((mag >> shift) & mask)
			if d == 0 {
				continue
			}
			if d > top {
				for k := top + 1; k <= d; k++ {
					buckets[k] = bn254.G1Jac{}
				}
				top = d
			}
			if v < 0 {
				var q bn254.G1Affine
				q.X = points[j].X
				q.Y.Neg(&points[j].Y)
				buckets[d].AddMixed(&q)
			} else {
				buckets[d].AddMixed(&points[j])
			}
		}
		// Σ_d d·B_d by running sums: S accumulates B_top..B_d, T accumulates the S's.
		var sum, acc bn254.G1Jac
		for d := top; d >= 1; d-- {
			sum.AddAssign(&buckets[d])
			acc.AddAssign(&sum)
		}
		res.AddAssign(&acc)
	}
}

// rowWorker holds one goroutine's scratch for committing rows: the integer scalars of a row and
// the buckets of the small MSM.
type rowWorker struct {
	s       []int64
	buckets []bn254.G1Jac
	maxC    int
}

// workerBytes is the scratch a rowWorker for rows of 2^b elements holds.
func workerBytes(b int) int64 {
	maxC := maxWindow(b)
	return int64(8)<<b + jacBytes<<maxC
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
	return &rowWorker{s: make([]int64, 1<<b), buckets: make([]bn254.G1Jac, 1<<maxC), maxC: maxC}
}

// commitRow sets dst = Σ_j row_j·gens_j, taking the small-scalar MSM when every element of the
// row is an integer of at most smallMaxBits bits, and MultiExp (with tasks goroutines) otherwise.
func (w *rowWorker) commitRow(dst *bn254.G1Affine, gens []bn254.G1Affine, row []fr.Element, tasks int) error {
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
	if small && bits.Len64(or) <= smallMaxBits {
		var res bn254.G1Jac
		msmSmall(&res, gens[:len(row)], s, bits.Len64(or), w.buckets, w.maxC)
		dst.FromJacobian(&res)
		return nil
	}
	_, err := dst.MultiExp(gens[:len(row)], row, ecc.MultiExpConfig{NbTasks: tasks})
	return err
}
