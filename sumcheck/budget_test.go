package sumcheck

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/streamprove/streamprove/field"
	"github.com/streamprove/streamprove/internal/childtest"
	"github.com/streamprove/streamprove/spill"
	"github.com/streamprove/streamprove/tensorstore"
)

// int8Elems holds the field elements −128…127 (Montgomery form), so generating a value is a copy.
var int8Elems = func() (t [256]field.Element) {
	for v := -128; v < 128; v++ {
		t[v+128].SetInt64(int64(v))
	}
	return
}()

// fastGen is genSource with table lookups: cheap enough to stream 2^28 elements many times.
type fastGen struct{ genSource }

func (g fastGen) Open() (field.Stream, error) { return &fastGenStream{g: g.genSource}, nil }

type fastGenStream struct {
	g   genSource
	pos int64
}

func (s *fastGenStream) Next(buf []field.Element) (int, error) {
	rest := s.g.Len() - s.pos
	if rest <= 0 {
		return 0, io.EOF
	}
	if int64(len(buf)) > rest {
		buf = buf[:rest]
	}
	for i := range buf {
		buf[i] = int8Elems[genValue(s.g.seed, s.pos+int64(i))+128]
	}
	s.pos += int64(len(buf))
	return len(buf), nil
}

func (s *fastGenStream) Close() error { return nil }

// TestBudget proves Σ_x eq(p, x)·a(x)·b(x) for two generated sources of 2^n elements (not in RAM)
// under a memory budget, in a child process whose peak RSS (VmHWM) must stay under the budget.
// The proof must verify and its finals must be the sources' MLEs at the point. By default n = 25
// (a 2 GiB witness) under 128 MiB, which streams, spills and finishes in RAM in well under a
// minute; SUMCHECK_BUDGET_VARS=28 SUMCHECK_BUDGET_MIB=512 is the full-size run (16 GiB witness).
func TestBudget(t *testing.T) {
	if childtest.IsChild() {
		budgetChild(t)
		return
	}
	if testing.Short() {
		t.Skip("budget test streams gigabytes")
	}
	n, mib := 25, 128
	if v := os.Getenv("SUMCHECK_BUDGET_VARS"); v != "" {
		n, _ = strconv.Atoi(v)
	}
	if v := os.Getenv("SUMCHECK_BUDGET_MIB"); v != "" {
		mib, _ = strconv.Atoi(v)
	}
	runBudgetChild(t, "TestBudget", n, int64(mib)<<20, "")
}

// TestBudgetStore is the budget run on store data (the acceptance test): two int8
// tensors of 2^28 elements (256 MiB files, 8 GiB each as field elements) are generated into a
// tensorstore, and a child proves their product from Tensor.Source() under 512 MiB, about 30 s
// with the small-value rounds (tensorstore's integer Sources offer their stored integers).
// SUMCHECK_BUDGET_VARS and SUMCHECK_BUDGET_MIB override the size and the budget;
// SUMCHECK_BUDGET_FIELD=1 proves from the field elements only.
func TestBudgetStore(t *testing.T) {
	if childtest.IsChild() {
		budgetChild(t)
		return
	}
	if testing.Short() {
		t.Skip("budget test streams gigabytes")
	}
	n, mib := 28, 512
	if v := os.Getenv("SUMCHECK_BUDGET_VARS"); v != "" {
		n, _ = strconv.Atoi(v)
	}
	if v := os.Getenv("SUMCHECK_BUDGET_MIB"); v != "" {
		mib, _ = strconv.Atoi(v)
	}
	dir := t.TempDir()
	start := time.Now()
	s, err := tensorstore.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]int8, 1<<20)
	for _, src := range budgetTensors {
		w, err := s.Create(src.name, []int{1 << n}, tensorstore.Int8, tensorstore.WriteOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for off := int64(0); off < int64(1)<<n; off += int64(len(buf)) {
			b := buf[:min(int64(len(buf)), int64(1)<<n-off)]
			for i := range b {
				b[i] = int8(genValue(src.seed, off+int64(i)))
			}
			if err := w.WriteInt8s(b); err != nil {
				t.Fatal(err)
			}
		}
		in, err := w.Commit()
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("tensor %s: %s stored", src.name, spill.FormatBytes(in.StoredBytes))
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	t.Logf("generated the store in %v", time.Since(start))
	runBudgetChild(t, "TestBudgetStore", n, int64(mib)<<20, dir)
}

// budgetTensors names the two witness tensors of the budget tests and their generator seeds.
var budgetTensors = []struct {
	name string
	seed uint64
}{{"a", 101}, {"b", 202}}

// runBudgetChild runs test in a child process that proves the budget claim over 2^n elements
// (from the store in storeDir, or generated on the fly when it is "") and fails if the child's
// VmHWM reaches the budget.
func runBudgetChild(t *testing.T, test string, n int, budget int64, storeDir string) {
	out := childtest.Run(t, test, fmt.Sprintf("SUMCHECK_BUDGET_N=%d", n),
		fmt.Sprintf("SUMCHECK_BUDGET_BYTES=%d", budget), "SUMCHECK_SPILL_DIR="+t.TempDir(),
		"SUMCHECK_BUDGET_STORE_DIR="+storeDir)
	t.Logf("child (n=%d, budget %s) took %v:\n%s", n, spill.FormatBytes(budget), out.Took, out.Text)
	out.CheckPeakRSS(t, budget)
}

func budgetChild(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("SUMCHECK_BUDGET_N"))
	budget, _ := strconv.ParseInt(os.Getenv("SUMCHECK_BUDGET_BYTES"), 10, 64)
	spill.SetMemoryLimit(budget)
	var a, b field.Source = fastGen{genSource{n, 101}}, fastGen{genSource{n, 202}}
	// The ledger gets the budget less what the runtime and binary take before any reservation,
	// and less what the store's readers hold (their own ledger: decoded chunks and prefetch).
	proverBytes := budget - spill.RuntimeOverhead
	if dir := os.Getenv("SUMCHECK_BUDGET_STORE_DIR"); dir != "" {
		const readerBytes = 16 << 20
		proverBytes -= readerBytes
		s, err := tensorstore.Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		rb := spill.NewBudget(readerBytes)
		var srcs []field.Source
		for _, src := range budgetTensors {
			tn, err := s.Tensor(src.name)
			if err != nil {
				t.Fatal(err)
			}
			defer tn.Close()
			tn.SetReadOptions(tensorstore.ReadOptions{Budget: rb})
			if os.Getenv("SUMCHECK_BUDGET_FIELD") != "" {
				srcs = append(srcs, struct{ field.Source }{tn.Source()}) // hides the IntSource
			} else {
				srcs = append(srcs, tn.Source())
			}
		}
		a, b = srcs[0], srcs[1]
	}
	// eq(p, x) with p = (2, 3, 2, 3, …): the claimed sum by one integer pass.
	point := make([]field.Element, n)
	for k := range point {
		point[k].SetUint64(uint64(2 + k%2))
	}
	start := time.Now()
	sum, err := eqProductSum(a, b, point)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("claimed sum: %v", time.Since(start))
	c := &Claim{NumVars: n, Sources: []field.Source{a, b}, Gate: Product(2),
		Eq: []EqTerm{{Coeff: field.One(), Point: point}}, Sum: sum}
	opt := Options{Budget: spill.NewBudget(proverBytes), SpillDir: os.Getenv("SUMCHECK_SPILL_DIR")}
	start = time.Now()
	proof, r, st, err := prove(field.NewTranscript("budget"), c, opt)
	if err != nil {
		t.Fatal(err)
	}
	elems := float64(int64(2) << n)
	t.Logf("prove: %v; source reads %.2f/elem (integers %.2f/elem, %d small-value rounds), spill read %.2f B/elem, written %.2f B/elem, %d passes, RAM from round %d",
		time.Since(start), float64(st.SourceElems)/elems, float64(st.IntElems)/elems, st.SmallRounds, float64(st.SpillRead)/elems, float64(st.SpillWritten)/elems, st.Passes, st.RAMFrom)
	for _, l := range st.PassLog {
		t.Log(l)
	}
	if _, err := Verify(field.NewTranscript("budget"), c, proof); err != nil {
		t.Fatal(err)
	}
	for j, s := range c.Sources {
		v, err := field.EvalStream(s, r, 14)
		if err != nil {
			t.Fatal(err)
		}
		if !v.Equal(&proof.Finals[j]) {
			t.Fatalf("final %d is not the source's MLE at r", j)
		}
	}
	childtest.ReportPeakRSS(t)
}

// eqProductSum returns Σ_x eq(p, x)·a(x)·b(x) in one pass, using the chunk decomposition of eq.
func eqProductSum(a, b field.Source, p []field.Element) (field.Element, error) {
	const c = 14
	ce := field.NewChunkEq(p, c)
	L := ce.ChunkLen()
	sa, err := a.Open()
	if err != nil {
		return field.Element{}, err
	}
	defer sa.Close()
	sb, err := b.Open()
	if err != nil {
		return field.Element{}, err
	}
	defer sb.Close()
	ba, bb := make([]field.Element, L), make([]field.Element, L)
	var sum field.Element
	for j := int64(0); j*int64(L) < a.Len(); j++ {
		if err := field.ReadFull(sa, ba); err != nil {
			return sum, err
		}
		if err := field.ReadFull(sb, bb); err != nil {
			return sum, err
		}
		for i := range ba {
			ba[i].Mul(&ba[i], &bb[i])
		}
		v := field.InnerProduct(ba, ce.Lo)
		hi := ce.Hi(j)
		v.Mul(&v, &hi)
		sum.Add(&sum, &v)
	}
	return sum, nil
}
