package tensorstore

import (
	"bytes"
	"sync"
	"testing"
)

func FuzzChunkDecode(f *testing.F) {
	for _, c := range []Codec{CodecNone, CodecS2, CodecZstd} {
		raw := []byte("streamprove chunk payload, streamprove chunk payload, 0123456789")
		comp, _ := compress(c, nil, raw)
		var h [chunkHeaderLen]byte
		chunkHeader{codec: c, raw: uint32(len(raw)), stored: uint32(len(comp)), crc: checksum(comp)}.put(h[:])
		f.Add(append(h[:], comp...), uint32(len(raw)))
		f.Add(append([]byte{byte(c)}, comp...), uint32(len(raw)))
	}
	f.Add([]byte{}, uint32(0))
	f.Fuzz(func(t *testing.T, data []byte, wantRaw uint32) {
		want := int(wantRaw % (1 << 20))
		// as a whole chunk (mostly failing the checksum)
		_, _ = decodeChunk(data, want, nil)
		if len(data) == 0 {
			return
		}
		// as codec byte + payload under a valid header: exercises the decompressors
		payload := data[1:]
		var h [chunkHeaderLen]byte
		chunkHeader{codec: Codec(data[0] % 5), raw: uint32(want), stored: uint32(len(payload)), crc: checksum(payload)}.put(h[:])
		out, err := decodeChunk(append(h[:], payload...), want, nil)
		if err == nil && len(out) != want {
			t.Fatalf("decoded %d bytes, want %d", len(out), want)
		}
		// every codec round-trips the payload
		for _, c := range []Codec{CodecNone, CodecS2, CodecZstd} {
			comp, err := compress(c, nil, payload)
			if err != nil {
				t.Fatal(err)
			}
			chunkHeader{codec: c, raw: uint32(len(payload)), stored: uint32(len(comp)), crc: checksum(comp)}.put(h[:])
			got, err := decodeChunk(append(h[:], comp...), len(payload), nil)
			if err != nil || !bytes.Equal(got, payload) {
				t.Fatalf("%v round trip: %v", c, err)
			}
		}
	})
}

// fuzzStore is one store per fuzzing process, with fsync off (it is thrown away).
func fuzzStore(f *testing.F) func() *Store {
	var once sync.Once
	var s *Store
	dir := f.TempDir()
	return func() *Store {
		once.Do(func() {
			var err error
			if s, err = Open(dir); err != nil {
				panic(err)
			}
			s.db.NoSync, s.noSync = true, true
		})
		return s
	}
}

func FuzzSafetensors(f *testing.F) {
	model, input := mlpArrays()
	for _, a := range [][]Array{model, input, {{Name: "s", DType: "U8", Shape: []int{}, Values: []int64{200}}}} {
		b, _ := EncodeSafetensors(a, map[string]string{"k": "v"})
		f.Add(b)
	}
	f.Add([]byte("\x10\x00\x00\x00\x00\x00\x00\x00{\"a\":1}"))
	store := fuzzStore(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		entries, err := parseSafetensors(bytes.NewReader(b), int64(len(b)), "fuzz")
		if err != nil {
			return
		}
		for _, e := range entries {
			if e.off < 0 || e.off+e.n*int64(e.kind.size) > int64(len(b)) {
				t.Fatalf("entry %q [%d,+%d) outside a %d-byte file", e.key, e.off, e.n, len(b))
			}
		}
		if _, err := importEntries(store(), bytes.NewReader(b), "fuzz", entries, nil, WriteOptions{Replace: true, ChunkElems: 64}); err != nil {
			t.Fatalf("valid header, import failed: %v", err)
		}
	})
}

func FuzzNPY(f *testing.F) {
	_, input := mlpArrays()
	b, _ := EncodeNPY(input[0])
	f.Add(b)
	b, _ = EncodeNPY(Array{Name: "u", DType: "U8", Shape: []int{2, 2}, Values: []int64{1, 2, 3, 255}})
	f.Add(b)
	b, _ = EncodeNPY(Array{Name: "s", DType: "I64", Shape: []int{}, Values: []int64{-7}})
	f.Add(b)
	store := fuzzStore(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		if e, err := parseNPYKinds(bytes.NewReader(b), int64(len(b)), "fuzz", true); err == nil && e.off+e.n*int64(e.kind.size) != int64(len(b)) {
			t.Fatalf("float-accepting parse: data [%d,+%d) does not end the %d-byte file", e.off, e.n, len(b))
		}
		e, err := parseNPY(bytes.NewReader(b), int64(len(b)), "fuzz")
		if err != nil {
			return
		}
		if e.off+e.n*int64(e.kind.size) != int64(len(b)) {
			t.Fatalf("data [%d,+%d) does not end the %d-byte file", e.off, e.n, len(b))
		}
		if _, err := importData(store(), bytes.NewReader(b), "fuzz", e, "x", WriteOptions{Replace: true, ChunkElems: 64}); err != nil {
			t.Fatalf("valid header, import failed: %v", err)
		}
	})
}
