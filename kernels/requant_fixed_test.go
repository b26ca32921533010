package kernels

import (
	"math/big"
	"strings"
	"testing"

	"github.com/streamprove/streamprove/field"
	"github.com/streamprove/streamprove/gkr"
	"github.com/streamprove/streamprove/tensorstore"
)

// refRequantFixed is the plain reference: clamp(round_half_even(x·M / 2^n) + zp, lo, hi) in
// big integers.
func refRequantFixed(x, m int64, n int, zp, lo, hi int64) int64 {
	p := new(big.Int).Mul(big.NewInt(x), big.NewInt(m))
	d := new(big.Int).Lsh(big.NewInt(1), uint(n))
	q, r := new(big.Int).DivMod(p, d, new(big.Int)) // floor division, 0 ≤ r < 2^n
	r2 := new(big.Int).Lsh(r, 1)
	if c := r2.Cmp(d); c > 0 || c == 0 && q.Bit(0) == 1 {
		q.Add(q, big.NewInt(1))
	}
	q.Add(q, big.NewInt(zp))
	if q.Cmp(big.NewInt(lo)) < 0 {
		return lo
	}
	if q.Cmp(big.NewInt(hi)) > 0 {
		return hi
	}
	return q.Int64()
}

// requantFixed adds x (given values) → requant_fixed → y (a public output).
func (m *model) requantFixed(shape []int, dt tensorstore.DType, xs []int64, spec RequantFixedSpec) *RequantFixed {
	m.t.Helper()
	m.dataVals("x", gkr.Input, shape, dt, xs)
	k, err := NewRequantFixed("rq", "x", "y", spec)
	if err != nil {
		m.t.Fatal(err)
	}
	infos, err := AdviceTensors(m.graph, k)
	if err != nil {
		m.t.Fatal(err)
	}
	for i := range infos {
		ti := infos[i]
		m.graph.Tensors[ti.Name] = &ti
	}
	m.graph.Tensors["y"] = &gkr.TensorInfo{Name: "y", Shape: shape, Role: gkr.Output}
	m.graph.Kernels = append(m.graph.Kernels, k)
	m.kerns = append(m.kerns, k)
	return k
}

// checkRequantFixed runs forward, compares y with the reference, then proves and verifies.
// It returns how many elements were exact ties (x·M ≡ 2^(n−1) mod 2^n).
func checkRequantFixed(t *testing.T, shape []int, dt tensorstore.DType, xs []int64, spec RequantFixedSpec) (ties int) {
	t.Helper()
	m := newModel(t, 3)
	k := m.requantFixed(shape, dt, xs, spec)
	m.forward()
	y := m.values("y")
	inner := 1
	if len(spec.Multipliers) > 1 {
		ax := spec.Axis
		if ax < 0 {
			ax += len(shape)
		}
		for _, d := range shape[ax+1:] {
			inner *= d
		}
	}
	for i, x := range xs {
		mul := spec.Multipliers[0]
		if len(spec.Multipliers) > 1 {
			mul = spec.Multipliers[(i/inner)%len(spec.Multipliers)]
		}
		p := new(big.Int).Mul(big.NewInt(x), big.NewInt(mul))
		if new(big.Int).Mod(p, new(big.Int).Lsh(big.NewInt(1), uint(spec.Shift))).Cmp(new(big.Int).Lsh(big.NewInt(1), uint(spec.Shift-1))) == 0 {
			ties++
		}
		if want := refRequantFixed(x, mul, spec.Shift, spec.ZeroPoint, k.lo, k.hi); y[i] != want {
			t.Fatalf("%+v: element %d: x = %d, y = %d, want %d", spec, i, x, y[i], want)
		}
	}
	if err := m.proveVerify(0); err != nil {
		t.Fatalf("%+v: %v", spec, err)
	}
	return ties
}

// tieInputs returns count inputs around exact ties of x·M/2^n for the element's multiplier
// (ms[channel(i)]): with M = odd·2^e, x·M ≡ 2^(n−1) (mod 2^n) exactly when
// x ≡ 2^(n−1−e) (mod 2^(n−e)), so the ties are x0 + j·2^(n−e) with x0 = 2^(n−1−e); elements
// cycle through a tie, its two neighbours and the negated tie.
func tieInputs(ms []int64, n, count int, channel func(i int) int) []int64 {
	xs := make([]int64, count)
	for i := range xs {
		m := ms[channel(i)]
		e := 0
		for m%2 == 0 {
			m /= 2
			e++
		}
		if n-1-e < 0 || n-e > 28 {
			xs[i] = int64(i)*7919%2001 - 1000
			continue
		}
		x := int64(1)<<(n-1-e) + int64(i/4%5-2)<<(n-e)
		xs[i] = [4]int64{x, x - 1, x + 1, -x}[i%4]
	}
	return xs
}

func perTensor(int) int { return 0 }

func TestRequantFixedCompleteness(t *testing.T) {
	const i32max, i32min = 1<<31 - 1, -1 << 31
	cases := []struct {
		name  string
		shape []int
		dt    tensorstore.DType
		xs    []int64
		spec  RequantFixedSpec
	}{
		// Exact ties: M = 3·2^k makes x·M/2^n = x·3/2^(n−k) hit halves.
		{"ties-small-shift", []int{5, 7}, tensorstore.Int32, tieInputs([]int64{3 << 2}, 6, 35, perTensor), RequantFixedSpec{Multipliers: []int64{3 << 2}, Shift: 6, Bits: 8}},
		{"ties-zp-relu", []int{3, 11}, tensorstore.Int32, tieInputs([]int64{3 << 3}, 9, 33, perTensor), RequantFixedSpec{Multipliers: []int64{3 << 3}, Shift: 9, Bits: 8, ZeroPoint: -5, ReLU: true}},
		{"uint8-zp", []int{33}, tensorstore.Int32, tieInputs([]int64{5 << 4}, 10, 33, perTensor), RequantFixedSpec{Multipliers: []int64{5 << 4}, Shift: 10, Bits: 8, Unsigned: true, ZeroPoint: 128}},
		// n = 31 (two limbs), M ≈ 2^30 as TFLite's normalised multiplier, ties exact (M even).
		{"ties-n31", []int{2, 3, 5}, tensorstore.Int32, tieInputs([]int64{1<<30 + 1<<20}, 35, 30, perTensor), RequantFixedSpec{Multipliers: []int64{1<<30 + 1<<20}, Shift: 35, Bits: 8, ZeroPoint: 3}},
		// int32 extremes: x·M up to 2^61, n = 47 (three limbs), quotients saturate both ways.
		{"int32-extremes", []int{9}, tensorstore.Int32, []int64{i32max, i32min, i32max - 1, i32min + 1, 0, 1, -1, 1 << 30, -(1 << 30)},
			RequantFixedSpec{Multipliers: []int64{1<<30 + 12345}, Shift: 47, Bits: 8, QuotientBits: 16}},
		// x·M beyond int64: x = ±2^40, M ≈ 2^40, n = 62.
		{"beyond-int64", []int{6}, tensorstore.Int64, []int64{1 << 36, -(1 << 36), 3<<35 + 7, -(3<<35 + 7), 5, -5},
			RequantFixedSpec{Multipliers: []int64{1<<40 + 3}, Shift: 62, Bits: 16, QuotientBits: 17}},
		// Per channel along the last axis, on an odd shape.
		{"ties-per-channel", []int{3, 5}, tensorstore.Int32, tieInputs([]int64{12, 1, 7, 40, 3 << 4}, 5, 15, func(i int) int { return i % 5 }), RequantFixedSpec{Multipliers: []int64{12, 1, 7, 40, 3 << 4}, Axis: -1, Shift: 5, Bits: 8, ZeroPoint: 2}},
		// Per channel along axis 1 of [N, C, H, W] with a large shift.
		{"ties-per-channel-nchw", []int{2, 3, 3, 2}, tensorstore.Int32, tieInputs([]int64{1 << 30, 3 << 28, 1<<30 + 77}, 33, 36, func(i int) int { return i / 6 % 3 }), RequantFixedSpec{Multipliers: []int64{1 << 30, 3 << 28, 1<<30 + 77}, Axis: 1, Shift: 33, Bits: 8, ReLU: true}},
		// 16-bit output, a shift of 1.
		{"int16-shift1", []int{7}, tensorstore.Int32, []int64{1, 3, 5, -1, -3, 70000, -70000}, RequantFixedSpec{Multipliers: []int64{1}, Shift: 1, Bits: 16, QuotientBits: 18}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ties := checkRequantFixed(t, c.shape, c.dt, c.xs, c.spec)
			if strings.Contains(c.name, "ties") && ties < 2 {
				t.Fatalf("only %d exact ties among the inputs", ties)
			}
			t.Logf("%d exact ties", ties)
		})
	}
}

func TestFixedRound(t *testing.T) {
	for _, c := range []struct {
		x, m int64
		n    int
	}{{5, 3, 1}, {-5, 3, 1}, {1<<62 - 1, 1<<62 - 1, 62}, {-(1 << 62), 1<<62 - 1, 62}, {-1, 1, 62}, {6, 1, 2}, {-6, 1, 2}, {10, 1, 2}, {-10, 1, 2}} {
		a, low, ok := fixedRound(c.x, c.m, c.n)
		want := refRequantFixed(c.x, c.m, c.n, 0, -1<<62, 1<<62)
		if !ok || roundFromFloor(a, low) != want {
			t.Fatalf("x=%d m=%d n=%d: a=%d low=%d ok=%v → %d, want %d", c.x, c.m, c.n, a, low, ok, roundFromFloor(a, low), want)
		}
	}
	// A quotient beyond int64 is reported.
	if _, _, ok := fixedRound(1<<62, 1<<61, 1); ok {
		t.Fatal("a quotient of 2^122 fits an int64?")
	}
}

func TestRequantFixedRefusals(t *testing.T) {
	for _, c := range []struct {
		spec RequantFixedSpec
		want string
	}{
		{RequantFixedSpec{Shift: 4, Bits: 8}, "no multiplier"},
		{RequantFixedSpec{Multipliers: []int64{0}, Shift: 4, Bits: 8}, "multiplier 0 is 0"},
		{RequantFixedSpec{Multipliers: []int64{1}, Shift: 0, Bits: 8}, "shift 0"},
		{RequantFixedSpec{Multipliers: []int64{1}, Shift: 63, Bits: 8}, "shift 63"},
		{RequantFixedSpec{Multipliers: []int64{1}, Shift: 4, Bits: 8, ZeroPoint: 200}, "zero point 200"},
		{RequantFixedSpec{Multipliers: []int64{1}, Shift: 4, Bits: 16, QuotientBits: 12}, "quotient table"},
	} {
		if _, err := NewRequantFixed("n", "x", "y", c.spec); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Fatalf("%+v: error %v, want %q", c.spec, err, c.want)
		}
	}
	// A quotient outside the table fails the forward pass with the element named.
	m := newModel(t, 1)
	m.requantFixed([]int{2}, tensorstore.Int32, []int64{3, 1 << 30}, RequantFixedSpec{Multipliers: []int64{1}, Shift: 1, Bits: 8})
	fc := &ForwardCtx{Store: m.store, Graph: m.graph, Bounds: m.bounds}
	if err := m.kerns[0].Forward(fc); err == nil || !strings.Contains(err.Error(), "element 1") {
		t.Fatalf("forward: %v, want a refusal naming element 1", err)
	}
	// Wrong number of per-channel multipliers.
	m = newModel(t, 1)
	m.dataVals("x", gkr.Input, []int{2, 3}, tensorstore.Int32, make([]int64, 6))
	k, _ := NewRequantFixed("rq", "x", "y", RequantFixedSpec{Multipliers: []int64{1, 2}, Axis: -1, Shift: 3, Bits: 8})
	if _, err := k.Declare(m.graph); err == nil || !strings.Contains(err.Error(), "2 multipliers for axis 1 of size 3") {
		t.Fatalf("declare: %v", err)
	}
}

// cheatFixedMults recomputes k's multiplicities from the witness now in the store (the virtual
// t from x and the multipliers m), counting every tuple that is a table row: a cheating
// prover's best effort for a changed witness.
func (m *model) cheatFixedMults(k *RequantFixed, mults []int64) {
	m.t.Helper()
	xi := m.graph.Tensors[k.x]
	xs := m.values(k.x)
	n := int64(len(xs))
	vals := make([][]field.Element, len(k.core.tensors))
	vals[0] = make([]field.Element, n)
	inner, size := int64(1), int64(1)
	if len(mults) > 1 {
		ax := k.spec.Axis
		if ax < 0 {
			ax += len(xi.Shape)
		}
		for _, d := range xi.Shape[ax+1:] {
			inner *= int64(d)
		}
		size = int64(xi.Shape[ax])
	}
	h := k.half()
	for i, x := range xs {
		mul := field.NewInt(mults[(int64(i)/inner)%size])
		xv := field.NewInt(x)
		vals[0][i].Mul(&xv, &mul)
		vals[0][i].Add(&vals[0][i], &h)
	}
	for t, name := range k.core.tensors[1:] {
		v := m.values(name)
		vals[t+1] = make([]field.Element, n)
		field.FromInts(vals[t+1], v)
	}
	padded := int64(1) << xi.NumVars()
	var gamma field.Element
	gamma.SetUint64(0x1234567)
	gpow := powers(gamma, 4)
	acc := map[string][]int64{} // lookups sharing a table share one count (lookupCore.groups)
	for _, arg := range k.core.args {
		rows := map[field.Element]uint64{}
		for j := uint64(0); j < 1<<arg.tab.logSize; j++ {
			if _, ok := rows[arg.tab.fold(j, gpow)]; !ok {
				rows[arg.tab.fold(j, gpow)] = j
			}
		}
		mult := acc[arg.mult]
		if mult == nil {
			mult = make([]int64, 1<<arg.tab.logSize)
			acc[arg.mult] = mult
		}
		for i := int64(0); i < n; i++ {
			var w field.Element
			for c, col := range arg.cols {
				for _, term := range col {
					var v field.Element
					v.Mul(&term.coef, &vals[term.t][i])
					v.Mul(&v, &gpow[c])
					w.Add(&w, &v)
				}
			}
			if j, ok := rows[w]; ok {
				mult[j]++
			}
		}
		mult[arg.tab.zeroRow] += padded - n
	}
	for name, mult := range acc {
		m.replaceTensor(name, mult)
	}
}

// fixedCheat changes the advice of one element: the output y0 (and y), σ and the limbs of low.
type fixedCheat struct {
	what string
	i    int
	y0   int64
	nz   int64
	low  *big.Int // nil: unchanged limbs
}

func TestRequantFixedSoundness(t *testing.T) {
	// n = 20 splits low into two 10-bit limbs; M = 3·2^17 gives exact ties (x·M/2^20 = 3x/8).
	spec := RequantFixedSpec{Multipliers: []int64{3 << 17}, Shift: 20, Bits: 8, ZeroPoint: 4, QuotientBits: 10}
	// x = 4: 1.5 (tie → 2); x = 12: 4.5 (tie → 4); x = -4: -1.5 (tie → -2); x = 5: 1.875 → 2;
	// x = 700: 262.5 (saturates at 127 − 4 = 123); x = -700 saturates at -128 − 4.
	xs := []int64{4, 12, -4, 5, 700, -700, 0, 1, 100, -100, 33, 9, -9, 2, 7}
	shape := []int{3, 5}
	bigLow := func(v int64) *big.Int { return big.NewInt(v) }
	type tc = fixedCheat
	for _, c := range []tc{
		// tie 1.5: low = 0, a = 2 (even): honest y0 = 2. Round to 1 (odd) keeping σ = 0 and a.
		{"tie rounded to odd (σ kept)", 0, 1, 0, nil},
		// tie 4.5 (x = 12): t + h = 5·2^20, a = 5 odd, low = 0: honest 4; the cheat claims σ = 1
		// so that the table's clamp(a) = 5 applies.
		{"tie rounded to odd (σ forged)", 1, 5, 1, nil},
		{"negative tie rounded to odd", 2, -1, 1, nil},
		// x = 5: t + h = 1.875·2^20 + 2^19, a = 2, low = 0.375·2^20; claim y0 = 1 with
		// a = 1 and low + 2^20 (which leaves the limbs' range).
		{"non-tie rounded down via an oversized remainder", 3, 1, 1, bigLow(0x60000 + 1<<20)},
		{"non-tie rounded up via a negative remainder", 3, 3, 1, bigLow(0x60000 - 1<<20)},
		{"saturated value unclamped", 4, 262, 1, nil},
		{"saturated value off by one", 4, 122, 1, nil},
		{"negative saturation off by one", 5, -131, 1, nil},
		{"zero with a forged non-zero flag", 6, 1, 1, nil},
	} {
		m := newModel(t, 5)
		k := m.requantFixed(shape, tensorstore.Int32, xs, spec)
		m.forward()
		y, y0, nz := m.values("y"), m.values("rq/y0"), m.values("rq/nz")
		y0[c.i], y[c.i], nz[c.i] = c.y0, c.y0+spec.ZeroPoint, c.nz
		m.replaceTensor("y", y)
		m.replaceTensor("rq/y0", y0)
		m.replaceTensor("rq/nz", nz)
		if c.low != nil {
			// Split the forged low into the limbs as field elements (a negative low makes the
			// top limb negative, an oversized one makes it too wide).
			l0, l1 := m.values("rq/limb0"), m.values("rq/limb1")
			v := c.low.Int64()
			l0[c.i] = v & (1<<10 - 1)
			l1[c.i] = v >> 10
			m.replaceTensor("rq/limb0", l0)
			m.replaceTensor("rq/limb1", l1)
		}
		m.cheatFixedMults(k, spec.Multipliers)
		m.proveReject(c.what)
	}

	// The honest model verifies (the rejections above are for their change alone).
	m := newModel(t, 5)
	m.requantFixed(shape, tensorstore.Int32, xs, spec)
	m.forward()
	if err := m.proveVerify(0); err != nil {
		t.Fatal(err)
	}
}

// A witness computed with another multiplier for one channel, proven by a prover that uses it
// for the virtual product (so every lookup holds): the per-channel sumcheck's final value of the
// broadcast multipliers gives it away.
func TestRequantFixedWrongChannelMultiplier(t *testing.T) {
	shape := []int{4, 3}
	xs := []int64{100, -200, 300, 7, 8, 9, -1000, 1000, 55, 0, 1, -1}
	honest := RequantFixedSpec{Multipliers: []int64{3 << 10, 5 << 10, 7 << 10}, Axis: -1, Shift: 14, Bits: 8, QuotientBits: 10}
	wrong := honest
	wrong.Multipliers = []int64{3 << 10, 6 << 10, 7 << 10}
	for _, relu := range []bool{false, true} {
		honest.ReLU, wrong.ReLU = relu, relu
		m := newModel(t, 9)
		kw := m.requantFixed(shape, tensorstore.Int32, xs, wrong)
		m.forward()
		k, err := NewRequantFixed("rq", "x", "y", honest)
		if err != nil {
			t.Fatal(err)
		}
		k.cheatM = wrong.Multipliers
		m.graph.Kernels[0], m.kerns[0] = k, k
		if y, want := m.values("y")[4], refRequantFixed(xs[4], 6<<10, 14, 0, kw.lo, kw.hi); y != want {
			t.Fatalf("the cheating witness has y = %d, want %d", y, want)
		}
		pub := m.public()
		w := &StoreWitness{Store: m.store}
		proof, err := gkr.Prove(m.graph, w, pub, gkr.Options{})
		w.Close()
		if err != nil {
			t.Fatal(err)
		}
		_, err = gkr.Verify(m.graph, pub, proof)
		reject(t, "a channel's multiplier changed", err)
		if !strings.Contains(err.Error(), "broadcast multipliers") {
			t.Fatalf("rejected for %v; want the multipliers' check", err)
		}
	}
	// The per-tensor analogue: the reduction to x divides by the true M, so the claim on the
	// public input fails.
	m := newModel(t, 9)
	wrong1 := RequantFixedSpec{Multipliers: []int64{6 << 10}, Shift: 14, Bits: 8, QuotientBits: 10}
	m.requantFixed(shape, tensorstore.Int32, xs, wrong1)
	m.forward()
	honest1 := wrong1
	honest1.Multipliers = []int64{5 << 10}
	k, _ := NewRequantFixed("rq", "x", "y", honest1)
	k.cheatM = wrong1.Multipliers
	m.graph.Kernels[0], m.kerns[0] = k, k
	m.proveReject("a per-tensor multiplier changed")
}
