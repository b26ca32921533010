package main

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/streamprove/streamprove/scheduler"
)

// printOutputs writes what prove and verify say about the proven outputs: each output's shape
// and scale, and for a 2-D quantized output (logits) the argmax of every row; a small output
// is printed whole.
func printOutputs(w io.Writer, outs map[string]*scheduler.Output) {
	names := make([]string, 0, len(outs))
	for name := range outs {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		o := outs[name]
		fmt.Fprintf(w, "output %s %s", name, shapeString(o.Shape))
		if o.Scale > 0 {
			fmt.Fprintf(w, " (scale %g)", o.Scale)
		}
		if am, ok := o.ArgmaxRows(); ok && o.Scale > 0 {
			strs := make([]string, len(am))
			for i, a := range am {
				strs[i] = fmt.Sprint(a)
			}
			fmt.Fprintf(w, ": argmax per row [%s]\n", strings.Join(strs, " "))
			continue
		}
		if len(o.Values) <= 64 {
			fmt.Fprintf(w, " = %v\n", o.Values)
			continue
		}
		fmt.Fprintf(w, ": %d values (--json prints them all)\n", len(o.Values))
	}
}

// writeOutputNPY writes the one output of a model, dequantized (float32) when it has a scale,
// to a .npy file.
func writeOutputNPY(path string, outs map[string]*scheduler.Output) error {
	if len(outs) != 1 {
		return fmt.Errorf("--output %s: a .npy file holds one array and the model has %d outputs", path, len(outs))
	}
	for _, o := range outs {
		b, err := o.EncodeNPY()
		if err != nil {
			return fmt.Errorf("--output %s: %w", path, err)
		}
		if err := os.WriteFile(path, b, 0o644); err != nil {
			return fmt.Errorf("--output: %w", err)
		}
	}
	return nil
}
