package pcs

import (
	"os"
	"testing"

	"github.com/consensys/gnark-crypto/ecc"
	"github.com/consensys/gnark-crypto/ecc/bn254"

	"github.com/streamprove/streamprove/field"
)

func readFile(p string) ([]byte, error) { return os.ReadFile(p) }

func plainMSM(t testing.TB, gens []bn254.G1Affine, row []field.Element) bn254.G1Affine {
	t.Helper()
	var p bn254.G1Affine
	if _, err := p.MultiExp(gens[:len(row)], row, ecc.MultiExpConfig{}); err != nil {
		t.Fatal(err)
	}
	return p
}

func equalVec(a, b []field.Element) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !a[i].Equal(&b[i]) {
			return false
		}
	}
	return true
}
