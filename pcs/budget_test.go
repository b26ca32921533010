package pcs

import (
	"fmt"
	"io"
	"testing"

	"github.com/streamprove/streamprove/field"
	"github.com/streamprove/streamprove/internal/childtest"
	"github.com/streamprove/streamprove/spill"
)

// genSource is a deterministic int8-valued source computed on the fly (splitmix64 of the index),
// so a test can stream a polynomial far larger than its memory budget without any store.
type genSource struct {
	n    int64
	seed uint64
}

func (g genSource) Len() int64 { return g.n }

func (g genSource) Open() (field.Stream, error) { return &genStream{g: g}, nil }

type genStream struct {
	g   genSource
	pos int64
}

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

func (s *genStream) Next(buf []field.Element) (int, error) {
	rest := s.g.n - s.pos
	if rest <= 0 {
		return 0, io.EOF
	}
	if int64(len(buf)) > rest {
		buf = buf[:rest]
	}
	for i := range buf {
		buf[i].SetInt64(int64(int8(splitmix(s.g.seed ^ uint64(s.pos+int64(i))))))
	}
	s.pos += int64(len(buf))
	return len(buf), nil
}

func (s *genStream) Close() error { return nil }

const (
	budgetVars  = 24       // 2^24 elements = 512 MiB as field elements
	budgetBytes = 16 << 20 // 32× smaller than the polynomial
)

// TestBudget commits to and opens (at two points) a polynomial 32× larger than the memory
// budget in a child process, and checks the child's real peak RSS (VmHWM) against the budget.
func TestBudget(t *testing.T) {
	if childtest.IsChild() {
		budgetChild(t)
		return
	}
	if testing.Short() {
		t.Skip("budget test streams 2^24 elements")
	}
	out := childtest.Run(t, "TestBudget")
	for _, r := range out.Values("REPORT") {
		t.Log(r)
	}
	hwm := out.CheckPeakRSS(t, budgetBytes)
	t.Logf("2^%d elements (%s as field elements), budget %s, child VmHWM %s",
		budgetVars, spill.FormatBytes(32<<budgetVars), spill.FormatBytes(budgetBytes), spill.FormatBytes(hwm))
}

func budgetChild(t *testing.T) {
	spill.SetMemoryLimit(budgetBytes)
	// The ledger gets half: the rest is the Go runtime, the test binary and the generators.
	bud := spill.NewBudget(budgetBytes / 2)
	src := genSource{n: 1 << budgetVars, seed: 42}
	opt := Options{Budget: bud}
	com, err := Commit(src, opt)
	if err != nil {
		t.Fatal(err)
	}
	p1 := make([]field.Element, budgetVars)
	p2 := make([]field.Element, budgetVars)
	for i := range p1 {
		p1[i].SetUint64(splitmix(uint64(i)))
		p2[i].SetUint64(splitmix(uint64(i) + 1000))
	}
	v1, err := field.EvalStream(src, p1, 12)
	if err != nil {
		t.Fatal(err)
	}
	v2, err := field.EvalStream(src, p2, 12)
	if err != nil {
		t.Fatal(err)
	}
	claims := []Claim{{Commitment: com, Source: src, Point: p1, Value: v1}, {Commitment: com, Source: src, Point: p2, Value: v2}}
	op, err := Open(field.NewTranscript("budget"), claims, opt)
	if err != nil {
		t.Fatal(err)
	}
	enc := op.AppendBinary(nil)
	vc := verifierClaims(claims)
	dec, _, err := DecodeOpening(enc, vc)
	if err != nil {
		t.Fatal(err)
	}
	if err := Verify(field.NewTranscript("budget"), vc, dec); err != nil {
		t.Fatal(err)
	}
	fmt.Printf("REPORT ledger peak %s of %s\n", spill.FormatBytes(bud.Peak()), spill.FormatBytes(bud.Limit()))
	childtest.ReportPeakRSS(t)
}
