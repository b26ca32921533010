package main

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/streamprove/streamprove/scheduler"
)

func verifyCommand() *cli.Command {
	return &cli.Command{
		Name:      "verify",
		Usage:     "verify a proof against the public parts of a store (graph, commitments, public input)",
		UsageText: "streamprove verify --store DIR --proof PROOF [--input FILE.safetensors] [--json]",
		Description: "Exit code 0 when the proof verifies, 1 when it is rejected (the reason is printed), 2 on\n" +
			"usage errors. --input replaces the store's public input tensors of the same names.",
		Flags: []cli.Flag{storeFlag, jsonFlag,
			&cli.StringFlag{Name: "proof", Aliases: []string{"p"}, Usage: "proof `FILE`"},
			&cli.StringFlag{Name: "input", Usage: "public input `FILE` (safetensors) to check the proof against"},
		},
		Action: func(c *cli.Context) error {
			dir, err := requireStore(c)
			if err != nil {
				return err
			}
			if c.String("proof") == "" {
				return usagef("verify: --proof is required")
			}
			rep, err := scheduler.Verify(dir, c.String("proof"), c.String("input"))
			if err != nil && !errors.Is(err, scheduler.ErrRejected) {
				return err
			}
			w := c.App.Writer
			if c.Bool("json") {
				if jerr := json.NewEncoder(w).Encode(rep); jerr != nil {
					return jerr
				}
				return err
			}
			if err != nil {
				return err
			}
			for name, vals := range rep.Outputs {
				more := ""
				if n := rep.OutputElements[name]; n > len(vals) {
					more = fmt.Sprintf(" … (%d values; first %d shown)", n, len(vals))
				}
				fmt.Fprintf(w, "output %s = %v%s\n", name, vals, more)
			}
			fmt.Fprintf(w, "proof verified (%.3fs, %d bytes)\n", rep.WallSeconds, rep.ProofBytes)
			return nil
		},
	}
}
