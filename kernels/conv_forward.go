package kernels

import (
	"fmt"
	"math/big"

	"github.com/streamprove/streamprove/field"
	"github.com/streamprove/streamprove/gkr"
)

// OutBound is |X|·|W|·C_g·kh·kw + |bias|.
func (k *Conv2D) OutBound(g *gkr.Graph, in []*big.Int) (*big.Int, error) {
	cg, err := k.geom(g)
	if err != nil {
		return nil, err
	}
	b := new(big.Int).Mul(in[0], in[1])
	b.Mul(b, big.NewInt(int64(cg.cg*cg.kh*cg.kw)))
	if k.bias != "" {
		b.Add(b, in[2])
	}
	return b, nil
}

// Forward computes Y in int64, one (sample, group) block at a time: the block's C_g input planes
// and its K_g output planes sit in RAM (charged to the budget) while the weight, which is the
// layer's parameters, stays resident. Inputs stream in their stored order and outputs are
// written in theirs, so a feature map of any size passes through in blocks.
func (k *Conv2D) Forward(fc *ForwardCtx) error {
	cg, err := k.geom(fc.Graph)
	if err != nil {
		return err
	}
	w, ints, err := fc.create(k, k.y)
	if err != nil {
		return err
	}
	if !ints {
		w.Abort()
		return fmt.Errorf("node %s: conv2d values exceed int64 (inputs must be quantized integers)", k.name)
	}
	if err := k.forward(fc, cg, w.WriteInt64s); err != nil {
		w.Abort()
		return fmt.Errorf("node %s: %w", k.name, err)
	}
	return commit(k, w)
}

func (k *Conv2D) forward(fc *ForwardCtx, cg convGeom, write func([]int64) error) error {
	wLen := cg.k * cg.cg * cg.kh * cg.kw
	inLen := cg.cg * cg.h * cg.w
	outLen := cg.kg * cg.ho * cg.wo
	release, err := fc.reserve("conv forward buffers of "+k.name, int64(wLen+cg.k+inLen+outLen)*8)
	if err != nil {
		return err
	}
	defer release()
	weights := make([]int64, wLen)
	bias := make([]int64, cg.k)
	load := func(name string, dst []int64) error {
		r, done, err := openInts(fc.Store, name)
		if err != nil {
			return err
		}
		defer done()
		if err := readFull(r.Next, dst); err != nil {
			return fmt.Errorf("tensor %q: %w", name, err)
		}
		return nil
	}
	if err := load(k.w, weights); err != nil {
		return err
	}
	if k.bias != "" {
		if err := load(k.bias, bias); err != nil {
			return err
		}
	}
	xr, done, err := openInts(fc.Store, k.x)
	if err != nil {
		return err
	}
	defer done()
	xb := make([]int64, inLen)
	yb := make([]int64, outLen)
	rows := axisRanges(cg.ho, cg.kh, k.a.StrideH, k.a.DilH, k.a.PadTop, cg.h)
	cols := axisRanges(cg.wo, cg.kw, k.a.StrideW, k.a.DilW, k.a.PadLeft, cg.w)
	sw := k.a.StrideW
	for b := 0; b < cg.n; b++ {
		for g := 0; g < cg.g; g++ {
			if err := readFull(xr.Next, xb); err != nil {
				return fmt.Errorf("input %q sample %d group %d: %w", k.x, b, g, err)
			}
			fieldParallelInts(cg.kg, fc.Workers, int64(outLen*cg.cg*cg.kh*cg.kw), func(j int) {
				o := g*cg.kg + j
				y := yb[j*cg.ho*cg.wo : (j+1)*cg.ho*cg.wo]
				for i := range y {
					y[i] = bias[o]
				}
				for c := 0; c < cg.cg; c++ {
					xc := xb[c*cg.h*cg.w : (c+1)*cg.h*cg.w]
					for u := 0; u < cg.kh; u++ {
						ru := rows[u]
						for v := 0; v < cg.kw; v++ {
							wt := weights[((o*cg.cg+c)*cg.kh+u)*cg.kw+v]
							if wt == 0 {
								continue
							}
							cv := cols[v]
							for h := ru.lo; h < ru.hi; h++ {
								xrow := xc[(h*k.a.StrideH+ru.off)*cg.w:]
								yrow := y[h*cg.wo : (h+1)*cg.wo]
								xi := cv.lo*sw + cv.off
								for ww := cv.lo; ww < cv.hi; ww++ {
									yrow[ww] += wt * xrow[xi]
									xi += sw
								}
							}
						}
					}
				}
			})
			if err := write(yb); err != nil {
				return err
			}
		}
	}
	return nil
}

// axisRange is, for one kernel tap, the output positions [lo, hi) whose input index
// stride·o + off (off = dil·tap − pad) lies inside the image.
type axisRange struct{ lo, hi, off int }

func axisRanges(outLen, k, stride, dil, pad, inLen int) []axisRange {
	r := make([]axisRange, k)
	for t := 0; t < k; t++ {
		off := dil*t - pad
		lo, hi := 0, outLen
		for lo < hi && stride*lo+off < 0 {
			lo++
		}
		for hi > lo && stride*(hi-1)+off >= inLen {
			hi--
		}
		r[t] = axisRange{lo: lo, hi: hi, off: off}
	}
	return r
}

// fieldParallelInts runs fn(0..n-1) on the configured workers when the work is worth it.
func fieldParallelInts(n, workers int, work int64, fn func(i int)) {
	field.Parallel(n, workersFor(work, workers), func(s, e int) {
		for i := s; i < e; i++ {
			fn(i)
		}
	})
}
