package tensorstore

import (
	"fmt"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/streamprove/streamprove/field"
)

// benchData returns n values of a kind seen in quantized models: int8 weights (roughly normal,
// σ≈24, clipped), int32 accumulators (σ≈10^4) and random field elements (folded tables,
// commitments' randomness: incompressible).
func benchData(kind string, n int) (DType, []int64, []field.Element) {
	r := rand.New(rand.NewPCG(7, 7))
	switch kind {
	case "int8":
		v := make([]int64, n)
		for i := range v {
			v[i] = max(-128, min(127, int64(r.NormFloat64()*24)))
		}
		return Int8, v, nil
	case "int8relu": // activations after ReLU: half zeros
		v := make([]int64, n)
		for i := range v {
			v[i] = max(0, min(127, int64(r.NormFloat64()*24)))
		}
		return Int8, v, nil
	case "int32":
		v := make([]int64, n)
		for i := range v {
			v[i] = int64(r.NormFloat64() * 1e4)
		}
		return Int32, v, nil
	}
	return Field, nil, randField(r, n)
}

var benchKinds = []string{"int8", "int8relu", "int32", "field"}

// BenchmarkCodec measures one 2^16-element chunk's compression and decompression, in MB/s of
// raw stored bytes, and the stored bytes per element.
func BenchmarkCodec(b *testing.B) {
	const n = 1 << 16
	for _, kind := range benchKinds {
		dt, ints, elems := benchData(kind, n)
		raw := make([]byte, n*dt.Size())
		if dt == Field {
			field.PutLE(raw, elems)
		} else {
			encodeInts(dt, raw, ints)
		}
		for _, c := range []Codec{CodecS2, CodecZstd} {
			comp, _ := compress(c, nil, raw)
			b.Run(fmt.Sprintf("%s/%v/encode", kind, c), func(b *testing.B) {
				b.SetBytes(int64(len(raw)))
				dst := make([]byte, 0, len(raw)+1024)
				for b.Loop() {
					dst, _ = compress(c, dst, raw)
				}
				b.ReportMetric(float64(len(comp))/n, "B/elem")
			})
			b.Run(fmt.Sprintf("%s/%v/decode", kind, c), func(b *testing.B) {
				b.SetBytes(int64(len(raw)))
				dst := make([]byte, len(raw))
				for b.Loop() {
					if _, err := decompress(c, dst, comp, len(raw)); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(len(comp))/n, "B/elem")
			})
		}
		// for the record: what a slower zstd level would buy (not offered as a codec)
		b.Run(kind+"/zstd-better/encode", func(b *testing.B) {
			enc, _ := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedBetterCompression), zstd.WithEncoderConcurrency(1))
			b.SetBytes(int64(len(raw)))
			var dst []byte
			for b.Loop() {
				dst = enc.EncodeAll(raw, dst[:0])
			}
			b.ReportMetric(float64(len(dst))/n, "B/elem")
		})
	}
}

func encodeInts(dt DType, raw []byte, v []int64) {
	// a writer whose chunk is one longer than v never flushes: it only encodes into raw
	w := &Writer{info: Info{Name: "bench", DType: dt, ChunkElems: len(v) + 1, Len: int64(len(v))}, raw: raw}
	if err := w.WriteInt64s(v); err != nil {
		panic(err)
	}
}

const benchLen = 1 << 21

func benchWrite(b *testing.B, s *Store, name, kind string, c Codec) Info {
	dt, ints, elems := benchData(kind, benchLen)
	w, err := s.Create(name, []int{benchLen}, dt, WriteOptions{Codec: c, Replace: true})
	if err != nil {
		b.Fatal(err)
	}
	if elems != nil {
		err = w.WriteElements(elems)
	} else {
		err = w.WriteInt64s(ints)
	}
	if err != nil {
		b.Fatal(err)
	}
	in, err := w.Commit()
	if err != nil {
		b.Fatal(err)
	}
	return in
}

// BenchmarkWrite measures Create+Write+Commit of a 2^21-element tensor, in MB/s of field
// elements (32 bytes each) accepted, with the file's bytes per element.
func BenchmarkWrite(b *testing.B) {
	for _, kind := range benchKinds {
		for _, c := range []Codec{CodecS2, CodecZstd} {
			b.Run(kind+"/"+c.String(), func(b *testing.B) {
				s := openTemp(b)
				var in Info
				b.SetBytes(benchLen * field.Bytes)
				for b.Loop() {
					in = benchWrite(b, s, "t", kind, c)
				}
				b.ReportMetric(float64(in.StoredBytes)/benchLen, "B/elem")
			})
		}
	}
}

// BenchmarkRead measures a full Source pass (read, checksum, decompress, convert to field
// elements, prefetched on a goroutine), in MB/s of field elements delivered.
func BenchmarkRead(b *testing.B) {
	for _, kind := range benchKinds {
		for _, c := range []Codec{CodecS2, CodecZstd} {
			b.Run(kind+"/"+c.String(), func(b *testing.B) {
				s := openTemp(b)
				in := benchWrite(b, s, "t", kind, c)
				tn, err := s.Tensor("t")
				if err != nil {
					b.Fatal(err)
				}
				defer tn.Close()
				buf := make([]field.Element, 1<<14)
				b.SetBytes(benchLen * field.Bytes)
				for b.Loop() {
					st, _ := tn.Source().Open()
					for {
						if _, err := st.Next(buf); err == io.EOF {
							break
						} else if err != nil {
							b.Fatal(err)
						}
					}
					st.Close()
				}
				b.ReportMetric(float64(in.StoredBytes)/benchLen, "B/elem")
			})
		}
	}
}

// BenchmarkFieldMul is the yardstick for the decode numbers: one field multiplication per
// element (a fold costs one, an inner product one plus an add), in MB/s of 32-byte elements.
func BenchmarkFieldMul(b *testing.B) {
	const n = 1 << 16
	r := rand.New(rand.NewPCG(1, 1))
	x, y := randField(r, n), randField(r, n)
	b.Run("mul", func(b *testing.B) {
		b.SetBytes(n * field.Bytes)
		for b.Loop() {
			for i := range x {
				x[i].Mul(&x[i], &y[i])
			}
		}
	})
	b.Run("innerproduct", func(b *testing.B) {
		b.SetBytes(n * field.Bytes)
		for b.Loop() {
			_ = field.InnerProduct(x, y)
		}
	})
	b.Run("fromint8", func(b *testing.B) {
		v := make([]int8, n)
		for i := range v {
			v[i] = int8(r.IntN(256))
		}
		b.SetBytes(n * field.Bytes)
		for b.Loop() {
			field.FromInts(x, v)
		}
	})
}

// BenchmarkConvert compares the table conversion of stored integers to field elements with
// SetInt64 per element.
func BenchmarkConvert(b *testing.B) {
	const n = 1 << 16
	dst := make([]field.Element, n)
	for _, dt := range []DType{Int8, Int16, Int32, Int64} {
		_, ints, _ := benchData("int32", n)
		lo, hi := dt.Bounds()
		for i := range ints {
			ints[i] = max(lo, min(hi, ints[i]))
		}
		raw := make([]byte, n*dt.Size())
		encodeInts(dt, raw, ints)
		b.Run(dt.String()+"/table", func(b *testing.B) {
			b.SetBytes(n * field.Bytes)
			for b.Loop() {
				rawToElements(dt, dst, raw)
			}
		})
	}
	b.Run("int8/SetInt64", func(b *testing.B) {
		v := bytesAsInt8(make([]byte, n))
		b.SetBytes(n * field.Bytes)
		for b.Loop() {
			for i, x := range v {
				dst[i].SetInt64(int64(x))
			}
		}
	})
}
