package kernels

import (
	"bytes"
	"testing"

	"github.com/streamprove/streamprove/gkr"
)

// FuzzVerifyProof feeds mutated proofs to the verifier: it must never panic, and the only
// proof it accepts for this statement is the honest one (the proof is deterministic).
func FuzzVerifyProof(f *testing.F) {
	m := chainModel(f, 2, 6, 5, 3)
	pub := m.public()
	honest := m.prove(pub, 0)
	f.Add(honest)
	f.Add(honest[:len(honest)/2])
	f.Add([]byte("SPRF"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, proof []byte) {
		_, err := gkr.Verify(m.graph, pub, proof)
		if err == nil && !bytes.Equal(proof, honest) {
			t.Fatalf("a proof other than the honest one verified (%d bytes)", len(proof))
		}
	})
}

// FuzzCheckpoint decodes arbitrary checkpoints: errors, never panics or huge allocations.
func FuzzCheckpoint(f *testing.F) {
	cp := &gkr.Checkpoint{Next: 2, ProofLen: 80, Proof: make([]byte, 80), Claims: map[string][]gkr.Claim{"x": {{Tensor: "x"}}}}
	b, _ := cp.MarshalBinary()
	f.Add(b)
	f.Add([]byte("SPCK"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var c gkr.Checkpoint
		if c.UnmarshalBinary(data) == nil {
			again, _ := c.MarshalBinary()
			if !bytes.Equal(again, data) {
				t.Fatalf("checkpoint does not re-encode to its bytes")
			}
		}
	})
}
