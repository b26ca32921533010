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
