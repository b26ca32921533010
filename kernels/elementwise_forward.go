package kernels

import (
	"fmt"
	"math/big"

	"github.com/streamprove/streamprove/field"
	"github.com/streamprove/streamprove/gkr"
	"github.com/streamprove/streamprove/tensorstore"
)

// OutBound is Σ_t |Coeff_t|·Π bounds.
func (e *Elementwise) OutBound(g *gkr.Graph, in []*big.Int) (*big.Int, error) {
	if _, err := e.check(g); err != nil {
		return nil, err
	}
	sum := new(big.Int)
	for _, t := range e.terms {
		p := new(big.Int).Abs(big.NewInt(t.Coeff))
		for _, v := range t.Vars {
			p.Mul(p, in[v])
		}
		sum.Add(sum, p)
	}
	return sum, nil
}

// Forward streams the inputs in lockstep, a chunk at a time, and writes P of them.
func (e *Elementwise) Forward(fc *ForwardCtx) error {
	w, ints, err := fc.create(e, e.y)
	if err != nil {
		return err
	}
	n := fc.Graph.Tensors[e.y].Len()
	c := fc.chunk()
	k := len(e.inputs)
	bs, err := e.check(fc.Graph)
	if err == nil {
		if ints {
			err = e.forwardInts(fc, n, c, k, bs, w.WriteInt64s)
		} else {
			err = e.forwardField(fc, n, c, k, bs, w.WriteElements)
		}
	}
	if err != nil {
		w.Abort()
		return fmt.Errorf("node %s: %w", e.name, err)
	}
	return commit(e, w)
}

func (e *Elementwise) forwardInts(fc *ForwardCtx, n int64, c, k int, bs []*bcast, write func([]int64) error) error {
	release, err := fc.reserve("forward chunks of "+e.name, int64(k+1)*int64(c)*8)
	if err != nil {
		return err
	}
	defer release()
	nexts := make([]next[int64], k)
	for i, in := range e.inputs {
		if bs[i] != nil {
			nx, done, err := broadcastReader(fc, in, bs[i], 8, func(r *tensorstore.IntReader, v []int64) error { return readFull(next[int64](r.Next), v) }, openInts)
			if err != nil {
				return err
			}
			defer done()
			nexts[i] = nx
			continue
		}
		r, done, err := openInts(fc.Store, in)
		if err != nil {
			return err
		}
		defer done()
		nexts[i] = r.Next
	}
	bufs := make([][]int64, k)
	for i := range bufs {
		bufs[i] = make([]int64, c)
	}
	out := make([]int64, c)
	for done := int64(0); done < n; done += int64(c) {
		m := int(min(int64(c), n-done))
		for i := range nexts {
			if err := readFull(nexts[i], bufs[i][:m]); err != nil {
				return fmt.Errorf("input %q at %d: %w", e.inputs[i], done, err)
			}
		}
		for j := 0; j < m; j++ {
			var s int64
			for _, t := range e.terms {
				p := t.Coeff
				for _, v := range t.Vars {
					p *= bufs[v][j]
				}
				s += p
			}
			out[j] = s
		}
		if err := write(out[:m]); err != nil {
			return err
		}
	}
	return nil
}

func (e *Elementwise) forwardField(fc *ForwardCtx, n int64, c, k int, bs []*bcast, write func([]field.Element) error) error {
	release, err := fc.reserve("forward chunks of "+e.name, int64(k+2)*int64(c)*32)
	if err != nil {
		return err
	}
	defer release()
	nexts := make([]next[field.Element], k)
	for i, in := range e.inputs {
		if bs[i] != nil {
			nx, done, err := broadcastReader(fc, in, bs[i], 32, func(st field.Stream, v []field.Element) error { return field.ReadFull(st, v) }, openElems)
			if err != nil {
				return err
			}
			defer done()
			nexts[i] = nx
			continue
		}
		st, done, err := openElems(fc.Store, in)
		if err != nil {
			return err
		}
		defer done()
		nexts[i] = st.Next
	}
	bufs := make([][]field.Element, k)
	for i := range bufs {
		bufs[i] = make([]field.Element, c)
	}
	g, err := e.gate()
	if err != nil {
		return err
	}
	out := make([]field.Element, c)
	for done := int64(0); done < n; done += int64(c) {
		m := int(min(int64(c), n-done))
		in := make([][]field.Element, k)
		for i := range nexts {
			if err := readFull(nexts[i], bufs[i][:m]); err != nil {
				return fmt.Errorf("input %q at %d: %w", e.inputs[i], done, err)
			}
			in[i] = bufs[i][:m]
		}
		g.Eval(out[:m], in)
		if err := write(out[:m]); err != nil {
			return err
		}
	}
	return nil
}

var _ Kernel = (*Elementwise)(nil)

// broadcastReader reads a broadcast input's real values into RAM (elemBytes each, charged to the
// budget) and returns a reader that yields them in the output's row-major order.
func broadcastReader[T any, R any](fc *ForwardCtx, name string, b *bcast, elemBytes int64,
	readAll func(R, []T) error, open func(*tensorstore.Store, string) (R, func(), error)) (next[T], func(), error) {
	nIn := gkr.Numel(b.in)
	release, err := fc.reserve("broadcast input "+name, nIn*elemBytes)
	if err != nil {
		return nil, nil, err
	}
	r, done, err := open(fc.Store, name)
	if err != nil {
		release()
		return nil, nil, err
	}
	vals := make([]T, nIn)
	err = readAll(r, vals)
	done()
	if err != nil {
		release()
		return nil, nil, fmt.Errorf("input %q: %w", name, err)
	}
	m := newRealIndexMap(b)
	return func(buf []T) (int, error) {
		for i := range buf {
			buf[i] = vals[m.next()]
		}
		return len(buf), nil
	}, release, nil
}
