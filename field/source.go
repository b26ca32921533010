package field

import (
	"errors"
	"fmt"
	"io"
)

// Stream yields field elements in index order. Next fills buf with up to len(buf) of the next
// elements and returns how many it wrote; it returns (0, io.EOF) once the stream is exhausted.
// A stream that returns n < len(buf) without error is not finished: call Next again.
// This is the one chunked-stream shape of streamprove (STYLE §4).
type Stream interface {
	Next(buf []Element) (int, error)
	Close() error
}

// Source is a vector of field elements that can be streamed any number of times, each pass
// from the start. Len is the number of elements a full pass yields (for the MLE of a tensor: the
// padded length, a power of two).
type Source interface {
	Len() int64
	Open() (Stream, error)
}

// SliceSource is a Source over a vector in RAM.
type SliceSource []Element

// Len returns the vector's length.
func (s SliceSource) Len() int64 { return int64(len(s)) }

// Open starts a pass over the vector.
func (s SliceSource) Open() (Stream, error) { return &sliceStream{s: s}, nil }

type sliceStream struct {
	s   []Element
	pos int
}

func (st *sliceStream) Next(buf []Element) (int, error) {
	if st.pos >= len(st.s) {
		return 0, io.EOF
	}
	n := copy(buf, st.s[st.pos:])
	st.pos += n
	return n, nil
}

func (st *sliceStream) Close() error { return nil }

// ReadFull fills buf from st, returning io.ErrUnexpectedEOF if the stream ends part way and
// io.EOF if it ends before the first element.
func ReadFull(st Stream, buf []Element) error {
	got := 0
	for got < len(buf) {
		n, err := st.Next(buf[got:])
		got += n
		if err == io.EOF {
			if got == 0 {
				return io.EOF
			}
			if got < len(buf) {
				return io.ErrUnexpectedEOF
			}
			return nil
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// ForEachChunk streams src in chunks of len(buf) elements (the last may be shorter only if
// src.Len() is not a multiple) and calls fn with the chunk index and its elements. buf is the
// caller's: fn must not keep it.
func ForEachChunk(src Source, buf []Element, fn func(j int64, chunk []Element) error) (err error) {
	if len(buf) == 0 {
		return errors.New("field: ForEachChunk with an empty buffer")
	}
	st, err := src.Open()
	if err != nil {
		return err
	}
	defer func() {
		if cerr := st.Close(); err == nil {
			err = cerr
		}
	}()
	total := src.Len()
	var done int64
	for j := int64(0); done < total; j++ {
		want := int64(len(buf))
		if total-done < want {
			want = total - done
		}
		if err := ReadFull(st, buf[:want]); err != nil {
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				return fmt.Errorf("field: stream ended at element %d of %d: %w", done, total, io.ErrUnexpectedEOF)
			}
			return err
		}
		if err := fn(j, buf[:want]); err != nil {
			return err
		}
		done += want
	}
	return nil
}
