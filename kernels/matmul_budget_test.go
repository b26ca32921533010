package kernels

import (
	"fmt"
	"math/big"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/streamprove/streamprove/gkr"
	"github.com/streamprove/streamprove/internal/childtest"
	"github.com/streamprove/streamprove/spill"
	"github.com/streamprove/streamprove/sumcheck"
	"github.com/streamprove/streamprove/tensorstore"
)

const (
	matmulBudgetEnv   = "STREAMPROVE_MATMUL_BUDGET_DIR"
	matmulBudgetHeads = 4
	matmulBudgetSeq   = 2048     // scores [4, 2048, 2048]: 2^24 elements, 512 MiB as field elements
	matmulBudgetDh    = 8        // head dimension
	matmulBudgetBytes = 32 << 20 // 16× smaller than the score matrix as field elements
)

// TestMatMulBudget runs attention's two activation matmuls (scores = Q·Kᵀ, out = scores·V)
// with a score matrix of 2^24 elements (512 MiB as field elements, 16× the budget) in a child
// process under a 32 MiB budget: forward, prove and verify, checking the child's real peak RSS
// (VmHWM) against the budget.
func TestMatMulBudget(t *testing.T) {
	if childtest.IsChild() {
		matmulBudgetChild(t, os.Getenv(matmulBudgetEnv))
		return
	}
	if testing.Short() {
		t.Skip("proves attention matmuls over a 2^24-element score matrix under a 32 MiB budget")
	}
	out := childtest.Run(t, "TestMatMulBudget", matmulBudgetEnv+"="+t.TempDir())
	for _, r := range out.Values("REPORT") {
		t.Log(r)
	}
	hwm := out.CheckPeakRSS(t, matmulBudgetBytes)
	scores := int64(matmulBudgetHeads) * matmulBudgetSeq * matmulBudgetSeq
	t.Logf("score matrix %s as field elements, budget %s, child VmHWM %s",
		spill.FormatBytes(32*scores), spill.FormatBytes(matmulBudgetBytes), spill.FormatBytes(hwm))
}

func matmulBudgetChild(t *testing.T, dir string) {
	spill.SetMemoryLimit(matmulBudgetBytes)
	bud := spill.NewBudget(matmulBudgetBytes - spill.RuntimeOverhead)
	s, err := tensorstore.Open(dir + "/store")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	H, T, D := matmulBudgetHeads, matmulBudgetSeq, matmulBudgetDh
	g := &gkr.Graph{Name: "attention", Tensors: map[string]*gkr.TensorInfo{}}
	bounds := map[string]*big.Int{}
	rng := rand.New(rand.NewPCG(7, 8))
	wo := tensorstore.WriteOptions{ChunkElems: 1 << 14, Budget: bud}
	for _, name := range []string{"q", "k", "v"} {
		g.Tensors[name] = &gkr.TensorInfo{Name: name, Shape: []int{H, T, D}, Role: gkr.Input}
		w, err := s.Create(name, []int{H, T, D}, tensorstore.Int8, wo)
		if err != nil {
			t.Fatal(err)
		}
		v := make([]int64, H*T*D)
		for i := range v {
			v[i] = rng.Int64N(256) - 128
		}
		if err := w.WriteInt64s(v); err != nil {
			t.Fatal(err)
		}
		if _, err := w.Commit(); err != nil {
			t.Fatal(err)
		}
		bounds[name] = BoundForDType(tensorstore.Int8)
	}
	g.Tensors["s"] = &gkr.TensorInfo{Name: "s", Shape: []int{H, T, T}, Role: gkr.Intermediate}
	g.Tensors["o"] = &gkr.TensorInfo{Name: "o", Shape: []int{H, T, D}, Role: gkr.Output}
	ks := []Kernel{NewMatMul("qk", "q", "k", "s", true), NewMatMul("sv", "s", "v", "o", false)}
	for _, k := range ks {
		g.Kernels = append(g.Kernels, k)
	}
	start := time.Now()
	fc := &ForwardCtx{Store: s, Graph: g, Budget: bud, Bounds: bounds, Write: wo}
	for _, k := range ks {
		if err := k.Forward(fc); err != nil {
			t.Fatal(err)
		}
	}
	fwd := time.Since(start)
	if err := os.MkdirAll(dir+"/spill", 0o755); err != nil {
		t.Fatal(err)
	}
	allow := map[string]bool{"q": true, "k": true, "v": true}
	pub := gkr.Public{Inputs: &StoreWitness{Store: s, Allow: allow, Budget: bud}}
	wit := &StoreWitness{Store: s, Budget: bud}
	start = time.Now()
	proof, err := gkr.Prove(g, wit, pub, gkr.Options{Sumcheck: sumcheck.Options{Budget: bud, SpillDir: dir + "/spill"}})
	wit.Close()
	if err != nil {
		t.Fatal(err)
	}
	prove := time.Since(start)
	start = time.Now()
	if _, err := gkr.Verify(g, pub, proof); err != nil {
		t.Fatal(err)
	}
	ver := time.Since(start)
	n := float64(H * T * T)
	fmt.Printf("REPORT forward %v, prove %v (%.1f ns per score element), verify %v, proof %d bytes, ledger peak %s of %s\n",
		fwd.Round(time.Millisecond), prove.Round(time.Millisecond), float64(prove.Nanoseconds())/n, ver.Round(time.Millisecond),
		len(proof), spill.FormatBytes(bud.Peak()), spill.FormatBytes(bud.Limit()))
	childtest.ReportPeakRSS(t)
}
