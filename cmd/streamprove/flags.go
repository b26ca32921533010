package main

import (
	"github.com/urfave/cli/v2"

	"github.com/streamprove/streamprove/scheduler"
	"github.com/streamprove/streamprove/spill"
)

var (
	storeFlag  = &cli.StringFlag{Name: "store", Aliases: []string{"s"}, Usage: "store `DIR`ectory"}
	budgetFlag = &cli.StringFlag{Name: "mem-budget", Value: "0", Usage: "promise on peak RSS (`SIZE` like 512MiB, 4GiB; 0 = unlimited)"}
	workerFlag = &cli.IntFlag{Name: "workers", Usage: "worker goroutines (0 = one per core)"}
	jsonFlag   = &cli.BoolFlag{Name: "json", Usage: "print one JSON object on stdout instead of text"}
)

func requireStore(c *cli.Context) (string, error) {
	if c.NArg() > 0 {
		return "", usagef("%s: unexpected argument %q", c.Command.Name, c.Args().First())
	}
	dir := c.String("store")
	if dir == "" {
		return "", usagef("%s: --store is required", c.Command.Name)
	}
	return dir, nil
}

// config reads the run flags shared by commit, prove and demo.
func config(c *cli.Context) (scheduler.Config, error) {
	var cfg scheduler.Config
	if c.IsSet("mem-budget") || c.String("mem-budget") != "" {
		b, err := spill.ParseSize(c.String("mem-budget"))
		if err != nil {
			return cfg, usagef("%s: --mem-budget: %v", c.Command.Name, err)
		}
		cfg.MemBudget = b
	}
	cfg.Workers = c.Int("workers")
	if cfg.Workers < 0 {
		return cfg, usagef("%s: --workers must be ≥ 0", c.Command.Name)
	}
	cfg.Progress = progress(c.App.ErrWriter, c.Bool("json"))
	return cfg, nil
}
