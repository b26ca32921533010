package main

import (
	"fmt"
	"sort"

	"github.com/urfave/cli/v2"

	"github.com/streamprove/streamprove/scheduler"
)

func commitCommand() *cli.Command {
	return &cli.Command{
		Name:  "commit",
		Usage: "commit the model's weights once (Hyrax over BN254); writes the commitment into the store",
		Description: "The commitment is what a verifier trusts about the weights: a proof is checked against it,\n" +
			"and weights changed after commit make every later proof fail.",
		Flags: []cli.Flag{storeFlag, budgetFlag, workerFlag},
		Action: func(c *cli.Context) error {
			dir, err := requireStore(c)
			if err != nil {
				return err
			}
			cfg, err := config(c)
			if err != nil {
				return err
			}
			cm, err := scheduler.Commit(dir, cfg)
			if err != nil {
				return err
			}
			names := make([]string, 0, len(cm))
			for n := range cm {
				names = append(names, n)
			}
			sort.Strings(names)
			for _, n := range names {
				d := cm[n].Digest()
				fmt.Fprintf(c.App.Writer, "committed %-20s %3d rows  %x\n", n, len(cm[n].Rows), d[:8])
			}
			return nil
		},
	}
}
