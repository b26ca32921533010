package gkr

import (
	"fmt"

	"github.com/streamprove/streamprove/field"
	"github.com/streamprove/streamprove/sumcheck"
)

// Party is one side of a kernel's protocol. A kernel writes its protocol once, as a function of a
// Party, and runs it from Prove (pc.Party()) and from Verify (vc.Party()): the messages, their
// order, their lengths and every challenge are then the same on both sides by construction — a
// transcript mismatch between prover and verifier cannot be written. Work only the prover does
// (streaming a tensor, computing a message) goes in the closures, which the verifier never calls;
// checks only the verifier makes go behind Verifying.
type Party struct {
	pc *ProveCtx
	vc *VerifyCtx
}

// Party returns the prover's side of a protocol.
func (pc *ProveCtx) Party() *Party { return &Party{pc: pc} }

// Party returns the verifier's side of a protocol.
func (vc *VerifyCtx) Party() *Party { return &Party{vc: vc} }

// Verifying reports whether this is the verifier's side.
func (p *Party) Verifying() bool { return p.vc != nil }

// Prover returns the prover's context, for use inside the prover-only closures (nil on the
// verifier's side).
func (p *Party) Prover() *ProveCtx { return p.pc }

// Graph returns the graph being proven.
func (p *Party) Graph() *Graph {
	if p.pc != nil {
		return p.pc.Graph
	}
	return p.vc.Graph
}

// Transcript returns the shared transcript (for challenges).
func (p *Party) Transcript() *field.Transcript {
	if p.pc != nil {
		return p.pc.ch.tr
	}
	return p.vc.ch.tr
}

// Message is a prover message of n elements under label: the prover sends what compute returns
// (which must be n elements), the verifier reads n elements from the proof. Both absorb them.
func (p *Party) Message(label string, n int, compute func() ([]field.Element, error)) ([]field.Element, error) {
	if p.vc != nil {
		return p.vc.Recv(label, n)
	}
	es, err := compute()
	if err != nil {
		return nil, err
	}
	if len(es) != n {
		return nil, fmt.Errorf("gkr: message %s has %d elements, the protocol says %d", label, len(es), n)
	}
	p.pc.Send(label, es...)
	return es, nil
}

// Value is a one-element message under label: the prover sends the MLE of tensor at point (one
// streamed pass over it), the verifier reads it. The caller turns it into a claim on tensor.
func (p *Party) Value(label, tensor string, point []field.Element) (field.Element, error) {
	m, err := p.Message(label, 1, func() ([]field.Element, error) {
		src, err := p.pc.Source(tensor)
		if err != nil {
			return nil, err
		}
		v, err := field.EvalStream(src, point, 14)
		if err != nil {
			return nil, fmt.Errorf("%q: %w", tensor, err)
		}
		return []field.Element{v}, nil
	})
	if err != nil {
		return field.Element{}, err
	}
	return m[0], nil
}

// Sumcheck proves c (the prover takes its sources from sources, called once) or reads and
// verifies its proof, and returns the bound point and the sources' final values (which the
// verifier must still resolve, as claims or by evaluating virtual sources itself).
func (p *Party) Sumcheck(c *sumcheck.Claim, sources func() ([]field.Source, error)) ([]field.Element, []field.Element, error) {
	if p.vc != nil {
		return p.vc.Sumcheck(c)
	}
	srcs, err := sources()
	if err != nil {
		return nil, nil, err
	}
	c.Sources = srcs
	return p.pc.Sumcheck(c)
}
