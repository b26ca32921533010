package main

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/streamprove/streamprove/scheduler"
	"github.com/streamprove/streamprove/spill"
)

func proveCommand() *cli.Command {
	return &cli.Command{
		Name:      "prove",
		Usage:     "run the forward pass (if not done) and prove it under a memory budget",
		UsageText: "streamprove prove --store DIR --mem-budget SIZE --out PROOF [--input FILE] [--resume] [--json] [--workers N] [--spill-dir D]",
		Description: "Peak RSS stays under --mem-budget: the witness streams from the store chunk by chunk and\n" +
			"tables that do not fit spill to --spill-dir. A step that cannot fit at all is refused\n" +
			"before anything starts. After a crash, --resume keeps the forward steps already finished.\n" +
			"--input proves another public input without re-importing or committing: a .npy (float32 for\n" +
			"a quantized model: quantized with the graph's input scale) or a safetensors file; its shape\n" +
			"binds the model's dynamic dimensions (the batch) and must match the others. It may also hold\n" +
			"private inputs (import --private-ids: the token ids, as a flat integer .npy), with their\n" +
			"declared shapes: verify then needs no input for them.",
		Flags: []cli.Flag{storeFlag, budgetFlag, workerFlag, jsonFlag,
			&cli.StringFlag{Name: "out", Aliases: []string{"o"}, Usage: "proof `FILE` to write"},
			&cli.BoolFlag{Name: "resume", Usage: "continue an interrupted run"},
			&cli.StringFlag{Name: "input", Usage: "input `FILE` (.npy or .safetensors; public or private inputs) to prove instead of the store's"},
			&cli.StringFlag{Name: "spill-dir", Usage: "`DIR` for spill files (default: STORE/spill)"},
		},
		Action: func(c *cli.Context) error {
			dir, err := requireStore(c)
			if err != nil {
				return err
			}
			out := c.String("out")
			if out == "" {
				return usagef("prove: --out is required")
			}
			cfg, err := config(c)
			if err != nil {
				return err
			}
			cfg.Resume, cfg.SpillDir, cfg.Input = c.Bool("resume"), c.String("spill-dir"), c.String("input")
			rep, err := scheduler.Prove(dir, out, cfg)
			if err != nil {
				if errors.Is(err, spill.ErrBudget) {
					return fmt.Errorf("%w (raise --mem-budget)", err)
				}
				return err
			}
			w := c.App.Writer
			if c.Bool("json") {
				return json.NewEncoder(w).Encode(rep)
			}
			fmt.Fprintf(w, "proved %d kernels in %.2fs (forward %.2fs, prove %.2fs)\n", rep.Kernels, rep.WallSeconds, rep.ForwardSeconds, rep.ProveSeconds)
			fmt.Fprintf(w, "witness %s, read %s, wrote %s, peak RSS %s (budget %s)\n", spill.FormatBytes(rep.WitnessBytes),
				spill.FormatBytes(rep.BytesRead), spill.FormatBytes(rep.BytesWritten), spill.FormatBytes(rep.PeakRSSBytes), budgetString(rep.BudgetBytes))
			fmt.Fprintf(w, "proof %s → %s\n", spill.FormatBytes(rep.ProofBytes), out)
			printOutputs(w, rep.Outputs)
			return nil
		},
	}
}

func budgetString(b int64) string {
	if b <= 0 {
		return "unlimited"
	}
	return spill.FormatBytes(b)
}
