package kernels

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/streamprove/streamprove/gkr"
	"github.com/streamprove/streamprove/pcs"
	"github.com/streamprove/streamprove/tensorstore"
)

// advice adds a kernel whose outputs are advice tensors, declaring them.
func (m *model) advice(k Kernel) {
	m.t.Helper()
	infos, err := AdviceTensors(m.graph, k)
	if err != nil {
		m.t.Fatal(err)
	}
	for i := range infos {
		ti := infos[i]
		m.graph.Tensors[ti.Name] = &ti
	}
	m.graph.Kernels = append(m.graph.Kernels, k)
	m.kerns = append(m.kerns, k)
}

// refActivation is the plain reference: round(F(x/2^frac)·2^frac), F written out again here.
func refActivation(fn string, x int64, frac int) int64 {
	s := math.Ldexp(1, frac)
	v := float64(x) / s
	var f float64
	switch fn {
	case "silu":
		f = v * (1 / (1 + math.Exp(-v)))
	case "gelu":
		f = v * 0.5 * (1 + math.Erf(v/math.Sqrt(2)))
	case "gelu_tanh":
		f = v * 0.5 * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(v+0.044715*math.Pow(v, 3))))
	case "tanh":
		f = math.Tanh(v)
	case "sigmoid":
		f = 1 / (1 + math.Exp(-v))
	}
	return int64(math.Round(f * s))
}

// swigluModel: x → fn → a (advice); g = a ∘ b (SwiGLU when fn is silu); z = g·Wᵀ (output).
func swigluModel(t testing.TB, fn string, shape []int, bits, frac int) (*model, []int64) {
	m := newModel(t, uint64(bits*10+frac))
	n := int(gkr.Numel(shape))
	xs := make([]int64, n)
	H := int64(1) << (bits - 1)
	for i := range xs {
		xs[i] = m.rng.Int64N(2*H) - H
	}
	xs[0], xs[n-1] = -H, H-1 // both ends of the table
	m.ints("x", gkr.Input, shape, tensorstore.Int16, xs)
	m.data("b", gkr.Input, shape, tensorstore.Int8)
	m.data("w", gkr.Weight, []int{3, shape[len(shape)-1]}, tensorstore.Int8)
	act, err := NewActivation("act", fn, "x", "a", bits, frac)
	if err != nil {
		t.Fatal(err)
	}
	m.advice(act)
	m.node(Mul("glu", "a", "b", "g"), shape, false)
	m.node(NewLinear("fc", "g", "w", "", "z"), append(append([]int(nil), shape[:len(shape)-1]...), 3), true)
	m.forward()
	return m, xs
}

func TestActivationCompleteness(t *testing.T) {
	for _, c := range []struct {
		fn         string
		shape      []int
		bits, frac int
	}{
		{"silu", []int{7, 13}, 12, 8}, {"gelu", []int{5, 3}, 16, 12}, {"gelu_tanh", []int{3, 9}, 10, 6},
		{"tanh", []int{11}, 8, 5}, {"silu", []int{6, 5}, 16, 10},
	} {
		m, xs := swigluModel(t, c.fn, c.shape, c.bits, c.frac)
		a, b, g := m.values("a"), m.values("b"), m.values("g")
		for i, x := range xs {
			if want := refActivation(c.fn, x, c.frac); a[i] != want {
				t.Fatalf("%+v: %s(%d) = %d, want %d", c, c.fn, x, a[i], want)
			}
			if g[i] != a[i]*b[i] {
				t.Fatalf("%+v: glu[%d] = %d, want %d", c, i, g[i], a[i]*b[i])
			}
		}
		for _, budget := range []int64{0, 256 << 10} {
			if err := m.proveVerify(budget); err != nil {
				t.Fatalf("%+v budget %d: honest proof rejected: %v", c, budget, err)
			}
		}
	}
}

// A wrong activation value (one element, or the tanh form's value where the erf form's is
// claimed) is rejected; an input outside the table is refused by the forward pass.
func TestActivationSoundness(t *testing.T) {
	m, xs := swigluModel(t, "gelu", []int{5, 7}, 12, 8)
	a := m.values("a")
	a[9]++
	m.replaceTensor("a", a)
	m.forwardFrom("glu")
	err := m.proveVerify(0)
	reject(t, "one GELU value off by one", err)
	if !strings.Contains(err.Error(), "not in the table") {
		t.Fatalf("rejected for another reason: %v", err)
	}

	// Every value from the tanh form (which differs from the erf form on some inputs).
	m, xs = swigluModel(t, "gelu", []int{5, 7}, 12, 8)
	other := make([]int64, len(xs))
	differ := 0
	for i, x := range xs {
		other[i] = refActivation("gelu_tanh", x, 8)
		if other[i] != refActivation("gelu", x, 8) {
			differ++
		}
	}
	if differ == 0 {
		t.Fatal("the two GELU forms agree on every input: the test says nothing")
	}
	m.replaceTensor("a", other)
	m.forwardFrom("glu")
	reject(t, "tanh-form GELU values for the erf form", m.proveVerify(0))

	m = newModel(t, 3)
	m.ints("x", gkr.Input, []int{3}, tensorstore.Int16, []int64{1, 2048, 3})
	act, _ := NewActivation("act", "silu", "x", "a", 12, 8)
	m.advice(act)
	fc := &ForwardCtx{Store: m.store, Graph: m.graph, Bounds: m.bounds}
	if err := act.Forward(fc); err == nil || !strings.Contains(err.Error(), "element 1 is 2048") {
		t.Fatalf("input outside the table: %v", err)
	}
}

// sigmoidModel: x → sigmoid → a (an intermediate, or the public output when out) → a ∘ b → g
// → linear → z (output). Its advice is the centred act/centered, not a.
func sigmoidModel(t testing.TB, shape []int, bits, frac int, out bool) (*model, []int64) {
	m := newModel(t, uint64(bits*10+frac+1))
	n := int(gkr.Numel(shape))
	xs := make([]int64, n)
	H := int64(1) << (bits - 1)
	for i := range xs {
		xs[i] = m.rng.Int64N(2*H) - H
	}
	xs[0], xs[n-1] = -H, H-1
	if n > 2 {
		xs[1] = 0 // σ(0) = ½: the offset itself on a real position
	}
	m.ints("x", gkr.Input, shape, tensorstore.Int16, xs)
	act, err := NewActivation("act", "sigmoid", "x", "a", bits, frac)
	if err != nil {
		t.Fatal(err)
	}
	m.advice(act)
	role := gkr.Intermediate
	if out {
		role = gkr.Output
	}
	m.graph.Tensors["a"] = &gkr.TensorInfo{Name: "a", Shape: shape, Role: role}
	if !out {
		m.data("b", gkr.Input, shape, tensorstore.Int8)
		m.data("w", gkr.Weight, []int{3, shape[len(shape)-1]}, tensorstore.Int8)
		m.node(Mul("glu", "a", "b", "g"), shape, false)
		m.node(NewLinear("fc", "g", "w", "", "z"), append(append([]int(nil), shape[:len(shape)-1]...), 3), true)
	}
	m.forward()
	return m, xs
}

// The sigmoid (σ(0) = ½ ≠ 0) proves with its centred advice, as an intermediate feeding other
// kernels and as a public output, on shapes whose padding the offset must not reach.
func TestSigmoidCompleteness(t *testing.T) {
	for _, c := range []struct {
		shape      []int
		bits, frac int
		out        bool
	}{
		{[]int{7, 13}, 12, 8, false}, {[]int{5, 3}, 16, 12, true}, {[]int{11}, 8, 0, false}, {[]int{3, 6}, 10, 6, true},
	} {
		m, xs := sigmoidModel(t, c.shape, c.bits, c.frac, c.out)
		a := m.values("a")
		for i, x := range xs {
			if want := refActivation("sigmoid", x, c.frac); a[i] != want {
				t.Fatalf("%+v: sigmoid(%d) = %d, want %d", c, x, a[i], want)
			}
		}
		for _, budget := range []int64{0, 256 << 10} {
			if err := m.proveVerify(budget); err != nil {
				t.Fatalf("%+v budget %d: honest proof rejected: %v", c, budget, err)
			}
		}
	}
}

// cheatVerify proves with a prover that opens claims which do not hold (as a cheater would) and
// returns the verifier's answer.
func (m *model) cheatVerify() error {
	m.t.Helper()
	pub := m.public()
	w := &StoreWitness{Store: m.store}
	defer w.Close()
	proof, err := gkr.Prove(m.graph, w, pub, gkr.Options{PCS: pcs.Options{SkipProverChecks: true}})
	if err != nil {
		m.t.Fatalf("cheating prover: %v", err)
	}
	_, err = gkr.Verify(m.graph, pub, proof)
	return err
}

// A sigmoid value off by one (the centred advice left honest), values without the offset, and a
// public sigmoid output changed after the forward pass are rejected, each played by a prover
// that skips its own checks.
func TestSigmoidSoundness(t *testing.T) {
	m, _ := sigmoidModel(t, []int{5, 7}, 12, 8, false)
	if err := m.cheatVerify(); err != nil {
		t.Fatalf("the skipping prover's proof of the honest witness: %v", err)
	}
	a := m.values("a")
	a[9]++
	m.replaceTensor("a", a)
	m.forwardFrom("glu")
	reject(t, "one sigmoid value off by one", m.cheatVerify())

	m, _ = sigmoidModel(t, []int{5, 7}, 12, 8, false)
	m.replaceTensor("a", m.values("act/centered"))
	m.forwardFrom("glu")
	reject(t, "sigmoid values without the ½ offset", m.cheatVerify())

	// y and z both shifted by one at an element: z leaves the table.
	m, _ = sigmoidModel(t, []int{5, 7}, 12, 8, false)
	a, z := m.values("a"), m.values("act/centered")
	a[3]++
	z[3]++
	m.replaceTensor("a", a)
	m.replaceTensor("act/centered", z)
	m.forwardFrom("glu")
	reject(t, "sigmoid value and centred advice shifted together", m.cheatVerify())

	m, _ = sigmoidModel(t, []int{3, 6}, 10, 6, true)
	a = m.values("a")
	a[17]--
	m.replaceTensor("a", a)
	reject(t, "a public sigmoid output changed", m.cheatVerify())
}

// The tables are part of the statement: their values are frozen here (a platform whose math
// library rounds one entry differently fails this test rather than proving other statements).
func TestActivationTablesGolden(t *testing.T) {
	got := map[string]string{}
	for _, fn := range []string{"silu", "gelu", "gelu_tanh", "tanh", "sigmoid"} {
		a, err := NewActivation("a", fn, "x", "y", 16, 12)
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.New()
		for _, v := range a.core.args[0].tab.cols[1].(*denseColumn).vals {
			h.Write(binary.LittleEndian.AppendUint64(nil, uint64(v)))
		}
		got[fn] = fmt.Sprintf("%x", h.Sum(nil))[:16]
	}
	want := map[string]string{"silu": "bcc4c00d84fdfeeb", "gelu": "36c2adfccae9cc54", "gelu_tanh": "8782a02bedbaf6f7", "tanh": "9ef9007f2017beb0", "sigmoid": "1ad24fb923b595f4"}
	for fn := range want {
		if got[fn] != want[fn] {
			t.Errorf("%s table digest %s, want %s", fn, got[fn], want[fn])
		}
	}
}

// ActivationValue (an importer's integer forward pass) equals the kernel's table on every row.
func TestActivationValueIsTheTable(t *testing.T) {
	for _, fn := range []string{"silu", "gelu", "gelu_tanh", "tanh", "sigmoid"} {
		for _, frac := range []int{0, 5, 10} {
			a, err := NewActivation("a", fn, "x", "y", 12, frac)
			if err != nil {
				t.Fatal(err)
			}
			H := int64(1) << 11
			for j, v := range a.core.args[0].tab.cols[1].(*denseColumn).vals {
				got, err := ActivationValue(fn, int64(j)-H, frac)
				if err != nil || got != v+a.off {
					t.Fatalf("%s frac %d at %d: ActivationValue %d (%v), table %d", fn, frac, int64(j)-H, got, err, v+a.off)
				}
			}
		}
	}
	if _, err := ActivationValue("relu6", 1, 0); err == nil {
		t.Fatal("an unknown activation gave a value")
	}
}
