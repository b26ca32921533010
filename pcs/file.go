package pcs

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"sort"
)

// Commitment file format (a model's weight commitments by tensor name, and the proof that the
// weights are zero in their padding):
//
//	magic "SPCOMMIT" ‖ version (uint32 BE) ‖ count (uint32 BE)
//	count × [ name length (uint16 BE) ‖ name ‖ encoding length (uint32 BE) ‖ commitment encoding ]
//	padding length (uint32 BE) ‖ padding proof (an Opening's encoding; empty when nothing is padded)
//	CRC-32C (Castagnoli) of everything before it (uint32 BE)
//
// Entries are sorted by name, so equal maps make equal files. The checksum is verified before
// any byte is trusted (STYLE §6). Version 1 had no padding proof; its files are refused, since
// they prove nothing about the weights' padding. Version 2 encodes each commitment as proofs do
// (compressed rows); version 3, written now, with uncompressed rows (appendRaw), twice the bytes
// but no square root per row to load them. Both are read.
const (
	fileMagic     = "SPCOMMIT"
	fileVersion   = 3
	fileVersionV2 = 2
)

// CommitmentFile is the content of a commitment file.
type CommitmentFile struct {
	Commitments map[string]*Commitment
	// Padding is the encoded opening of the weights' padding claims (gkr.ProveWeightPadding).
	Padding []byte
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// WriteCommitmentFile writes the commitments to path atomically: a temporary file in the same
// directory is written, fsynced and renamed over path, and the directory is fsynced, so a crash
// leaves either the old file or the new one.
func WriteCommitmentFile(path string, coms map[string]*Commitment, padding []byte) error {
	names := make([]string, 0, len(coms))
	for name, c := range coms {
		if len(name) == 0 || len(name) > 0xffff {
			return fmt.Errorf("pcs: commitment name of %d bytes", len(name))
		}
		if err := c.check(); err != nil {
			return fmt.Errorf("pcs: commitment %q: %w", name, err)
		}
		names = append(names, name)
	}
	sort.Strings(names)
	buf := []byte(fileMagic)
	buf = binary.BigEndian.AppendUint32(buf, fileVersion)
	buf = binary.BigEndian.AppendUint32(buf, uint32(len(names)))
	for _, name := range names {
		buf = binary.BigEndian.AppendUint16(buf, uint16(len(name)))
		buf = append(buf, name...)
		enc := coms[name].appendRaw(nil)
		buf = binary.BigEndian.AppendUint32(buf, uint32(len(enc)))
		buf = append(buf, enc...)
	}
	buf = binary.BigEndian.AppendUint32(buf, uint32(len(padding)))
	buf = append(buf, padding...)
	buf = binary.BigEndian.AppendUint32(buf, crc32.Checksum(buf, castagnoli))

	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("pcs: write commitments: %w", err)
	}
	tmp := f.Name()
	fail := func(err error) error {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("pcs: write commitments %s: %w", path, err)
	}
	if _, err := f.Write(buf); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("pcs: write commitments %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("pcs: write commitments %s: %w", path, err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// maxCommitmentFile bounds what ReadCommitmentFile reads.
const maxCommitmentFile = 1 << 30

// ReadCommitmentFile reads a file written by WriteCommitmentFile. A bad checksum, magic or
// version, a truncated entry, a duplicate name or trailing bytes are ErrFormat.
func ReadCommitmentFile(path string) (*CommitmentFile, error) {
	// A commitment is 32·√N bytes per tensor: even a model of 2^40 elements per tensor commits
	// to a few MiB. Refuse a file larger than any commitment file before reading it.
	if st, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("pcs: read commitments: %w", err)
	} else if st.Size() > maxCommitmentFile {
		return nil, fmt.Errorf("pcs: commitments %s: %d bytes is larger than any commitment file: %w", path, st.Size(), ErrFormat)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("pcs: read commitments: %w", err)
	}
	cf, err := ParseCommitmentFile(data)
	if err != nil {
		return nil, fmt.Errorf("pcs: commitments %s: %w", path, err)
	}
	return cf, nil
}

// ParseCommitmentFile decodes the bytes of a commitment file (untrusted: every length is
// checked against what the input holds before anything is allocated).
func ParseCommitmentFile(data []byte) (*CommitmentFile, error) {
	if len(data) < len(fileMagic)+12 {
		return nil, fmt.Errorf("file of %d bytes: %w", len(data), ErrFormat)
	}
	body, sum := data[:len(data)-4], binary.BigEndian.Uint32(data[len(data)-4:])
	if crc32.Checksum(body, castagnoli) != sum {
		return nil, fmt.Errorf("checksum mismatch: %w", ErrFormat)
	}
	if !bytes.Equal(body[:len(fileMagic)], []byte(fileMagic)) {
		return nil, fmt.Errorf("bad magic: %w", ErrFormat)
	}
	body = body[len(fileMagic):]
	decode := decodeCommitmentRaw
	switch v := binary.BigEndian.Uint32(body); v {
	case fileVersion:
	case fileVersionV2:
		decode = DecodeCommitment
	default:
		return nil, fmt.Errorf("version %d: %w", v, ErrFormat)
	}
	count := binary.BigEndian.Uint32(body[4:])
	body = body[8:]
	// Each entry takes at least 2+1+4+3 bytes: bound the map by what the input can hold.
	if uint64(count) > uint64(len(body))/10 {
		return nil, fmt.Errorf("%d entries in %d bytes: %w", count, len(body), ErrFormat)
	}
	coms := make(map[string]*Commitment, count)
	for i := uint32(0); i < count; i++ {
		if len(body) < 2 {
			return nil, fmt.Errorf("entry %d: truncated: %w", i, ErrFormat)
		}
		nl := int(binary.BigEndian.Uint16(body))
		body = body[2:]
		if nl == 0 || len(body) < nl+4 {
			return nil, fmt.Errorf("entry %d: truncated name: %w", i, ErrFormat)
		}
		name := string(body[:nl])
		el := binary.BigEndian.Uint32(body[nl:])
		body = body[nl+4:]
		if uint64(el) > uint64(len(body)) {
			return nil, fmt.Errorf("entry %q: truncated: %w", name, ErrFormat)
		}
		c, rest, err := decode(body[:el])
		if err != nil {
			return nil, fmt.Errorf("entry %q: %w", name, err)
		}
		if len(rest) != 0 {
			return nil, fmt.Errorf("entry %q: %d trailing bytes: %w", name, len(rest), ErrFormat)
		}
		if _, dup := coms[name]; dup {
			return nil, fmt.Errorf("entry %q twice: %w", name, ErrFormat)
		}
		coms[name] = c
		body = body[el:]
	}
	if len(body) < 4 {
		return nil, fmt.Errorf("truncated padding proof: %w", ErrFormat)
	}
	pl := binary.BigEndian.Uint32(body)
	body = body[4:]
	if uint64(pl) != uint64(len(body)) {
		return nil, fmt.Errorf("padding proof of %d bytes with %d left: %w", pl, len(body), ErrFormat)
	}
	cf := &CommitmentFile{Commitments: coms}
	if pl > 0 {
		cf.Padding = bytes.Clone(body)
	}
	return cf, nil
}
