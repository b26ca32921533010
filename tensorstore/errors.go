package tensorstore

import "errors"

// Sentinel errors. Every error the package returns wraps one of these when the caller can act on
// it, with context naming the tensor, chunk, file and reason.
var (
	// ErrCorrupt reports stored bytes that fail their checksum or do not decode: the disk (or
	// someone) changed a file. Never a wrong value.
	ErrCorrupt = errors.New("tensorstore: corrupt data")
	// ErrNotFound reports a tensor or meta key that is not in the catalog.
	ErrNotFound = errors.New("tensorstore: not found")
	// ErrExists reports a Create of a name that is already committed (without Replace).
	ErrExists = errors.New("tensorstore: already exists")
	// ErrFormat reports an input (a safetensors or .npy file, a shape, a dtype) that is
	// malformed or unsupported.
	ErrFormat = errors.New("tensorstore: bad format")
	// ErrRange reports a value that does not fit the tensor's dtype.
	ErrRange = errors.New("tensorstore: value out of range")
	// ErrClosed reports use of a closed writer, tensor or stream.
	ErrClosed = errors.New("tensorstore: closed")
)
