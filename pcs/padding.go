package pcs

import (
	"fmt"
	"math/bits"

	"github.com/streamprove/streamprove/field"
)

// Zero padding. A tensor of shape (d_0,…,d_{m−1}) is committed over its padded shape (each d_k
// rounded up to D_k = 2^{a_k}, the last dimension in the lowest variables), and every kernel's
// identity holds over the padded tensor. So a commitment proves nothing about the model unless
// the padded entries are known to be zero: a committer could hide whole neurons there (rows of a
// weight beyond its declared height, with the matching padded columns of the next weight adding
// them into real outputs). A claim with ZeroOutside set proves that invariant:
//
//	Σ_{x ∉ V} eq(τ, x)·M(x) = 0,   V = the real (unpadded) positions,
//
// with τ drawn from the transcript after the commitment is absorbed. The left side is a
// multilinear polynomial in τ that vanishes identically only when M is zero outside V, so by
// Schwartz–Zippel a non-zero padding survives with probability at most n/|F|.
//
// In the 2^a × 2^b Hyrax matrix the set V is not a product of a row set and a column set when the
// row/column split falls inside a dimension (a 1-D bias of 10 entries in 4 × 4: row 2 holds
// entries 8, 9 and two padded ones). But every row falls in one of three classes — all padding
// (class 0), "full" rows whose valid columns are those valid in the column dimensions (class 1),
// and the one "partial" row per prefix where the split dimension ends (class 2) — and within a
// class the valid columns are the same set V_c. Hence, with u_c = Σ_{i∈class c} eq(τ_row, i)·row_i,
//
//	Σ_{x ∉ V} eq(τ, x)·M(x) = Σ_c ⟨u_c, R_c⟩,   R_c[j] = eq(τ_col, j)·[j ∉ V_c],
//
// and each u_c is an ordinary Hyrax opening vector for the row weights eq(τ_row, i)·[i ∈ c]:
// the verifier checks Σ_j u_c,j·G_j = Σ_{i∈c} eq(τ_row, i)·C_i inside the batch's one MSM, and
// the sum above is zero. The prover streams each committed tensor once for all its claims,
// padding included; a row adds into exactly one u_c. Classes that are empty, or whose R_c is
// zero (class 1 when the column dimensions have no padding), send no vector.
//
// Nothing here needs the row commitments of padding rows to be the identity, so the check
// survives a switch to hiding (blinded) row commitments unchanged.

// padLayout locates a tensor's padding in its Hyrax matrix.
type padLayout struct {
	shape []int
	logs  []int // a_k: log2 of each padded dimension
	offs  []int // first flat bit of each dimension (the last dimension starts at bit 0)
	b     int   // column bits
	// The split dimension s holds flat bits [offs[s], offs[s]+logs[s]); its low l bits are
	// column bits. In its range, row part hi < q is full, hi == q (when rem > 0) partial.
	s, l int
	q    uint64
	rem  uint64
	// vecs lists the classes that send an opening vector, in class order.
	vecs []int
}

// newPadLayout checks shape against an n-variable, 2^b-column commitment.
func newPadLayout(shape []int, n, b int) (*padLayout, error) {
	p := &padLayout{shape: shape, logs: make([]int, len(shape)), offs: make([]int, len(shape)), b: b, s: -1}
	total := 0
	for k := len(shape) - 1; k >= 0; k-- {
		d := shape[k]
		if d <= 0 {
			return nil, fmt.Errorf("shape %v: dimension %d is %d: %w", shape, k, d, ErrClaim)
		}
		a := bits.Len64(uint64(d) - 1)
		p.logs[k], p.offs[k] = a, total
		total += a
		if total > MaxVars {
			return nil, fmt.Errorf("shape %v has more than 2^%d padded elements: %w", shape, MaxVars, ErrClaim)
		}
	}
	if total != n {
		return nil, fmt.Errorf("shape %v pads to 2^%d elements, the commitment has 2^%d: %w", shape, total, n, ErrClaim)
	}
	// The split dimension: the one whose bits straddle b, else the lowest dimension wholly in
	// the rows (l = 0), else (all in columns) the highest dimension (its rows part is empty).
	for k := len(shape) - 1; k >= 0; k-- {
		if p.offs[k]+p.logs[k] > b {
			p.s = k
			break
		}
	}
	if p.s < 0 && len(shape) > 0 {
		p.s = 0
	}
	if p.s >= 0 {
		p.l = min(max(b-p.offs[p.s], 0), p.logs[p.s])
		d := uint64(shape[p.s])
		p.q, p.rem = d>>p.l, d&(1<<p.l-1)
	}
	rows := uint64(1) << (n - b)
	var has [3]bool
	for i := uint64(0); i < rows; i++ {
		has[p.rowClass(i)] = true
	}
	colPad := [3]bool{true, false, false}
	for j := uint64(0); j < 1<<b; j++ {
		for c := 1; c <= 2; c++ {
			if !p.colValid(c, j) {
				colPad[c] = true
			}
		}
	}
	for c := 0; c < 3; c++ {
		if has[c] && colPad[c] {
			p.vecs = append(p.vecs, c)
		}
	}
	return p, nil
}

// part returns the bits of flat index f that belong to dimension k.
func (p *padLayout) part(f uint64, k int) uint64 {
	return f >> p.offs[k] & (1<<p.logs[k] - 1)
}

// rowClass is 0 for a row of padding only, 1 for a full row, 2 for a partial one.
func (p *padLayout) rowClass(i uint64) int {
	if p.s < 0 {
		return 1 // a scalar: one row, nothing padded
	}
	f := i << p.b
	for k := 0; k < p.s; k++ {
		if p.part(f, k) >= uint64(p.shape[k]) {
			return 0
		}
	}
	hi := p.part(f, p.s) >> p.l
	switch {
	case hi < p.q:
		return 1
	case hi == p.q && p.rem > 0:
		return 2
	}
	return 0
}

// colValid reports whether column j is a real position in a row of class c.
func (p *padLayout) colValid(c int, j uint64) bool {
	if c == 0 {
		return false
	}
	for k := len(p.shape) - 1; k > p.s; k-- {
		if p.part(j, k) >= uint64(p.shape[k]) {
			return false
		}
	}
	if c == 2 && p.s >= 0 && j>>p.offs[p.s]&(1<<p.l-1) >= p.rem {
		return false
	}
	return true
}

// HasPadding reports whether a tensor of this shape has padded positions at all; a padding
// claim on one that has none is pointless (and sends no vector).
func HasPadding(shape []int) bool {
	for _, d := range shape {
		if d&(d-1) != 0 {
			return true
		}
	}
	return false
}

// padCols returns R_c: eq(τ_col, j) on the padded columns of class c, zero elsewhere.
func (p *padLayout) padCols(c int, tauCol []field.Element) []field.Element {
	r := make([]field.Element, 1<<p.b)
	field.EqTable(r, tauCol)
	for j := range r {
		if p.colValid(c, uint64(j)) {
			r[j].SetZero()
		}
	}
	return r
}
