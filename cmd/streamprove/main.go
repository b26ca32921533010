// Command streamprove proves machine-learning inference whose witness lives on disk, under a
// memory budget. See DESIGN.md; this package is only the command line: flags, output and exit
// codes. Each command lives in its own file and calls one library function.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/streamprove/streamprove/gkr"
)

// commands lists the CLI's commands in help order. Adding a command is one line here plus its
// own file defining a func() *cli.Command.
var commands = []func() *cli.Command{
	demoCommand,
	genCommand,
	importCommand,
	commitCommand,
	planCommand,
	proveCommand,
	verifyCommand,
	exportVerifierCommand,
	benchCommand,
	inspectCommand,
}

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1 // the work failed (or, for verify, the proof was rejected)
	exitUsage   = 2 // bad flags or arguments
)

// usageError marks an error in how the command was called (exit code 2).
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return &usageError{fmt.Sprintf(format, a...)} }

func onUsageError(c *cli.Context, err error, _ bool) error {
	name := c.Command.Name
	if name == "" {
		return usagef("%v (see streamprove --help)", err)
	}
	return usagef("%s: %v (see streamprove %s --help)", name, err, name)
}

func newApp(stdout, stderr io.Writer) *cli.App {
	app := &cli.App{
		Name:    "streamprove",
		Version: fmt.Sprintf("0.1 (proof format %d)", gkr.ProofVersion),
		Usage:   "prove ML inference whose witness is larger than RAM",
		Description: "streamprove keeps the model's weights and the whole proving witness on disk, in a tensor\n" +
			"store of compressed, checksummed chunks, and streams it through the prover so that peak\n" +
			"memory stays under --mem-budget whatever the model's size. Try `demo`. For your own model:\n" +
			"`import --onnx model.onnx --calibrate samples.npy` (a PyTorch export, quantized here; an\n" +
			"already-quantized ONNX needs no --calibrate), or a graph file over integer safetensors/.npy\n" +
			"weights with `import --graph` (see the README); then `commit`, `prove`, `verify`.\n" +
			"`export-verifier` writes the small key a verifier needs instead of the store.",
		Writer:          stdout,
		ErrWriter:       stderr,
		HideHelpCommand: true,
		OnUsageError:    onUsageError,
		ExitErrHandler:  func(*cli.Context, error) {}, // run decides the exit code
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "cpuprofile", Usage: "write a CPU profile of the command to `FILE` (go tool pprof)"},
		},
		Before: startProfile,
		After:  stopProfile,
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usagef("unknown command %q (see streamprove --help)", c.Args().First())
			}
			return cli.ShowAppHelp(c)
		},
	}
	for _, mk := range commands {
		cmd := mk()
		cmd.OnUsageError = onUsageError
		app.Commands = append(app.Commands, cmd)
	}
	return app
}

// run runs the CLI and returns its exit code; errors are printed as one line on stderr.
func run(args []string, stdout, stderr io.Writer) int {
	err := newApp(stdout, stderr).Run(args)
	if err == nil {
		return exitOK
	}
	msg := strings.ReplaceAll(strings.TrimSpace(err.Error()), "\n", "; ")
	fmt.Fprintf(stderr, "streamprove: %s\n", msg)
	var ue *usageError
	if errors.As(err, &ue) {
		return exitUsage
	}
	return exitFailure
}

func main() { os.Exit(run(os.Args, os.Stdout, os.Stderr)) }

var profFile *os.File

func startProfile(c *cli.Context) error {
	path := c.String("cpuprofile")
	if path == "" {
		return nil
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("--cpuprofile: %w", err)
	}
	profFile = f
	return pprof.StartCPUProfile(f)
}

func stopProfile(*cli.Context) error {
	if profFile == nil {
		return nil
	}
	pprof.StopCPUProfile()
	err := profFile.Close()
	profFile = nil
	return err
}
