package kernels

// NewRequant returns the requantization y = clamp(round(x / 2^shift), −2^(bits−1), 2^(bits−1)−1)
// where round is to the nearest integer with ties to even (as ONNX QuantizeLinear rounds and
// saturates). For shift 0 it is a pure saturation.
//
// Proof: with u = round(x/2^shift) and rem = x − 2^shift·u ∈ [−2^(shift−1), 2^(shift−1)], the
// kernel looks up (u, y, u mod 2) — u written as (x − rem)/2^shift — in the table
// {(a, clamp(a), a mod 2) : a ∈ [−2^(q−1), 2^(q−1))} (q = QuotientBits, default 16), and
// (rem, u mod 2) in the table of remainders allowed to a tie-to-even rounding (|rem| < 2^(shift−1),
// or |rem| = 2^(shift−1) with u even). Together they force y to be exactly the rounded, saturated
// quotient. Advice: y, rem and par (= u mod 2) of x's shape, and the two tables' multiplicities.
// Inputs whose quotient leaves the table make Forward fail.
func NewRequant(name, x, y string, shift, bits int, opts ...LookupOption) (*Lookup, error) {
	return newRequant(name, "requant", x, y, shift, bits, -(int64(1) << uint(max(bits-1, 0))), opts)
}

// NewRequantReLU returns the requantization followed by a ReLU,
// y = clamp(round(x / 2^shift), 0, 2^(bits−1)−1) (ties to even): the common layer between two
// linear layers of a quantized network. Same proof and advice as NewRequant.
func NewRequantReLU(name, x, y string, shift, bits int, opts ...LookupOption) (*Lookup, error) {
	return newRequant(name, "requant_relu", x, y, shift, bits, 0, opts)
}

func newRequant(name, op, x, y string, shift, bits int, lo int64, opts []LookupOption) (*Lookup, error) {
	l := &Lookup{name: name, op: op, x: x, y: y, shift: shift, bits: bits, qbits: max(16, bits),
		lo: lo, hi: int64(1)<<uint(max(bits-1, 0)) - 1}
	for _, o := range opts {
		o(l)
	}
	if err := l.build(); err != nil {
		return nil, err
	}
	return l, nil
}
