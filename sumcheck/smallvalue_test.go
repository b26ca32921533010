package sumcheck

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/streamprove/streamprove/field"
	"github.com/streamprove/streamprove/spill"
)

// intGen is a generated source of 2^n signed integers of the given width that offers them both
// as field elements and as integers (field.IntSource): a quantized tensor that is not in RAM.
type intGen struct {
	n, bits int
	seed    uint64
	lie     int64 // if not 0, OpenInts yields this value at index 5 (a source breaking its Bits)
}

func intValue(seed uint64, i int64, b int) int64 {
	z := seed + uint64(i)*0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	z ^= z >> 31
	return int64(z) >> (64 - b)
}

func (g intGen) Len() int64 { return int64(1) << g.n }
func (g intGen) Bits() int  { return g.bits }

func (g intGen) Open() (field.Stream, error) { return g.openField(), nil }

func (g intGen) OpenInts() (field.IntStream, error) { return &intGenStream{g: g}, nil }

type intGenStream struct {
	g   intGen
	pos int64
	tmp []int64
}

func (s *intGenStream) ints(buf []int64) int {
	rest := s.g.Len() - s.pos
	if int64(len(buf)) > rest {
		buf = buf[:rest]
	}
	if s.g.bits == 8 {
		for i := range buf {
			buf[i] = int64(int8(genValue(s.g.seed, s.pos+int64(i))))
		}
	} else {
		for i := range buf {
			buf[i] = intValue(s.g.seed, s.pos+int64(i), s.g.bits)
		}
	}
	if s.g.lie != 0 && s.pos <= 5 && 5 < s.pos+int64(len(buf)) {
		buf[5-s.pos] = s.g.lie
	}
	s.pos += int64(len(buf))
	return len(buf)
}

func (s *intGenStream) Next(buf []int64) (int, error) {
	if s.pos >= s.g.Len() {
		return 0, io.EOF
	}
	return s.ints(buf), nil
}

// nextElems is the field view: the same values as field elements.
func (s *intGenStream) nextElems(buf []field.Element) (int, error) {
	if s.pos >= s.g.Len() {
		return 0, io.EOF
	}
	if len(s.tmp) < len(buf) {
		s.tmp = make([]int64, len(buf))
	}
	lie := s.g.lie
	s.g.lie = 0
	m := s.ints(s.tmp[:len(buf)])
	s.g.lie = lie
	if s.g.bits == 8 {
		for i, v := range s.tmp[:m] {
			buf[i] = int8Elems[v+128]
		}
	} else {
		for i, v := range s.tmp[:m] {
			buf[i].SetInt64(v)
		}
	}
	return m, nil
}

func (s *intGenStream) Close() error { return nil }

// intGenField adapts an intGenStream opened for field elements to field.Stream.
type intGenField struct{ *intGenStream }

func (s intGenField) Next(buf []field.Element) (int, error) { return s.nextElems(buf) }

func (g intGen) openField() field.Stream { return intGenField{&intGenStream{g: g}} }

// fieldOnly hides an intGen's integers: the same source through the field path only.
type fieldOnly struct{ g intGen }

func (f fieldOnly) Len() int64                  { return f.g.Len() }
func (f fieldOnly) Open() (field.Stream, error) { return f.g.openField(), nil }

// TestSmallValue checks that the small-value rounds give the bytes of the field rounds and of
// the in-memory prover, for product and polynomial gates, with and without eq terms, for every
// window length, under a tiny budget (streaming and spilling) and an unlimited one.
func TestSmallValue(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	for _, n := range []int{1, 2, 3, 5, 9, 12} {
		for _, k := range []int{1, 2, 3} {
			for _, deg := range []int{k, k + 1} {
				for _, neq := range []int{0, 1, 2} {
					for _, b := range []int{2, 8, 16, 30} {
						srcs := make([]field.Source, k)
						fsrcs := make([]field.Source, k)
						tabs := make([][]field.Element, k)
						for j := range srcs {
							g := intGen{n: n, bits: b, seed: rng.Uint64()}
							srcs[j], fsrcs[j] = g, fieldOnly{g}
							tabs[j] = loadSource(t, fsrcs[j])
						}
						var gate Gate = Product(k)
						if deg != k {
							gate = testGate(t, rng, k, deg)
						}
						c := &Claim{NumVars: n, Sources: fsrcs, Gate: gate}
						for i := 0; i < neq; i++ {
							c.Eq = append(c.Eq, EqTerm{Coeff: randElems(rng, 1)[0], Point: randElems(rng, n)})
						}
						c.Sum = bruteSum(n, tabs, gate, c.Eq)
						name := fmt.Sprintf("n%d/k%d/deg%d/eq%d/bits%d", n, k, deg, neq, b)

						mem := *c
						mem.Sources = nil
						for j := range tabs {
							mem.Sources = append(mem.Sources, field.SliceSource(tabs[j]))
						}
						want, p, _, _ := proveBytes(t, &mem, Options{})
						if _, err := Verify(field.NewTranscript("test"), c, p); err != nil {
							t.Fatalf("%s: %v", name, err)
						}
						ints := *c
						ints.Sources = srcs
						for _, w := range []int{1, 2, 3, 4, 5} {
							for _, tiny := range []bool{false, true} {
								opt := Options{SpillDir: t.TempDir(), SmallRounds: w}
								if tiny {
									opt.Budget, opt.ChunkLog = spill.NewBudget(int64(48+k*8)<<10), 5
								}
								got, _, _, st := proveBytes(t, &ints, opt)
								if !bytes.Equal(got, want) {
									t.Fatalf("%s: w %d tiny %v: small-value proof differs from in-memory proof (%v)", name, w, tiny, st.PassLog)
								}
								if tiny && opt.Budget.Used() != 0 {
									t.Fatalf("%s: w %d: budget not released: %d", name, w, opt.Budget.Used())
								}
								if st.SmallRounds == 0 && !tiny && b <= 8 && deg <= 3 {
									t.Fatalf("%s: w %d: small-value path not taken", name, w)
								}
							}
							if w == 3 {
								got, _, _, st := proveBytes(t, &ints, Options{Budget: spill.NewBudget(int64(48+k*8) << 10), ChunkLog: 5, SmallRounds: -1})
								if !bytes.Equal(got, want) || st.SmallRounds != 0 {
									t.Fatalf("%s: field path differs or used small values", name)
								}
							}
						}
					}
				}
			}
		}
	}
}

// TestSmallValueBadInts checks that a source whose integers break its Bits is an error, and
// that a read error of the integer stream surfaces.
func TestSmallValueBadInts(t *testing.T) {
	n := 10
	for _, lie := range []int64{128, -129, 1 << 40} {
		c := &Claim{NumVars: n, Gate: Product(2), Sources: []field.Source{intGen{n: n, bits: 8, seed: 1}, intGen{n: n, bits: 8, seed: 2, lie: lie}}}
		_, _, err := Prove(field.NewTranscript("t"), c, Options{Budget: spill.NewBudget(256 << 10)})
		if err == nil {
			t.Fatalf("value %d outside 8 bits accepted", lie)
		}
	}
	c := &Claim{NumVars: n, Gate: Product(2), Sources: []field.Source{intGen{n: n, bits: 8, seed: 1}, failInts{intGen{n: n, bits: 8, seed: 2}}}}
	if _, _, err := Prove(field.NewTranscript("t"), c, Options{}); !errors.Is(err, errDisk) {
		t.Fatalf("got %v, want the integer stream's error", err)
	}
}

type failInts struct{ intGen }

func (f failInts) OpenInts() (field.IntStream, error) { return failIntStream{}, nil }

type failIntStream struct{}

func (failIntStream) Next([]int64) (int, error) { return 0, errDisk }
func (failIntStream) Close() error              { return nil }

// TestIntFolder checks folding challenges into raw integers against folding field elements,
// with the extreme values of each width, where the unreduced sums are largest.
func TestIntFolder(t *testing.T) {
	rng := rand.New(rand.NewPCG(31, 32))
	for _, b := range []int{1, 2, 8, 16, 32, 40, 58} {
		for s := 1; s <= 5 && b+s <= 63; s++ {
			r := randElems(rng, s)
			f := newIntFolder(r, b)
			W := 1 << s
			src := make([]int64, 64*W)
			lo, hi := -(int64(1) << (b - 1)), int64(1)<<(b-1)-1
			for i := range src {
				switch i / W % 4 {
				case 0:
					src[i] = hi
				case 1:
					src[i] = lo
				default:
					src[i] = lo + rng.Int64N(hi-lo+1)
				}
			}
			got := make([]field.Element, len(src)/W)
			f.fold(got, src)
			for z := range got {
				v := make([]field.Element, W)
				for y := range v {
					v[y].SetInt64(src[z*W+y])
				}
				want, _ := field.EvalSlice(v, r, nil)
				if !want.Equal(&got[z]) {
					t.Fatalf("bits %d s %d window %d: fold from integers differs", b, s, z)
				}
			}
		}
	}
	if newIntFolder(randElems(rng, 4), 60) != nil {
		t.Fatal("folder accepted sums beyond its reduction")
	}
}
