package kernels

// NewRequant returns the requantization y = clamp(round(x / 2^shift), −2^(bits−1), 2^(bits−1)−1)
// where round is to the nearest integer with ties to even (as ONNX QuantizeLinear rounds and
// saturates). For shift 0 it is a pure saturation.
//
// Proof: with u = round(x/2^shift) and rem = x − 2^shift·u ∈ [−2^(shift−1), 2^(shift−1)], the
// forward pass commits y and one more tensor, z = 2·rem + (u mod 2) — the remainder and the
// quotient's parity in one integer of [−2^shift, 2^shift]. Two lookups prove it:
//   - z is in remParTable: z = 2r + p for a remainder r allowed to a tie-to-even rounding of a
//     quotient of parity p (|r| < 2^(shift−1) with either parity, r = ±2^(shift−1) only with p = 0);
//   - (2x − z, y) is in quotTable, rows (2^(shift+1)·a − (a mod 2), clamp(a)) for
//     a ∈ [−2^(q−1), 2^(q−1)) (q = QuotientBits, default 16).
//
// Soundness: x, like every tensor the graph computes, is an integer far below the field's size
// (the format-3 form pinned x by its small quotient and remainder alone; this one relies on x's
// integrality, as requant_fixed's does on t's), and z, a, r, p are small by the tables, so the
// second lookup gives 2x = 2^(shift+1)·a − (a mod 2) + 2r + p over the integers; both sides' parities force
// p = a mod 2, hence x = 2^shift·a + r with r allowed for a's parity: a is the rounded quotient
// and y = clamp(a). Advice: y and z of x's shape, and the two tables' multiplicities (z replaces
// the separate remainder and parity tensors of proof format 3: one commitment, one opening and one
// looked-up column fewer per requantization). Inputs whose quotient leaves the table make Forward
// fail.
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
