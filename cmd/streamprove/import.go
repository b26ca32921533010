package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/streamprove/streamprove/onnx"
	"github.com/streamprove/streamprove/scheduler"
	"github.com/streamprove/streamprove/spill"
	"github.com/streamprove/streamprove/tensorstore"
)

func importCommand() *cli.Command {
	return &cli.Command{
		Name:  "import",
		Usage: "import a model (graph JSON + its safetensors/npy sources), or single tensors, into a store",
		UsageText: "streamprove import --store DIR --graph FILE.json\n" +
			"   streamprove import --store DIR --onnx MODEL.onnx [--calibrate SAMPLES.npy] [--bits 8] [--private-ids] [--emit-graph G.json]\n" +
			"   streamprove import --store DIR (--safetensors FILE | --npy FILE --name NAME) [--codec s2|zstd|none] [--chunk-elems N] [--replace]",
		Description: "With --graph, the graph file (format streamprove-graph/1, see the README) is validated, every\n" +
			"input and weight is imported from its source (paths relative to the graph file) and checked\n" +
			"against its declared shape and dtype, and the graph is recorded in the store for commit,\n" +
			"prove and verify. Floating-point tensors are refused there: quantize to int8/int16/int32\n" +
			"first, or use --onnx. U8 data is stored as int16. The store directory is created if needed.\n" +
			"\n" +
			"With --onnx, a model exported by torch.onnx.export (opsets 11-21: MLPs, CNNs, nanoGPT- and\n" +
			"LLaMA-style transformers) is folded and quantized here: int8 weights per output channel,\n" +
			"activation scales from the max-abs of --calibrate (float32 samples, or int64 token ids, in\n" +
			"the model's input layout); it prints the quantized model's agreement with a float\n" +
			"reference on those samples. Already-quantized models (QDQ, QLinearConv/MatMul, ConvInteger,\n" +
			"MatMulInteger) import with ONNX Runtime's integer semantics and need no --calibrate. An op\n" +
			"or attribute it cannot represent fails the import naming the node. The batch stays bound\n" +
			"to the input: `prove --input` takes any batch. --emit-graph writes the graph it imports.\n" +
			"\n" +
			"--private-ids (token models only) declares the ids a private input instead of a public one:\n" +
			"each proof commits them inside itself, with their one-hot [tokens, vocab] advice (a slightly\n" +
			"larger proof, more work as tokens × vocab grows), and verify needs no ids. Their count is\n" +
			"fixed by --calibrate and public, as are the logits; prove --input proves other ids of that\n" +
			"count under the same commitment (calibrate on text you may publish: the graph's scales derive\n" +
			"from it). Sound, not zero-knowledge: the ids are out of the verifier's inputs, not hidden from\n" +
			"it: the commitments are not blinded (a guessed prompt can be checked against them) and the\n" +
			"public logits reveal much of the prompt.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "store", Usage: "store directory", Aliases: []string{"s"}},
			&cli.StringFlag{Name: "graph", Usage: "model graph `FILE` (streamprove-graph/1 JSON)"},
			&cli.StringFlag{Name: "safetensors", Usage: "safetensors `FILE` (every tensor under its own name)"},
			&cli.StringFlag{Name: "npy", Usage: ".npy `FILE`"},
			&cli.StringFlag{Name: "name", Usage: "tensor `NAME` for --npy"},
			&cli.StringFlag{Name: "codec", Value: tensorstore.DefaultCodec.String(), Usage: "chunk codec: s2, zstd or none"},
			&cli.StringFlag{Name: "chunk-elems", Value: "65536", Usage: "elements per chunk, a power of two (65536, 64Ki…)"},
			&cli.BoolFlag{Name: "replace", Usage: "replace tensors that already exist"},
			&cli.StringFlag{Name: "onnx", Usage: "ONNX `MODEL`: a float model is quantized with --calibrate; an already-quantized one (QDQ, QLinearConv/QLinearMatMul, ConvInteger/MatMulInteger) needs none; emitted as a graph and imported"},
			&cli.StringFlag{Name: "calibrate", Usage: "float32 .npy `SAMPLES` in the model's input layout, or int64 token ids [batch, T] for a token model (activation scales: max-abs; also the graph's input)"},
			&cli.IntFlag{Name: "bits", Value: 8, Usage: "bits of weights and activations (the output is requantized to 16)"},
			&cli.BoolFlag{Name: "private-ids", Usage: "token model: commit the ids inside each proof (a one-hot [tokens, vocab] advice) so verify needs none; sound, not zero-knowledge"},
			&cli.StringFlag{Name: "emit-graph", Usage: "also keep the emitted graph at `FILE` (weights and input beside it)"},
		},
		Action: runImport,
	}
}

func runImport(c *cli.Context) error {
	if c.NArg() > 0 {
		return usagef("import: unexpected argument %q", c.Args().First())
	}
	dir, st, np, name, graph := c.String("store"), c.String("safetensors"), c.String("npy"), c.String("name"), c.String("graph")
	switch {
	case dir == "":
		return usagef("import: --store is required")
	case c.String("onnx") != "" && (graph != "" || st != "" || np != ""):
		return usagef("import: --onnx imports the model alone; drop --graph/--safetensors/--npy")
	case c.Bool("private-ids") && c.String("onnx") == "":
		return usagef("import: --private-ids is for --onnx token models; a --graph declares private inputs itself (role private_input)")
	case c.String("onnx") != "":
		return runImportONNX(c, dir)
	case graph != "" && (st != "" || np != ""):
		return usagef("import: --graph imports the sources the graph names; drop --safetensors/--npy")
	case graph == "" && (st == "") == (np == ""):
		return usagef("import: give --graph, or exactly one of --safetensors or --npy")
	case np != "" && name == "":
		return usagef("import: --npy needs --name")
	case st != "" && name != "":
		return usagef("import: --name is for --npy; safetensors tensors keep their names")
	}
	codec, err := tensorstore.ParseCodec(c.String("codec"))
	if err != nil {
		return usagef("import: --codec: %v", err)
	}
	ce, err := spill.ParseSize(strings.TrimSuffix(c.String("chunk-elems"), "elems"))
	if err != nil || ce <= 0 || ce&(ce-1) != 0 || ce > 1<<24 {
		return usagef("import: --chunk-elems %q: want a power of two up to 16Mi", c.String("chunk-elems"))
	}
	opt := tensorstore.WriteOptions{Codec: codec, ChunkElems: int(ce), Replace: c.Bool("replace")}
	if graph != "" {
		m, err := scheduler.Import(dir, graph, opt)
		if err != nil {
			return err
		}
		fmt.Fprintf(c.App.Writer, "imported model %s: %d tensors, %d kernels into %s\n", m.File.Name, len(m.Graph.Tensors), len(m.Kernels), dir)
		return nil
	}

	var infos []tensorstore.Info
	if st != "" {
		infos, err = scheduler.ImportSafetensors(dir, st, opt)
	} else {
		var in tensorstore.Info
		in, err = scheduler.ImportNPY(dir, np, name, opt)
		infos = []tensorstore.Info{in}
	}
	if errors.Is(err, tensorstore.ErrExists) {
		err = fmt.Errorf("%w (add --replace to replace it)", err)
	}
	for _, in := range infos {
		if in.Name != "" {
			fmt.Fprintf(c.App.Writer, "imported %s %s %v: %d chunks, %s\n", in.Name, shapeString(in.Shape), in.DType,
				in.NumChunks, spill.FormatBytes(in.StoredBytes))
		}
	}
	return err
}

// runImportONNX quantizes an ONNX model, emits its graph (kept at --emit-graph, else in a
// temporary directory) and imports it like --graph.
func runImportONNX(c *cli.Context, dir string) error {
	graph := c.String("emit-graph")
	if graph == "" {
		tmp, err := os.MkdirTemp("", "streamprove-onnx-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		graph = filepath.Join(tmp, "graph.json")
	}
	q, a, err := onnx.ImportFile(c.String("onnx"), c.String("calibrate"), graph, onnx.QuantOptions{Bits: c.Int("bits"), PrivateIDs: c.Bool("private-ids")})
	switch {
	case errors.Is(err, onnx.ErrNotTokenModel):
		return usagef("import: --private-ids: %v", err)
	case errors.Is(err, onnx.ErrNeedCalibration):
		return usagef("import: %v", err)
	}
	if err != nil {
		return err
	}
	if a.Samples == 0 {
		fmt.Fprintf(c.App.Writer, "imported the already-quantized %s: %d integer ops with ONNX Runtime's integer semantics (no calibration)\n", c.String("onnx"), len(q.Ops))
	} else {
		fmt.Fprintf(c.App.Writer, "quantized %s to int%d: %d ops; on the %d calibration samples vs the float model: max |error| %.4g, argmax agreement %.2f%%\n",
			c.String("onnx"), c.Int("bits"), len(q.Ops), a.Samples, a.MaxAbsErr, 100*a.ArgmaxAgree)
	}
	m, err := scheduler.Import(dir, graph, tensorstore.WriteOptions{Replace: true})
	if err != nil {
		return err
	}
	if q.Input.Private {
		fmt.Fprintf(c.App.Writer, "imported model %s: %d tensors, %d kernels into %s (private input %s: the %d --calibrate ids, committed inside each proof, not read by verify; output scale %g)\n",
			m.File.Name, len(m.Graph.Tensors), len(m.Kernels), dir, q.Input.Name, m.Graph.Tensors[q.Input.Name].Len(), q.Output.Scale)
		return nil
	}
	fmt.Fprintf(c.App.Writer, "imported model %s: %d tensors, %d kernels into %s (input: the --calibrate samples, or zeros for a quantized model without them, until prove --input; input scale %g, output scale %g)\n",
		m.File.Name, len(m.Graph.Tensors), len(m.Kernels), dir, q.Input.Scale, q.Output.Scale)
	return nil
}
