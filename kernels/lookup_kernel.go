package kernels

import (
	"fmt"
	"math/big"

	"github.com/streamprove/streamprove/field"
	"github.com/streamprove/streamprove/gkr"
	"github.com/streamprove/streamprove/sumcheck"
)

// Lookup is a non-linear layer proven by LogUp lookups (DESIGN §9): a range check, a ReLU, a
// requantization, or a requantization fused with a ReLU. Build one with NewRange, NewReLU,
// NewRequant or NewRequantReLU.
//
// Every output of a Lookup is an advice tensor (gkr.Advice): the output y itself, the
// multiplicities of each table, and for a requantization with a shift the remainder and the
// quotient's parity. The graph builder declares them (y included) with the infos Declare or
// OutputInfos returns (the scheduler: return OutputInfos as a node's extra tensors). A claim
// on y from a consumer ends in the final pcs opening; the lookup reduces nothing on y and
// instead proves the relation between x and its advice, leaving claims on x (for x's producer)
// and on the advice (for the opening).
type Lookup struct {
	name  string
	op    string // "range", "relu", "requant", "requant_relu"
	x, y  string
	lo    int64 // range: [lo, hi); requant: the clamp [lo, hi]
	hi    int64
	shift int // requant: divide by 2^shift
	bits  int // relu: input bits; requant: output bits
	qbits int // requant: bits of the quotient table
	core  lookupCore
	pair  *lookupCore // core with pair tables (lookupCore.pack), when the tables are small enough
}

// maxPackBits bounds a pair table (pairTable) at 2^20 rows, and packMargin makes one pay for
// itself: a lookup packs two elements per leaf when every table's pair table has at most
// 2^(n−packMargin) rows for a tensor of 2^n elements — the witness trees lose 2^(n−1) leaves, the
// table trees gain at most 2^(n−4) — and when the tensor's last dimension is even (so a pair
// never joins an element with padding: the forward counts pairs in stream order).
const (
	maxPackBits = 20
	packMargin  = 4
)

// coreFor returns the core that proves the lookup over an x of shape xShape: the packed one
// when it pays (maxPackBits, packMargin), the plain one otherwise. Prover, verifier, Forward and
// Declare all choose through it.
func (l *Lookup) coreFor(xShape []int) *lookupCore {
	if l.pair == nil || len(xShape) == 0 || xShape[len(xShape)-1]%2 != 0 {
		return &l.core
	}
	n := (&gkr.TensorInfo{Shape: xShape}).NumVars()
	for _, a := range l.pair.args {
		if a.tab.logSize > n-packMargin {
			return &l.core
		}
	}
	return l.pair
}

// buildPair sets l.pair from l.core when every table's pair table is at most 2^maxPackBits rows.
func (l *Lookup) buildPair() {
	l.pair = nil
	pc := &lookupCore{name: l.core.name, tensors: l.core.tensors, pack: true}
	for _, a := range l.core.args {
		if 2*a.tab.logSize > maxPackBits {
			return
		}
		pc.args = append(pc.args, lookupArg{tab: pairTable(a.tab), cols: a.cols, mult: a.mult})
	}
	l.pair = pc
}

// coreOf is coreFor for the x declared in g (the plain core when x is not declared).
func (l *Lookup) coreOf(g *gkr.Graph) *lookupCore {
	if ti, ok := g.Tensors[l.x]; ok {
		return l.coreFor(ti.Shape)
	}
	return &l.core
}

// LookupOption tunes a lookup kernel.
type LookupOption func(*Lookup)

// QuotientBits sets the size of a requantization's saturation table to 2^bits rows: the kernel
// proves inputs whose rounded quotient round(x/2^shift) lies in [−2^(bits−1), 2^(bits−1)), i.e.
// |x| up to about 2^(shift+bits−1). The default is 16 (and at least the output bits).
func QuotientBits(bits int) LookupOption { return func(l *Lookup) { l.qbits = bits } }

// Advice tensor names, derived from the node name (unique in a graph).
func (l *Lookup) rpName() string   { return l.name + "/rp" }
func (l *Lookup) multName() string { return l.name + "/mult" }
func (l *Lookup) multRem() string  { return l.name + "/mult_rem" }

// maxLookupBits bounds every table at 2^24 rows (its multiplicities are a committed tensor).
const maxLookupBits = 24

// build fills l.core from the parameters.
func (l *Lookup) build() error {
	l.core = lookupCore{name: l.name}
	one := field.One()
	switch l.op {
	case "range":
		if l.lo > 0 || l.hi <= 0 || l.hi-l.lo > 1<<maxLookupBits {
			return fmt.Errorf("%w: node %s: range [%d, %d) must contain 0 and span at most 2^%d values", gkr.ErrGraph, l.name, l.lo, l.hi, maxLookupBits)
		}
		l.core.tensors = []string{l.x}
		l.core.args = []lookupArg{{tab: rangeTable(l.lo, l.hi), cols: [][]linTerm{{{0, one}}}, mult: l.multName()}}
	case "relu", "requant", "requant_relu":
		if l.shift < 0 || l.shift > 32 {
			return fmt.Errorf("%w: node %s: shift %d (want 0..32)", gkr.ErrGraph, l.name, l.shift)
		}
		if l.bits < 2 || l.bits > l.qbits || l.qbits > maxLookupBits {
			return fmt.Errorf("%w: node %s: %d bits with a %d-bit table (want 2 ≤ bits ≤ table bits ≤ %d)", gkr.ErrGraph, l.name, l.bits, l.qbits, maxLookupBits)
		}
		if l.shift+1 > maxLookupBits {
			return fmt.Errorf("%w: node %s: shift %d needs a remainder table of 2^%d rows", gkr.ErrGraph, l.name, l.shift, l.shift+1)
		}
		if l.shift == 0 {
			l.core.tensors = []string{l.x, l.y}
			l.core.args = []lookupArg{{tab: clampTable(l.qbits, l.lo, l.hi),
				cols: [][]linTerm{{{0, one}}, {{1, one}}}, mult: l.multName()}}
			break
		}
		// z = 2·rem + (u mod 2): (2x − z, y) ∈ quotTable; z ∈ remParTable (NewRequant).
		two, mone := field.NewInt(2), field.NewInt(-1)
		l.core.tensors = []string{l.x, l.rpName(), l.y}
		l.core.args = []lookupArg{
			{tab: quotTable(l.qbits, l.shift, l.lo, l.hi),
				cols: [][]linTerm{{{0, two}, {1, mone}}, {{2, one}}}, mult: l.multName()},
			{tab: remParTable(l.shift), cols: [][]linTerm{{{1, one}}}, mult: l.multRem()},
		}
	default:
		return fmt.Errorf("%w: node %s: unknown lookup op %q", gkr.ErrGraph, l.name, l.op)
	}
	l.buildPair()
	return nil
}

// Name returns the node name.
func (l *Lookup) Name() string { return l.name }

// Inputs returns x.
func (l *Lookup) Inputs() []string { return []string{l.x} }

// Outputs returns y (except for a range check) and the advice tensors, in the order Declare
// lists them.
func (l *Lookup) Outputs() []string {
	switch {
	case l.op == "range":
		return []string{l.multName()}
	case l.shift == 0:
		return []string{l.y, l.multName()}
	}
	return []string{l.y, l.rpName(), l.multName(), l.multRem()}
}

// Declare returns every output's TensorInfo (role Advice) given x's shape in g: y, the
// remainder and parity have x's shape; a multiplicity tensor has one element per table row.
func (l *Lookup) Declare(g *gkr.Graph) ([]gkr.TensorInfo, error) {
	ti, ok := g.Tensors[l.x]
	if !ok {
		return nil, fmt.Errorf("%w: node %s: input %q is not declared", gkr.ErrGraph, l.name, l.x)
	}
	return l.OutputInfos(ti.Shape), nil
}

// OutputInfos is Declare for a graph builder that knows x's shape: every output in Outputs
// order, all with role Advice — y included: a graph must declare y as advice, not as an
// intermediate or a public output.
func (l *Lookup) OutputInfos(xShape []int) []gkr.TensorInfo {
	var out []gkr.TensorInfo
	core := l.coreFor(xShape)
	for _, name := range l.Outputs() {
		shape := append([]int(nil), xShape...)
		for _, a := range core.args {
			if a.mult == name {
				shape = []int{1 << a.tab.logSize}
			}
		}
		out = append(out, gkr.TensorInfo{Name: name, Shape: shape, Role: gkr.Advice})
	}
	return out
}

// AdviceTensors returns the advice tensors a kernel adds to a graph (nil for kernels without
// advice), so that a graph builder can declare them.
func AdviceTensors(g *gkr.Graph, k Kernel) ([]gkr.TensorInfo, error) {
	if d, ok := k.(interface {
		Declare(*gkr.Graph) ([]gkr.TensorInfo, error)
	}); ok {
		return d.Declare(g)
	}
	return nil, nil
}

// Describe encodes the op, its parameters and its tables for the graph digest.
func (l *Lookup) Describe() []byte {
	b := describe("lookup/1:"+l.op, l.lo, l.hi, int64(l.shift), int64(l.bits), int64(l.qbits))
	for _, a := range l.core.args {
		b = append(b, a.tab.describe()...)
	}
	if l.pair != nil {
		// the rule that picks the pair tables (coreFor)
		b = append(b, describe("lookup/pack", maxPackBits, packMargin)...)
	}
	return b
}

// checkRoles rejects a graph in which an output of the kernel is not an advice tensor: a lookup
// cannot reduce a claim on its output.
func (l *Lookup) checkRoles(g *gkr.Graph) error {
	for _, o := range l.Outputs() {
		ti, ok := g.Tensors[o]
		if !ok {
			return fmt.Errorf("%w: node %s: output %q is not declared", gkr.ErrGraph, l.name, o)
		}
		if ti.Role != gkr.Advice {
			return fmt.Errorf("%w: node %s: output %q is %s; a lookup's outputs must be advice tensors", gkr.ErrGraph, l.name, o, ti.Role)
		}
	}
	return nil
}

// Prove proves the lookups; out holds empty slots (every output is advice).
func (l *Lookup) Prove(pc *gkr.ProveCtx, out []gkr.Claim) ([]gkr.Claim, error) {
	return l.protocol(pc.Party())
}

// Verify checks the lookups and returns the claims on x and on the advice tensors.
func (l *Lookup) Verify(vc *gkr.VerifyCtx, out []gkr.Claim) ([]gkr.Claim, error) {
	return l.protocol(vc.Party())
}

// protocol is the kernel's messages: its lookups' (lookupCore.protocol), on checked roles.
func (l *Lookup) protocol(p *gkr.Party) ([]gkr.Claim, error) {
	if err := l.checkRoles(p.Graph()); err != nil {
		return nil, err
	}
	return l.coreOf(p.Graph()).protocol(p, nil)
}

// Estimate is EstimateReaders with every reader sized for an int64 tensor in chunks of 2^16
// (the store's default): a caller that knows the tensors' dtypes and chunks passes their sizes.
func (l *Lookup) Estimate(g *gkr.Graph) gkr.Estimate {
	return l.EstimateReaders(g, defaultReaders, 0)
}

// defaultStreamBytes is tensorstore.Info.StreamBytes of an int64 stream of an int64 tensor in
// chunks of 2^16 elements.
const defaultStreamBytes = (1 << 16) * (8 + 2*8)

// ReaderEstimator is implemented by kernels whose least RAM depends on the readers of the
// tensors they stream: EstimateReaders is Estimate given streamBytes(tensor, asField), the least
// a sequential reader of the tensor holds as the kernel opens it (tensorstore.Info.StreamBytes:
// an int64 stream for an integer tensor unless asField, field elements otherwise; the first pass
// of a sumcheck reads its sources as field elements), and the prove's workers (0: GOMAXPROCS).
type ReaderEstimator interface {
	EstimateReaders(g *gkr.Graph, streamBytes ReaderSizes, workers int) gkr.Estimate
}

// ReaderSizes gives a tensor's reader size: as an int64 stream (integer tensors, asField false)
// or as field elements.
type ReaderSizes func(tensor string, asField bool) int64

// defaultReaders sizes every reader for a tensor in chunks of 2^16: int64 or field elements.
func defaultReaders(_ string, asField bool) int64 {
	if asField {
		return (1 << 16) * (32 + 2*8)
	}
	return defaultStreamBytes
}

// EstimateReaders: MinBytes is the least working set the prove refuses to start without
// (lookupLeast: its readers and buffers with every layer spilled); TableBytes is every tree's
// layers in RAM plus the rest of its preferred working set (lookupKeep), so that MinBytes +
// TableBytes is what it takes to spill nothing. The witness tensors are read twice (the leaves,
// their evaluation at the end), the layers written once and read by their sumchecks.
func (l *Lookup) EstimateReaders(g *gkr.Graph, streamBytes ReaderSizes, workers int) gkr.Estimate {
	ti, ok := g.Tensors[l.x]
	if !ok {
		return gkr.Estimate{}
	}
	nv := ti.NumVars()
	n := int64(1) << nv
	core := l.coreFor(ti.Shape)
	least, keep, layers := core.working(nv, streamBytes, workers)
	nt, trees := int64(len(core.tensors)), int64(len(core.args))
	return gkr.Estimate{MinBytes: least, TableBytes: layers + keep - least, StreamBytes: (2*nt + 6*trees) * n * 32}
}

// working returns a lookup's least working set (lookupLeast), the working set it keeps free for
// speed (lookupKeep) and its trees' stored layers, for witness tensors of nv variables whose
// readers hold streamBytes(tensor).
func (c *lookupCore) working(nv int, streamBytes ReaderSizes, workers int) (least, keep, layers int64) {
	rds := make([]int64, len(c.tensors))
	for t, name := range c.tensors {
		rds[t] = streamBytes(name, false)
	}
	groups := c.groups()
	mrds, tabLogs := make([]int64, len(groups)), make([]int, len(groups))
	for G, grp := range groups {
		mrds[G], tabLogs[G] = streamBytes(grp.mult, false), grp.tab.logSize
		layers += treeBytes(grp.tab.logSize, false)
	}
	if nv > 0 {
		layers += int64(len(c.args)) * treeBytes(c.depth(nv), true)
	}
	return lookupLeast(nv, len(c.args), rds, mrds, tabLogs, workers), lookupKeep(nv, len(c.args), rds, mrds, tabLogs, workers), layers
}

// sumcheckLeast is the least free RAM a sumcheck over stored tensors runs in: the reader of
// every named tensor open at once, as field elements (its first pass reads them so), and the
// prover's workspaces for a gate of arity k at its smallest chunks (2^4 elements).
func sumcheckLeast(names []string, k int, streamBytes ReaderSizes, workers int) int64 {
	var rd int64
	for _, n := range names {
		rd += streamBytes(n, true)
	}
	return rd + sumcheck.StreamWorkspaceBytes(k, workers, 4)
}

// treeBytes is what a tree's stored layers 1 … top take (only the denominators of the top
// layer when unit).
func treeBytes(top int, unit bool) int64 {
	var b int64
	for k := 1; k <= top; k++ {
		halves := int64(4)
		if k == top && unit {
			halves = 2
		}
		b += halves << (k - 1) * 32
	}
	return b
}

// OutBound is the largest magnitude of y.
func (l *Lookup) OutBound(g *gkr.Graph, in []*big.Int) (*big.Int, error) {
	if l.op == "range" {
		return big.NewInt(0), nil
	}
	return big.NewInt(max(-l.lo, l.hi)), nil
}

var (
	_ Kernel          = (*Lookup)(nil)
	_ ReaderEstimator = (*Lookup)(nil)
)
