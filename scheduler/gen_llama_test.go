package scheduler

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/streamprove/streamprove/spill"
	"github.com/streamprove/streamprove/tensorstore"
)

// storeInts reads a whole (small) tensor of s as integers.
func storeInts(t *testing.T, s *tensorstore.Store, name string) []int64 {
	t.Helper()
	tn, err := s.Tensor(name)
	if err != nil {
		t.Fatal(err)
	}
	defer tn.Close()
	r, err := tn.Ints()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var out []int64
	buf := make([]int64, 64)
	for {
		n, err := r.Next(buf)
		out = append(out, buf[:n]...)
		if err != nil {
			break
		}
	}
	return out
}

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
	if err != nil || !rep.Verified || len(rep.Outputs["logits"].Values) != 4*20 {
		t.Fatalf("honest proof: %v %+v", err, rep)
	}
	// rotate_half is proven on the activation: the stored q and its rotation agree.
	st, err := tensorstore.Open(store)
	if err != nil {
		t.Fatal(err)
	}
	q, qr := storeInts(t, st, "l0.wq.q"), storeInts(t, st, "l0.wq.rh.flat")
	st.Close()
	const T, D, dh = 4, 16, 8
	if len(q) != T*D || len(qr) != T*D {
		t.Fatalf("q has %d elements, its rotation %d, want %d", len(q), len(qr), T*D)
	}
	nonzero := 0
	for i := range q {
		var want int64
		if i%dh < dh/2 {
			want = -q[i+dh/2]
		} else {
			want = q[i-dh/2]
		}
		if qr[i] != want {
			t.Fatalf("rotate_half(q)[%d] = %d, want %d", i, qr[i], want)
		}
		if want != 0 {
			nonzero++
		}
	}
	if nonzero == 0 {
		t.Fatal("q is all zero: the rotation check is vacuous")
	}
	data, _ := os.ReadFile(proof)
	data[len(data)/3] ^= 0x04
	bad := filepath.Join(dir, "bad.bin")
	os.WriteFile(bad, data, 0o644)
	if _, err := Verify(store, bad, ""); !errors.Is(err, ErrRejected) {
		t.Fatalf("flipped byte: %v, want ErrRejected", err)
	}
}

// TestGenLlamaBudget is issue 15's small LLaMA (2 blocks, dim 256, 4 heads, FFN 688, vocab 512,
// 16 tokens): committed and proven in child processes under a 64 MiB budget, their real peak RSS
// (VmHWM) within it; the proof verifies and a flipped byte is rejected.
func TestGenLlamaBudget(t *testing.T) {
	if testing.Short() {
		t.Skip("a 270 MiB witness proven in a child; run without -short")
	}
	const budget = 64 << 20
	store := filepath.Join(t.TempDir(), "store")
	if _, err := GenLlama(store, LlamaSpec{Layers: 2, Dim: 256, Heads: 4, FFN: 688, Vocab: 512, Seq: 16, Seed: 15}); err != nil {
		t.Fatal(err)
	}
	b := "CHILD_BUDGET=" + strconv.Itoa(budget)
	crep, err := runChild(t, "STREAMPROVE_CHILD=commit", "CHILD_STORE="+store, b)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "proof.bin")
	rep, err := runChild(t, "STREAMPROVE_CHILD=prove", "CHILD_STORE="+store, "CHILD_OUT="+out, b)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("commit peak RSS %s, prove peak RSS %s (budget %s), witness %s, proof %s", spill.FormatBytes(crep.PeakRSSBytes),
		spill.FormatBytes(rep.PeakRSSBytes), spill.FormatBytes(budget), spill.FormatBytes(rep.WitnessBytes), spill.FormatBytes(rep.ProofBytes))
	if crep.PeakRSSBytes <= 0 || crep.PeakRSSBytes > budget || rep.PeakRSSBytes <= 0 || rep.PeakRSSBytes > budget {
		t.Fatalf("peak RSS: commit %d, prove %d bytes, budget %d", crep.PeakRSSBytes, rep.PeakRSSBytes, budget)
	}
	vr, err := Verify(store, out, "")
	if err != nil || !vr.Verified || len(vr.Outputs["logits"].Values) != 16*512 {
		t.Fatalf("honest proof: %v %+v", err, vr.Outputs["logits"])
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 0x01
	bad := filepath.Join(t.TempDir(), "bad.bin")
	os.WriteFile(bad, data, 0o644)
	if _, err := Verify(store, bad, ""); !errors.Is(err, ErrRejected) {
		t.Fatalf("flipped byte: %v, want ErrRejected", err)
	}
}
