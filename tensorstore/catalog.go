package tensorstore

import (
	"encoding/binary"
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Catalog layout (bbolt):
//
//	tensors: name → JSON record (shape, dtype, codec, chunking, file id, sizes)
//	chunks:  name → binary chunk index, 16 bytes per chunk (offset u64, stored u32, crc u32)
//	meta:    one nested bucket per PutMeta bucket name → key → value
//
// The index is kept apart from the record so that List reads a few hundred bytes per tensor
// whatever its size, and binary so that a million-chunk tensor costs 16 MB, not 100 MB of JSON.
var (
	bucketTensors = []byte("tensors")
	bucketChunks  = []byte("chunks")
	bucketMeta    = []byte("meta")
)

type record struct {
	ID          string `json:"id"`
	Shape       []int  `json:"shape"`
	DType       string `json:"dtype"`
	Codec       string `json:"codec"`
	ChunkElems  int    `json:"chunk_elems"`
	NumChunks   int    `json:"num_chunks"`
	StoredBytes int64  `json:"stored_bytes"`
}

const indexEntryLen = 16

func encodeIndex(refs []ChunkRef) []byte {
	b := make([]byte, len(refs)*indexEntryLen)
	for i, r := range refs {
		o := b[i*indexEntryLen:]
		binary.LittleEndian.PutUint64(o, uint64(r.Offset))
		binary.LittleEndian.PutUint32(o[8:], r.Stored)
		binary.LittleEndian.PutUint32(o[12:], r.CRC)
	}
	return b
}

func decodeIndex(b []byte, n int) ([]ChunkRef, error) {
	if len(b) != n*indexEntryLen {
		return nil, fmt.Errorf("chunk index of %d bytes for %d chunks: %w", len(b), n, ErrCorrupt)
	}
	refs := make([]ChunkRef, n)
	for i := range refs {
		o := b[i*indexEntryLen:]
		refs[i] = ChunkRef{
			Offset: int64(binary.LittleEndian.Uint64(o)),
			Stored: binary.LittleEndian.Uint32(o[8:]),
			CRC:    binary.LittleEndian.Uint32(o[12:]),
		}
	}
	return refs, nil
}

// infoFromRecord checks a catalog record and turns it into an Info (without the index).
func infoFromRecord(name string, raw []byte) (Info, string, error) {
	var r record
	if err := json.Unmarshal(raw, &r); err != nil {
		return Info{}, "", fmt.Errorf("tensor %q: catalog record: %v: %w", name, err, ErrCorrupt)
	}
	dt, err := ParseDType(r.DType)
	if err != nil {
		return Info{}, "", fmt.Errorf("tensor %q: catalog record: %w", name, err)
	}
	codec, err := ParseCodec(r.Codec)
	if err != nil {
		return Info{}, "", fmt.Errorf("tensor %q: catalog record: %w", name, err)
	}
	n, padded, pn, err := shapeLens(r.Shape)
	if err != nil {
		return Info{}, "", fmt.Errorf("tensor %q: catalog record: %w", name, err)
	}
	ce := int64(r.ChunkElems)
	if ce <= 0 || ce&(ce-1) != 0 || ce > maxChunkElems || int64(r.NumChunks) != (n+ce-1)/ce || r.ID == "" {
		return Info{}, "", fmt.Errorf("tensor %q: catalog record has inconsistent chunking: %w", name, ErrCorrupt)
	}
	return Info{
		Name: name, Shape: r.Shape, PaddedShape: padded, DType: dt, Codec: codec,
		ChunkElems: r.ChunkElems, NumChunks: r.NumChunks, Len: n, PaddedLen: pn,
		StoredBytes: r.StoredBytes,
	}, r.ID, nil
}

func initBuckets(tx *bolt.Tx) error {
	for _, b := range [][]byte{bucketTensors, bucketChunks, bucketMeta} {
		if _, err := tx.CreateBucketIfNotExists(b); err != nil {
			return err
		}
	}
	return nil
}
