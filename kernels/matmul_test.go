package kernels

import (
	"fmt"
	"testing"

	"github.com/streamprove/streamprove/field"
	"github.com/streamprove/streamprove/gkr"
	"github.com/streamprove/streamprove/tensorstore"
)

// refMatMul is the plain reference: Y[l,i,j] = Σ_k A[l,i,k]·B[l,k,j] (B[l,j,k] transposed).
func refMatMul(a, b []int64, L, I, K, J int, transB bool) []int64 {
	y := make([]int64, L*I*J)
	for l := 0; l < L; l++ {
		for i := 0; i < I; i++ {
			for j := 0; j < J; j++ {
				var s int64
				for k := 0; k < K; k++ {
					bv := b[l*K*J+k*J+j]
					if transB {
						bv = b[l*J*K+j*K+k]
					}
					s += a[l*I*K+i*K+k] * bv
				}
				y[l*I*J+i*J+j] = s
			}
		}
	}
	return y
}

// attentionModel: scores = Q·Kᵀ per head, then out = scores·V (two activation matmuls in a
// row, so the claims on scores flow from the second into the first).
func attentionModel(t testing.TB, lead []int, T, dh int) *model {
	m := newModel(t, uint64(T*100+dh))
	sh := func(a, b int) []int { return append(append([]int(nil), lead...), a, b) }
	m.data("q", gkr.Input, sh(T, dh), tensorstore.Int8)
	m.data("k", gkr.Input, sh(T, dh), tensorstore.Int8)
	m.data("v", gkr.Input, sh(T, dh), tensorstore.Int8)
	m.node(NewMatMul("qk", "q", "k", "s", true), sh(T, T), false)
	m.node(NewMatMul("sv", "s", "v", "o", false), sh(T, dh), true)
	m.forward()
	return m
}

func TestMatMulCompleteness(t *testing.T) {
	for _, c := range []struct {
		lead  []int
		T, dh int
	}{{nil, 3, 5}, {[]int{3}, 5, 3}, {[]int{2, 3}, 7, 6}, {[]int{4}, 8, 4}, {[]int{1}, 1, 1}, {[]int{5}, 1, 9}} {
		m := attentionModel(t, c.lead, c.T, c.dh)
		L := int(gkr.Numel(c.lead))
		q, k, v := m.values("q"), m.values("k"), m.values("v")
		s := refMatMul(q, k, L, c.T, c.dh, c.T, true)
		o := refMatMul(s, v, L, c.T, c.T, c.dh, false)
		if got := m.values("s"); fmt.Sprint(got) != fmt.Sprint(s) {
			t.Fatalf("%+v: scores differ from the reference", c)
		}
		if got := m.values("o"); fmt.Sprint(got) != fmt.Sprint(o) {
			t.Fatalf("%+v: output differs from the reference", c)
		}
		pub := m.public()
		for _, budget := range []int64{0, 64 << 10} {
			proof := m.prove(pub, budget)
			outs, err := gkr.Verify(m.graph, pub, proof)
			if err != nil {
				t.Fatalf("%+v budget %d: honest proof rejected: %v", c, budget, err)
			}
			for i, want := range o {
				if got, _ := field.ToInt64(&outs["o"][i]); got != want {
					t.Fatalf("%+v: verified output %d = %d, want %d", c, i, got, want)
				}
			}
		}
	}
}

// A prover whose scores have two heads swapped (the rest of the witness honest), or one score
// changed, or whose output's heads are swapped, is rejected.
func TestMatMulSoundness(t *testing.T) {
	const H, T, dh = 3, 5, 4
	swap := func(v []int64, per int) []int64 {
		w := append([]int64(nil), v...)
		copy(w[:per], v[per:2*per])
		copy(w[per:2*per], v[:per])
		return w
	}
	for _, c := range []struct {
		what   string
		victim string
		mutate func([]int64) []int64
	}{
		{"scores with heads 0 and 1 swapped", "s", func(v []int64) []int64 { return swap(v, T*T) }},
		{"output with heads 0 and 1 swapped", "o", func(v []int64) []int64 { return swap(v, T*dh) }},
		{"one score off by one", "s", func(v []int64) []int64 { v[T*T+2]++; return v }},
		{"one output off by one", "o", func(v []int64) []int64 { v[len(v)-1]--; return v }},
	} {
		m := attentionModel(t, []int{H}, T, dh)
		pub := m.public()
		m.rewriteInts(c.victim, c.mutate(m.values(c.victim)), tensorstore.Int64)
		wit := &StoreWitness{Store: m.store}
		proof, err := gkr.Prove(m.graph, wit, pub, gkr.Options{})
		wit.Close()
		if err != nil {
			t.Fatalf("%s: prover failed (want a proof the verifier rejects): %v", c.what, err)
		}
		_, err = gkr.Verify(m.graph, pub, proof)
		reject(t, c.what, err)
	}
	// A proof for Q·Kᵀ is not a proof for Q·K with K read untransposed.
	m := attentionModel(t, []int{H}, 4, 4)
	pub := m.public()
	proof := m.prove(pub, 0)
	g2 := *m.graph
	g2.Kernels = append([]gkr.Kernel(nil), m.graph.Kernels...)
	g2.Kernels[0] = NewMatMul("qk", "q", "k", "s", false)
	_, err := gkr.Verify(&g2, pub, proof)
	reject(t, "proof checked against the untransposed graph", err)
}
