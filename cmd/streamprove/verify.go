package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"

	"github.com/urfave/cli/v2"

	"github.com/streamprove/streamprove/scheduler"
)

func verifyCommand() *cli.Command {
	return &cli.Command{
		Name:  "verify",
		Usage: "verify a proof against a verifier key (or a store's graph and commitments) and the public input",
		UsageText: "streamprove verify --vkey MODEL.vkey --proof PROOF --input FILE [--json] [--output Y.npy]\n" +
			"   streamprove verify --store DIR --proof PROOF [--input FILE] [--json] [--output Y.npy]",
		Description: "Exit code 0 when the proof verifies, 1 when it is rejected (the reason is printed), 2 on\n" +
			"usage errors. With --vkey (see export-verifier) nothing else is read: --input must hold every\n" +
			"public input (none for a model whose only input is private, e.g. import --private-ids).\n" +
			"With --store, --input replaces the store's public inputs of the same names.\n" +
			"--input is a safetensors file, or a .npy file for a model with one public input; each array\n" +
			"must have the shape and dtype the graph declares, except the dimensions the graph marks dynamic\n" +
			"(the batch), which the input binds. A float32 .npy is quantized with the graph's input scale.\n" +
			"The outputs are printed with their shapes (and, for 2-D logits, the argmax of each row);\n" +
			"--json prints every value, nested by shape, with its scale and dequantized floats.",
		Flags: []cli.Flag{storeFlag, jsonFlag,
			&cli.StringFlag{Name: "vkey", Usage: "verifier key `FILE` (from export-verifier)"},
			&cli.StringFlag{Name: "proof", Aliases: []string{"p"}, Usage: "proof `FILE`"},
			&cli.StringFlag{Name: "input", Usage: "public input `FILE` (.safetensors or .npy) to check the proof against"},
			&cli.StringFlag{Name: "output", Usage: "write the verified output to `FILE`.npy (dequantized float32 for a quantized model)"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usagef("verify: unexpected argument %q", c.Args().First())
			}
			dir, vkey := c.String("store"), c.String("vkey")
			if (dir == "") == (vkey == "") {
				return usagef("verify: give exactly one of --vkey or --store")
			}
			if c.String("proof") == "" {
				return usagef("verify: --proof is required")
			}
			// The verifier's live heap is the proof and the decoded commitments (~0.5 GiB for the
			// 7B-shaped model); at the default GOGC the heap grew to twice that between
			// collections. Collecting at 25% growth measured VmHWM 1.16 → 0.71 GiB there at equal
			// CPU time (the collections are few: verify allocates little beyond what it keeps).
			debug.SetGCPercent(verifyGCPercent)
			var rep *scheduler.VerifyReport
			var err error
			if vkey != "" {
				rep, err = scheduler.VerifyKey(vkey, c.String("proof"), c.String("input"))
			} else {
				rep, err = scheduler.Verify(dir, c.String("proof"), c.String("input"))
			}
			if err != nil && !errors.Is(err, scheduler.ErrRejected) {
				return err
			}
			w := c.App.Writer
			if err == nil && c.String("output") != "" {
				if oerr := writeOutputNPY(c.String("output"), rep.Outputs); oerr != nil {
					return oerr
				}
			}
			if c.Bool("json") {
				if jerr := json.NewEncoder(w).Encode(rep); jerr != nil {
					return jerr
				}
				return err
			}
			if err != nil {
				return err
			}
			printOutputs(w, rep.Outputs)
			fmt.Fprintf(w, "proof verified (%.3fs, %d bytes)\n", rep.WallSeconds, rep.ProofBytes)
			return nil
		},
	}
}

// verifyGCPercent is the verify command's GOGC (see there).
const verifyGCPercent = 25
