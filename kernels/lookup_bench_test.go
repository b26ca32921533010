package kernels

import (
	"fmt"
	"math/big"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/streamprove/streamprove/gkr"
	"github.com/streamprove/streamprove/pcs"
	"github.com/streamprove/streamprove/spill"
	"github.com/streamprove/streamprove/sumcheck"
	"github.com/streamprove/streamprove/tensorstore"
)

// bigInput writes an input tensor of n = rows·cols int32 values, streamed in chunks.
func bigInput(s *tensorstore.Store, name string, rows, cols int, seed uint64, gen func(r *rand.Rand) int64) (*gkr.TensorInfo, error) {
	w, err := s.Create(name, []int{rows, cols}, tensorstore.Int32, tensorstore.WriteOptions{ChunkElems: 1 << 12})
	if err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(seed, seed+1))
	buf := make([]int64, cols)
	for r := 0; r < rows; r++ {
		for i := range buf {
			buf[i] = gen(rng)
		}
		if err := w.WriteInt64s(buf); err != nil {
			return nil, err
		}
	}
	if _, err := w.Commit(); err != nil {
		return nil, err
	}
	return &gkr.TensorInfo{Name: name, Shape: []int{rows, cols}, Role: gkr.Input}, nil
}

// stepTimes records the wall time of each step of a gkr.Prove through its Progress callback.
type stepTimes struct {
	last  time.Time
	step  string
	times map[string]time.Duration
}

func (st *stepTimes) progress(step string, done, total int) {
	now := time.Now()
	if st.step != "" {
		st.times[st.step] += now.Sub(st.last)
		if os.Getenv(lookupBudgetEnv) != "" {
			hwm, _ := spill.PeakRSS()
			fmt.Printf("REPORT after %s: VmHWM %s\n", st.step, spill.FormatBytes(hwm))
		}
	}
	st.step, st.last = step, now
}

// lookupGraph builds x (input, rows×cols) → kernel → advice, with nothing consuming y.
func lookupGraph(s *tensorstore.Store, op string, rows, cols int, budget *spill.Budget) (*gkr.Graph, error) {
	var gen func(*rand.Rand) int64
	var k *Lookup
	var err error
	switch op {
	case "relu":
		gen = func(r *rand.Rand) int64 { return r.Int64N(256) - 128 }
		k, err = NewReLU(op, "x", "y", 8)
	case "requant_relu":
		gen = func(r *rand.Rand) int64 { return r.Int64N(1<<20) - 1<<19 }
		k, err = NewRequantReLU(op, "x", "y", 8, 8)
	case "requant":
		gen = func(r *rand.Rand) int64 { return r.Int64N(1<<20) - 1<<19 }
		k, err = NewRequant(op, "x", "y", 8, 8)
	case "range":
		gen = func(r *rand.Rand) int64 { return r.Int64N(1<<16) - 1<<15 }
		k, err = NewRange(op, "x", -1<<15, 1<<15)
	}
	if err != nil {
		return nil, err
	}
	ti, err := bigInput(s, "x", rows, cols, 7, gen)
	if err != nil {
		return nil, err
	}
	g := &gkr.Graph{Name: op, Tensors: map[string]*gkr.TensorInfo{"x": ti}, Kernels: []gkr.Kernel{k}}
	infos, err := k.Declare(g)
	if err != nil {
		return nil, err
	}
	for i := range infos {
		g.Tensors[infos[i].Name] = &infos[i]
	}
	fc := &ForwardCtx{Store: s, Graph: g, Budget: budget, Bounds: map[string]*big.Int{"x": BoundForDType(tensorstore.Int32)},
		Write: tensorstore.WriteOptions{ChunkElems: 1 << 12}, ChunkElems: 1 << 12}
	if err := k.Forward(fc); err != nil {
		return nil, err
	}
	return g, nil
}

// proveLookupGraph proves and verifies g and reports the time per step and the proof size.
func proveLookupGraph(s *tensorstore.Store, g *gkr.Graph, budget *spill.Budget, dir string) (map[string]time.Duration, []byte, error) {
	w := &StoreWitness{Store: s}
	defer w.Close()
	st := &stepTimes{times: map[string]time.Duration{}}
	opt := gkr.Options{Sumcheck: sumcheck.Options{Budget: budget, SpillDir: dir}, PCS: pcs.Options{Budget: budget}, Progress: st.progress}
	proof, err := gkr.Prove(g, w, gkr.Public{Inputs: w, Commitments: map[string]*pcs.Commitment{}}, opt)
	if err != nil {
		return nil, nil, err
	}
	st.progress("", 0, 0)
	if _, err := gkr.Verify(g, gkr.Public{Inputs: w, Commitments: map[string]*pcs.Commitment{}}, proof); err != nil {
		return nil, nil, fmt.Errorf("verify: %w", err)
	}
	return st.times, proof, nil
}

func TestLookupTiming(t *testing.T) {
	if testing.Short() {
		t.Skip()
	}
	s, err := tensorstore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	g, err := lookupGraph(s, "requant_relu", 1<<10, 1<<10, nil)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	times, proof, err := proveLookupGraph(s, g, nil, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("total %v, steps %v, proof %d bytes", time.Since(start), times, len(proof))
}
