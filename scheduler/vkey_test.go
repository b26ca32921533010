package scheduler

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/streamprove/streamprove/tensorstore"
)

const mlpGraph = "../testdata/mlp/graph.json"

// committedMLP imports, commits and proves the testdata mlp model (x: [3,12] int8).
func committedMLP(t *testing.T) (store, proof string) {
	t.Helper()
	dir := t.TempDir()
	store, proof = filepath.Join(dir, "store"), filepath.Join(dir, "proof")
	if _, err := Import(store, mlpGraph, tensorstore.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := Commit(store, Config{}); err != nil {
		t.Fatal(err)
	}
	if _, err := Prove(store, proof, Config{MemBudget: 64 << 20}); err != nil {
		t.Fatal(err)
	}
	return store, proof
}

// An exported verifier key is all a verifier needs: in a fresh directory, with the proof and
// the public input, it verifies; a damaged key is refused; another model's key rejects.
func TestVerifierKey(t *testing.T) {
	store, proof := committedMLP(t)
	fresh := t.TempDir()
	vkey := filepath.Join(fresh, "model.vkey")
	info, err := ExportVerifier(store, vkey)
	if err != nil {
		t.Fatal(err)
	}
	if info.Weights != 3 || len(info.Fingerprint) != 64 || info.Bytes > 64<<10 {
		t.Fatalf("export: %+v", info)
	}
	// The key must not depend on the store: move the store away while verifying.
	moved := store + ".away"
	if err := os.Rename(store, moved); err != nil {
		t.Fatal(err)
	}
	input := "../testdata/mlp/input.safetensors"
	vr, err := VerifyKey(vkey, proof, input)
	if err != nil || !vr.Verified {
		t.Fatalf("verify --vkey: %v", err)
	}
	// The same outputs as verify --store.
	os.Rename(moved, store)
	vs, err := Verify(store, proof, "")
	if err != nil || strings.Join(vs.Outputs["y"].Values, ",") != strings.Join(vr.Outputs["y"].Values, ",") {
		t.Fatalf("verify --store: %v, outputs %v vs %v", err, vs.Outputs, vr.Outputs)
	}
	// .npy input for a model with one public input.
	if vr, err := VerifyKey(vkey, proof, "../testdata/mlp/x.npy"); err != nil || !vr.Verified {
		t.Fatalf("verify --vkey --input x.npy: %v", err)
	}
	if _, err := VerifyKey(vkey, proof, ""); err == nil || !strings.Contains(err.Error(), "--input") {
		t.Fatalf("verify --vkey without input: %v", err)
	}

	// Damaged keys: a flipped byte anywhere, a truncation, an extension, another file.
	data, err := os.ReadFile(vkey)
	if err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(fresh, "bad.vkey")
	for _, i := range []int{0, 9, 20, 80, len(data) / 2, len(data) - 40, len(data) - 1} {
		b := append([]byte(nil), data...)
		b[i] ^= 0x01
		os.WriteFile(bad, b, 0o644)
		if _, err := VerifyKey(bad, proof, input); !errors.Is(err, ErrVKey) {
			t.Fatalf("byte %d flipped: %v, want ErrVKey", i, err)
		}
	}
	for _, b := range [][]byte{data[:len(data)-1], data[:len(data)/2], data[:10], append(append([]byte(nil), data...), 0)} {
		os.WriteFile(bad, b, 0o644)
		_, err := VerifyKey(bad, proof, input)
		if !errors.Is(err, ErrVKey) || !strings.Contains(err.Error(), "verifier key") {
			t.Fatalf("%d-byte key: %v, want ErrVKey", len(b), err)
		}
	}
	if _, err := VerifyKey(proof, proof, input); !errors.Is(err, ErrVKey) || !strings.Contains(err.Error(), "not a streamprove verifier key") {
		t.Fatalf("a proof as a key: %v", err)
	}

	// A well-formed key whose embedded commitment file was edited (checksums recomputed): the
	// change reaches the verifier, which refuses the key or rejects the proof.
	k, err := decodeVKey(data)
	if err != nil {
		t.Fatal(err)
	}
	for _, back := range []int{5, 40, 100} {
		commit := append([]byte(nil), k.commit...)
		body := commit[:len(commit)-4]
		body[len(body)-back] ^= 1
		binary.BigEndian.PutUint32(commit[len(commit)-4:], crc32.Checksum(body, crc32.MakeTable(crc32.Castagnoli)))
		edited := &verifierKey{model: k.model, cf: k.cf, graph: k.graph, commit: commit}
		enc, err := edited.encode()
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(bad, enc, 0o644)
		_, err = VerifyKey(bad, proof, input)
		if !errors.Is(err, ErrVKey) && !errors.Is(err, ErrRejected) {
			t.Fatalf("commitment file byte -%d edited: %v, want a refusal", back, err)
		}
	}

	// Another model (same graph, other weights): its key rejects the proof.
	dir := t.TempDir()
	g := writeModel(t, dir, mlpLikeGraph, 9, map[string][]int{"x": {3, 12}, "fc1.w": {16, 12}, "fc1.b": {16}, "fc2.w": {10, 16}})
	st2 := filepath.Join(dir, "store")
	if _, err := Import(st2, g, tensorstore.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := Commit(st2, Config{}); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(dir, "other.vkey")
	if _, err := ExportVerifier(st2, other); err != nil {
		t.Fatal(err)
	}
	if _, err := VerifyKey(other, proof, input); !errors.Is(err, ErrRejected) {
		t.Fatalf("another model's key: %v, want ErrRejected", err)
	}
}

// mlpLikeGraph is the testdata mlp graph with the sources writeModel writes.
var mlpLikeGraph = func() string {
	data, err := os.ReadFile(mlpGraph)
	if err != nil {
		panic(err)
	}
	return string(data)
}()

// FuzzDecodeVKey feeds arbitrary bytes to the verifier key decoder: ErrVKey or a key whose
// digests match, never a panic.
func FuzzDecodeVKey(f *testing.F) {
	dir := f.TempDir()
	store, vkey := filepath.Join(dir, "store"), filepath.Join(dir, "mlp.vkey")
	if _, err := Import(store, mlpGraph, tensorstore.WriteOptions{}); err != nil {
		f.Fatal(err)
	}
	if _, err := Commit(store, Config{}); err != nil {
		f.Fatal(err)
	}
	if _, err := ExportVerifier(store, vkey); err != nil {
		f.Fatal(err)
	}
	data, err := os.ReadFile(vkey)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Add([]byte(vkeyMagic))
	f.Add(append([]byte(vkeyMagic), make([]byte, 200)...))
	f.Fuzz(func(t *testing.T, data []byte) {
		// As given, and with a valid checksum so that the fuzzer reaches the parser behind it.
		resealed := data
		if len(data) >= sha256.Size {
			body := data[:len(data)-sha256.Size]
			sum := sha256.Sum256(body)
			resealed = append(append([]byte(nil), body...), sum[:]...)
		}
		for _, in := range [][]byte{data, resealed} {
			k, err := decodeVKey(in)
			if err != nil {
				if !errors.Is(err, ErrVKey) {
					t.Fatalf("error not wrapping ErrVKey: %v", err)
				}
				continue
			}
			if _, _, err := k.digests(); err != nil {
				t.Fatalf("decoded key without digests: %v", err)
			}
		}
	})
}
