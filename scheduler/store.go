package scheduler

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/streamprove/streamprove/pcs"
	"github.com/streamprove/streamprove/tensorstore"
)

// Catalog meta buckets and keys the scheduler keeps in a store.
const (
	metaModel     = "model"
	keyGraph      = "graph"
	metaRun       = "run"
	commitFile    = "model.commit"
	forwardPrefix = "forward/"
	keyCheckpoint = "prove/checkpoint"
)

// ErrNoModel reports a store that holds no imported model.
var ErrNoModel = errors.New("the store holds no model: run `streamprove import` (or `gen`) first")

// Import reads the graph file, validates it, imports every input and weight from its source
// (safetensors key or .npy file, relative to the graph file) checking shape and dtype, and
// records the graph in the store. A failure leaves no graph recorded, so a later run cannot
// trip over a half-imported model.
func Import(storeDir, graphPath string, wo tensorstore.WriteOptions) (*Model, error) {
	m, err := LoadGraphFile(graphPath)
	if err != nil {
		return nil, err
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
		if err := checkStored(s, m, name); err != nil {
			return nil, err
		}
	}
	if err := saveModel(s, m); err != nil {
		return nil, err
	}
	return m, nil
}

// checkStored compares a stored tensor with its declaration.
func checkStored(s *tensorstore.Store, m *Model, name string) error {
	info, err := s.Stat(name)
	if err != nil {
		return fmt.Errorf("tensor %q: %w", name, err)
	}
	want := m.Graph.Tensors[name].Shape
	if !slices.Equal(info.Shape, want) {
		return fmt.Errorf("tensor %q: field \"shape\": the graph declares %v, the source holds %v", name, want, info.Shape)
	}
	if dt := m.DTypes[name]; info.DType.Size() > dt.Size() || !info.DType.IsInt() {
		return fmt.Errorf("tensor %q: field \"dtype\": the graph declares %v, the source holds %v", name, dt, info.DType)
	}
	return nil
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
	m, err := ParseGraph(data)
	if err != nil {
		return nil, fmt.Errorf("store %s: recorded graph: %w", s.Dir(), err)
	}
	return m, nil
}

// LoadCommitments reads the store's weight commitments and their padding proof.
func LoadCommitments(s *tensorstore.Store) (*pcs.CommitmentFile, error) {
	cf, err := pcs.ReadCommitmentFile(filepath.Join(s.Dir(), commitFile))
	if err != nil {
		return nil, fmt.Errorf("store %s: no weight commitments (run `streamprove commit`): %w", s.Dir(), err)
	}
	return cf, nil
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
