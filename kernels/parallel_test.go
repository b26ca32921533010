package kernels

import (
	"fmt"
	"testing"

	"github.com/streamprove/streamprove/field"
	"github.com/streamprove/streamprove/gkr"
	"github.com/streamprove/streamprove/tensorstore"
)

// readElems returns a stored tensor's real elements.
func (m *model) readElems(name string) []field.Element {
	m.t.Helper()
	tn, err := m.store.Tensor(name)
	if err != nil {
		m.t.Fatal(err)
	}
	defer tn.Close()
	st, err := tn.RawSource().Open()
	if err != nil {
		m.t.Fatal(err)
	}
	defer st.Close()
	e := make([]field.Element, tn.Info().Len)
	if err := field.ReadFull(st, e); err != nil {
		m.t.Fatal(err)
	}
	return e
}

// rewrite replaces a stored tensor's real elements (as field elements, Replace).
func (m *model) rewrite(name string, v []field.Element) {
	m.t.Helper()
	tn, err := m.store.Tensor(name)
	if err != nil {
		m.t.Fatal(err)
	}
	shape := tn.Info().Shape
	tn.Close()
	w, err := m.store.Create(name, shape, tensorstore.Field, tensorstore.WriteOptions{Replace: true, ChunkElems: 64})
	if err != nil {
		m.t.Fatal(err)
	}
	if err := w.WriteElements(v); err != nil {
		m.t.Fatal(err)
	}
	if _, err := w.Commit(); err != nil {
		m.t.Fatal(err)
	}
}

func (m *model) par(name string, c *Circuit, in, out map[string]string, n int, outputs map[string]bool) *Parallel {
	m.t.Helper()
	k, err := NewParallel(name, c, in, out)
	if err != nil {
		m.t.Fatal(err)
	}
	for _, o := range k.Outputs() {
		role := gkr.Intermediate
		if outputs[o] {
			role = gkr.Output
		}
		m.graph.Tensors[o] = &gkr.TensorInfo{Name: o, Shape: []int{n}, Role: role}
	}
	m.graph.Kernels = append(m.graph.Kernels, k)
	m.kerns = append(m.kerns, k)
	return k.(*Parallel)
}

// mimcModel: x (public input, int8) and key (committed weight, int32) → MiMC → y (public).
func mimcModel(t *testing.T, n, rounds, maxDeg int) (*model, *Parallel) {
	m := newModel(t, uint64(n*100+rounds*10+maxDeg))
	m.data("x", gkr.Input, []int{n}, tensorstore.Int8)
	m.data("key", gkr.Weight, []int{n}, tensorstore.Int32)
	k := m.par("mimc", MiMCCircuit(MiMCConstants(rounds), maxDeg),
		map[string]string{"x": "x", "key": "key"}, map[string]string{"y": "y"}, n, map[string]bool{"y": true})
	m.forward()
	return m, k
}

func (m *model) parProveVerify(budget int64) ([]byte, gkr.Public, map[string][]field.Element) {
	m.t.Helper()
	pub := m.public()
	proof := m.prove(pub, budget)
	outs, err := gkr.Verify(m.graph, pub, proof)
	if err != nil {
		m.t.Fatalf("honest proof rejected: %v", err)
	}
	return proof, pub, outs
}

func TestParallelLayering(t *testing.T) {
	for _, c := range []struct{ deg, layers, wires int }{{2, 4 * 3, 4 * 3}, {7, 3, 3}, {4, 2 * 3, 2 * 3}} {
		k, err := NewParallel("p", MiMCCircuit(MiMCConstants(3), c.deg),
			map[string]string{"x": "x", "key": "key"}, map[string]string{"y": "y"})
		if err != nil {
			t.Fatal(err)
		}
		l, w := k.(*Parallel).Layers()
		if l != c.layers || w != c.wires {
			t.Errorf("max degree %d: %d layers, %d wires; want %d, %d", c.deg, l, w, c.layers, c.wires)
		}
		for l := 1; l < len(k.(*Parallel).p.progs); l++ {
			if d := k.(*Parallel).p.progs[l].degree; d > c.deg {
				t.Errorf("max degree %d: layer %d has degree %d", c.deg, l, d)
			}
		}
	}
	// builder errors
	c := NewCircuit()
	x := c.Input("x")
	c.Output("x", x)
	if _, err := NewParallel("p", c, map[string]string{"x": "x"}, map[string]string{"x": "y"}); err == nil {
		t.Error("an output that is an input was accepted")
	}
	c = NewCircuit()
	other := NewCircuit().Input("z")
	c.Output("y", c.Mul(c.Input("x"), other))
	if c.Err() == nil {
		t.Error("a wire of another circuit was accepted")
	}
}

func TestParallelMiMCCompleteness(t *testing.T) {
	const rounds = 3
	ks := MiMCConstants(rounds)
	for _, n := range []int{1, 5, 1000, 4096} {
		for _, deg := range []int{2, 7} {
			t.Run(fmt.Sprintf("n=%d/deg=%d", n, deg), func(t *testing.T) {
				m, k := mimcModel(t, n, rounds, deg)
				x, key, y := m.readElems("x"), m.readElems("key"), m.readElems("y")
				for i := range y {
					if want := MiMC(x[i], key[i], ks); !want.Equal(&y[i]) {
						t.Fatalf("y[%d] differs from the reference", i)
					}
				}
				if n > 1 && len(k.wireTensors()) < rounds {
					t.Fatalf("only %d stored wires", len(k.wireTensors()))
				}
				budget := int64(0)
				if n == 4096 {
					budget = 320 << 10 // the public output takes 128 KiB; the sumchecks stream and spill
				}
				_, _, outs := m.parProveVerify(budget)
				for i := range y {
					if !outs["y"][i].Equal(&y[i]) {
						t.Fatalf("verified output %d differs", i)
					}
				}
			})
		}
	}
}

// neuronModel: a = x1∘x1 (elementwise) → neuron(a, x2) → y, z; y → linear → out (public), z
// public. So an elementwise kernel feeds the parallel kernel, which feeds a linear kernel, and y
// is claimed by the engine (through the linear kernel) and inside the circuit (z = x1·y).
func neuronModel(t *testing.T, n int) *model {
	m := newModel(t, uint64(n))
	m.data("x1", gkr.Input, []int{n}, tensorstore.Int8)
	m.data("x2", gkr.Input, []int{n}, tensorstore.Int8)
	m.data("w", gkr.Weight, []int{3, n}, tensorstore.Int8)
	m.node(Mul("sq", "x1", "x1", "a"), []int{n}, false)
	m.par("neuron", neuronCircuit(3, -5, 7), map[string]string{"x1": "a", "x2": "x2"},
		map[string]string{"y": "y", "z": "z"}, n, map[string]bool{"z": true})
	m.node(NewLinear("fc", "y", "w", "", "out"), []int{3}, true)
	m.forward()
	return m
}

func TestParallelNeuronCompleteness(t *testing.T) {
	for _, n := range []int{1, 5, 1000, 4096} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			m := neuronModel(t, n)
			x1, x2, y, z := m.values("x1"), m.values("x2"), m.values("y"), m.values("z")
			for i := range y {
				a := x1[i] * x1[i]
				s := 3*a - 5*x2[i] + 7
				if y[i] != s*s || z[i] != a*s*s {
					t.Fatalf("instance %d: y=%d z=%d, want %d %d", i, y[i], z[i], s*s, a*s*s)
				}
			}
			if ti, _ := m.store.Stat("y"); ti.DType == tensorstore.Field {
				t.Errorf("y is stored as field elements; its bound fits an integer dtype")
			}
			m.parProveVerify(0)
		})
	}
}

func TestParallelSoundness(t *testing.T) {
	m, k := mimcModel(t, 37, 2, 2)
	proof, pub, _ := m.parProveVerify(0)
	for i := range proof {
		bad := append([]byte(nil), proof...)
		bad[i] ^= 1 << (i % 8)
		_, err := gkr.Verify(m.graph, pub, bad)
		reject(t, fmt.Sprintf("proof with byte %d of %d flipped", i, len(proof)), err)
	}

	// A changed output or internal wire in the witness: the prover's proof does not verify.
	for _, victim := range append([]string{"y"}, k.wireTensors()...) {
		m, _ := mimcModel(t, 37, 2, 2)
		pub := m.public()
		v := m.readElems(victim)
		one := field.One()
		v[len(v)/2].Add(&v[len(v)/2], &one)
		m.rewrite(victim, v)
		proof := m.prove(pub, 0)
		_, err := gkr.Verify(m.graph, pub, proof)
		reject(t, "proof over a changed "+victim, err)
	}
}

// A circuit with a constant output, an output that is linear in an input, a skip connection
// (x read by layer 1 and by the last layer) and outputs claimed at different engine points.
func TestParallelShapes(t *testing.T) {
	for _, n := range []int{1, 3, 4, 64, 100} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			c := NewCircuit()
			x := c.Input("x")
			k := c.Const(-9)
			a := c.Mul(x, x)                                 // layer 1
			b := c.Mul(a, c.Add(a, k))                       // layer 2 (a stored)
			d := c.Mul(b, b)                                 // layer 3
			c.Output("d", c.Add(c.Mul(d, x), c.Scale(x, 5))) // skip connection from x
			c.Output("lin", c.Sub(c.Scale(x, 3), k))
			c.Output("k", c.Const(42))
			m := newModel(t, uint64(n)+77)
			m.data("x", gkr.Input, []int{n}, tensorstore.Int8)
			m.par("shapes", c, map[string]string{"x": "x"},
				map[string]string{"d": "d", "lin": "lin", "k": "k"}, n, map[string]bool{"d": true, "lin": true, "k": true})
			m.forward()
			xs := m.readElems("x")
			d0, lin, kk := m.readElems("d"), m.values("lin"), m.values("k")
			for i := range xs {
				var a, b, d, want, t5 field.Element
				a.Square(&xs[i])
				nine := field.NewInt(9)
				b.Sub(&a, &nine).Mul(&b, &a)
				d.Square(&b)
				t5 = field.NewInt(5)
				t5.Mul(&t5, &xs[i])
				want.Mul(&d, &xs[i]).Add(&want, &t5)
				if !want.Equal(&d0[i]) {
					t.Fatalf("d[%d] wrong", i)
				}
				xi, _ := field.ToInt64(&xs[i])
				if lin[i] != 3*xi+9 || kk[i] != 42 {
					t.Fatalf("instance %d: lin=%d k=%d", i, lin[i], kk[i])
				}
			}
			proof, pub, _ := m.parProveVerify(0)
			for i := 0; i < len(proof); i += 97 {
				bad := append([]byte(nil), proof...)
				bad[i] ^= 0x10
				_, err := gkr.Verify(m.graph, pub, bad)
				reject(t, fmt.Sprintf("byte %d flipped", i), err)
			}
		})
	}
}

// neuronCircuit is one small neuron per instance, y = (w1·x1 + w2·x2 + b)² with public integer
// weights and bias; it also outputs "z" = x1·y, which reads the output wire again (a claim on y
// from inside the circuit besides the engine's). Inputs "x1", "x2"; outputs "y", "z".
func neuronCircuit(w1, w2, b int64) *Circuit {
	c := NewCircuit()
	x1, x2 := c.Input("x1"), c.Input("x2")
	s := c.Add(c.Add(c.Scale(x1, w1), c.Scale(x2, w2)), c.Const(b))
	y := c.Mul(s, s)
	c.Output("y", y)
	c.Output("z", c.Mul(x1, y))
	return c
}
