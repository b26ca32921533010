package onnx

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/streamprove/streamprove/onnx/internal/onnxpb"
	"github.com/streamprove/streamprove/scheduler"
	"github.com/streamprove/streamprove/spill"
	"github.com/streamprove/streamprove/tensorstore"
)

// loadTokenModel loads testdata/onnx/NAME.onnx (made by make_gpt.py), the token ids in ids (as
// floats, the float reference's input) and PyTorch's logits on them, NAME_logits.npy.
func loadTokenModel(t *testing.T, name, ids string) (*Model, *Tensor, *Tensor) {
	t.Helper()
	m, err := Load(filepath.Join(digitsDir, name+".onnx"))
	if err != nil {
		t.Fatal(err)
	}
	x, err := ReadIDs(filepath.Join(digitsDir, ids))
	if err != nil {
		t.Fatal(err)
	}
	want, err := ReadNPY(filepath.Join(digitsDir, name+"_logits.npy"))
	if err != nil {
		t.Fatal(err)
	}
	return m, x, want
}

// referenceAndQuantize runs m's float reference on ids, requiring PyTorch's logits want within
// 1e-4, then quantizes m with ids as calibration; it returns the quantized model, the float
// reference's worst error and the quantized model's agreement with it on ids.
func referenceAndQuantize(t *testing.T, m *Model, ids, want *Tensor) (*QModel, float64, Agreement) {
	t.Helper()
	out, err := m.Run(map[string]*Tensor{m.Inputs[0].Name: ids})
	if err != nil {
		t.Fatal(err)
	}
	worst := 0.0
	for i, v := range out["logits"].F {
		worst = max(worst, math.Abs(v-want.F[i]))
	}
	if worst > 1e-4 {
		t.Fatalf("max |Go − PyTorch| = %g", worst)
	}
	q, err := Quantize(m, ids, QuantOptions{})
	if err != nil {
		t.Fatal(err)
	}
	a, _, _, err := q.Compare(ids)
	if err != nil {
		t.Fatal(err)
	}
	return q, worst, a
}

// loadGPT loads the tiny GPT, its test ids and PyTorch's logits on them.
func loadGPT(t *testing.T) (*Model, *Tensor, *Tensor) {
	return loadTokenModel(t, "gpt", "gpt_test_ids.npy")
}

// TestGPTReference: the Go float reference reproduces PyTorch's logits of the tiny GPT.
func TestGPTReference(t *testing.T) {
	m, ids, want := loadGPT(t)
	out, err := m.Run(map[string]*Tensor{m.Inputs[0].Name: ids})
	if err != nil {
		t.Fatal(err)
	}
	got := out["logits"]
	if got == nil || !slices.Equal(got.Shape, want.Shape) {
		t.Fatalf("logits shape %v, want %v", got.Shape, want.Shape)
	}
	worst := 0.0
	for i := range got.F {
		worst = max(worst, math.Abs(got.F[i]-want.F[i]))
	}
	t.Logf("gpt: %d nodes %v, max |Go − PyTorch| = %.3g over %d logits", len(m.Nodes), ops(m), worst, len(got.F))
	if worst > 1e-3 {
		t.Fatalf("max abs difference %g > 1e-3", worst)
	}
}

// TestGPTQuantized: the quantized tiny GPT's exact integer forward pass (the graph ops'
// semantics) agrees with the float model's next-token argmax on the test ids.
func TestGPTQuantized(t *testing.T) {
	m, ids, _ := loadGPT(t)
	calib, err := ReadIDs(filepath.Join(digitsDir, "gpt_calib.npy"))
	if err != nil {
		t.Fatal(err)
	}
	q, err := Quantize(m, calib, QuantOptions{})
	if err != nil {
		t.Fatal(err)
	}
	a, _, _, err := q.Compare(ids)
	if err != nil {
		t.Fatal(err)
	}
	errs, err := q.OpErrors(ids)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range errs {
		t.Logf("%-55s max|float| %8.3f  rel err %.4f", e.Value, e.MaxAbs, e.RelErr)
	}
	t.Logf("gpt: %d integer ops; on %d test sequences: argmax agreement %.2f%%, max |error| %.3g", len(q.Ops), a.Samples, 100*a.ArgmaxAgree, a.MaxAbsErr)
	if a.ArgmaxAgree < 0.9 {
		t.Fatalf("argmax agreement %.4f < 0.90", a.ArgmaxAgree)
	}
}

// TestProveGPT: the quantized tiny GPT, emitted as a graph, imports, commits, proves a batch of
// test sequences in a child under a budget (peak RSS checked) and verifies; the proven
// logits equal the Go integer model's bit for bit and their next-token argmax agrees with the
// float model's on ≥ 90% of positions. A flipped proof byte is rejected. 2 sequences with
// -short (64 MiB), all 8 otherwise (128 MiB).
func TestProveGPT(t *testing.T) {
	n := 8
	if testing.Short() {
		n = 2
	}
	m, ids, _ := loadGPT(t)
	calib, err := ReadIDs(filepath.Join(digitsDir, "gpt_calib.npy"))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	q, err := Quantize(m, calib, QuantOptions{})
	if err != nil {
		t.Fatal(err)
	}
	T := ids.Shape[1]
	xs := &Tensor{DType: Float32, Shape: []int{n, T}, F: ids.F[:n*T]}
	dir := t.TempDir()
	g, err := q.Emit(filepath.Join(dir, "graph.json"), xs)
	if err != nil {
		t.Fatal(err)
	}
	st := filepath.Join(dir, "store")
	if _, err := scheduler.Import(st, g, tensorstore.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	importTime := time.Since(start)
	if _, err := scheduler.Commit(st, scheduler.Config{}); err != nil {
		t.Fatal(err)
	}
	proof := filepath.Join(dir, "proof")
	// The plan is a promise: the least budget plan accepts (searched in 2 MiB steps from 48 MiB;
	// the softmax and layernorm steps count every reader their sumchecks hold open) is the one
	// the child proves under, its real peak RSS checked against it.
	budget := int64(48 << 20)
	for ; ; budget += 2 << 20 {
		_, _, perr := scheduler.PlanStore(st, budget)
		if perr == nil {
			break
		}
		if !errors.Is(perr, spill.ErrBudget) || budget > 512<<20 {
			t.Fatalf("plan at %d bytes: %v", budget, perr)
		}
	}
	t.Logf("least planned budget for %d sequences: %s", n, spill.FormatBytes(budget))
	rep := proveInChild(t, st, proof, budget)
	if rep.PeakRSSBytes <= 0 || rep.PeakRSSBytes > budget {
		t.Errorf("peak RSS %d bytes, budget %d", rep.PeakRSSBytes, budget)
	}
	vr, err := scheduler.Verify(st, proof, "")
	if err != nil || !vr.Verified {
		t.Fatalf("verify: %v", err)
	}
	want, err := q.Run(q.QuantizeInput(xs))
	if err != nil {
		t.Fatal(err)
	}
	checkProven(t, vr.Outputs["logits"], want, q.Output.Scale)
	f, err := m.Run(map[string]*Tensor{m.Inputs[0].Name: xs})
	if err != nil {
		t.Fatal(err)
	}
	fa, da := argmaxRows(f["logits"]), argmaxRows(q.Dequantize(want))
	agree := 0
	for i := range fa {
		if fa[i] == da[i] {
			agree++
		}
	}
	t.Logf("gpt, %d×%d tokens: import+quantize %.2fs, prove %.2fs (%.3fs per token, forward %.2fs), peak RSS %.1f MiB (budget %d MiB), proof %d bytes, verify %.2fs; proven next-token argmax agrees with the float model's on %d/%d positions (%.2f%%)",
		n, T, importTime.Seconds(), rep.WallSeconds, rep.WallSeconds/float64(n*T), rep.ForwardSeconds, float64(rep.PeakRSSBytes)/(1<<20), budget>>20, rep.ProofBytes, vr.WallSeconds, agree, len(fa), 100*float64(agree)/float64(len(fa)))
	if float64(agree) < 0.9*float64(len(fa)) {
		t.Errorf("argmax agreement %d/%d < 90%%", agree, len(fa))
	}
	// A flipped byte in the middle of the proof is rejected.
	b, err := os.ReadFile(proof)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0x10
	bad := filepath.Join(dir, "proof.bad")
	if err := os.WriteFile(bad, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if vr, err := scheduler.Verify(st, bad, ""); err == nil && vr.Verified {
		t.Fatal("a proof with a flipped byte verified")
	}
}

// TestGPTOpset13: an (untrained, tiny) GPT exported at opset 13, where LayerNormalization is
// written as ReduceMean/Sub/Pow/ReduceMean/Add/Sqrt/Div/Mul/Add, imports with every LayerNorm
// recognised (no piece of the decomposition left), reproduces PyTorch's logits, and quantizes.
func TestGPTOpset13(t *testing.T) {
	m, ids, want := loadTokenModel(t, "gpt13_tiny", "gpt13_tiny_ids.npy")
	lns := 0
	for _, n := range m.Nodes {
		switch n.Op {
		case opLayerNorm:
			lns++
		case opMeanLast, opSubAct, opSquare, opSqrt:
			t.Fatalf("node %q (%s): a piece of the LayerNorm decomposition was not recognised", n.Name, n.Op)
		}
	}
	if lns != 3 {
		t.Fatalf("%d LayerNorms recognised, want 3 (ops %v)", lns, ops(m))
	}
	_, worst, a := referenceAndQuantize(t, m, ids, want)
	t.Logf("gpt13_tiny: %d nodes, max |Go − PyTorch| = %.3g; quantized: argmax agreement %.2f%% on its own %d sequences", len(m.Nodes), worst, 100*a.ArgmaxAgree, a.Samples)
}

// TestGPTActivations: an (untrained, tiny) GPT at opset 17 whose four FFNs use SiLU (exported
// as x·Sigmoid(x)), Tanh, Sigmoid and GELU's tanh form (exported as its formula) imports with
// each mapped to its lookup kernel, reproduces PyTorch's logits, quantizes, and proves: the
// proof verifies and its logits equal the Go integer model's bit for bit.
func TestGPTActivations(t *testing.T) {
	m, ids, want := loadTokenModel(t, "gpt_act_tiny", "gpt_act_tiny_ids.npy")
	count := map[string]int{}
	for _, n := range m.Nodes {
		count[n.Op]++
	}
	if count[opSilu] != 1 || count[opTanh] != 1 || count[opSigmoid] != 1 || count[opGeluTanh] != 1 || count[opMulAct] != 0 {
		t.Fatalf("activations: %d Silu, %d Tanh, %d Sigmoid, %d GeluTanh, %d MulAct; want one each and no MulAct (ops %v)",
			count[opSilu], count[opTanh], count[opSigmoid], count[opGeluTanh], count[opMulAct], ops(m))
	}
	q, worst, a := referenceAndQuantize(t, m, ids, want)
	if a.ArgmaxAgree < 0.9 {
		t.Errorf("quantized argmax agreement %.2f%% < 90%%", 100*a.ArgmaxAgree)
	}
	kinds := map[string]bool{}
	for _, op := range q.Ops {
		kinds[op.Op] = true
	}
	for _, k := range []string{"silu", "tanh", "sigmoid", "gelu_tanh"} {
		if !kinds[k] {
			t.Fatalf("quantized model has no %s op", k)
		}
	}
	xs := &Tensor{DType: Float32, Shape: []int{2, ids.Shape[1]}, F: ids.F[:2*ids.Shape[1]]}
	_, _, vr := proveEmitted(t, q, xs, 64<<20)
	iw, err := q.Run(q.QuantizeInput(xs))
	if err != nil {
		t.Fatal(err)
	}
	checkProven(t, vr.Outputs["logits"], iw, q.Output.Scale)
	t.Logf("gpt_act_tiny: %d nodes, max |Go − PyTorch| = %.3g; quantized: argmax agreement %.2f%% on its own %d sequences; proof of 2 sequences verifies", len(m.Nodes), worst, 100*a.ArgmaxAgree, a.Samples)
}

// TestGPTLlama: an (untrained, tiny) LLaMA-shaped model at opset 17 — RMSNorm written as
// x·rsqrt(mean(x²) + ε)·γ, rotary embeddings the HF way, a SwiGLU FFN — imports with every
// RMSNorm, RoPE and SwiGLU product recognised (no piece left), reproduces PyTorch's logits,
// quantizes and proves: the proof verifies and its logits equal the Go integer model's bit for
// bit.
func TestGPTLlama(t *testing.T) {
	m, ids, want := loadTokenModel(t, "gpt_llama_tiny", "gpt_llama_tiny_ids.npy")
	count := map[string]int{}
	for _, n := range m.Nodes {
		count[n.Op]++
		switch n.Op {
		case opMeanLast, opSquare, opSqrt, opInvRms, opNeg, opConcatAct, opMulConst, opSlice:
			t.Fatalf("node %q (%s): a piece of an RMSNorm or a RoPE was not recognised (ops %v)", n.Name, n.Op, ops(m))
		}
	}
	// 2 blocks: 2 RMSNorms each and the final one; RoPE on q and k; one SwiGLU product each.
	if count[opRMSNorm] != 5 || count[opRope] != 4 || count[opMulAct] != 2 || count[opSilu] != 2 {
		t.Fatalf("%d RMSNorm, %d Rope, %d MulAct, %d Silu; want 5, 4, 2, 2 (ops %v)", count[opRMSNorm], count[opRope], count[opMulAct], count[opSilu], ops(m))
	}
	q, worst, a := referenceAndQuantize(t, m, ids, want)
	if testing.Verbose() {
		errs, err := q.OpErrors(ids)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range errs {
			t.Logf("%-55s max|float| %8.3f  rel err %.4f", e.Value, e.MaxAbs, e.RelErr)
		}
	}
	if a.ArgmaxAgree < 0.9 {
		t.Errorf("quantized argmax agreement %.2f%% < 90%%", 100*a.ArgmaxAgree)
	}
	kinds := map[string]int{}
	for _, op := range q.Ops {
		kinds[op.Op]++
	}
	if kinds["rmsnorm"] != 5 || kinds["mul"] != 2+4*2 || kinds["silu"] != 2 {
		t.Fatalf("quantized ops %v: want 5 rmsnorm, 10 mul (2 SwiGLU, 2 per RoPE), 2 silu", kinds)
	}
	// rotate_half is proven on q itself (two slices, a scale by −1, a concat per RoPE), not folded
	// into extra weights: 7 linear layers per block (q, k, v, o, three of the FFN) and the head.
	if kinds["concat"] != 4 || kinds["slice"] < 8 || kinds["linear"] != 2*7+1 {
		t.Fatalf("quantized ops %v: want 4 concat, at least 8 slices, 15 linear", kinds)
	}
	for _, op := range q.Ops {
		if op.Op == "scale" && strings.HasSuffix(op.Name, ".rh.neg") && (len(op.Multipliers) != 1 || op.Multipliers[0] != -1) {
			t.Fatalf("op %q scales by %v, want −1", op.Name, op.Multipliers)
		}
	}
	xs := &Tensor{DType: Float32, Shape: []int{2, ids.Shape[1]}, F: ids.F[:2*ids.Shape[1]]}
	dir := t.TempDir()
	g, err := q.Emit(filepath.Join(dir, "graph.json"), xs)
	if err != nil {
		t.Fatal(err)
	}
	st := filepath.Join(dir, "store")
	if _, err := scheduler.Import(st, g, tensorstore.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := scheduler.Commit(st, scheduler.Config{}); err != nil {
		t.Fatal(err)
	}
	proof := filepath.Join(dir, "proof")
	start := time.Now()
	if _, err := scheduler.Prove(st, proof, scheduler.Config{MemBudget: 64 << 20}); err != nil {
		t.Fatal(err)
	}
	proveTime := time.Since(start)
	vr, err := scheduler.Verify(st, proof, "")
	if err != nil || !vr.Verified {
		t.Fatalf("verify: %v", err)
	}
	iw, err := q.Run(q.QuantizeInput(xs))
	if err != nil {
		t.Fatal(err)
	}
	checkProven(t, vr.Outputs["logits"], iw, q.Output.Scale)
	fi, err := os.Stat(proof)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("gpt_llama_tiny: %d nodes, max |Go − PyTorch| = %.3g; quantized (%d ops): argmax agreement %.2f%% on its own %d sequences; proof of 2 sequences (%d bytes, prove %.2fs at 64 MiB, verify %.2fs) verifies, proven logits = integer model's",
		len(m.Nodes), worst, len(q.Ops), 100*a.ArgmaxAgree, a.Samples, fi.Size(), proveTime.Seconds(), vr.WallSeconds)
}

// TestGPTLlamaRefusals: variants of gpt_llama_tiny the importer does not map fail with the node,
// its op and the reason, never as a wrong model: an RMSNorm whose mean is over a non-last axis
// (refused at import), and rotate_half written cat(x1, −x2) (not a RoPE: the float model runs
// it, the quantizer refuses its pieces).
func TestGPTLlamaRefusals(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(digitsDir, "gpt_llama_tiny.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	ids, err := ReadIDs(filepath.Join(digitsDir, "gpt_llama_tiny_ids.npy"))
	if err != nil {
		t.Fatal(err)
	}
	variant := func(edit func(n *onnxpb.NodeProto)) []byte {
		mp := &onnxpb.ModelProto{}
		if err := proto.Unmarshal(raw, mp); err != nil {
			t.Fatal(err)
		}
		for _, n := range mp.Graph.Node {
			edit(n)
		}
		b, err := proto.Marshal(mp)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	// The first RMSNorm's mean over axis 1 (the tokens) instead of the last.
	axis := variant(func(n *onnxpb.NodeProto) {
		if n.GetName() == "/blocks/blocks.0/attn_norm/ReduceMean" {
			n.Attribute = []*onnxpb.AttributeProto{attrIs("axes", 1), attrI("keepdims", 1)}
		}
	})
	m, err := Decode(axis)
	if m != nil || !errors.Is(err, ErrUnsupported) {
		t.Fatalf("mean over axis 1: got model %v, err %v; want ErrUnsupported", m != nil, err)
	}
	for _, w := range []string{`node "/blocks/blocks.0/attn_norm/ReduceMean" (ReduceMean)`, "only a mean over the last axis"} {
		if !strings.Contains(err.Error(), w) {
			t.Fatalf("error %q does not say %q", err, w)
		}
	}
	// q's rotate_half as cat(q[..., :d/2], −q[..., d/2:]): the Concat's inputs swapped.
	swapped := variant(func(n *onnxpb.NodeProto) {
		if n.GetName() == "/blocks/blocks.0/Concat_3" {
			n.Input[0], n.Input[1] = n.Input[1], n.Input[0]
		}
	})
	m, err = Decode(swapped)
	if err != nil {
		t.Fatalf("the swapped rotate_half imports as its pieces: %v", err)
	}
	if _, err := m.Run(map[string]*Tensor{m.Inputs[0].Name: ids}); err != nil {
		t.Fatalf("float reference of the swapped rotate_half: %v", err)
	}
	q, err := Quantize(m, ids, QuantOptions{})
	if q != nil || !errors.Is(err, ErrUnsupported) {
		t.Fatalf("swapped rotate_half: got model %v, err %v; want ErrUnsupported", q != nil, err)
	}
	for _, w := range []string{`node "/blocks/blocks.0/`, "(MulConst)", "RoPE"} {
		if !strings.Contains(err.Error(), w) {
			t.Fatalf("error %q does not say %q", err, w)
		}
	}
	t.Logf("refused: %v", err)
}
