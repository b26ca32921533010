package kernels

import (
	"fmt"
	"math/big"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/streamprove/streamprove/gkr"
	"github.com/streamprove/streamprove/tensorstore"
)

// BenchmarkRequantFixedProve measures requant_fixed's prove time per element at 2^20 beside
// today's requant_relu (shift 8) on the same kind of input (|x| < 2^19): the kernel's messages,
// the advice commitments and the final opening, per element. Cases: a power-of-two multiplier
// with n = 8 (one 8-bit limb: the same arithmetic as requant_relu), a 31-bit multiplier with
// n = 31 (two limbs), and per-channel multipliers over 1024 channels (adds the product sumcheck).
func BenchmarkRequantFixedProve(b *testing.B) {
	const logN = 20
	b.Run("requant_relu/2^20", func(b *testing.B) { benchLookup(b, "requant_relu", logN) })
	ch := make([]int64, 1<<(logN/2))
	for i := range ch {
		ch[i] = 1<<23 + int64(i)*977
	}
	for _, c := range []struct {
		name string
		spec RequantFixedSpec
	}{
		{"fixed-n8", RequantFixedSpec{Multipliers: []int64{1}, Shift: 8, Bits: 8, ReLU: true}},
		{"fixed-n31", RequantFixedSpec{Multipliers: []int64{1<<23 + 12345}, Shift: 31, Bits: 8, ReLU: true}},
		{"fixed-n31-per-channel", RequantFixedSpec{Multipliers: ch, Axis: -1, Shift: 31, Bits: 8, ReLU: true}},
	} {
		b.Run(fmt.Sprintf("%s/2^%d", c.name, logN), func(b *testing.B) { benchRequantFixed(b, c.spec, logN) })
	}
}

func benchRequantFixed(b *testing.B, spec RequantFixedSpec, logN int) {
	s, err := tensorstore.Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	rows := 1 << (logN / 2)
	cols := 1 << logN / rows
	ti, err := bigInput(s, "x", rows, cols, 7, func(r *rand.Rand) int64 { return r.Int64N(1<<20) - 1<<19 })
	if err != nil {
		b.Fatal(err)
	}
	k, err := NewRequantFixed("rq", "x", "y", spec)
	if err != nil {
		b.Fatal(err)
	}
	g := &gkr.Graph{Name: "rq", Tensors: map[string]*gkr.TensorInfo{"x": ti,
		"y": {Name: "y", Shape: ti.Shape, Role: gkr.Output}}, Kernels: []gkr.Kernel{k}}
	infos, err := k.Declare(g)
	if err != nil {
		b.Fatal(err)
	}
	for i := range infos {
		g.Tensors[infos[i].Name] = &infos[i]
	}
	fc := &ForwardCtx{Store: s, Graph: g, Bounds: map[string]*big.Int{"x": BoundForDType(tensorstore.Int32)},
		Write: tensorstore.WriteOptions{ChunkElems: 1 << 12}, ChunkElems: 1 << 12}
	start := time.Now()
	if err := k.Forward(fc); err != nil {
		b.Fatal(err)
	}
	fwd := time.Since(start)
	N := float64(int64(1) << logN)
	var kern, commit, open, total time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		st, _, err := proveLookupGraph(s, g, nil, b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		times := st.times
		total += time.Since(start) - times["verify"]
		for step, d := range times {
			switch {
			case step == "rq":
				kern += d
			case step == "opening":
				open += d
			case strings.HasPrefix(step, "commit"):
				commit += d
			}
		}
	}
	n := float64(b.N)
	b.ReportMetric(float64(fwd.Nanoseconds())/N, "forward-ns/elem")
	b.ReportMetric(float64(kern.Nanoseconds())/n/N, "kernel-ns/elem")
	b.ReportMetric(float64(commit.Nanoseconds())/n/N, "commit-ns/elem")
	b.ReportMetric(float64(open.Nanoseconds())/n/N, "open-ns/elem")
	b.ReportMetric(float64(total.Nanoseconds())/n/N, "prove-ns/elem")
}
