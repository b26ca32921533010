package gkr

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/pprof"

	"github.com/streamprove/streamprove/field"
	"github.com/streamprove/streamprove/pcs"
	"github.com/streamprove/streamprove/sumcheck"
)

// ProofBufferBytes bounds what a prover writing to Options.ProofFile holds of the proof in RAM
// (its channel's pending buffer), besides the transient encoding of one message or opening.
const ProofBufferBytes = 2 * flushAt

// Proof format constants. A proof is: magic, version, graph digest, weight-commitments digest,
// the commitments made inside the proof (advice, then private inputs, each by name), then the
// channel (the public outputs in chunks of outputChunk; every kernel's messages in reverse
// topological order, each preceded by the merges of claims on its outputs; the merges of claims
// on public inputs), then the batched pcs opening of every claim on weights, advice and private
// inputs. Every length in it is implied by the graph and the commitments; nothing in it is
// trusted before it is checked.
const (
	proofMagic = "SPRF"
	// ProofVersion 2: advice and private inputs prove their padding zero in the final opening.
	// ProofVersion 3: lookups into one table within a kernel share one table tree and one
	// multiplicity tensor (norm and softmax range checks, requant_fixed limbs, maxpool taps).
	// ProofVersion 4: requant commits its remainder and quotient parity as one tensor
	// z = 2·rem + parity (two lookups over (2x − z, y) and z instead of three columns and two).
	ProofVersion = 4
	headerLen    = 4 + 2 + 32 + 32
	domain       = "streamprove/proof/v2"
	// inputChunk is the chunk length with which public inputs are absorbed (both sides).
	inputChunk = 1 << 12
)

// Public is what prover and verifier share: the public input tensors and the weight
// commitments, by tensor name.
type Public struct {
	Inputs      Witness
	Commitments map[string]*pcs.Commitment
	// WeightPadding is the proof, made once at commit time by ProveWeightPadding, that every
	// weight is zero in its padding (padding.go). Verify checks it; Prove does not read it.
	WeightPadding []byte
}

// Options tune the prover.
type Options struct {
	Sumcheck sumcheck.Options
	PCS      pcs.Options
	// Progress, if set, is called before each step (kernel or final opening).
	Progress func(step string, done, total int)
	// Checkpoint, if set, receives the prover's state after each kernel; an error stops the proof.
	Checkpoint func(*Checkpoint) error
	// Resume, if set, continues the proof from a checkpoint of the same graph, commitments and
	// witness instead of starting over.
	Resume *Checkpoint
	// ProofFile, if set, receives the proof as it is made (from offset 0; Prove then returns
	// nil bytes): only a small buffer of it is held in RAM, whatever the size of the public
	// outputs it carries, and checkpoints record its length instead of copying it. To resume,
	// pass the same file: it is cut back to the checkpoint's length.
	ProofFile *os.File
}

// CommitmentsDigest hashes the weights' commitments in name order.
func CommitmentsDigest(g *Graph, cm map[string]*pcs.Commitment) ([32]byte, error) {
	tr := field.NewTranscript("streamprove/commitments/v1")
	for _, w := range g.Names(Weight) {
		c, ok := cm[w]
		if !ok || c == nil {
			return [32]byte{}, fmt.Errorf("%w: no commitment for weight %q", ErrGraph, w)
		}
		d := c.Digest()
		tr.AppendBytes(w, d[:])
	}
	return tr.State(), nil
}

// start absorbs everything public, in the one order both sides use.
func start(g *Graph, pub Public) (*field.Transcript, [32]byte, [32]byte, error) {
	gd := g.Digest()
	cd, err := CommitmentsDigest(g, pub.Commitments)
	if err != nil {
		return nil, gd, cd, err
	}
	tr := field.NewTranscript(domain)
	tr.AppendBytes("graph", gd[:])
	tr.AppendBytes("commitments", cd[:])
	buf := make([]field.Element, inputChunk)
	for _, name := range g.Names(Input) {
		src, err := pub.Inputs.Source(name)
		if err != nil {
			return nil, gd, cd, fmt.Errorf("public input %q: %w", name, err)
		}
		if err := checkLen(g.Tensors[name], src); err != nil {
			return nil, gd, cd, err
		}
		err = field.ForEachChunk(src, buf, func(_ int64, c []field.Element) error {
			tr.AppendElements("input/"+name, c...)
			return nil
		})
		if err != nil {
			return nil, gd, cd, fmt.Errorf("public input %q: %w", name, err)
		}
	}
	return tr, gd, cd, nil
}

func checkLen(ti *TensorInfo, src field.Source) error {
	if want := int64(1) << ti.NumVars(); src.Len() != want {
		return fmt.Errorf("tensor %q: source has %d elements, padded shape %v needs %d", ti.Name, src.Len(), ti.PaddedShape(), want)
	}
	return nil
}

// Prove runs the kernel-level proof of g over the witness w and returns the proof bytes.
func Prove(g *Graph, w Witness, pub Public, opt Options) ([]byte, error) {
	if err := g.Validate(); err != nil {
		return nil, err
	}
	var (
		ch     *Channel
		tr     *field.Transcript
		ledger map[string][]Claim
		advice map[string]*pcs.Commitment
		first  = len(g.Kernels) - 1
		err    error
	)
	pc := &ProveCtx{Graph: g, Witness: w, Opt: opt.Sumcheck}
	if opt.Resume != nil {
		ch, ledger, advice, err = resume(g, pub, opt.Resume, opt.ProofFile)
		if ch != nil {
			ch.budget = pc.Budget()
			ch.charge()
		}
		first = opt.Resume.Next
	} else {
		ch, ledger, advice, err = begin(g, w, pub, opt, pc)
	}
	if ch != nil {
		defer ch.release()
	}
	if err != nil {
		return nil, err
	}
	tr = ch.tr
	pc.ch = ch
	total := len(g.Kernels) + 1
	before := func(k int) error {
		if ch.err != nil {
			return ch.err
		}
		if opt.Progress != nil {
			opt.Progress(g.Kernels[k].Name(), len(g.Kernels)-1-k, total)
		}
		return nil
	}
	var after func(k int) error
	if opt.Checkpoint != nil {
		after = func(k int) error {
			cp := &Checkpoint{Next: k - 1, State: tr.State(), Claims: ledger}
			if ch.file != nil {
				ch.flush()
				if ch.err != nil {
					return ch.err
				}
				cp.ProofLen = ch.flushed
			} else {
				cp.Proof, cp.ProofLen = ch.buf, int64(len(ch.buf))
			}
			if err := opt.Checkpoint(cp); err != nil {
				return fmt.Errorf("checkpoint after kernel %s: %w", g.Kernels[k].Name(), err)
			}
			return nil
		}
	}
	if err := walk(pc.Party(), ledger, first, before, after); err != nil {
		return nil, err
	}
	if opt.Progress != nil {
		opt.Progress("opening", total-1, total)
	}
	claims, err := committedClaims(g, ledger, pub.Commitments, advice, w)
	if err != nil {
		return nil, err
	}
	if len(claims) > 0 {
		op, err := pcs.Open(tr, claims, opt.PCS)
		if err != nil {
			return nil, fmt.Errorf("opening weights: %w", err)
		}
		ch.put(op.AppendBinary(nil))
	}
	ch.flush()
	if b := pc.Budget(); b != nil {
		b.Release(pc.hintBytes)
	}
	if ch.err != nil {
		return nil, ch.err
	}
	if opt.Progress != nil {
		opt.Progress("done", total, total)
	}
	if ch.file != nil {
		return nil, nil
	}
	return ch.buf, nil
}

// begin absorbs the public statement, commits the advice tensors and sends the public outputs:
// everything before the first kernel.
func begin(g *Graph, w Witness, pub Public, opt Options, pc *ProveCtx) (_ *Channel, _ map[string][]Claim, _ map[string]*pcs.Commitment, err error) {
	tr, gd, cd, err := start(g, pub)
	if err != nil {
		return nil, nil, nil, err
	}
	ch := &Channel{tr: tr, budget: pc.Budget(), file: opt.ProofFile}
	defer func() {
		if err != nil {
			ch.release()
		}
	}()
	if ch.file != nil {
		if err := ch.file.Truncate(0); err != nil {
			return nil, nil, nil, fmt.Errorf("proof file: %w", err)
		}
	}
	ch.put(appendHeader(nil, gd, cd))
	pc.ch = ch
	ledger := map[string][]Claim{}

	// Advice tensors are committed before any challenge is drawn, so no challenge can depend on
	// a value the prover chooses afterwards.
	advice := map[string]*pcs.Commitment{}
	for _, name := range g.InProofCommitted() {
		if opt.Progress != nil {
			opt.Progress("commit "+name, 0, len(g.Kernels)+1)
		}
		src, err := w.Source(name)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("advice %q: %w", name, err)
		}
		if err := checkLen(g.Tensors[name], src); err != nil {
			return nil, nil, nil, err
		}
		c, err := pcs.Commit(src, opt.PCS)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("commit advice %q: %w", name, err)
		}
		advice[name] = c
		ch.put(c.AppendBinary(nil))
		d := c.Digest()
		tr.AppendBytes(g.Tensors[name].Role.String()+"/"+name, d[:])
	}

	for _, name := range g.Names(Output) {
		ti := g.Tensors[name]
		src, err := w.Source(name)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("output %q: %w", name, err)
		}
		if err := checkLen(ti, src); err != nil {
			return nil, nil, nil, err
		}
		// The output streams twice from the witness: once into the proof (real elements, in
		// chunks of outputChunk, each absorbed as it is sent), once to evaluate its MLE at the
		// point drawn after it. It is never held whole in RAM besides the proof itself.
		if err := sendOutput(ch, ti, src); err != nil {
			return nil, nil, nil, err
		}
		r := tr.Challenges("output-point/"+name, ti.NumVars())
		v, err := field.EvalStream(src, r, 14)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("output %q: %w", name, err)
		}
		ledger[name] = append(ledger[name], Claim{Tensor: name, Point: r, Value: v})
	}
	return ch, ledger, advice, nil
}

// resume rebuilds the prover's state from a checkpoint, after checking that it belongs to this
// graph and these commitments. A checkpoint of a proof kept in a file takes the proof's head
// (header and in-proof commitments) from that file and cuts it back to the checkpoint.
func resume(g *Graph, pub Public, cp *Checkpoint, file *os.File) (*Channel, map[string][]Claim, map[string]*pcs.Commitment, error) {
	gd := g.Digest()
	cd, err := CommitmentsDigest(g, pub.Commitments)
	if err != nil {
		return nil, nil, nil, err
	}
	var head io.Reader
	ch := &Channel{tr: field.RestoreTranscript(cp.State)}
	switch {
	case cp.Proof != nil:
		head = bytesReader(cp.Proof)
		ch.buf = append([]byte(nil), cp.Proof...)
	case file != nil:
		if st, err := file.Stat(); err != nil || st.Size() < cp.ProofLen {
			return nil, nil, nil, fmt.Errorf("checkpoint: the proof file holds less than the %d bytes proven so far", cp.ProofLen)
		}
		if err := file.Truncate(cp.ProofLen); err != nil {
			return nil, nil, nil, fmt.Errorf("checkpoint: proof file: %w", err)
		}
		head = io.NewSectionReader(file, 0, cp.ProofLen)
		ch.file, ch.flushed = file, cp.ProofLen
	default:
		return nil, nil, nil, fmt.Errorf("checkpoint: the proof so far is in a file and none was given")
	}
	hdr := make([]byte, headerLen)
	if _, err := io.ReadFull(head, hdr); err != nil {
		return nil, nil, nil, fmt.Errorf("checkpoint is for another proof: %w: %w", errHeader, err)
	}
	if err := checkHeader(hdr, gd, cd); err != nil {
		return nil, nil, nil, fmt.Errorf("checkpoint is for another proof: %w", err)
	}
	if cp.Next < -1 || cp.Next >= len(g.Kernels) {
		return nil, nil, nil, fmt.Errorf("checkpoint: next kernel %d of %d", cp.Next, len(g.Kernels))
	}
	advice := map[string]*pcs.Commitment{}
	for _, name := range g.InProofCommitted() {
		c, err := pcs.ReadCommitment(head)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("checkpoint: advice commitment %q: %w", name, err)
		}
		advice[name] = c
	}
	ledger := map[string][]Claim{}
	for name, cs := range cp.Claims {
		for _, c := range cs {
			if err := checkClaimShape(g, c); err != nil {
				return nil, nil, nil, fmt.Errorf("checkpoint: %w", err)
			}
		}
		ledger[name] = append([]Claim(nil), cs...)
	}
	return ch, ledger, advice, nil
}

// Verify checks a proof of g against the public inputs and commitments. On success it returns
// the public outputs (real elements, row-major) by tensor name.
func Verify(g *Graph, pub Public, proof []byte) (map[string][]field.Element, error) {
	if err := g.Validate(); err != nil {
		return nil, err
	}
	tr, gd, cd, err := start(g, pub)
	if err != nil {
		return nil, err
	}
	if err := verifyWeightPadding(g, pub); err != nil {
		return nil, err
	}
	if err := checkHeader(proof, gd, cd); err != nil {
		return nil, err
	}
	ch := &Channel{tr: tr, buf: proof, off: headerLen}
	vc := &VerifyCtx{Graph: g, ch: ch, public: pub.Inputs}
	ledger := map[string][]Claim{}
	advice := map[string]*pcs.Commitment{}
	for _, name := range g.InProofCommitted() {
		c, rest, err := pcs.DecodeCommitment(proof[ch.off:])
		if err != nil {
			return nil, fmt.Errorf("%w: advice commitment %q: %w", ErrBadProof, name, err)
		}
		if c.NumVars != g.Tensors[name].NumVars() {
			return nil, fmt.Errorf("%w: advice commitment %q has %d variables, want %d", ErrBadProof, name, c.NumVars, g.Tensors[name].NumVars())
		}
		ch.off = len(proof) - len(rest)
		advice[name] = c
		d := c.Digest()
		tr.AppendBytes(g.Tensors[name].Role.String()+"/"+name, d[:])
	}
	outputs := map[string][]field.Element{}
	for _, name := range g.Names(Output) {
		ti := g.Tensors[name]
		vals := make([]field.Element, 0, min(ti.Len(), int64(len(proof)/field.Bytes)))
		for n := ti.Len(); n > 0; {
			c, err := ch.Recv("output/"+name, int(min(n, outputChunk)))
			if err != nil {
				return nil, err
			}
			vals = append(vals, c...)
			n -= int64(len(c))
		}
		outputs[name] = vals
		r := tr.Challenges("output-point/"+name, ti.NumVars())
		ledger[name] = append(ledger[name], Claim{Tensor: name, Point: r, Value: evalReal(vals, ti.Shape, r)})
	}
	if err := walk(vc.Party(), ledger, len(g.Kernels)-1, nil, nil); err != nil {
		return nil, err
	}
	// Claims on public inputs (merged into one per input by walk) are evaluated by the verifier
	// itself, one pass per input.
	for _, name := range g.Names(Input) {
		cs := ledger[name]
		src, err := pub.Inputs.Source(name)
		if err != nil {
			return nil, err
		}
		for _, c := range cs {
			v, err := field.EvalStream(src, c.Point, 14)
			if err != nil {
				return nil, fmt.Errorf("public input %q: %w", name, err)
			}
			if !v.Equal(&c.Value) {
				return nil, fmt.Errorf("%w: claim on public input %q does not hold", ErrBadProof, name)
			}
		}
	}
	claims, err := committedClaims(g, ledger, pub.Commitments, advice, nil)
	if err != nil {
		return nil, err
	}
	rest := proof[ch.off:]
	if len(claims) > 0 {
		op, r, err := pcs.DecodeOpening(rest, claims)
		if err != nil {
			return nil, wrapBad(err)
		}
		rest = r
		if err := pcs.Verify(tr, claims, op); err != nil {
			return nil, wrapBad(err)
		}
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", ErrBadProof, len(rest))
	}
	return outputs, nil
}

// walk is the part of the proof both sides run alike, from the claims on the outputs: every live
// kernel from first down to 0 (reverse topological order), each after the merge of the claims on
// each of its outputs; then the merge of several claims on one public input, so the verifier reads
// each input once. The prover's before (stop on a failed send, report progress) and after
// (checkpoint) hooks run around each kernel; either may be nil. The verifier checks the shape of
// every claim a kernel returns.
func walk(p *Party, ledger map[string][]Claim, first int, before, after func(k int) error) error {
	g := p.Graph()
	for k := first; k >= 0; k-- {
		kn := g.Kernels[k]
		if before != nil {
			if err := before(k); err != nil {
				return err
			}
		}
		outs, live, err := outputClaims(g, kn, ledger, func(cs []Claim) (Claim, error) { return merge(p, cs) })
		if err != nil {
			return err
		}
		if !live {
			continue
		}
		var ins []Claim
		if p.Verifying() {
			ins, err = kn.Verify(p.vc, outs)
		} else {
			// the kernel's type labels its CPU samples (and its goroutines'): --cpuprofile
			// profiles split by kernel with `go tool pprof -tags`
			pprof.Do(context.Background(), pprof.Labels("kernel", fmt.Sprintf("%T", kn)), func(context.Context) {
				ins, err = kn.Prove(p.pc, outs)
			})
		}
		if err != nil {
			return fmt.Errorf("kernel %s: %w", kn.Name(), err)
		}
		for _, c := range ins {
			if p.Verifying() {
				if err := checkClaimShape(g, c); err != nil {
					return fmt.Errorf("kernel %s: %w", kn.Name(), err)
				}
			}
			ledger[c.Tensor] = append(ledger[c.Tensor], c)
		}
		if after != nil {
			if err := after(k); err != nil {
				return err
			}
		}
	}
	for _, name := range g.Names(Input) {
		if len(ledger[name]) > 1 {
			c, err := merge(p, ledger[name])
			if err != nil {
				return fmt.Errorf("public input %q: %w", name, err)
			}
			ledger[name] = []Claim{c}
		}
	}
	return nil
}

// outputClaims returns the one claim per output a kernel starts from (claims on an output merged
// by merge, which both sides run alike) and whether the
// kernel must run. Advice outputs need no claims (their claims end in the opening; the slot
// stays empty) and make the kernel run: its relation must be proven whatever consumes them. A
// kernel whose outputs nobody claims is dead code for the proof and is skipped by both sides.
func outputClaims(g *Graph, kn Kernel, ledger map[string][]Claim, merge func([]Claim) (Claim, error)) ([]Claim, bool, error) {
	outs := make([]Claim, len(kn.Outputs()))
	claimed, plain, advice := 0, 0, 0
	for _, o := range kn.Outputs() {
		if g.Tensors[o].Role == Advice {
			advice++
			continue
		}
		plain++
		if len(ledger[o]) > 0 {
			claimed++
		}
	}
	if claimed != 0 && claimed != plain || advice > 0 && claimed != plain {
		return nil, false, fmt.Errorf("%w: kernel %s: some outputs are never used", ErrGraph, kn.Name())
	}
	if advice == 0 && claimed == 0 {
		return nil, false, nil
	}
	for i, o := range kn.Outputs() {
		if g.Tensors[o].Role == Advice {
			continue
		}
		c, err := merge(ledger[o])
		if err != nil {
			return nil, false, fmt.Errorf("kernel %s: %w", kn.Name(), err)
		}
		outs[i] = c
	}
	return outs, true, nil
}

func checkClaimShape(g *Graph, c Claim) error {
	ti, ok := g.Tensors[c.Tensor]
	if !ok {
		return fmt.Errorf("%w: claim on unknown tensor %q", ErrGraph, c.Tensor)
	}
	if len(c.Point) != ti.NumVars() {
		return fmt.Errorf("%w: claim on %q has %d variables, want %d", ErrGraph, c.Tensor, len(c.Point), ti.NumVars())
	}
	return nil
}

// committedClaims collects the claims that end on committed tensors — weights, then advice, each
// in name order. w is the prover's witness (nil on the verifier's side).
func committedClaims(g *Graph, ledger map[string][]Claim, weights, advice map[string]*pcs.Commitment, w Witness) ([]pcs.Claim, error) {
	var out []pcs.Claim
	names := append(g.Names(Weight), g.InProofCommitted()...)
	for _, name := range names {
		cs, err := dedupe(ledger[name])
		if err != nil {
			return nil, err
		}
		com := weights[name]
		if r := g.Tensors[name].Role; r == Advice || r == PrivateInput {
			com = advice[name]
		}
		var src field.Source
		if w != nil && len(cs) > 0 {
			if src, err = w.Source(name); err != nil {
				return nil, fmt.Errorf("weight %q: %w", name, err)
			}
		}
		for _, c := range cs {
			pc := pcs.Claim{Commitment: com, Source: src, Point: c.Point, Value: c.Value}
			if com != nil && len(c.Hint) == com.Columns() {
				pc.U = c.Hint
			}
			out = append(out, pc)
		}
	}
	// Tensors committed inside the proof also prove their padding zero, in the same batch (and
	// the same pass over each tensor) as their claims.
	var src func(string) (field.Source, error)
	if w != nil {
		src = w.Source
	}
	pads, err := paddingClaims(g, g.InProofCommitted(), advice, src)
	if err != nil {
		return nil, err
	}
	return append(out, pads...), nil
}

// outputChunk is how many real output elements are sent and absorbed at a time (both sides).
const outputChunk = 1 << 12

// sendOutput streams an output's padded source and sends its real elements, row-major.
func sendOutput(ch *Channel, ti *TensorInfo, src field.Source) error {
	it := newRealIndex(ti.Shape)
	out := make([]field.Element, 0, outputChunk)
	buf := make([]field.Element, 1<<12)
	next := it.next()
	err := field.ForEachChunk(src, buf, func(j int64, c []field.Element) error {
		base := j * int64(len(buf))
		for next >= 0 && next < base+int64(len(c)) {
			out = append(out, c[next-base])
			if len(out) == outputChunk {
				ch.Send("output/"+ti.Name, out...)
				out = out[:0]
			}
			next = it.next()
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("output %q: %w", ti.Name, err)
	}
	if len(out) > 0 {
		ch.Send("output/"+ti.Name, out...)
	}
	return nil
}

// evalReal evaluates the MLE of a padded tensor given by its real elements (row-major) at r,
// without building the padded vector: eq(r, p) = Hi(p>>c)·Lo[p mod 2^c] with one table of 2^c.
func evalReal(vals []field.Element, shape []int, r []field.Element) field.Element {
	ce := field.NewChunkEq(r, min(len(r), 12))
	c := int64(ce.ChunkLen())
	it := newRealIndex(shape)
	var acc, hi field.Element
	block := int64(-1)
	for i := range vals {
		p := it.next()
		if p/c != block {
			block = p / c
			hi = ce.Hi(block)
		}
		var t field.Element
		t.Mul(&vals[i], &ce.Lo[p%c])
		t.Mul(&t, &hi)
		acc.Add(&acc, &t)
	}
	return acc
}

// realIndex yields the padded flat index of every real element of a shape, in row-major order,
// then −1.
type realIndex struct {
	shape, padded, idx []int
	done               bool
}

func newRealIndex(shape []int) *realIndex {
	return &realIndex{shape: shape, padded: PaddedShape(shape), idx: make([]int, len(shape))}
}

func (it *realIndex) next() int64 {
	if it.done {
		return -1
	}
	var p int64
	for d := range it.shape {
		p = p*int64(it.padded[d]) + int64(it.idx[d])
	}
	d := len(it.shape) - 1
	for ; d >= 0; d-- {
		it.idx[d]++
		if it.idx[d] < it.shape[d] {
			break
		}
		it.idx[d] = 0
	}
	it.done = d < 0
	return p
}

// bytesReader reads a byte slice.
func bytesReader(b []byte) io.Reader { return &sliceReader{b} }

type sliceReader struct{ b []byte }

func (r *sliceReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.b)
	r.b = r.b[n:]
	return n, nil
}

func appendHeader(dst []byte, gd, cd [32]byte) []byte {
	dst = append(dst, proofMagic...)
	dst = binary.BigEndian.AppendUint16(dst, ProofVersion)
	dst = append(dst, gd[:]...)
	return append(dst, cd[:]...)
}

var errHeader = errors.New("bad proof header")

func checkHeader(p []byte, gd, cd [32]byte) error {
	if len(p) < headerLen || string(p[:4]) != proofMagic {
		return fmt.Errorf("%w: %w: not a streamprove proof", ErrBadProof, errHeader)
	}
	if v := binary.BigEndian.Uint16(p[4:]); v != ProofVersion {
		return fmt.Errorf("%w: %w: format version %d, this build reads %d", ErrBadProof, errHeader, v, ProofVersion)
	}
	if string(p[6:38]) != string(gd[:]) {
		return fmt.Errorf("%w: the proof is for another graph", ErrBadProof)
	}
	if string(p[38:70]) != string(cd[:]) {
		return fmt.Errorf("%w: the proof is for other weight commitments", ErrBadProof)
	}
	return nil
}
