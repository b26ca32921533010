package tensorstore

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/streamprove/streamprove/field"
)

func writeInt8Tensor(t testing.TB, s *Store, name string, shape []int, opt WriteOptions) []int8 {
	t.Helper()
	n, _, _, _ := shapeLens(shape)
	v := make([]int8, n)
	for i := range v {
		v[i] = int8(i*7 - 3)
	}
	w, err := s.Create(name, shape, Int8, opt)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.WriteInt8s(v); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestCorruptChunk(t *testing.T) {
	for _, codec := range []Codec{CodecNone, CodecS2, CodecZstd} {
		t.Run(codec.String(), func(t *testing.T) {
			s := openTemp(t)
			writeInt8Tensor(t, s, "w", []int{10, 100}, WriteOptions{Codec: codec, ChunkElems: 256})
			tn, err := s.Tensor("w")
			if err != nil {
				t.Fatal(err)
			}
			ref := tn.Info().Chunks[2]
			path := tn.path
			tn.Close()
			// flip one bit in the middle of chunk 2's payload
			f, err := os.OpenFile(path, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			pos := ref.Offset + chunkHeaderLen + int64(ref.Stored)/2
			var b [1]byte
			f.ReadAt(b[:], pos)
			b[0] ^= 0x10
			f.WriteAt(b[:], pos)
			f.Close()

			tn, err = s.Tensor("w")
			if err != nil {
				t.Fatal(err)
			}
			defer tn.Close()
			buf := make([]field.Element, 256)
			if _, err := tn.ReadChunk(1, buf); err != nil {
				t.Fatalf("chunk 1 is intact: %v", err)
			}
			_, err = tn.ReadChunk(2, buf)
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), `tensor "w" chunk 2`) {
				t.Fatalf("flipped bit: %v", err)
			}
			// a stream reports it too, and keeps reporting it
			for _, pf := range []int{-1, 2} {
				tn.SetReadOptions(ReadOptions{Prefetch: pf})
				st, _ := tn.Source().Open()
				var got error
				for got == nil {
					_, got = st.Next(buf)
				}
				if !errors.Is(got, ErrCorrupt) || !strings.Contains(got.Error(), "chunk 2") {
					t.Fatalf("stream over a flipped bit: %v", got)
				}
				if _, again := st.Next(buf); !errors.Is(again, ErrCorrupt) {
					t.Fatalf("stream resumed after corruption: %v", again)
				}
				st.Close()
			}
		})
	}
}

func TestTruncatedFile(t *testing.T) {
	s := openTemp(t)
	writeInt8Tensor(t, s, "w", []int{1000}, WriteOptions{ChunkElems: 128, Codec: CodecNone})
	tn, _ := s.Tensor("w")
	path, size := tn.path, tn.Info().StoredBytes
	tn.Close()
	for _, cut := range []int64{size - 1, size / 2, 5, 0} {
		if err := os.Truncate(path, cut); err != nil {
			t.Fatal(err)
		}
		_, err := s.Tensor("w")
		if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "truncated") {
			t.Fatalf("truncated to %d: %v", cut, err)
		}
	}
	// a file truncated while a tensor is open: reads fail cleanly, never panic
	s2 := openTemp(t)
	writeInt8Tensor(t, s2, "w", []int{1000}, WriteOptions{ChunkElems: 128, Codec: CodecNone})
	tn, _ = s2.Tensor("w")
	defer tn.Close()
	os.Truncate(tn.path, 300)
	buf := make([]field.Element, 128)
	if _, err := tn.ReadChunk(5, buf); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "chunk 5") {
		t.Fatalf("read past a truncation: %v", err)
	}
}

// TestKilledWriter re-executes the test binary as a child that writes part of a tensor and is
// SIGKILLed before Commit; the parent then reopens the store.
func TestKilledWriter(t *testing.T) {
	if dir := os.Getenv("TENSORSTORE_KILL_CHILD"); dir != "" {
		s, err := Open(dir)
		if err != nil {
			os.Exit(3)
		}
		w, err := s.Create("half", []int{1 << 20}, Int8, WriteOptions{ChunkElems: 1 << 12})
		if err != nil {
			os.Exit(4)
		}
		w.WriteInt8s(make([]int8, 1<<19)) // half the tensor: several chunks on disk
		os.Stdout.WriteString("ready\n")
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {}
	}
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	writeInt8Tensor(t, s, "keep", []int{100}, WriteOptions{})
	s.Close()

	cmd := exec.Command(os.Args[0], "-test.run=^TestKilledWriter$")
	cmd.Env = append(os.Environ(), "TENSORSTORE_KILL_CHILD="+dir)
	out, err := cmd.Output()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL || !strings.Contains(string(out), "ready") {
		t.Fatalf("child did not die by SIGKILL after writing: %v, output %q", err, out)
	}
	tmps, _ := filepath.Glob(filepath.Join(dir, tensorsDir, "*"+tmpExt))
	if len(tmps) != 1 {
		t.Fatalf("child left %d temp files, expected the one it was writing", len(tmps))
	}

	s, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Tensor("half"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("killed writer's tensor is visible: %v", err)
	}
	if l, _ := s.List(); len(l) != 1 || l[0].Name != "keep" {
		t.Fatalf("List after crash: %v", l)
	}
	tmps, _ = filepath.Glob(filepath.Join(dir, tensorsDir, "*"+tmpExt))
	if len(tmps) != 0 {
		t.Fatalf("temp files not cleaned: %v", tmps)
	}
	// the store is usable: the name is free and the old tensor reads
	writeInt8Tensor(t, s, "half", []int{10}, WriteOptions{})
	tn, err := s.Tensor("keep")
	if err != nil {
		t.Fatal(err)
	}
	tn.Close()
}

// TestOrphanSegment covers a crash after the rename and before the catalog transaction: the
// segment file exists but no entry points to it; Open removes it and keeps the live ones.
func TestOrphanSegment(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	writeInt8Tensor(t, s, "live", []int{10}, WriteOptions{})
	s.Close()
	orphan := filepath.Join(dir, tensorsDir, "0123456789abcdef"+segExt)
	if err := os.WriteFile(orphan, []byte("SPCK"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := os.Stat(orphan); !os.IsNotExist(err) {
		t.Fatalf("orphan segment survived Open: %v", err)
	}
	tn, err := s.Tensor("live")
	if err != nil {
		t.Fatal(err)
	}
	tn.Close()
}
