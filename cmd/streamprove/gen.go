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
		Name:  "gen",
		Usage: "write a synthetic quantized model (an MLP, or a LLaMA-shaped transformer) into a store",
		UsageText: "streamprove gen --store DIR [--arch mlp] --layers L --width W --batch B [--dtype int8|int16] [--seed S]\n" +
			"   streamprove gen --store DIR --arch llama --layers L --dim D --heads H --ffn F --vocab V --seq T [--seed S]",
		Description: "For benchmarks and out-of-core runs. --arch mlp (default): L linear layers of W×W weights with\n" +
			"int32 biases over a B×W input (requant+ReLU between layers when the kernel set has it); a width\n" +
			"of 32768 makes 1 GiB of int8 weights per layer. --arch llama: L decoder blocks of width D (RMSNorm,\n" +
			"Q/K/V projections, RoPE by public cos/sin tables, causal softmax attention over H heads of D/H\n" +
			"(a power of two), output projection, residual, SwiGLU FFN of width F), an embedding and LM head\n" +
			"over V tokens, int8 random weights and T public random token ids. Tensors are generated chunk\n" +
			"by chunk, never whole in RAM.",
		Flags: []cli.Flag{
			storeFlag,
			&cli.StringFlag{Name: "arch", Value: "mlp", Usage: "mlp or llama"},
			&cli.IntFlag{Name: "layers", Value: 2, Usage: "number of linear layers (mlp) or decoder blocks (llama)"},
			&cli.IntFlag{Name: "width", Value: 1024, Usage: "layer width W"},
			&cli.IntFlag{Name: "batch", Value: 1, Usage: "input rows B"},
			&cli.StringFlag{Name: "dtype", Value: "int8", Usage: "weight and input dtype: int8 or int16"},
			&cli.Uint64Flag{Name: "seed", Value: 1, Usage: "random seed"},
			&cli.IntFlag{Name: "dim", Value: 256, Usage: "llama: model width D"},
			&cli.IntFlag{Name: "heads", Value: 4, Usage: "llama: attention heads H (D/H a power of two)"},
			&cli.IntFlag{Name: "ffn", Value: 688, Usage: "llama: SwiGLU hidden width F"},
			&cli.IntFlag{Name: "vocab", Value: 512, Usage: "llama: vocabulary size V"},
			&cli.IntFlag{Name: "seq", Value: 16, Usage: "llama: prompt length T (public token ids)"},
		},
		Action: func(c *cli.Context) error {
			dir, err := requireStore(c)
			if err != nil {
				return err
			}
			var m *scheduler.Model
			switch c.String("arch") {
			case "mlp":
				m, err = scheduler.Gen(dir, scheduler.GenSpec{Layers: c.Int("layers"), Width: c.Int("width"),
					Batch: c.Int("batch"), DType: c.String("dtype"), Seed: c.Uint64("seed")})
			case "llama":
				m, err = scheduler.GenLlama(dir, scheduler.LlamaSpec{Layers: c.Int("layers"), Dim: c.Int("dim"), Heads: c.Int("heads"),
					FFN: c.Int("ffn"), Vocab: c.Int("vocab"), Seq: c.Int("seq"), Seed: c.Uint64("seed")})
			default:
				return fmt.Errorf("gen: --arch %q: want mlp or llama", c.String("arch"))
			}
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
