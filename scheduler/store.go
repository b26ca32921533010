package scheduler

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/streamprove/streamprove/gkr"
	"github.com/streamprove/streamprove/pcs"
	"github.com/streamprove/streamprove/tensorstore"
)

// Catalog meta buckets and keys the scheduler keeps in a store.
const (
	metaModel     = "model"
	keyGraph      = "graph"
	keyWeights    = "commit/weights" // fingerprints of the weights as committed
	metaRun       = "run"
	commitFile    = "model.commit"
	forwardPrefix = "forward/"
	keyCheckpoint = "prove/checkpoint"
)

// ErrNoModel reports a store that holds no imported model.
var ErrNoModel = errors.New("the store holds no model: run `streamprove import` (or `gen`) first")

// ErrNoStore reports a store directory that does not exist (or holds no catalog): commands that
// read a store refuse it rather than create an empty one.
var ErrNoStore = errors.New("no store at this path (create one with `streamprove import` or `gen`)")

// ErrStaleCommitment reports weights that changed after they were committed: a proof made now
// would not verify against the commitment.
var ErrStaleCommitment = errors.New("weights changed since commit: run `streamprove commit`")

// openExisting opens a store that must already exist. tensorstore.Open creates what is missing,
// which is right for import and wrong for everything that only reads.
func openExisting(dir string) (*tensorstore.Store, error) {
	if _, err := os.Stat(filepath.Join(dir, "catalog.db")); err != nil {
		return nil, fmt.Errorf("%s: %w", dir, ErrNoStore)
	}
	return tensorstore.Open(dir)
}

// Import reads the graph file, validates it, imports every input and weight from its source
// (safetensors key or .npy file, relative to the graph file) checking shape and dtype, and
// records the graph in the store. A failure leaves no graph recorded, so a later run cannot
// trip over a half-imported model.
func Import(storeDir, graphPath string, wo tensorstore.WriteOptions) (*Model, error) {
	m, err := LoadGraphFile(graphPath)
	if err != nil {
		return nil, err
	}
	if _, err := bounds(m); err != nil {
		return nil, fmt.Errorf("graph %s: %w", graphPath, err)
	}
	s, err := tensorstore.Open(storeDir)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	if err := s.DeleteMeta(metaModel, keyGraph); err != nil {
		return nil, err
	}
	wo.Replace = true
	for _, name := range sortedKeys(m.DTypes) { // the tensors with data: inputs and weights
		ts := m.File.Tensors[name]
		if ts.Source == "" {
			return nil, fmt.Errorf("%w: tensor %q: field \"source\" is missing", ErrGraph, name)
		}
		path := ts.Source
		if !filepath.IsAbs(path) {
			path = filepath.Join(m.Dir, path)
		}
		switch strings.ToLower(filepath.Ext(path)) {
		case ".npy":
			_, err = tensorstore.ImportNPY(s, path, name, wo)
		case ".safetensors":
			key := ts.Key
			if key == "" {
				key = name
			}
			_, err = tensorstore.ImportSafetensors(s, path, map[string]string{key: name}, wo)
		default:
			err = fmt.Errorf("field \"source\": %q is neither .safetensors nor .npy", ts.Source)
		}
		if err != nil {
			return nil, fmt.Errorf("tensor %q: %w", name, err)
		}
		if err := checkDeclared(s, m, name); err != nil {
			return nil, err
		}
	}
	if err := saveModel(s, m); err != nil {
		return nil, err
	}
	return m, nil
}

// checkDeclared compares a stored tensor with its declaration in the graph: shape, dtype and
// value range. It is the one check of data against the graph, used by import for inputs and
// weights and by verify for a public input given with --input: data that does not fit its
// declaration would hide in the padding, or be read as other values than the graph promises.
func checkDeclared(s *tensorstore.Store, m *Model, name string) error {
	info, err := s.Stat(name)
	if err != nil {
		return fmt.Errorf("tensor %q: %w", name, err)
	}
	want := m.Graph.Tensors[name].Shape
	if !slices.Equal(info.Shape, want) {
		return fmt.Errorf("tensor %q: field \"shape\": the graph declares %v, the data has %v", name, want, info.Shape)
	}
	dt := m.DTypes[name]
	if !info.DType.IsInt() {
		return fmt.Errorf("tensor %q: field \"dtype\": the graph declares %v, the data is %v", name, dt, info.DType)
	}
	if info.DType.Size() <= dt.Size() {
		return nil // every value of a narrower integer dtype fits the declared one
	}
	// A wider dtype is refused; name a value that does not fit, when there is one, so the user
	// knows whether a cast is enough.
	lo, hi := dt.Bounds()
	idx, v, found, err := firstOutside(s, name, lo, hi)
	if err != nil {
		return fmt.Errorf("tensor %q: %w", name, err)
	}
	if found {
		return fmt.Errorf("tensor %q: field \"dtype\": the graph declares %v (values %d..%d), the data holds %d at element %d", name, dt, lo, hi, v, idx)
	}
	return fmt.Errorf("tensor %q: field \"dtype\": the graph declares %v, the data is %v (its values fit: store it as %v)", name, dt, info.DType, dt)
}

// firstOutside streams an integer tensor and returns its first element outside [lo, hi].
func firstOutside(s *tensorstore.Store, name string, lo, hi int64) (idx, v int64, found bool, err error) {
	t, err := s.Tensor(name)
	if err != nil {
		return 0, 0, false, err
	}
	defer t.Close()
	r, err := t.Ints()
	if err != nil {
		return 0, 0, false, err
	}
	defer r.Close()
	buf := make([]int64, 4096)
	for {
		n, err := r.Next(buf)
		for i, x := range buf[:n] {
			if x < lo || x > hi {
				return idx + int64(i), x, true, nil
			}
		}
		idx += int64(n)
		if err == io.EOF {
			return 0, 0, false, nil
		}
		if err != nil {
			return 0, 0, false, err
		}
	}
}

// saveModel records a (new) model and forgets every run of the previous one: finished forward
// steps and prove checkpoints of another graph or other data must never be resumed.
func saveModel(s *tensorstore.Store, m *Model) error {
	keys, err := s.MetaKeys()
	if err != nil {
		return err
	}
	for _, k := range keys[metaRun] {
		if err := s.DeleteMeta(metaRun, k); err != nil {
			return err
		}
	}
	data, err := m.Marshal()
	if err != nil {
		return err
	}
	return s.PutMeta(metaModel, keyGraph, data)
}

// LoadModel returns the model recorded in a store.
func LoadModel(s *tensorstore.Store) (*Model, error) {
	data, err := s.GetMeta(metaModel, keyGraph)
	if err != nil || len(data) == 0 {
		return nil, fmt.Errorf("store %s: %w", s.Dir(), ErrNoModel)
	}
	m, err := parseModel(data)
	if err != nil {
		return nil, fmt.Errorf("store %s: recorded graph: %w", s.Dir(), err)
	}
	return m, nil
}

// parseModel parses a recorded graph and refuses one whose values could wrap around the field.
func parseModel(graph []byte) (*Model, error) {
	m, err := ParseGraph(graph)
	if err != nil {
		return nil, err
	}
	if _, err := bounds(m); err != nil {
		return nil, err
	}
	return m, nil
}

// LoadCommitments reads the store's weight commitments and their padding proof.
func LoadCommitments(s *tensorstore.Store) (*pcs.CommitmentFile, error) {
	data, err := readCommitFile(s)
	if err != nil {
		return nil, err
	}
	cf, err := parseCommitments(data)
	if err != nil {
		return nil, fmt.Errorf("store %s: %s: %w", s.Dir(), commitFile, err)
	}
	return cf, nil
}

// readCommitFile returns the bytes of the store's commitment file, unparsed: what a verifier
// key embeds verbatim.
func readCommitFile(s *tensorstore.Store) ([]byte, error) {
	path := filepath.Join(s.Dir(), commitFile)
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("store %s: no weight commitments (run `streamprove commit`)", s.Dir())
	}
	if st.Size() > maxVKeyBytes {
		return nil, fmt.Errorf("store %s: %s: %d bytes is larger than any commitment file", s.Dir(), commitFile, st.Size())
	}
	return os.ReadFile(path)
}

// parseCommitments parses a commitment file's bytes. It is the one place commitments are
// loaded, whether they come from a store (prove, verify --store) or from a verifier key
// (verify --vkey): every check of the format applies to both.
func parseCommitments(data []byte) (*pcs.CommitmentFile, error) {
	return pcs.ParseCommitmentFile(data)
}

// weightFingerprints identifies each weight's stored data by its catalog entry: shape, dtype,
// codec, chunking and every chunk's checksum. Re-importing the same data gives the same
// fingerprint; any change to the data (or its encoding) gives another, without reading it.
func weightFingerprints(s *tensorstore.Store, m *Model) (map[string]string, error) {
	out := map[string]string{}
	for _, name := range m.Graph.Names(gkr.Weight) {
		t, err := s.Tensor(name)
		if err != nil {
			return nil, fmt.Errorf("weight %q: %w", name, err)
		}
		in := t.Info()
		t.Close()
		h := sha256.New()
		fmt.Fprintf(h, "%v|%v|%v|%d|%d|", in.Shape, in.DType, in.Codec, in.ChunkElems, in.Len)
		var b [12]byte
		for _, c := range in.Chunks {
			binary.BigEndian.PutUint32(b[:], c.Stored)
			binary.BigEndian.PutUint32(b[4:], c.CRC)
			h.Write(b[:8])
		}
		out[name] = hex.EncodeToString(h.Sum(nil))
	}
	return out, nil
}

// recordCommitted stores the fingerprints of the weights just committed.
func recordCommitted(s *tensorstore.Store, fp map[string]string) error {
	data, err := json.Marshal(fp)
	if err != nil {
		return err
	}
	return s.PutMeta(metaModel, keyWeights, data)
}

// checkCommitted refuses a store whose weights changed (were re-imported) after commit.
func checkCommitted(s *tensorstore.Store, m *Model) error {
	data, err := s.GetMeta(metaModel, keyWeights)
	var was map[string]string
	if err != nil || len(data) == 0 || json.Unmarshal(data, &was) != nil {
		return fmt.Errorf("store %s: %w (no record of the weights as committed)", s.Dir(), ErrStaleCommitment)
	}
	now, err := weightFingerprints(s, m)
	if err != nil {
		return err
	}
	for _, name := range sortedKeys(now) {
		if was[name] != now[name] {
			return fmt.Errorf("store %s: %w (weight %q was re-imported)", s.Dir(), ErrStaleCommitment, name)
		}
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
