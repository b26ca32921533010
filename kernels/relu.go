package kernels

import (
	"fmt"

	"github.com/streamprove/streamprove/gkr"
)

// NewReLU returns y = max(x, 0) for x in the signed range [−2^(bits−1), 2^(bits−1)).
//
// Proof: one lookup of the pair (x, y) in the table {(a, relu(a))} of 2^bits rows, whose second
// column, (j − 2^(bits−1))·[j ≥ 2^(bits−1)] at row j, the verifier evaluates in O(bits²). Advice:
// y and the multiplicities. An x outside the range makes Forward fail.
func NewReLU(name, x, y string, bits int) (*Lookup, error) {
	if bits < 2 || bits > maxLookupBits {
		return nil, fmt.Errorf("%w: node %s: ReLU over %d bits (want 2..%d)", gkr.ErrGraph, name, bits, maxLookupBits)
	}
	l := &Lookup{name: name, op: "relu", x: x, y: y, bits: bits, qbits: bits, lo: 0, hi: int64(1)<<uint(bits-1) - 1}
	if err := l.build(); err != nil {
		return nil, err
	}
	return l, nil
}
