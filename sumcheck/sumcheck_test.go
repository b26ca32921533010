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

// genSource is a deterministic Source of 2^n small values (int8 from a hash of the index): a
// witness that is not in RAM, for streaming and budget tests.
type genSource struct {
	n    int
	seed uint64
}

func (g genSource) Len() int64 { return int64(1) << g.n }
func (g genSource) Open() (field.Stream, error) {
	return &genStream{g: g}, nil
}

type genStream struct {
	g   genSource
	pos int64
}

func genValue(seed uint64, i int64) int64 {
	z := seed + uint64(i)*0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	z ^= z >> 31
	return int64(int8(z))
}

func (s *genStream) Next(buf []field.Element) (int, error) {
	rest := s.g.Len() - s.pos
	if rest <= 0 {
		return 0, io.EOF
	}
	if int64(len(buf)) > rest {
		buf = buf[:rest]
	}
	for i := range buf {
		buf[i].SetInt64(genValue(s.g.seed, s.pos+int64(i)))
	}
	s.pos += int64(len(buf))
	return len(buf), nil
}

func (s *genStream) Close() error { return nil }

func randElems(rng *rand.Rand, n int) []field.Element {
	v := make([]field.Element, n)
	for i := range v {
		v[i].SetUint64(rng.Uint64())
		var h field.Element
		h.SetUint64(rng.Uint64())
		v[i].Mul(&v[i], &h)
	}
	return v
}

// testGate returns a gate of the given arity and degree: a product for degree = arity, else a
// random polynomial whose longest term has length degree.
func testGate(t testing.TB, rng *rand.Rand, arity, degree int) Gate {
	if degree == arity && rng.IntN(2) == 0 {
		return Product(arity)
	}
	var terms []Term
	long := Term{Coeff: randElems(rng, 1)[0]}
	for i := 0; i < degree; i++ {
		long.Vars = append(long.Vars, rng.IntN(arity))
	}
	terms = append(terms, long)
	for i := 0; i < 3; i++ {
		tm := Term{Coeff: randElems(rng, 1)[0]}
		for l := rng.IntN(degree + 1); l > 0; l-- {
			tm.Vars = append(tm.Vars, rng.IntN(arity))
		}
		terms = append(terms, tm)
	}
	g, err := NewPoly(arity, terms)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// bruteSum returns Σ_x E(x)·G(f(x)).
func bruteSum(n int, tabs [][]field.Element, g Gate, eqs []EqTerm) field.Element {
	N := 1 << n
	out := make([]field.Element, N)
	g.Eval(out, tabs)
	if len(eqs) > 0 {
		e := make([]field.Element, N)
		tmp := make([]field.Element, N)
		for _, t := range eqs {
			field.EqTable(tmp, t.Point)
			for x := range e {
				var w field.Element
				w.Mul(&tmp[x], &t.Coeff)
				e[x].Add(&e[x], &w)
			}
		}
		for x := range out {
			out[x].Mul(&out[x], &e[x])
		}
	}
	var s field.Element
	for x := range out {
		s.Add(&s, &out[x])
	}
	return s
}

type testCase struct {
	n, k, deg, neq int
	claim          *Claim
	tabs           [][]field.Element
}

func newCase(t testing.TB, rng *rand.Rand, n, k, deg, neq int) *testCase {
	tc := &testCase{n: n, k: k, deg: deg, neq: neq}
	tc.tabs = make([][]field.Element, k)
	srcs := make([]field.Source, k)
	for j := range tc.tabs {
		tc.tabs[j] = randElems(rng, 1<<n)
		srcs[j] = field.SliceSource(tc.tabs[j])
	}
	c := &Claim{NumVars: n, Sources: srcs, Gate: testGate(t, rng, k, deg)}
	for i := 0; i < neq; i++ {
		c.Eq = append(c.Eq, EqTerm{Coeff: randElems(rng, 1)[0], Point: randElems(rng, n)})
	}
	c.Sum = bruteSum(n, tc.tabs, c.Gate, c.Eq)
	tc.claim = c
	return tc
}

func proveBytes(t testing.TB, c *Claim, opt Options) ([]byte, *Proof, []field.Element, stats) {
	t.Helper()
	p, r, st, err := prove(field.NewTranscript("test"), c, opt)
	if err != nil {
		t.Fatal(err)
	}
	return p.AppendBinary(nil), p, r, st
}

func TestCompleteness(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	maxN := 12
	if !testing.Short() {
		maxN = 14
	}
	for k := 1; k <= 4; k++ {
		for deg := 1; deg <= 4; deg++ {
			for _, neq := range []int{0, 1, 2, 3} {
				for n := 0; n <= maxN; n += 1 + n/3 {
					name := fmt.Sprintf("k%d/deg%d/eq%d/n%d", k, deg, neq, n)
					tc := newCase(t, rng, n, k, deg, neq)
					ram, p, r, st := proveBytes(t, tc.claim, Options{})
					if st.RAMFrom != 0 {
						t.Fatalf("%s: in-memory prove streamed until round %d", name, st.RAMFrom)
					}
					vr, err := Verify(field.NewTranscript("test"), tc.claim, p)
					if err != nil {
						t.Fatalf("%s: %v", name, err)
					}
					for i := range r {
						if !vr[i].Equal(&r[i]) {
							t.Fatalf("%s: verifier point differs at %d", name, i)
						}
					}
					for j := range tc.tabs {
						want, _ := field.EvalSlice(tc.tabs[j], r, nil)
						if !want.Equal(&p.Finals[j]) {
							t.Fatalf("%s: final %d is not the MLE at r", name, j)
						}
					}
					// Streaming (tiny budget, small chunks) must give the same bytes.
					if n >= 3 && (k+deg+neq)%2 == 0 || n == maxN-1 {
						sb := spill.NewBudget(int64(40+k*8) << 10)
						str, _, _, sst := proveBytes(t, tc.claim, Options{Budget: sb, ChunkLog: 5, SpillDir: t.TempDir()})
						if !bytes.Equal(ram, str) {
							t.Fatalf("%s: streaming proof differs from in-memory proof", name)
						}
						if sst.RAMFrom == 0 && int64(k)*16<<n > sb.Limit() {
							t.Fatalf("%s: tiny budget did not stream", name)
						}
					}
				}
			}
		}
	}
}

func TestStreamingSchedules(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	n := 13
	for _, neq := range []int{0, 1, 2} {
		tc := newCase(t, rng, n, 2, 2, neq)
		ram, _, _, _ := proveBytes(t, tc.claim, Options{})
		for _, every := range []int{1, 2, 3, 5} {
			for _, workers := range []int{1, 2, 3} {
				b := spill.NewBudget(96 << 10)
				str, _, _, st := proveBytes(t, tc.claim, Options{Budget: b, ChunkLog: 6, Workers: workers, SpillDir: t.TempDir(), SpillEvery: every})
				if !bytes.Equal(ram, str) {
					t.Fatalf("eq%d every %d workers %d: streaming proof differs", neq, every, workers)
				}
				if every < 2 && st.SpillWritten == 0 || st.RAMFrom < 2 {
					t.Fatalf("eq%d every %d: expected spilling, got %+v", neq, every, st)
				}
				if b.Used() != 0 {
					t.Fatalf("budget not released: %d", b.Used())
				}
			}
		}
	}
	// Generated (not in RAM) sources: the in-memory path loads them.
	c := &Claim{NumVars: 12, Sources: []field.Source{genSource{12, 1}, genSource{12, 2}}, Gate: Product(2)}
	tabs := [][]field.Element{loadSource(t, c.Sources[0]), loadSource(t, c.Sources[1])}
	c.Sum = bruteSum(12, tabs, c.Gate, nil)
	a, p, _, _ := proveBytes(t, c, Options{})
	b, _, _, _ := proveBytes(t, c, Options{Budget: spill.NewBudget(64 << 10), ChunkLog: 5})
	if !bytes.Equal(a, b) {
		t.Fatal("generated sources: streaming proof differs")
	}
	if _, err := Verify(field.NewTranscript("test"), c, p); err != nil {
		t.Fatal(err)
	}
}

func loadSource(t testing.TB, s field.Source) []field.Element {
	v := make([]field.Element, s.Len())
	st, _ := s.Open()
	if err := field.ReadFull(st, v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestSoundness(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, neq := range []int{0, 1, 3} {
		tc := newCase(t, rng, 6, 3, 3, neq)
		c := tc.claim
		data, p, _, _ := proveBytes(t, c, Options{})
		verify := func(c *Claim, p *Proof) error {
			_, err := Verify(field.NewTranscript("test"), c, p)
			return err
		}
		if err := verify(c, p); err != nil {
			t.Fatal(err)
		}
		reject := func(what string, err error) {
			t.Helper()
			if !errors.Is(err, ErrBadProof) {
				t.Fatalf("eq%d: %s: got %v, want ErrBadProof", neq, what, err)
			}
		}
		one := field.One()
		// wrong sum
		bad := *c
		bad.Sum.Add(&bad.Sum, &one)
		reject("wrong sum", verify(&bad, p))
		// every coefficient of every round
		for r := range p.Rounds {
			for i := range p.Rounds[r] {
				q, _, err := DecodeProof(data, c.NumVars, RoundDegree(c), 3)
				if err != nil {
					t.Fatal(err)
				}
				q.Rounds[r][i].Add(&q.Rounds[r][i], &one)
				reject(fmt.Sprintf("round %d value %d", r, i), verify(c, q))
			}
		}
		// wrong finals
		for j := range p.Finals {
			q, _, _ := DecodeProof(data, c.NumVars, RoundDegree(c), 3)
			q.Finals[j].Add(&q.Finals[j], &one)
			reject(fmt.Sprintf("final %d", j), verify(c, q))
		}
		// a proof for n−1 variables
		small := newCase(t, rng, 5, 3, 3, neq)
		small.claim.Gate = c.Gate
		small.claim.Sum = c.Sum
		_, sp, _, _ := proveBytes(t, small.claim, Options{})
		reject("proof for n−1 variables", verify(c, sp))
		// truncated and extended bytes
		if _, _, err := DecodeProof(data[:len(data)-1], c.NumVars, RoundDegree(c), 3); !errors.Is(err, ErrBadProof) {
			t.Fatalf("truncated proof decoded: %v", err)
		}
		q, rest, err := DecodeProof(append(append([]byte(nil), data...), 1, 2, 3), c.NumVars, RoundDegree(c), 3)
		if err != nil || len(rest) != 3 {
			t.Fatalf("extended proof: rest %d, %v", len(rest), err)
		}
		if err := verify(c, q); err != nil {
			t.Fatal(err)
		}
		q.Rounds = append(q.Rounds, q.Rounds[0])
		reject("extra round", verify(c, q))
		q.Rounds = q.Rounds[:len(q.Rounds)-2]
		reject("missing round", verify(c, q))
		// a flipped byte anywhere
		for i := 0; i < len(data); i += 7 {
			d := append([]byte(nil), data...)
			d[i] ^= 0x10
			q, _, err := DecodeProof(d, c.NumVars, RoundDegree(c), 3)
			if err == nil {
				err = verify(c, q)
			}
			reject(fmt.Sprintf("flipped byte %d", i), err)
		}
	}
}

func TestZeroVars(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, neq := range []int{0, 2} {
		tc := newCase(t, rng, 0, 2, 2, neq)
		_, p, r, _ := proveBytes(t, tc.claim, Options{})
		if len(r) != 0 || len(p.Rounds) != 0 {
			t.Fatal("rounds for zero variables")
		}
		if _, err := Verify(field.NewTranscript("test"), tc.claim, p); err != nil {
			t.Fatal(err)
		}
		_, sp, _, _ := proveBytes(t, tc.claim, Options{Budget: spill.NewBudget(4 << 10)})
		if !sp.Finals[0].Equal(&p.Finals[0]) {
			t.Fatal("streamed finals differ")
		}
	}
}

func FuzzDecodeProof(f *testing.F) {
	rng := rand.New(rand.NewPCG(9, 10))
	tc := newCase(f, rng, 3, 2, 2, 1)
	data, _, _, _ := proveBytes(f, tc.claim, Options{})
	f.Add(data, 3, 3, 2)
	f.Add([]byte{}, 0, 1, 1)
	f.Fuzz(func(t *testing.T, data []byte, n, deg, arity int) {
		p, rest, err := DecodeProof(data, n, deg, arity)
		if err != nil {
			if !errors.Is(err, ErrBadProof) {
				t.Fatalf("error %v does not wrap ErrBadProof", err)
			}
			return
		}
		if len(p.Rounds) != n || len(p.Finals) != arity || len(rest) > len(data) {
			t.Fatal("inconsistent decode")
		}
		if enc := p.AppendBinary(nil); !bytes.Equal(enc, data[:len(data)-len(rest)]) {
			t.Fatal("re-encoding differs")
		}
		c := &Claim{NumVars: 3, Gate: Product(2), Eq: tc.claim.Eq, Sum: tc.claim.Sum}
		Verify(field.NewTranscript("test"), c, p) // must not panic
	})
}

// failSource fails after `after` elements.
type failSource struct {
	genSource
	after int64
}

var errDisk = errors.New("disk on fire")

func (f failSource) Open() (field.Stream, error) {
	return &failStream{genStream: genStream{g: f.genSource}, after: f.after}, nil
}

type failStream struct {
	genStream
	after int64
}

func (s *failStream) Next(buf []field.Element) (int, error) {
	if s.pos >= s.after {
		return 0, errDisk
	}
	return s.genStream.Next(buf)
}

func TestSourceError(t *testing.T) {
	n := 12
	for _, after := range []int64{0, 100, 1 << 11, 1<<n - 200} {
		c := &Claim{NumVars: n, Gate: Product(2), Sources: []field.Source{genSource{n, 1}, failSource{genSource{n, 2}, after}}}
		_, _, err := Prove(field.NewTranscript("t"), c, Options{Budget: spill.NewBudget(64 << 10), ChunkLog: 6})
		if !errors.Is(err, errDisk) {
			t.Fatalf("after %d: got %v, want the source's error", after, err)
		}
	}
	// wrong length
	c := &Claim{NumVars: 5, Gate: Product(2), Sources: []field.Source{genSource{5, 1}, genSource{4, 2}}}
	if _, _, err := Prove(field.NewTranscript("t"), c, Options{}); err == nil {
		t.Fatal("short source accepted")
	}
}

// TestLarge checks the blocked RAM layout across its gather point and the streaming path at a
// size where both have many blocks and chunks.
func TestLarge(t *testing.T) {
	if testing.Short() {
		t.Skip("large claim")
	}
	rng := rand.New(rand.NewPCG(11, 12))
	for _, neq := range []int{0, 1, 2} {
		tc := newCase(t, rng, 17, 2, 2, neq)
		ram, p, r, _ := proveBytes(t, tc.claim, Options{})
		if _, err := Verify(field.NewTranscript("test"), tc.claim, p); err != nil {
			t.Fatal(err)
		}
		for j := range tc.tabs {
			want, _ := field.EvalSlice(tc.tabs[j], r, nil)
			if !want.Equal(&p.Finals[j]) {
				t.Fatalf("eq%d: final %d is not the MLE at r", neq, j)
			}
		}
		str, _, _, st := proveBytes(t, tc.claim, Options{Budget: spill.NewBudget(512 << 10), ChunkLog: 8, SpillDir: t.TempDir()})
		if !bytes.Equal(ram, str) {
			t.Fatalf("eq%d: streaming proof differs", neq)
		}
		if st.SpillWritten == 0 || st.RAMFrom == 0 {
			t.Fatalf("eq%d: did not spill (%+v)", neq, st.PassLog)
		}
	}
}
