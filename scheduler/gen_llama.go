package scheduler

import (
	"fmt"
	"hash/fnv"
	"math"
	"math/bits"
	"math/rand/v2"

	"github.com/streamprove/streamprove/gkr"
	"github.com/streamprove/streamprove/tensorstore"
)

// LlamaSpec describes a synthetic LLaMA-shaped int8 model: Layers decoder blocks of width Dim
// with Heads attention heads (head dim Dim/Heads, a power of two so the head split is a free
// relabeling) and a SwiGLU FFN of width FFN, an embedding and LM head over Vocab tokens, and a
// prompt of Seq public token ids.
type LlamaSpec struct {
	Layers, Dim, Heads, FFN, Vocab, Seq int
	Seed                                uint64
}

// ropeScale is the fixed-point scale of the public cos/sin tables (values in [−127, 127]).
const ropeScale = 7

// GenLlama writes a LLaMA-shaped model into a store — every tensor generated row by row, never
// whole in RAM — and records its graph, ready for `commit` and `prove`. The graph, per block:
//
//	xn = rmsnorm(h, γ_attn)                                  int16 (shift 16: |xn| ≤ √D·127/2)
//	q  = requant(xn·Wqᵀ)                                     int8; likewise k, v
//	qr = requant(q∘cos + rotate_half(q)∘sin, 7)              RoPE (see below)
//	qh = transpose(reshape(qr, [T, H, dh]), [1, 0, 2])       [H, T, dh], free relabelings
//	p  = softmax_causal(requant(qh·khᵀ))                     [H, T, T], 8 fraction bits
//	o  = requant(p·vh, 8) → transpose → reshape [T, D] → requant(·Woᵀ)
//	h  = h + o
//	xn = rmsnorm(h, γ_ffn);  f = requant(silu(requant(xn·W1ᵀ)) ∘ requant(xn·W3ᵀ), 8)
//	h  = h + requant(f·W2ᵀ)
//
// then logits = rmsnorm(h, γ_final)·W_headᵀ (the public output, [T, Vocab]) after
// h = gather(W_emb, ids).
//
// RoPE is elementwise products with public constant tables cos[t, i] = round(127·cos(t·θ_i)),
// sin likewise (θ_i = 10000^(−2(i mod dh/2)/dh), inputs of the graph the verifier reads):
// rot(q) = q∘cos + rotate_half(q)∘sin. rotate_half (a swap of each head's halves, the new first
// half negated) is proven on the activation: q viewed as [T, H, dh], two slices of the last axis,
// a scale by −1 and a concat — four kernels over T·D elements, where folding it into a second
// weight Wq' = rotate_half of Wq's rows (what this generator did before) cost two more D×D
// products per block and left Wq' a committed weight the proof did not tie to Wq.
func GenLlama(storeDir string, spec LlamaSpec) (*Model, error) {
	if spec.Layers < 1 || spec.Dim < 1 || spec.Heads < 1 || spec.FFN < 1 || spec.Vocab < 1 || spec.Seq < 1 {
		return nil, fmt.Errorf("gen: --layers, --dim, --heads, --ffn, --vocab and --seq must be positive (got %d, %d, %d, %d, %d, %d)",
			spec.Layers, spec.Dim, spec.Heads, spec.FFN, spec.Vocab, spec.Seq)
	}
	if spec.Dim%spec.Heads != 0 {
		return nil, fmt.Errorf("gen: --dim %d is not a multiple of --heads %d", spec.Dim, spec.Heads)
	}
	dh := spec.Dim / spec.Heads
	if dh < 2 || dh&(dh-1) != 0 {
		return nil, fmt.Errorf("gen: head dim --dim/--heads = %d must be a power of two ≥ 2 (the head split is then a free relabeling)", dh)
	}
	T, D, H, F := spec.Seq, spec.Dim, spec.Heads, spec.FFN
	b := NewGraphBuilder(fmt.Sprintf("llama-%dL-d%d-h%d-f%d-v%d-t%d", spec.Layers, D, H, F, spec.Vocab, T))
	i8 := tensorstore.Int8
	b.Tensor("ids", gkr.Input, []int{T}, tensorstore.Int32)
	b.Tensor("rope.cos", gkr.Input, []int{T, D}, i8)
	b.Tensor("rope.sin", gkr.Input, []int{T, D}, i8)
	b.Tensor("embed", gkr.Weight, []int{spec.Vocab, D}, i8)
	shD, shF := requantShift(D, 127, 8), requantShift(F, 127, 8)
	node := func(op, name string, in []string, attrs Attrs) string {
		b.Node(op, name, in, name, attrs)
		return name
	}
	weight := func(name string, shape ...int) string {
		b.Tensor(name, gkr.Weight, shape, i8)
		return name
	}
	rq := func(name, in string, shift, bits int) string {
		return node("requant", name, []string{in}, Attrs{"shift": shift, "bits": bits})
	}
	h := node("gather", "embed.out", []string{"embed", "ids"}, nil)
	for l := 0; l < spec.Layers; l++ {
		p := fmt.Sprintf("l%d.", l)
		xn := node("rmsnorm", p+"attn_norm", []string{h, weight(p+"attn_norm.g", D)}, Attrs{"shift": 16})
		proj := func(n string) string {
			return rq(p+n+".q", node("linear", p+n, []string{xn, weight(p+n+".w", D, D)}, nil), shD, 8)
		}
		heads := func(n, x string) string {
			r := node("reshape", p+n+".heads", []string{x}, Attrs{"shape": []int{T, H, dh}})
			return node("transpose", p+n+".split", []string{r}, Attrs{"perm": []int{1, 0, 2}})
		}
		rope := func(n string) string {
			q := proj(n)
			// rotate_half per head: [T, D] as [T, H, dh], the halves of dh swapped, the new
			// first half negated, back to [T, D] (the reshapes are free relabelings).
			r := node("reshape", p+n+".rh", []string{q}, Attrs{"shape": []int{T, H, dh}})
			hi := node("slice", p+n+".rh.hi", []string{r}, Attrs{"starts": []int{dh / 2}, "ends": []int{dh}, "axes": []int{2}})
			lo := node("slice", p+n+".rh.lo", []string{r}, Attrs{"starts": []int{0}, "ends": []int{dh / 2}, "axes": []int{2}})
			neg := node("scale", p+n+".rh.neg", []string{hi}, Attrs{"factor": -1})
			cat := node("concat", p+n+".rh.cat", []string{neg, lo}, Attrs{"axis": 2})
			qrot := node("reshape", p+n+".rh.flat", []string{cat}, Attrs{"shape": []int{T, D}})
			a := node("mul", p+n+".cos", []string{q, "rope.cos"}, nil)
			c := node("mul", p+n+".sin", []string{qrot, "rope.sin"}, nil)
			return rq(p+n+".rope", node("add", p+n+".rot", []string{a, c}, nil), ropeScale, 8)
		}
		qh, kh, vh := heads("wq", rope("wq")), heads("wk", rope("wk")), heads("wv", proj("wv"))
		s := rq(p+"scores.q", node("matmul_bt", p+"scores", []string{qh, kh}, nil), (bits.Len(uint(dh))+1)/2+1, 14)
		pr := node("softmax_causal", p+"softmax", []string{s}, Attrs{"shift": 8, "bits": 8})
		o := rq(p+"attn.q", node("matmul", p+"attn", []string{pr, vh}, nil), 8, 8)
		o = node("transpose", p+"attn.merge", []string{o}, Attrs{"perm": []int{1, 0, 2}})
		o = node("reshape", p+"attn.flat", []string{o}, Attrs{"shape": []int{T, D}})
		o = rq(p+"wo.q", node("linear", p+"wo", []string{o, weight(p+"wo.w", D, D)}, nil), shD, 8)
		h = node("add", p+"attn_res", []string{h, o}, nil)
		xn = node("rmsnorm", p+"ffn_norm", []string{h, weight(p+"ffn_norm.g", D)}, Attrs{"shift": 16})
		gate := rq(p+"w1.q", node("linear", p+"w1", []string{xn, weight(p+"w1.w", F, D)}, nil), shD-2, 12)
		gate = node("silu", p+"silu", []string{gate}, Attrs{"shift": 6, "bits": 12})
		up := rq(p+"w3.q", node("linear", p+"w3", []string{xn, weight(p+"w3.w", F, D)}, nil), shD, 8)
		f := rq(p+"glu.q", node("mul", p+"glu", []string{gate, up}, nil), 8, 8)
		f = rq(p+"w2.q", node("linear", p+"w2", []string{f, weight(p+"w2.w", D, F)}, nil), shF, 8)
		h = node("add", p+"ffn_res", []string{h, f}, nil)
	}
	xn := node("rmsnorm", "final_norm", []string{h, weight("final_norm.g", D)}, Attrs{"shift": 16})
	b.Output("logits")
	b.Node("linear", "lm_head", []string{xn, weight("lm_head.w", spec.Vocab, D)}, "logits", nil)
	m, err := b.Build()
	if err != nil {
		return nil, fmt.Errorf("gen: %w", err)
	}
	s, err := tensorstore.Open(storeDir)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	if err := s.DeleteMeta(metaModel, keyGraph); err != nil {
		return nil, err
	}
	g := rowGen{seed: spec.Seed}
	for _, name := range sortedKeys(m.DTypes) {
		shape := m.Graph.Tensors[name].Shape
		var err error
		switch {
		case name == "ids":
			rng := rand.New(rand.NewPCG(spec.Seed, 0x1d5))
			err = writeRows(s, name, shape, tensorstore.Int32, func(_ int, row []int64) {
				for i := range row {
					row[i] = rng.Int64N(int64(spec.Vocab))
				}
			})
		case name == "rope.cos" || name == "rope.sin":
			trig := math.Cos
			if name == "rope.sin" {
				trig = math.Sin
			}
			err = writeRows(s, name, shape, i8, func(t int, row []int64) {
				for i := range row {
					theta := math.Pow(10000, -2*float64(i%dh%(dh/2))/float64(dh))
					row[i] = int64(math.Round(127 * trig(float64(t)*theta)))
				}
			})
		default:
			err = writeRows(s, name, shape, m.DTypes[name], func(r int, row []int64) { g.row(name, r, row) })
		}
		if err != nil {
			return nil, err
		}
	}
	if err := saveModel(s, m); err != nil {
		return nil, err
	}
	return m, nil
}

// rowGen draws the rows of a random int8 weight in [−127, 127] from a generator seeded by the
// tensor's name and the row, so that every row is the same whatever order the tensors are written in.
type rowGen struct{ seed uint64 }

func (g rowGen) row(name string, r int, row []int64) {
	f := fnv.New64a()
	f.Write([]byte(name))
	rng := rand.New(rand.NewPCG(g.seed^f.Sum64(), uint64(r)))
	for i := range row {
		row[i] = rng.Int64N(255) - 127
	}
}

// writeRows writes a tensor of shape [rows, cols...] one row at a time (a 1-D tensor is one
// row), fill computing each.
func writeRows(s *tensorstore.Store, name string, shape []int, dt tensorstore.DType, fill func(r int, row []int64)) error {
	rows, cols := 1, int(gkr.Numel(shape))
	if len(shape) > 1 {
		rows, cols = shape[0], int(gkr.Numel(shape[1:]))
	}
	w, err := s.Create(name, shape, dt, tensorstore.WriteOptions{Replace: true})
	if err != nil {
		return err
	}
	row := make([]int64, cols)
	for r := 0; r < rows; r++ {
		fill(r, row)
		if err := w.WriteInt64s(row); err != nil {
			w.Abort()
			return fmt.Errorf("gen %q: %w", name, err)
		}
	}
	_, err = w.Commit()
	return err
}
