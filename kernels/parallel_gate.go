package kernels

import (
	"sync"

	"github.com/streamprove/streamprove/field"
)

// wcoef is one wire of a layer with its batching coefficient (a sum of powers of ρ).
type wcoef struct {
	wire int // index into layerProg.wires
	c    field.Element
}

// layerGate is the batched polynomial of one layer's sumcheck. With one claim point (nE = 0) it
// is Σ_w c_w·P_w(leaves, mask) and the sumcheck carries eq(r, x) itself. With claims at several
// points its first nE inputs are the virtual sources E_p = eq(r_p, ·) and it is
// Σ_p E_p·Σ_w c_{p,w}·P_w(leaves, mask), one degree more.
type layerGate struct {
	prog *layerProg
	nE   int
	// noMask: N is a power of two, so the mask is the constant 1 (its MLE is 1 everywhere) and
	// is no input of the gate; a constant is k itself.
	noMask bool
	groups [][]wcoef // one per point (a single group when nE = 0)
	pool   sync.Pool // *gateScratch
}

type gateScratch struct {
	slots [][]field.Element
	acc   []field.Element
	tmp   []field.Element
	cap   int
}

func (g *layerGate) Arity() int {
	if g.prog.mask && g.noMask {
		return g.nE + g.prog.nIn - 1
	}
	return g.nE + g.prog.nIn
}

func (g *layerGate) Degree() int {
	if g.nE > 0 {
		return g.prog.degree + 1
	}
	return g.prog.degree
}

func (g *layerGate) scratch(n int) *gateScratch {
	s, _ := g.pool.Get().(*gateScratch)
	if s == nil || s.cap < n {
		s = &gateScratch{slots: make([][]field.Element, g.prog.nSlots), cap: n,
			acc: make([]field.Element, n), tmp: make([]field.Element, n)}
		for i := g.prog.nIn; i < g.prog.nSlots; i++ {
			s.slots[i] = make([]field.Element, n)
		}
	}
	return s
}

// Eval evaluates the layer on whole chunks: no call per element.
func (g *layerGate) Eval(out []field.Element, in [][]field.Element) {
	n := len(out)
	s := g.scratch(n)
	for i := range g.prog.leaves {
		s.slots[i] = in[g.nE+i]
	}
	if g.prog.mask && !g.noMask {
		s.slots[len(g.prog.leaves)] = in[g.nE+len(g.prog.leaves)]
	}
	g.prog.eval(s.slots, n, g.noMask)
	o := field.Vector(out)
	for i := range out {
		out[i].SetZero()
	}
	one := field.One()
	acc, tmp := field.Vector(s.acc[:n]), field.Vector(s.tmp[:n])
	for p, grp := range g.groups {
		dst := acc
		if g.nE == 0 {
			dst = o
		} else {
			for i := range acc {
				acc[i].SetZero()
			}
		}
		for _, wc := range grp {
			w := field.Vector(s.slots[g.prog.wires[wc.wire]][:n])
			if wc.c.Equal(&one) {
				dst.Add(dst, w)
				continue
			}
			tmp.ScalarMul(w, &wc.c)
			dst.Add(dst, tmp)
		}
		if g.nE > 0 {
			acc.Mul(acc, field.Vector(in[p][:n]))
			o.Add(o, acc)
		}
	}
	for i := 0; i < g.prog.nIn; i++ {
		s.slots[i] = nil
	}
	g.pool.Put(s)
}
