package gkr

import (
	"fmt"
	"os"

	"github.com/streamprove/streamprove/field"
	"github.com/streamprove/streamprove/spill"
)

// Channel couples the proof bytes with the transcript: a prover's Send appends elements and
// absorbs them; a verifier's Recv reads the same elements and absorbs them. Neither side can
// forget to absorb a message, and a proof that is short fails with ErrBadProof, never a panic.
type Channel struct {
	tr  *field.Transcript
	buf []byte
	off int

	// file, when set (the prover's Options.ProofFile), receives the proof as it grows: buf then
	// holds only the bytes not yet written, and flushed counts those already in the file, so a
	// proof carrying large public outputs never sits whole in RAM.
	file    *os.File
	flushed int64

	// On the prover's side the proof grows in RAM (public outputs can make it large): its
	// capacity is charged to budget as it grows, and the first reservation that fails is kept
	// in err and reported at the next check.
	budget   *spill.Budget
	reserved int64
	err      error
}

// Send appends elements (canonical 32-byte big-endian) and absorbs them under label.
func (c *Channel) Send(label string, es ...field.Element) {
	for i := range es {
		var b [field.Bytes]byte
		field.PutBE(b[:], &es[i])
		c.buf = append(c.buf, b[:]...)
	}
	c.tr.AppendElements(label, es...)
	c.charge()
	c.spill()
}

// put appends raw proof bytes (encodings the transcript absorbs by digest, or not at all). A
// file-backed channel writes a large encoding (an opening) straight to the file, not through
// its buffer.
func (c *Channel) put(b []byte) {
	if c.file != nil && len(b) >= flushAt {
		c.flush()
		if c.err != nil {
			return
		}
		if _, err := c.file.WriteAt(b, c.flushed); err != nil {
			c.err = fmt.Errorf("write proof: %w", err)
			return
		}
		c.flushed += int64(len(b))
		return
	}
	c.buf = append(c.buf, b...)
	c.charge()
	c.spill()
}

// flushAt is how many pending proof bytes a file-backed channel holds before it writes them.
const flushAt = 1 << 20

func (c *Channel) spill() {
	if c.file != nil && len(c.buf) >= flushAt {
		c.flush()
	}
}

// flush writes the pending bytes to the proof file; the first failure is kept in err.
func (c *Channel) flush() {
	if c.file == nil || c.err != nil || len(c.buf) == 0 {
		return
	}
	if _, err := c.file.WriteAt(c.buf, c.flushed); err != nil {
		c.err = fmt.Errorf("write proof: %w", err)
		return
	}
	c.flushed += int64(len(c.buf))
	c.buf = c.buf[:0]
}

// charge reserves the proof buffer's growth from the budget.
func (c *Channel) charge() {
	if c.budget == nil || c.err != nil {
		return
	}
	if n := int64(cap(c.buf)); n > c.reserved {
		if err := c.budget.Reserve("proof (public outputs and messages)", n-c.reserved); err != nil {
			c.err = err
			return
		}
		c.reserved = n
	}
}

// release gives the proof buffer's reservation back (the caller owns the bytes from now on).
func (c *Channel) release() {
	if c.budget != nil {
		c.budget.Release(c.reserved)
		c.reserved = 0
	}
}

// Recv reads n elements and absorbs them under label.
func (c *Channel) Recv(label string, n int) ([]field.Element, error) {
	if n < 0 || (len(c.buf)-c.off)/field.Bytes < n {
		return nil, fmt.Errorf("%w: proof ends before %s (%d elements)", ErrBadProof, label, n)
	}
	es := make([]field.Element, n)
	for i := range es {
		e, err := field.FromBE(c.buf[c.off : c.off+field.Bytes])
		if err != nil {
			return nil, fmt.Errorf("%w: %s element %d: %w", ErrBadProof, label, i, err)
		}
		es[i] = e
		c.off += field.Bytes
	}
	c.tr.AppendElements(label, es...)
	return es, nil
}

func wrapBad(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%w: %w", ErrBadProof, err)
}
