package kernels

import (
	"math"
	"math/big"
	"slices"
	"testing"

	"github.com/streamprove/streamprove/gkr"
	"github.com/streamprove/streamprove/tensorstore"
)

// lnRow is the plain reference of one LayerNorm row's scalars: S = Σx, W = D·Σx² − S² + ε·D²,
// k = ⌈log₂ D⌉ and ρ = ⌊2^(15+k)/√W⌋ (searched by float, fixed by its defining inequalities).
func lnRow(x []int64, eps int64) (S, rho int64, k int) {
	D := int64(len(x))
	var v int64
	for _, e := range x {
		S += e
		v += e * e
	}
	for 1<<k < D {
		k++
	}
	W := big.NewInt(D*v - S*S + eps*D*D)
	C := new(big.Int).Lsh(big.NewInt(1), uint(30+2*k))
	rho = int64(math.Exp2(float64(15+k)) / math.Sqrt(float64(W.Int64())))
	sq := func(r int64) *big.Int { b := big.NewInt(r); b.Mul(b, b); return b.Mul(b, W) }
	for sq(rho).Cmp(C) > 0 {
		rho--
	}
	for sq(rho+1).Cmp(C) <= 0 {
		rho++
	}
	return S, rho, k
}

// lnElems returns y = ⌊(D·x − S)·ρ·γ / 2^(shift+k)⌋ + β for one row and the remainder's two
// limbs (rem = rem_lo + 2^shift·rem_hi).
func lnElems(x, gamma, beta []int64, S, rho int64, k, shift int) (y, lo, hi []int64) {
	D := int64(len(x))
	for j := range x {
		t := (D*x[j] - S) * rho * gamma[j]
		q := int64(math.Floor(float64(t) / math.Exp2(float64(shift+k))))
		r := t - q<<uint(shift+k)
		y = append(y, q+beta[j])
		lo = append(lo, r&(1<<uint(shift)-1))
		hi = append(hi, r>>uint(shift))
	}
	return y, lo, hi
}

// lnModel: x [shape] → layernorm(γ, β) → y (advice) → linear → z (output).
func lnModel(t testing.TB, shape []int, shift int, eps int64) (*model, *Norm) {
	m := newModel(t, uint64(len(shape)*97+shape[len(shape)-1]))
	D := shape[len(shape)-1]
	m.data("x", gkr.Input, shape, tensorstore.Int8)
	m.data("gamma", gkr.Weight, []int{D}, tensorstore.Int8)
	m.data("beta", gkr.Weight, []int{D}, tensorstore.Int8)
	m.data("w", gkr.Weight, []int{3, D}, tensorstore.Int8)
	k, err := NewLayerNorm("ln", "x", "gamma", "beta", "y", D, shift, 16, eps)
	if err != nil {
		t.Fatal(err)
	}
	m.advice(k)
	zs := []int{3}
	if len(shape) > 1 {
		zs = []int{int(gkr.Numel(shape[:len(shape)-1])), 3}
		if len(shape) > 2 {
			// The linear reads a [batch, in] matrix: flatten the leading axes first.
			m.node(NewReshape("flat", "y", "y2"), []int{zs[0], D}, false)
			m.node(NewLinear("fc", "y2", "w", "", "z"), zs, true)
			m.forward()
			return m, k
		}
	}
	m.node(NewLinear("fc", "y", "w", "", "z"), zs, true)
	m.forward()
	return m, k
}

func TestLayerNormCompleteness(t *testing.T) {
	for _, c := range []struct {
		shape []int
		shift int
		eps   int64
	}{{[]int{3, 5}, 12, 1}, {[]int{7}, 10, 3}, {[]int{5, 16}, 12, 1}, {[]int{2, 3, 33}, 13, 100}, {[]int{1, 2}, 12, 1}} {
		m, _ := lnModel(t, c.shape, c.shift, c.eps)
		x, gamma, beta, got := m.values("x"), m.values("gamma"), m.values("beta"), m.values("y")
		D := c.shape[len(c.shape)-1]
		for r := 0; r < len(x)/D; r++ {
			row := x[r*D : (r+1)*D]
			S, rho, k := lnRow(row, c.eps)
			want, _, _ := lnElems(row, gamma, beta, S, rho, k, c.shift)
			if !slices.Equal(got[r*D:(r+1)*D], want) {
				t.Fatalf("%+v row %d: y = %v, want %v", c, r, got[r*D:(r+1)*D], want)
			}
			// The documented bound against the real-valued layer norm.
			mu := float64(S) / float64(D)
			var ss float64
			for _, e := range row {
				ss += (float64(e) - mu) * (float64(e) - mu)
			}
			sigma := math.Sqrt(ss/float64(D) + float64(c.eps))
			for j, e := range row {
				d := (float64(e) - mu) * float64(gamma[j])
				ideal := d*math.Exp2(float64(15-c.shift))/sigma + float64(beta[j])
				if err := math.Abs(float64(want[j]) - ideal); err >= math.Abs(d)/math.Exp2(float64(c.shift))+1 {
					t.Fatalf("%+v row %d col %d: y = %d, real value %.3f: off by more than the bound", c, r, j, want[j], ideal)
				}
			}
		}
		if err := m.proveVerify(0); err != nil {
			t.Fatalf("%+v: honest proof rejected: %v", c, err)
		}
	}
}

// lnCheat rewrites the layer norm's advice from the given row sums and ρ (a cheating prover
// that keeps every identity it can and every lookup consistent), then the rest of the model.
func lnCheat(m *model, k *Norm, shape []int, shift int, S, rho []int64, beta []int64) {
	m.t.Helper()
	D := shape[len(shape)-1]
	x, gamma := m.values("x"), m.values("gamma")
	limbs := make([][]int64, 2*k.limbs)
	for i := range limbs {
		limbs[i] = m.values(k.rowLimbs()[1+i])
	}
	var y, lo, hi []int64
	for r := range S {
		row := x[r*D : (r+1)*D]
		var v int64
		for _, e := range row {
			v += e * e
		}
		dD := int64(D)
		W := big.NewInt(dD*v - S[r]*S[r] + k.eps*dD*dD)
		C := new(big.Int).Lsh(big.NewInt(1), uint(30+2*k.k))
		a := new(big.Int).Sub(C, new(big.Int).Mul(big.NewInt(rho[r]*rho[r]), W))
		b := new(big.Int).Sub(new(big.Int).Mul(big.NewInt((rho[r]+1)*(rho[r]+1)), W), C)
		b.Sub(b, big.NewInt(1))
		if a.Sign() >= 0 && b.Sign() >= 0 {
			for l := 0; l < k.limbs; l++ {
				limbs[l][r] = new(big.Int).Rsh(a, uint(16*l)).Int64() & 0xffff
				limbs[k.limbs+l][r] = new(big.Int).Rsh(b, uint(16*l)).Int64() & 0xffff
			}
		} // else no limbs exist: the honest ones stay and the row identity must fail
		yr, lr, hr := lnElems(row, gamma, beta, S[r], rho[r], k.k, shift)
		y, lo, hi = append(y, yr...), append(lo, lr...), append(hi, hr...)
	}
	for i, t := range k.rowLimbs()[1:] {
		m.replaceTensor(t, limbs[i])
	}
	m.replaceTensor(k.rowLimbs()[0], rho)
	m.replaceTensor(k.rowSum(), S)
	m.replaceTensor("y", y)
	m.replaceTensor(k.rem(), lo)
	m.replaceTensor(k.remHi(), hi)
	recount(m, &k.elem)
	recount(m, &k.row)
	m.forwardFrom("fc")
}

// A wrong mean (a row sum one off, with ρ, its error terms and the outputs recomputed from it),
// a wrong normalisation (ρ one off either way), a wrong β (left out of one column) and a forged
// output element are each rejected.
func TestLayerNormSoundness(t *testing.T) {
	shape := []int{3, 5}
	const shift, eps = 12, 1
	for _, what := range []string{"row sum one off", "ρ one below the floor", "ρ one above the floor", "β left out", "one output +1"} {
		m, k := lnModel(t, shape, shift, eps)
		S, rho, beta := m.values(k.rowSum()), m.values(k.rowLimbs()[0]), m.values("beta")
		x := m.values("x")
		const r, D = 1, 5
		switch what {
		case "row sum one off":
			S[r]++
			_, rho[r], _ = lnRowWithSum(x[r*D:(r+1)*D], S[r], eps)
		case "ρ one below the floor":
			rho[r]--
		case "ρ one above the floor":
			rho[r]++
		case "β left out":
			beta = slices.Clone(beta)
			beta[2] = 0
		}
		if what == "one output +1" {
			y, lo, hi := m.values("y"), m.values(k.rem()), m.values(k.remHi())
			y[7]++ // rem would have to drop by 2^(shift+k): it leaves its range
			m.replaceTensor("y", y)
			m.replaceTensor(k.rem(), lo)
			m.replaceTensor(k.remHi(), hi)
			recount(m, &k.elem)
			m.forwardFrom("fc")
		} else {
			lnCheat(m, k, shape, shift, S, rho, beta)
		}
		err := m.proveVerify(0)
		t.Logf("%s: %v", what, err)
		reject(t, what, err)
	}
}

// lnRowWithSum is lnRow's ρ for a claimed row sum S (a cheating prover's consistent choice).
func lnRowWithSum(x []int64, S, eps int64) (int64, int64, int) {
	D := int64(len(x))
	var v int64
	for _, e := range x {
		v += e * e
	}
	k := 0
	for 1<<k < D {
		k++
	}
	W := D*v - S*S + eps*D*D
	rho := int64(math.Exp2(float64(15+k)) / math.Sqrt(float64(W)))
	for rho*rho*W > int64(1)<<(30+2*k) {
		rho--
	}
	for (rho+1)*(rho+1)*W <= int64(1)<<(30+2*k) {
		rho++
	}
	return S, rho, k
}

// Flipped bytes of a layer norm proof are rejected (the mutation suite's first class, on this
// kernel's messages).
func TestLayerNormFlippedProof(t *testing.T) {
	m, _ := lnModel(t, []int{3, 5}, 12, 1)
	pub := m.public()
	proof := m.prove(pub, 0)
	if _, err := gkr.Verify(m.graph, pub, proof); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(proof); i += max(1, len(proof)/24) {
		bad := slices.Clone(proof)
		bad[i] ^= 1 << (i % 8)
		_, err := gkr.Verify(m.graph, pub, bad)
		reject(t, "flipped byte", err)
	}
}
