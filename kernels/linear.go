package kernels

import (
	"encoding/binary"
	"fmt"

	"github.com/streamprove/streamprove/field"
	"github.com/streamprove/streamprove/gkr"
	"github.com/streamprove/streamprove/spill"
	"github.com/streamprove/streamprove/sumcheck"
)

// Linear is Y[b,o] = Σ_i X[b,i]·W[o,i] (+ bias[o]) with W stored [out, in] like PyTorch.
// X may be a vector [in] (then Y is [out]).
//
// Proof (DESIGN §9): for the claim Ỹ(r_o, r_b) = v, the prover streams X once accumulating
// x_r[i] = Σ_b eq(r_b,b)·X[b,i] and W once accumulating w_r[i] = Σ_o eq(r_o,o)·W[o,i], sends
// bias~(r_o), and proves Σ_i x_r[i]·w_r[i] = v − mask(r_b)·bias~(r_o) with a degree-2 sumcheck over
// i. The mask (1 on real batch rows) keeps Y's padding zero. Cost O(B·I + O·I) field operations
// against the forward pass's O(B·I·O); memory two vectors of I elements, spilled to files when
// the budget cannot hold them.
type Linear struct {
	name       string
	x, w, bias string // bias may be ""
	y          string
}

// NewLinear returns a linear kernel; bias may be "".
func NewLinear(name, x, w, bias, y string) *Linear {
	return &Linear{name: name, x: x, w: w, bias: bias, y: y}
}

// Name returns the node name.
func (l *Linear) Name() string { return l.name }

// Inputs returns X, W and (when present) the bias.
func (l *Linear) Inputs() []string {
	if l.bias == "" {
		return []string{l.x, l.w}
	}
	return []string{l.x, l.w, l.bias}
}

// Outputs returns Y.
func (l *Linear) Outputs() []string { return []string{l.y} }

// Describe encodes the op for the graph digest.
func (l *Linear) Describe() []byte {
	b := []byte("linear/1")
	if l.bias != "" {
		b = append(b, 1)
	}
	return b
}

// dims returns B (rows of X, 1 for a vector), I and O, checking the shapes agree.
func (l *Linear) dims(g *gkr.Graph) (batch, in, out int, err error) {
	xs, ws, ys := g.Tensors[l.x].Shape, g.Tensors[l.w].Shape, g.Tensors[l.y].Shape
	if len(ws) != 2 {
		return 0, 0, 0, fmt.Errorf("%w: node %s: weight %q has shape %v, want [out, in]", gkr.ErrGraph, l.name, l.w, ws)
	}
	out, in = ws[0], ws[1]
	switch len(xs) {
	case 1:
		batch = 1
		if len(ys) != 1 || ys[0] != out {
			return 0, 0, 0, fmt.Errorf("%w: node %s: output %q has shape %v, want [%d]", gkr.ErrGraph, l.name, l.y, ys, out)
		}
	case 2:
		batch = xs[0]
		if len(ys) != 2 || ys[0] != batch || ys[1] != out {
			return 0, 0, 0, fmt.Errorf("%w: node %s: output %q has shape %v, want [%d %d]", gkr.ErrGraph, l.name, l.y, ys, batch, out)
		}
	default:
		return 0, 0, 0, fmt.Errorf("%w: node %s: input %q has shape %v, want [batch, in] or [in]", gkr.ErrGraph, l.name, l.x, xs)
	}
	if xs[len(xs)-1] != in {
		return 0, 0, 0, fmt.Errorf("%w: node %s: input %q has %d features, weight %q expects %d", gkr.ErrGraph, l.name, l.x, xs[len(xs)-1], l.w, in)
	}
	if l.bias != "" {
		if bs := g.Tensors[l.bias].Shape; len(bs) != 1 || bs[0] != out {
			return 0, 0, 0, fmt.Errorf("%w: node %s: bias %q has shape %v, want [%d]", gkr.ErrGraph, l.name, l.bias, bs, out)
		}
	}
	return batch, in, out, nil
}

func log2i(n int) int { k, _ := field.Log2(field.NextPow2(int64(n))); return k }

// Estimate: at least the row pieces (the two row vectors of I elements spill when they do not
// fit); X and W streamed once.
func (l *Linear) Estimate(g *gkr.Graph) gkr.Estimate {
	b, i, o, err := l.dims(g)
	if err != nil {
		return gkr.Estimate{}
	}
	pi := field.NextPow2(int64(i))
	return gkr.Estimate{MinBytes: 3 * min(pi, 1<<10) * field.Bytes, TableBytes: 2 * pi * field.Bytes,
		StreamBytes: (int64(b) + int64(o)) * pi * field.Bytes}
}

// Prove reduces the claim on Y to claims on X, W and the bias.
func (l *Linear) Prove(pc *gkr.ProveCtx, out []gkr.Claim) ([]gkr.Claim, error) {
	return l.protocol(pc.Party(), out)
}

// Verify checks the kernel's messages and returns the claims on X, W and the bias.
func (l *Linear) Verify(vc *gkr.VerifyCtx, out []gkr.Claim) ([]gkr.Claim, error) {
	return l.protocol(vc.Party(), out)
}

// protocol is the kernel's one description of its messages: the bias's value at r_o (when there
// is a bias), then the degree-2 sumcheck over i of x_r·w_r, where the prover streams X and W once
// each to build x_r[i] = Σ_b eq(r_b, b)·X[b, i] and w_r[i] = Σ_o eq(r_o, o)·W[o, i].
func (l *Linear) protocol(p *gkr.Party, out []gkr.Claim) ([]gkr.Claim, error) {
	batch, in, o, err := l.dims(p.Graph())
	if err != nil {
		return nil, err
	}
	logO, logI := log2i(o), log2i(in)
	c := out[0]
	rO, rB := c.Point[:logO], c.Point[logO:]
	var bv field.Element
	if l.bias != "" {
		var err error
		if bv, err = p.Value("linear/bias", l.bias, rO); err != nil {
			return nil, fmt.Errorf("bias: %w", err)
		}
	}
	var xr, wr *spill.Table
	defer func() {
		for _, t := range []*spill.Table{xr, wr} {
			if t != nil {
				t.Release()
			}
		}
	}()
	sc := &sumcheck.Claim{NumVars: logI, Gate: sumcheck.Product(2), Sum: linearTarget(c.Value, rB, batch, bv)}
	point, finals, err := p.Sumcheck(sc, func() ([]field.Source, error) {
		pc := p.Prover()
		pi := int64(1) << logI
		var err error
		if xr, err = l.combine(pc, l.x, rB, batch, in, pi, pc.Budget()); err != nil {
			return nil, err
		}
		if wr, err = l.combine(pc, l.w, rO, o, in, pi, pc.Budget()); err != nil {
			return nil, err
		}
		return []field.Source{xr, wr}, nil
	})
	if err != nil {
		return nil, err
	}
	cs := l.inClaims(point, rO, rB, finals, bv)
	if wr != nil && wr.InRAM() {
		cs[1].Hint = p.Prover().KeepHint(wr.Slice())
	}
	return cs, nil
}

// linearTarget is v − mask(r_b)·bias~(r_o): the part of Ỹ that the matmul must account for.
func linearTarget(v field.Element, rB []field.Element, batch int, bv field.Element) field.Element {
	m := field.EqPrefixSum(rB, uint64(batch))
	m.Mul(&m, &bv)
	var t field.Element
	t.Sub(&v, &m)
	return t
}

func (l *Linear) inClaims(ri, rO, rB, finals []field.Element, bv field.Element) []gkr.Claim {
	cat := func(a, b []field.Element) []field.Element {
		return append(append(make([]field.Element, 0, len(a)+len(b)), a...), b...)
	}
	cs := []gkr.Claim{
		{Tensor: l.x, Point: cat(ri, rB), Value: finals[0]},
		{Tensor: l.w, Point: cat(ri, rO), Value: finals[1]},
	}
	if l.bias != "" {
		cs = append(cs, gkr.Claim{Tensor: l.bias, Point: cat(rO, nil), Value: bv})
	}
	return cs
}

// combine returns Σ_j eq(r, j)·T[j, :] for the real rows of T, on its stored integers when it
// can and on field elements otherwise; both give the same vector.
func (l *Linear) combine(pc *gkr.ProveCtx, name string, r []field.Element, rows, in int, pi int64, b *spill.Budget) (*spill.Table, error) {
	if t, ok, err := rowCombineInts(pc, name, r, rows, in, pi, b); err != nil || ok {
		return t, err
	}
	return rowCombine(pc, name, r, rows, pi, b)
}

// rowCombineInts is rowCombine for a tensor stored as small integers (int8, or int16 with
// rows long enough): for each row it builds the table T[v] = e·v of every value the dtype holds
// (one addition per entry), after which each element costs one addition, acc[i] += T[x], instead
// of a multiplication and an addition. The additions go into unreduced five-word sums
// (field.WideSum: a carry chain and no comparison with p, 4.6× cheaper than a reduced Add on this
// machine) reduced once per column at the end. It reads the stored integers, never converting
// them to field elements, and hands a block of rows (up to rowPiece integers) to the workers at
// a time, each worker owning a range of columns. ok is false when the witness cannot serve the
// tensor this way.
func rowCombineInts(pc *gkr.ProveCtx, name string, r []field.Element, rows, in int, pi int64, b *spill.Budget) (*spill.Table, bool, error) {
	iw, isInts := pc.Witness.(IntWitness)
	if !isInts {
		return nil, false, nil
	}
	ir, err := iw.IntRows(name)
	if err != nil || ir == nil {
		return nil, false, err
	}
	defer ir.Close()
	lo, hi := ir.Lo, ir.Hi
	span := hi - lo + 1
	if span > int64(in)/2 {
		return nil, false, nil // the table would cost more than the row it saves
	}
	piece := min(int64(in), rowPiece)
	block := max(1, int(rowPiece/int64(in))) // whole rows per block when a row fits a piece
	bufBytes := int64(block)*piece*8 +       // int64 rows (int8 rows take 1/8)
		int64(block)*span*field.Bytes + int64(in)*field.WideSumBytes
	if b != nil {
		if !b.TryReserve(bufBytes) {
			return nil, false, nil // a tight budget takes the piecewise field path
		}
		defer b.Release(bufBytes)
	}
	acc, err := spill.NewTable(b, "linear row vector of "+name, pi, pc.Opt.SpillDir)
	if err != nil {
		return nil, false, err
	}
	if !acc.InRAM() {
		acc.Release()
		return nil, false, nil // a spilled vector takes the piecewise field path
	}
	wide := field.NewWideSum(in)
	// An int8 tensor is read as bytes (Next8): 8× less to copy than int64, and no widening.
	r8, _ := ir.IntStream.(interface {
		Int8() bool
		Next8([]int8) (int, error)
	})
	int8s := r8 != nil && r8.Int8() && lo == -128 && span == 256
	var buf []int64
	var buf8 []int8
	if int8s {
		buf8 = make([]int8, int64(block)*piece)
	} else {
		buf = make([]int64, int64(block)*piece)
	}
	tables := make([]field.Element, int64(block)*span)
	for j0 := 0; j0 < rows; j0 += block {
		nr := min(block, rows-j0)
		for k := 0; k < nr; k++ {
			e := field.EqIndex(r, uint64(j0+k))
			t := tables[int64(k)*span : int64(k+1)*span]
			t[0] = field.NewInt(lo)
			t[0].Mul(&t[0], &e)
			for v := int64(1); v < span; v++ {
				t[v].Add(&t[v-1], &e)
			}
		}
		for off := 0; off < in; off += int(piece) {
			m := min(int(piece), in-off)
			var err error
			if int8s {
				err = readFull(r8.Next8, buf8[:nr*m])
			} else {
				err = readFull(ir.Next, buf[:nr*m])
			}
			if err != nil {
				acc.Release()
				return nil, false, fmt.Errorf("tensor %q rows %d..%d: %w", name, j0, j0+nr, err)
			}
			dst := wide[off : off+m]
			field.Parallel(m, workersFor(int64(nr*m), pc.Opt.Workers), func(s, e int) {
				if int8s {
					vals, ts := make([][]int8, nr), make([]*[256]field.Element, nr)
					for k := range vals {
						vals[k], ts[k] = buf8[k*m+s:k*m+e], (*[256]field.Element)(tables[k*256:(k+1)*256])
					}
					dst[s:e].AddLookup8Rows(vals, ts)
					return
				}
				for k := 0; k < nr; k++ {
					dst[s:e].AddLookup(buf[k*m+s:k*m+e], lo, tables[int64(k)*span:int64(k+1)*span])
				}
			})
		}
	}
	wide.Reduce(acc.Slice()[:in])
	return acc, true, nil
}

// rowCombine streams the real rows of a [rows, pi] tensor (padded row length pi) once and
// returns acc[i] = Σ_j eq(r, j)·T[j, i] in a table of pi elements. Padding rows are zero and are
// not read. The table lives in RAM when the budget allows; otherwise it is a spill table that
// each row is added into piece by piece (rows of any length work: only one piece of a row is
// ever in memory).
func rowCombine(pc *gkr.ProveCtx, name string, r []field.Element, rows int, pi int64, b *spill.Budget) (*spill.Table, error) {
	src, err := pc.Source(name)
	if err != nil {
		return nil, err
	}
	piece := min(pi, rowPiece)
	for b != nil && piece > 1<<10 && piece*field.Bytes*3 > b.Available()/4 {
		piece /= 2 // a tight budget gets smaller pieces, leaving room for the row vectors
	}
	if b != nil {
		if err := b.Reserve("row buffers of "+name, piece*field.Bytes*3); err != nil {
			return nil, err
		}
		defer b.Release(piece * field.Bytes * 3)
	}
	acc, err := spill.NewTable(b, "linear row vector of "+name, pi, pc.Opt.SpillDir)
	if err != nil {
		return nil, err
	}
	st, err := src.Open()
	if err != nil {
		acc.Release()
		return nil, err
	}
	defer st.Close()
	buf := make(field.Vector, 3*piece)
	in, tmp, old := buf[:piece], buf[piece:2*piece], buf[2*piece:]
	ram := field.Vector(acc.Slice())
	for j := 0; j < rows; j++ {
		e := field.EqIndex(r, uint64(j))
		for off := int64(0); off < pi; off += piece {
			if err := field.ReadFull(st, in); err != nil {
				acc.Release()
				return nil, fmt.Errorf("tensor %q row %d: %w", name, j, err)
			}
			dst := tmp
			if ram != nil {
				dst = ram[off : off+piece]
			} else if j > 0 {
				if err := acc.ReadAt(old, off); err != nil {
					acc.Release()
					return nil, err
				}
			}
			field.Parallel(int(piece), workersFor(piece, pc.Opt.Workers), func(s, t int) {
				tv := tmp[s:t]
				tv.ScalarMul(in[s:t], &e)
				switch {
				case ram != nil:
					dv := dst[s:t]
					dv.Add(dv, tv)
				case j > 0:
					tv.Add(tv, old[s:t])
				}
			})
			if ram == nil {
				if err := acc.WriteAt(tmp, off); err != nil {
					acc.Release()
					return nil, err
				}
			}
		}
	}
	return acc, nil
}

// rowPiece is how much of a row rowCombine handles at once: 2^16 elements (2 MiB) keeps the
// vector kernels efficient and the buffers small next to any budget.
const rowPiece = 1 << 16

// workersFor returns 1 for short vectors (a goroutine costs more than the work) and the
// configured count otherwise.
func workersFor(n int64, workers int) int {
	if n < 1<<13 {
		return 1
	}
	return workers
}

func describe(op string, attrs ...int64) []byte {
	b := []byte(op)
	for _, a := range attrs {
		b = binary.BigEndian.AppendUint64(b, uint64(a))
	}
	return b
}
