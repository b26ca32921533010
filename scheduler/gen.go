package scheduler

import (
	"fmt"
	"math/rand/v2"

	"github.com/streamprove/streamprove/gkr"
	"github.com/streamprove/streamprove/tensorstore"
)

// GenSpec describes a synthetic quantized MLP: Layers linear layers of Width×Width int8 weights
// (int32 biases) over a Batch×Width int8 input, joined by requant_relu activations when the
// kernel set has them.
type GenSpec struct {
	Layers, Width, Batch int
	DType                string // weight and input dtype: int8 (default) or int16
	Seed                 uint64
}

// Gen writes a synthetic model into a store — tensors generated chunk by chunk, never whole in
// RAM — and records its graph, so that `commit` and `prove` can run on it.
func Gen(storeDir string, spec GenSpec) (*Model, error) {
	if spec.Layers < 1 || spec.Width < 1 || spec.Batch < 1 {
		return nil, fmt.Errorf("gen: --layers, --width and --batch must be positive (got %d, %d, %d)", spec.Layers, spec.Width, spec.Batch)
	}
	if spec.DType == "" {
		spec.DType = "int8"
	}
	dt, err := tensorstore.ParseDType(spec.DType)
	if err != nil || (dt != tensorstore.Int8 && dt != tensorstore.Int16) {
		return nil, fmt.Errorf("gen: --dtype %q: want int8 or int16", spec.DType)
	}
	_, hi := dt.Bounds()
	b := NewGraphBuilder(fmt.Sprintf("gen-%dx%dx%d", spec.Layers, spec.Width, spec.Batch))
	b.Tensor("x", gkr.Input, []int{spec.Batch, spec.Width}, dt)
	_, lookups := ops["requant_relu"]
	act := "x"
	for l := 1; l <= spec.Layers; l++ {
		w, bias := fmt.Sprintf("fc%d.w", l), fmt.Sprintf("fc%d.b", l)
		b.Tensor(w, gkr.Weight, []int{spec.Width, spec.Width}, dt)
		b.Tensor(bias, gkr.Weight, []int{spec.Width}, tensorstore.Int32)
		h := fmt.Sprintf("h%d", l)
		if l == spec.Layers {
			h = "y"
			b.Output("y")
		}
		b.Node("linear", fmt.Sprintf("fc%d", l), []string{act, w, bias}, h, nil)
		act = h
		if l < spec.Layers && lookups {
			bits := 8
			if dt == tensorstore.Int16 {
				bits = 16
			}
			a := fmt.Sprintf("a%d", l)
			b.Node("requant_relu", fmt.Sprintf("act%d", l), []string{h}, a, Attrs{"shift": requantShift(spec.Width, hi, bits), "bits": bits})
			act = a
		}
	}
	m, err := b.Build()
	if err != nil {
		return nil, fmt.Errorf("gen: %w", err)
	}
	s, err := tensorstore.Open(storeDir)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	if err := s.DeleteMeta(metaModel, keyGraph); err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(spec.Seed, spec.Seed^0x9e3779b97f4a7c15))
	for _, name := range sortedKeys(m.DTypes) {
		tdt := m.DTypes[name]
		lim := hi
		if tdt == tensorstore.Int32 {
			lim = 1 << 16 // biases: a few units of the accumulator's scale
		}
		if err := genTensor(s, name, m.Graph.Tensors[name].Shape, tdt, lim, rng); err != nil {
			return nil, err
		}
	}
	if err := saveModel(s, m); err != nil {
		return nil, err
	}
	return m, nil
}

// requantShift picks the shift that brings a Width-term dot product of values up to hi back
// near the signed bits range: the sum of W products of ±hi-sized values spreads about hi²·√W.
func requantShift(width int, hi int64, bits int) int {
	s := 0
	for v := hi * hi; v > 1; v >>= 1 {
		s++
	}
	for w := width; w > 1; w >>= 2 {
		s++
	}
	return max(1, s-(bits-1))
}

func genTensor(s *tensorstore.Store, name string, shape []int, dt tensorstore.DType, lim int64, rng *rand.Rand) error {
	w, err := s.Create(name, shape, dt, tensorstore.WriteOptions{Replace: true})
	if err != nil {
		return err
	}
	n := int64(1)
	for _, d := range shape {
		n *= int64(d)
	}
	buf := make([]int64, 1<<16)
	for done := int64(0); done < n; done += int64(len(buf)) {
		m := min(int64(len(buf)), n-done)
		for i := range buf[:m] {
			buf[i] = rng.Int64N(2*lim+1) - lim
		}
		if err := w.WriteInt64s(buf[:m]); err != nil {
			w.Abort()
			return fmt.Errorf("gen %q: %w", name, err)
		}
	}
	_, err = w.Commit()
	return err
}
