package tensorstore

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"unsafe"

	"github.com/streamprove/streamprove/field"
)

// Segment file layout (one file per tensor, tensors/<id>.chk), after prometheus tsdb/chunks:
//
//	file header  : magic "SPCK" | version u16 LE | dtype u8 | reserved u8       (8 bytes)
//	chunk header : codec u8 | reserved 3 | raw length u32 | stored length u32 | CRC32C u32  (16 bytes)
//	chunk payload: stored length bytes
//
// The CRC (Castagnoli) covers the stored payload and is checked before a byte is decoded. The
// catalog's chunk index repeats each chunk's offset, stored length and CRC, so a header that
// disagrees with the catalog is corruption too.
const (
	segMagic        = "SPCK"
	segVersion      = 1
	segHeaderLen    = 8
	chunkHeaderLen  = 16
	maxChunkElems   = 1 << 24
	defaultChunkLog = 16
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func checksum(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

func putSegHeader(dst []byte, dt DType) {
	copy(dst, segMagic)
	binary.LittleEndian.PutUint16(dst[4:], segVersion)
	dst[6] = byte(dt)
	dst[7] = 0
}

func checkSegHeader(b []byte, dt DType) error {
	if len(b) < segHeaderLen || string(b[:4]) != segMagic {
		return fmt.Errorf("bad magic: %w", ErrCorrupt)
	}
	if v := binary.LittleEndian.Uint16(b[4:]); v != segVersion {
		return fmt.Errorf("segment version %d, this build reads %d: %w", v, segVersion, ErrFormat)
	}
	if DType(b[6]) != dt {
		return fmt.Errorf("segment dtype %d, catalog says %v: %w", b[6], dt, ErrCorrupt)
	}
	return nil
}

type chunkHeader struct {
	codec  Codec
	raw    uint32
	stored uint32
	crc    uint32
}

func (h chunkHeader) put(dst []byte) {
	dst[0] = byte(h.codec)
	dst[1], dst[2], dst[3] = 0, 0, 0
	binary.LittleEndian.PutUint32(dst[4:], h.raw)
	binary.LittleEndian.PutUint32(dst[8:], h.stored)
	binary.LittleEndian.PutUint32(dst[12:], h.crc)
}

func parseChunkHeader(b []byte) chunkHeader {
	return chunkHeader{
		codec:  Codec(b[0]),
		raw:    binary.LittleEndian.Uint32(b[4:]),
		stored: binary.LittleEndian.Uint32(b[8:]),
		crc:    binary.LittleEndian.Uint32(b[12:]),
	}
}

// decodeChunk checks and decodes one whole chunk (header and payload) that should hold
// wantRaw raw bytes, returning the raw bytes in scratch's storage. It verifies the checksum
// before decompressing, and never allocates beyond wantRaw.
func decodeChunk(chunk []byte, wantRaw int, scratch []byte) ([]byte, error) {
	if len(chunk) < chunkHeaderLen {
		return nil, fmt.Errorf("chunk of %d bytes is shorter than its header: %w", len(chunk), ErrCorrupt)
	}
	h := parseChunkHeader(chunk)
	payload := chunk[chunkHeaderLen:]
	if int64(h.stored) != int64(len(payload)) {
		return nil, fmt.Errorf("header says %d stored bytes, have %d: %w", h.stored, len(payload), ErrCorrupt)
	}
	if int(h.raw) != wantRaw {
		return nil, fmt.Errorf("header says %d raw bytes, want %d: %w", h.raw, wantRaw, ErrCorrupt)
	}
	if got := checksum(payload); got != h.crc {
		return nil, fmt.Errorf("checksum %08x, header says %08x: %w", got, h.crc, ErrCorrupt)
	}
	if !h.codec.valid() {
		return nil, fmt.Errorf("codec byte %d: %w", h.codec, ErrCorrupt)
	}
	return decompress(h.codec, scratch, payload, wantRaw)
}

// rawToElements converts n stored values in raw to field elements.
func rawToElements(dt DType, dst []field.Element, raw []byte) error {
	n := len(raw) / dt.Size()
	dst = dst[:n]
	switch dt {
	case Int8, Int16, Int32, Int64:
		field.FromIntsLE(dst, raw, dt.Size())
	case Field:
		if err := field.FromLE(dst, raw); err != nil {
			return fmt.Errorf("%v: %w", err, ErrCorrupt)
		}
	default:
		return fmt.Errorf("dtype %v: %w", dt, ErrFormat)
	}
	return nil
}

// rawToInt64s converts the stored values of an integer dtype to int64.
func rawToInt64s(dt DType, dst []int64, raw []byte) error {
	n := len(raw) / dt.Size()
	dst = dst[:n]
	switch dt {
	case Int8:
		for i, v := range bytesAsInt8(raw) {
			dst[i] = int64(v)
		}
	case Int16:
		for i := range dst {
			dst[i] = int64(int16(binary.LittleEndian.Uint16(raw[2*i:])))
		}
	case Int32:
		for i := range dst {
			dst[i] = int64(int32(binary.LittleEndian.Uint32(raw[4*i:])))
		}
	case Int64:
		for i := range dst {
			dst[i] = int64(binary.LittleEndian.Uint64(raw[8*i:]))
		}
	default:
		return fmt.Errorf("dtype %v is not an integer dtype: %w", dt, ErrFormat)
	}
	return nil
}

func bytesAsInt8(b []byte) []int8 {
	if len(b) == 0 {
		return nil
	}
	return unsafe.Slice((*int8)(unsafe.Pointer(&b[0])), len(b))
}

func int8sAsBytes(s []int8) []byte {
	if len(s) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&s[0])), len(s))
}
