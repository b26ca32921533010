package main

import (
	"fmt"
	"image/color"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/streamprove/streamprove/spill"
)

// plotRSS draws each run's RSS over time against its budget line as a PNG (gonum/plot: axes,
// legend and text rendering are a plotting library's job).
func plotRSS(path string, rep *benchReport) error {
	p := plot.New()
	p.Title.Text = "streamprove prove: RSS over time"
	p.X.Label.Text = "seconds"
	p.Y.Label.Text = "RSS (MiB)"
	runs := []*benchRun{rep.Budgeted}
	if rep.Unlimited != nil {
		runs = append(runs, rep.Unlimited)
	}
	colors := []color.Color{color.RGBA{R: 30, G: 90, B: 200, A: 255}, color.RGBA{R: 120, G: 120, B: 120, A: 255}}
	for i, r := range runs {
		pts := make(plotter.XYs, len(r.Samples))
		for j, s := range r.Samples {
			pts[j].X, pts[j].Y = s.Seconds, float64(s.Bytes)/(1<<20)
		}
		if len(pts) == 0 {
			continue
		}
		l, err := plotter.NewLine(pts)
		if err != nil {
			return err
		}
		l.Color = colors[i%len(colors)]
		l.Width = vg.Points(1.5)
		p.Add(l)
		p.Legend.Add(fmt.Sprintf("RSS, budget %s (peak %s)", r.BudgetDescription, spill.FormatBytes(r.PeakRSSBytes)), l)
		if r.BudgetBytes > 0 {
			end := r.WallSeconds
			b, err := plotter.NewLine(plotter.XYs{{X: 0, Y: float64(r.BudgetBytes) / (1 << 20)}, {X: end, Y: float64(r.BudgetBytes) / (1 << 20)}})
			if err != nil {
				return err
			}
			b.Color = color.RGBA{R: 210, G: 40, B: 40, A: 255}
			b.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
			p.Add(b)
			p.Legend.Add("--mem-budget "+r.BudgetDescription, b)
		}
	}
	p.Legend.Top = true
	p.Y.Min = 0
	return p.Save(8*vg.Inch, 4.5*vg.Inch, path)
}
