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

// IntRows is a tensor's stored small integers, unpadded and row-major (Next; Close releases the
// tensor), with the inclusive value range of its dtype.
type IntRows struct {
	field.IntStream
	Lo, Hi int64
}

// IntWitness is implemented by witnesses that can stream a tensor's stored small integers
// directly, so a kernel can work on the integers instead of field elements.
type IntWitness interface {
	// IntRows opens the tensor's unpadded data as integers when it is stored as int8 or int16,
	// and returns nil (and no error) for other dtypes.
	IntRows(name string) (*IntRows, error)
}

// IntRows streams an int8/int16 tensor's stored integers.
func (w *StoreWitness) IntRows(name string) (*IntRows, error) {
	if w.Allow != nil && !w.Allow[name] {
		return nil, fmt.Errorf("tensor %q is not public", name)
	}
	t, err := w.Store.Tensor(name)
	if err != nil {
		return nil, err
	}
	dt := t.Info().DType
	if dt != tensorstore.Int8 && dt != tensorstore.Int16 {
		t.Close()
		return nil, nil
	}
	if w.Budget != nil {
		t.SetReadOptions(tensorstore.ReadOptions{Budget: w.Budget})
	}
	r, err := t.Ints()
	if err != nil {
		t.Close()
		return nil, err
	}
	lo, hi := dt.Bounds()
	return &IntRows{IntStream: &tensorInts{r, t}, Lo: lo, Hi: hi}, nil
}

// tensorInts is a tensor's integer reader that closes the tensor with it.
type tensorInts struct {
	*tensorstore.IntReader
	t *tensorstore.Tensor
}

func (ti *tensorInts) Close() error {
	err := ti.IntReader.Close()
	if e := ti.t.Close(); err == nil {
		err = e
	}
	return err
}
