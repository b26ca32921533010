package kernels

import (
	"fmt"
	"math/big"

	"github.com/streamprove/streamprove/gkr"
)

// OutBound is K·|A|·|B|.
func (m *MatMul) OutBound(g *gkr.Graph, in []*big.Int) (*big.Int, error) {
	d, err := m.dims(g)
	if err != nil {
		return nil, err
	}
	b := new(big.Int).Mul(in[0], in[1])
	return b.Mul(b, big.NewInt(int64(d.k))), nil
}

// Forward computes Y head by head: it holds one head of B (K·J integers, charged to the
// budget) and streams A's rows through it, writing one row of Y at a time. Operands must be
// integers whose products sum within int64 (requantize first otherwise).
func (m *MatMul) Forward(fc *ForwardCtx) error {
	d, err := m.dims(fc.Graph)
	if err != nil {
		return err
	}
	w, ints, err := fc.create(m, m.y)
	if err != nil {
		return err
	}
	if !ints {
		w.Abort()
		return fmt.Errorf("node %s: operand bounds %v·%v·%d exceed int64: requantize the operands first", m.name, fc.Bounds[m.a], fc.Bounds[m.b], d.k)
	}
	if err := m.forwardInts(fc, d, w.WriteInt64s); err != nil {
		w.Abort()
		return fmt.Errorf("node %s: %w", m.name, err)
	}
	return commit(m, w)
}

func (m *MatMul) forwardInts(fc *ForwardCtx, d mmDims, write func([]int64) error) error {
	K, J, I := int64(d.k), int64(d.j), int64(d.i)
	release, err := fc.reserve("forward head of "+m.name, (K*J+K+J)*8)
	if err != nil {
		return err
	}
	defer release()
	ra, doneA, err := openInts(fc.Store, m.a)
	if err != nil {
		return err
	}
	defer doneA()
	rb, doneB, err := openInts(fc.Store, m.b)
	if err != nil {
		return err
	}
	defer doneB()
	bh := make([]int64, K*J) // B of one head as [k][j]
	tmp := make([]int64, K*J)
	arow := make([]int64, K)
	yrow := make([]int64, J)
	for l := int64(0); l < gkr.Numel(d.lead); l++ {
		if !m.transB {
			if err := readFull(rb.Next, bh); err != nil {
				return fmt.Errorf("input %q head %d: %w", m.b, l, err)
			}
		} else {
			if err := readFull(rb.Next, tmp); err != nil { // [j][k]
				return fmt.Errorf("input %q head %d: %w", m.b, l, err)
			}
			for j := int64(0); j < J; j++ {
				for k := int64(0); k < K; k++ {
					bh[k*J+j] = tmp[j*K+k]
				}
			}
		}
		for i := int64(0); i < I; i++ {
			if err := readFull(ra.Next, arow); err != nil {
				return fmt.Errorf("input %q head %d row %d: %w", m.a, l, i, err)
			}
			clear(yrow)
			for k, a := range arow {
				if a == 0 {
					continue
				}
				bk := bh[int64(k)*J : int64(k+1)*J]
				for j := range yrow {
					yrow[j] += a * bk[j]
				}
			}
			if err := write(yrow); err != nil {
				return err
			}
		}
	}
	return nil
}

var _ Kernel = (*MatMul)(nil)
