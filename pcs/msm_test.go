package pcs

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/consensys/gnark-crypto/ecc/bn254"

	"github.com/streamprove/streamprove/field"
)

// smallRow draws m integers in [lo, hi], with the extremes and zeros planted.
func smallRow(rng *rand.Rand, m int, lo, hi int64) []int64 {
	s := make([]int64, m)
	for j := range s {
		switch j % 7 {
		case 0:
			s[j] = lo
		case 1:
			s[j] = hi
		case 2:
			s[j] = 0
		default:
			s[j] = lo + int64(rng.Uint64N(uint64(hi-lo+1)))
		}
	}
	rng.Shuffle(m, func(a, b int) { s[a], s[b] = s[b], s[a] })
	return s
}

func TestSmallMSMEqualsMultiExp(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	gens, err := generators(10)
	if err != nil {
		t.Fatal(err)
	}
	ranges := []struct{ lo, hi int64 }{
		{-128, 127}, {-32768, 32767}, {0, 0}, {-1, -1}, {0, 255}, {-1 << 31, 1<<31 - 1}, {1, 1}, {-5, 3}, {-(1<<62 - 1), 1<<62 - 1},
	}
	for _, r := range ranges {
		for _, m := range []int{1, 2, 7, 64, 1000, 1024} {
			t.Run(fmt.Sprintf("[%d,%d]/m=%d", r.lo, r.hi, m), func(t *testing.T) {
				s := smallRow(rng, m, r.lo, r.hi)
				row := make([]field.Element, m)
				field.FromInts(row, s)
				want := plainMSM(t, gens, row)

				w := newRowWorker(10)
				var got bn254.G1Affine
				w.commitRow(&got, gens, row)
				if !got.Equal(&want) {
					t.Fatal("commitRow differs from MultiExp")
				}
				// Every window width must give the same answer, not just the one msmWindow picks.
				var or uint64
				for _, v := range s {
					if v < 0 {
						or |= uint64(-v)
					} else {
						or |= uint64(v)
					}
				}
				nb := 0
				for or>>nb != 0 {
					nb++
				}
				buckets := make([]bn254.G1Jac, 1<<w.maxC)
				for c := 1; c <= w.maxC; c += 3 {
					var res, ref bn254.G1Jac
					msmSmall(&res, gens[:m], s, nb, w.sc, c)
					msmSmallJacobian(&ref, gens[:m], s, nb, buckets, c)
					var a, r bn254.G1Affine
					a.FromJacobian(&res)
					r.FromJacobian(&ref)
					if !a.Equal(&want) || !r.Equal(&want) {
						t.Fatalf("window cap %d differs from MultiExp", c)
					}
				}
			})
		}
	}
}

func TestSmallInt(t *testing.T) {
	for _, v := range []int64{0, 1, -1, 127, -128, 1<<62 - 1, -(1<<62 - 1)} {
		e := field.NewInt(v)
		got, ok := smallInt(&e)
		if !ok || got != v {
			t.Fatalf("smallInt(%d) = %d, %v", v, got, ok)
		}
	}
	for _, v := range []int64{1 << 62, -(1 << 62)} {
		e := field.NewInt(v)
		if _, ok := smallInt(&e); ok {
			t.Fatalf("smallInt(%d) accepted", v)
		}
	}
	rng := rand.New(rand.NewPCG(1, 1))
	e := randElement(rng)
	if _, ok := smallInt(&e); ok {
		t.Fatal("random element read as small")
	}
}

// TestTranscriptBindsEverything: ρ must change when any absorbed part of the batch changes, or a
// prover could choose u after seeing ρ.
func TestTranscriptBindsEverything(t *testing.T) {
	rng := rand.New(rand.NewPCG(23, 24))
	claims := batch(t, rng)
	op, err := Open(newTr(), claims, Options{})
	if err != nil {
		t.Fatal(err)
	}
	base := transcribe(newTr(), claims, op.U)
	mutations := map[string]func(cs []Claim, us [][]field.Element){
		"u":          func(cs []Claim, us [][]field.Element) { us[3][0].SetUint64(9) },
		"value":      func(cs []Claim, us [][]field.Element) { cs[0].Value.SetUint64(9) },
		"point":      func(cs []Claim, us [][]field.Element) { cs[1].Point = randPoint(rng, 7) },
		"commitment": func(cs []Claim, us [][]field.Element) { cs[0].Commitment = cs[1].Commitment },
		"order":      func(cs []Claim, us [][]field.Element) { cs[0], cs[2] = cs[2], cs[0] },
	}
	for name, mut := range mutations {
		cs := append([]Claim(nil), claims...)
		us := make([][]field.Element, len(op.U))
		for i := range us {
			us[i] = append([]field.Element(nil), op.U[i]...)
		}
		mut(cs, us)
		if rho := transcribe(newTr(), cs, us); rho.Equal(&base) {
			t.Errorf("changing the %s leaves ρ unchanged", name)
		}
	}
}

// TestSmallMSMDegenerateAdditions feeds the small MSM repeated points, so the batch-affine
// tree meets P + P, P + (−P) and sums that reach the point at infinity — cases honest
// generators never produce but the addition must still get right.
func TestSmallMSMDegenerateAdditions(t *testing.T) {
	gens, err := generators(2)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(51, 52))
	for trial := 0; trial < 50; trial++ {
		m := 1 + rng.IntN(400) // up to ~200 pairs per level: both the scalar and the vector path
		pts := make([]bn254.G1Affine, m)
		s := make([]int64, m)
		row := make([]field.Element, m)
		for j := range pts {
			pts[j] = gens[rng.IntN(2)]
			if rng.IntN(3) == 0 {
				pts[j].Neg(&pts[j])
			}
			s[j] = int64(rng.IntN(9)) - 4
			row[j] = field.NewInt(s[j])
		}
		want := plainMSM(t, pts, row)
		var nb int
		for _, v := range s {
			if v < 0 {
				v = -v
			}
			for v>>nb != 0 {
				nb++
			}
		}
		sc := newMSMScratch(9, 4)
		for c := 1; c <= 4; c++ {
			var res bn254.G1Jac
			msmSmall(&res, pts, s, nb, sc, c)
			var got bn254.G1Affine
			got.FromJacobian(&res)
			if !got.Equal(&want) {
				t.Fatalf("trial %d, window %d: differs from MultiExp", trial, c)
			}
		}
	}
}

func TestWideMSMEqualsMultiExp(t *testing.T) {
	gens, err := generators(9)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(61, 62))
	var half field.Element // (p−1)/2, the largest "positive" value
	half.SetInt64(-1)
	var two field.Element
	two.SetUint64(2)
	two.Inverse(&two)
	half.Mul(&half, &two)
	var halfPlus1 field.Element
	halfPlus1.Add(&half, ptr(field.One()))
	for _, m := range []int{1, 3, 64, 512} {
		row := make([]field.Element, m)
		for j := range row {
			switch j % 6 {
			case 0:
				row[j] = half
			case 1:
				row[j] = halfPlus1
			case 2:
				row[j] = field.NewInt(-1)
			default:
				row[j] = randElement(rng)
			}
		}
		rng.Shuffle(m, func(a, b int) { row[a], row[b] = row[b], row[a] })
		want := plainMSM(t, gens, row)
		sc := newMSMScratch(9, maxWindow(9))
		for _, c := range []int{2, 5, 7, 10} {
			var res bn254.G1Jac
			msmWide(&res, gens[:m], row, sc, c)
			var got bn254.G1Affine
			got.FromJacobian(&res)
			if !got.Equal(&want) {
				t.Fatalf("m=%d window cap %d: differs from MultiExp", m, c)
			}
		}
	}
}

// The verifier's MSM in pieces (msmPieces, msmParallel) equals MultiExp over the whole input,
// for inputs added in runs of every size around the piece length, and for tiny pieces.
func TestMSMPiecesEqualMultiExp(t *testing.T) {
	gens, err := generators(9)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(71, 72))
	row := make([]field.Element, len(gens))
	for j := range row {
		row[j] = randElement(rng)
	}
	want := plainMSM(t, gens, row)
	defer func(p int) { verifyMSMPiece = p }(verifyMSMPiece)
	for _, piece := range []int{1, 2, 7, 64, 1 << 18} {
		verifyMSMPiece = piece
		for _, runs := range [][]int{{512}, {1, 2, 3, 506}, {7, 7, 7, 491}, {100, 1, 300, 111}} {
			var acc bn254.G1Jac
			m := &msmPieces{acc: &acc}
			off := 0
			for _, n := range runs {
				m.add(gens[off:off+n], row[off:off+n])
				off += n
			}
			m.flush()
			var got bn254.G1Affine
			got.FromJacobian(&acc)
			if !got.Equal(&want) {
				t.Fatalf("piece %d, runs %v: differs from MultiExp", piece, runs)
			}
		}
	}
}

// transcribe runs a batch's whole Fiat–Shamir order and returns ρ.
func transcribe(tr *field.Transcript, claims []Claim, us [][]field.Element) field.Element {
	if _, err := transcribeClaims(tr, claims); err != nil {
		panic(err)
	}
	return transcribeVectors(tr, us)
}
