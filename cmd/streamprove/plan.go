package main

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/streamprove/streamprove/scheduler"
	"github.com/streamprove/streamprove/spill"
)

func planCommand() *cli.Command {
	return &cli.Command{
		Name:  "plan",
		Usage: "show each kernel's memory plan under a budget, without running anything",
		Description: "For every kernel: the least RAM it can run in, the RAM its tables take if nothing spills,\n" +
			"the tensor bytes it streams, and whether its tables will go to spill files under\n" +
			"--mem-budget. A budget below some kernel's minimum is refused here, as prove would.",
		Flags: []cli.Flag{storeFlag, budgetFlag, jsonFlag},
		Action: func(c *cli.Context) error {
			dir, err := requireStore(c)
			if err != nil {
				return err
			}
			cfg, err := config(c)
			if err != nil {
				return err
			}
			m, steps, err := scheduler.PlanStore(dir, cfg.MemBudget)
			if err != nil {
				return err
			}
			w := c.App.Writer
			if c.Bool("json") {
				return json.NewEncoder(w).Encode(steps)
			}
			fmt.Fprintf(w, "model %s, budget %s\n", m.File.Name, budgetString(cfg.MemBudget))
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "KERNEL\tMIN RAM\tTABLES\tSTREAMS\tTABLES LIVE IN")
			for _, s := range steps {
				where := "RAM"
				if s.Spills {
					where = "spill files"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", s.Kernel, spill.FormatBytes(s.MinBytes), spill.FormatBytes(s.TableBytes),
					spill.FormatBytes(s.StreamBytes), where)
			}
			return tw.Flush()
		},
	}
}
