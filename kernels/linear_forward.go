package kernels

import (
	"fmt"
	"math/big"

	"github.com/streamprove/streamprove/field"
	"github.com/streamprove/streamprove/gkr"
)

// OutBound is |X|·|W|·I + |bias|.
func (l *Linear) OutBound(g *gkr.Graph, in []*big.Int) (*big.Int, error) {
	_, i, _, err := l.dims(g)
	if err != nil {
		return nil, err
	}
	b := new(big.Int).Mul(in[0], in[1])
	b.Mul(b, big.NewInt(int64(i)))
	if l.bias != "" {
		b.Add(b, in[2])
	}
	return b, nil
}

// Forward computes Y block by block: a block of X rows sits in RAM while W streams past it once,
// a group of W rows at a time (the group's dot products run in parallel). With a small batch
// that is one pass over W, the largest tensor. Integer models compute in int64 when the output
// bound allows it (exact, and ~10× cheaper than field multiplications).
func (l *Linear) Forward(fc *ForwardCtx) error {
	batch, in, out, err := l.dims(fc.Graph)
	if err != nil {
		return err
	}
	w, ints, err := fc.create(l, l.y)
	if err != nil {
		return err
	}
	var ferr error
	if ints {
		ferr = linearForward(l, fc, batch, in, out, 8,
			func(name string) (next[int64], func(), error) {
				r, done, err := openInts(fc.Store, name)
				if err != nil {
					return nil, nil, err
				}
				return r.Next, done, nil
			},
			dotInt64, func(a, b int64) int64 { return a + b }, w.WriteInt64s)
	} else {
		ferr = linearForward(l, fc, batch, in, out, 32,
			func(name string) (next[field.Element], func(), error) {
				st, done, err := openElems(fc.Store, name)
				if err != nil {
					return nil, nil, err
				}
				return st.Next, done, nil
			},
			field.InnerProduct, func(a, b field.Element) field.Element { a.Add(&a, &b); return a }, w.WriteElements)
	}
	if ferr != nil {
		w.Abort()
		return fmt.Errorf("node %s: %w", l.name, ferr)
	}
	return commit(l, w)
}

func dotInt64(a, b []int64) int64 {
	var s int64
	b = b[:len(a)]
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

func linearForward[T any](l *Linear, fc *ForwardCtx, batch, in, out int, elemBytes int64,
	open func(string) (next[T], func(), error), dot func(a, b []T) T, add func(a, b T) T,
	write func([]T) error) error {
	var bias []T
	if l.bias != "" {
		release, err := fc.reserve("bias of "+l.name, int64(out)*elemBytes)
		if err != nil {
			return err
		}
		defer release()
		bias = make([]T, out)
		nx, done, err := open(l.bias)
		if err != nil {
			return err
		}
		err = readFull(nx, bias)
		done()
		if err != nil {
			return fmt.Errorf("bias %q: %w", l.bias, err)
		}
	}
	// Plan: a W group of up to 64 rows (or 4 MiB), and as many X rows as a quarter of the free
	// budget holds (at least one).
	group := max(1, min(64, (4<<20)/(in*int(elemBytes))))
	group = min(group, out)
	rows := batch
	if fc.Budget != nil && !fc.Budget.Unlimited() {
		free := fc.Budget.Available()/4 - int64(group*in)*elemBytes
		rows = int(max(1, min(int64(batch), free/(int64(in+out)*elemBytes))))
	}
	release, err := fc.reserve("forward buffers of "+l.name, (int64(rows)*int64(in+out)+int64(group*in))*elemBytes)
	if err != nil {
		return err
	}
	defer release()
	xblock := make([]T, rows*in)
	yblock := make([]T, rows*out)
	wgroup := make([]T, group*in)

	xnext, xdone, err := open(l.x)
	if err != nil {
		return err
	}
	defer xdone()
	for b0 := 0; b0 < batch; b0 += rows {
		nb := min(rows, batch-b0)
		if err := readFull(xnext, xblock[:nb*in]); err != nil {
			return fmt.Errorf("input %q rows %d..%d: %w", l.x, b0, b0+nb, err)
		}
		wnext, wdone, err := open(l.w)
		if err != nil {
			return err
		}
		for o0 := 0; o0 < out; o0 += group {
			ng := min(group, out-o0)
			if err := readFull(wnext, wgroup[:ng*in]); err != nil {
				wdone()
				return fmt.Errorf("weight %q rows %d..%d: %w", l.w, o0, o0+ng, err)
			}
			field.Parallel(ng, workersFor(int64(ng*in*nb), fc.Workers), func(s, e int) {
				for g := s; g < e; g++ {
					wrow := wgroup[g*in : (g+1)*in]
					for b := 0; b < nb; b++ {
						v := dot(xblock[b*in:(b+1)*in], wrow)
						if bias != nil {
							v = add(v, bias[o0+g])
						}
						yblock[b*out+o0+g] = v
					}
				}
			})
		}
		wdone()
		if err := write(yblock[:nb*out]); err != nil {
			return err
		}
	}
	return nil
}

var _ Kernel = (*Linear)(nil)
