package spill

import (
	"errors"
	"strings"
	"testing"

	"github.com/streamprove/streamprove/field"
)

func TestBudget(t *testing.T) {
	b := NewBudget(1000)
	if err := b.Reserve("a", 600); err != nil {
		t.Fatal(err)
	}
	err := b.Reserve("fold table of fc1", 500)
	if !errors.Is(err, ErrBudget) || !strings.Contains(err.Error(), "fold table of fc1") {
		t.Fatalf("over-budget reservation: %v", err)
	}
	if b.Used() != 600 || b.Available() != 400 {
		t.Fatalf("used %d available %d after a refused reservation", b.Used(), b.Available())
	}
	b.Release(600)
	if err := b.Reserve("c", 1000); err != nil {
		t.Fatal(err)
	}
	if b.Peak() != 1000 {
		t.Fatalf("peak %d", b.Peak())
	}
	if err := NewBudget(0).Reserve("x", 1<<50); err != nil {
		t.Fatalf("unlimited budget refused: %v", err)
	}
	if _, err := b.Carve("step", 1); !errors.Is(err, ErrBudget) {
		t.Fatalf("carve from a full budget: %v", err)
	}
}

func TestParseSize(t *testing.T) {
	good := map[string]int64{
		"512MiB": 512 << 20, "4GiB": 4 << 30, "4G": 4 << 30, "1.5GiB": 3 << 29, "1GB": 1e9,
		"65536": 65536, "0": 0, "10 KiB": 10 << 10, "7b": 7, "2tib": 2 << 40, "3k": 3 << 10,
	}
	for s, want := range good {
		got, err := ParseSize(s)
		if err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", s, got, err, want)
		}
	}
	for _, s := range []string{"", "MiB", "-1GiB", "12XB", "1e400", "abc", "1.2.3M"} {
		if _, err := ParseSize(s); err == nil {
			t.Errorf("ParseSize(%q) accepted", s)
		}
	}
	if FormatBytes(512<<20) != "512.0 MiB" || FormatBytes(3) != "3 B" {
		t.Errorf("FormatBytes: %q %q", FormatBytes(512<<20), FormatBytes(3))
	}
}

func testTable(t *testing.T, tb *Table) {
	t.Helper()
	n := tb.Len()
	src := make([]field.Element, n)
	for i := range src {
		src[i] = field.NewInt(int64(i*i) - 7)
	}
	for off := int64(0); off < n; off += 100 {
		end := min(off+100, n)
		if err := tb.WriteAt(src[off:end], off); err != nil {
			t.Fatal(err)
		}
	}
	got := make([]field.Element, n)
	if err := field.ForEachChunk(tb, make([]field.Element, 64), func(j int64, c []field.Element) error {
		copy(got[j*64:], c)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for i := range got {
		if !got[i].Equal(&src[i]) {
			t.Fatalf("element %d differs after write/stream", i)
		}
	}
	if err := tb.ReadAt(got[:10], n-5); err == nil {
		t.Fatal("read past the end accepted")
	}
	if err := tb.Shrink(n / 2); err != nil || tb.Len() != n/2 {
		t.Fatal("shrink failed")
	}
	if err := tb.ReadAt(got[:1], n/2); err == nil {
		t.Fatal("read past the shrunk end accepted")
	}
}

func TestTable(t *testing.T) {
	b := NewBudget(64 << 10)
	ram, err := NewTable(b, "small", 1000, t.TempDir())
	if err != nil || !ram.InRAM() || ram.Slice() == nil {
		t.Fatalf("small table not in RAM: %v", err)
	}
	testTable(t, ram)
	if b.Used() != 1000*32 {
		t.Fatalf("ledger %d after a RAM table", b.Used())
	}
	big, err := NewTable(b, "big", 5000, t.TempDir())
	if err != nil || big.InRAM() || big.Slice() != nil {
		t.Fatalf("big table not spilled: %v", err)
	}
	testTable(t, big)
	ram.Release()
	big.Release()
	if b.Used() != 0 {
		t.Fatalf("ledger %d after release", b.Used())
	}
}

// TestTableKeeping: a table takes RAM only when its caller's keep stays free afterwards, spills
// otherwise, and either way gives its reservation back on Release; BudgetFor inverts LedgerFor.
func TestTableKeeping(t *testing.T) {
	b := NewBudget(100 * elemBytes)
	if !b.ReserveKeeping(40*elemBytes, 60*elemBytes) || b.ReserveKeeping(1, 60*elemBytes) {
		t.Fatalf("ReserveKeeping: used %d of %d", b.Used(), b.Limit())
	}
	b.Release(40 * elemBytes)
	ram, err := NewTableKeeping(b, "t", 30, t.TempDir(), 70*elemBytes)
	if err != nil || !ram.InRAM() || b.Used() != 30*elemBytes {
		t.Fatalf("30 elements keeping 70 of 100: in RAM %v, used %d, %v", ram.InRAM(), b.Used(), err)
	}
	spilled, err := NewTableKeeping(b, "u", 30, t.TempDir(), 50*elemBytes)
	if err != nil || spilled.InRAM() || b.Used() != 30*elemBytes {
		t.Fatalf("30 more elements keeping 50 of 70: in RAM %v, used %d, %v", spilled.InRAM(), b.Used(), err)
	}
	src := []field.Element{field.NewInt(7), field.NewInt(-3)}
	dst := make([]field.Element, 2)
	if err := spilled.WriteAt(src, 28); err != nil {
		t.Fatal(err)
	}
	if err := spilled.ReadAt(dst, 28); err != nil || !dst[0].Equal(&src[0]) || !dst[1].Equal(&src[1]) {
		t.Fatalf("spilled table read back %v, %v", dst, err)
	}
	ram.Release()
	spilled.Release()
	if b.Used() != 0 {
		t.Fatalf("after release: used %d", b.Used())
	}
	for _, budget := range []int64{MinBudget, 64 << 20, 100<<20 + 1, 1 << 30} {
		ledger, err := LedgerFor(budget)
		if err != nil {
			t.Fatal(err)
		}
		least := BudgetFor(ledger)
		if l, err := LedgerFor(least); err != nil || l < ledger || least > budget {
			t.Fatalf("budget %d: ledger %d, BudgetFor %d gives ledger %d (%v)", budget, ledger, least, l, err)
		}
	}
}
