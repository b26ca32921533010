package kernels

import (
	"fmt"
	"math/big"

	"github.com/streamprove/streamprove/field"
	"github.com/streamprove/streamprove/gkr"
	"github.com/streamprove/streamprove/tensorstore"
)

// bounds returns |value| bounds of every live node from the inputs' bounds (nil for dead
// nodes), capped at (p−1)/2: a wire whose bound reaches the cap is stored as field elements.
func (k *Parallel) bounds(in map[string]*big.Int) ([]*big.Int, error) {
	half := new(big.Int).Rsh(field.Modulus(), 1)
	b := make([]*big.Int, len(k.c.nodes))
	abs := func(e field.Element) *big.Int {
		v := new(big.Int)
		e.BigInt(v)
		if v.Cmp(half) > 0 {
			v.Sub(field.Modulus(), v)
		}
		return v
	}
	for id, nd := range k.c.nodes {
		var v *big.Int
		switch nd.op {
		case opInput:
			x, ok := in[nd.name]
			if !ok || x == nil {
				return nil, fmt.Errorf("node %s: no value bound for input %q", k.name, nd.name)
			}
			v = new(big.Int).Set(x)
		case opConst:
			v = abs(nd.k)
		case opAdd, opSub:
			v = new(big.Int).Add(b[nd.a], b[nd.b])
		case opMul:
			v = new(big.Int).Mul(b[nd.a], b[nd.b])
		case opScale:
			v = new(big.Int).Mul(abs(nd.k), b[nd.a])
		}
		if v.Cmp(half) > 0 {
			v.Set(half)
		}
		b[id] = v
	}
	return b, nil
}

// OutBound is the largest bound of the outputs (Forward records each output's own bound).
func (k *Parallel) OutBound(g *gkr.Graph, in []*big.Int) (*big.Int, error) {
	if _, _, err := k.check(g); err != nil {
		return nil, err
	}
	m := map[string]*big.Int{}
	for name, t := range k.inMap {
		for i, x := range k.ins {
			if x == t {
				m[name] = in[i]
			}
		}
	}
	b, err := k.bounds(m)
	if err != nil {
		return nil, err
	}
	out := new(big.Int)
	for _, o := range k.c.outputs {
		if b[o.node].Cmp(out) > 0 {
			out.Set(b[o.node])
		}
	}
	return out, nil
}

// fwdProg evaluates every live node of the circuit on real instances (mask = 1): input slots
// first, then the ones slot, then computed nodes with slots reused after their last use (stored
// wires keep theirs until the chunk is written).
type fwdProg struct {
	prog   layerProg
	inSlot map[int]int // input node → slot
	store  []int       // stored computed nodes, ascending
	slotOf map[int]int
}

func (k *Parallel) forwardProg() *fwdProg {
	c := k.c
	fp := &fwdProg{inSlot: map[int]int{}, slotOf: map[int]int{}}
	live := make([]bool, len(c.nodes))
	for _, ws := range k.p.layers {
		for _, id := range ws {
			live[id] = true
		}
	}
	lastUse := make([]int, len(c.nodes))
	for id := len(c.nodes) - 1; id >= 0; id-- {
		lastUse[id] = -1
	}
	for id := len(c.nodes) - 1; id >= 0; id-- {
		if !live[id] {
			continue
		}
		nd := c.nodes[id]
		switch nd.op {
		case opAdd, opSub, opMul:
			live[nd.a], live[nd.b] = true, true
			lastUse[nd.a], lastUse[nd.b] = max(lastUse[nd.a], id), max(lastUse[nd.b], id)
		case opScale:
			live[nd.a] = true
			lastUse[nd.a] = max(lastUse[nd.a], id)
		}
	}
	next := 0
	for id, nd := range c.nodes {
		if live[id] && nd.op == opInput {
			fp.inSlot[id], fp.slotOf[id] = next, next
			next++
		}
	}
	ones := next
	next++
	var free []int
	for id, nd := range c.nodes {
		if !live[id] || nd.op == opInput {
			continue
		}
		var dst int
		if len(free) > 0 {
			dst, free = free[len(free)-1], free[:len(free)-1]
		} else {
			dst = next
			next++
		}
		g := gop{op: nd.op, dst: dst, k: nd.k}
		switch nd.op {
		case opConst:
			g.a = ones
		case opAdd, opSub, opMul:
			g.a, g.b = fp.slotOf[nd.a], fp.slotOf[nd.b]
		case opScale:
			g.a = fp.slotOf[nd.a]
		}
		fp.slotOf[id] = dst
		fp.prog.ops = append(fp.prog.ops, g)
		if k.p.stored[id] {
			fp.store = append(fp.store, id)
		}
		var operands []int
		switch nd.op {
		case opAdd, opSub, opMul:
			operands = []int{nd.a, nd.b}
		case opScale:
			operands = []int{nd.a}
		}
		for _, x := range operands {
			if lastUse[x] == id && !k.p.stored[x] && c.nodes[x].op != opInput {
				free = append(free, fp.slotOf[x])
				lastUse[x] = -2 // freed once even when both operands are x
			}
		}
	}
	fp.prog.nIn = ones + 1
	fp.prog.nSlots = next
	return fp
}

// Forward runs the circuit over the instances chunk by chunk: it streams the inputs, evaluates
// every node on the chunk (split over the workers) and appends every stored wire to its tensor.
// Wires are stored in the narrowest dtype their bound allows (field elements for MiMC-like
// circuits, whose values are uniformly spread).
func (k *Parallel) Forward(fc *ForwardCtx) error {
	N, _, err := k.check(fc.Graph)
	if err != nil {
		return err
	}
	inB := map[string]*big.Int{}
	for name, t := range k.inMap {
		if b, ok := fc.Bounds[t]; ok {
			inB[name] = b
		}
	}
	bnd, err := k.bounds(inB)
	if err != nil {
		return err
	}
	fp := k.forwardProg()
	writers := make([]*tensorstore.Writer, len(fp.store))
	defer func() {
		for _, w := range writers {
			if w != nil {
				w.Abort()
			}
		}
	}()
	wce := fc.Write.ChunkElems
	if wce == 0 {
		wce = 1 << 16
	}
	wce = int(min(int64(wce), field.NextPow2(N)))
	m := fc.chunk()
	// Keep the slots within 64 MiB whatever the circuit's size, and within half of what the
	// budget has left after the writers' chunk buffers (raw and compressed).
	wbytes := int64(len(writers)) * int64(wce) * 64
	for m > 64 && (int64(fp.prog.nSlots)*int64(m)*32 > 64<<20 ||
		fc.Budget != nil && !fc.Budget.Unlimited() && int64(fp.prog.nSlots)*int64(m)*32 > (fc.Budget.Available()-wbytes)/2) {
		m /= 2
	}
	need := int64(fp.prog.nSlots)*int64(m)*32 + wbytes
	release, err := fc.reserve("forward of "+k.name, need)
	if err != nil {
		return fmt.Errorf("node %s: %w", k.name, err)
	}
	defer release()
	for i, id := range fp.store {
		dt := DTypeForBound(bnd[id])
		opt := fc.Write
		opt.Budget = nil // the writers' buffers are already in need, reserved above
		w, err := fc.Store.Create(k.tensorOf(id), []int{int(N)}, dt, opt)
		if err != nil {
			return fmt.Errorf("node %s: %w", k.name, err)
		}
		writers[i] = w
		if t, ok := k.nodeTensor[id]; ok && fc.Bounds != nil {
			fc.Bounds[t] = bnd[id]
		}
	}
	type input struct {
		st   field.Stream
		slot int
	}
	var ins []input
	for id, slot := range fp.inSlot {
		st, done, err := openElems(fc.Store, k.tensorOf(id))
		if err != nil {
			return fmt.Errorf("node %s: input %q: %w", k.name, k.tensorOf(id), err)
		}
		defer done()
		ins = append(ins, input{st, slot})
	}
	slots := make([][]field.Element, fp.prog.nSlots)
	for i := range slots {
		slots[i] = make([]field.Element, m)
	}
	ones := slots[fp.prog.nIn-1]
	for i := range ones {
		ones[i].SetOne()
	}
	for done := int64(0); done < N; done += int64(m) {
		n := int(min(int64(m), N-done))
		for _, in := range ins {
			if err := field.ReadFull(in.st, slots[in.slot][:n]); err != nil {
				return fmt.Errorf("node %s: input at %d: %w", k.name, done, err)
			}
		}
		field.Parallel(n, fc.Workers, func(s, e int) {
			sub := make([][]field.Element, len(slots))
			for i := range slots {
				sub[i] = slots[i][s:e]
			}
			fp.prog.eval(sub, e-s, true)
		})
		for i, id := range fp.store {
			if err := writers[i].WriteElements(slots[fp.slotOf[id]][:n]); err != nil {
				return fmt.Errorf("node %s: %w", k.name, err)
			}
		}
	}
	for i, w := range writers {
		if _, err := w.Commit(); err != nil {
			return fmt.Errorf("node %s: %w", k.name, err)
		}
		writers[i] = nil
	}
	return nil
}
