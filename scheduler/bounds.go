package scheduler

import (
	"fmt"
	"math/big"

	"github.com/streamprove/streamprove/field"
	"github.com/streamprove/streamprove/kernels"
)

// halfField is (p−1)/2: integers of magnitude up to it have distinct residues mod p, so the
// field represents them faithfully; past it, two integers share a residue and a proof about the
// residue says nothing about the integer.
var halfField = new(big.Int).Rsh(field.Modulus(), 1)

// bounds returns |value| bounds for every tensor, from the declared dtypes and each kernel's
// OutBound, in run order. It refuses a graph in which an integer value can reach p/2 (BN254's
// scalar field has p ≈ 2^254): the forward pass would fall back to field arithmetic and the
// proof would verify the value's residue mod p, not the value. Only a lookup (requant, relu)
// brings a bound back down, so the error points at the node where the bound outgrows the field.
//
// A data-parallel circuit computes in the field by definition (a hash such as mimc wraps on
// purpose); its outputs' bound saturates at (p−1)/2, and what consumes them is field arithmetic
// too, so the check applies to nodes whose inputs are all integers below p/2.
func bounds(m *Model) (map[string]*big.Int, error) {
	bs := map[string]*big.Int{}
	for name, dt := range m.DTypes {
		bs[name] = kernels.BoundForDType(dt)
	}
	for _, k := range m.Kernels {
		in := make([]*big.Int, len(k.Inputs()))
		integer := true
		for i, name := range k.Inputs() {
			in[i] = bs[name]
			if in[i] == nil {
				return nil, fmt.Errorf("%w: node %q: no value bound for input %q", ErrGraph, k.Name(), name)
			}
			integer = integer && in[i].Cmp(halfField) < 0
		}
		b, err := k.OutBound(m.Graph, in)
		if err != nil {
			return nil, err
		}
		if integer && b.Cmp(halfField) > 0 {
			return nil, fmt.Errorf("%w: node %q (op %s): its output %q can reach 2^%d in magnitude, past p/2 ≈ 2^253 "+
				"(BN254 scalar field), where values wrap silently and a proof would hold for the residue, not the value; "+
				"bring the values back into range before it with a requant node",
				ErrGraph, k.Name(), m.nodeOp(k.Name()), k.Outputs()[0], b.BitLen())
		}
		for _, o := range k.Outputs() {
			bs[o] = b
		}
	}
	return bs, nil
}

// nodeOp returns the op of the node named name, as the graph file spells it.
func (m *Model) nodeOp(name string) string {
	if m.File != nil {
		for _, n := range m.File.Nodes {
			if n != nil && n.Name == name {
				return n.Op
			}
		}
	}
	return "?"
}
