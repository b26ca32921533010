package scheduler

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// A tiny LLaMA-shaped model proves and verifies; a flipped proof byte is rejected.
func TestGenLlamaTiny(t *testing.T) {
	dir := t.TempDir()
	store := filepath.Join(dir, "store")
	m, err := GenLlama(store, LlamaSpec{Layers: 1, Dim: 16, Heads: 2, FFN: 24, Vocab: 20, Seq: 4, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	if s := m.Graph.Tensors["l0.scores"].Shape; len(s) != 3 || s[0] != 2 || s[1] != 4 || s[2] != 4 {
		t.Fatalf("scores shape %v, want [2 4 4]", s)
	}
	if _, err := Commit(store, Config{}); err != nil {
		t.Fatal(err)
	}
	proof := filepath.Join(dir, "proof.bin")
	if _, err := Prove(store, proof, Config{MemBudget: 256 << 20}); err != nil {
		t.Fatal(err)
	}
	rep, err := Verify(store, proof, "")
	if err != nil || !rep.Verified || len(rep.Outputs["logits"]) != 4*20 {
		t.Fatalf("honest proof: %v %+v", err, rep)
	}
	data, _ := os.ReadFile(proof)
	data[len(data)/3] ^= 0x04
	bad := filepath.Join(dir, "bad.bin")
	os.WriteFile(bad, data, 0o644)
	if _, err := Verify(store, bad, ""); !errors.Is(err, ErrRejected) {
		t.Fatalf("flipped byte: %v, want ErrRejected", err)
	}
}
