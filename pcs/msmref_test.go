package pcs

import "github.com/consensys/gnark-crypto/ecc/bn254"

// msmSmallJacobian is the first small-scalar MSM, kept as the reference the batch-affine one
// is measured against (BenchmarkRowMSM). msmSmallJacobian sets res = Σ_j s_j·points_j for integer scalars whose magnitudes are below 2^nbits.
// It is Pippenger's bucket method with sign–magnitude digits: a negative scalar adds −G_j (the
// negation is free in affine form), so a signed int8 row costs what an unsigned one does — unlike
// MultiExp, which reads −1 as the 254-bit p−1. buckets must hold at least 2^maxC points.
func msmSmallJacobian(res *bn254.G1Jac, points []bn254.G1Affine, s []int64, nbits int, buckets []bn254.G1Jac, maxC int) {
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
