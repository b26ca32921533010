package tensorstore

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	bolt "go.etcd.io/bbolt"

	"github.com/streamprove/streamprove/field"
	"github.com/streamprove/streamprove/spill"
)

// WriteOptions choose how a tensor is stored.
type WriteOptions struct {
	Codec      Codec // CodecDefault means DefaultCodec
	ChunkElems int   // elements per chunk, a power of two ≤ 2^24; 0 means 2^16
	Replace    bool  // replace a committed tensor of the same name instead of failing with ErrExists
	// Budget, if set, is charged for the writer's chunk buffers (raw and compressed) from
	// Create until Commit or Abort; Create fails with spill.ErrBudget when they do not fit.
	Budget *spill.Budget
}

// Writer writes one tensor's elements in unpadded row-major order, one chunk buffered at a
// time. Nothing is visible until Commit; Abort (or a crash) leaves the store as it was.
type Writer struct {
	s       *Store
	info    Info
	id      string
	tmp     string
	f       *os.File
	replace bool

	raw     []byte // the chunk being filled, in storage encoding
	fill    int    // elements in raw
	comp    []byte
	hdr     [chunkHeaderLen]byte
	written int64
	off     int64
	refs    []ChunkRef
	err     error // sticky: after a failed write the writer only aborts
	done    bool

	budget   *spill.Budget
	reserved int64
}

// Create starts a new tensor. The name must not be committed already unless opt.Replace.
func (s *Store) Create(name string, shape []int, dt DType, opt WriteOptions) (*Writer, error) {
	if name == "" {
		return nil, fmt.Errorf("tensorstore: create: empty tensor name: %w", ErrFormat)
	}
	if !dt.valid() {
		return nil, fmt.Errorf("tensor %q: dtype %v: %w", name, dt, ErrFormat)
	}
	n, padded, pn, err := shapeLens(shape)
	if err != nil {
		return nil, fmt.Errorf("tensor %q: %w", name, err)
	}
	codec := opt.Codec
	if codec == CodecDefault {
		codec = DefaultCodec
	}
	if !codec.valid() {
		return nil, fmt.Errorf("tensor %q: codec %v: %w", name, codec, ErrFormat)
	}
	ce := opt.ChunkElems
	if ce == 0 {
		ce = 1 << defaultChunkLog
	}
	if ce < 0 || ce&(ce-1) != 0 || ce > maxChunkElems {
		return nil, fmt.Errorf("tensor %q: chunk of %d elements: want a power of two ≤ 2^24: %w", name, ce, ErrFormat)
	}
	// A chunk larger than the tensor only wastes buffer space.
	if p := field.NextPow2(n); int64(ce) > p {
		ce = int(p)
	}
	if !opt.Replace {
		if _, _, err := s.lookup(name); err == nil {
			return nil, fmt.Errorf("tensor %q: %w", name, ErrExists)
		}
	}
	// The raw chunk, and its compressed form (which can exceed it slightly).
	reserved := int64(2*ce*dt.Size()) + 1<<10
	if opt.Budget != nil {
		if err := opt.Budget.Reserve(fmt.Sprintf("writer of tensor %q", name), reserved); err != nil {
			return nil, err
		}
	}
	release := func() {
		if opt.Budget != nil {
			opt.Budget.Release(reserved)
		}
	}
	var rb [8]byte
	if _, err := rand.Read(rb[:]); err != nil {
		release()
		return nil, err
	}
	id := hex.EncodeToString(rb[:])
	tmp := s.segPath(id) + tmpExt
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		release()
		return nil, fmt.Errorf("tensor %q: %w", name, err)
	}
	var h [segHeaderLen]byte
	putSegHeader(h[:], dt)
	if _, err := f.Write(h[:]); err != nil {
		f.Close()
		os.Remove(tmp)
		release()
		return nil, fmt.Errorf("tensor %q: %s: %w", name, tmp, err)
	}
	nc := int((n + int64(ce) - 1) / int64(ce))
	return &Writer{
		s: s, id: id, tmp: tmp, f: f, replace: opt.Replace,
		info: Info{Name: name, Shape: append([]int(nil), shape...), PaddedShape: padded, DType: dt,
			Codec: codec, ChunkElems: ce, NumChunks: nc, Len: n, PaddedLen: pn},
		raw:  make([]byte, ce*dt.Size()),
		off:  segHeaderLen,
		refs: make([]ChunkRef, 0, nc),

		budget: opt.Budget, reserved: reserved,
	}, nil
}

// Info returns the description of the tensor being written (its index is filled by Commit).
func (w *Writer) Info() Info { return w.info }

// Written returns the number of elements written so far.
func (w *Writer) Written() int64 { return w.written }

func (w *Writer) check(n int) error {
	if w.err != nil {
		return w.err
	}
	if w.done {
		return fmt.Errorf("tensor %q: write after commit or abort: %w", w.info.Name, ErrClosed)
	}
	if w.written+int64(n) > w.info.Len {
		w.err = fmt.Errorf("tensor %q: %d elements written to a tensor of %d: %w",
			w.info.Name, w.written+int64(n), w.info.Len, ErrFormat)
		return w.err
	}
	return nil
}

// WriteInt64s appends values; each must fit the dtype (any int64 fits Field).
func (w *Writer) WriteInt64s(v []int64) error {
	if err := w.check(len(v)); err != nil {
		return err
	}
	dt := w.info.DType
	lo, hi := dt.Bounds()
	sz := dt.Size()
	for len(v) > 0 {
		k := min(len(v), w.info.ChunkElems-w.fill)
		dst := w.raw[w.fill*sz:]
		for i, x := range v[:k] {
			if x < lo || x > hi {
				w.err = fmt.Errorf("tensor %q: element %d is %d, outside %v [%d, %d]: %w",
					w.info.Name, w.written+int64(i), x, dt, lo, hi, ErrRange)
				return w.err
			}
			switch dt {
			case Int8:
				dst[i] = byte(x)
			case Int16:
				binary.LittleEndian.PutUint16(dst[2*i:], uint16(x))
			case Int32:
				binary.LittleEndian.PutUint32(dst[4*i:], uint32(x))
			case Int64:
				binary.LittleEndian.PutUint64(dst[8*i:], uint64(x))
			case Field:
				e := field.NewInt(x)
				field.PutLE(dst[32*i:], []field.Element{e})
			}
		}
		if err := w.advance(k); err != nil {
			return err
		}
		v = v[k:]
	}
	return nil
}

// WriteInt8s appends values; for an int8 tensor it is a plain copy.
func (w *Writer) WriteInt8s(v []int8) error {
	if w.info.DType != Int8 {
		var buf [512]int64
		for len(v) > 0 {
			k := min(len(v), len(buf))
			for i, x := range v[:k] {
				buf[i] = int64(x)
			}
			if err := w.WriteInt64s(buf[:k]); err != nil {
				return err
			}
			v = v[k:]
		}
		return nil
	}
	if err := w.check(len(v)); err != nil {
		return err
	}
	for len(v) > 0 {
		k := copy(w.raw[w.fill:], int8sAsBytes(v))
		if err := w.advance(k); err != nil {
			return err
		}
		v = v[k:]
	}
	return nil
}

// WriteElements appends field elements. For an integer dtype each must represent an integer
// in the dtype's range (p−x for negative x).
func (w *Writer) WriteElements(v []field.Element) error {
	if err := w.check(len(v)); err != nil {
		return err
	}
	dt := w.info.DType
	if dt != Field {
		var buf [512]int64
		lo, hi := dt.Bounds()
		base := w.written
		for off := 0; off < len(v); off += len(buf) {
			chunk := v[off:min(off+len(buf), len(v))]
			if err := field.ToInt64s(buf[:len(chunk)], chunk, lo, hi); err != nil {
				w.err = fmt.Errorf("tensor %q: elements from %d: %v (dtype %v): %w",
					w.info.Name, base+int64(off), err, dt, ErrRange)
				return w.err
			}
			if err := w.WriteInt64s(buf[:len(chunk)]); err != nil {
				return err
			}
		}
		return nil
	}
	for len(v) > 0 {
		k := min(len(v), w.info.ChunkElems-w.fill)
		field.PutLE(w.raw[w.fill*field.Bytes:], v[:k])
		if err := w.advance(k); err != nil {
			return err
		}
		v = v[k:]
	}
	return nil
}

// advance records k more elements in the chunk buffer and flushes it when full.
func (w *Writer) advance(k int) error {
	w.fill += k
	w.written += int64(k)
	if w.fill == w.info.ChunkElems {
		return w.flush()
	}
	return nil
}

func (w *Writer) flush() error {
	if w.fill == 0 {
		return nil
	}
	raw := w.raw[:w.fill*w.info.DType.Size()]
	var err error
	w.comp, err = compress(w.info.Codec, w.comp, raw)
	if err != nil {
		w.err = fmt.Errorf("tensor %q chunk %d: %w", w.info.Name, len(w.refs), err)
		return w.err
	}
	crc := checksum(w.comp)
	chunkHeader{codec: w.info.Codec, raw: uint32(len(raw)), stored: uint32(len(w.comp)), crc: crc}.put(w.hdr[:])
	if _, err := w.f.Write(w.hdr[:]); err == nil {
		_, err = w.f.Write(w.comp)
	}
	if err != nil {
		w.err = fmt.Errorf("tensor %q chunk %d: %s: %w", w.info.Name, len(w.refs), w.tmp, err)
		return w.err
	}
	w.refs = append(w.refs, ChunkRef{Offset: w.off, Stored: uint32(len(w.comp)), CRC: crc})
	w.off += chunkHeaderLen + int64(len(w.comp))
	w.fill = 0
	return nil
}

// Commit makes the tensor visible: it flushes the last chunk, fsyncs the file, renames it into
// tensors/, and records it in the catalog in one bbolt transaction. Until that transaction
// commits, a crash leaves the store as it was (plus a file the next Open removes).
func (w *Writer) Commit() (Info, error) {
	if w.err == nil && w.done {
		return Info{}, fmt.Errorf("tensor %q: commit after commit or abort: %w", w.info.Name, ErrClosed)
	}
	if w.err == nil && w.written != w.info.Len {
		w.err = fmt.Errorf("tensor %q: commit after %d of %d elements: %w", w.info.Name, w.written, w.info.Len, ErrFormat)
	}
	if w.err == nil {
		w.err = w.flush()
	}
	if w.err != nil {
		err := w.err
		w.Abort()
		return Info{}, err
	}
	w.done = true
	w.releaseBuffers()
	name := w.info.Name
	fail := func(err error) (Info, error) {
		w.f.Close()
		os.Remove(w.tmp)
		os.Remove(w.s.segPath(w.id))
		return Info{}, fmt.Errorf("tensor %q: commit: %w", name, err)
	}
	if !w.s.noSync {
		if err := w.f.Sync(); err != nil {
			return fail(err)
		}
	}
	if err := w.f.Close(); err != nil {
		return fail(err)
	}
	final := w.s.segPath(w.id)
	if err := os.Rename(w.tmp, final); err != nil {
		return fail(err)
	}
	if !w.s.noSync {
		if err := syncDir(filepath.Dir(final)); err != nil {
			return fail(err)
		}
	}
	w.info.Chunks = w.refs
	w.info.StoredBytes = w.off
	rec, err := json.Marshal(record{
		ID: w.id, Shape: w.info.Shape, DType: w.info.DType.String(), Codec: w.info.Codec.String(),
		ChunkElems: w.info.ChunkElems, NumChunks: w.info.NumChunks, StoredBytes: w.off,
	})
	if err != nil {
		return fail(err)
	}
	var oldID string
	err = w.s.db.Update(func(tx *bolt.Tx) error {
		tb := tx.Bucket(bucketTensors)
		if old := tb.Get([]byte(name)); old != nil {
			if !w.replace {
				return ErrExists
			}
			_, oldID, _ = infoFromRecord(name, old)
		}
		if err := tb.Put([]byte(name), rec); err != nil {
			return err
		}
		return tx.Bucket(bucketChunks).Put([]byte(name), encodeIndex(w.refs))
	})
	if err != nil {
		return fail(err)
	}
	if oldID != "" && oldID != w.id {
		_ = os.Remove(w.s.segPath(oldID))
	}
	return w.info, nil
}

// Abort discards the tensor. It is safe to call after Commit (it does nothing then).
func (w *Writer) Abort() {
	if w.done {
		return
	}
	w.done = true
	w.releaseBuffers()
	w.f.Close()
	os.Remove(w.tmp)
}

// releaseBuffers drops the chunk buffers and returns their reservation.
func (w *Writer) releaseBuffers() {
	w.raw, w.comp = nil, nil
	if w.budget != nil {
		w.budget.Release(w.reserved)
		w.budget = nil
	}
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
