package scheduler

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/streamprove/streamprove/gkr"
	"github.com/streamprove/streamprove/pcs"
	"github.com/streamprove/streamprove/sumcheck"
)

// TestRejectionSentinels: whichever layer rejects a tampered proof, the error is gkr.ErrBadProof
// (= ErrRejected) and still carries the rejecting layer's own sentinel.
func TestRejectionSentinels(t *testing.T) {
	store, proof := setup(t, 5)
	data, err := os.ReadFile(proof)
	if err != nil {
		t.Fatal(err)
	}
	var sc, op bool
	for i := 200; i < len(data) && !(sc && op); i += 97 {
		bad := append([]byte(nil), data...)
		bad[i] ^= 0x01
		p := filepath.Join(t.TempDir(), "bad")
		if err := os.WriteFile(p, bad, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Verify(store, p, "")
		if !errors.Is(err, ErrRejected) || !errors.Is(err, gkr.ErrBadProof) {
			t.Fatalf("byte %d flipped: %v, want gkr.ErrBadProof", i, err)
		}
		sc = sc || errors.Is(err, sumcheck.ErrBadProof)
		op = op || errors.Is(err, pcs.ErrBadProof)
	}
	if !sc || !op {
		t.Fatalf("no flip reached the sumcheck (%v) or the opening (%v) sentinel through the engine's error", sc, op)
	}
}
