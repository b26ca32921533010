package kernels

import (
	"fmt"

	"github.com/streamprove/streamprove/field"
)

// affinePred is the wiring predicate of an index map, R(A_1..A_m) = [Σ_j c_j·A_j + c0 = 0] ·
// Π [A_k < L_k], over unsigned integers A_j of n_j bits. Convolution and pooling use it with
// (x, h, u): x + p − s·h − d·u = 0, h < H_out, u < k, i.e. "output row h reads input row x
// through kernel tap u". Its MLE is evaluated in O(Σ n_j · states · 2^m) by a carry automaton
// that reads the bits of all A_j least significant first (kernels-and-zk.md §0.1, after the
// Libra/Virgo wiring predicates): the state is the carry of the running sum plus one "less"
// flag per comparison. On Boolean inputs exactly one path survives and accepts iff R holds;
// each variable enters exactly one step's factor, so the result is multilinear — it is R's MLE.
//
// The relation is over the integers, never mod 2^n: a negative or too-large x leaves a non-zero
// final carry and is rejected, which is how out-of-image taps read as zero padding.
type affinePred struct {
	coef []int64 // c_j
	bits []int   // n_j
	c0   int64   // ≥ 0
	cmp  []predCmp
}

// predCmp is the comparison [A_v < bound].
type predCmp struct {
	v     int
	bound int64
}

// carryRange returns the carry bounds [lo, hi] and the number of steps after which every
// carry has settled.
func (p *affinePred) carryRange() (lo, hi int64, steps int) {
	var neg, pos int64
	maxBits := 0
	for j, c := range p.coef {
		if c < 0 {
			neg += c
		} else {
			pos += c
		}
		maxBits = max(maxBits, p.bits[j])
	}
	for _, c := range p.cmp {
		// a bound of 2^n needs bit n of the bound to be read
		b := 0
		for c.bound>>uint(b) > 0 {
			b++
		}
		maxBits = max(maxBits, b)
	}
	cb := 0
	for c := p.c0; c > 0; c >>= 1 {
		cb++
	}
	maxBits = max(maxBits, cb)
	// After maxBits steps the carry κ satisfies |κ| ≤ Σ|c_j| + 1; it halves (or fails) each
	// further step, so log2 of that bound plus one more step settle it.
	extra := 1
	for s := -neg + pos + 1; s > 0; s >>= 1 {
		extra++
	}
	return neg, pos + 1, maxBits + extra
}

// holds evaluates R on integers (the reference the tests and the prover's tables agree with).
func (p *affinePred) holds(a []int64) bool {
	s := p.c0
	for j, c := range p.coef {
		s += c * a[j]
	}
	if s != 0 {
		return false
	}
	for _, c := range p.cmp {
		if a[c.v] >= c.bound {
			return false
		}
	}
	return true
}

// eval returns R~(pt), where pt[j] holds the n_j coordinates of variable j (LSB first).
func (p *affinePred) eval(pt [][]field.Element) (field.Element, error) {
	m := len(p.coef)
	if len(pt) != m || len(p.bits) != m {
		return field.Element{}, fmt.Errorf("predicate of %d variables given %d points", m, len(pt))
	}
	for j := range pt {
		if len(pt[j]) != p.bits[j] {
			return field.Element{}, fmt.Errorf("predicate variable %d has %d bits, point has %d", j, p.bits[j], len(pt[j]))
		}
	}
	lo, hi, steps := p.carryRange()
	nc := len(p.cmp)
	flags := 1 << nc
	nstates := int(hi-lo+1) * flags
	v := make([]field.Element, nstates)
	nv := make([]field.Element, nstates)
	// state index: (κ − lo)·flags + flag bits; start κ = 0, every comparison "not less".
	v[int(-lo)*flags].SetOne()
	one := field.One()
	// factor[j][b] is the weight of bit value b of variable j at this step.
	factor := make([][2]field.Element, m)
	for t := 0; t < steps; t++ {
		for j := range factor {
			if t < p.bits[j] {
				factor[j][1] = pt[j][t]
				factor[j][0].Sub(&one, &pt[j][t])
			} else {
				factor[j][1] = field.Element{}
				factor[j][0] = one
			}
		}
		for i := range nv {
			nv[i] = field.Element{}
		}
		cbit := (p.c0 >> uint(t)) & 1
		for q := range v {
			if v[q].IsZero() {
				continue
			}
			kappa := int64(q/flags) + lo
			fl := q % flags
			for b := 0; b < 1<<m; b++ {
				w := v[q]
				sigma := kappa + cbit
				skip := false
				for j := 0; j < m; j++ {
					bj := (b >> j) & 1
					if bj == 1 && t >= p.bits[j] {
						skip = true
						break
					}
					sigma += p.coef[j] * int64(bj)
				}
				if skip || sigma&1 != 0 {
					continue
				}
				nf := fl
				for k, c := range p.cmp {
					bj := int64((b >> c.v) & 1)
					lt := (c.bound >> uint(t)) & 1
					if bj != lt {
						if bj < lt {
							nf |= 1 << k
						} else {
							nf &^= 1 << k
						}
					}
				}
				for j := 0; j < m; j++ {
					w.Mul(&w, &factor[j][(b>>j)&1])
				}
				nk := sigma / 2
				if nk < lo || nk > hi {
					return field.Element{}, fmt.Errorf("predicate carry %d outside [%d, %d]", nk, lo, hi)
				}
				ni := int(nk-lo)*flags + nf
				nv[ni].Add(&nv[ni], &w)
			}
		}
		v, nv = nv, v
	}
	return v[int(-lo)*flags+flags-1], nil
}

// tapPred is the 1-D window predicate of conv and pooling along one axis:
// [x + pad = stride·h + dil·u] · [h < outLen] · [u < k], with x of xBits, h of hBits and u of
// uBits bits (the padded sizes' logs).
func tapPred(xBits, hBits, uBits int, pad, stride, dil, outLen, k int) *affinePred {
	return &affinePred{
		coef: []int64{1, -int64(stride), -int64(dil)},
		bits: []int{xBits, hBits, uBits},
		c0:   int64(pad),
		cmp:  []predCmp{{v: 1, bound: int64(outLen)}, {v: 2, bound: int64(k)}},
	}
}
