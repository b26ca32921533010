package main

import (
	"encoding/json"
	"fmt"
	"os"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/streamprove/streamprove/spill"
)

func benchCommand() *cli.Command {
	return &cli.Command{
		Name:      "bench",
		Usage:     "measure prove and verify on a store: time, peak RSS, I/O, throughput, proof size",
		UsageText: "streamprove bench --store DIR --mem-budget SIZE [--compare] [--json] [--plot rss.png]",
		Description: "Prove and verify run as child processes of this binary; their RSS is sampled every 20 ms\n" +
			"and their peak RSS is the kernel's VmHWM. --compare proves the same store again with no\n" +
			"budget and reports the streaming/in-memory time ratio. The store must be committed.",
		Flags: []cli.Flag{storeFlag, budgetFlag, workerFlag, jsonFlag,
			&cli.BoolFlag{Name: "compare", Usage: "also prove with an unlimited budget and report the ratio"},
			&cli.StringFlag{Name: "plot", Usage: "write RSS over time against the budget to `FILE`.png"},
		},
		Action: func(c *cli.Context) error {
			dir, err := requireStore(c)
			if err != nil {
				return err
			}
			cfg, err := config(c)
			if err != nil {
				return err
			}
			exe, err := os.Executable()
			if err != nil {
				return err
			}
			rep, err := runBench(exe, dir, cfg.MemBudget, cfg.Workers, c.Bool("compare"))
			if err != nil {
				return err
			}
			if p := c.String("plot"); p != "" {
				if err := plotRSS(p, rep); err != nil {
					return fmt.Errorf("plot: %w", err)
				}
			}
			w := c.App.Writer
			if c.Bool("json") {
				return json.NewEncoder(w).Encode(rep)
			}
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "budget\twall s\tpeak RSS\tunder budget\tread\twritten\twitness\tthroughput\tproof\tverify s\tverified")
			for _, r := range []*benchRun{rep.Budgeted, rep.Unlimited} {
				if r == nil {
					continue
				}
				fmt.Fprintf(tw, "%s\t%.2f\t%s\t%v\t%s\t%s\t%s\t%s/s\t%s\t%.3f\t%v\n", r.BudgetDescription, r.WallSeconds,
					spill.FormatBytes(r.PeakRSSBytes), r.UnderBudget, spill.FormatBytes(r.BytesRead), spill.FormatBytes(r.BytesWritten),
					spill.FormatBytes(r.WitnessBytes), spill.FormatBytes(int64(r.ThroughputBPS)), spill.FormatBytes(r.ProofBytes),
					r.VerifySeconds, r.Verified)
			}
			tw.Flush()
			if rep.Unlimited != nil {
				fmt.Fprintf(w, "streaming / in-memory wall time: %.2f×\n", rep.TimeRatio)
			}
			if !rep.Budgeted.Verified {
				return fmt.Errorf("bench: the proof did not verify")
			}
			return nil
		},
	}
}
