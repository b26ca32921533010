package kernels

import (
	"fmt"

	"github.com/streamprove/streamprove/field"
	"github.com/streamprove/streamprove/gkr"
)

// Circuit is a small arithmetic circuit written once and launched over N instances by
// NewParallel (the data-parallel kernel of DESIGN §9, the zkCUDA idea): every wire is a vector of
// N values, one per instance, and every gate acts elementwise. Build it with Input, Const, Add,
// Sub, Mul and Scale, name its results with Output, then hand it to NewParallel. A builder error
// (a wire of another circuit, a repeated name) is sticky and reported by Err and NewParallel.
type Circuit struct {
	nodes   []cnode
	inputs  map[string]int
	outputs []cout
	maxDeg  int
	err     error
}

// Wire is a value of a Circuit: a vector of one value per instance.
type Wire struct {
	c  *Circuit
	id int
}

type opKind uint8

const (
	opInput opKind = iota
	opConst
	opAdd
	opSub
	opMul
	opScale
)

type cnode struct {
	op   opKind
	a, b int
	k    field.Element // opConst: the value; opScale: the factor
	name string        // opInput
}

type cout struct {
	name string
	node int
}

// DefaultMaxDegree is the degree bound of a layer's polynomials unless SetMaxDegree changes it.
const DefaultMaxDegree = 2

// maxCircuitDegree bounds SetMaxDegree: a layer's sumcheck has round polynomials of degree up to
// this plus two (an eq factor and, for claims at several points, a virtual eq source).
const maxCircuitDegree = 16

// NewCircuit returns an empty circuit whose layers are polynomials of degree ≤ DefaultMaxDegree.
func NewCircuit() *Circuit { return &Circuit{inputs: map[string]int{}, maxDeg: DefaultMaxDegree} }

// SetMaxDegree sets the degree bound d (2 ≤ d ≤ 16) of each layer's polynomials in the wires of
// earlier layers. A larger d stores fewer wires and runs fewer sumchecks, each of higher degree:
// MiMC's (x+k)^7 is one layer per round with d = 7 and four with d = 2.
func (c *Circuit) SetMaxDegree(d int) *Circuit {
	if d < 2 || d > maxCircuitDegree {
		c.fail(fmt.Errorf("max degree %d (want 2..%d)", d, maxCircuitDegree))
		return c
	}
	c.maxDeg = d
	return c
}

// Err returns the first builder error, if any.
func (c *Circuit) Err() error { return c.err }

func (c *Circuit) fail(err error) {
	if c.err == nil {
		c.err = fmt.Errorf("circuit: %w", err)
	}
}

func (c *Circuit) add(n cnode) Wire {
	c.nodes = append(c.nodes, n)
	return Wire{c: c, id: len(c.nodes) - 1}
}

func (c *Circuit) own(ws ...Wire) bool {
	for _, w := range ws {
		if w.c != c || w.id < 0 || w.id >= len(c.nodes) {
			c.fail(fmt.Errorf("wire of another circuit (or the zero Wire)"))
			return false
		}
	}
	return true
}

// Input declares a circuit input; NewParallel maps its name to a tensor of shape [N].
func (c *Circuit) Input(name string) Wire {
	if _, dup := c.inputs[name]; dup || name == "" {
		c.fail(fmt.Errorf("input name %q empty or repeated", name))
	}
	w := c.add(cnode{op: opInput, name: name})
	c.inputs[name] = w.id
	return w
}

// Const returns the public constant v in every instance.
func (c *Circuit) Const(v int64) Wire { return c.ConstElement(field.NewInt(v)) }

// ConstElement returns the public constant v (a field element) in every instance. In a proof it
// is v·mask, mask = 1 on the N instances and 0 in the padding, so the padding stays zero.
func (c *Circuit) ConstElement(v field.Element) Wire { return c.add(cnode{op: opConst, k: v}) }

func (c *Circuit) isConst(w Wire) bool { return c.nodes[w.id].op == opConst }

// Add returns a + b.
func (c *Circuit) Add(a, b Wire) Wire {
	if !c.own(a, b) {
		return Wire{c: c, id: -1}
	}
	if c.isConst(a) && c.isConst(b) {
		var v field.Element
		v.Add(&c.nodes[a.id].k, &c.nodes[b.id].k)
		return c.ConstElement(v)
	}
	return c.add(cnode{op: opAdd, a: a.id, b: b.id})
}

// Sub returns a − b.
func (c *Circuit) Sub(a, b Wire) Wire {
	if !c.own(a, b) {
		return Wire{c: c, id: -1}
	}
	if c.isConst(a) && c.isConst(b) {
		var v field.Element
		v.Sub(&c.nodes[a.id].k, &c.nodes[b.id].k)
		return c.ConstElement(v)
	}
	return c.add(cnode{op: opSub, a: a.id, b: b.id})
}

// Mul returns a·b. A product with a constant is a Scale (degree one, not two).
func (c *Circuit) Mul(a, b Wire) Wire {
	if !c.own(a, b) {
		return Wire{c: c, id: -1}
	}
	switch {
	case c.isConst(b):
		return c.ScaleElement(a, c.nodes[b.id].k)
	case c.isConst(a):
		return c.ScaleElement(b, c.nodes[a.id].k)
	}
	return c.add(cnode{op: opMul, a: a.id, b: b.id})
}

// Scale returns k·a for a public integer k.
func (c *Circuit) Scale(a Wire, k int64) Wire { return c.ScaleElement(a, field.NewInt(k)) }

// ScaleElement returns k·a for a public field element k.
func (c *Circuit) ScaleElement(a Wire, k field.Element) Wire {
	if !c.own(a) {
		return Wire{c: c, id: -1}
	}
	if c.isConst(a) {
		var v field.Element
		v.Mul(&c.nodes[a.id].k, &k)
		return c.ConstElement(v)
	}
	return c.add(cnode{op: opScale, a: a.id, k: k})
}

// Output names a result; NewParallel maps the name to a tensor of shape [N]. An output must be
// computed (not an input) and a wire is output at most once.
func (c *Circuit) Output(name string, w Wire) {
	if !c.own(w) {
		return
	}
	for _, o := range c.outputs {
		if o.name == name || o.node == w.id {
			c.fail(fmt.Errorf("output %q repeats a name or a wire", name))
			return
		}
	}
	if c.nodes[w.id].op == opInput {
		c.fail(fmt.Errorf("output %q is the input %q: nothing to prove", name, c.nodes[w.id].name))
		return
	}
	c.outputs = append(c.outputs, cout{name: name, node: w.id})
}

// plan is a circuit cut into layers. Layer 0 holds the inputs; a wire of layer l ≥ 1 is a
// polynomial of degree ≤ maxDeg in wires of layers < l and the mask (constants are c·mask).
// Linear nodes (add, sub, scale, constants) are never stored: they are inlined into the
// polynomials of the wires that use them. A product whose degree would pass maxDeg stores its
// operand of higher degree as a wire (of that operand's layer) and reads it as a variable.
type plan struct {
	stored []bool
	layer  []int
	layers [][]int      // layers[l]: stored nodes of layer l (l ≥ 1), ascending
	progs  []*layerProg // progs[l] for l ≥ 1
}

func compile(c *Circuit) (*plan, error) {
	if c.err != nil {
		return nil, c.err
	}
	if len(c.outputs) == 0 {
		return nil, fmt.Errorf("circuit: no outputs")
	}
	n := len(c.nodes)
	live := make([]bool, n)
	for _, o := range c.outputs {
		live[o.node] = true
	}
	for id := n - 1; id >= 0; id-- {
		if !live[id] {
			continue
		}
		switch c.nodes[id].op {
		case opAdd, opSub, opMul:
			live[c.nodes[id].a], live[c.nodes[id].b] = true, true
		case opScale:
			live[c.nodes[id].a] = true
		}
	}
	p := &plan{stored: make([]bool, n), layer: make([]int, n)}
	deg := make([]int, n)
	view := func(x int) (int, int) {
		switch {
		case p.stored[x]:
			return p.layer[x] + 1, 1
		case c.nodes[x].op == opConst:
			return 1, 1
		}
		return p.layer[x], deg[x]
	}
	D := c.maxDeg
	for id, nd := range c.nodes {
		if !live[id] {
			continue
		}
		switch nd.op {
		case opInput:
			p.stored[id], p.layer[id], deg[id] = true, 0, 1
		case opConst:
			p.layer[id], deg[id] = 1, 1
		case opAdd, opSub:
			la, da := view(nd.a)
			lb, db := view(nd.b)
			p.layer[id], deg[id] = max(la, lb), max(da, db)
		case opScale:
			p.layer[id], deg[id] = view(nd.a)
		case opMul:
			for {
				_, da := view(nd.a)
				_, db := view(nd.b)
				if da+db <= D {
					break
				}
				// D ≥ 2, so the operand of higher degree has degree ≥ 2: an unstored product.
				if da >= db {
					p.stored[nd.a] = true
				} else {
					p.stored[nd.b] = true
				}
			}
			la, da := view(nd.a)
			lb, db := view(nd.b)
			p.layer[id], deg[id] = max(la, lb), da+db
		}
	}
	for _, o := range c.outputs {
		p.stored[o.node] = true
	}
	L := 0
	for id := range c.nodes {
		if live[id] && p.stored[id] && p.layer[id] > L {
			L = p.layer[id]
		}
	}
	p.layers = make([][]int, L+1)
	for id := range c.nodes {
		if live[id] && p.stored[id] && c.nodes[id].op != opInput {
			p.layers[p.layer[id]] = append(p.layers[p.layer[id]], id)
		}
	}
	p.progs = make([]*layerProg, L+1)
	for l := 1; l <= L; l++ {
		prog, err := buildProg(c, p, l)
		if err != nil {
			return nil, err
		}
		if prog.degree > D {
			return nil, fmt.Errorf("circuit: layer %d has degree %d > %d (internal error)", l, prog.degree, D)
		}
		p.progs[l] = prog
	}
	return p, nil
}

// layerProg evaluates the wires of one layer from its leaves (stored wires of earlier layers)
// and the mask, on vectors. Slots 0..len(leaves)-1 are the leaves, then the mask (if used),
// then one scratch slot per inlined node.
type layerProg struct {
	leaves  []int // node ids, ascending
	mask    bool
	ops     []gop
	wires   []int // slot of each wire of the layer (plan.layers[l] order)
	nIn     int   // leaves (+ mask)
	nSlots  int
	degree  int // max degree of the layer's wires
	wireDeg []int
}

type gop struct {
	op      opKind
	dst     int
	a, b    int
	k       field.Element
	aIsMask bool
}

// buildProg inlines the expressions of layer l's wires. An operand is read as a leaf when it is
// a stored wire of an earlier layer; otherwise (an unstored node, a stored node of the same
// layer, a constant) it is recomputed inline, which never raises the degree beyond what compile
// accounted for.
func buildProg(c *Circuit, p *plan, l int) (*layerProg, error) {
	need := map[int]bool{} // inlined nodes
	leaf := map[int]bool{} // stored wires of earlier layers
	mask := false
	var visit func(id int, root bool)
	visit = func(id int, root bool) {
		if !root && p.stored[id] && (c.nodes[id].op == opInput || p.layer[id] < l) {
			leaf[id] = true
			return
		}
		if need[id] {
			return
		}
		need[id] = true
		nd := c.nodes[id]
		switch nd.op {
		case opConst:
			mask = true
		case opAdd, opSub, opMul:
			visit(nd.a, false)
			visit(nd.b, false)
		case opScale:
			visit(nd.a, false)
		}
	}
	for _, w := range p.layers[l] {
		visit(w, true)
	}
	pr := &layerProg{mask: mask}
	for id := range c.nodes {
		if leaf[id] {
			pr.leaves = append(pr.leaves, id)
		}
	}
	slot := map[int]int{}
	dg := map[int]int{}
	for i, id := range pr.leaves {
		slot[id], dg[id] = i, 1
	}
	pr.nIn = len(pr.leaves)
	maskSlot := -1
	if mask {
		maskSlot = pr.nIn
		pr.nIn++
	}
	next := pr.nIn
	for id := range c.nodes {
		if !need[id] {
			continue
		}
		nd := c.nodes[id]
		g := gop{op: nd.op, dst: next, k: nd.k}
		switch nd.op {
		case opConst:
			g.a, dg[id] = maskSlot, 1
		case opAdd, opSub:
			g.a, g.b = slot[nd.a], slot[nd.b]
			dg[id] = max(dg[nd.a], dg[nd.b])
		case opMul:
			g.a, g.b = slot[nd.a], slot[nd.b]
			dg[id] = dg[nd.a] + dg[nd.b]
		case opScale:
			g.a = slot[nd.a]
			dg[id] = dg[nd.a]
		default:
			return nil, fmt.Errorf("circuit: node %d cannot be inlined in layer %d (internal error)", id, l)
		}
		slot[id] = next
		next++
		pr.ops = append(pr.ops, g)
	}
	pr.nSlots = next
	for _, w := range p.layers[l] {
		pr.wires = append(pr.wires, slot[w])
		pr.wireDeg = append(pr.wireDeg, dg[w])
		pr.degree = max(pr.degree, dg[w])
	}
	return pr, nil
}

// eval runs the program on vectors: slots[0:nIn] hold the inputs, the rest are written. Every
// slot holds at least n elements. With constFill a constant is k itself (the mask is 1 wherever
// the program runs: the forward pass, or no padding at all) and the mask slot is not read.
func (pr *layerProg) eval(slots [][]field.Element, n int, constFill bool) {
	for i := range pr.ops {
		g := &pr.ops[i]
		dst := field.Vector(slots[g.dst][:n])
		switch g.op {
		case opConst:
			if constFill {
				for j := range dst {
					dst[j] = g.k
				}
				continue
			}
			dst.ScalarMul(field.Vector(slots[g.a][:n]), &g.k)
		case opAdd:
			dst.Add(field.Vector(slots[g.a][:n]), field.Vector(slots[g.b][:n]))
		case opSub:
			dst.Sub(field.Vector(slots[g.a][:n]), field.Vector(slots[g.b][:n]))
		case opMul:
			dst.Mul(field.Vector(slots[g.a][:n]), field.Vector(slots[g.b][:n]))
		case opScale:
			dst.ScalarMul(field.Vector(slots[g.a][:n]), &g.k)
		}
	}
}

// tensorOf names the tensor of a stored node: the mapped input or output, or an internal wire
// "<kernel>/w<id>" (kept in the store, not declared in the graph).
func (k *Parallel) tensorOf(id int) string {
	if t, ok := k.nodeTensor[id]; ok {
		return t
	}
	return fmt.Sprintf("%s/w%d", k.name, id)
}

var _ gkr.Kernel = (*Parallel)(nil)
