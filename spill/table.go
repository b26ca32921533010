package spill

import (
	"errors"
	"fmt"
	"io"
	"os"
	"unsafe"

	"github.com/streamprove/streamprove/field"
)

// Table is a vector of field elements of known length that lives in RAM when its bytes could be
// reserved from the budget, and in a spill file otherwise. Callers read and write it by ranges
// (ReadAt/WriteAt), or stream it as a field.Source; they need not care where it lives.
//
// A spilled table is one file, overwritten in place: Shrink keeps the file, so a sumcheck that
// folds a table in half every round reuses the same blocks (overwriting existing blocks is much
// faster than allocating new ones on these disks, DESIGN §5).
type Table struct {
	n        int64
	ram      []field.Element
	f        *os.File
	budget   *Budget
	reserved int64
}

const elemBytes = int64(unsafe.Sizeof(field.Element{}))

// NewTable makes a zeroed table of n elements. It lives in RAM if n·32 bytes fit what b has
// spare (Budget.Spare) and are reserved for who; otherwise in a new spill file under dir
// (os.TempDir() when empty). A nil b means unlimited.
func NewTable(b *Budget, who string, n int64, dir string) (*Table, error) {
	if n < 0 {
		return nil, fmt.Errorf("spill: table %s of %d elements", who, n)
	}
	bytes := n * elemBytes
	// Only spare bytes go to a table in RAM: a table can spill, the readers that come after it
	// cannot, so filling the ledger with tables would starve them.
	if b == nil || bytes <= b.Spare() && b.Reserve(who, bytes) == nil {
		return &Table{n: n, ram: make([]field.Element, n), budget: b, reserved: bytes}, nil
	}
	return NewSpilledTable(who, n, dir)
}

// NewTableKeeping makes a zeroed table of n elements for a caller that knows what it still
// needs: it lives in RAM if its n·32 bytes can be reserved with keep bytes left free afterwards
// (Budget.ReserveKeeping), and in a spill file under dir otherwise. Unlike NewTable it does not
// hold back an eighth of the limit: the caller's keep is the exact reserve.
func NewTableKeeping(b *Budget, who string, n int64, dir string, keep int64) (*Table, error) {
	if n < 0 {
		return nil, fmt.Errorf("spill: table %s of %d elements", who, n)
	}
	bytes := n * elemBytes
	if b == nil || b.ReserveKeeping(bytes, keep) {
		return &Table{n: n, ram: make([]field.Element, n), budget: b, reserved: bytes}, nil
	}
	return NewSpilledTable(who, n, dir)
}

// NewSpilledTable makes a table of n elements in a spill file under dir, whatever the budget.
// The file is unlinked at once so that a crash leaves nothing behind.
func NewSpilledTable(who string, n int64, dir string) (*Table, error) {
	f, err := os.CreateTemp(dir, "spill-*.tbl")
	if err != nil {
		return nil, fmt.Errorf("spill: table %s: %w", who, err)
	}
	_ = os.Remove(f.Name())
	if err := f.Truncate(n * elemBytes); err != nil {
		f.Close()
		return nil, fmt.Errorf("spill: table %s: %w", who, err)
	}
	return &Table{n: n, f: f}, nil
}

// Len returns the table's length in elements.
func (t *Table) Len() int64 { return t.n }

// InRAM reports whether the table lives in RAM.
func (t *Table) InRAM() bool { return t.f == nil }

// Slice returns the table's elements when it lives in RAM, and nil otherwise.
func (t *Table) Slice() []field.Element {
	if t.f != nil {
		return nil
	}
	return t.ram[:t.n]
}

func asBytes(s []field.Element) []byte {
	if len(s) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&s[0])), len(s)*int(elemBytes))
}

// ReadAt copies elements [off, off+len(dst)) into dst.
func (t *Table) ReadAt(dst []field.Element, off int64) error {
	if off < 0 || off+int64(len(dst)) > t.n {
		return fmt.Errorf("spill: read [%d,%d) of a %d-element table", off, off+int64(len(dst)), t.n)
	}
	if t.f == nil {
		copy(dst, t.ram[off:])
		return nil
	}
	_, err := t.f.ReadAt(asBytes(dst), off*elemBytes)
	return err
}

// WriteAt copies src into elements [off, off+len(src)).
func (t *Table) WriteAt(src []field.Element, off int64) error {
	if off < 0 || off+int64(len(src)) > t.n {
		return fmt.Errorf("spill: write [%d,%d) of a %d-element table", off, off+int64(len(src)), t.n)
	}
	if t.f == nil {
		copy(t.ram[off:], src)
		return nil
	}
	_, err := t.f.WriteAt(asBytes(src), off*elemBytes)
	return err
}

// Shrink sets the length to n ≤ Len, keeping the storage for reuse. A RAM table keeps its
// reservation until Release.
func (t *Table) Shrink(n int64) error {
	if n < 0 || n > t.n {
		return fmt.Errorf("spill: shrink a %d-element table to %d", t.n, n)
	}
	t.n = n
	return nil
}

// Release frees the table's RAM (and its reservation) or closes its spill file. The table is
// unusable afterwards.
func (t *Table) Release() error {
	var err error
	if t.f != nil {
		err = t.f.Close()
		t.f = nil
	}
	if t.budget != nil && t.reserved > 0 {
		t.budget.Release(t.reserved)
	}
	t.ram, t.reserved, t.n = nil, 0, 0
	return err
}

// Open starts a sequential pass over the table (Table is a field.Source).
func (t *Table) Open() (field.Stream, error) {
	if t.f == nil && t.ram == nil && t.n > 0 {
		return nil, errors.New("spill: stream of a released table")
	}
	return &tableStream{t: t}, nil
}

type tableStream struct {
	t   *Table
	pos int64
}

func (s *tableStream) Next(buf []field.Element) (int, error) {
	rest := s.t.n - s.pos
	if rest <= 0 {
		return 0, io.EOF
	}
	if int64(len(buf)) > rest {
		buf = buf[:rest]
	}
	if err := s.t.ReadAt(buf, s.pos); err != nil {
		return 0, err
	}
	s.pos += int64(len(buf))
	return len(buf), nil
}

func (s *tableStream) Close() error { return nil }
