package field

import (
	"crypto/sha256"
	"encoding/binary"
	"hash"
)

// Transcript is the Fiat–Shamir transcript: a running SHA-256 state that absorbs labelled
// messages and squeezes challenges. Every absorb and squeeze is length-prefixed and labelled, so
// two different message sequences never hash alike. Prover and verifier must call it in the same
// order; each protocol writes that order once, in a function both sides use.
type Transcript struct {
	state [32]byte
	h     hash.Hash
}

// NewTranscript starts a transcript for the given protocol domain (e.g. "streamprove/v1").
func NewTranscript(domain string) *Transcript {
	t := &Transcript{h: sha256.New()}
	t.absorb('D', domain, nil)
	return t
}

func (t *Transcript) absorb(kind byte, label string, data []byte) {
	t.h.Reset()
	t.h.Write(t.state[:])
	var hdr [9]byte
	hdr[0] = kind
	binary.BigEndian.PutUint64(hdr[1:], uint64(len(label)))
	t.h.Write(hdr[:])
	t.h.Write([]byte(label))
	binary.BigEndian.PutUint64(hdr[1:], uint64(len(data)))
	t.h.Write(hdr[1:])
	t.h.Write(data)
	t.h.Sum(t.state[:0])
}

// AppendBytes absorbs a labelled byte string.
func (t *Transcript) AppendBytes(label string, b []byte) { t.absorb('B', label, b) }

// AppendUint64 absorbs a labelled integer (sizes, counts, shapes).
func (t *Transcript) AppendUint64(label string, v uint64) {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], v)
	t.absorb('U', label, b[:])
}

// AppendElements absorbs labelled field elements in canonical big-endian form.
func (t *Transcript) AppendElements(label string, es ...Element) {
	buf := make([]byte, len(es)*Bytes)
	for i := range es {
		PutBE(buf[i*Bytes:], &es[i])
	}
	t.absorb('E', label, buf)
}

// Challenge squeezes one field element. The 64 bytes behind it are reduced modulo p, so its
// distance from uniform is about 2^-258.
func (t *Transcript) Challenge(label string) Element {
	t.absorb('C', label, nil)
	var wide [64]byte
	h := sha256.Sum256(append(t.state[:], 0))
	copy(wide[:32], h[:])
	h = sha256.Sum256(append(t.state[:], 1))
	copy(wide[32:], h[:])
	var e Element
	e.SetBytes(wide[:])
	return e
}

// Challenges squeezes n field elements.
func (t *Transcript) Challenges(label string, n int) []Element {
	out := make([]Element, n)
	for i := range out {
		out[i] = t.Challenge(label)
	}
	return out
}

// State returns the current 32-byte state (a digest of everything absorbed so far).
func (t *Transcript) State() [32]byte { return t.state }

// RestoreTranscript returns a transcript whose state is one earlier returned by State: a prover
// that resumes after a crash continues the same Fiat–Shamir sequence from a checkpoint.
func RestoreTranscript(state [32]byte) *Transcript {
	return &Transcript{state: state, h: sha256.New()}
}
