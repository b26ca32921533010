// Package tensorstore owns tensors on disk (DESIGN §5): a store is a directory holding
// catalog.db (bbolt: each tensor's shape, dtype, codec, chunking and chunk index, plus small
// meta values such as commitments and run state) and one segment file per tensor,
// tensors/<id>.chk, of independently decodable chunks, each with a CRC32-Castagnoli that is
// checked before a byte is decoded. Tensors are stored in the narrowest integer dtype that holds
// them (or as canonical little-endian field elements) and compressed with s2 or zstd. A Writer
// writes one chunk at a time to a temporary file that is fsynced and renamed before a single
// bbolt transaction makes the tensor visible; Open removes what a crashed writer left. Readers
// give random access to chunks (ReadChunk, ReadChunkInt64) and sequential streams: Source is a
// tensor's multilinear-extension order (the flat row-major vector over the shape padded to
// powers of two, zeros in the padding), RawSource and Ints the unpadded data. The package also
// imports integer tensors from safetensors and .npy files, validating every header field
// against the file size.
//
// It does not know about proofs, kernels or graphs, and it holds no tensor whole in memory:
// a stream keeps at most its prefetch depth plus one decoded chunk, charged to an optional
// spill.Budget. Files are read with pread (os.File.ReadAt) into buffers reused for the life of
// a stream, not mmapped: every touched page of a mapping counts in the process's RSS until it is
// unmapped or MADV_DONTNEED'd (DESIGN §5), whereas the page cache behind pread does not, so RSS
// stays flat however large the file, with no unmap/madvise bookkeeping and no SIGBUS when a
// file is truncated under a reader. Chunks are at most a few MiB, so the extra copy out of the
// page cache is small next to decompression and the int→field conversion (see the benchmarks).
package tensorstore
