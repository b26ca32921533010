package tensorstore

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/streamprove/streamprove/field"
	"github.com/streamprove/streamprove/spill"
)

// ReadOptions tune the sequential readers of a tensor (Source, RawSource, Ints).
type ReadOptions struct {
	// Prefetch is how many decoded chunks a sequential reader keeps ready ahead of its
	// consumer, decoded on one goroutine. 0 means the default (2); a negative value decodes
	// synchronously in the caller's goroutine.
	Prefetch int
	// Budget, if set, is charged for every buffer a sequential reader holds (decoded chunks and
	// the read/decompress scratch) while the stream is open. If the prefetch depth does not fit,
	// the reader falls back to synchronous decoding; if even that does not fit, Open fails with
	// spill.ErrBudget.
	Budget *spill.Budget
}

const defaultPrefetch = 2

// Tensor is an open, committed tensor. Its file stays open (and readable even if the tensor
// is deleted or replaced meanwhile) until Close. ReadChunk is safe for concurrent use.
type Tensor struct {
	info Info
	path string
	f    *os.File
	opt  ReadOptions
	pool sync.Pool // *scratch for ReadChunk
}

// scratch holds the buffers one chunk decode needs: the stored chunk and its raw bytes.
type scratch struct{ in, raw []byte }

// Tensor opens a committed tensor for reading.
func (s *Store) Tensor(name string) (*Tensor, error) {
	in, id, err := s.lookup(name)
	if err != nil {
		return nil, err
	}
	path := s.segPath(id)
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("tensor %q: %w", name, err)
	}
	t := &Tensor{info: in, path: path, f: f}
	if err := t.checkFile(); err != nil {
		f.Close()
		return nil, err
	}
	return t, nil
}

// checkFile verifies the segment header and that the file is as long as the catalog says, so
// that a truncated file is reported when the tensor is opened, not as a short read later.
func (t *Tensor) checkFile() error {
	st, err := t.f.Stat()
	if err != nil {
		return fmt.Errorf("tensor %q: %w", t.info.Name, err)
	}
	if st.Size() != t.info.StoredBytes {
		return fmt.Errorf("tensor %q: file %s is %d bytes, the catalog says %d (truncated or overwritten): %w",
			t.info.Name, t.path, st.Size(), t.info.StoredBytes, ErrCorrupt)
	}
	var h [segHeaderLen]byte
	if _, err := t.f.ReadAt(h[:], 0); err != nil {
		return fmt.Errorf("tensor %q: file %s: header: %v: %w", t.info.Name, t.path, err, ErrCorrupt)
	}
	if err := checkSegHeader(h[:], t.info.DType); err != nil {
		return fmt.Errorf("tensor %q: file %s: %w", t.info.Name, t.path, err)
	}
	end := int64(segHeaderLen)
	for j, c := range t.info.Chunks {
		if c.Offset != end {
			return fmt.Errorf("tensor %q chunk %d: index offset %d, expected %d: %w", t.info.Name, j, c.Offset, end, ErrCorrupt)
		}
		end += chunkHeaderLen + int64(c.Stored)
	}
	if end != t.info.StoredBytes {
		return fmt.Errorf("tensor %q: chunk index ends at %d, file is %d bytes: %w", t.info.Name, end, t.info.StoredBytes, ErrCorrupt)
	}
	return nil
}

// Info returns the tensor's description with its chunk index.
func (t *Tensor) Info() Info { return t.info }

// SetReadOptions sets the options of streams opened from now on.
func (t *Tensor) SetReadOptions(o ReadOptions) { t.opt = o }

// Close closes the tensor's file. Streams still open fail on their next read.
func (t *Tensor) Close() error { return t.f.Close() }

// readRaw reads, checks and decompresses chunk j into sc, returning its raw stored-encoding
// bytes. The checksum is verified before anything is decoded.
func (t *Tensor) readRaw(j int, sc *scratch) ([]byte, error) {
	if j < 0 || j >= t.info.NumChunks {
		return nil, fmt.Errorf("tensor %q: chunk %d of %d: %w", t.info.Name, j, t.info.NumChunks, ErrNotFound)
	}
	ref := t.info.Chunks[j]
	n := chunkHeaderLen + int(ref.Stored)
	if cap(sc.in) < n {
		sc.in = make([]byte, n)
	}
	in := sc.in[:n]
	if _, err := t.f.ReadAt(in, ref.Offset); err != nil {
		if errors.Is(err, io.EOF) {
			err = fmt.Errorf("file %s ends inside the chunk (truncated): %w", t.path, ErrCorrupt)
		}
		return nil, fmt.Errorf("tensor %q chunk %d: %w", t.info.Name, j, err)
	}
	h := parseChunkHeader(in)
	if h.stored != ref.Stored || h.crc != ref.CRC {
		return nil, fmt.Errorf("tensor %q chunk %d (file %s offset %d): header disagrees with the catalog: %w",
			t.info.Name, j, t.path, ref.Offset, ErrCorrupt)
	}
	raw, err := decodeChunk(in, t.info.ChunkLen(j)*t.info.DType.Size(), sc.raw)
	if err != nil {
		return nil, fmt.Errorf("tensor %q chunk %d (file %s offset %d): %w", t.info.Name, j, t.path, ref.Offset, err)
	}
	sc.raw = raw[:0]
	return raw, nil
}

func (t *Tensor) getScratch() *scratch {
	if sc, ok := t.pool.Get().(*scratch); ok {
		return sc
	}
	return &scratch{}
}

// ReadChunk decodes chunk j of the unpadded data into dst, which must hold ChunkLen(j)
// elements, and returns that length. A checksum mismatch is ErrCorrupt naming tensor and chunk.
func (t *Tensor) ReadChunk(j int, dst []field.Element) (int, error) {
	sc := t.getScratch()
	defer t.pool.Put(sc)
	raw, err := t.readRaw(j, sc)
	if err != nil {
		return 0, err
	}
	n := t.info.ChunkLen(j)
	if len(dst) < n {
		return 0, fmt.Errorf("tensor %q chunk %d: buffer of %d for %d elements", t.info.Name, j, len(dst), n)
	}
	if err := rawToElements(t.info.DType, dst, raw); err != nil {
		return 0, fmt.Errorf("tensor %q chunk %d: %w", t.info.Name, j, err)
	}
	return n, nil
}

// ReadChunkInt64 decodes chunk j of an integer tensor into dst (native integers, for the
// forward pass).
func (t *Tensor) ReadChunkInt64(j int, dst []int64) (int, error) {
	if !t.info.DType.IsInt() {
		return 0, fmt.Errorf("tensor %q is %v, not an integer tensor: %w", t.info.Name, t.info.DType, ErrFormat)
	}
	sc := t.getScratch()
	defer t.pool.Put(sc)
	raw, err := t.readRaw(j, sc)
	if err != nil {
		return 0, err
	}
	n := t.info.ChunkLen(j)
	if len(dst) < n {
		return 0, fmt.Errorf("tensor %q chunk %d: buffer of %d for %d elements", t.info.Name, j, len(dst), n)
	}
	return n, rawToInt64s(t.info.DType, dst, raw)
}
