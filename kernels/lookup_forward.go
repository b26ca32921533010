package kernels

import (
	"fmt"
	"io"
	"math/big"

	"github.com/streamprove/streamprove/field"
	"github.com/streamprove/streamprove/tensorstore"
)

// roundHalfEven returns round(x / 2^s) to the nearest integer, ties to even, and the remainder
// x − 2^s·u ∈ [−2^(s−1), 2^(s−1)].
func roundHalfEven(x int64, s int) (u, rem int64) {
	if s == 0 {
		return x, 0
	}
	u = x >> uint(s) // floor
	r := x & (int64(1)<<uint(s) - 1)
	h := int64(1) << uint(s-1)
	if r > h || (r == h && u&1 == 1) {
		return u + 1, r - int64(1)<<uint(s)
	}
	return u, r
}

func clamp(v, lo, hi int64) int64 { return max(lo, min(v, hi)) }

// lookupWriter is one advice output being written.
type lookupWriter struct {
	w   *tensorstore.Writer
	buf []int64
}

// adviceOut opens a lookup kernel's outputs (its result, advice, multiplicities) and makes them
// visible together: nothing is committed to the store unless every one is written.
type adviceOut struct {
	fc      *ForwardCtx
	node    string
	chunk   int
	writers []*lookupWriter
}

// create opens an output whose values lie in [lo, hi]: its bound is the larger magnitude, its
// dtype the narrowest that holds the range (int8 holds −128, which the bound alone would send to
// int16).
func (o *adviceOut) create(name string, shape []int, lo, hi int64) (*lookupWriter, error) {
	if o.fc.Bounds != nil {
		o.fc.Bounds[name] = bigInt(max(-lo, hi))
	}
	dt := tensorstore.Int64
	for _, d := range []tensorstore.DType{tensorstore.Int8, tensorstore.Int16, tensorstore.Int32} {
		if dlo, dhi := d.Bounds(); lo >= dlo && hi <= dhi {
			dt = d
			break
		}
	}
	w, err := o.fc.Store.Create(name, shape, dt, o.fc.Write)
	if err != nil {
		return nil, fmt.Errorf("node %s: %w", o.node, err)
	}
	lw := &lookupWriter{w: w, buf: make([]int64, 0, o.chunk)}
	o.writers = append(o.writers, lw)
	return lw, nil
}

// groupCounts sums per-lookup counts (mults[A] for lookup A) into one array per table group, in
// lookupCore.groups order (a lone lookup's array is its group's; a shared group gets a new one).
func (lc *lookupCore) groupCounts(mults [][]int64) [][]int64 {
	gs := lc.groups()
	out := make([][]int64, len(gs))
	for G, grp := range gs {
		if len(grp.args) == 1 {
			out[G] = mults[grp.args[0]]
			continue
		}
		sum := make([]int64, len(mults[grp.args[0]]))
		for _, A := range grp.args {
			for j, c := range mults[A] {
				sum[j] += c
			}
		}
		out[G] = sum
	}
	return out
}

// abort drops every output opened so far.
func (o *adviceOut) abort() {
	for _, w := range o.writers {
		w.w.Abort()
	}
}

// finish writes the multiplicities of core's arguments — the padding (padded − n positions,
// zero in every witness tensor; padded − n pairs of them with core.pack) counted at each table's
// zero row — and commits every output.
func (o *adviceOut) finish(core *lookupCore, mults [][]int64, padded, n int64) error {
	pad := padded - n
	if core.pack {
		pad /= 2
	}
	for A, a := range core.args {
		mults[A][a.tab.zeroRow] += pad
	}
	counts := core.groupCounts(mults)
	for G, grp := range core.groups() {
		w, err := o.create(grp.mult, []int{1 << grp.tab.logSize}, 0, padded*int64(len(grp.args)))
		if err != nil {
			return err
		}
		if err := w.w.WriteInt64s(counts[G]); err != nil {
			return fmt.Errorf("node %s: %w", o.node, err)
		}
	}
	for _, w := range o.writers {
		if _, err := w.w.Commit(); err != nil {
			return fmt.Errorf("node %s: %w", o.node, err)
		}
	}
	o.writers = nil
	return nil
}

// Forward streams x once, writes y and the advice tensors, and counts the multiplicities (in
// RAM: one int64 per table row). A value the tables cannot prove fails the pass, naming the node,
// the element and the value.
func (l *Lookup) Forward(fc *ForwardCtx) (err error) {
	g := fc.Graph
	if err := l.checkRoles(g); err != nil {
		return err
	}
	xi, ok := g.Tensors[l.x]
	if !ok {
		return fmt.Errorf("node %s: input %q is not declared", l.name, l.x)
	}
	n := xi.Len()
	padded := int64(1) << xi.NumVars()
	core := l.coreFor(xi.Shape)
	var tableRows int64
	for _, a := range core.args {
		tableRows += int64(1) << a.tab.logSize
	}
	c := fc.chunk()
	outs := len(l.Outputs()) - len(core.args) // y, rem, par
	release, err := fc.reserve("forward of "+l.name, 8*tableRows+int64(1+outs)*int64(c)*8+int64(c)*32)
	if err != nil {
		return err
	}
	defer release()
	mults := make([][]int64, len(core.args))
	for A, a := range core.args {
		mults[A] = make([]int64, 1<<a.tab.logSize)
	}
	// count adds the element's row of table A; with pair tables, an even element's row waits
	// for the odd one's (x's last dimension is even: a pair is two consecutive elements).
	var pend [2]uint64
	count := func(A int, idx int64, row uint64) {
		switch {
		case !core.pack:
			mults[A][row]++
		case idx%2 == 0:
			pend[A] = row
		default:
			mults[A][pend[A]|row<<uint(l.core.args[A].tab.logSize)]++
		}
	}

	// Writers for y and z = 2·rem + parity (those that exist), then the multiplicities.
	out := &adviceOut{fc: fc, node: l.name, chunk: c}
	defer func() {
		if err != nil {
			out.abort()
		}
	}()
	create := out.create
	var wy, wrp *lookupWriter
	if l.op != "range" {
		if wy, err = create(l.y, xi.Shape, l.lo, l.hi); err != nil {
			return err
		}
		if l.shift > 0 {
			if wrp, err = create(l.rpName(), xi.Shape, -(int64(1) << uint(l.shift)), int64(1)<<uint(l.shift)); err != nil {
				return err
			}
		}
	}

	next, done, err := openInt64s(fc.Store, l.x)
	if err != nil {
		return fmt.Errorf("node %s: %w", l.name, err)
	}
	defer done()
	xs := make([]int64, c)
	H := int64(1) << uint(l.qbits-1)
	for off := int64(0); off < n; off += int64(c) {
		m := int(min(int64(c), n-off))
		if err := next(xs[:m]); err != nil {
			return fmt.Errorf("node %s: input %q at %d: %w", l.name, l.x, off, err)
		}
		for i, x := range xs[:m] {
			idx := off + int64(i)
			switch l.op {
			case "range":
				if x < l.lo || x >= l.hi {
					return fmt.Errorf("node %s: input %q element %d is %d, outside the checked range [%d, %d)", l.name, l.x, idx, x, l.lo, l.hi)
				}
				count(0, idx, uint64(x-l.lo))
			case "relu":
				if x < -H || x >= H {
					return fmt.Errorf("node %s: input %q element %d is %d, outside the %d-bit range [%d, %d) the ReLU table proves", l.name, l.x, idx, x, l.bits, -H, H)
				}
				count(0, idx, uint64(x+H))
				wy.buf = append(wy.buf, max(x, 0))
			default:
				u, rem := roundHalfEven(x, l.shift)
				if u < -H || u >= H {
					return fmt.Errorf("node %s: input %q element %d is %d: its quotient %d by 2^%d leaves the %d-bit table [%d, %d) (raise the node's \"qbits\")", l.name, l.x, idx, x, u, l.shift, l.qbits, -H, H)
				}
				count(0, idx, uint64(u+H))
				wy.buf = append(wy.buf, clamp(u, l.lo, l.hi))
				if l.shift > 0 {
					count(1, idx, remRow(l.shift, rem, u&1))
					wrp.buf = append(wrp.buf, 2*rem+u&1)
				}
			}
		}
		for _, w := range []*lookupWriter{wy, wrp} {
			if w == nil {
				continue
			}
			if err := w.w.WriteInt64s(w.buf); err != nil {
				return fmt.Errorf("node %s: %w", l.name, err)
			}
			w.buf = w.buf[:0]
		}
	}
	// The padding of every witness tensor is zero, a tuple found at each table's zero row.
	return out.finish(core, mults, padded, n)
}

// openInt64s reads a tensor's values as int64: natively for integer tensors, and through the
// field for field tensors (an element that is no int64 fails, naming its index).
func openInt64s(s *tensorstore.Store, name string) (func([]int64) error, func(), error) {
	t, err := s.Tensor(name)
	if err != nil {
		return nil, nil, err
	}
	if t.Info().DType.IsInt() {
		r, err := t.Ints()
		if err != nil {
			t.Close()
			return nil, nil, err
		}
		return func(buf []int64) error { return readFull(next[int64](r.Next), buf) },
			func() { r.Close(); t.Close() }, nil
	}
	st, err := t.RawSource().Open()
	if err != nil {
		t.Close()
		return nil, nil, err
	}
	var pos int64
	var eb []field.Element
	read := func(buf []int64) error {
		if cap(eb) < len(buf) {
			eb = make([]field.Element, len(buf))
		}
		e := eb[:len(buf)]
		if err := field.ReadFull(st, e); err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
		for i := range e {
			v, ok := field.ToInt64(&e[i])
			if !ok {
				return fmt.Errorf("element %d does not fit in an int64", pos+int64(i))
			}
			buf[i] = v
		}
		pos += int64(len(buf))
		return nil
	}
	return read, func() { st.Close(); t.Close() }, nil
}

func bigInt(v int64) *big.Int { return big.NewInt(v) }
