package main

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/streamprove/streamprove/field"
	"github.com/streamprove/streamprove/scheduler"
	"github.com/streamprove/streamprove/spill"
)

func inspectCommand() *cli.Command {
	return &cli.Command{
		Name:      "inspect",
		Usage:     "list a store's tensors and metadata",
		UsageText: "streamprove inspect --store DIR [--json]",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "store", Usage: "store directory", Aliases: []string{"s"}},
			&cli.BoolFlag{Name: "json", Usage: "print JSON instead of a table"},
		},
		Action: runInspect,
	}
}

type tensorJSON struct {
	Name        string  `json:"name"`
	Shape       []int   `json:"shape"`
	PaddedShape []int   `json:"padded_shape"`
	DType       string  `json:"dtype"`
	Codec       string  `json:"codec"`
	ChunkElems  int     `json:"chunk_elems"`
	Chunks      int     `json:"chunks"`
	Elements    int64   `json:"elements"`
	PaddedElems int64   `json:"padded_elements"`
	StoredBytes int64   `json:"stored_bytes"`
	FieldBytes  int64   `json:"field_bytes"` // the same elements as 32-byte field elements
	Ratio       float64 `json:"ratio"`       // FieldBytes / StoredBytes
}

func runInspect(c *cli.Context) error {
	dir := c.String("store")
	if dir == "" {
		return usagef("inspect: --store is required")
	}
	if c.NArg() > 0 {
		return usagef("inspect: unexpected argument %q", c.Args().First())
	}
	sc, err := scheduler.Inspect(dir)
	if err != nil {
		return fmt.Errorf("inspect: %w", err)
	}
	list, meta := sc.Tensors, sc.Meta
	rows := make([]tensorJSON, len(list))
	for i, in := range list {
		fb := in.Len * field.Bytes
		rows[i] = tensorJSON{in.Name, in.Shape, in.PaddedShape, in.DType.String(), in.Codec.String(),
			in.ChunkElems, in.NumChunks, in.Len, in.PaddedLen, in.StoredBytes, fb,
			float64(fb) / float64(max(in.StoredBytes, 1))}
	}
	var coms []commitJSON
	cm := sc.Commitments
	for _, name := range sortedNames(cm) {
		d := cm[name].Digest()
		coms = append(coms, commitJSON{name, 1 << cm[name].RowLog(), cm[name].Columns(), hex.EncodeToString(d[:])})
	}
	w := c.App.Writer
	if c.Bool("json") {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			Store       string              `json:"store"`
			Tensors     []tensorJSON        `json:"tensors"`
			Commitments []commitJSON        `json:"commitments"`
			Meta        map[string][]string `json:"meta"`
		}{dir, rows, coms, meta})
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSHAPE\tDTYPE\tCODEC\tCHUNKS\tSTORED\tVS FIELD")
	var total int64
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%.1fx\n", r.Name, shapeString(r.Shape), r.DType, r.Codec,
			r.Chunks, spill.FormatBytes(r.StoredBytes), r.Ratio)
		total += r.StoredBytes
	}
	tw.Flush()
	fmt.Fprintf(w, "%d tensors, %s on disk\n", len(rows), spill.FormatBytes(total))
	buckets := make([]string, 0, len(meta))
	for b := range meta {
		buckets = append(buckets, b)
	}
	sort.Strings(buckets)
	if len(buckets) == 0 {
		fmt.Fprintln(w, "meta: none")
	}
	for _, b := range buckets {
		fmt.Fprintf(w, "meta %s: %s\n", b, strings.Join(meta[b], ", "))
	}
	if len(coms) == 0 {
		fmt.Fprintln(w, "commitments: none (run `streamprove commit`)")
	}
	for _, cj := range coms {
		fmt.Fprintf(w, "commitment %s: %d rows × %d columns, digest %s\n", cj.Name, cj.Rows, cj.Columns, cj.Digest[:16])
	}
	return nil
}

// commitJSON describes one weight's Hyrax commitment.
type commitJSON struct {
	Name    string `json:"name"`
	Rows    int    `json:"rows"`
	Columns int    `json:"columns"`
	Digest  string `json:"digest"`
}

func sortedNames[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func shapeString(s []int) string {
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = fmt.Sprint(d)
	}
	return "[" + strings.Join(parts, "×") + "]"
}
