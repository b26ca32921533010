package scheduler

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"

	"github.com/streamprove/streamprove/gkr"
	"github.com/streamprove/streamprove/pcs"
)

// Verifier key format (a .vkey file: all a verifier needs besides the proof and the public
// input):
//
//	magic "SPVERKEY" ‖ version (uint32 BE)
//	graph digest (32 bytes) ‖ commitments digest (32 bytes)
//	graph length (uint32 BE) ‖ graph (streamprove-graph/1 JSON, sources removed)
//	commitment file length (uint32 BE) ‖ the store's commitment file, byte for byte (package pcs's format)
//	SHA-256 of everything before it (32 bytes)
//
// The commitment file is embedded verbatim and parsed by the same function as a store's
// (parseCommitments), so whatever that format carries and checks, a verifier key carries and
// checks too. The digests are what the proof header binds (gkr); they are recomputed from the
// graph and commitments on load and must match. The trailing SHA-256 catches a damaged file
// before a byte is trusted, and is the key's fingerprint: a verifier compares it with the one
// the model owner publishes, since anyone can write a well-formed key for another model.
const (
	vkeyMagic   = "SPVERKEY"
	vkeyVersion = 1
	vkeyHeader  = len(vkeyMagic) + 4 + 32 + 32
	// maxVKeyBytes bounds a verifier key (and a commitment file) read from disk: commitments
	// are 32·√N bytes per tensor, far below it.
	maxVKeyBytes = 1 << 30
)

// ErrVKey reports a verifier key that is damaged, truncated or not a verifier key.
var ErrVKey = errors.New("bad verifier key")

// verifierKey is what a proof is checked against: the model (its graph) and the commitments to
// its weights. Both verify --store and verify --vkey build it through loadVerifierKey.
type verifierKey struct {
	model  *Model
	cf     *pcs.CommitmentFile // the commitments and their padding proof
	graph  []byte              // the graph JSON it was parsed from
	commit []byte              // the commitment file it was parsed from
}

// loadVerifierKey parses a graph and a commitment file's bytes into a verifier key: the one
// loading path of every verifier, whatever the bytes came from.
func loadVerifierKey(graph, commit []byte) (*verifierKey, error) {
	m, err := parseModel(graph)
	if err != nil {
		return nil, fmt.Errorf("graph: %w", err)
	}
	cf, err := parseCommitments(commit)
	if err != nil {
		return nil, err
	}
	for _, name := range m.Graph.Names(gkr.Weight) {
		if cf.Commitments[name] == nil {
			return nil, fmt.Errorf("weight %q has no commitment (run `streamprove commit` again)", name)
		}
	}
	return &verifierKey{model: m, cf: cf, graph: graph, commit: commit}, nil
}

// digests returns the graph digest and the commitments digest a proof header carries.
func (k *verifierKey) digests() ([32]byte, [32]byte, error) {
	cd, err := gkr.CommitmentsDigest(k.model.Graph, k.cf.Commitments)
	return k.model.Graph.Digest(), cd, err
}

// encode writes the key in the .vkey format.
func (k *verifierKey) encode() ([]byte, error) {
	gd, cd, err := k.digests()
	if err != nil {
		return nil, err
	}
	if len(k.graph) > maxGraphBytes || len(k.commit) > maxVKeyBytes {
		return nil, fmt.Errorf("verifier key: graph of %d bytes or commitments of %d bytes is too large", len(k.graph), len(k.commit))
	}
	buf := make([]byte, 0, vkeyHeader+8+len(k.graph)+len(k.commit)+sha256.Size)
	buf = append(buf, vkeyMagic...)
	buf = binary.BigEndian.AppendUint32(buf, vkeyVersion)
	buf = append(buf, gd[:]...)
	buf = append(buf, cd[:]...)
	buf = binary.BigEndian.AppendUint32(buf, uint32(len(k.graph)))
	buf = append(buf, k.graph...)
	buf = binary.BigEndian.AppendUint32(buf, uint32(len(k.commit)))
	buf = append(buf, k.commit...)
	sum := sha256.Sum256(buf)
	return append(buf, sum[:]...), nil
}

// decodeVKey parses a verifier key from untrusted bytes: checksum first, then magic, version,
// lengths, the graph and the commitments, and finally the digests against what was parsed.
func decodeVKey(data []byte) (*verifierKey, error) {
	if len(data) < len(vkeyMagic) || !bytes.Equal(data[:len(vkeyMagic)], []byte(vkeyMagic)) {
		return nil, fmt.Errorf("%w: not a streamprove verifier key (bad magic)", ErrVKey)
	}
	if len(data) < vkeyHeader+8+sha256.Size {
		return nil, fmt.Errorf("%w: truncated (%d bytes)", ErrVKey, len(data))
	}
	if len(data) > maxVKeyBytes {
		return nil, fmt.Errorf("%w: %d bytes is larger than any verifier key", ErrVKey, len(data))
	}
	body := data[:len(data)-sha256.Size]
	if sum := sha256.Sum256(body); !bytes.Equal(sum[:], data[len(body):]) {
		return nil, fmt.Errorf("%w: checksum mismatch: the file is damaged, truncated or was edited", ErrVKey)
	}
	if v := binary.BigEndian.Uint32(body[len(vkeyMagic):]); v != vkeyVersion {
		return nil, fmt.Errorf("%w: format version %d, this streamprove reads version %d", ErrVKey, v, vkeyVersion)
	}
	var gd, cd [32]byte
	copy(gd[:], body[len(vkeyMagic)+4:])
	copy(cd[:], body[len(vkeyMagic)+36:])
	rest := body[vkeyHeader:]
	graph, rest, err := lengthPrefixed(rest, "graph")
	if err != nil {
		return nil, err
	}
	commit, rest, err := lengthPrefixed(rest, "commitments")
	if err != nil {
		return nil, err
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", ErrVKey, len(rest))
	}
	k, err := loadVerifierKey(graph, commit)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrVKey, err)
	}
	gd2, cd2, err := k.digests()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrVKey, err)
	}
	if gd2 != gd || cd2 != cd {
		return nil, fmt.Errorf("%w: its digests do not match its graph and commitments", ErrVKey)
	}
	return k, nil
}

func lengthPrefixed(b []byte, what string) (field, rest []byte, err error) {
	if len(b) < 4 {
		return nil, nil, fmt.Errorf("%w: %s: truncated", ErrVKey, what)
	}
	n := binary.BigEndian.Uint32(b)
	if uint64(n) > uint64(len(b)-4) {
		return nil, nil, fmt.Errorf("%w: %s of %d bytes does not fit the %d bytes left", ErrVKey, what, n, len(b)-4)
	}
	return b[4 : 4+n], b[4+n:], nil
}

// readVKey reads and decodes a verifier key file.
func readVKey(path string) (*verifierKey, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("verifier key: %w", err)
	}
	if st.Size() > maxVKeyBytes {
		return nil, fmt.Errorf("verifier key %s: %w: %d bytes is larger than any verifier key", path, ErrVKey, st.Size())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("verifier key: %w", err)
	}
	k, err := decodeVKey(data)
	if err != nil {
		return nil, fmt.Errorf("verifier key %s: %w", path, err)
	}
	return k, nil
}

// VKeyInfo describes an exported verifier key.
type VKeyInfo struct {
	Path    string `json:"path"`
	Model   string `json:"model"`
	Bytes   int64  `json:"bytes"`
	Weights int    `json:"weights"`
	// Fingerprint is the SHA-256 of the whole key: publish it so verifiers can check they hold
	// the key of the model you committed.
	Fingerprint       string `json:"fingerprint"`
	GraphDigest       string `json:"graph_digest"`
	CommitmentsDigest string `json:"commitments_digest"`
}

// ExportVerifier writes a verifier key for the committed model of a store to out (atomically):
// the graph (without source paths), the weights' commitment file and the digests a proof binds.
// Weights changed since commit are refused, as prove refuses them.
func ExportVerifier(storeDir, out string) (*VKeyInfo, error) {
	s, err := openExisting(storeDir)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	m, err := LoadModel(s)
	if err != nil {
		return nil, err
	}
	if err := checkCommitted(s, m); err != nil {
		return nil, err
	}
	commit, err := readCommitFile(s)
	if err != nil {
		return nil, err
	}
	// Where the prover found its data is no business of the verifier's.
	f := *m.File
	f.Tensors = map[string]*TensorSpec{}
	for name, ts := range m.File.Tensors {
		t := *ts
		t.Source, t.Key = "", ""
		f.Tensors[name] = &t
	}
	graph, err := marshalFile(&f)
	if err != nil {
		return nil, err
	}
	k, err := loadVerifierKey(graph, commit)
	if err != nil {
		return nil, fmt.Errorf("store %s: %w", storeDir, err)
	}
	data, err := k.encode()
	if err != nil {
		return nil, err
	}
	if err := writeAtomic(out, data); err != nil {
		return nil, fmt.Errorf("verifier key %s: %w", out, err)
	}
	gd, cd, _ := k.digests()
	sum := sha256.Sum256(data)
	return &VKeyInfo{Path: out, Model: m.File.Name, Bytes: int64(len(data)), Weights: len(k.cf.Commitments),
		Fingerprint: hex.EncodeToString(sum[:]), GraphDigest: hex.EncodeToString(gd[:]), CommitmentsDigest: hex.EncodeToString(cd[:])}, nil
}

// withModel returns the key with its model replaced by m, the same model bound to other input
// shapes (Model.Bind): the proof is checked against m's digest, the commitments are the key's.
func (k *verifierKey) withModel(m *Model) *verifierKey {
	c := *k
	c.model = m
	return &c
}
