package field

import (
	"fmt"
	"io"
)

// Virtual sources generate their values on the fly, in O(chunk) memory, so a sumcheck can take
// a structured polynomial (an eq polynomial, a padding mask) as one of its sources without a
// table of the whole length. Their MLEs are known in closed form (Eq, EqPrefixSum): a verifier
// checks a prover's final value for such a source itself and never trusts it.

// virtualChunkLog bounds the low table of an EqSource: 2^12 elements (128 KiB).
const virtualChunkLog = 12

// EqSource returns the Source of eq(point, x) for x ∈ {0,1}^len(point), in MLE order (variable 0
// is the least significant bit). Each pass builds one table of at most 2^12 elements and one
// scalar per chunk (the chunk decomposition of NewChunkEq); its MLE at r is Eq(point, r).
func EqSource(point []Element) Source {
	return eqSource{point: append([]Element(nil), point...)}
}

type eqSource struct{ point []Element }

func (s eqSource) Len() int64 { return int64(1) << len(s.point) }

func (s eqSource) Open() (Stream, error) {
	if len(s.point) > 62 {
		return nil, fmt.Errorf("field: eq source of %d variables", len(s.point))
	}
	ce := NewChunkEq(s.point, min(len(s.point), virtualChunkLog))
	return &eqStream{ce: ce, n: s.Len(), c: uint(ce.c), hiJ: -1}, nil
}

type eqStream struct {
	ce  *ChunkEq
	n   int64
	pos int64
	c   uint
	hiJ int64
	hi  Element
}

func (st *eqStream) Next(buf []Element) (int, error) {
	rest := st.n - st.pos
	if rest <= 0 {
		return 0, io.EOF
	}
	if int64(len(buf)) > rest {
		buf = buf[:rest]
	}
	mask := int64(len(st.ce.Lo) - 1)
	for i := 0; i < len(buf); {
		p := st.pos + int64(i)
		j := p >> st.c
		if j != st.hiJ {
			st.hi, st.hiJ = st.ce.Hi(j), j
		}
		lo := int(p & mask)
		k := min(len(buf)-i, len(st.ce.Lo)-lo)
		for t := 0; t < k; t++ {
			buf[i+t].Mul(&st.ce.Lo[lo+t], &st.hi)
		}
		i += k
	}
	st.pos += int64(len(buf))
	return len(buf), nil
}

func (st *eqStream) Close() error { return nil }

// MaskSource returns the Source of the padding mask of n real elements in a vector of 2^nVars:
// 1 at indices below n, 0 from n on. A constant c of a data-parallel circuit is c·mask, which
// keeps the padding zero; the mask's MLE at r is EqPrefixSum(r, n), O(nVars) for a verifier.
func MaskSource(nVars int, n int64) Source {
	return maskSource{len: int64(1) << nVars, n: min(max(n, 0), int64(1)<<nVars)}
}

type maskSource struct{ len, n int64 }

func (s maskSource) Len() int64 { return s.len }

func (s maskSource) Open() (Stream, error) { return &maskStream{s: s}, nil }

type maskStream struct {
	s   maskSource
	pos int64
}

func (st *maskStream) Next(buf []Element) (int, error) {
	rest := st.s.len - st.pos
	if rest <= 0 {
		return 0, io.EOF
	}
	if int64(len(buf)) > rest {
		buf = buf[:rest]
	}
	one := One()
	for i := range buf {
		if st.pos+int64(i) < st.s.n {
			buf[i] = one
		} else {
			buf[i].SetZero()
		}
	}
	st.pos += int64(len(buf))
	return len(buf), nil
}

func (st *maskStream) Close() error { return nil }
