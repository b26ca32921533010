package gkr

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sort"

	"github.com/streamprove/streamprove/field"
)

// Checkpoint is the prover's state between two kernels: enough to continue a proof after a
// crash without redoing the kernels already proven. It holds the transcript state, the length
// of the proof so far (which begins with the header binding graph and commitments) — and, when
// the proof is kept in RAM rather than in Options.ProofFile, its bytes — and the open claims. It
// is small: O(log) per claim (plus the proof so far when that is in RAM).
type Checkpoint struct {
	// Next is the index of the next kernel to prove (kernels run from len−1 down to 0).
	Next  int
	State [32]byte
	// ProofLen is the length of the proof so far; Proof holds its bytes when the proof is not
	// written to a file (nil otherwise: the file's first ProofLen bytes are the proof so far).
	ProofLen int64
	Proof    []byte
	Claims   map[string][]Claim
}

var errCheckpoint = errors.New("bad checkpoint")

// checkpointMagic names the checkpoint encoding (2: with the proof's length, for proofs kept in
// a file).
const checkpointMagic = "SPC2"

// MarshalBinary encodes the checkpoint.
func (cp *Checkpoint) MarshalBinary() ([]byte, error) {
	b := []byte(checkpointMagic)
	b = binary.BigEndian.AppendUint64(b, uint64(cp.Next))
	b = append(b, cp.State[:]...)
	b = binary.BigEndian.AppendUint64(b, uint64(cp.ProofLen))
	b = binary.BigEndian.AppendUint64(b, uint64(len(cp.Proof)))
	b = append(b, cp.Proof...)
	names := make([]string, 0, len(cp.Claims))
	for n := range cp.Claims {
		names = append(names, n)
	}
	sort.Strings(names)
	b = binary.BigEndian.AppendUint64(b, uint64(len(names)))
	for _, n := range names {
		b = binary.BigEndian.AppendUint64(b, uint64(len(n)))
		b = append(b, n...)
		cs := cp.Claims[n]
		b = binary.BigEndian.AppendUint64(b, uint64(len(cs)))
		for _, c := range cs {
			b = binary.BigEndian.AppendUint64(b, uint64(len(c.Point)))
			for i := range c.Point {
				e := c.Point[i].Bytes()
				b = append(b, e[:]...)
			}
			e := c.Value.Bytes()
			b = append(b, e[:]...)
		}
	}
	return b, nil
}

// UnmarshalBinary decodes a checkpoint, checking every length against the data.
func (cp *Checkpoint) UnmarshalBinary(data []byte) error {
	r := reader{b: data}
	if string(r.bytes(4)) != checkpointMagic {
		return fmt.Errorf("%w: magic", errCheckpoint)
	}
	cp.Next = int(r.u64())
	copy(cp.State[:], r.bytes(32))
	cp.ProofLen = int64(r.u64())
	if n := r.len(1); n > 0 {
		cp.Proof = append([]byte(nil), r.bytes(int(n))...)
	}
	if r.err == nil && (cp.ProofLen < headerLen || cp.Proof != nil && int64(len(cp.Proof)) != cp.ProofLen) {
		return fmt.Errorf("%w: proof length %d with %d bytes", errCheckpoint, cp.ProofLen, len(cp.Proof))
	}
	cp.Claims = map[string][]Claim{}
	for range r.len(16) {
		name := string(r.bytes(int(r.len(1))))
		n := r.len(40)
		cs := make([]Claim, 0, n)
		for range n {
			k := r.len(32)
			c := Claim{Tensor: name, Point: make([]field.Element, k)}
			for i := range c.Point {
				c.Point[i] = r.elem()
			}
			c.Value = r.elem()
			cs = append(cs, c)
		}
		cp.Claims[name] = cs
	}
	if r.err != nil || len(r.b) != 0 {
		return fmt.Errorf("%w: truncated or trailing data", errCheckpoint)
	}
	return nil
}

// reader decodes big-endian fields, remembering the first error instead of panicking.
type reader struct {
	b   []byte
	err error
}

func (r *reader) bytes(n int) []byte {
	if r.err != nil || n < 0 || n > len(r.b) {
		r.err = errCheckpoint
		return nil
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}

func (r *reader) u64() uint64 {
	b := r.bytes(8)
	if b == nil {
		return 0
	}
	return binary.BigEndian.Uint64(b)
}

// len reads a count of items of at least minSize bytes each and refuses counts the remaining
// data cannot hold.
func (r *reader) len(minSize int) uint64 {
	n := r.u64()
	if r.err == nil && n > uint64(len(r.b)/minSize) {
		r.err = errCheckpoint
		return 0
	}
	return n
}

func (r *reader) elem() field.Element {
	e, err := field.FromBE(r.bytes(field.Bytes))
	if err != nil && r.err == nil {
		r.err = errCheckpoint
	}
	return e
}
