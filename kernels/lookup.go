package kernels

import (
	"bytes"
	"fmt"
	"slices"

	"github.com/streamprove/streamprove/field"
	"github.com/streamprove/streamprove/gkr"
	"github.com/streamprove/streamprove/spill"
)

// linTerm is coef·tensor[t] inside a looked-up column.
type linTerm struct {
	t    int
	coef field.Element
}

// lookupArg says: for every index i of the padded witness tensors, the tuple
// (Σ cols[0] terms, Σ cols[1] terms, …) at i is a row of tab; mult counts how often each row is
// used (padding entries are all zero and are counted at tab.zeroRow).
type lookupArg struct {
	tab  *lookupTable
	cols [][]linTerm
	mult string
}

// lookupCore is the proof of a few lookups over tensors of one shape (LogUp with the
// fractional-sum GKR of lookup_gkr.go).
//
// Transcript order (Prove and Verify share it through the channel):
//  1. γ ("lookup/gamma"), β ("lookup/beta") — after every advice commitment (the engine commits
//     them first), so the looked-up columns and the multiplicities are fixed before.
//  2. per lookup A: the witness tree's root (P_A, Q_A) — or, for a one-element tensor, the
//     tensors' values — then per lookup the table tree's root (P'_A, Q'_A). The verifier checks
//     Q_A ≠ 0, Q'_A ≠ 0 and P_A·Q'_A = P'_A·Q_A, i.e. Σ_i 1/(β − w_i) = Σ_j m_j/(β − t_j) with
//     w_i = Σ_c γ^c·col_c(i) and t_j = Σ_c γ^c·tab_c(j).
//  3. the witness trees together (one sumcheck per layer, "lookup/alpha", then the sumcheck,
//     then "lookup/lambda"). After the last one (over the stored leaf denominators, at point ρ)
//     and before its λ, the prover sends every witness tensor's even and odd halves at ρ
//     ("lookup/leaf-values"); the verifier checks each final denominator against
//     β − Σ_t a_t·T_t and turns the values into one claim per tensor at (λ, ρ).
//  4. each table tree alone; its last layer's final values for the denominators are checked
//     against the table's MLE (O(log²) for the verifier), and a claim on the multiplicities is
//     left for the pcs opening.
//
// With pack, every lookup looks up two elements per leaf: leaf j of a witness tree holds
// elements 2j and 2j+1, its tuple being the columns at 2j followed by the columns at 2j+1 (the
// odd element's coefficients times γ^k for k columns), in a table of pairs (pairTable). The
// witness trees then have n−1 variables and half the leaves. After their last sumcheck (at
// point ρ of n−2 variables) the prover sends each tensor's four quarters at ρ
// (T[4j + r], r = 0 … 3, in that order); the verifier checks the two final denominators
// against them, draws "lookup/mu" after λ, and the claim on a tensor is at (μ, λ, ρ).
type lookupCore struct {
	name    string
	tensors []string
	args    []lookupArg
	pack    bool
}

// tableGroup is one table tree of a core: the lookups (args) naming the same multiplicity
// tensor share it, and must name the same table. With several, the tree's leaves count every
// lookup of the group (m_j = Σ_A m_A[j], one committed tensor) and the root check is
// Σ_A P_A/Q_A = P'/Q': a range table of 2^16 rows checked for seven limb tensors is built,
// proven and committed once instead of seven times.
type tableGroup struct {
	tab  *lookupTable
	mult string
	args []int
}

// groups returns the core's table trees in the order their multiplicity tensors first appear.
func (lc *lookupCore) groups() []tableGroup {
	var gs []tableGroup
	for A, a := range lc.args {
		i := slices.IndexFunc(gs, func(g tableGroup) bool { return g.mult == a.mult })
		if i < 0 {
			gs = append(gs, tableGroup{tab: a.tab, mult: a.mult})
			i = len(gs) - 1
		}
		gs[i].args = append(gs[i].args, A)
	}
	return gs
}

// multNames returns the distinct multiplicity tensors with their lengths, in groups order.
func (lc *lookupCore) multNames() (names []string, lens []int) {
	for _, g := range lc.groups() {
		names, lens = append(names, g.mult), append(lens, 1<<g.tab.logSize)
	}
	return names, lens
}

// depth is the number of variables of the witness trees over tensors of n variables.
func (lc *lookupCore) depth(n int) int {
	if lc.pack {
		return n - 1
	}
	return n
}

// parts is how many interleaved parts of each tensor the prover sends after the witness trees.
func (lc *lookupCore) parts() int {
	if lc.pack {
		return 4
	}
	return 2
}

// oddCoeffs returns, with pack, the coefficients of the odd element of each leaf:
// a[A][t]·γ^k with k the number of columns of lookup A (nil without pack).
func (lc *lookupCore) oddCoeffs(a [][]field.Element, gpow []field.Element) [][]field.Element {
	if !lc.pack {
		return nil
	}
	ao := make([][]field.Element, len(a))
	for A, arg := range lc.args {
		ao[A] = make([]field.Element, len(a[A]))
		for t := range a[A] {
			ao[A][t].Mul(&a[A][t], &gpow[len(arg.cols)])
		}
	}
	return ao
}

func (lc *lookupCore) maxCols() int {
	m := 0
	for _, a := range lc.args {
		m = max(m, len(a.cols), len(a.tab.cols))
	}
	return m
}

// coeffs returns a[A][t] = Σ_c γ^c·(coefficient of tensor t in column c of lookup A).
func (lc *lookupCore) coeffs(gpow []field.Element) [][]field.Element {
	a := make([][]field.Element, len(lc.args))
	for A, arg := range lc.args {
		a[A] = make([]field.Element, len(lc.tensors))
		for c, col := range arg.cols {
			for _, term := range col {
				var v field.Element
				v.Mul(&term.coef, &gpow[c])
				a[A][term.t].Add(&a[A][term.t], &v)
			}
		}
	}
	return a
}

func (lc *lookupCore) numVars(g *gkr.Graph) (int, error) {
	ti, ok := g.Tensors[lc.tensors[0]]
	if !ok {
		return 0, fmt.Errorf("%w: node %s: tensor %q is not declared", gkr.ErrGraph, lc.name, lc.tensors[0])
	}
	for _, t := range lc.tensors[1:] {
		o, ok := g.Tensors[t]
		if !ok {
			return 0, fmt.Errorf("%w: node %s: tensor %q is not declared", gkr.ErrGraph, lc.name, t)
		}
		if fmt.Sprint(o.Shape) != fmt.Sprint(ti.Shape) {
			return 0, fmt.Errorf("%w: node %s: tensor %q has shape %v, %q has %v", gkr.ErrGraph, lc.name, t, o.Shape, ti.Name, ti.Shape)
		}
	}
	for _, grp := range lc.groups() {
		for _, A := range grp.args[1:] {
			if !bytes.Equal(lc.args[A].tab.describe(), grp.tab.describe()) {
				return 0, fmt.Errorf("%w: node %s: lookups %d and %d share multiplicities %q but not their table", gkr.ErrGraph, lc.name, grp.args[0], A, grp.mult)
			}
		}
	}
	for _, a := range lc.args {
		m, ok := g.Tensors[a.mult]
		if !ok {
			return 0, fmt.Errorf("%w: node %s: multiplicity tensor %q is not declared", gkr.ErrGraph, lc.name, a.mult)
		}
		if m.Role != gkr.Advice || m.NumVars() != a.tab.logSize || m.Len() != int64(1)<<a.tab.logSize {
			return 0, fmt.Errorf("%w: node %s: multiplicity tensor %q must be advice of shape [%d]", gkr.ErrGraph, lc.name, a.mult, 1<<a.tab.logSize)
		}
	}
	if lc.pack && ti.NumVars() < 2 {
		return 0, fmt.Errorf("%w: node %s: a packed lookup needs at least 4 elements", gkr.ErrGraph, lc.name)
	}
	return ti.NumVars(), nil
}

func (lc *lookupCore) challenges(tr *field.Transcript) (gamma, beta field.Element, gpow []field.Element) {
	gamma = tr.Challenge("lookup/gamma")
	beta = tr.Challenge("lookup/beta")
	return gamma, beta, powers(gamma, lc.maxCols())
}

// prove runs the lookups and returns the claims on the witness tensors and the multiplicities.
func (lc *lookupCore) prove(pc *gkr.ProveCtx) ([]gkr.Claim, error) {
	return lc.protocol(pc.Party(), nil)
}

// verify checks the lookups' messages and returns the claims prove returned.
func (lc *lookupCore) verify(vc *gkr.VerifyCtx) ([]gkr.Claim, error) {
	return lc.protocol(vc.Party(), nil)
}

// lookupCheat is what the soundness tests' cheating prover changes: the tensors the witness
// trees are built from, and the tables the table trees are built from. An honest prover never
// sets it.
type lookupCheat struct {
	treeSrcs []field.Source
	tables   []*lookupTable
}

func (lc *lookupCore) proveWith(pc *gkr.ProveCtx, cheat *lookupCheat) ([]gkr.Claim, error) {
	return lc.protocol(pc.Party(), cheat)
}

// protocol is the lookups' one description of their messages, walked by prover and verifier:
// the challenges γ, β; the witness trees' roots (with no variables, the tensors' single values
// instead) and the table trees' roots, which the verifier checks are equal fractions; the
// witness trees' layer sumchecks, after whose last one the prover sends the tensors' values at
// (0, ρ) and (1, ρ); then each table tree's layer sumchecks, whose leaves the verifier evaluates
// from the table itself.
func (lc *lookupCore) protocol(p *gkr.Party, cheat *lookupCheat) ([]gkr.Claim, error) {
	n, err := lc.numVars(p.Graph())
	if err != nil {
		return nil, err
	}
	_, beta, gpow := lc.challenges(p.Transcript())
	a := lc.coeffs(gpow)
	ao := lc.oddCoeffs(a, gpow)
	var st *lookupTrees // the prover's trees; nil on the verifier's side
	if !p.Verifying() {
		if st, err = lc.buildTrees(p.Prover(), n, beta, gpow, a, ao, cheat); err != nil {
			return nil, err
		}
		defer st.release()
	}
	wroots := make([][2]field.Element, len(lc.args))
	var leafVals []field.Element
	if n == 0 {
		if leafVals, err = p.Message("lookup/leaf-values", len(lc.tensors), func() ([]field.Element, error) { return st.leafVals, nil }); err != nil {
			return nil, err
		}
		for A := range wroots {
			q := beta
			for t := range leafVals {
				var v field.Element
				v.Mul(&a[A][t], &leafVals[t])
				q.Sub(&q, &v)
			}
			wroots[A] = [2]field.Element{field.One(), q}
		}
	} else {
		for A := range wroots {
			r, err := p.Message("lookup/root", 2, func() ([]field.Element, error) { return st.wtrees[A].root[:], nil })
			if err != nil {
				return nil, err
			}
			wroots[A] = [2]field.Element{r[0], r[1]}
		}
	}
	groups := lc.groups()
	troots := make([][2]field.Element, len(groups))
	for G := range troots {
		r, err := p.Message("lookup/table-root", 2, func() ([]field.Element, error) { return st.ttrees[G].root[:], nil })
		if err != nil {
			return nil, err
		}
		troots[G] = [2]field.Element{r[0], r[1]}
	}
	if p.Verifying() {
		for G, grp := range groups {
			// Σ_{A in the group} P_A/Q_A = P'/Q' (for one lookup, P·Q' = P'·Q).
			t := troots[G]
			if t[1].IsZero() {
				return nil, fmt.Errorf("%w: node %s: lookup %d has a zero denominator", gkr.ErrBadProof, lc.name, grp.args[0])
			}
			var lhs, rhs field.Element
			for _, A := range grp.args {
				w := wroots[A]
				if w[1].IsZero() {
					return nil, fmt.Errorf("%w: node %s: lookup %d has a zero denominator", gkr.ErrBadProof, lc.name, A)
				}
				var f field.Element
				f.Inverse(&w[1])
				f.Mul(&f, &w[0])
				lhs.Add(&lhs, &f)
			}
			rhs.Inverse(&t[1])
			rhs.Mul(&rhs, &t[0])
			if !lhs.Equal(&rhs) {
				return nil, fmt.Errorf("%w: node %s: lookup %d: the looked-up values are not in the table", gkr.ErrBadProof, lc.name, grp.args[0])
			}
		}
	}
	var claims []gkr.Claim
	if n == 0 {
		for t, name := range lc.tensors {
			claims = append(claims, gkr.Claim{Tensor: name, Point: []field.Element{}, Value: leafVals[t]})
		}
	} else {
		var vals []field.Element
		np := lc.parts()
		last := func(rho, finals []field.Element) error {
			var err error
			if vals, err = p.Message("lookup/leaf-values", np*len(lc.tensors), func() ([]field.Element, error) { return st.b.evalParts(st.srcs, rho, np) }); err != nil {
				return err
			}
			if !p.Verifying() {
				return nil
			}
			// The last sumcheck's finals are q_A at (0, ρ) and (1, ρ): they must be the
			// linear forms of the tensors' values sent for those points (with pack, of the
			// even and odd elements' values: quarters 2h and 2h+1).
			for A := range lc.args {
				for h := 0; h < 2; h++ {
					q := beta
					for t := range lc.tensors {
						var v field.Element
						if lc.pack {
							var o field.Element
							v.Mul(&a[A][t], &vals[4*t+2*h])
							o.Mul(&ao[A][t], &vals[4*t+2*h+1])
							v.Add(&v, &o)
						} else {
							v.Mul(&a[A][t], &vals[2*t+h])
						}
						q.Sub(&q, &v)
					}
					if !q.Equal(&finals[2*A+h]) {
						return fmt.Errorf("%w: node %s: lookup %d: the leaves are not the looked-up tensors", gkr.ErrBadProof, lc.name, A)
					}
				}
			}
			return nil
		}
		z, _, err := partyTrees(p, wroots, st.witness(), lc.depth(n), true, last)
		if err != nil {
			return nil, fmt.Errorf("node %s: %w", lc.name, err)
		}
		if lc.pack {
			// vals[4t + b + 2h] is T_t at (b, h, ρ): fold b with μ, then h with λ.
			mu := p.Transcript().Challenge("lookup/mu")
			halves := make([]field.Element, 2*len(lc.tensors))
			for t := range lc.tensors {
				for h := 0; h < 2; h++ {
					halves[2*t+h] = foldLambda(&vals[4*t+2*h], &vals[4*t+2*h+1], &mu)
				}
			}
			tc := lc.tensorClaims(z, halves)
			z = append([]field.Element{mu}, z...)
			for i := range tc {
				tc[i].Point = z
			}
			claims = append(claims, tc...)
		} else {
			claims = append(claims, lc.tensorClaims(z, vals)...)
		}
	}
	for G, grp := range groups {
		z, finals, err := partyTrees(p, troots[G:G+1], st.table(G), grp.tab.logSize, false, nil)
		if err != nil {
			return nil, fmt.Errorf("node %s: %w", lc.name, err)
		}
		if p.Verifying() {
			// The denominators' halves at (0, ρ) and (1, ρ) must be the table's.
			rho := z[1:]
			for h := 0; h < 2; h++ {
				pt := append([]field.Element{field.NewInt(int64(h))}, rho...)
				want := grp.tab.foldMLE(pt, gpow)
				want.Sub(&beta, &want)
				if !finals[2+h].Equal(&want) {
					return nil, fmt.Errorf("%w: node %s: lookup %d: table leaves do not match the table", gkr.ErrBadProof, lc.name, grp.args[0])
				}
			}
		}
		claims = append(claims, gkr.Claim{Tensor: grp.mult, Point: z, Value: foldLambda(&finals[0], &finals[1], &z[0])})
	}
	return claims, nil
}

// lookupTrees is the prover's state of a lookup: the witness tensors' sources, the builder
// that owns the trees' budget, and the trees (or, with no variables, the tensors' values).
type lookupTrees struct {
	b              *treeBuilder
	srcs           []field.Source
	wtrees, ttrees []*fracTree
	leafVals       []field.Element
}

func (st *lookupTrees) release() {
	for _, ts := range [][]*fracTree{st.wtrees, st.ttrees} {
		for _, t := range ts {
			if t != nil {
				t.release()
			}
		}
	}
}

// witness returns the witness trees (nil on the verifier's side, where st is nil).
func (st *lookupTrees) witness() []*fracTree {
	if st == nil {
		return nil
	}
	return st.wtrees
}

// table returns table tree G as a one-tree slice (nil on the verifier's side).
func (st *lookupTrees) table(G int) []*fracTree {
	if st == nil {
		return nil
	}
	return st.ttrees[G : G+1]
}

// buildTrees is the prover's work before its first message: it streams the witness tensors and
// the multiplicities once and builds every witness and table tree under the budget.
func (lc *lookupCore) buildTrees(pc *gkr.ProveCtx, n int, beta field.Element, gpow []field.Element, a, ao [][]field.Element, cheat *lookupCheat) (_ *lookupTrees, err error) {
	var treeSrcs []field.Source
	groups := lc.groups()
	tables := make([]*lookupTable, len(groups))
	for G, grp := range groups {
		tables[G] = grp.tab
	}
	if cheat != nil {
		treeSrcs = cheat.treeSrcs
		if cheat.tables != nil {
			tables = cheat.tables
		}
	}
	srcs := make([]field.Source, len(lc.tensors))
	for t, name := range lc.tensors {
		if srcs[t], err = pc.Source(name); err != nil {
			return nil, err
		}
		if srcs[t].Len() != int64(1)<<n {
			return nil, fmt.Errorf("node %s: tensor %q has %d elements, want 2^%d", lc.name, name, srcs[t].Len(), n)
		}
	}
	mults := make([]field.Source, len(groups))
	for G, grp := range groups {
		if mults[G], err = pc.Source(grp.mult); err != nil {
			return nil, err
		}
	}
	b := &treeBuilder{budget: pc.Budget(), dir: pc.Opt.SpillDir, who: "lookup " + lc.name}
	// The working set (readers and buffers, which cannot spill) is kept free from the start;
	// the trees' layers take RAM only beyond it and spill otherwise.
	rds, mrds := make([]int64, len(srcs)), make([]int64, len(mults))
	for t, s := range srcs {
		rds[t] = streamBytes(s)
	}
	tabLogs, tops, unit := make([]int, len(groups)), []int{}, []bool{}
	if n > 0 {
		for range lc.args {
			tops, unit = append(tops, lc.depth(n)), append(unit, true)
		}
	}
	for G, grp := range groups {
		mrds[G], tabLogs[G] = streamBytes(mults[G]), grp.tab.logSize
		tops, unit = append(tops, tabLogs[G]), append(unit, false)
	}
	b.keep = lookupKeep(n, len(lc.args), rds, mrds, tabLogs, pc.Opt.Workers)
	if bud := b.budget; bud != nil {
		if least := lookupLeast(n, len(lc.args), rds, mrds, tabLogs, pc.Opt.Workers); bud.Available() < least {
			return nil, fmt.Errorf("node %s needs %s free for its readers and buffers, but only %s of the %s budget is: %w",
				lc.name, spill.FormatBytes(least), spill.FormatBytes(bud.Available()), spill.FormatBytes(bud.Limit()), spill.ErrBudget)
		}
	}
	b.plan(tops, unit)
	st := &lookupTrees{b: b, srcs: srcs, wtrees: make([]*fracTree, len(lc.args)), ttrees: make([]*fracTree, len(groups))}
	defer func() {
		if err != nil {
			st.release()
		}
	}()
	for A := range st.wtrees {
		st.wtrees[A] = &fracTree{}
	}
	if n == 0 {
		st.leafVals = make([]field.Element, len(srcs))
		for t, s := range srcs {
			if st.leafVals[t], err = field.EvalStream(s, nil, 0); err != nil {
				return nil, err
			}
		}
	} else {
		if treeSrcs == nil {
			treeSrcs = srcs
		}
		if err := b.buildWitness(st.wtrees, treeSrcs, n, beta, a, ao); err != nil {
			return nil, fmt.Errorf("node %s: %w", lc.name, err)
		}
	}
	for G := range groups {
		st.ttrees[G] = &fracTree{}
		if err := b.buildTable(st.ttrees[G], tables[G], mults[G], beta, gpow); err != nil {
			return nil, fmt.Errorf("node %s: %w", lc.name, err)
		}
	}
	return st, nil
}

func (lc *lookupCore) tensorClaims(z, finals []field.Element) []gkr.Claim {
	out := make([]gkr.Claim, len(lc.tensors))
	for t, name := range lc.tensors {
		out[t] = gkr.Claim{Tensor: name, Point: z, Value: foldLambda(&finals[2*t], &finals[2*t+1], &z[0])}
	}
	return out
}

// buildWitness streams the witness tensors once and builds layers d … 0 of every witness tree:
// leaf i of lookup A is 1/(β − Σ_t a[A][t]·T_t[i]) (layer d stores only the denominators),
// d = n; with ao (a packed lookup, lookupCore.pack) leaf i is
// 1/(β − Σ_t a[A][t]·T_t[2i] + ao[A][t]·T_t[2i+1]) and d = n − 1.
// The tensors' readers are open together during the leaf pass and closed before the layers
// are reduced; the chunk buffers are sized after the readers are open, from what is left.
func (b *treeBuilder) buildWitness(trees []*fracTree, srcs []field.Source, n int, beta field.Element, a, ao [][]field.Element) error {
	d := n
	if ao != nil {
		d = n - 1
	}
	sinks := make([]*layerSink, len(trees))
	for A, t := range trees {
		if err := b.newLayer(t, d, true); err != nil {
			return err
		}
		if d-1 >= 1 {
			if err := b.newLayer(t, d-1, false); err != nil {
				return err
			}
		}
		sinks[A] = &layerSink{t: t, k: d - 1}
	}
	if err := b.leafPass(trees, sinks, srcs, n, beta, a, ao); err != nil {
		return err
	}
	for _, t := range trees {
		if err := b.reduce(t, d-1); err != nil {
			return err
		}
	}
	return nil
}

// leafPass is buildWitness's pass over the tensors: it writes layer d (denominators) and
// layer d−1 of every tree. With ao, each chunk's tensors are first split into their even and
// odd elements (in place, through a half-chunk scratch: the packed pass's q and half-chunks
// are half the plain pass's, so its buffers stay within witnessBufBytes).
func (b *treeBuilder) leafPass(trees []*fracTree, sinks []*layerSink, srcs []field.Source, n int, beta field.Element, a, ao [][]field.Element) (err error) {
	N := int64(1) << n
	nt := len(srcs)
	pack := ao != nil
	streams := make([]*elemReader, nt)
	defer func() {
		for _, s := range streams {
			if s != nil {
				s.Close()
			}
		}
	}()
	for t, s := range srcs {
		if streams[t], err = openElemReader(s); err != nil {
			return err
		}
	}
	C := b.chunk(N, witnessBufBytes(nt))
	release, err := b.reserve(witnessBufBytes(nt) * C)
	if err != nil {
		return err
	}
	defer release()
	ints := true
	for _, st := range streams {
		ints = ints && st.is != nil
	}
	var bufs [][]field.Element
	var ibufs [][]int64
	if ints {
		ibufs = make([][]int64, nt)
		for t := range ibufs {
			ibufs[t] = make([]int64, C)
		}
	} else {
		bufs = make([][]field.Element, nt)
		for t := range bufs {
			bufs[t] = make([]field.Element, C)
		}
	}
	L := C // leaves per chunk
	if pack {
		L = C / 2
	}
	q, tmp := make(field.Vector, L), make(field.Vector, L)
	p2, q2, qe, qo := make([]field.Element, L/2), make([]field.Element, L/2), make([]field.Element, L/2), make([]field.Element, L/2)
	var iscr []int64
	var fscr []field.Element
	if pack {
		if ints {
			iscr = make([]int64, C/2)
		} else {
			fscr = make([]field.Element, C/2)
		}
	}
	for off := int64(0); off < N; off += C {
		for t := range streams {
			var err error
			if ints {
				err = readFull(streams[t].is.Next, ibufs[t])
			} else {
				err = streams[t].read(bufs[t])
			}
			if err != nil {
				return fmt.Errorf("witness tensor %d at %d: %w", t, off, err)
			}
			if pack {
				// even elements to the first half, odd ones to the second
				if ints {
					deinterleave(ibufs[t], iscr)
				} else {
					deinterleave(bufs[t], fscr)
				}
			}
		}
		for A := range trees {
			// q_i = β − Σ_t a_t·T_t[i] (packed: − Σ_t a_t·T_t[2i] + ao_t·T_t[2i+1]), then
			// pairs: p' = q_e + q_o, q' = q_e·q_o.
			field.Parallel(int(L/2), workersFor(L, 0), func(s, e int) {
				qv, tv := q[2*s:2*e], tmp[2*s:2*e]
				for i := range qv {
					qv[i] = beta
				}
				for t := range streams {
					if a[A][t].IsZero() {
						continue
					}
					for h := 0; h < 2; h++ {
						if h == 1 && !pack {
							break
						}
						coef := &a[A][t]
						base := int64(0)
						if h == 1 {
							coef, base = &ao[A][t], L
						}
						if ints {
							subScaledInts(qv, tv, ibufs[t][base+int64(2*s):base+int64(2*e)], coef)
							continue
						}
						tv.ScalarMul(field.Vector(bufs[t][base+int64(2*s):base+int64(2*e)]), coef)
						qv.Sub(qv, tv)
					}
				}
				for i := s; i < e; i++ {
					qe[i] = q[2*i]
					qo[i] = q[2*i+1]
				}
				vp, vq := field.Vector(p2[s:e]), field.Vector(q2[s:e])
				vp.Add(field.Vector(qe[s:e]), field.Vector(qo[s:e]))
				vq.Mul(field.Vector(qe[s:e]), field.Vector(qo[s:e]))
			})
			top, leafOff := n, off
			if pack {
				top, leafOff = n-1, off/2
			}
			lay := trees[A].layers[top]
			if err := lay[2].WriteAt(qe, leafOff/2); err != nil {
				return err
			}
			if err := lay[3].WriteAt(qo, leafOff/2); err != nil {
				return err
			}
			if err := sinks[A].write(p2, q2); err != nil {
				return err
			}
		}
	}
	return nil
}

// deinterleave moves v's even elements to its first half and its odd ones to its second,
// through scratch (len(v)/2 elements).
func deinterleave[T any](v, scratch []T) {
	h := len(v) / 2
	for i := 0; i < h; i++ {
		scratch[i] = v[2*i+1]
	}
	for i := 0; i < h; i++ {
		v[i] = v[2*i]
	}
	copy(v[h:], scratch[:h])
}

// subScaledInts sets q[i] −= a·v[i] for integers v, using tmp (len(q) elements) as scratch. When
// the values span at most len(v)/4 integers (a quantized activation, a remainder, a parity),
// the products come from a table of a·(lo … hi) built by additions, so a leaf costs a lookup and
// a subtraction instead of a conversion and two multiplications; wide values (the requantized
// input) take the multiplications.
func subScaledInts(q, tmp field.Vector, v []int64, a *field.Element) {
	if len(v) == 0 {
		return
	}
	lo, hi := v[0], v[0]
	for _, x := range v {
		lo, hi = min(lo, x), max(hi, x)
	}
	if span := uint64(hi - lo); span < uint64(len(v)/4) && hi-lo >= 0 {
		tab := tmp[:span+1]
		tab[0] = field.NewInt(lo)
		tab[0].Mul(&tab[0], a)
		for k := 1; k < len(tab); k++ {
			tab[k].Add(&tab[k-1], a)
		}
		for i, x := range v {
			q[i].Sub(&q[i], &tab[x-lo])
		}
		return
	}
	for i, x := range v {
		tmp[i].SetInt64(x)
	}
	tmp.ScalarMul(tmp, a)
	q.Sub(q, tmp)
}

// buildTable stores the leaves of a table tree (numerators: the multiplicities; denominators
// β − Σ_c γ^c·tab_c(j)) as its layer L and reduces it to the root.
func (b *treeBuilder) buildTable(t *fracTree, tab *lookupTable, m field.Source, beta field.Element, gpow []field.Element) error {
	L := tab.logSize
	if m.Len() != int64(1)<<L {
		return fmt.Errorf("multiplicities have %d elements, the table %d", m.Len(), int64(1)<<L)
	}
	if err := b.newLayer(t, L, false); err != nil {
		return err
	}
	if err := b.tablePass(t, tab, m, beta, gpow); err != nil {
		return err
	}
	return b.reduce(t, L)
}

// tablePass is buildTable's pass over the multiplicities (its reader closed before the reduction).
func (b *treeBuilder) tablePass(t *fracTree, tab *lookupTable, m field.Source, beta field.Element, gpow []field.Element) error {
	L := tab.logSize
	N := int64(1) << L
	sink := &layerSink{t: t, k: L}
	st, err := openElemReader(m)
	if err != nil {
		return err
	}
	defer st.Close()
	C := b.chunk(N, tableBufBytes)
	release, err := b.reserve(tableBufBytes * C)
	if err != nil {
		return err
	}
	defer release()
	p, q := make([]field.Element, C), make([]field.Element, C)
	for off := int64(0); off < N; off += C {
		if err := st.read(p); err != nil {
			return fmt.Errorf("multiplicities at %d: %w", off, err)
		}
		tab.denoms(q, uint64(off), beta, gpow)
		if err := sink.write(p, q); err != nil {
			return err
		}
	}
	return nil
}

// evalParts returns, for every tensor t and r < parts (2 or 4), the MLE at rho of its
// elements r, r + parts, r + 2·parts, …: out[parts·t + r] = Σ_j eq(ρ, j)·T_t[parts·j + r] — the
// even and odd halves for 2, the quarters for 4 — one pass per tensor (one reader open at a
// time) with an eq table of a chunk's part (the chunk decomposition of field.NewChunkEq).
func (b *treeBuilder) evalParts(srcs []field.Source, rho []field.Element, parts int) ([]field.Element, error) {
	out := make([]field.Element, parts*len(srcs))
	for t, src := range srcs {
		if err := b.evalPass(src, rho, out[parts*t:parts*(t+1)]); err != nil {
			return nil, fmt.Errorf("tensor %d: %w", t, err)
		}
	}
	return out, nil
}

// evalPass is evalParts for one tensor and len(out) parts.
func (b *treeBuilder) evalPass(src field.Source, rho []field.Element, out []field.Element) error {
	parts := len(out)
	lp, _ := field.Log2(int64(parts))
	N := int64(1) << (len(rho) + lp)
	st, err := openElemReader(src)
	if err != nil {
		return err
	}
	defer st.Close()
	C := b.chunk(N, evalBufBytes)
	release, err := b.reserve(evalBufBytes * C)
	if err != nil {
		return err
	}
	defer release()
	c, _ := field.Log2(C)
	ce := field.NewChunkEq(rho, c-lp)
	h := int(C) / parts
	var buf, part []field.Element
	var ib, ip []int64
	if st.is != nil {
		// An integer tensor: its parts are inner products of eq with integers (intDot).
		ib, ip = make([]int64, C), make([]int64, h)
		buf = make([]field.Element, h) // intDot's buckets
	} else {
		buf, part = make([]field.Element, C), make([]field.Element, h)
	}
	vals := make([]field.Element, parts)
	for j := int64(0); j < N/C; j++ {
		if st.is != nil {
			if err := readFull(st.is.Next, ib); err != nil {
				return fmt.Errorf("at %d: %w", j*C, err)
			}
			for r := range vals {
				for i := 0; i < h; i++ {
					ip[i] = ib[parts*i+r]
				}
				vals[r] = intDot(ce.Lo, ip, buf)
			}
		} else {
			if err := st.read(buf); err != nil {
				return fmt.Errorf("at %d: %w", j*C, err)
			}
			for r := range vals {
				for i := 0; i < h; i++ {
					part[i] = buf[parts*i+r]
				}
				vals[r] = field.InnerProduct(part, ce.Lo)
			}
		}
		hi := ce.Hi(j)
		for r := range vals {
			vals[r].Mul(&vals[r], &hi)
			out[r].Add(&out[r], &vals[r])
		}
	}
	return nil
}

// intDot returns Σ_i w[i]·v[i] for integers v, using scratch (len(v) elements) for buckets.
// When the values span at most len(v)/4 integers, the weights are summed per value (one
// addition each) and Σ_k (lo+k)·B_k = lo·Σ_k B_k + Σ_{k≥1} Σ_{k'≥k} B_k' takes additions and one
// multiplication; wider values are converted and multiplied.
func intDot(w []field.Element, v []int64, scratch []field.Element) field.Element {
	if len(v) == 0 {
		return field.Element{}
	}
	lo, hi := v[0], v[0]
	for _, x := range v {
		lo, hi = min(lo, x), max(hi, x)
	}
	if span := uint64(hi - lo); hi-lo >= 0 && span < uint64(len(v)/4) {
		bk := scratch[:span+1]
		clear(bk)
		for i, x := range v {
			bk[x-lo].Add(&bk[x-lo], &w[i])
		}
		var suf, tot field.Element
		for k := len(bk) - 1; k >= 1; k-- {
			suf.Add(&suf, &bk[k])
			tot.Add(&tot, &suf)
		}
		suf.Add(&suf, &bk[0])
		l := field.NewInt(lo)
		l.Mul(&l, &suf)
		tot.Add(&tot, &l)
		return tot
	}
	f := scratch[:len(v)]
	for i, x := range v {
		f[i].SetInt64(x)
	}
	return field.InnerProduct(f, w[:len(v)])
}
