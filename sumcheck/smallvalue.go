package sumcheck

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/big"
	"math/bits"
	"sync"
	"time"

	"github.com/streamprove/streamprove/field"
)

// smallValue is the state of the small-value rounds 0 … w−1. The pass accumulates, for every
// point u of the grid {0,…,d}^w over the w low variables and every eq term i,
//
//	A_i(u) = Σ_z eq(p_i[w:], z) · G(f(u, z)),
//
// where f_j(u, z) is the MLE of source j at (u, z) with integer u: an integer combination of the
// 2^w raw values of window z. For a product gate G(f(u, z)) is an integer product, so the only
// field work is one small×big multiply-add per grid point and window (no eq: an integer sum).
// H_i(v) = Σ_z eq(p_i[w:], z)·G(f(v, z)) has degree ≤ d in each coordinate, so round t < w is
//
//	q_i(X) = Σ_{y ∈ {0,1}^{w−t−1}} eq(p_i[t+1:w], y) · Σ_{u<t} Π_{l<t} L_{u_l}(r_l) · A_i(u, X, y),
//
// L the Lagrange basis on the nodes 0…d: the same values the field rounds compute, hence the
// same proof bytes.
type smallValue struct {
	w, d   int
	npts   int // (d+1)^w
	stride []int
	srcs   []field.IntSource
	used   []bool // some monomial reads source j
	monos  []monomial
	A      [][]field.Element // per eq term (one when E ≡ 1): the grid accumulators
	done   bool
}

// monomial is one term Coeff·Π_{j∈Vars} f_j of the gate in integer form.
type monomial struct {
	coeff field.Element
	one   bool // coeff is 1
	vars  []int
}

// newSmallValue returns the small-value state when every source is an IntSource, the gate is a
// product or a polynomial, and the integers of w ≥ 1 rounds fit 63 bits; nil otherwise.
func (pr *prover) newSmallValue() *smallValue {
	if pr.smallRounds <= 0 || pr.n == 0 || pr.d < 1 {
		return nil
	}
	sv := &smallValue{d: pr.d}
	for _, s := range pr.c.Sources {
		is, ok := s.(field.IntSource)
		if !ok || is.Bits() < 1 || is.Bits() > 63 {
			return nil
		}
		sv.srcs = append(sv.srcs, is)
	}
	one := field.One()
	switch g := pr.c.Gate.(type) {
	case product:
		m := monomial{one: true}
		for j := 0; j < g.k; j++ {
			m.vars = append(m.vars, j)
		}
		sv.monos = []monomial{m}
	case *poly:
		for _, t := range g.terms {
			if t.Coeff.IsZero() {
				continue
			}
			sv.monos = append(sv.monos, monomial{coeff: t.Coeff, one: t.Coeff.Equal(&one), vars: t.Vars})
		}
		if len(sv.monos) == 0 || len(sv.monos) > 8 {
			return nil
		}
	default:
		return nil
	}
	// |f_j(u, z)| ≤ 2^(b_j−1)·(2d−1)^w (a coordinate u ∈ {2…d} weighs the pair by |1−u|+|u|),
	// and a monomial's product must stay below 2^62.
	// The first field pass (round w) needs a pair left in each chunk after folding w challenges.
	sv.w = min(pr.smallRounds, pr.n)
	if sv.w < pr.n {
		sv.w = min(sv.w, pr.chunkLog-1)
	}
	for ; sv.w > 0; sv.w-- {
		ext := 0.0
		for x := 1; x <= sv.w; x++ {
			ext += log2f(2*sv.d - 1)
		}
		ok := true
		for _, m := range sv.monos {
			b := 0.0
			for _, j := range m.vars {
				b += float64(sv.srcs[j].Bits()-1) + ext
			}
			if b > 62 {
				ok = false
			}
		}
		if ok {
			break
		}
	}
	if sv.w == 0 {
		return nil
	}
	sv.used = make([]bool, len(sv.srcs))
	for _, m := range sv.monos {
		for _, j := range m.vars {
			sv.used[j] = true
		}
	}
	sv.npts = 1
	for l := 0; l < sv.w; l++ {
		sv.stride = append(sv.stride, sv.npts)
		sv.npts *= sv.d + 1
	}
	return sv
}

func log2f(x int) float64 {
	l := 0.0
	for v := 1.0; v < float64(x); v *= 2 {
		l++
	}
	return l
}

// extOp is one step of extending a window to the grid: g[dst] = g[a] + m·(g[b] − g[a]).
type extOp struct {
	dst, a, b int32
	m         int64
}

// plan returns where each of the 2^w raw values goes in the grid and the extension steps, one
// coordinate at a time, touching only the points later coordinates need (coordinates above the
// current one still boolean).
func (sv *smallValue) plan() (place []int32, ops []extOp) {
	w, d := sv.w, sv.d
	place = make([]int32, 1<<w)
	for y := range place {
		p := 0
		for l := 0; l < w; l++ {
			p += (y >> l & 1) * sv.stride[l]
		}
		place[y] = int32(p)
	}
	for l := 0; l < w; l++ {
		// positions with coordinates < l in {0…d}, coordinate l = 0, coordinates > l in {0,1}
		var walk func(c, p int)
		walk = func(c, p int) {
			if c == w {
				for m := 2; m <= d; m++ {
					ops = append(ops, extOp{dst: int32(p + m*sv.stride[l]), a: int32(p), b: int32(p + sv.stride[l]), m: int64(m)})
				}
				return
			}
			switch {
			case c < l:
				for u := 0; u <= d; u++ {
					walk(c+1, p+u*sv.stride[c])
				}
			case c == l:
				walk(c+1, p)
			default:
				walk(c+1, p)
				walk(c+1, p+sv.stride[c])
			}
		}
		walk(0, 0)
	}
	return place, ops
}

// wide is an unreduced accumulator of Σ e·v with e a field element's Montgomery limbs (< 2^254)
// and v < 2^63: 2^63 terms of 2^317 fit its 384 bits.
type wide [6]uint64

// macc adds e·v to a.
func (a *wide) macc(e *field.Element, v uint64) {
	h0, l0 := bits.Mul64(e[0], v)
	h1, l1 := bits.Mul64(e[1], v)
	h2, l2 := bits.Mul64(e[2], v)
	h3, l3 := bits.Mul64(e[3], v)
	var c uint64
	a[0], c = bits.Add64(a[0], l0, 0)
	a[1], c = bits.Add64(a[1], l1, c)
	a[2], c = bits.Add64(a[2], l2, c)
	a[3], c = bits.Add64(a[3], l3, c)
	a[4], c = bits.Add64(a[4], h3, c)
	a[5] += c
	a[1], c = bits.Add64(a[1], h0, 0)
	a[2], c = bits.Add64(a[2], h1, c)
	a[3], c = bits.Add64(a[3], h2, c)
	a[4], c = bits.Add64(a[4], 0, c)
	a[5] += c
}

func (a *wide) add(b *wide) {
	var c uint64
	for i := range a {
		a[i], c = bits.Add64(a[i], b[i], c)
	}
}

func (a *wide) big() *big.Int {
	var buf [48]byte
	for i, l := range a {
		binary.BigEndian.PutUint64(buf[40-8*i:], l)
	}
	return new(big.Int).SetBytes(buf[:])
}

// montElement returns the element whose Montgomery limbs are v mod p: for v = Σ e_mont·x with
// integer x, that is the element Σ e·x.
func montElement(v *big.Int) field.Element {
	v.Mod(v, field.Modulus())
	var buf [32]byte
	v.FillBytes(buf[:])
	var e field.Element
	for i := range e {
		e[i] = binary.BigEndian.Uint64(buf[24-8*i:])
	}
	return e
}

// svWorker is one worker's scratch and accumulators for the small-value pass.
type svWorker struct {
	grids [][]int64 // per source
	prod  []int64
	wts   [][]field.Element // per eq term: the chunk's window weights
	// per monomial, eq term and grid point: [0] positive and [1] negative products (eq), or a
	// signed 128-bit sum in [0] (low, high in [0][1]) without eq
	acc [][][2]wide
}

// intJob is one chunk of every source.
type intJob struct {
	j    int64
	bufs [][]int64
}

// smallPass streams the integer sources once and fills sv.A. It returns false (and the prover
// falls back to field passes) when its buffers do not fit the budget.
func (pr *prover) smallPass() (bool, error) {
	sv := pr.sv
	n, k, w := pr.n, pr.k, sv.w
	cl := max(min(pr.chunkLog, n), w)
	C := 1 << cl
	Wc := C >> w
	N := int64(1) << n
	nch := N / int64(C)
	noEq := len(pr.c.Eq) == 0
	nt := max(len(pr.c.Eq), 1)
	nbuf := pr.workers + 2
	need := int64(nbuf*k*C)*8 + int64(pr.workers)*(int64(k+1)*int64(sv.npts)*8+
		int64(len(sv.monos)*nt*sv.npts)*96+int64(nt*Wc)*elemBytes)
	if err := pr.reserve("sumcheck small-value buffers", need); err != nil {
		return false, nil
	}
	defer func() {
		pr.budget.Release(need)
		pr.reserved -= need
	}()
	t0 := time.Now()

	var ces []*field.ChunkEq
	for i := range pr.c.Eq {
		ces = append(ces, field.NewChunkEq(pr.c.Eq[i].Point[w:], cl-w))
	}
	place, ops := sv.plan()

	streams := make([]field.IntStream, k)
	defer func() {
		for _, s := range streams {
			if s != nil {
				s.Close()
			}
		}
	}()
	for j, s := range sv.srcs {
		st, err := s.OpenInts()
		if err != nil {
			return false, fmt.Errorf("sumcheck: open integers of source %d: %w", j, err)
		}
		streams[j] = st
	}

	jobs := make(chan *intJob, nbuf)
	free := make(chan *intJob, nbuf)
	for i := 0; i < nbuf; i++ {
		jb := &intJob{bufs: make([][]int64, k)}
		for j := range jb.bufs {
			jb.bufs[j] = make([]int64, C)
		}
		free <- jb
	}
	var readErr error
	go func() {
		defer close(jobs)
		for c := int64(0); c < nch; c++ {
			jb := <-free
			jb.j = c
			for j := 0; j < k; j++ {
				if err := readInts(streams[j], jb.bufs[j], sv.srcs[j].Bits()); err != nil {
					readErr = fmt.Errorf("sumcheck: read integers of source %d at %d of %d: %w", j, c*int64(C), N, err)
					return
				}
			}
			jobs <- jb
		}
	}()

	wks := make([]*svWorker, pr.workers)
	var wg sync.WaitGroup
	for wi := range wks {
		wk := &svWorker{grids: makeInts(k, sv.npts), prod: make([]int64, sv.npts)}
		for range nt {
			wk.wts = append(wk.wts, make([]field.Element, Wc))
		}
		wk.acc = make([][][2]wide, len(sv.monos)*nt)
		for i := range wk.acc {
			wk.acc[i] = make([][2]wide, sv.npts)
		}
		wks[wi] = wk
		wg.Add(1)
		go func() {
			defer wg.Done()
			for jb := range jobs {
				for i, ce := range ces {
					hi := ce.Hi(jb.j)
					v := field.Vector(wk.wts[i])
					v.ScalarMul(field.Vector(ce.Lo), &hi)
				}
				sv.chunk(wk, jb.bufs, place, ops, Wc, noEq, nt)
				free <- jb
			}
		}()
	}
	wg.Wait()
	if readErr != nil {
		return false, readErr
	}

	// Sum the workers' accumulators and combine the monomials with their coefficients.
	sv.A = make([][]field.Element, nt)
	for i := range sv.A {
		sv.A[i] = make([]field.Element, sv.npts)
	}
	for mi, m := range sv.monos {
		for i := 0; i < nt; i++ {
			for u := 0; u < sv.npts; u++ {
				var pos, neg wide
				for _, wk := range wks {
					a := &wk.acc[mi*nt+i][u]
					pos.add(&a[0])
					neg.add(&a[1])
				}
				var v field.Element
				if noEq {
					// a signed 128-bit integer in pos[0] (low) and pos[1] (high): sum the workers'
					// in big integers, two's complement over 128 bits
					s := new(big.Int)
					for _, wk := range wks {
						a := &wk.acc[mi*nt+i][u][0]
						x := new(big.Int).Lsh(new(big.Int).SetUint64(a[1]), 64)
						x.Or(x, new(big.Int).SetUint64(a[0]))
						if a[1]>>63 == 1 {
							x.Sub(x, new(big.Int).Lsh(big.NewInt(1), 128))
						}
						s.Add(s, x)
					}
					v.SetBigInt(s)
				} else {
					p, q := montElement(pos.big()), montElement(neg.big())
					v.Sub(&p, &q)
				}
				if !m.one {
					v.Mul(&v, &m.coeff)
				}
				sv.A[i][u].Add(&sv.A[i][u], &v)
			}
		}
	}
	sv.done = true
	pr.st.Passes++
	pr.st.IntElems += N * int64(k)
	pr.st.SmallRounds = w
	pr.st.PassLog = append(pr.st.PassLog, fmt.Sprintf("rounds 0…%d: one small-value pass over the integers: %v", w-1, time.Since(t0)))
	return true, nil
}

func makeInts(k, n int) [][]int64 {
	t := make([][]int64, k)
	for j := range t {
		t[j] = make([]int64, n)
	}
	return t
}

// readInts fills buf from st and checks every value against the source's declared width: a value
// outside it would overflow the integer rounds.
func readInts(st field.IntStream, buf []int64, b int) error {
	got := 0
	for got < len(buf) {
		m, err := st.Next(buf[got:])
		got += m
		if err == io.EOF {
			if got < len(buf) {
				return io.ErrUnexpectedEOF
			}
			break
		}
		if err != nil {
			return err
		}
	}
	var bad int64
	for _, v := range buf {
		bad |= (v >> (b - 1)) ^ (v >> 63) // 0 iff v fits b signed bits
	}
	if bad != 0 {
		return errors.New("a value does not fit the source's Bits")
	}
	return nil
}

// chunk accumulates one chunk of Wc windows of every source.
func (sv *smallValue) chunk(wk *svWorker, bufs [][]int64, place []int32, ops []extOp, Wc int, noEq bool, nt int) {
	W := 1 << sv.w
	np := sv.npts
	for z := 0; z < Wc; z++ {
		for j, g := range wk.grids {
			if !sv.used[j] {
				continue
			}
			win := bufs[j][z*W : (z+1)*W]
			for y, p := range place {
				g[p] = win[y]
			}
			for _, op := range ops {
				a := g[op.a]
				g[op.dst] = a + op.m*(g[op.b]-a)
			}
		}
		for mi, m := range sv.monos {
			prod := wk.prod[:np]
			switch len(m.vars) {
			case 0:
				for u := range prod {
					prod[u] = 1
				}
			case 1:
				copy(prod, wk.grids[m.vars[0]][:np])
			default:
				g0, g1 := wk.grids[m.vars[0]][:np], wk.grids[m.vars[1]][:np]
				for u := range prod {
					prod[u] = g0[u] * g1[u]
				}
				for _, j := range m.vars[2:] {
					g := wk.grids[j][:np]
					for u := range prod {
						prod[u] *= g[u]
					}
				}
			}
			if noEq {
				acc := wk.acc[mi][:np]
				for u, v := range prod {
					a := &acc[u][0]
					var c uint64
					a[0], c = bits.Add64(a[0], uint64(v), 0)
					a[1] += uint64(v>>63) + c
				}
				continue
			}
			for i := 0; i < nt; i++ {
				e := &wk.wts[i][z]
				acc := wk.acc[mi*nt+i][:np]
				for u, v := range prod {
					s := v >> 63
					acc[u][s&1].macc(e, uint64((v^s)-s))
				}
			}
		}
	}
}

// smallRound returns round t < w's message from the grid accumulators and the challenges so far
// (pr.pend holds r_0 … r_{t−1}).
func (pr *prover) smallRound(t int) ([]field.Element, error) {
	sv := pr.sv
	rc := pr.roundCtx(t, 1)
	d, w := sv.d, sv.w
	// Lagrange weights on the nodes 0…d at each bound challenge.
	lag := make([][]field.Element, t)
	for l := 0; l < t; l++ {
		lag[l] = make([]field.Element, d+1)
		unit := make([]field.Element, d+1)
		for m := 0; m <= d; m++ {
			unit[m].SetOne()
			lag[l][m] = lagrangeAt(unit, &pr.pend[l])
			unit[m].SetZero()
		}
	}
	nt := len(sv.A)
	acc := make([]field.Element, nt*len(rc.pts))
	one := field.One()
	for i := 0; i < nt; i++ {
		q := make([]field.Element, d+1)
		// walk u with coordinates < t in {0…d}, t in {0…d}, > t in {0,1}
		var walk func(c, p int, wt field.Element, x int)
		walk = func(c, p int, wt field.Element, x int) {
			if c == w {
				var v field.Element
				v.Mul(&wt, &sv.A[i][p])
				q[x].Add(&q[x], &v)
				return
			}
			switch {
			case c < t:
				for u := 0; u <= d; u++ {
					var nw field.Element
					nw.Mul(&wt, &lag[c][u])
					walk(c+1, p+u*sv.stride[c], nw, x)
				}
			case c == t:
				for u := 0; u <= d; u++ {
					walk(c+1, p+u*sv.stride[c], wt, u)
				}
			default:
				for u := 0; u <= 1; u++ {
					nw := wt
					if !rc.noEq {
						var ub field.Element
						ub.SetUint64(uint64(u))
						e := eq1(&pr.c.Eq[i].Point[c], &ub)
						nw.Mul(&nw, &e)
					}
					walk(c+1, p+u*sv.stride[c], nw, x)
				}
			}
		}
		walk(0, 0, one, 0)
		for pi, X := range rc.pts {
			acc[i*len(rc.pts)+pi] = q[X]
		}
	}
	return pr.message(t, rc, acc), nil
}

// modLimbs is p as little-endian 64-bit limbs.
var modLimbs = func() (q [4]uint64) {
	var buf [32]byte
	field.Modulus().FillBytes(buf[:])
	for i := range q {
		q[i] = binary.BigEndian.Uint64(buf[24-8*i:])
	}
	return
}()

// intFolder folds s pending challenges into raw integers: the level-s element of window z is
// Σ_y eq(r_<s, y)·x_{z·2^s+y}, one small×big multiply-add per integer instead of converting
// the integers to field elements and folding s times (2^s conversions and 2^s − 1 field
// multiplications per window). The integers are biased by B = 2^(bits−1) to be non-negative;
// since Σ_y eq(r, y) = 1 the bias comes back out as −B.
type intFolder struct {
	s    int
	eq   []field.Element // eq(r_<s, ·), 2^s
	bias uint64
	tab  []field.Element // tab[h] = h/4 − B for the high part h of the unreduced sum
	inv4 field.Element
	negB field.Element
}

// newIntFolder prepares folding challenges r into integers of the given width, or returns nil
// when the unreduced sums could pass 2^318 (the reduction keeps the high part below 2^64).
func newIntFolder(r []field.Element, bits int) *intFolder {
	s := len(r)
	if bits+s > 63 {
		return nil
	}
	f := &intFolder{s: s, eq: field.EqTable(make([]field.Element, 1<<s), r), bias: 1 << (bits - 1)}
	var four field.Element
	four.SetUint64(4)
	f.inv4.Inverse(&four)
	f.negB.SetUint64(f.bias)
	f.negB.Neg(&f.negB)
	// the sum is < 2^(254+bits+s), so h < 2^(bits+s); tabulate the common small range
	f.tab = make([]field.Element, 1<<min(bits+s, 12))
	for h := range f.tab {
		f.tab[h] = f.high(uint64(h))
	}
	return f
}

func (f *intFolder) high(h uint64) field.Element {
	var e field.Element
	e.SetUint64(h)
	e.Mul(&e, &f.inv4)
	e.Add(&e, &f.negB)
	return e
}

// fold writes dst[z] = Σ_y eq[y]·src[z·2^s+y] for len(dst) windows.
func (f *intFolder) fold(dst []field.Element, src []int64) {
	W := 1 << f.s
	for z := range dst {
		var a wide
		win := src[z*W : (z+1)*W]
		for y, x := range win {
			a.macc(&f.eq[y], uint64(x)+f.bias)
		}
		// Montgomery limbs a ≡ low + h·2^254: the element is low's plus h·2^254/R = h/4.
		e := field.Element{a[0], a[1], a[2], a[3] & (1<<62 - 1)}
		h := a[3]>>62 | a[4]<<2
		if !lessMod(&e) {
			var b uint64
			e[0], b = bits.Sub64(e[0], modLimbs[0], 0)
			e[1], b = bits.Sub64(e[1], modLimbs[1], b)
			e[2], b = bits.Sub64(e[2], modLimbs[2], b)
			e[3], _ = bits.Sub64(e[3], modLimbs[3], b)
		}
		var t field.Element
		if h < uint64(len(f.tab)) {
			t = f.tab[h]
		} else {
			t = f.high(h)
		}
		dst[z].Add(&e, &t)
	}
}

// lessMod reports whether the limbs e are below p.
func lessMod(e *field.Element) bool {
	for i := 3; i >= 0; i-- {
		if e[i] != modLimbs[i] {
			return e[i] < modLimbs[i]
		}
	}
	return false
}
