package tensorstore

import (
	"fmt"
	"io"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/streamprove/streamprove/field"
)

// slot is one decoded chunk travelling from the prefetch goroutine to the consumer.
type slot[T any] struct {
	buf []T
	n   int
	err error
}

// chunkStream reads a tensor's chunks in order, decoding them into T (field elements or
// int64) on one prefetch goroutine that stays at most depth chunks ahead. Its buffers are
// fixed at open and charged to the tensor's budget, so memory does not grow with the tensor.
type chunkStream[T any] struct {
	t    *Tensor
	conv func(dst []T, raw []byte) error

	// synchronous mode (depth 0)
	sc   scratch
	next int

	// prefetch mode
	out  chan *slot[T]
	free chan *slot[T]
	done chan struct{}
	wg   sync.WaitGroup

	cur      *slot[T]
	pos      int
	err      error
	reserved int64
	closed   bool
}

func openChunkStream[T any](t *Tensor, conv func([]T, []byte) error) (*chunkStream[T], error) {
	var zero T
	in := &t.info
	chunkBytes := int64(in.ChunkElems) * int64(unsafe.Sizeof(zero))
	// one read buffer (stored bytes, ≤ raw + codec overhead) and one raw buffer
	scratchBytes := in.StreamBytes(int(unsafe.Sizeof(zero))) - chunkBytes
	depth := t.opt.Prefetch
	if depth == 0 {
		depth = defaultPrefetch
	}
	if depth < 0 || in.NumChunks <= 1 {
		depth = 0
	}
	cs := &chunkStream[T]{t: t, conv: conv}
	// A pass reads the file front to back: ask for the larger sequential readahead. Advice only;
	// an error changes nothing.
	_ = unix.Fadvise(int(t.f.Fd()), 0, 0, unix.FADV_SEQUENTIAL)
	if b := t.opt.Budget; b != nil {
		who := fmt.Sprintf("tensor %q reader", in.Name)
		need := int64(depth+1)*chunkBytes + scratchBytes
		if depth > 0 && !b.TryReserve(need) {
			depth = 0
			need = chunkBytes + scratchBytes
		}
		if depth == 0 {
			if err := b.Reserve(who, need); err != nil {
				return nil, err
			}
		}
		cs.reserved = need
	}
	if depth == 0 {
		cs.cur = &slot[T]{buf: make([]T, in.ChunkElems)}
		return cs, nil
	}
	cs.out = make(chan *slot[T], depth)
	cs.free = make(chan *slot[T], depth+1)
	cs.done = make(chan struct{})
	for range depth + 1 {
		cs.free <- &slot[T]{buf: make([]T, in.ChunkElems)}
	}
	cs.wg.Add(1)
	go cs.produce()
	return cs, nil
}

// decode fills s with chunk j.
func (cs *chunkStream[T]) decode(j int, s *slot[T], sc *scratch) {
	raw, err := cs.t.readRaw(j, sc)
	if err == nil {
		err = cs.conv(s.buf, raw)
		if err != nil {
			err = fmt.Errorf("tensor %q chunk %d: %w", cs.t.info.Name, j, err)
		}
	}
	s.n, s.err = cs.t.info.ChunkLen(j), err
	if err != nil {
		s.n = 0
	}
}

func (cs *chunkStream[T]) produce() {
	defer cs.wg.Done()
	defer close(cs.out)
	var sc scratch
	for j := 0; j < cs.t.info.NumChunks; j++ {
		var s *slot[T]
		select {
		case s = <-cs.free:
		case <-cs.done:
			return
		}
		cs.decode(j, s, &sc)
		select {
		case cs.out <- s:
		case <-cs.done:
			return
		}
		if s.err != nil {
			return
		}
	}
}

// Next copies the next decoded elements into buf.
func (cs *chunkStream[T]) Next(buf []T) (int, error) {
	v, err := cs.view(len(buf))
	if err != nil {
		return 0, err
	}
	return copy(buf, v), nil
}

// view returns up to n of the next decoded elements in place, in the current chunk's buffer:
// valid until the next call on the stream.
func (cs *chunkStream[T]) view(n int) ([]T, error) {
	if cs.closed {
		return nil, fmt.Errorf("tensor %q stream: %w", cs.t.info.Name, ErrClosed)
	}
	if cs.err != nil {
		return nil, cs.err
	}
	if cs.cur == nil || cs.pos >= cs.cur.n {
		if err := cs.advance(); err != nil {
			cs.err = err // sticky: a failed stream never resumes as if nothing happened
			return nil, err
		}
	}
	end := min(cs.cur.n, cs.pos+n)
	v := cs.cur.buf[cs.pos:end]
	cs.pos = end
	return v, nil
}

// advance makes the next decoded chunk current.
func (cs *chunkStream[T]) advance() error {
	if cs.out == nil { // synchronous
		if cs.next >= cs.t.info.NumChunks {
			return io.EOF
		}
		cs.decode(cs.next, cs.cur, &cs.sc)
		cs.next++
		cs.pos = 0
		return cs.cur.err
	}
	if cs.cur != nil {
		cs.free <- cs.cur
		cs.cur = nil
	}
	s, ok := <-cs.out
	if !ok {
		return io.EOF
	}
	cs.cur, cs.pos = s, 0
	return s.err
}

// Close stops the prefetch goroutine and returns the stream's budget.
func (cs *chunkStream[T]) Close() error {
	if cs.closed {
		return nil
	}
	cs.closed = true
	if cs.done != nil {
		close(cs.done)
		cs.wg.Wait()
	}
	if cs.reserved > 0 {
		cs.t.opt.Budget.Release(cs.reserved)
	}
	cs.cur = nil
	return nil
}

// rawSource is the unpadded elements as a field.Source.
type rawSource struct{ t *Tensor }

func (r rawSource) Len() int64 { return r.t.info.Len }

func (r rawSource) Open() (field.Stream, error) { return r.t.openElems() }

func (t *Tensor) openElems() (*chunkStream[field.Element], error) {
	dt := t.info.DType
	return openChunkStream(t, func(dst []field.Element, raw []byte) error { return rawToElements(dt, dst, raw) })
}

// RawSource returns the unpadded flat row-major elements as a Source (Len = Info.Len).
func (t *Tensor) RawSource() field.Source { return rawSource{t} }

// Source returns the tensor's MLE order: the padded flat row-major vector, zeros in the
// padding, Len = PaddedLen (a power of two). It is built on the fly from the unpadded chunks.
//
// For an integer tensor the Source is also a field.IntSource: OpenInts streams the same padded
// vector as stored integers, so a sumcheck can run its first rounds in native integer arithmetic
// (the small-value optimisation, DESIGN §7.1) without converting a value to a field element.
func (t *Tensor) Source() field.Source {
	if t.info.DType.IsInt() {
		return paddedIntSource{paddedSource{t}}
	}
	return paddedSource{t}
}

type paddedSource struct{ t *Tensor }

func (p paddedSource) Len() int64 { return p.t.info.PaddedLen }

func (p paddedSource) Open() (field.Stream, error) {
	raw, err := p.t.openElems()
	if err != nil {
		return nil, err
	}
	return newPaddedStream(raw, &p.t.info), nil
}

// StreamBytes is the least a stream of the source holds (Info.StreamBytes): ints for an
// OpenInts stream of an integer tensor, field elements otherwise. Consumers that must plan
// their memory before opening streams ask it.
func (p paddedSource) StreamBytes(ints bool) int64 {
	if ints && p.t.info.DType.IsInt() {
		return p.t.info.StreamBytes(8)
	}
	return p.t.info.StreamBytes(field.Bytes)
}

// paddedIntSource is the Source of an integer tensor.
type paddedIntSource struct{ paddedSource }

// Bits is the width of the tensor's storage dtype.
func (p paddedIntSource) Bits() int { return 8 * p.t.info.DType.Size() }

// OpenInts streams the padded MLE-order vector as stored integers.
func (p paddedIntSource) OpenInts() (field.IntStream, error) {
	dt := p.t.info.DType
	raw, err := openChunkStream(p.t, func(dst []int64, b []byte) error { return rawToInt64s(dt, dst, b) })
	if err != nil {
		return nil, err
	}
	return newPaddedStream(raw, &p.t.info), nil
}

// OpenInt8s streams the padded MLE-order vector of an int8 tensor as bytes (field.Int8Source);
// other dtypes are ErrFormat.
func (p paddedIntSource) OpenInt8s() (field.Int8Stream, error) {
	if dt := p.t.info.DType; dt != Int8 {
		return nil, fmt.Errorf("tensor %q is %v, not int8: %w", p.t.info.Name, dt, ErrFormat)
	}
	raw, err := openChunkStream(p.t, func(dst []int8, b []byte) error {
		copy(dst, bytesAsInt8(b))
		return nil
	})
	if err != nil {
		return nil, err
	}
	return newPaddedStream(raw, &p.t.info), nil
}

func newPaddedStream[T any](raw *chunkStream[T], in *Info) *paddedStream[T] {
	ps := &paddedStream[T]{raw: raw, total: in.PaddedLen, rowReal: true, rowLen: 1, realLen: 1}
	if r := len(in.Shape); r > 0 {
		ps.shape, ps.padded = in.Shape[:r-1], in.PaddedShape[:r-1]
		ps.rowLen, ps.realLen = in.PaddedShape[r-1], in.Shape[r-1]
		ps.outer = make([]int, r-1)
	}
	return ps
}

// paddedStream walks the padded shape row by row (a row = the last dimension): a row whose
// outer coordinates are all in range holds realLen elements from the raw stream then zeros; any
// other row is all zeros.
type paddedStream[T any] struct {
	raw             *chunkStream[T]
	shape, padded   []int // outer dimensions
	outer           []int // current padded outer coordinates
	rowLen, realLen int
	rowReal         bool
	col             int
	emitted, total  int64
}

func (ps *paddedStream[T]) Next(buf []T) (int, error) {
	if ps.emitted >= ps.total {
		return 0, io.EOF
	}
	if rest := ps.total - ps.emitted; int64(len(buf)) > rest {
		buf = buf[:rest]
	}
	filled := 0
	for filled < len(buf) {
		if ps.col == ps.rowLen {
			ps.nextRow()
		}
		want := len(buf) - filled
		if ps.rowReal && ps.col < ps.realLen {
			k := min(want, ps.realLen-ps.col)
			n, err := ps.raw.Next(buf[filled : filled+k])
			if err == io.EOF {
				err = fmt.Errorf("tensor %q: data ended before the shape: %w", ps.raw.t.info.Name, ErrCorrupt)
			}
			if err != nil {
				return filled, err
			}
			filled += n
			ps.col += n
			continue
		}
		k := min(want, ps.rowLen-ps.col)
		clear(buf[filled : filled+k])
		filled += k
		ps.col += k
	}
	ps.emitted += int64(filled)
	return filled, nil
}

func (ps *paddedStream[T]) nextRow() {
	ps.col = 0
	for k := len(ps.outer) - 1; k >= 0; k-- {
		ps.outer[k]++
		if ps.outer[k] < ps.padded[k] {
			break
		}
		ps.outer[k] = 0
	}
	ps.rowReal = true
	for k, c := range ps.outer {
		if c >= ps.shape[k] {
			ps.rowReal = false
			break
		}
	}
}

func (ps *paddedStream[T]) Close() error { return ps.raw.Close() }

// IntReader reads an integer tensor's unpadded elements in order as int64. An int8 tensor is
// decoded as bytes (a chunk buffer 8× smaller) and widened as Next copies it out, or handed out
// as int8 by Next8: the int8 weight passes of the linear kernel read a weight 8× narrower than
// an int64 and skip the widening.
type IntReader struct {
	cs  *chunkStream[int64]
	cs8 *chunkStream[int8] // int8 tensors
}

// Ints opens a sequential int64 reader of an integer tensor's unpadded data.
func (t *Tensor) Ints() (*IntReader, error) {
	dt := t.info.DType
	if !dt.IsInt() {
		return nil, fmt.Errorf("tensor %q is %v, not an integer tensor: %w", t.info.Name, dt, ErrFormat)
	}
	if dt == Int8 {
		cs, err := openChunkStream(t, func(dst []int8, raw []byte) error {
			copy(dst, bytesAsInt8(raw))
			return nil
		})
		if err != nil {
			return nil, err
		}
		return &IntReader{cs8: cs}, nil
	}
	cs, err := openChunkStream(t, func(dst []int64, raw []byte) error { return rawToInt64s(dt, dst, raw) })
	if err != nil {
		return nil, err
	}
	return &IntReader{cs: cs}, nil
}

// Next fills buf with up to len(buf) of the next values; (0, io.EOF) at the end.
func (r *IntReader) Next(buf []int64) (int, error) {
	if r.cs != nil {
		return r.cs.Next(buf)
	}
	v, err := r.cs8.view(len(buf))
	if err != nil {
		return 0, err
	}
	buf = buf[:len(v)]
	for i, x := range v {
		buf[i] = int64(x)
	}
	return len(v), nil
}

// Int8 reports whether the tensor is int8, which Next8 needs.
func (r *IntReader) Int8() bool { return r.cs8 != nil }

// Next8 fills buf with up to len(buf) of the next values of an int8 tensor; (0, io.EOF) at the
// end. It fails with ErrFormat on other dtypes. Next and Next8 read the same stream.
func (r *IntReader) Next8(buf []int8) (int, error) {
	if r.cs8 == nil {
		return 0, fmt.Errorf("tensor %q is %v, not int8: %w", r.cs.t.info.Name, r.cs.t.info.DType, ErrFormat)
	}
	return r.cs8.Next(buf)
}

// Close stops the reader's prefetching and returns its budget.
func (r *IntReader) Close() error {
	if r.cs != nil {
		return r.cs.Close()
	}
	return r.cs8.Close()
}
