package tensorstore

import (
	"fmt"
	"strings"
	"sync"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
)

// Codec is the compression applied to a chunk's raw little-endian bytes. It is recorded per
// chunk (in the chunk header) and per tensor (in the catalog).
type Codec uint8

// The codecs. CodecDefault (the zero value) in WriteOptions means DefaultCodec.
const (
	CodecDefault Codec = iota
	CodecNone
	CodecS2
	CodecZstd
)

// DefaultCodec is s2. Measured on this 2-core machine (BenchmarkCodec, chunks of 2^16
// elements; MB/s of raw stored bytes, stored bytes per element):
//
//	int8 random      s2 enc ~2200 MB/s dec ~5000+ MB/s 1.00 B/elem | zstd enc ~1300 dec ~1500 MB/s ~1.00 B/elem
//	int8 small(|x|<8)s2 ~900/1400 MB/s 0.62 B/elem               | zstd ~350/800 MB/s 0.47 B/elem
//	int32 small      s2 ~1500/2500 MB/s                          | zstd ~700/1100 MB/s, ~25% smaller
//	field random     both store ~32 B/elem (incompressible); s2 passes it through much faster.
//
// s2 keeps up with the disk while zstd is 2–4× slower for a 10–25% smaller file, and decoding
// (which every prover pass pays) matters more than size. See the report numbers in
// codec_bench_test.go for this machine.
const DefaultCodec = CodecS2

var codecNames = [...]string{CodecNone: "none", CodecS2: "s2", CodecZstd: "zstd"}

// String returns "none", "s2" or "zstd".
func (c Codec) String() string {
	if c >= CodecNone && c <= CodecZstd {
		return codecNames[c]
	}
	if c == CodecDefault {
		return "default"
	}
	return fmt.Sprintf("codec(%d)", uint8(c))
}

// ParseCodec reads "none", "s2", "zstd" (or "" / "default" for DefaultCodec).
func ParseCodec(s string) (Codec, error) {
	switch strings.ToLower(s) {
	case "", "default":
		return DefaultCodec, nil
	case "none", "raw":
		return CodecNone, nil
	case "s2":
		return CodecS2, nil
	case "zstd":
		return CodecZstd, nil
	}
	return 0, fmt.Errorf("codec %q: want none, s2 or zstd: %w", s, ErrFormat)
}

func (c Codec) valid() bool { return c >= CodecNone && c <= CodecZstd }

// maxChunkRaw bounds a chunk's raw bytes: 2^24 field elements. It also bounds what a decoder
// will allocate for a chunk whatever its header claims.
const maxChunkRaw = 1 << 29

var zstdEnc = sync.OnceValues(func() (*zstd.Encoder, error) {
	return zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1),
		zstd.WithZeroFrames(true))
})

var zstdDec = sync.OnceValues(func() (*zstd.Decoder, error) {
	return zstd.NewReader(nil, zstd.WithDecoderConcurrency(0), zstd.WithDecoderMaxMemory(maxChunkRaw),
		zstd.WithDecoderLowmem(true))
})

const zstdSmall = 256

var zstdDecSmall = sync.OnceValues(func() (*zstd.Decoder, error) {
	return zstd.NewReader(nil, zstd.WithDecoderConcurrency(0), zstd.WithDecoderMaxMemory(64<<10),
		zstd.WithDecoderLowmem(true))
})

// compress appends the encoding of raw under c to dst[:0] and returns it.
func compress(c Codec, dst, raw []byte) ([]byte, error) {
	switch c {
	case CodecNone:
		return append(dst[:0], raw...), nil
	case CodecS2:
		if n := s2.MaxEncodedLen(len(raw)); cap(dst) < n {
			dst = make([]byte, n)
		}
		return s2.Encode(dst[:cap(dst)], raw), nil
	case CodecZstd:
		enc, err := zstdEnc()
		if err != nil {
			return nil, err
		}
		return enc.EncodeAll(raw, dst[:0]), nil
	}
	return nil, fmt.Errorf("codec %d: %w", c, ErrFormat)
}

// decompress decodes stored into dst[:0] (growing it if needed) and checks that it yields
// exactly rawLen bytes; it never allocates more than rawLen bytes whatever stored claims.
func decompress(c Codec, dst, stored []byte, rawLen int) ([]byte, error) {
	if rawLen < 0 || rawLen > maxChunkRaw {
		return nil, fmt.Errorf("raw length %d: %w", rawLen, ErrCorrupt)
	}
	if cap(dst) < rawLen {
		dst = make([]byte, rawLen)
	}
	switch c {
	case CodecNone:
		if len(stored) != rawLen {
			return nil, fmt.Errorf("%d stored bytes for %d raw bytes: %w", len(stored), rawLen, ErrCorrupt)
		}
		return append(dst[:0], stored...), nil
	case CodecS2:
		n, err := s2.DecodedLen(stored)
		if err != nil || n != rawLen {
			return nil, fmt.Errorf("s2 block of %d bytes (want %d): %w", n, rawLen, ErrCorrupt)
		}
		out, err := s2.Decode(dst[:rawLen], stored)
		if err != nil {
			return nil, fmt.Errorf("s2: %v: %w", err, ErrCorrupt)
		}
		return out, nil
	case CodecZstd:
		// Check the declared size before decoding so a lying frame cannot make DecodeAll
		// allocate. The encoder omits the size for inputs under 256 bytes; those go to a
		// decoder whose output (and window) is capped at 64 KiB.
		var h zstd.Header
		if err := h.Decode(stored); err != nil || (h.HasFCS && h.FrameContentSize != uint64(rawLen)) ||
			(!h.HasFCS && rawLen >= zstdSmall) {
			return nil, fmt.Errorf("zstd frame header (want %d bytes): %w", rawLen, ErrCorrupt)
		}
		get := zstdDec
		if !h.HasFCS {
			get = zstdDecSmall
		}
		dec, err := get()
		if err != nil {
			return nil, err
		}
		out, err := dec.DecodeAll(stored, dst[:0])
		if err != nil {
			return nil, fmt.Errorf("zstd: %v: %w", err, ErrCorrupt)
		}
		if len(out) != rawLen {
			return nil, fmt.Errorf("zstd gave %d bytes, want %d: %w", len(out), rawLen, ErrCorrupt)
		}
		return out, nil
	}
	return nil, fmt.Errorf("codec byte %d: %w", c, ErrCorrupt)
}
