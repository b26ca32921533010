package pcs

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/streamprove/streamprove/field"
)

// padShapes covers 1-D, 2-D, 3-D, split dimensions, splits at dimension boundaries, rows made of
// several dimensions, every column log, and shapes with nothing padded.
var padShapes = [][]int{{10}, {7}, {1}, {5, 3}, {10, 12}, {3, 5, 7}, {2, 3, 9}, {16, 3}, {4, 8}, {6, 1, 5}, {33}}

// realIndexSet lists the padded flat indices of the real positions of shape.
func realIndexSet(shape []int) map[uint64]bool {
	out := map[uint64]bool{}
	idx := make([]int, len(shape))
	for {
		var f uint64
		for k, d := range shape {
			f = f*uint64(field.NextPow2(int64(d))) + uint64(idx[k])
		}
		out[f] = true
		k := len(shape) - 1
		for k >= 0 {
			idx[k]++
			if idx[k] < shape[k] {
				break
			}
			idx[k] = 0
			k--
		}
		if k < 0 {
			return out
		}
	}
}

func numVarsOf(shape []int) int {
	n := 0
	for _, d := range shape {
		k, _ := field.Log2(field.NextPow2(int64(d)))
		n += k
	}
	return n
}

// TestPadLayout checks the row classes and column sets against the definition: position
// (i, j) is real exactly when row i's class is not 0 and j is valid for that class.
func TestPadLayout(t *testing.T) {
	for _, shape := range padShapes {
		n := numVarsOf(shape)
		real := realIndexSet(shape)
		for b := 0; b <= n; b++ {
			p, err := newPadLayout(shape, n, b)
			if err != nil {
				t.Fatal(err)
			}
			for i := uint64(0); i < 1<<(n-b); i++ {
				c := p.rowClass(i)
				for j := uint64(0); j < 1<<b; j++ {
					if got, want := c != 0 && p.colValid(c, j), real[i<<b|j]; got != want {
						t.Fatalf("shape %v b=%d: position (%d,%d) real=%v, layout says %v", shape, b, i, j, want, got)
					}
				}
			}
			if !HasPadding(shape) && len(p.vecs) != 0 {
				t.Fatalf("shape %v b=%d: no padding but %d vectors", shape, b, len(p.vecs))
			}
		}
	}
	if _, err := newPadLayout([]int{10, 12}, 7, 3); !errors.Is(err, ErrClaim) {
		t.Fatalf("wrong variable count: %v", err)
	}
	if _, err := newPadLayout([]int{0, 3}, 2, 1); !errors.Is(err, ErrClaim) {
		t.Fatalf("zero dimension: %v", err)
	}
}

// paddedTensor lays random real values of shape out in its padded order; the padding is zero.
func paddedTensor(rng *rand.Rand, shape []int) field.SliceSource {
	n := numVarsOf(shape)
	src := make(field.SliceSource, 1<<n)
	for f := range realIndexSet(shape) {
		src[f] = field.NewInt(int64(rng.IntN(255)) - 127)
	}
	return src
}

// TestPaddingCompleteness: zero-padded tensors pass, alone and batched with point claims on the
// same and other commitments, for every column log.
func TestPaddingCompleteness(t *testing.T) {
	rng := rand.New(rand.NewPCG(41, 42))
	for _, shape := range padShapes {
		n := numVarsOf(shape)
		for b := 0; b <= min(n, 6); b++ {
			t.Run(fmt.Sprintf("%v/b=%d", shape, b), func(t *testing.T) {
				src := paddedTensor(rng, shape)
				com, err := Commit(src, Options{ColumnLog: b})
				if err != nil {
					t.Fatal(err)
				}
				claims := []Claim{
					claimFor(t, com, src, randPoint(rng, n)),
					{Commitment: com, Source: src, ZeroOutside: shape},
				}
				proveAndCheck(t, claims, Options{})
				proveAndCheck(t, claims[1:], Options{})
			})
		}
	}
}

// cheatOpen builds the opening an honest Open would build for claims, without Open's check that
// the padding is zero: what a cheating prover that hid data in the padding would send.
func cheatOpen(t *testing.T, claims []Claim) *Opening {
	t.Helper()
	op, err := Open(newTr(), claims, Options{SkipProverChecks: true})
	if err != nil {
		t.Fatal(err)
	}
	return op
}

// TestPaddingSoundness puts one non-zero value in each padded position in turn (the hidden
// neuron of issue 10): Open refuses to prove it, and the opening a cheater builds anyway — honest
// vectors of the cheating data, or vectors with the padding rows' share removed — is rejected.
func TestPaddingSoundness(t *testing.T) {
	rng := rand.New(rand.NewPCG(43, 44))
	for _, tc := range []struct {
		shape []int
		b     int
	}{{[]int{10}, 2}, {[]int{10, 12}, 4}, {[]int{10, 12}, 2}, {[]int{3, 5, 7}, 4}, {[]int{6, 1, 5}, 3}, {[]int{7}, 3}, {[]int{7}, 0}} {
		n := numVarsOf(tc.shape)
		real := realIndexSet(tc.shape)
		for f := uint64(0); f < 1<<n; f++ {
			if real[f] {
				continue
			}
			src := paddedTensor(rng, tc.shape)
			src[f] = field.NewInt(int64(1 + rng.IntN(100)))
			com, err := Commit(src, Options{ColumnLog: tc.b})
			if err != nil {
				t.Fatal(err)
			}
			claims := []Claim{{Commitment: com, Source: src, ZeroOutside: tc.shape}}
			if _, err := Open(newTr(), claims, Options{}); !errors.Is(err, ErrClaim) {
				t.Fatalf("%v b=%d, padding %d set: Open: %v, want ErrClaim", tc.shape, tc.b, f, err)
			}
			op := cheatOpen(t, claims)
			if err := Verify(newTr(), verifierClaims(claims), op); !errors.Is(err, ErrBadProof) {
				t.Fatalf("%v b=%d, padding %d set: verify accepted the honest vectors of bad data: %v", tc.shape, tc.b, f, err)
			}
			// Drop the bad row's contribution from its vector: the sum is then zero, but the
			// vector no longer matches the row commitments.
			row, col := f>>tc.b, f&(1<<tc.b-1)
			bt, _ := transcribeClaims(newTr(), verifierClaims(claims))
			for k, v := range bt.vecs {
				if v.pad.rowClass(row) == v.class {
					w := v.weight(row)
					var d field.Element
					d.Mul(&w, &src[f])
					op.U[k][col].Sub(&op.U[k][col], &d)
				}
			}
			if err := Verify(newTr(), verifierClaims(claims), op); !errors.Is(err, ErrBadProof) {
				t.Fatalf("%v b=%d, padding %d set: verify accepted vectors that hide the padding: %v", tc.shape, tc.b, f, err)
			}
		}
	}
}

// TestPaddingTranscript: a padding claim's shape is absorbed, so a proof for one shape does not
// verify for another of the same size.
func TestPaddingTranscript(t *testing.T) {
	rng := rand.New(rand.NewPCG(45, 46))
	src := paddedTensor(rng, []int{5, 3})
	com, err := Commit(src, Options{ColumnLog: 2})
	if err != nil {
		t.Fatal(err)
	}
	op, err := Open(newTr(), []Claim{{Commitment: com, Source: src, ZeroOutside: []int{5, 3}}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := Verify(newTr(), []Claim{{Commitment: com, ZeroOutside: []int{6, 3}}}, op); err == nil {
		t.Fatal("a padding proof for [5 3] verified as [6 3]")
	}
}
