package tensorstore

import (
	"os"
	"testing"
	"time"

	"github.com/streamprove/streamprove/field"
	"github.com/streamprove/streamprove/internal/childtest"
	"github.com/streamprove/streamprove/spill"
)

// The budget test streams a 2^28-element int8 tensor (a 256 MiB file, 8 GiB as field
// elements) through field.EvalStream in a child process whose budget is 128 MiB, and checks the
// child's real peak RSS and the value.
const (
	budgetVars  = 28
	budgetBytes = 128 << 20
	budgetChunk = 16 // elements per stored chunk: 2^16
)

// budgetCoef is the coefficient of variable k in the test tensor: f(i) = 3 + Σ_k c_k·bit_k(i),
// whose MLE is the affine function 3 + Σ_k c_k·x_k, so the expected value needs no pass over
// the data. c_k ∈ [−4, 4] keeps f within int8.
func budgetCoef(k int) int64 { return int64(k%9) - 4 }

func budgetPoint() []field.Element {
	p := make([]field.Element, budgetVars)
	for k := range p {
		p[k].SetUint64(uint64(k+1) * 0x9e3779b97f4a7c15)
		p[k].Square(&p[k])
	}
	return p
}

func TestBudgetStream(t *testing.T) {
	if childtest.IsChild() {
		budgetChild(t, os.Getenv("TENSORSTORE_BUDGET_DIR"))
		return
	}
	if testing.Short() {
		t.Skip("streams 8 GiB of field elements")
	}
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	const rows, cols = 1 << (budgetVars - 16), 1 << 16
	w, err := s.Create("big", []int{rows, cols}, Int8, WriteOptions{Codec: CodecNone, ChunkElems: 1 << budgetChunk})
	if err != nil {
		t.Fatal(err)
	}
	// f(i) = lo[i mod 2^16] + hi(i >> 16)
	lo := make([]int64, cols)
	for i := range lo {
		lo[i] = 3
		for k := range 16 {
			lo[i] += budgetCoef(k) * int64(i>>k&1)
		}
	}
	row := make([]int8, cols)
	for r := range rows {
		var hi int64
		for k := 16; k < budgetVars; k++ {
			hi += budgetCoef(k) * int64(r>>(k-16)&1)
		}
		for i := range row {
			row[i] = int8(lo[i] + hi)
		}
		if err := w.WriteInt8s(row); err != nil {
			t.Fatal(err)
		}
	}
	in, err := w.Commit()
	if err != nil {
		t.Fatal(err)
	}
	s.Close()

	out := childtest.Run(t, "TestBudgetStream", "TENSORSTORE_BUDGET_DIR="+dir)
	got, _ := out.Value("value")
	want := field.NewInt(3)
	p := budgetPoint()
	for k := range p {
		c := field.NewInt(budgetCoef(k))
		c.Mul(&c, &p[k])
		want.Add(&want, &c)
	}
	if got != want.String() {
		t.Fatalf("MLE value %s, want %s\n%s", got, want.String(), out.Text)
	}
	hwm := out.CheckPeakRSS(t, budgetBytes)
	t.Logf("streamed %s file (%s as field elements) in %v; child VmHWM %s, budget %s",
		spill.FormatBytes(in.StoredBytes), spill.FormatBytes(in.PaddedLen*field.Bytes), out.Took.Round(time.Millisecond),
		spill.FormatBytes(hwm), spill.FormatBytes(budgetBytes))
}

func budgetChild(t *testing.T, dir string) {
	spill.SetMemoryLimit(budgetBytes)
	fail := func(err error) { t.Fatal(err) }
	s, err := Open(dir)
	if err != nil {
		fail(err)
	}
	tn, err := s.Tensor("big")
	if err != nil {
		fail(err)
	}
	b := spill.NewBudget(budgetBytes - spill.RuntimeOverhead)
	tn.SetReadOptions(ReadOptions{Budget: b, Prefetch: 2})
	v, err := field.EvalStream(tn.Source(), budgetPoint(), 16)
	if err != nil {
		fail(err)
	}
	childtest.Report("value", v.String())
	childtest.Report("ledger_peak", b.Peak())
	childtest.ReportPeakRSS(t)
}
