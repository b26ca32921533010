package kernels

import (
	"fmt"
	"math/big"

	"github.com/streamprove/streamprove/field"
	"github.com/streamprove/streamprove/gkr"
	"github.com/streamprove/streamprove/spill"
	"github.com/streamprove/streamprove/tensorstore"
)

// Kernel is a layer kind: the proof side (gkr.Kernel) plus witness generation.
type Kernel interface {
	gkr.Kernel
	// OutBound returns a bound on |output| given bounds on |input| (in Inputs order); it picks
	// the output's storage dtype and whether the forward pass may use int64 arithmetic.
	OutBound(g *gkr.Graph, in []*big.Int) (*big.Int, error)
	// Forward computes the outputs from the inputs, streaming through the store.
	Forward(fc *ForwardCtx) error
}

// ForwardCtx is what a forward pass works with.
type ForwardCtx struct {
	Store  *tensorstore.Store
	Graph  *gkr.Graph
	Budget *spill.Budget
	// Bounds holds |value| bounds of every tensor computed so far (inputs and weights from
	// their dtype or data, outputs from OutBound).
	Bounds map[string]*big.Int
	// Write is used for every output tensor (codec, chunk size; Replace for reruns).
	Write tensorstore.WriteOptions
	// ChunkElems is the element count per streamed chunk (0: 2^14).
	ChunkElems int
	// Workers bounds parallelism (0: GOMAXPROCS).
	Workers int
}

var maxInt64 = big.NewInt(1<<63 - 1)

// DTypeForBound returns the narrowest storage dtype that holds every value of magnitude ≤ b.
func DTypeForBound(b *big.Int) tensorstore.DType {
	for _, d := range []tensorstore.DType{tensorstore.Int8, tensorstore.Int16, tensorstore.Int32, tensorstore.Int64} {
		_, hi := d.Bounds()
		if b.Cmp(big.NewInt(hi)) <= 0 {
			return d
		}
	}
	return tensorstore.Field
}

// BoundForDType returns the largest magnitude a dtype holds (p−1)/2 for field elements.
func BoundForDType(d tensorstore.DType) *big.Int {
	if d.IsInt() {
		lo, _ := d.Bounds()
		return new(big.Int).Neg(big.NewInt(lo))
	}
	return new(big.Int).Rsh(field.Modulus(), 1)
}

func (fc *ForwardCtx) chunk() int {
	if fc.ChunkElems > 0 {
		return fc.ChunkElems
	}
	return 1 << 14
}

func (fc *ForwardCtx) bounds(k Kernel) ([]*big.Int, error) {
	out := make([]*big.Int, len(k.Inputs()))
	for i, in := range k.Inputs() {
		b, ok := fc.Bounds[in]
		if !ok {
			return nil, fmt.Errorf("node %s: no value bound for input %q", k.Name(), in)
		}
		out[i] = b
	}
	return out, nil
}

// reserve takes n bytes from the budget for who and returns the function that gives them back.
func (fc *ForwardCtx) reserve(who string, n int64) (func(), error) {
	if fc.Budget == nil {
		return func() {}, nil
	}
	if err := fc.Budget.Reserve(who, n); err != nil {
		return nil, err
	}
	return func() { fc.Budget.Release(n) }, nil
}

// create opens the output writer with the dtype its bound implies, records the bound, and
// reports whether int64 arithmetic is exact for it.
func (fc *ForwardCtx) create(k Kernel, out string) (*tensorstore.Writer, bool, error) {
	in, err := fc.bounds(k)
	if err != nil {
		return nil, false, err
	}
	b, err := k.OutBound(fc.Graph, in)
	if err != nil {
		return nil, false, err
	}
	dt := DTypeForBound(b)
	ints := b.Cmp(maxInt64) <= 0
	for _, x := range in {
		if x.Cmp(maxInt64) > 0 {
			ints = false
		}
	}
	if fc.Bounds != nil {
		fc.Bounds[out] = b
	}
	w, err := fc.Store.Create(out, fc.Graph.Tensors[out].Shape, dt, fc.Write)
	if err != nil {
		return nil, false, fmt.Errorf("node %s: %w", k.Name(), err)
	}
	return w, ints, nil
}

// next is the shape both tensorstore's int readers and field streams share.
type next[T any] func([]T) (int, error)

func readFull[T any](nx next[T], buf []T) error {
	got := 0
	for got < len(buf) {
		n, err := nx(buf[got:])
		got += n
		if err != nil {
			if got == len(buf) {
				return nil
			}
			return err
		}
	}
	return nil
}

func openInts(s *tensorstore.Store, name string) (*tensorstore.IntReader, func(), error) {
	t, err := s.Tensor(name)
	if err != nil {
		return nil, nil, err
	}
	r, err := t.Ints()
	if err != nil {
		t.Close()
		return nil, nil, err
	}
	return r, func() { r.Close(); t.Close() }, nil
}

func openElems(s *tensorstore.Store, name string) (field.Stream, func(), error) {
	t, err := s.Tensor(name)
	if err != nil {
		return nil, nil, err
	}
	st, err := t.RawSource().Open()
	if err != nil {
		t.Close()
		return nil, nil, err
	}
	return st, func() { st.Close(); t.Close() }, nil
}

func commit(k Kernel, w *tensorstore.Writer) error {
	if _, err := w.Commit(); err != nil {
		return fmt.Errorf("node %s: %w", k.Name(), err)
	}
	return nil
}
