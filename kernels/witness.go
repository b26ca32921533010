package kernels

import (
	"fmt"
	"sync"

	"github.com/streamprove/streamprove/field"
	"github.com/streamprove/streamprove/spill"
	"github.com/streamprove/streamprove/tensorstore"
)

// StoreWitness serves tensors of a store as MLE-order sources (gkr.Witness). It keeps the
// tensors it opened until Close. Allow, when non-nil, limits which tensors it serves: a
// verifier's view of a store is its public inputs only.
type StoreWitness struct {
	Store *tensorstore.Store
	Allow map[string]bool
	// Budget, when set, is charged for the prefetch buffers of every stream the witness opens.
	Budget *spill.Budget

	mu   sync.Mutex
	open map[string]*tensorstore.Tensor
}

// Source returns the padded MLE-order source of a tensor.
func (w *StoreWitness) Source(name string) (field.Source, error) {
	if w.Allow != nil && !w.Allow[name] {
		return nil, fmt.Errorf("tensor %q is not public", name)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if t, ok := w.open[name]; ok {
		return t.Source(), nil
	}
	t, err := w.Store.Tensor(name)
	if err != nil {
		return nil, err
	}
	if w.Budget != nil {
		t.SetReadOptions(tensorstore.ReadOptions{Budget: w.Budget})
	}
	if w.open == nil {
		w.open = map[string]*tensorstore.Tensor{}
	}
	w.open[name] = t
	return t.Source(), nil
}

// Close closes every tensor the witness opened.
func (w *StoreWitness) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	var first error
	for _, t := range w.open {
		if err := t.Close(); err != nil && first == nil {
			first = err
		}
	}
	w.open = nil
	return first
}

// IntRows is implemented by witnesses that can stream a tensor's stored small integers directly
// (unpadded, row-major), so a kernel can work on the integers instead of field elements.
type IntRows interface {
	// IntRows opens the tensor's unpadded data as int64 when it is stored as int8 or int16, and
	// reports the inclusive value range of that dtype; ok is false for other dtypes.
	IntRows(name string) (next func([]int64) (int, error), done func(), lo, hi int64, ok bool, err error)
}

// IntRows streams an int8/int16 tensor's stored integers.
func (w *StoreWitness) IntRows(name string) (func([]int64) (int, error), func(), int64, int64, bool, error) {
	if w.Allow != nil && !w.Allow[name] {
		return nil, nil, 0, 0, false, fmt.Errorf("tensor %q is not public", name)
	}
	t, err := w.Store.Tensor(name)
	if err != nil {
		return nil, nil, 0, 0, false, err
	}
	dt := t.Info().DType
	if dt != tensorstore.Int8 && dt != tensorstore.Int16 {
		t.Close()
		return nil, nil, 0, 0, false, nil
	}
	if w.Budget != nil {
		t.SetReadOptions(tensorstore.ReadOptions{Budget: w.Budget})
	}
	r, err := t.Ints()
	if err != nil {
		t.Close()
		return nil, nil, 0, 0, false, err
	}
	lo, hi := dt.Bounds()
	return r.Next, func() { r.Close(); t.Close() }, lo, hi, true, nil
}
