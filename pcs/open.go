package pcs

import (
	"fmt"
	"io"
	"math/bits"

	"github.com/consensys/gnark-crypto/ecc/bn254"

	"github.com/streamprove/streamprove/field"
)

// Transcript labels. The order is written once, in transcribeClaims and transcribeVectors, which
// Open and Verify share.
const (
	labelCount      = "pcs/hyrax/claims"
	labelCommitment = "pcs/hyrax/commitment"
	labelPoint      = "pcs/hyrax/point"
	labelValue      = "pcs/hyrax/value"
	labelZero       = "pcs/hyrax/zero-outside"
	labelTau        = "pcs/hyrax/tau"
	labelU          = "pcs/hyrax/u"
	labelRho        = "pcs/hyrax/rho"
)

// vector is one opening vector of a batch: u = Σ_i w(i)·row_i over the rows of a claim's
// commitment. A point claim has one, with w(i) = eq(r_row, i); a padding claim has one per row
// class that sends a vector, with w(i) = eq(τ_row, i) on the class's rows and 0 elsewhere.
type vector struct {
	claim int
	class int // padding claims: the row class; -1 for a point claim
	row   []field.Element
	pad   *padLayout
}

// weight returns the vector's row weight for row i.
func (v *vector) weight(i uint64) field.Element {
	if v.pad != nil && v.pad.rowClass(i) != v.class {
		return field.Element{}
	}
	return field.EqIndex(v.row, i)
}

// openBatch is a batch opening's claims expanded into vectors: the Fiat–Shamir order of claims, then
// the τ of every padding claim, then the vectors in claim order.
type openBatch struct {
	claims []Claim
	pads   []*padLayout      // per claim; nil for point claims
	taus   [][]field.Element // per claim; nil for point claims
	vecs   []vector
}

// transcribeClaims absorbs the number of claims and, for each claim in order, its commitment's
// digest and its point and value (a padding claim: its shape); then it draws τ for every padding
// claim in order and lays out the openBatch's vectors.
func transcribeClaims(tr *field.Transcript, claims []Claim) (*openBatch, error) {
	bt := &openBatch{claims: claims, pads: make([]*padLayout, len(claims)), taus: make([][]field.Element, len(claims))}
	tr.AppendUint64(labelCount, uint64(len(claims)))
	digests := make(map[*Commitment][32]byte)
	for i := range claims {
		c := claims[i].Commitment
		d, ok := digests[c]
		if !ok {
			d = c.Digest()
			digests[c] = d
		}
		tr.AppendBytes(labelCommitment, d[:])
		if claims[i].ZeroOutside == nil {
			tr.AppendElements(labelPoint, claims[i].Point...)
			tr.AppendElements(labelValue, claims[i].Value)
			continue
		}
		p, err := newPadLayout(claims[i].ZeroOutside, c.NumVars, c.ColumnLog)
		if err != nil {
			return nil, fmt.Errorf("pcs: claim %d: %w", i, err)
		}
		bt.pads[i] = p
		tr.AppendUint64(labelZero, uint64(len(p.shape)))
		for _, d := range p.shape {
			tr.AppendUint64(labelZero, uint64(d))
		}
	}
	for i := range claims {
		if bt.pads[i] != nil {
			bt.taus[i] = tr.Challenges(labelTau, claims[i].Commitment.NumVars)
		}
	}
	for i := range claims {
		b := claims[i].Commitment.ColumnLog
		if p := bt.pads[i]; p != nil {
			for _, c := range p.vecs {
				bt.vecs = append(bt.vecs, vector{claim: i, class: c, row: bt.taus[i][b:], pad: p})
			}
			continue
		}
		bt.vecs = append(bt.vecs, vector{claim: i, class: -1, row: claims[i].Point[b:]})
	}
	return bt, nil
}

// transcribeVectors absorbs every opening vector in order and draws the batching challenge ρ.
func transcribeVectors(tr *field.Transcript, us [][]field.Element) field.Element {
	for _, u := range us {
		tr.AppendElements(labelU, u...)
	}
	return tr.Challenge(labelRho)
}

// check verifies what the vectors say about the claims' values: ũ(r_col) = v for a point claim,
// Σ_c ⟨u_c, R_c⟩ = 0 for a padding claim. It names the first claim that fails.
func (bt *openBatch) check(us [][]field.Element) (int, error) {
	sums := make([]field.Element, len(bt.claims))
	for k, v := range bt.vecs {
		c := &bt.claims[v.claim]
		b := c.Commitment.ColumnLog
		if v.pad == nil {
			e, err := field.EvalSlice(us[k], c.Point[:b], nil)
			if err != nil {
				return v.claim, err
			}
			if !e.Equal(&c.Value) {
				return v.claim, fmt.Errorf("opening vector does not evaluate to the claimed value")
			}
			continue
		}
		s := field.InnerProduct(us[k], v.pad.padCols(v.class, bt.taus[v.claim][:b]))
		sums[v.claim].Add(&sums[v.claim], &s)
	}
	for i := range bt.claims {
		if bt.pads[i] != nil && !sums[i].IsZero() {
			return i, fmt.Errorf("the committed tensor of shape %v is not zero in its padding", bt.claims[i].ZeroOutside)
		}
	}
	return -1, nil
}

// checkClaims validates the shape of every claim (and its source, for the prover).
func checkClaims(claims []Claim, prover bool) error {
	if len(claims) == 0 {
		return fmt.Errorf("pcs: no claims: %w", ErrClaim)
	}
	for i := range claims {
		c := &claims[i]
		if err := c.Commitment.check(); err != nil {
			return fmt.Errorf("pcs: claim %d: %w", i, err)
		}
		if c.ZeroOutside != nil {
			if c.Point != nil || c.U != nil {
				return fmt.Errorf("pcs: claim %d: a padding claim takes no point and no opening vector: %w", i, ErrClaim)
			}
		} else if len(c.Point) != c.Commitment.NumVars {
			return fmt.Errorf("pcs: claim %d: point of %d variables for a %d-variable commitment: %w",
				i, len(c.Point), c.Commitment.NumVars, ErrClaim)
		}
		if prover && c.U != nil {
			if len(c.U) != 1<<c.Commitment.ColumnLog {
				return fmt.Errorf("pcs: claim %d: opening vector of %d elements for 2^%d columns: %w",
					i, len(c.U), c.Commitment.ColumnLog, ErrClaim)
			}
		} else if prover {
			if c.Source == nil || c.Source.Len() != int64(1)<<c.Commitment.NumVars {
				return fmt.Errorf("pcs: claim %d: source does not hold 2^%d elements: %w", i, c.Commitment.NumVars, ErrClaim)
			}
		}
	}
	return nil
}

// groups lists the vectors of each distinct commitment (by pointer), in first-seen order.
func (bt *openBatch) groups() [][]int {
	idx := make(map[*Commitment]int)
	var gs [][]int
	for k, v := range bt.vecs {
		com := bt.claims[v.claim].Commitment
		g, ok := idx[com]
		if !ok {
			g = len(gs)
			idx[com] = g
			gs = append(gs, nil)
		}
		gs[g] = append(gs[g], k)
	}
	return gs
}

// Open proves every claim. Claims on the same *Commitment share one streaming pass over the first
// such claim's Source (so they must name the same data); each distinct commitment is streamed
// once, and not at all if every claim on it supplies U. Open checks each claim against the
// source and fails with ErrClaim on a mismatch (a wrong value, non-zero padding), so a prover bug
// surfaces here and not as a rejected proof. It absorbs the openBatch into tr exactly as Verify does.
func Open(tr *field.Transcript, claims []Claim, opt Options) (*Opening, error) {
	if err := checkClaims(claims, true); err != nil {
		return nil, err
	}
	bt, err := transcribeClaims(tr, claims)
	if err != nil {
		return nil, err
	}
	var need int64
	for _, v := range bt.vecs {
		if claims[v.claim].U == nil {
			need += elemBytes << claims[v.claim].Commitment.ColumnLog
		}
	}
	release, err := reserve(opt.Budget, "pcs opening vectors", need)
	if err != nil {
		return nil, err
	}
	defer release()
	us := make([][]field.Element, len(bt.vecs))
	for k, v := range bt.vecs {
		if claims[v.claim].U != nil {
			us[k] = claims[v.claim].U
		} else {
			us[k] = make([]field.Element, 1<<claims[v.claim].Commitment.ColumnLog)
		}
	}
	for _, g := range bt.groups() {
		var todo []int // the group's vectors not supplied by the caller
		for _, k := range g {
			if claims[bt.vecs[k].claim].U == nil {
				todo = append(todo, k)
			}
		}
		if len(todo) == 0 {
			continue
		}
		if err := bt.openPass(todo, us, opt); err != nil {
			return nil, err
		}
	}
	if i, err := bt.check(us); err != nil && !opt.SkipProverChecks {
		return nil, fmt.Errorf("pcs: claim %d: %v: %w", i, err, ErrClaim)
	}
	transcribeVectors(tr, us)
	return &Opening{U: us}, nil
}

// openPass streams the source of the vectors in g (all on one commitment) once, accumulating
// u_k += w_k(i)·row_i for every vector k. The work is split by columns, so each worker owns a
// slice of every u and the sums come out the same for any worker count.
func (bt *openBatch) openPass(g []int, us [][]field.Element, opt Options) error {
	first := &bt.claims[bt.vecs[g[0]].claim]
	com := first.Commitment
	b, a := com.ColumnLog, com.RowLog()
	m := 1 << b
	if is, ok := first.Source.(field.IntSource); ok && is.Bits() <= 16 && int64(1)<<is.Bits() <= int64(m)/2 {
		return bt.openPassInts(g, us, is, opt)
	}
	workers := workerCount(opt.Workers)
	rpc := rowsPerChunk(b, a, 1)
	need := int64(rpc+1)*int64(m)*elemBytes + int64(rpc*len(g))*elemBytes
	release, err := reserve(opt.Budget, "pcs open", need)
	if err != nil {
		return err
	}
	defer release()
	buf := make([]field.Element, rpc*m)
	scratch := make([]field.Element, m)
	eqs := make([]field.Element, rpc*len(g)) // eqs[r*len(g)+q] = w_q(row r of the chunk)
	err = field.ForEachChunk(first.Source, buf, func(j int64, chunk []field.Element) error {
		r0 := j * int64(rpc)
		nr := len(chunk) / m
		for r := 0; r < nr; r++ {
			for q, k := range g {
				eqs[r*len(g)+q] = bt.vecs[k].weight(uint64(r0 + int64(r)))
			}
		}
		w := workers
		if m < 256 {
			w = 1 // not worth a goroutine
		}
		field.Parallel(m, w, func(start, end int) {
			// field.Vector's ScalarMul uses AVX-512 IFMA where the CPU has it (measured 2–3×
			// faster than element-wise Mul); tmp is this range's own slice of the scratch.
			tmp := field.Vector(scratch[start:end])
			for r := 0; r < nr; r++ {
				row := field.Vector(chunk[r*m+start : r*m+end])
				for q, k := range g {
					if eqs[r*len(g)+q].IsZero() {
						continue // a padding class the row is not in
					}
					tmp.ScalarMul(row, &eqs[r*len(g)+q])
					u := field.Vector(us[k][start:end])
					u.Add(u, tmp)
				}
			}
		})
		return nil
	})
	if err != nil {
		return fmt.Errorf("pcs open: %w", err)
	}
	return nil
}

// openPassInts is openPass for a source of small integers (an int8 weight, or int16 with rows
// of at least 2^17): for each row i and vector k it builds the table T[v] = w_k(i)·v of every
// value the dtype holds (one addition per entry), after which each element costs one addition,
// u_k[j] += T[x_ij], into unreduced sums (field.WideSum) reduced once per column at the end. No
// element is converted to a field element and none is multiplied: the field path pays a
// Montgomery conversion and a multiplication per element. Rows go to the workers a block of
// up to 2^16 integers at a time, each worker owning a range of columns, so the sums come out
// the same for any worker count.
func (bt *openBatch) openPassInts(g []int, us [][]field.Element, src field.IntSource, opt Options) error {
	com := bt.claims[bt.vecs[g[0]].claim].Commitment
	b, a := com.ColumnLog, com.RowLog()
	m := 1 << b
	span := 1 << src.Bits()
	lo := -int64(span / 2)
	block := max(1, min(1<<a, (1<<16)/m)) // whole rows per block
	// An int8 source streams bytes (Int8Source): 8× less to copy, no widening, no range check
	// (every byte indexes the table), and four rows per load and store of a sum.
	s8, int8s := src.(field.Int8Source)
	int8s = int8s && src.Bits() == 8
	intBytes := int64(8)
	if int8s {
		intBytes = 1
	}
	need := int64(block)*int64(m)*intBytes + int64(len(g))*(int64(m)*field.WideSumBytes+int64(block*span)*elemBytes)
	release, err := reserve(opt.Budget, "pcs open", need)
	if err != nil {
		return err
	}
	defer release()
	var st field.IntStream
	var st8 field.Int8Stream
	var buf []int64
	var buf8 []int8
	if int8s {
		st8, err = s8.OpenInt8s()
		buf8 = make([]int8, block*m)
	} else {
		st, err = src.OpenInts()
		buf = make([]int64, block*m)
	}
	if err != nil {
		return fmt.Errorf("pcs open: %w", err)
	}
	defer func() {
		if st8 != nil {
			st8.Close()
		} else {
			st.Close()
		}
	}()
	wides := make([]field.WideSum, len(g))
	for q := range wides {
		wides[q] = field.NewWideSum(m)
	}
	tables := make([]field.Element, len(g)*block*span) // vector q, row r: tables[(q*block+r)*span:]
	used := make([]bool, len(g)*block)                 // whether vector q weighs row r
	workers := workerCount(opt.Workers)
	if m < 256 {
		workers = 1 // not worth a goroutine
	}
	rows := 1 << a
	for r0 := 0; r0 < rows; r0 += block {
		nr := min(block, rows-r0)
		if int8s {
			err = readInt8s(st8, buf8[:nr*m])
		} else {
			err = readInts(st, buf[:nr*m], lo, lo+int64(span))
		}
		if err != nil {
			return fmt.Errorf("pcs open: rows %d..%d of %d: %w", r0, r0+nr, rows, err)
		}
		for q, k := range g {
			for r := 0; r < nr; r++ {
				e := bt.vecs[k].weight(uint64(r0 + r))
				used[q*block+r] = !e.IsZero()
				if e.IsZero() {
					continue // a padding class the row is not in
				}
				t := tables[(q*block+r)*span : (q*block+r+1)*span]
				t[0].SetInt64(lo)
				t[0].Mul(&t[0], &e)
				for v := 1; v < span; v++ {
					t[v].Add(&t[v-1], &e)
				}
			}
		}
		field.Parallel(m, workers, func(start, end int) {
			if int8s {
				vals, ts := make([][]int8, 0, nr), make([]*[256]field.Element, 0, nr)
				for q := range g {
					vals, ts = vals[:0], ts[:0]
					for r := 0; r < nr; r++ {
						if used[q*block+r] {
							vals = append(vals, buf8[r*m+start:r*m+end])
							ts = append(ts, (*[256]field.Element)(tables[(q*block+r)*span:(q*block+r+1)*span]))
						}
					}
					wides[q][start:end].AddLookup8Rows(vals, ts)
				}
				return
			}
			for r := 0; r < nr; r++ {
				row := buf[r*m+start : r*m+end]
				for q := range g {
					if used[q*block+r] {
						wides[q][start:end].AddLookup(row, lo, tables[(q*block+r)*span:(q*block+r+1)*span])
					}
				}
			}
		})
	}
	for q, k := range g {
		wides[q].AddTo(us[k])
	}
	return nil
}

// readInt8s fills buf from st; a stream that ends first is io.ErrUnexpectedEOF.
func readInt8s(st field.Int8Stream, buf []int8) error {
	got := 0
	for got < len(buf) {
		n, err := st.Next(buf[got:])
		got += n
		if err == io.EOF && got < len(buf) {
			return fmt.Errorf("stream ended %d elements early: %w", len(buf)-got, io.ErrUnexpectedEOF)
		}
		if err != nil && err != io.EOF {
			return err
		}
	}
	return nil
}

// readInts fills buf from st and checks every value is in [lo, hi) (the table range; a stream
// that breaks its Bits is an error, not an index panic). A stream that ends first is
// io.ErrUnexpectedEOF.
func readInts(st field.IntStream, buf []int64, lo, hi int64) error {
	got := 0
	for got < len(buf) {
		n, err := st.Next(buf[got:])
		got += n
		if err == io.EOF && got < len(buf) {
			return fmt.Errorf("stream ended %d elements early: %w", len(buf)-got, io.ErrUnexpectedEOF)
		}
		if err != nil && err != io.EOF {
			return err
		}
	}
	for i, v := range buf {
		if v < lo || v >= hi {
			return fmt.Errorf("element %d is %d, outside the source's %d-bit range: %w", i, v, bits.Len64(uint64(hi-lo))-1, ErrClaim)
		}
	}
	return nil
}

// Verify checks a batch opening against its claims, drawing τ and ρ from tr as Open did. With
// w_k,i the row weights of vector k (eq(r_row, i) for a point claim) it checks each point claim's
// ũ_k(r_col) = v_k and each padding claim's Σ_c ⟨u_c, R_c⟩ = 0, then the one MSM
//
//	Σ_k ρ^k (Σ_i w_k,i·C_k,i − Σ_j u_k,j·G_j) = 0,
//
// whose scalars are combined per row of each distinct commitment and per generator, so its size
// is (rows of the distinct commitments) + 2^(max b). Commitments of different b mix freely: a
// 2^b-column commitment uses the first 2^b generators. Any failure wraps ErrBadProof.
func Verify(tr *field.Transcript, claims []Claim, op *Opening) error {
	if err := checkClaims(claims, false); err != nil {
		return fmt.Errorf("%w: %w", ErrBadProof, err)
	}
	bt, err := transcribeClaims(tr, claims)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBadProof, err)
	}
	if op == nil || len(op.U) != len(bt.vecs) {
		return fmt.Errorf("pcs: opening does not have the %d vectors of its claims: %w", len(bt.vecs), ErrBadProof)
	}
	maxB := 0
	for k, v := range bt.vecs {
		b := claims[v.claim].Commitment.ColumnLog
		if len(op.U[k]) != 1<<b {
			return fmt.Errorf("pcs: opening vector %d has %d elements, want %d: %w", k, len(op.U[k]), 1<<b, ErrBadProof)
		}
		maxB = max(maxB, b)
	}
	rho := transcribeVectors(tr, op.U)
	if i, err := bt.check(op.U); err != nil {
		return fmt.Errorf("pcs: claim %d: %w: %w", i, err, ErrBadProof)
	}
	if len(bt.vecs) == 0 {
		return nil // only padding claims on tensors with nothing padded
	}
	gens, err := generators(maxB)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBadProof, err)
	}
	gs := bt.groups()
	coef := make([]field.Element, len(bt.vecs)) // ρ^k
	coef[0].SetOne()
	for k := 1; k < len(coef); k++ {
		coef[k].Mul(&coef[k-1], &rho)
	}
	// The MSM runs in pieces of about verifyMSMPiece points, summed: the commitments' rows are
	// not copied into one slice of every point (at a 7B model's 7 M rows that copy and its
	// scalars were ~0.7 GB of the verifier's heap), and a piece is large enough for the bucket
	// method's per-point cost to stay near the whole MSM's.
	var acc bn254.G1Jac
	m := &msmPieces{acc: &acc}
	// Generator scalars first: −Σ_k ρ^k u_k,j.
	gsc := make([]field.Element, len(gens))
	for k := range op.U {
		for j := range op.U[k] {
			var t field.Element
			t.Mul(&op.U[k][j], &coef[k])
			gsc[j].Sub(&gsc[j], &t)
		}
	}
	m.add(gens, gsc)
	var eq, rows []field.Element
	for _, g := range gs {
		com := claims[bt.vecs[g[0]].claim].Commitment
		n := len(com.Rows)
		eq, rows = growElems(eq, n), growElems(rows, n)
		clear(rows)
		for _, k := range g {
			v := &bt.vecs[k]
			field.EqTable(eq, v.row)
			for i := range rows {
				if v.pad != nil && v.pad.rowClass(uint64(i)) != v.class {
					continue
				}
				var t field.Element
				t.Mul(&eq[i], &coef[k])
				rows[i].Add(&rows[i], &t)
			}
		}
		m.add(com.Rows, rows)
	}
	m.flush()
	if !acc.Z.IsZero() {
		return fmt.Errorf("pcs: row commitments do not match the opening vectors: %w", ErrBadProof)
	}
	return nil
}

// verifyMSMPiece is the number of points the verifier's MSM takes at once (a variable for the
// tests of its piece boundaries).
var verifyMSMPiece = 1 << 18

// msmPieces accumulates Σ scalars·points over pieces of at most verifyMSMPiece points: small
// inputs are copied into a shared piece, one of a piece or more runs on its own slices.
type msmPieces struct {
	acc     *bn254.G1Jac
	points  []bn254.G1Affine
	scalars []field.Element
}

func (m *msmPieces) add(points []bn254.G1Affine, scalars []field.Element) {
	for len(points) > 0 {
		if len(m.points) == 0 && len(points) >= verifyMSMPiece {
			r := msmParallel(points[:verifyMSMPiece], scalars[:verifyMSMPiece])
			m.acc.AddAssign(&r)
			points, scalars = points[verifyMSMPiece:], scalars[verifyMSMPiece:]
			continue
		}
		k := min(len(points), verifyMSMPiece-len(m.points))
		m.points = append(m.points, points[:k]...)
		m.scalars = append(m.scalars, scalars[:k]...)
		points, scalars = points[k:], scalars[k:]
		if len(m.points) == verifyMSMPiece {
			m.flush()
		}
	}
}

func (m *msmPieces) flush() {
	if len(m.points) > 0 {
		r := msmParallel(m.points, m.scalars)
		m.acc.AddAssign(&r)
		m.points, m.scalars = m.points[:0], m.scalars[:0]
	}
}

// growElems returns v resized to n elements, reusing its storage when it is large enough.
func growElems(v []field.Element, n int) []field.Element {
	if cap(v) < n {
		return make([]field.Element, n)
	}
	return v[:n]
}

// msmParallel is the verifier's MSM: msmWide (half of MultiExp's time on random scalars) over
// GOMAXPROCS contiguous ranges of the points, summed in range order.
func msmParallel(points []bn254.G1Affine, scalars []field.Element) bn254.G1Jac {
	workers := workerCount(0)
	per := (len(points) + workers - 1) / workers
	parts := make([]bn254.G1Jac, workers)
	field.Parallel(len(points), workers, func(start, end int) {
		m := end - start
		b := bits.Len(uint(m - 1))
		msmWide(&parts[start/per], points[start:end], scalars[start:end], newMSMScratch(b, maxWindow(b)), maxWindow(b))
	})
	var res bn254.G1Jac
	for i := range parts {
		res.AddAssign(&parts[i])
	}
	return res
}
