package scheduler

import (
	"github.com/streamprove/streamprove/pcs"
	"github.com/streamprove/streamprove/tensorstore"
)

// ImportSafetensors imports every tensor of a safetensors file into the store at storeDir
// (created if missing), outside any model graph. It returns what it imported, also when it
// stops with an error part way.
func ImportSafetensors(storeDir, path string, wo tensorstore.WriteOptions) ([]tensorstore.Info, error) {
	s, err := tensorstore.Open(storeDir)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	return tensorstore.ImportSafetensors(s, path, nil, wo)
}

// ImportNPY imports a .npy file as the tensor name into the store at storeDir (created if
// missing), outside any model graph.
func ImportNPY(storeDir, path, name string, wo tensorstore.WriteOptions) (tensorstore.Info, error) {
	s, err := tensorstore.Open(storeDir)
	if err != nil {
		return tensorstore.Info{}, err
	}
	defer s.Close()
	return tensorstore.ImportNPY(s, path, name, wo)
}

// StoreContents is what a store holds: its tensors (in name order), its catalog's meta keys by
// bucket, and the weights' commitments when the model is committed (nil otherwise).
type StoreContents struct {
	Tensors     []tensorstore.Info
	Meta        map[string][]string
	Commitments map[string]*pcs.Commitment
}

// Inspect lists the contents of the existing store at storeDir (ErrNoStore when there is none;
// it never creates one).
func Inspect(storeDir string) (*StoreContents, error) {
	s, err := openExisting(storeDir)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	var sc StoreContents
	if sc.Tensors, err = s.List(); err != nil {
		return nil, err
	}
	if sc.Meta, err = s.MetaKeys(); err != nil {
		return nil, err
	}
	if cf, err := LoadCommitments(s); err == nil {
		sc.Commitments = cf.Commitments
	}
	return &sc, nil
}
