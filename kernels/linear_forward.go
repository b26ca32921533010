package kernels

import (
	"fmt"
	"math/big"

	"github.com/streamprove/streamprove/field"
	"github.com/streamprove/streamprove/gkr"
	"github.com/streamprove/streamprove/tensorstore"
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
// bound allows it (exact, and ~10× cheaper than field multiplications); an int8 weight whose
// sums fit 32 bits takes the packed path (two batch rows per multiplication).
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
	packed := false
	if ints {
		packed, ferr = linearForwardPacked(l, fc, batch, in, out, w.WriteInt64s)
	}
	switch {
	case packed || ferr != nil: // the packed int8 path ran (or failed)
	case ints:
		ferr = linearForward(l, fc, batch, in, out, 8,
			func(name string) (next[int64], func(), error) {
				r, done, err := openInts(fc.Store, name)
				if err != nil {
					return nil, nil, err
				}
				return r.Next, done, nil
			},
			dotInt64, dot4Int64, func(a, b int64) int64 { return a + b }, w.WriteInt64s)
	default:
		ferr = linearForward(l, fc, batch, in, out, 32,
			func(name string) (next[field.Element], func(), error) {
				st, done, err := openElems(fc.Store, name)
				if err != nil {
					return nil, nil, err
				}
				return st.Next, done, nil
			},
			field.InnerProduct, nil, func(a, b field.Element) field.Element { a.Add(&a, &b); return a }, w.WriteElements)
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

// dot4Int64 returns the dot products of w with four rows x0 … x3 in one pass over w: each w
// element is loaded once for four products (1.5× dotInt64's throughput per product on this
// machine, BenchmarkDotRows).
func dot4Int64(w, x0, x1, x2, x3 []int64) (s0, s1, s2, s3 int64) {
	x0, x1, x2, x3 = x0[:len(w)], x1[:len(w)], x2[:len(w)], x3[:len(w)]
	for i, v := range w {
		s0 += v * x0[i]
		s1 += v * x1[i]
		s2 += v * x2[i]
		s3 += v * x3[i]
	}
	return
}

// linearForward computes Y = X·Wᵀ (+ bias) streaming W in groups of rows; dot4, when not nil,
// computes four batch rows against one W row at once.
func linearForward[T any](l *Linear, fc *ForwardCtx, batch, in, out int, elemBytes int64,
	open func(string) (next[T], func(), error), dot func(a, b []T) T,
	dot4 func(w, x0, x1, x2, x3 []T) (T, T, T, T), add func(a, b T) T, write func([]T) error) error {
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
					set := func(b int, v T) {
						if bias != nil {
							v = add(v, bias[o0+g])
						}
						yblock[b*out+o0+g] = v
					}
					b := 0
					if dot4 != nil {
						for ; b+4 <= nb; b += 4 {
							x := func(k int) []T { return xblock[(b+k)*in : (b+k+1)*in] }
							v0, v1, v2, v3 := dot4(wrow, x(0), x(1), x(2), x(3))
							set(b, v0)
							set(b+1, v1)
							set(b+2, v2)
							set(b+3, v3)
						}
					}
					for ; b < nb; b++ {
						set(b, dot(xblock[b*in:(b+1)*in], wrow))
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

// packLanes is how many batch rows share one int64 in the packed forward: two signed 32-bit
// lanes, x_{2p} + x_{2p+1}·2^32.
const packLanes = 2

// packQuad is how many packed int64s (8 batch rows) one pass over a W row serves.
const packQuad = 4

// linearForwardPacked is the integer forward for an int8 weight. When every output sum fits in
// a signed 32-bit lane (I·|X|·|W| < 2^31; LLaMA-7B's I = 11008 with int8 X and W gives 2^27.4),
// two batch rows share one int64, x_{2p} + x_{2p+1}·2^32, so one 64-bit multiplication by w
// makes two products, and a pass over a W row (read as bytes, Next8) feeds four packed
// accumulators (eight batch rows) in registers. The 64-bit sum S_0 + S_1·2^32 is exact (|S| <
// 2^31) and splits back as S_0 = int32(low word), S_1 = (sum − S_0) >> 32. Wider sums (an int16
// X, as a norm's output feeding a 4096-wide layer) take one row per int64 — four batch rows per
// pass over the W row's bytes — which still reads W at a byte per weight instead of the eight of
// an int64 row (the forward of a 7B-shaped block is bound by that traffic). It reports false
// (and does nothing) when the weight is not int8 or a sum could exceed 2^62.
func linearForwardPacked(l *Linear, fc *ForwardCtx, batch, in, out int, write func([]int64) error) (bool, error) {
	bx, bw := fc.Bounds[l.x], fc.Bounds[l.w]
	if bx == nil || bw == nil {
		return false, nil
	}
	lane := new(big.Int).Mul(bx, bw)
	lane.Mul(lane, big.NewInt(int64(in)))
	lanes := packLanes
	if lane.Cmp(big.NewInt(1<<31-1)) >= 0 {
		lanes = 1
	}
	if lane.Cmp(big.NewInt(1<<62)) >= 0 {
		return false, nil
	}
	if wi, err := fc.Store.Stat(l.w); err != nil || wi.DType != tensorstore.Int8 {
		return false, nil
	}
	var bias []int64
	if l.bias != "" {
		release, err := fc.reserve("bias of "+l.name, int64(out)*8)
		if err != nil {
			return true, err
		}
		defer release()
		bias = make([]int64, out)
		r, done, err := openInts(fc.Store, l.bias)
		if err != nil {
			return true, err
		}
		err = readFull(r.Next, bias)
		done()
		if err != nil {
			return true, fmt.Errorf("bias %q: %w", l.bias, err)
		}
	}
	// Plan as linearForward: a W group of up to 64 rows (or 4 MiB of bytes), and as many X rows
	// as a quarter of the free budget holds, rounded to whole quads of 8 (packed: 4 bytes per x).
	rowsPerQuad := lanes * packQuad
	group := min(out, max(1, min(64, (4<<20)/in)))
	rows := batch
	if fc.Budget != nil && !fc.Budget.Unlimited() {
		free := fc.Budget.Available()/4 - int64(group*in)
		rows = int(max(1, min(int64(batch), free/(int64(in)*4+int64(out)*8))))
	}
	quads := (rows + rowsPerQuad - 1) / rowsPerQuad
	need := int64(quads)*int64(in)*packQuad*8 + int64(rows)*int64(in)*8 + int64(rows)*int64(out)*8 + int64(group*in)
	release, err := fc.reserve("forward buffers of "+l.name, need)
	if err != nil {
		return true, err
	}
	defer release()
	xrows := make([]int64, rows*in)
	xq := make([][packQuad]int64, quads*in) // quad q, column i: xq[q*in+i]
	yblock := make([]int64, rows*out)
	wgroup := make([]int8, group*in)

	xr, xdone, err := openInts(fc.Store, l.x)
	if err != nil {
		return true, err
	}
	defer xdone()
	for b0 := 0; b0 < batch; b0 += rows {
		nb := min(rows, batch-b0)
		if err := readFull(xr.Next, xrows[:nb*in]); err != nil {
			return true, fmt.Errorf("input %q rows %d..%d: %w", l.x, b0, b0+nb, err)
		}
		nq := (nb + rowsPerQuad - 1) / rowsPerQuad
		clear(xq[:nq*in])
		for b := 0; b < nb; b++ {
			q, p, h := b/rowsPerQuad, b%rowsPerQuad/lanes, b%lanes
			xb, dst := xrows[b*in:(b+1)*in], xq[q*in:(q+1)*in]
			for i, v := range xb {
				dst[i][p] += v << (32 * h)
			}
		}
		wr, wdone, err := openInts(fc.Store, l.w)
		if err != nil {
			return true, err
		}
		for o0 := 0; o0 < out; o0 += group {
			ng := min(group, out-o0)
			if err := readFull(wr.Next8, wgroup[:ng*in]); err != nil {
				wdone()
				return true, fmt.Errorf("weight %q rows %d..%d: %w", l.w, o0, o0+ng, err)
			}
			field.Parallel(ng, workersFor(int64(ng*in*nb), fc.Workers), func(s, e int) {
				for g := s; g < e; g++ {
					wrow := wgroup[g*in : (g+1)*in]
					o := o0 + g
					for q := 0; q < nq; q++ {
						sums := dotPacked(xq[q*in:(q+1)*in], wrow)
						for p, a := range sums {
							vs := [packLanes]int64{a}
							if lanes == 2 {
								vs[0] = int64(int32(a))
								vs[1] = (a - vs[0]) >> 32
							}
							for h, v := range vs[:lanes] {
								b := q*rowsPerQuad + p*lanes + h
								if b >= nb {
									break
								}
								if bias != nil {
									v += bias[o]
								}
								yblock[b*out+o] = v
							}
						}
					}
				}
			})
		}
		wdone()
		if err := write(yblock[:nb*out]); err != nil {
			return true, err
		}
	}
	return true, nil
}

// dotPacked returns Σ_i x[i][p]·w[i] for the four packed accumulators p.
func dotPacked(x [][packQuad]int64, w []int8) [packQuad]int64 {
	var a0, a1, a2, a3 int64
	x = x[:len(w)]
	for i, wv := range w {
		v := int64(wv)
		xi := &x[i]
		a0 += xi[0] * v
		a1 += xi[1] * v
		a2 += xi[2] * v
		a3 += xi[3] * v
	}
	return [packQuad]int64{a0, a1, a2, a3}
}
