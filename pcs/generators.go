package pcs

import (
	"encoding/binary"
	"fmt"
	"sync"

	"github.com/consensys/gnark-crypto/ecc/bn254"

	"github.com/streamprove/streamprove/field"
)

// generatorDST is the hash-to-curve domain separation tag of the Hyrax generators. Changing it
// changes every commitment: it is part of the format (version 1).
const generatorDST = "streamprove/pcs/hyrax/v1/generators"

// G_j does not depend on the row length, so one growing slice serves every b: the generators of
// a 2^b-column commitment are the first 2^b entries. That is also what lets a batch mix
// commitments of different b in one MSM.
var genCache struct {
	mu  sync.Mutex
	pts []bn254.G1Affine
}

// generators returns G_0..G_{2^b−1}, G_j = HashToG1("G" ‖ uint64_be(j), generatorDST),
// deriving and caching them for the life of the process. Callers must not modify the result.
func generators(b int) ([]bn254.G1Affine, error) {
	if b < 0 || b > MaxColumnLog {
		return nil, fmt.Errorf("pcs: generators for 2^%d columns (max 2^%d)", b, MaxColumnLog)
	}
	m := 1 << b
	genCache.mu.Lock()
	defer genCache.mu.Unlock()
	if len(genCache.pts) >= m {
		return genCache.pts[:m:m], nil
	}
	old := len(genCache.pts)
	pts := make([]bn254.G1Affine, m)
	copy(pts, genCache.pts)
	var firstErr error
	var errMu sync.Mutex
	field.Parallel(m-old, 0, func(start, end int) {
		var msg [9]byte
		msg[0] = 'G'
		for j := old + start; j < old+end; j++ {
			binary.BigEndian.PutUint64(msg[1:], uint64(j))
			p, err := bn254.HashToG1(msg[:], []byte(generatorDST))
			if err != nil {
				errMu.Lock()
				if firstErr == nil {
					firstErr = fmt.Errorf("pcs: generator %d: %w", j, err)
				}
				errMu.Unlock()
				return
			}
			pts[j] = p
		}
	})
	if firstErr != nil {
		return nil, firstErr
	}
	genCache.pts = pts
	return pts[:m:m], nil
}
