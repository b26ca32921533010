package gkr

import (
	"fmt"

	"github.com/streamprove/streamprove/field"
	"github.com/streamprove/streamprove/pcs"
)

// Zero padding of committed tensors. Every kernel's identity holds over padded tensors, so a
// commitment says what the model is only if its padded positions are zero (pcs/padding.go):
// otherwise a committer could hide neurons in the padded rows of one weight and the padded
// columns of the next. Who enforces the invariant, per role:
//
//   - weight: `commit` proves the padding of every weight with a batch of pcs padding claims under
//     its own transcript (weightPaddingDomain, then the weights' commitments digest); the opening
//     is stored beside the commitments (Public.WeightPadding) and Verify checks it before
//     anything else. It is proven once per model, not once per proof.
//   - advice and private_input: committed inside each proof, so each proof carries a padding
//     claim for each of them with padding, in the final batch opening (committedClaims).
//   - input and output: public; the verifier lays out their padding itself.
//   - intermediates: never committed; a kernel's output padding is zero whenever its inputs'
//     and committed operands' padding is (kernels/doc.go lists how each keeps it).
const weightPaddingDomain = "streamprove/weight-padding/v1"

// paddingClaims lists one padding claim for each tensor in names whose shape has padding. src
// returns the prover's source of a tensor (nil on the verifier's side).
func paddingClaims(g *Graph, names []string, coms map[string]*pcs.Commitment, src func(string) (field.Source, error)) ([]pcs.Claim, error) {
	var out []pcs.Claim
	for _, name := range names {
		ti := g.Tensors[name]
		if !pcs.HasPadding(ti.Shape) {
			continue
		}
		c := pcs.Claim{Commitment: coms[name], ZeroOutside: ti.Shape}
		if c.Commitment == nil {
			return nil, fmt.Errorf("%w: no commitment for %q", ErrGraph, name)
		}
		if src != nil {
			s, err := src(name)
			if err != nil {
				return nil, fmt.Errorf("tensor %q: %w", name, err)
			}
			c.Source = s
		}
		out = append(out, c)
	}
	return out, nil
}

func weightPaddingTranscript(g *Graph, coms map[string]*pcs.Commitment) (*field.Transcript, error) {
	cd, err := CommitmentsDigest(g, coms)
	if err != nil {
		return nil, err
	}
	tr := field.NewTranscript(weightPaddingDomain)
	tr.AppendBytes("commitments", cd[:])
	return tr, nil
}

// ProveWeightPadding proves that every weight of g is zero in its padding, against the weights'
// commitments; the result goes into Public.WeightPadding (empty when no weight has padding).
// It streams each padded weight once.
func ProveWeightPadding(g *Graph, coms map[string]*pcs.Commitment, w Witness, opt pcs.Options) ([]byte, error) {
	claims, err := paddingClaims(g, g.Names(Weight), coms, w.Source)
	if err != nil || len(claims) == 0 {
		return nil, err
	}
	tr, err := weightPaddingTranscript(g, coms)
	if err != nil {
		return nil, err
	}
	op, err := pcs.Open(tr, claims, opt)
	if err != nil {
		return nil, fmt.Errorf("weight padding: %w", err)
	}
	return op.AppendBinary(nil), nil
}

// verifyWeightPadding checks Public.WeightPadding against the weights' commitments and shapes.
func verifyWeightPadding(g *Graph, pub Public) error {
	claims, err := paddingClaims(g, g.Names(Weight), pub.Commitments, nil)
	if err != nil {
		return err
	}
	if len(claims) == 0 {
		if len(pub.WeightPadding) != 0 {
			return fmt.Errorf("%w: weight commitments: a weight padding proof for weights that have no padding", ErrBadProof)
		}
		return nil
	}
	if len(pub.WeightPadding) == 0 {
		return fmt.Errorf("%w: weight commitments: no proof that the weights' padding is zero (commit again with this version)", ErrBadProof)
	}
	tr, err := weightPaddingTranscript(g, pub.Commitments)
	if err != nil {
		return err
	}
	op, rest, err := pcs.DecodeOpening(pub.WeightPadding, claims)
	if err != nil {
		return fmt.Errorf("%w: weight commitments: weight padding proof: %w", ErrBadProof, err)
	}
	if len(rest) != 0 {
		return fmt.Errorf("%w: weight commitments: weight padding proof has %d trailing bytes", ErrBadProof, len(rest))
	}
	if err := pcs.Verify(tr, claims, op); err != nil {
		return fmt.Errorf("%w: weight commitments: the weights are not zero in their padding: %w", ErrBadProof, err)
	}
	return nil
}
