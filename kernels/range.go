package kernels

// NewRange returns a check that every element of x lies in [lo, hi) (lo ≤ 0 < hi, at most 2^24
// values; for a signed b-bit range use lo = −2^(b−1), hi = 2^(b−1)). It has no output besides its
// advice, the multiplicities of the table lo … hi−1: it always runs, and leaves a claim on x for
// x's producer. An x outside the range makes Forward fail.
func NewRange(name, x string, lo, hi int64) (*Lookup, error) {
	l := &Lookup{name: name, op: "range", x: x, lo: lo, hi: hi}
	if err := l.build(); err != nil {
		return nil, err
	}
	return l, nil
}
