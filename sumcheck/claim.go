package sumcheck

import (
	"fmt"

	"github.com/streamprove/streamprove/field"
	"github.com/streamprove/streamprove/spill"
)

// maxVars bounds NumVars: 2^63 elements is beyond any Source.
const maxVars = 62

// EqTerm is one term Coeff·eq(Point, x) of a claim's eq factor.
type EqTerm struct {
	Coeff field.Element
	Point []field.Element // NumVars coordinates, Point[k] = variable k
}

// Claim is the statement Σ_{x∈{0,1}^NumVars} E(x)·G(f_1(x),…,f_k(x)) = Sum, with
// E(x) = Σ_i Eq[i].Coeff·eq(Eq[i].Point, x), or E ≡ 1 when Eq is empty.
type Claim struct {
	NumVars int
	Sources []field.Source // prover only: each of length 2^NumVars, in MLE order
	Gate    Gate
	Eq      []EqTerm
	Sum     field.Element
}

// Options tune the prover; the zero value proves in RAM with every core.
type Options struct {
	Budget   *spill.Budget // nil: unlimited (everything in RAM)
	SpillDir string        // where spill files go ("" : os.TempDir())
	Workers  int           // 0: GOMAXPROCS
	ChunkLog int           // log2 of the elements read per source and chunk; 0: 16 (2..22; shrunk to fit the budget)
	// SpillEvery is how many pending challenges a streamed pass folds on the fly before it
	// writes the folded table out as the new base (a table 2^SpillEvery times smaller); 0: 3.
	// It changes the I/O schedule, never the proof.
	SpillEvery int
	// SmallRounds is how many first rounds the prover serves from one pass over integer
	// sources (DESIGN §7.1–2, the small-value optimisation of Bagad–Dao–Domb–Thaler, ePrint
	// 2025/1117): the pass costs (d+1)^w integer products per 2^w elements, so w stays small.
	// 0: 3; negative: the field path only. It never changes the proof.
	SmallRounds int
}

// RoundDegree is the degree of the claim's round polynomials, which is also the number of
// field elements per round in a proof: Gate.Degree()+1 with an eq factor, Gate.Degree()
// without, and at least 1. Pass it to DecodeProof.
func RoundDegree(c *Claim) int {
	d := c.Gate.Degree()
	if len(c.Eq) > 0 {
		d++
	}
	if d < 1 {
		d = 1
	}
	return d
}

// check validates the public part of a claim (what the verifier sees).
func (c *Claim) check() error {
	if c == nil || c.Gate == nil {
		return fmt.Errorf("sumcheck: claim without a gate")
	}
	if c.NumVars < 0 || c.NumVars > maxVars {
		return fmt.Errorf("sumcheck: claim of %d variables (want 0..%d)", c.NumVars, maxVars)
	}
	if a := c.Gate.Arity(); a < 1 || a > maxGateArity {
		return fmt.Errorf("sumcheck: gate of arity %d (want 1..%d)", a, maxGateArity)
	}
	if d := c.Gate.Degree(); d < 0 || d > maxGateDegree {
		return fmt.Errorf("sumcheck: gate of degree %d (want 0..%d)", d, maxGateDegree)
	}
	for i, e := range c.Eq {
		if len(e.Point) != c.NumVars {
			return fmt.Errorf("sumcheck: eq term %d has a point of %d coordinates for %d variables", i, len(e.Point), c.NumVars)
		}
	}
	return nil
}

// order is the transcript order of one sumcheck, written once and used by Prove and Verify.
type order struct{ tr *field.Transcript }

func (o order) begin(c *Claim) {
	o.tr.AppendUint64("sumcheck/vars", uint64(c.NumVars))
	o.tr.AppendUint64("sumcheck/degree", uint64(c.Gate.Degree()))
	o.tr.AppendUint64("sumcheck/arity", uint64(c.Gate.Arity()))
	o.tr.AppendUint64("sumcheck/eq-terms", uint64(len(c.Eq)))
	for i := range c.Eq {
		o.tr.AppendElements("sumcheck/eq-coeff", c.Eq[i].Coeff)
		o.tr.AppendElements("sumcheck/eq-point", c.Eq[i].Point...)
	}
	o.tr.AppendElements("sumcheck/sum", c.Sum)
}

// round absorbs one round message and squeezes that round's challenge.
func (o order) round(msg []field.Element) field.Element {
	o.tr.AppendElements("sumcheck/round", msg...)
	return o.tr.Challenge("sumcheck/r")
}

func (o order) end(finals []field.Element) {
	o.tr.AppendElements("sumcheck/finals", finals...)
}
