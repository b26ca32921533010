package gkr

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"sort"

	"github.com/streamprove/streamprove/field"
)

// Role says where a tensor's claims end.
type Role uint8

const (
	// Intermediate tensors are produced by a kernel; their claims go to their producer.
	Intermediate Role = iota
	// Input tensors are public: the verifier evaluates claims on them itself.
	Input
	// Weight tensors are committed once per model; claims on them end in the pcs opening.
	Weight
	// Output tensors are public and carried in the proof; they are also produced by a kernel.
	Output
	// Advice tensors are produced by a kernel whose relation is not a claim reduction (lookups):
	// the prover commits them at the start of the proof, and claims on them end in the final
	// batched opening, like weights.
	Advice
	// PrivateInput tensors are inputs the verifier does not see: committed at the start of each
	// proof (like advice, but produced by nobody), their claims opened at the end.
	PrivateInput
)

// InProofCommitted returns the tensors the prover commits at the start of a proof, in the order
// their commitments appear in it: advice, then private inputs, each by name.
func (g *Graph) InProofCommitted() []string {
	return append(g.Names(Advice), g.Names(PrivateInput)...)
}

func (r Role) String() string {
	switch r {
	case Input:
		return "input"
	case Weight:
		return "weight"
	case Output:
		return "output"
	case Advice:
		return "advice"
	case PrivateInput:
		return "private_input"
	}
	return "intermediate"
}

// ParseRole returns the role String names ("input", "weight", "output", "advice",
// "private_input", "intermediate").
func ParseRole(s string) (Role, error) {
	for r := Intermediate; r <= PrivateInput; r++ {
		if r.String() == s {
			return r, nil
		}
	}
	return 0, fmt.Errorf("unknown tensor role %q", s)
}

// TensorInfo is what the engine knows of a tensor: its name, real shape and role.
type TensorInfo struct {
	Name  string
	Shape []int
	Role  Role
}

// PaddedShape returns the shape with every dimension rounded up to a power of two.
func (t *TensorInfo) PaddedShape() []int { return PaddedShape(t.Shape) }

// NumVars returns the number of MLE variables of the padded tensor.
func (t *TensorInfo) NumVars() int {
	n := 0
	for _, d := range t.PaddedShape() {
		k, _ := field.Log2(int64(d))
		n += k
	}
	return n
}

// Len returns the number of real elements.
func (t *TensorInfo) Len() int64 { return Numel(t.Shape) }

// PaddedShape rounds every dimension up to a power of two.
func PaddedShape(shape []int) []int {
	p := make([]int, len(shape))
	for i, d := range shape {
		p[i] = int(field.NextPow2(int64(d)))
	}
	return p
}

// Numel returns the product of the dimensions (1 for a scalar).
func Numel(shape []int) int64 {
	n := int64(1)
	for _, d := range shape {
		n *= int64(d)
	}
	return n
}

// DimVars returns, for each dimension of shape, the range [lo, hi) of MLE variables it owns:
// the last dimension owns the lowest variables (row-major flat index, variable 0 = LSB).
func DimVars(shape []int) [][2]int {
	p := PaddedShape(shape)
	out := make([][2]int, len(p))
	v := 0
	for i := len(p) - 1; i >= 0; i-- {
		k, _ := field.Log2(int64(p[i]))
		out[i] = [2]int{v, v + k}
		v += k
	}
	return out
}

// Graph is a model as the engine sees it: tensors and kernels in topological order.
type Graph struct {
	Name    string
	Tensors map[string]*TensorInfo
	Kernels []Kernel
}

// Validate checks that every kernel's tensors exist, that each intermediate or output tensor
// has exactly one producer that runs before its consumers, and that inputs and weights are
// produced by nobody.
func (g *Graph) Validate() error {
	produced := map[string]int{}
	for k, kn := range g.Kernels {
		for _, in := range kn.Inputs() {
			ti, ok := g.Tensors[in]
			if !ok {
				return fmt.Errorf("%w: kernel %d (%s): input tensor %q is not declared", ErrGraph, k, kn.Name(), in)
			}
			if ti.Role == Intermediate || ti.Role == Output || ti.Role == Advice {
				if _, ok := produced[in]; !ok {
					return fmt.Errorf("%w: kernel %d (%s): input %q is used before it is produced", ErrGraph, k, kn.Name(), in)
				}
			}
		}
		for _, out := range kn.Outputs() {
			ti, ok := g.Tensors[out]
			if !ok {
				return fmt.Errorf("%w: kernel %d (%s): output tensor %q is not declared", ErrGraph, k, kn.Name(), out)
			}
			if ti.Role == Input || ti.Role == Weight || ti.Role == PrivateInput {
				return fmt.Errorf("%w: kernel %d (%s) writes %s tensor %q", ErrGraph, k, kn.Name(), ti.Role, out)
			}
			if p, dup := produced[out]; dup {
				return fmt.Errorf("%w: tensor %q is produced by kernels %d and %d", ErrGraph, out, p, k)
			}
			produced[out] = k
		}
	}
	for name, ti := range g.Tensors {
		if ti.Role == Output || ti.Role == Intermediate || ti.Role == Advice {
			if _, ok := produced[name]; !ok {
				return fmt.Errorf("%w: %s tensor %q is produced by no kernel", ErrGraph, ti.Role, name)
			}
		}
		for _, d := range ti.Shape {
			if d <= 0 {
				return fmt.Errorf("%w: tensor %q has shape %v", ErrGraph, name, ti.Shape)
			}
		}
	}
	return nil
}

// Names returns the tensors of a role in sorted order (the order the protocol uses).
func (g *Graph) Names(role Role) []string {
	var out []string
	for name, ti := range g.Tensors {
		if ti.Role == role {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// Digest is a SHA-256 over a canonical description of the graph: every tensor (sorted by name)
// with its shape and role, then every kernel in order with its description. A proof binds to it,
// so a proof for one graph is rejected for another.
func (g *Graph) Digest() [32]byte {
	h := sha256.New()
	var b [8]byte
	put := func(v uint64) { binary.BigEndian.PutUint64(b[:], v); h.Write(b[:]) }
	str := func(s string) { put(uint64(len(s))); h.Write([]byte(s)) }
	str("streamprove-graph-digest/1")
	names := make([]string, 0, len(g.Tensors))
	for n := range g.Tensors {
		names = append(names, n)
	}
	sort.Strings(names)
	put(uint64(len(names)))
	for _, n := range names {
		ti := g.Tensors[n]
		str(n)
		put(uint64(ti.Role))
		put(uint64(len(ti.Shape)))
		for _, d := range ti.Shape {
			put(uint64(d))
		}
	}
	put(uint64(len(g.Kernels)))
	for _, k := range g.Kernels {
		str(k.Name())
		d := k.Describe()
		put(uint64(len(d)))
		h.Write(d)
		put(uint64(len(k.Inputs())))
		for _, in := range k.Inputs() {
			str(in)
		}
		put(uint64(len(k.Outputs())))
		for _, out := range k.Outputs() {
			str(out)
		}
	}
	var d [32]byte
	h.Sum(d[:0])
	return d
}
