package scheduler

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/streamprove/streamprove/tensorstore"
)

// DemoReport is what the demo did and cost.
type DemoReport struct {
	Model         string        `json:"model"`
	StoreDir      string        `json:"store"`
	ImportSeconds float64       `json:"import_seconds"`
	CommitSeconds float64       `json:"commit_seconds"`
	Prove         *Report       `json:"prove"`
	Verify        *VerifyReport `json:"verify"`
}

// Demo runs the whole pipeline on a model shipped as a file system (graph.json and its sources
// under root): import into a store in dir, commit, prove, verify. It returns ErrRejected if the
// proof does not verify.
func Demo(model fs.FS, root, dir string, cfg Config) (*DemoReport, error) {
	src := filepath.Join(dir, "model")
	if err := os.CopyFS(src, mustSub(model, root)); err != nil {
		return nil, fmt.Errorf("demo: unpack model: %w", err)
	}
	rep := &DemoReport{StoreDir: filepath.Join(dir, "store")}
	t := time.Now()
	m, err := Import(rep.StoreDir, filepath.Join(src, "graph.json"), tensorstore.WriteOptions{})
	if err != nil {
		return nil, fmt.Errorf("demo import: %w", err)
	}
	rep.Model = m.File.Name
	rep.ImportSeconds = time.Since(t).Seconds()
	t = time.Now()
	if _, err := Commit(rep.StoreDir, cfg); err != nil {
		return nil, fmt.Errorf("demo commit: %w", err)
	}
	rep.CommitSeconds = time.Since(t).Seconds()
	proof := filepath.Join(dir, "proof.bin")
	if rep.Prove, err = Prove(rep.StoreDir, proof, cfg); err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	rep.Verify, err = Verify(rep.StoreDir, proof, "")
	return rep, err
}

func mustSub(f fs.FS, root string) fs.FS {
	if root == "" || root == "." {
		return f
	}
	sub, err := fs.Sub(f, root)
	if err != nil {
		return f
	}
	return sub
}
