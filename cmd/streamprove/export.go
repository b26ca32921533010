package main

import (
	"encoding/json"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/streamprove/streamprove/scheduler"
	"github.com/streamprove/streamprove/spill"
)

func exportVerifierCommand() *cli.Command {
	return &cli.Command{
		Name:      "export-verifier",
		Usage:     "write a verifier key: all a verifier needs besides the proof and the public input",
		UsageText: "streamprove export-verifier --store DIR --out MODEL.vkey [--json]",
		Description: "The key holds the model's graph (without source paths), the commitments to its weights and\n" +
			"the digests a proof binds, in a small checksummed file. Give it to verifiers with its\n" +
			"fingerprint (printed here), published where they can trust it: anyone can write a key for\n" +
			"another model, and a proof verifies against the key it was made for. Then\n" +
			"`streamprove verify --vkey MODEL.vkey --proof PROOF --input X` needs no store.",
		Flags: []cli.Flag{storeFlag, jsonFlag,
			&cli.StringFlag{Name: "out", Aliases: []string{"o"}, Usage: "verifier key `FILE` to write"},
		},
		Action: func(c *cli.Context) error {
			dir, err := requireStore(c)
			if err != nil {
				return err
			}
			if c.String("out") == "" {
				return usagef("export-verifier: --out is required")
			}
			info, err := scheduler.ExportVerifier(dir, c.String("out"))
			if err != nil {
				return err
			}
			w := c.App.Writer
			if c.Bool("json") {
				return json.NewEncoder(w).Encode(info)
			}
			fmt.Fprintf(w, "verifier key for model %s (%d weight commitments): %s → %s\n", info.Model, info.Weights,
				spill.FormatBytes(info.Bytes), info.Path)
			fmt.Fprintf(w, "fingerprint %s (publish it: verifiers compare it with sha256sum of the key)\n", info.Fingerprint)
			return nil
		},
	}
}
