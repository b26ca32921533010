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

// DefaultCodec is s2, picked from BenchmarkCodec and BenchmarkRead on this 2-core machine
// (chunks of 2^16 elements; codec MB/s of raw stored bytes; B/elem on disk):
//
//	data                         s2 enc / dec / B/elem       zstd-fastest enc / dec / B/elem
//	int8 weights (normal, σ=24)  9300 / 38000 / 1.00         5700 /  7400 / 1.00
//	int8 ReLU output (½ zeros)    610 /  3800 / 0.88          120 /   920 / 0.51
//	int32 accumulators (σ=1e4)   8800 / 56000 / 4.00         5500 / 11000 / 4.00
//	random field elements       37600 / 19000 / 32.0         4700 / 10500 / 32.0
//
// zstd at SpeedFastest compresses dense quantized data no better than s2 (neither entropy-codes
// it; SpeedBetterCompression reaches 0.83 B/elem on int8 and 2.7 on int32 but encodes at
// 60–460 MB/s), and is 4–5× slower to decode. It wins clearly only on sparse data (ReLU
// outputs: 0.51 vs 0.88 B/elem), where a full Source pass still delivers 11 GB/s of field
// elements against s2's 13.6. Decoding is paid on every prover pass, so s2 is the default;
// choose zstd per tensor for sparse activations on a slow disk.
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
