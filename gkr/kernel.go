package gkr

import (
	"fmt"

	"github.com/streamprove/streamprove/field"
	"github.com/streamprove/streamprove/spill"
	"github.com/streamprove/streamprove/sumcheck"
)

// Witness gives the prover its tensors as sources in padded MLE order (zeros in the padding).
type Witness interface {
	Source(name string) (field.Source, error)
}

// Kernel is one node of a graph as the proof sees it. Forward (witness generation) lives with
// the layer kinds in package kernels, which know the store.
//
// Prove and Verify must exchange the same messages in the same order: every message goes
// through the context's channel, which writes it to the proof (or reads it from the proof) and
// absorbs it into the transcript in one step, so the transcript order is written once — by the
// sequence of Send/Recv calls, which a kernel keeps symmetric.
type Kernel interface {
	// Name is the node's name (unique in the graph), used in errors and progress.
	Name() string
	// Inputs and Outputs name the tensors the kernel reads and writes.
	Inputs() []string
	Outputs() []string
	// Describe returns a canonical encoding of the op and its attributes (for the graph digest).
	Describe() []byte
	// Prove reduces one claim per output (in Outputs order) to claims on inputs.
	Prove(pc *ProveCtx, out []Claim) ([]Claim, error)
	// Verify checks the kernel's messages for the claims on its outputs and returns the claims
	// on its inputs, which the engine resolves further.
	Verify(vc *VerifyCtx, out []Claim) ([]Claim, error)
	// Estimate says how much RAM the prove step needs at least and how many bytes it streams.
	Estimate(g *Graph) Estimate
}

// Estimate is a kernel's resource forecast for the scheduler.
type Estimate struct {
	MinBytes    int64 // smallest RAM the step can run in (besides chunk buffers)
	TableBytes  int64 // RAM its tables take when nothing spills (0: none beyond MinBytes)
	StreamBytes int64 // bytes of tensors the step reads (as field elements)
}

// ProveCtx is what a kernel's Prove works with.
type ProveCtx struct {
	Graph   *Graph
	Witness Witness
	Opt     sumcheck.Options
	ch      *Channel
	// hintBytes is what the claims' Hints hold, reserved from the budget until the end.
	hintBytes int64
}

// KeepHint returns a copy of v to attach to a claim as its opening hint, if its bytes can be
// reserved from the budget until the proof ends; otherwise nil (the opening makes its own pass).
func (pc *ProveCtx) KeepHint(v []field.Element) []field.Element {
	n := int64(len(v)) * field.Bytes
	if b := pc.Budget(); b != nil && !b.TryReserve(n) {
		return nil
	}
	pc.hintBytes += n
	return append([]field.Element(nil), v...)
}

// Budget returns the run's memory ledger (nil: unlimited).
func (pc *ProveCtx) Budget() *spill.Budget { return pc.Opt.Budget }

// Transcript returns the shared transcript (for challenges).
func (pc *ProveCtx) Transcript() *field.Transcript { return pc.ch.tr }

// Send writes elements to the proof and absorbs them under label.
func (pc *ProveCtx) Send(label string, es ...field.Element) { pc.ch.Send(label, es...) }

// Sumcheck proves c, writes its proof and returns the point and the final source values.
func (pc *ProveCtx) Sumcheck(c *sumcheck.Claim) ([]field.Element, []field.Element, error) {
	p, point, err := sumcheck.Prove(pc.ch.tr, c, pc.Opt)
	if err != nil {
		return nil, nil, err
	}
	pc.ch.put(p.AppendBinary(nil))
	return point, p.Finals, nil
}

// Source returns the witness source of a tensor.
func (pc *ProveCtx) Source(name string) (field.Source, error) { return pc.Witness.Source(name) }

// VerifyCtx is what a kernel's Verify works with.
type VerifyCtx struct {
	Graph  *Graph
	ch     *Channel
	public Witness
}

// PublicInput returns the verifier's own source of a public input tensor, for a kernel whose
// relation depends on public data itself (a gather's token ids), not only on claims.
func (vc *VerifyCtx) PublicInput(name string) (field.Source, error) {
	if ti, ok := vc.Graph.Tensors[name]; !ok || ti.Role != Input {
		return nil, fmt.Errorf("%w: tensor %q is not a public input", ErrGraph, name)
	}
	if vc.public == nil {
		return nil, fmt.Errorf("tensor %q: no public inputs", name)
	}
	return vc.public.Source(name)
}

// Transcript returns the shared transcript.
func (vc *VerifyCtx) Transcript() *field.Transcript { return vc.ch.tr }

// Recv reads n elements from the proof and absorbs them under label.
func (vc *VerifyCtx) Recv(label string, n int) ([]field.Element, error) { return vc.ch.Recv(label, n) }

// Sumcheck reads and verifies a sumcheck proof for c; it returns the point and the final values
// the prover claims for c's sources, which the caller must resolve.
func (vc *VerifyCtx) Sumcheck(c *sumcheck.Claim) ([]field.Element, []field.Element, error) {
	p, rest, err := sumcheck.DecodeProof(vc.ch.buf[vc.ch.off:], c.NumVars, sumcheck.RoundDegree(c), c.Gate.Arity())
	if err != nil {
		return nil, nil, wrapBad(err)
	}
	vc.ch.off = len(vc.ch.buf) - len(rest)
	point, err := sumcheck.Verify(vc.ch.tr, c, p)
	if err != nil {
		return nil, nil, wrapBad(err)
	}
	return point, p.Finals, nil
}
