package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/streamprove/streamprove/gkr"
	"github.com/streamprove/streamprove/scheduler"
	"github.com/streamprove/streamprove/spill"
)

func genCommand() *cli.Command {
	return &cli.Command{
		Name:      "gen",
		Usage:     "write a synthetic quantized MLP of a given size into a store",
		UsageText: "streamprove gen --store DIR --layers L --width W --batch B [--dtype int8|int16] [--seed S]",
		Description: "For benchmarks and out-of-core runs: L linear layers of W×W weights with int32 biases over a\n" +
			"B×W input (requant+ReLU between layers when the kernel set has it). Tensors are generated\n" +
			"chunk by chunk, never whole in RAM; a width of 32768 makes 1 GiB of int8 weights per layer.",
		Flags: []cli.Flag{
			storeFlag,
			&cli.IntFlag{Name: "layers", Value: 2, Usage: "number of linear layers"},
			&cli.IntFlag{Name: "width", Value: 1024, Usage: "layer width W"},
			&cli.IntFlag{Name: "batch", Value: 1, Usage: "input rows B"},
			&cli.StringFlag{Name: "dtype", Value: "int8", Usage: "weight and input dtype: int8 or int16"},
			&cli.Uint64Flag{Name: "seed", Value: 1, Usage: "random seed"},
		},
		Action: func(c *cli.Context) error {
			dir, err := requireStore(c)
			if err != nil {
				return err
			}
			m, err := scheduler.Gen(dir, scheduler.GenSpec{Layers: c.Int("layers"), Width: c.Int("width"),
				Batch: c.Int("batch"), DType: c.String("dtype"), Seed: c.Uint64("seed")})
			if err != nil {
				return err
			}
			var n int64
			for _, ti := range m.Graph.Tensors {
				n += ti.Len()
			}
			fmt.Fprintf(c.App.Writer, "generated %s: %d kernels, %d weights, witness %s as field elements\n",
				m.File.Name, len(m.Kernels), len(m.Graph.Names(gkr.Weight)), spill.FormatBytes(n*32))
			return nil
		},
	}
}
