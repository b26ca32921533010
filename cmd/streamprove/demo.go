package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/streamprove/streamprove"
	"github.com/streamprove/streamprove/scheduler"
	"github.com/streamprove/streamprove/spill"
)

func demoCommand() *cli.Command {
	return &cli.Command{
		Name:  "demo",
		Usage: "prove and verify the embedded demo model (import → commit → prove → verify)",
		Description: "Runs the whole pipeline on the small quantized MLP with a residual branch that ships\n" +
			"inside the binary, in a temporary store that is removed afterwards (--keep keeps it).\n" +
			"Prints peak RSS, times and proof size; the last line says whether the proof verified.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "mem-budget", Value: "256MiB", Usage: "promise on peak RSS (`SIZE`)"},
			workerFlag, jsonFlag,
			&cli.BoolFlag{Name: "keep", Usage: "keep the temporary store and proof, and print where"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usagef("demo: unexpected argument %q", c.Args().First())
			}
			cfg, err := config(c)
			if err != nil {
				return err
			}
			dir, err := os.MkdirTemp("", "streamprove-demo-*")
			if err != nil {
				return err
			}
			if !c.Bool("keep") {
				defer os.RemoveAll(dir)
			}
			rep, err := scheduler.Demo(streamprove.DemoModel, "testdata/mlp", dir, cfg)
			if err != nil && (rep == nil || rep.Verify == nil) {
				return err
			}
			w := c.App.Writer
			if c.Bool("json") {
				if err := json.NewEncoder(w).Encode(rep); err != nil {
					return err
				}
				return err
			}
			p := rep.Prove
			fmt.Fprintf(w, "model        %s (%d kernels), budget %s\n", rep.Model, p.Kernels, spill.FormatBytes(p.BudgetBytes))
			fmt.Fprintf(w, "import       %.3fs\ncommit       %.3fs\n", rep.ImportSeconds, rep.CommitSeconds)
			fmt.Fprintf(w, "forward      %.3fs\nprove        %.3fs\n", p.ForwardSeconds, p.ProveSeconds)
			fmt.Fprintf(w, "verify       %.3fs\n", rep.Verify.WallSeconds)
			fmt.Fprintf(w, "witness      %s as field elements\n", spill.FormatBytes(p.WitnessBytes))
			fmt.Fprintf(w, "proof        %s\n", spill.FormatBytes(p.ProofBytes))
			fmt.Fprintf(w, "peak RSS     %s\n", spill.FormatBytes(p.PeakRSSBytes))
			if c.Bool("keep") {
				fmt.Fprintf(w, "store        %s (proof: %s/proof.bin)\n", rep.StoreDir, dir)
			}
			if err != nil {
				fmt.Fprintf(w, "NOT verified: %s\n", rep.Verify.Reason)
				return err
			}
			fmt.Fprintf(w, "output y     %v\n", rep.Verify.Outputs["y"].Values)
			fmt.Fprintln(w, "proof verified")
			return nil
		},
	}
}
