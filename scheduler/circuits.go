package scheduler

import (
	"fmt"
	"slices"

	"github.com/streamprove/streamprove/gkr"
	"github.com/streamprove/streamprove/kernels"
)

// RegisterCircuit makes a data-parallel kernel (the zkCUDA-style circuit of package kernels,
// written once in Go) available to graph files as the op named op. A node
// {"op": op, "in": [t_1, …, t_k], "out": y} launches the circuit over N instances: tensor t_i
// feeds circuit input inputs[i] and y receives circuit output output; every tensor has shape [N].
// build is called once per node. Registering a name twice, or a built-in op's name, is an error.
// Register from an init function: the op table is read without locking once graphs are parsed.
func RegisterCircuit(op string, inputs []string, output string, build func() *kernels.Circuit) error {
	if _, dup := ops[op]; dup {
		return fmt.Errorf("op %q is already registered", op)
	}
	ops[op] = opDef{arity: [2]int{len(inputs), len(inputs)}, summary: "data-parallel circuit " + op,
		build: func(n *NodeSpec, _ Attrs, ins []*gkr.TensorInfo) (kernels.Kernel, []int, []gkr.TensorInfo, error) {
			in := map[string]string{}
			for i, t := range ins {
				if len(t.Shape) != 1 || !slices.Equal(t.Shape, ins[0].Shape) {
					return nil, nil, nil, fmt.Errorf("field \"in\"[%d]: %q has shape %v; a data-parallel op takes vectors [N] of one N", i, t.Name, t.Shape)
				}
				in[inputs[i]] = t.Name
			}
			k, err := kernels.NewParallel(n.Name, build(), in, map[string]string{output: n.Out})
			if err != nil {
				return nil, nil, nil, err
			}
			return k, slices.Clone(ins[0].Shape), nil, nil
		}}
	return nil
}

// MiMCRounds is the round count of the built-in "mimc" op.
const MiMCRounds = 16

func init() {
	// The built-in example circuit: a MiMC-style permutation x → (x + key + k_i)^7 over 16 rounds
	// with public round constants, one sumcheck layer per round (degree 7).
	ks := kernels.MiMCConstants(MiMCRounds)
	if err := RegisterCircuit("mimc", []string{"x", "key"}, "y", func() *kernels.Circuit { return kernels.MiMCCircuit(ks, 7) }); err != nil {
		panic(err)
	}
}
