package sumcheck

import (
	"errors"
	"fmt"

	"github.com/streamprove/streamprove/field"
)

// ErrBadProof reports a proof that does not verify or does not decode.
var ErrBadProof = errors.New("sumcheck: bad proof")

// Proof is a sumcheck proof. Round t is the round polynomial s_t of degree D = RoundDegree(claim)
// in compact form: its values at 0, 2, 3, …, D (D elements; s_t(1) is the running sum minus
// s_t(0)). Finals[j] is the MLE of source j at the final point.
type Proof struct {
	Rounds [][]field.Element
	Finals []field.Element
}

// AppendBinary appends the proof's encoding to dst: every round's elements in order, then the
// finals, each as a canonical 32-byte big-endian element. There is no header: the lengths
// follow from the claim (DecodeProof).
func (p *Proof) AppendBinary(dst []byte) []byte {
	var b [field.Bytes]byte
	for _, r := range p.Rounds {
		for i := range r {
			field.PutBE(b[:], &r[i])
			dst = append(dst, b[:]...)
		}
	}
	for i := range p.Finals {
		field.PutBE(b[:], &p.Finals[i])
		dst = append(dst, b[:]...)
	}
	return dst
}

// DecodeProof reads a proof of numVars rounds of degree elements each (degree is the round
// degree, RoundDegree(claim)) followed by arity finals, and returns the bytes after it. It checks
// the length before allocating and rejects non-canonical elements, with errors wrapping
// ErrBadProof.
func DecodeProof(data []byte, numVars, degree, arity int) (*Proof, []byte, error) {
	if numVars < 0 || numVars > maxVars || degree < 1 || degree > maxGateDegree+1 || arity < 1 || arity > maxGateArity {
		return nil, data, fmt.Errorf("sumcheck: decode %d rounds of degree %d with %d finals: %w", numVars, degree, arity, ErrBadProof)
	}
	count := numVars*degree + arity
	need := count * field.Bytes
	if len(data) < need {
		return nil, data, fmt.Errorf("sumcheck: proof of %d bytes, want %d: %w", len(data), need, ErrBadProof)
	}
	all := make([]field.Element, count)
	for i := range all {
		e, err := field.FromBE(data[i*field.Bytes : (i+1)*field.Bytes])
		if err != nil {
			return nil, data, fmt.Errorf("sumcheck: proof element %d: %w: %w", i, err, ErrBadProof)
		}
		all[i] = e
	}
	p := &Proof{Rounds: make([][]field.Element, numVars)}
	for t := range p.Rounds {
		p.Rounds[t] = all[t*degree : (t+1)*degree : (t+1)*degree]
	}
	p.Finals = all[numVars*degree:]
	return p, data[need:], nil
}
