#!/usr/bin/python3
"""Make the tiny-GPT ONNX test model of streamprove's importer (issue 15).

Trains a small character-level GPT (2 pre-LayerNorm blocks, d_model 64, 4 heads, ffn 256,
context 32, causal attention, GELU with erf, learned positional embedding, LM head) on the GPL-3
text that Debian ships in /usr/share/common-licenses, exports it with torch.onnx.export at
opset 17 with int64 token ids [batch, seq] (dynamic batch), and writes calibration ids, test ids
and PyTorch's float logits on the test ids as .npy files. CI does not run this; it uses the
committed results.

Needs Debian's python3-torch python3-onnx (run with /usr/bin/python3 from this directory):
    /usr/bin/python3 make_gpt.py            (all models; --tiny13 for the opset-13 one only,
                                             --tinyact for the SiLU/Tanh/Sigmoid one only,
                                             --tinyllama for the LLaMA-shaped one only)
"""
import math

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F

SEED = 15
TEXT = "/usr/share/common-licenses/GPL-3"
CTX, D, HEADS, FFN, LAYERS = 32, 64, 4, 256, 2
STEPS, BATCH = 2500, 32
N_CALIB, N_TEST = 16, 8

torch.manual_seed(SEED)
np.random.seed(SEED)
torch.set_num_threads(1)


class Block(nn.Module):
    def __init__(self, d=D, heads=HEADS, ffn=FFN, ctx=CTX, act=None):
        super().__init__()
        self.d, self.heads = d, heads
        self.ln1 = nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.ln2 = nn.LayerNorm(d)
        self.fc = nn.Linear(d, ffn)
        self.gelu = act if act is not None else nn.GELU()
        self.out = nn.Linear(ffn, d)
        self.register_buffer("mask", torch.tril(torch.ones(ctx, ctx)).view(1, 1, ctx, ctx))

    def attn(self, x):
        # nanoGPT's shape handling: B, T from x.size() export as Shape -> Gather -> Unsqueeze ->
        # Concat -> Reshape subgraphs, the masked_fill as Equal/Where with a constant mask.
        B, T, C = x.size()
        H = self.heads
        q, k, v = self.qkv(x).split(self.d, dim=2)
        q = q.view(B, T, H, C // H).transpose(1, 2)
        k = k.view(B, T, H, C // H).transpose(1, 2)
        v = v.view(B, T, H, C // H).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(C // H))
        att = att.masked_fill(self.mask[:, :, :T, :T] == 0, float("-inf"))
        att = F.softmax(att, dim=-1)
        y = (att @ v).transpose(1, 2).contiguous().view(B, T, C)
        return self.proj(y)

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.out(self.gelu(self.fc(self.ln2(x))))


class GPT(nn.Module):
    def __init__(self, vocab, d=D, heads=HEADS, ffn=FFN, ctx=CTX, layers=LAYERS, acts=None):
        super().__init__()
        self.tok = nn.Embedding(vocab, d)
        self.pos = nn.Parameter(torch.zeros(1, ctx, d))
        acts = acts or [None] * layers
        self.blocks = nn.Sequential(*[Block(d, heads, ffn, ctx, acts[i]) for i in range(layers)])
        self.ln_f = nn.LayerNorm(d)
        self.head = nn.Linear(d, vocab, bias=False)
        nn.init.normal_(self.pos, std=0.02)

    def forward(self, ids):
        x = self.tok(ids) + self.pos
        return self.head(self.ln_f(self.blocks(x)))


class RMSNorm(nn.Module):
    """RMSNorm written the LLaMA way (exports as Pow/ReduceMean/Add/Sqrt/Div/Mul/Mul)."""
    def __init__(self, d, eps=1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(d))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


class LlamaBlock(nn.Module):
    def __init__(self, d, heads, ffn, ctx):
        super().__init__()
        self.d, self.heads = d, heads
        dh = d // heads
        self.attn_norm = RMSNorm(d)
        self.wq = nn.Linear(d, d, bias=False)
        self.wk = nn.Linear(d, d, bias=False)
        self.wv = nn.Linear(d, d, bias=False)
        self.wo = nn.Linear(d, d, bias=False)
        self.ffn_norm = RMSNorm(d)
        self.w1 = nn.Linear(d, ffn, bias=False)
        self.w2 = nn.Linear(ffn, d, bias=False)
        self.w3 = nn.Linear(d, ffn, bias=False)
        # HF's rotary cache: cos/sin [ctx, dh] of t·θ_i, θ repeated over the two halves.
        inv = 1.0 / (10000 ** (torch.arange(0, dh, 2).float() / dh))
        f = torch.outer(torch.arange(ctx).float(), inv)
        emb = torch.cat((f, f), dim=-1)
        self.register_buffer("cos_cached", emb.cos())
        self.register_buffer("sin_cached", emb.sin())
        self.register_buffer("mask", torch.tril(torch.ones(ctx, ctx)).view(1, 1, ctx, ctx))

    def attn(self, x):
        B, T, C = x.size()
        H = self.heads
        q = self.wq(x).view(B, T, H, C // H).transpose(1, 2)
        k = self.wk(x).view(B, T, H, C // H).transpose(1, 2)
        v = self.wv(x).view(B, T, H, C // H).transpose(1, 2)
        cos, sin = self.cos_cached[:T], self.sin_cached[:T]
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(C // H))
        att = att.masked_fill(self.mask[:, :, :T, :T] == 0, float("-inf"))
        att = F.softmax(att, dim=-1)
        y = (att @ v).transpose(1, 2).contiguous().view(B, T, C)
        return self.wo(y)

    def forward(self, x):
        h = x + self.attn(self.attn_norm(x))
        g = self.ffn_norm(h)
        return h + self.w2(F.silu(self.w1(g)) * self.w3(g))


class Llama(nn.Module):
    def __init__(self, vocab, d, heads, ffn, ctx, layers):
        super().__init__()
        self.tok = nn.Embedding(vocab, d)
        self.blocks = nn.Sequential(*[LlamaBlock(d, heads, ffn, ctx) for _ in range(layers)])
        self.norm = RMSNorm(d)
        self.head = nn.Linear(d, vocab, bias=False)

    def forward(self, ids):
        return self.head(self.norm(self.blocks(self.tok(ids))))


def main():
    text = open(TEXT, "rb").read()
    chars = sorted(set(text))
    lut = {c: i for i, c in enumerate(chars)}
    data = np.array([lut[c] for c in text], dtype=np.int64)
    split = int(len(data) * 0.9)
    train, held = data[:split], data[split:]

    model = GPT(len(chars))
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, STEPS)
    for step in range(STEPS):
        ix = np.random.randint(0, len(train) - CTX - 1, BATCH)
        x = torch.from_numpy(np.stack([train[i:i + CTX] for i in ix]))
        y = torch.from_numpy(np.stack([train[i + 1:i + CTX + 1] for i in ix]))
        loss = F.cross_entropy(model(x).reshape(-1, len(chars)), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if step % 500 == 0:
            print(f"step {step} loss {loss.item():.3f}", flush=True)
    model.eval()

    calib_ix = np.random.randint(0, len(train) - CTX, N_CALIB)
    calib = np.stack([train[i:i + CTX] for i in calib_ix])
    test_ix = np.linspace(0, len(held) - CTX - 1, N_TEST).astype(np.int64)
    test = np.stack([held[i:i + CTX] for i in test_ix])
    target = np.stack([held[i + 1:i + CTX + 1] for i in test_ix])
    with torch.no_grad():
        logits = model(torch.from_numpy(test)).numpy().astype(np.float32)
    acc = float((logits.argmax(-1) == target).mean())

    torch.onnx.export(model, torch.from_numpy(test[:2]), "gpt.onnx", input_names=["ids"],
                      output_names=["logits"],
                      dynamic_axes={"ids": {0: "batch"}, "logits": {0: "batch"}},
                      opset_version=17)
    m = onnx.load("gpt.onnx")
    onnx.checker.check_model(m)
    np.save("gpt_calib.npy", calib)
    np.save("gpt_test_ids.npy", test)
    np.save("gpt_logits.npy", logits)
    params = sum(p.numel() for p in model.parameters())
    print(f"gpt: {params} parameters, vocab {len(chars)}, final loss {loss.item():.3f}, "
          f"held-out next-char accuracy {acc:.4f} on {N_TEST}x{CTX} positions; "
          f"ops {sorted({n.op_type for n in m.graph.node})}")


def export_tiny(model, name, ids_seed, n_seq, opset):
    """Perturb an untrained tiny model's parameters by 0.1·randn (so γ, β and the rest are not
    trivial), run it on n_seq random sequences of 8 ids in [0, 10), export it with a dynamic
    batch at opset, and save NAME.onnx, NAME_ids.npy and PyTorch's NAME_logits.npy."""
    model = model.eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.1 * torch.randn_like(p))
    ids = torch.from_numpy(np.random.RandomState(ids_seed).randint(0, 10, (n_seq, 8)).astype(np.int64))
    with torch.no_grad():
        logits = model(ids).numpy().astype(np.float32)
    torch.onnx.export(model, ids[:2], name + ".onnx", input_names=["ids"], output_names=["logits"],
                      dynamic_axes={"ids": {0: "batch"}, "logits": {0: "batch"}}, opset_version=opset)
    m = onnx.load(name + ".onnx")
    onnx.checker.check_model(m)
    np.save(name + "_ids.npy", ids.numpy())
    np.save(name + "_logits.npy", logits)
    print(f"{name}: ops {sorted({n.op_type for n in m.graph.node})}")


def tiny_opset13():
    """An untrained 1-block GPT (d 16, 2 heads, context 8, vocab 10) exported at opset 13, where
    LayerNormalization is written as ReduceMean/Sub/Pow/ReduceMean/Add/Sqrt/Div/Mul/Add: a few KB
    that test the importer's recognition of that decomposition against PyTorch's logits."""
    torch.manual_seed(SEED + 13)
    export_tiny(GPT(10, d=16, heads=2, ffn=32, ctx=8, layers=1), "gpt13_tiny", SEED, 3, 13)


def tiny_acts():
    """An untrained 4-block GPT (d 16, 2 heads, context 8, vocab 10) at opset 17 whose FFNs use
    SiLU (exported as x·Sigmoid(x)), Tanh, Sigmoid and GELU's tanh form (exported as its
    formula): the importer's other activations against PyTorch's logits."""
    torch.manual_seed(SEED + 17)
    model = GPT(10, d=16, heads=2, ffn=32, ctx=8, layers=4,
                acts=[nn.SiLU(), nn.Tanh(), nn.Sigmoid(), nn.GELU(approximate="tanh")])
    export_tiny(model, "gpt_act_tiny", SEED + 1, 8, 17)


def tiny_llama():
    """An untrained 2-block LLaMA-shaped model (d 16, 2 heads, SwiGLU ffn 32, context 8, vocab 10)
    at opset 17: RMSNorm written as x·rsqrt(mean(x²) + ε)·γ, rotary embeddings the HF way
    (q·cos + rotate_half(q)·sin, cos/sin sliced from buffers), no biases, final RMSNorm and LM
    head: the importer's RMSNorm, SwiGLU and RoPE recognition against PyTorch's logits."""
    torch.manual_seed(SEED + 23)
    export_tiny(Llama(10, d=16, heads=2, ffn=32, ctx=8, layers=2), "gpt_llama_tiny", SEED + 2, 8, 17)


if __name__ == "__main__":
    import sys
    if sys.argv[1:] == ["--tiny13"]:
        tiny_opset13()
    elif sys.argv[1:] == ["--tinyact"]:
        tiny_acts()
    elif sys.argv[1:] == ["--tinyllama"]:
        tiny_llama()
    else:
        main()
        tiny_opset13()
        tiny_acts()
        tiny_llama()
