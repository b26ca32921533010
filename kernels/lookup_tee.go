package kernels

import (
	"io"
	"sync"

	"github.com/streamprove/streamprove/field"
)

// The last witness layer's sumcheck reads every looked-up tensor as two sources, its even and
// its odd positions. Read independently, each half costs a full pass over the tensor (and an
// open store stream with its prefetch buffers). A teePair serves both halves from one pass when
// they are read in step, as the sumcheck does (it opens all sources, then reads a chunk of each
// in turn): the half that runs ahead reads pairs from the shared stream and queues the other
// half's values for its partner. The queue is bounded: a partner that falls more than teeCap
// elements behind gets a stream of its own, so no access pattern can make the tee grow.
type teePair struct {
	src     field.Source
	mu      sync.Mutex
	waiting *teeState // opened by one half, not yet joined by the other
}

// teeCap bounds a half's queue (elements).
const teeCap = 1 << 15

func newTeePair(src field.Source) *teePair { return &teePair{src: src} }

// halves returns the even and odd sources.
func (p *teePair) halves() (field.Source, field.Source) {
	return teeSource{p: p, odd: false}, teeSource{p: p, odd: true}
}

type teeSource struct {
	p   *teePair
	odd bool
}

func (s teeSource) Len() int64 { return s.p.src.Len() / 2 }

// teeState is one shared pass.
type teeState struct {
	mu     sync.Mutex
	st     field.Stream // the shared stream
	refs   int
	joined [2]bool
	queue  [2][]field.Element // values read for a half but not yet consumed by it
	own    [2]*halfStream
	pos    [2]int64 // elements of each half consumed
	buf    []field.Element
	src    field.Source
	n      int64 // elements per half
}

func (s teeSource) Open() (field.Stream, error) {
	p := s.p
	h := 0
	if s.odd {
		h = 1
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if w := p.waiting; w != nil {
		w.mu.Lock()
		// Join a pass the other half opened, if it has not started reading.
		if !w.joined[h] && w.pos[0] == 0 && w.pos[1] == 0 && len(w.queue[0]) == 0 && len(w.queue[1]) == 0 {
			w.joined[h] = true
			w.refs++
			w.mu.Unlock()
			p.waiting = nil
			return &teeStream{s: w, h: h}, nil
		}
		w.mu.Unlock()
	}
	st, err := p.src.Open()
	if err != nil {
		return nil, err
	}
	w := &teeState{st: st, refs: 1, src: p.src, n: p.src.Len() / 2}
	w.joined[h] = true
	p.waiting = w
	return &teeStream{s: w, h: h}, nil
}

type teeStream struct {
	s      *teeState
	h      int
	closed bool
}

func (t *teeStream) Next(out []field.Element) (int, error) {
	s := t.s
	s.mu.Lock()
	defer s.mu.Unlock()
	h := t.h
	if s.own[h] != nil {
		n, err := s.own[h].Next(out)
		s.pos[h] += int64(n)
		return n, err
	}
	if s.pos[h] >= s.n {
		return 0, io.EOF
	}
	if q := s.queue[h]; len(q) > 0 {
		n := copy(out, q)
		s.queue[h] = q[n:]
		if len(s.queue[h]) == 0 {
			s.queue[h] = q[:0]
		}
		s.pos[h] += int64(n)
		return n, nil
	}
	// Read pairs from the shared stream; queue the partner's half if it still shares.
	k := int(min(int64(len(out)), int64(halfBlock), s.n-s.pos[h]))
	if s.buf == nil {
		s.buf = make([]field.Element, 2*halfBlock)
	}
	if err := field.ReadFull(s.st, s.buf[:2*k]); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return 0, err
	}
	o := 1 - h
	share := s.joined[o] && s.own[o] == nil
	if share && len(s.queue[o])+k > teeCap {
		// The partner lags too far: give it its own stream, positioned where it is.
		hs, err := s.detach(o)
		if err != nil {
			return 0, err
		}
		s.own[o] = hs
		s.queue[o] = nil
		share = false
	}
	for i := 0; i < k; i++ {
		out[i] = s.buf[2*i+h]
		if share {
			s.queue[o] = append(s.queue[o], s.buf[2*i+o])
		}
	}
	s.pos[h] += int64(k)
	return k, nil
}

// detach opens a stream of half o positioned after what o consumed plus what is queued for it.
func (s *teeState) detach(o int) (*halfStream, error) {
	st, err := s.src.Open()
	if err != nil {
		return nil, err
	}
	hs := &halfStream{st: st, odd: o == 1, left: s.n}
	skip := make([]field.Element, halfBlock)
	for left := s.pos[o]; left > 0; {
		k := int(min(left, halfBlock))
		n, err := hs.Next(skip[:k])
		if err != nil {
			st.Close()
			return nil, err
		}
		left -= int64(n)
	}
	// the queued values are re-read by the own stream
	return hs, nil
}

func (t *teeStream) Close() error {
	s := t.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if t.closed {
		return nil
	}
	t.closed = true
	var err error
	if own := s.own[t.h]; own != nil {
		err = own.Close()
		s.own[t.h] = nil
	}
	s.queue[t.h] = nil
	s.refs--
	if s.refs == 0 {
		if cerr := s.st.Close(); err == nil {
			err = cerr
		}
	}
	// a closed half no longer needs its values
	s.joined[t.h] = false
	return err
}
