package kernels

import (
	"fmt"
	"math/big"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/streamprove/streamprove/field"
	"github.com/streamprove/streamprove/gkr"
	"github.com/streamprove/streamprove/internal/childtest"
	"github.com/streamprove/streamprove/spill"
	"github.com/streamprove/streamprove/sumcheck"
	"github.com/streamprove/streamprove/tensorstore"
)

// TestParallelBudget runs MiMC (degree-2 layers: four stored wires per round) over 2^17
// instances and 64 rounds — 256 stored wires of 4 MiB, 1 GiB of witness, 16× the 64 MiB budget —
// forward, prove and verify in a child process, whose peak RSS (VmHWM) must stay under the budget.
func TestParallelBudget(t *testing.T) {
	if childtest.IsChild() {
		parallelBudgetChild(t)
		return
	}
	if testing.Short() {
		t.Skip("budget test writes and proves a 1 GiB witness")
	}
	const budget = 64 << 20
	out := childtest.Run(t, "TestParallelBudget", fmt.Sprintf("PARALLEL_BUDGET_BYTES=%d", budget),
		"PARALLEL_BUDGET_DIR="+t.TempDir())
	t.Logf("child (budget %s) took %v:\n%s", spill.FormatBytes(budget), out.Took, out.Text)
	if wires := out.Int(t, "WireBytes"); wires < 16*budget {
		t.Fatalf("the wires take %s, less than 16× the budget", spill.FormatBytes(wires))
	}
	out.CheckPeakRSS(t, budget)
}

func parallelBudgetChild(t *testing.T) {
	budgetB, _ := strconv.ParseInt(os.Getenv("PARALLEL_BUDGET_BYTES"), 10, 64)
	dir := os.Getenv("PARALLEL_BUDGET_DIR")
	spill.SetMemoryLimit(budgetB)
	budget := spill.NewBudget(budgetB - spill.RuntimeOverhead)
	const logN, rounds = 17, 64
	n := 1 << logN
	s, err := tensorstore.Open(dir + "/store")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, name := range []string{"x", "key"} {
		w, err := s.Create(name, []int{n}, tensorstore.Int32, tensorstore.WriteOptions{ChunkElems: 1 << 12})
		if err != nil {
			t.Fatal(err)
		}
		v := make([]int64, 1<<12)
		for off := 0; off < n; off += len(v) {
			for i := range v {
				v[i] = int64((off+i)*7919%100003) - 50000
			}
			if err := w.WriteInt64s(v); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := w.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	ks := MiMCConstants(rounds)
	k, err := NewParallel("mimc", MiMCCircuit(ks, 2), map[string]string{"x": "x", "key": "key"}, map[string]string{"y": "y"})
	if err != nil {
		t.Fatal(err)
	}
	g := &gkr.Graph{Name: "budget", Kernels: []gkr.Kernel{k}, Tensors: map[string]*gkr.TensorInfo{
		"x":   {Name: "x", Shape: []int{n}, Role: gkr.Input},
		"key": {Name: "key", Shape: []int{n}, Role: gkr.Input},
		"y":   {Name: "y", Shape: []int{n}, Role: gkr.Output},
	}}
	b := big.NewInt(1 << 31)
	start := time.Now()
	fc := &ForwardCtx{Store: s, Graph: g, Budget: budget, Bounds: map[string]*big.Int{"x": b, "key": b},
		Write: tensorstore.WriteOptions{ChunkElems: 1 << 9}, ChunkElems: 1 << 12}
	if err := k.Forward(fc); err != nil {
		t.Fatal(err)
	}
	var wireBytes int64
	for _, w := range k.(*Parallel).wireTensors() {
		info, err := s.Stat(w)
		if err != nil {
			t.Fatal(err)
		}
		wireBytes += info.Len * field.Bytes
	}
	_, nw := k.(*Parallel).Layers()
	t.Logf("forward: %v, %d wires", time.Since(start), nw)
	fmt.Printf("WireBytes %d\n", wireBytes)
	wit := &StoreWitness{Store: s}
	pub := gkr.Public{Inputs: &StoreWitness{Store: s, Allow: map[string]bool{"x": true, "key": true}}}
	start = time.Now()
	proof, err := gkr.Prove(g, wit, pub, gkr.Options{Sumcheck: sumcheck.Options{Budget: budget, SpillDir: dir}})
	if err != nil {
		t.Fatal(err)
	}
	wit.Close()
	t.Logf("prove: %v, proof %s", time.Since(start), spill.FormatBytes(int64(len(proof))))
	start = time.Now()
	if _, err := gkr.Verify(g, pub, proof); err != nil {
		t.Fatal(err)
	}
	t.Logf("verify: %v", time.Since(start))
	childtest.ReportPeakRSS(t)
}
