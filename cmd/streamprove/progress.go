package main

import (
	"fmt"
	"io"
	"os"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/streamprove/streamprove/scheduler"
	"github.com/streamprove/streamprove/spill"
)

// progress returns a scheduler progress callback that draws one bar per phase on stderr when it
// is a terminal, and nil (no output at all) when it is not — logs and pipes stay clean.
// schollz/progressbar does the drawing: a terminal bar with throttled redraws and ETA is a
// well-kept library's job, not ours.
func progress(stderr io.Writer, quiet bool) func(scheduler.Event) {
	f, ok := stderr.(*os.File)
	if quiet || !ok || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	var bar *progressbar.ProgressBar
	phase := ""
	return func(e scheduler.Event) {
		if e.Phase != phase || bar == nil {
			if bar != nil {
				bar.Finish()
			}
			phase = e.Phase
			bar = progressbar.NewOptions(e.Total,
				progressbar.OptionSetWriter(f),
				progressbar.OptionSetDescription(e.Phase),
				progressbar.OptionShowCount(),
				progressbar.OptionSetElapsedTime(true),
				progressbar.OptionOnCompletion(func() { f.WriteString("\n") }),
			)
		}
		desc := e.Phase + " " + e.Step
		if e.BytesTotal > 0 {
			desc += fmt.Sprintf(" (%s of %s of witness)", spill.FormatBytes(e.BytesDone), spill.FormatBytes(e.BytesTotal))
		}
		bar.Describe(desc)
		bar.Set(e.Done)
	}
}
