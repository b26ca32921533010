package tensorstore

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/streamprove/streamprove/field"
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
	if dir := os.Getenv("TENSORSTORE_BUDGET_CHILD"); dir != "" {
		budgetChild(dir)
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

	start := time.Now()
	cmd := exec.Command(os.Args[0], "-test.run=^TestBudgetStream$")
	cmd.Env = append(os.Environ(), "TENSORSTORE_BUDGET_CHILD="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	var got string
	var hwm int64
	for _, line := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(line, "value="); ok {
			got = v
		}
		if v, ok := strings.CutPrefix(line, "hwm="); ok {
			hwm, _ = strconv.ParseInt(v, 10, 64)
		}
	}
	want := field.NewInt(3)
	p := budgetPoint()
	for k := range p {
		c := field.NewInt(budgetCoef(k))
		c.Mul(&c, &p[k])
		want.Add(&want, &c)
	}
	t.Logf("streamed %s file (%s as field elements) in %v; child VmHWM %s, budget %s",
		spill.FormatBytes(in.StoredBytes), spill.FormatBytes(in.PaddedLen*field.Bytes), time.Since(start).Round(time.Millisecond),
		spill.FormatBytes(hwm), spill.FormatBytes(budgetBytes))
	if got != want.String() {
		t.Fatalf("MLE value %s, want %s\n%s", got, want.String(), out)
	}
	if hwm <= 0 || hwm >= budgetBytes {
		t.Fatalf("child peak RSS %d bytes, budget %d\n%s", hwm, budgetBytes, out)
	}
}

func budgetChild(dir string) {
	spill.SetMemoryLimit(budgetBytes)
	fail := func(err error) {
		fmt.Println("error:", err)
		os.Exit(1)
	}
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
	hwm, err := spill.PeakRSS()
	if err != nil {
		fail(err)
	}
	fmt.Printf("value=%s\nhwm=%d\nledger_peak=%d\n", v.String(), hwm, b.Peak())
	os.Exit(0)
}
