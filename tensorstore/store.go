package tensorstore

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Store is a directory of tensors: catalog.db (bbolt) and tensors/<id>.chk segment files.
// One process at a time may open a store (bbolt's file lock); within it a Store is safe for
// concurrent use.
type Store struct {
	dir    string
	db     *bolt.DB
	noSync bool // tests and fuzzing only: skip fsync of segment files
}

const (
	catalogFile = "catalog.db"
	tensorsDir  = "tensors"
	segExt      = ".chk"
	tmpExt      = ".tmp"
)

// Open opens the store in dir, creating it if missing. Leftovers of writers that died before
// committing (temporary files, segment files no catalog entry points to) are removed: bbolt's
// lock guarantees no other process is writing.
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(filepath.Join(dir, tensorsDir), 0o755); err != nil {
		return nil, fmt.Errorf("tensorstore: open %s: %w", dir, err)
	}
	db, err := bolt.Open(filepath.Join(dir, catalogFile), 0o644, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		if errors.Is(err, bolt.ErrTimeout) {
			return nil, fmt.Errorf("tensorstore: open %s: the store is in use by another process", dir)
		}
		return nil, fmt.Errorf("tensorstore: open %s: %w", dir, err)
	}
	s := &Store{dir: dir, db: db}
	if err := db.Update(initBuckets); err != nil {
		db.Close()
		return nil, fmt.Errorf("tensorstore: open %s: %w", dir, err)
	}
	if err := s.cleanup(); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// Close closes the catalog. Tensors opened from the store stay readable until closed.
func (s *Store) Close() error { return s.db.Close() }

// Dir returns the store's directory.
func (s *Store) Dir() string { return s.dir }

func (s *Store) segPath(id string) string { return filepath.Join(s.dir, tensorsDir, id+segExt) }

// cleanup removes temporary files and unreferenced segment files.
func (s *Store) cleanup() error {
	live := map[string]bool{}
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketTensors).ForEach(func(k, v []byte) error {
			if _, id, err := infoFromRecord(string(k), v); err == nil {
				live[id+segExt] = true
			}
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("tensorstore: open %s: %w", s.dir, err)
	}
	ents, err := os.ReadDir(filepath.Join(s.dir, tensorsDir))
	if err != nil {
		return fmt.Errorf("tensorstore: open %s: %w", s.dir, err)
	}
	for _, e := range ents {
		n := e.Name()
		if strings.HasSuffix(n, tmpExt) || (strings.HasSuffix(n, segExt) && !live[n]) {
			_ = os.Remove(filepath.Join(s.dir, tensorsDir, n))
		}
	}
	return nil
}

// List returns the committed tensors sorted by name, without their chunk indexes.
func (s *Store) List() ([]Info, error) {
	var out []Info
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketTensors).ForEach(func(k, v []byte) error {
			in, _, err := infoFromRecord(string(k), v)
			if err != nil {
				return err
			}
			out = append(out, in)
			return nil
		})
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, err
}

// Stat returns a tensor's Info, with its chunk index.
func (s *Store) Stat(name string) (Info, error) {
	in, _, err := s.lookup(name)
	return in, err
}

func (s *Store) lookup(name string) (in Info, id string, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketTensors).Get([]byte(name))
		if v == nil {
			return fmt.Errorf("tensor %q: %w", name, ErrNotFound)
		}
		if in, id, err = infoFromRecord(name, v); err != nil {
			return err
		}
		in.Chunks, err = decodeIndex(tx.Bucket(bucketChunks).Get([]byte(name)), in.NumChunks)
		if err != nil {
			return fmt.Errorf("tensor %q: %w", name, err)
		}
		return nil
	})
	return in, id, err
}

// Delete removes a tensor from the catalog, then its file. Tensors already open keep reading.
func (s *Store) Delete(name string) error {
	var id string
	err := s.db.Update(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketTensors).Get([]byte(name))
		if v == nil {
			return fmt.Errorf("tensor %q: %w", name, ErrNotFound)
		}
		var err error
		if _, id, err = infoFromRecord(name, v); err != nil {
			return err
		}
		if err := tx.Bucket(bucketTensors).Delete([]byte(name)); err != nil {
			return err
		}
		return tx.Bucket(bucketChunks).Delete([]byte(name))
	})
	if err != nil {
		return err
	}
	// A crash here leaves an unreferenced file, which the next Open removes.
	_ = os.Remove(s.segPath(id))
	return nil
}

// PutMeta stores a small value (a commitment, graph JSON, run state) under bucket/key,
// durably, in one transaction.
func (s *Store) PutMeta(bucket, key string, val []byte) error {
	if bucket == "" || key == "" {
		return fmt.Errorf("tensorstore: meta bucket and key must not be empty: %w", ErrFormat)
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		b, err := tx.Bucket(bucketMeta).CreateBucketIfNotExists([]byte(bucket))
		if err != nil {
			return err
		}
		return b.Put([]byte(key), val)
	})
}

// GetMeta returns a copy of the value stored under bucket/key, or ErrNotFound.
func (s *Store) GetMeta(bucket, key string) ([]byte, error) {
	var out []byte
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketMeta).Bucket([]byte(bucket))
		var v []byte
		if b != nil {
			v = b.Get([]byte(key))
		}
		if v == nil {
			return fmt.Errorf("meta %s/%s: %w", bucket, key, ErrNotFound)
		}
		out = append([]byte(nil), v...)
		return nil
	})
	return out, err
}

// DeleteMeta removes bucket/key (no error if absent).
func (s *Store) DeleteMeta(bucket, key string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bucketMeta).Bucket([]byte(bucket)); b != nil {
			return b.Delete([]byte(key))
		}
		return nil
	})
}

// MetaKeys returns the meta buckets and, for each, its keys in order.
func (s *Store) MetaKeys() (map[string][]string, error) {
	out := map[string][]string{}
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).ForEachBucket(func(k []byte) error {
			keys := []string{}
			err := tx.Bucket(bucketMeta).Bucket(k).ForEach(func(kk, _ []byte) error {
				keys = append(keys, string(kk))
				return nil
			})
			out[string(k)] = keys
			return err
		})
	})
	return out, err
}
