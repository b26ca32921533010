package tensorstore

import (
	"errors"
	"testing"

	"github.com/streamprove/streamprove/spill"
)

// A writer's chunk buffers are charged to the budget from Create to Commit or Abort.
func TestWriterBudget(t *testing.T) {
	s := openTemp(t)
	b := spill.NewBudget(1 << 20)
	w, err := s.Create("a", []int{1 << 16}, Int32, WriteOptions{ChunkElems: 1 << 16, Budget: b})
	if err != nil {
		t.Fatal(err)
	}
	if b.Used() < 2*(1<<16)*4 {
		t.Fatalf("writer reserved %d bytes for two 256 KiB buffers", b.Used())
	}
	// a second writer of the same size does not fit the rest
	if _, err := s.Create("b", []int{1 << 18}, Int32, WriteOptions{ChunkElems: 1 << 18, Budget: b}); !errors.Is(err, spill.ErrBudget) {
		t.Fatalf("writer over budget: %v", err)
	}
	if err := w.WriteInt64s(make([]int64, 1<<16)); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	if b.Used() != 0 {
		t.Fatalf("%d bytes still reserved after Commit", b.Used())
	}
	w2, err := s.Create("c", []int{10}, Int8, WriteOptions{Budget: b})
	if err != nil {
		t.Fatal(err)
	}
	w2.Abort()
	if b.Used() != 0 {
		t.Fatalf("%d bytes still reserved after Abort", b.Used())
	}
}
