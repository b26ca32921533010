package spill

import (
	"io"
	"sync"

	"github.com/streamprove/streamprove/field"
)

var ioEOF = io.EOF

// Pool hands out chunk buffers of a fixed length whose bytes are reserved from a budget: the
// reservation is taken when a buffer is first made and given back by Close, so the number of
// live buffers is bounded by the budget, not by the caller's good behaviour.
type Pool struct {
	budget   *Budget
	who      string
	chunkLen int
	mu       sync.Mutex
	free     [][]field.Element
	made     int
}

// NewPool returns a pool of buffers of chunkLen elements drawing on b for who.
func NewPool(b *Budget, who string, chunkLen int) *Pool {
	return &Pool{budget: b, who: who, chunkLen: chunkLen}
}

// ChunkLen returns the length of the pool's buffers.
func (p *Pool) ChunkLen() int { return p.chunkLen }

// Get returns a free buffer, making one if its bytes can be reserved; otherwise ErrBudget.
func (p *Pool) Get() ([]field.Element, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n := len(p.free); n > 0 {
		buf := p.free[n-1]
		p.free = p.free[:n-1]
		return buf, nil
	}
	if p.budget != nil {
		if err := p.budget.Reserve(p.who, int64(p.chunkLen)*elemBytes); err != nil {
			return nil, err
		}
	}
	p.made++
	return make([]field.Element, p.chunkLen), nil
}

// Put gives a buffer back for reuse.
func (p *Pool) Put(buf []field.Element) {
	if cap(buf) < p.chunkLen {
		return
	}
	p.mu.Lock()
	p.free = append(p.free, buf[:p.chunkLen])
	p.mu.Unlock()
}

// Close drops the pool's buffers and returns their reservations.
func (p *Pool) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.budget != nil {
		p.budget.Release(int64(p.made) * int64(p.chunkLen) * elemBytes)
	}
	p.free, p.made = nil, 0
}
