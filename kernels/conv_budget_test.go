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
	"github.com/streamprove/streamprove/pcs"
	"github.com/streamprove/streamprove/spill"
	"github.com/streamprove/streamprove/sumcheck"
	"github.com/streamprove/streamprove/tensorstore"
)

const (
	convBudgetEnv   = "STREAMPROVE_CONV_BUDGET_DIR"
	convBudgetBytes = 32 << 20
)

// convBudgetX is the input feature map: 64 × 16 × 128 × 128 = 2^24 elements, 512 MiB as field
// elements (16× the budget); conv c1 (3×3, stride 2, pad 1) maps it to 64 × 16 × 64 × 64 and
// conv c2 (4×4, stride 4, one output channel) to a small public output.
var convBudgetX = []int{64, 16, 128, 128}

// TestConvBudget runs forward, weight commitment, prove and verify of two conv layers in a
// child process under a 32 MiB budget and checks the child's real peak RSS (VmHWM).
func TestConvBudget(t *testing.T) {
	if childtest.IsChild() {
		convBudgetChild(t, os.Getenv(convBudgetEnv))
		return
	}
	if testing.Short() {
		t.Skip("proves a conv over a 2^24-element feature map under a 32 MiB budget")
	}
	out := childtest.Run(t, "TestConvBudget", convBudgetEnv+"="+t.TempDir())
	for _, r := range out.Values("REPORT") {
		t.Log(r)
	}
	hwm := out.CheckPeakRSS(t, convBudgetBytes)
	t.Logf("input %v (%s as field elements), budget %s, child VmHWM %s", convBudgetX,
		spill.FormatBytes(32*gkr.Numel(convBudgetX)), spill.FormatBytes(convBudgetBytes), spill.FormatBytes(hwm))
}

func convBudgetChild(t *testing.T, dir string) {
	spill.SetMemoryLimit(convBudgetBytes)
	bud := spill.NewBudget(convBudgetBytes - spill.RuntimeOverhead)
	bm := newBudgetModel(t, dir, "conv budget", bud, 5)
	s, g, bounds, opts, data := bm.s, bm.g, bm.bounds, bm.opts, bm.data
	data("x", gkr.Input, convBudgetX, tensorstore.Int8)
	data("w1", gkr.Weight, []int{16, 16, 3, 3}, tensorstore.Int8)
	data("w2", gkr.Weight, []int{1, 16, 4, 4}, tensorstore.Int8)
	k1 := NewConv2D("c1", "x", "w1", "", "h", ConvAttrs{StrideH: 2, StrideW: 2, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1})
	k2 := NewConv2D("c2", "h", "w2", "", "y", ConvAttrs{StrideH: 4, StrideW: 4})
	hs, err := ConvOutShape(convBudgetX, []int{16, 16, 3, 3}, k1.a)
	if err != nil {
		t.Fatal(err)
	}
	ys, err := ConvOutShape(hs, []int{1, 16, 4, 4}, k2.a)
	if err != nil {
		t.Fatal(err)
	}
	g.Tensors["h"] = &gkr.TensorInfo{Name: "h", Shape: hs, Role: gkr.Intermediate}
	g.Tensors["y"] = &gkr.TensorInfo{Name: "y", Shape: ys, Role: gkr.Output}
	g.Kernels = []gkr.Kernel{k1, k2}

	start := time.Now()
	fc := &ForwardCtx{Store: s, Graph: g, Budget: bud, Bounds: bounds, Write: opts, ChunkElems: 1 << 14}
	for _, k := range []Kernel{k1, k2} {
		if err := k.Forward(fc); err != nil {
			t.Fatal(err)
		}
	}
	fwd := time.Since(start)
	w := &StoreWitness{Store: s, Budget: bud}
	defer w.Close()
	cm := map[string]*pcs.Commitment{}
	for _, name := range []string{"w1", "w2"} {
		src, err := w.Source(name)
		if err != nil {
			t.Fatal(err)
		}
		if cm[name], err = pcs.Commit(src, pcs.Options{Budget: bud}); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(dir+"/spill", 0o755); err != nil {
		t.Fatal(err)
	}
	padding, err := gkr.ProveWeightPadding(g, cm, w, pcs.Options{Budget: bud})
	if err != nil {
		t.Fatal(err)
	}
	pub := gkr.Public{Inputs: &StoreWitness{Store: s, Budget: bud, Allow: map[string]bool{"x": true}}, Commitments: cm, WeightPadding: padding}
	start = time.Now()
	proof, err := gkr.Prove(g, w, pub, gkr.Options{Sumcheck: sumcheck.Options{Budget: bud, SpillDir: dir + "/spill"}, PCS: pcs.Options{Budget: bud}})
	if err != nil {
		t.Fatal(err)
	}
	prv := time.Since(start)
	start = time.Now()
	if _, err := gkr.Verify(g, pub, proof); err != nil {
		t.Fatalf("verify: %v", err)
	}
	ver := time.Since(start)
	fmt.Printf("REPORT forward %v, prove %v, verify %v (includes the public input's MLE), proof %d bytes, ledger peak %s of %s\n",
		fwd.Round(time.Millisecond), prv.Round(time.Millisecond), ver.Round(time.Millisecond), len(proof), spill.FormatBytes(bud.Peak()), spill.FormatBytes(bud.Limit()))
	childtest.ReportPeakRSS(t)
}

// budgetModel is a budget test child's store and graph: tensors of random int8-range values
// written chunk by chunk under the budget, never whole in RAM.
type budgetModel struct {
	t      *testing.T
	s      *tensorstore.Store
	g      *gkr.Graph
	bounds map[string]*big.Int
	opts   tensorstore.WriteOptions
	rng    *rand.Rand
}

func newBudgetModel(t *testing.T, dir, name string, bud *spill.Budget, seed uint64) *budgetModel {
	s, err := tensorstore.Open(dir + "/store")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return &budgetModel{t: t, s: s, g: &gkr.Graph{Name: name, Tensors: map[string]*gkr.TensorInfo{}},
		bounds: map[string]*big.Int{}, opts: tensorstore.WriteOptions{ChunkElems: 1 << 14, Budget: bud},
		rng: rand.New(rand.NewPCG(seed, seed+1))}
}

// data writes a tensor of random values in [−128, 128) and declares it.
func (m *budgetModel) data(name string, role gkr.Role, shape []int, dt tensorstore.DType) {
	w, err := m.s.Create(name, shape, dt, m.opts)
	if err != nil {
		m.t.Fatal(err)
	}
	buf := make([]int64, 1<<14)
	for left := gkr.Numel(shape); left > 0; {
		n := min(left, int64(len(buf)))
		for i := range buf[:n] {
			buf[i] = m.rng.Int64N(256) - 128
		}
		if err := w.WriteInt64s(buf[:n]); err != nil {
			m.t.Fatal(err)
		}
		left -= n
	}
	if _, err := w.Commit(); err != nil {
		m.t.Fatal(err)
	}
	m.g.Tensors[name] = &gkr.TensorInfo{Name: name, Shape: shape, Role: role}
	m.bounds[name] = BoundForDType(dt)
}
