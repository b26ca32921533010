package pcs

import (
	"fmt"
	"math/bits"

	"github.com/consensys/gnark-crypto/ecc/bn254"

	"github.com/streamprove/streamprove/field"
	"github.com/streamprove/streamprove/spill"
)

const (
	// MaxVars is the largest number of variables a commitment may have (2^48 elements).
	MaxVars = 48
	// MaxColumnLog is the largest row length (log2) a commitment may use: it bounds the
	// generators a verifier must derive (2^20 points, 64 MiB in affine form).
	MaxColumnLog = 20
	// DefaultMaxColumnLog caps the automatic split: rows of at most 2^14 columns keep generator
	// derivation under a second and the verifier's generator MSM small, while 2^a rows of a
	// 2^28-element tensor still make only a 512 KiB commitment.
	DefaultMaxColumnLog = 14
)

// Claim states that the multilinear extension of a committed polynomial takes Value at Point
// (len(Point) = the commitment's NumVars, variable 0 first). The prover also supplies Source, the
// evaluations the commitment was made from; the verifier leaves it nil.
//
// A prover that already holds the opening vector u = Σ_i eq(Point[b:], i)·row_i may pass it as U
// and no pass is made for the claim (Source may then be nil). That is the case of a matmul weight
// W[out, in] committed with Options.ColumnLog = log2(in): for a claim W̃(r_in, r_out), u is the
// kernel's own w_r (DESIGN §9). Open uses U as given (it is the proof); a wrong U fails Verify.
//
// A claim with ZeroOutside set is a padding claim instead (padding.go): it states that the
// committed evaluations are zero at every padded position of a tensor of that shape laid out
// row-major over its padded shape (each dimension rounded up to a power of two). It takes no
// Point, Value or U; the prover supplies Source.
type Claim struct {
	Commitment  *Commitment
	Source      field.Source    // prover only
	U           []field.Element // prover only, optional
	Point       []field.Element
	Value       field.Element
	ZeroOutside []int
}

// Options tunes Commit and Open. The zero value is valid: unlimited budget, GOMAXPROCS workers,
// automatic row length.
type Options struct {
	// Budget is charged for every buffer that grows with the polynomial (nil: unlimited).
	Budget *spill.Budget
	// Workers bounds the goroutines of the hot loops (≤ 0: GOMAXPROCS).
	Workers int
	// ColumnLog forces the row length 2^ColumnLog at Commit (0: automatic, ceil(n/2) capped at
	// DefaultMaxColumnLog). A matmul weight [out, in] committed with ColumnLog = log2(in) has
	// rows = out and columns = in, so its opening vector is the kernel's own w_r (DESIGN §9).
	ColumnLog int
	// SkipProverChecks makes Open build its vectors without checking that the claims hold (a
	// value that is not the source's evaluation, a non-zero padding). Soundness tests set it to
	// play a cheating prover whose opening the verifier must reject; a real prover never does.
	SkipProverChecks bool
}

// Commitment is a Hyrax commitment: one Pedersen commitment per row of the 2^(n−b) × 2^b matrix
// of evaluations.
type Commitment struct {
	// NumVars is n: the polynomial has 2^n evaluations.
	NumVars int
	// ColumnLog is b: rows have 2^b elements (the low b variables).
	ColumnLog int
	// Rows holds the 2^(n−b) row commitments C_i = Σ_j row_i[j]·G_j.
	Rows []bn254.G1Affine
}

// RowLog returns a = NumVars − ColumnLog, the log2 of the number of rows.
func (c *Commitment) RowLog() int { return c.NumVars - c.ColumnLog }

// Columns returns the row length 2^ColumnLog: the length of an opening vector.
func (c *Commitment) Columns() int { return 1 << c.ColumnLog }

// ColumnLogFor picks the row length of a tensor's commitment from its shape (for
// Options.ColumnLog): a matrix [out, in] gets rows of in (padded), so an opening at
// (r_in, r_out) is u = Σ_o eq(r_out, o)·W[o, :], the matmul kernel's own w_r (DESIGN §9); rows
// longer than 2^16 and other shapes take the automatic split, which bounds the verifier's MSM.
func ColumnLogFor(shape []int) int {
	if len(shape) != 2 {
		return 0
	}
	n := 0
	for _, d := range shape {
		n += bits.Len64(uint64(d) - 1)
	}
	if k := bits.Len64(uint64(shape[1]) - 1); k <= 16 && k < n {
		return k
	}
	return 0
}

// check reports a commitment whose shape fields disagree with each other.
func (c *Commitment) check() error {
	if c == nil {
		return fmt.Errorf("nil commitment: %w", ErrClaim)
	}
	if c.NumVars < 0 || c.NumVars > MaxVars || c.ColumnLog < 0 || c.ColumnLog > c.NumVars ||
		c.ColumnLog > MaxColumnLog {
		return fmt.Errorf("commitment with n=%d, b=%d: %w", c.NumVars, c.ColumnLog, ErrClaim)
	}
	if int64(len(c.Rows)) != int64(1)<<c.RowLog() {
		return fmt.Errorf("commitment with n=%d, b=%d has %d rows, want %d: %w",
			c.NumVars, c.ColumnLog, len(c.Rows), int64(1)<<c.RowLog(), ErrClaim)
	}
	return nil
}

// Opening is a batch opening: one vector u per point claim and one per sending row class of a
// padding claim (padding.go), in claim order, each of length 2^ColumnLog of the claim's
// commitment.
type Opening struct {
	U [][]field.Element
}

// columnLog picks b for an n-variable polynomial.
func columnLog(n, forced int) (int, error) {
	if forced != 0 {
		if forced < 0 || forced > n || forced > MaxColumnLog {
			return 0, fmt.Errorf("pcs: column log %d for a %d-variable polynomial (max %d)", forced, n, MaxColumnLog)
		}
		return forced, nil
	}
	b := (n + 1) / 2
	if b > DefaultMaxColumnLog {
		b = DefaultMaxColumnLog
	}
	return b, nil
}

// elemBytes is the in-memory size of a field element, for budget reservations.
const elemBytes = 32

// pointBytes is the in-memory size of an affine G1 point.
const pointBytes = 64

// jacBytes is the in-memory size of a Jacobian G1 point.
const jacBytes = 96
