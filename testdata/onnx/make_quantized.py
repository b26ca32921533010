#!/usr/bin/python3
"""Make the already-quantized ONNX test models of streamprove's importer.

Builds small quantized models with onnx.helper (QDQ pairs around Conv/Relu/MaxPool/Gemm/MatMul and
residual Adds, QLinearConv, QLinearMatMul, ConvInteger, MatMulInteger) with small seeded random weights, takes
16 digits test images (cnn_test_x.npy, mlp_test_x.npy from make_digits.py) as their input, and
writes each model's expected integer output computed by a NumPy reimplementation of ONNX
Runtime's integer semantics (int32 accumulation of (x - x_zp)(w - w_zp) plus the int32 bias;
requantization y = saturate(round_half_even(float32(acc) * s) + y_zp) with
s = float32(float32(x_scale * w_scale) / y_scale), multiplied in float32 as MLAS does;
QuantizeLinear y = saturate(round_half_even(float32(x / scale)) + zp); a QDQ Add as the QLinearAdd
ORT fuses it into, computed as MLAS's AVX2 kernel does, see qlinear_add_mlas). There is no onnxruntime
here: the NumPy functions below are the reference. CI does not run this; it uses the committed
files. Needs Debian's python3-onnx (1.12) and python3-numpy:  /usr/bin/python3 make_quantized.py
"""
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

RNG = np.random.default_rng(1313)
N = 16
F32 = np.float32


def q_input(x, s, zp, dt):
    lo, hi = (0, 255) if dt == np.uint8 else (-128, 127)
    v = np.rint(x.astype(F32) / F32(s)).astype(np.int64) + zp
    return np.clip(v, lo, hi).astype(np.int64)


def requant(acc, scale, zp, dt):
    """acc int64 [..., C, ...] with scale broadcastable; ORT/MLAS float32 requantization."""
    lo, hi = (0, 255) if dt == np.uint8 else (-128, 127)
    v = acc.astype(F32) * scale.astype(F32)
    assert v.dtype == F32
    return np.clip(np.rint(v).astype(np.int64) + zp, lo, hi)


def scales(xs, ws, ys):
    return (F32(xs) * np.asarray(ws, F32)).astype(F32) / F32(ys)


def conv_int(x, zx, w, zw, b, pads):
    """x int [N,C,H,W], w int [O,C,kh,kw], zw per O; ORT pads with x's zero point."""
    xp = np.pad(x, ((0, 0), (0, 0), (pads, pads), (pads, pads)), constant_values=zx) - zx
    wc = w - np.asarray(zw).reshape(-1, 1, 1, 1)
    n, c, h, wd = xp.shape
    o, _, kh, kw = w.shape
    out = np.zeros((n, o, h - kh + 1, wd - kw + 1), np.int64)
    for i in range(kh):
        for j in range(kw):
            out += np.einsum("nchw,oc->nohw", xp[:, :, i:i + out.shape[2], j:j + out.shape[3]], wc[:, :, i, j])
    if b is not None:
        out += b.reshape(1, -1, 1, 1)
    return out


def maxpool2(x):
    n, c, h, w = x.shape
    return x[:, :, :h // 2 * 2, :w // 2 * 2].reshape(n, c, h // 2, 2, w // 2, 2).max(axis=(3, 5))


def init(name, a, dt=None):
    a = np.asarray(a)
    if dt is not None:
        a = a.astype(dt)
    return numpy_helper.from_array(a, name)


def save(name, nodes, inits, xshape, out_type, out_shape, x, expected):
    g = helper.make_graph(nodes, name,
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch"] + xshape)],
                          [helper.make_tensor_value_info("y", out_type, ["batch"] + out_shape)], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)], producer_name="make_quantized.py")
    onnx.checker.check_model(m)
    onnx.save(m, name + ".onnx")
    np.save(name + "_x.npy", x.astype(F32))
    np.save(name + "_expected.npy", expected.astype(np.int64))
    print(name, expected.shape, "expected range", expected.min(), expected.max())


def qw(shape, per_channel_axis=None):
    """Symmetric int8 weights with float32 scales (per channel when an axis is given)."""
    w = RNG.normal(0, 0.5, size=shape).astype(F32)
    if per_channel_axis is None:
        s = F32(np.abs(w).max() / 127)
        return np.clip(np.rint(w / s), -127, 127).astype(np.int8), np.asarray(s, F32)
    red = tuple(i for i in range(w.ndim) if i != per_channel_axis)
    s = (np.abs(w).max(axis=red) / 127).astype(F32)
    sh = [1] * w.ndim
    sh[per_channel_axis] = -1
    return np.clip(np.rint(w / s.reshape(sh)), -127, 127).astype(np.int8), s


def qdq_cnn(x):
    """QDQ, uint8 activations with zero points (ONNX Runtime's quantize_static default), int8
    per-channel weights: Q -> DQ -> Conv(pad 1) -> Relu -> Q -> DQ -> MaxPool -> Q -> DQ ->
    Flatten -> Q -> DQ -> Gemm -> Q -> DQ."""
    s_in, z_in = F32(1 / 255), 0
    w1, s1 = qw((4, 1, 3, 3), 0)
    b1 = RNG.integers(-2000, 2000, size=4).astype(np.int32)
    s_a, z_a = F32(0.021), 3  # Relu output: zero point near the bottom, as a calibrator picks
    w2, s2 = qw((10, 64))
    b2 = RNG.integers(-3000, 3000, size=10).astype(np.int32)
    s_y, z_y = F32(0.047), 131
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "s_in", "z_in"], ["xq"], name="x_q"),
        helper.make_node("DequantizeLinear", ["xq", "s_in", "z_in"], ["xd"], name="x_dq"),
        helper.make_node("DequantizeLinear", ["w1q", "s1"], ["w1d"], name="w1_dq", axis=0),
        helper.make_node("DequantizeLinear", ["b1q", "s_b1"], ["b1d"], name="b1_dq", axis=0),
        helper.make_node("Conv", ["xd", "w1d", "b1d"], ["c1"], name="conv1", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
        helper.make_node("QuantizeLinear", ["r1", "s_a", "z_a"], ["r1q"], name="r1_q"),
        helper.make_node("DequantizeLinear", ["r1q", "s_a", "z_a"], ["r1d"], name="r1_dq"),
        helper.make_node("MaxPool", ["r1d"], ["p1"], name="pool1", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("QuantizeLinear", ["p1", "s_a", "z_a"], ["p1q"], name="p1_q"),
        helper.make_node("DequantizeLinear", ["p1q", "s_a", "z_a"], ["p1d"], name="p1_dq"),
        helper.make_node("Flatten", ["p1d"], ["f1"], name="flatten"),
        helper.make_node("QuantizeLinear", ["f1", "s_a", "z_a"], ["f1q"], name="f1_q"),
        helper.make_node("DequantizeLinear", ["f1q", "s_a", "z_a"], ["f1d"], name="f1_dq"),
        helper.make_node("DequantizeLinear", ["w2q", "s2"], ["w2d"], name="w2_dq"),
        helper.make_node("DequantizeLinear", ["b2q", "s_b2"], ["b2d"], name="b2_dq"),
        helper.make_node("Gemm", ["f1d", "w2d", "b2d"], ["g"], name="fc", transB=1),
        helper.make_node("QuantizeLinear", ["g", "s_y", "z_y"], ["gq"], name="y_q"),
        helper.make_node("DequantizeLinear", ["gq", "s_y", "z_y"], ["y"], name="y_dq"),
    ]
    inits = [init("s_in", s_in), init("z_in", z_in, np.uint8), init("w1q", w1), init("s1", s1),
             init("b1q", b1), init("s_b1", (s_in * s1).astype(F32)), init("s_a", s_a), init("z_a", z_a, np.uint8),
             init("w2q", w2), init("s2", s2), init("b2q", b2), init("s_b2", F32(s_a * s2)),
             init("s_y", s_y), init("z_y", z_y, np.uint8)]
    xq = q_input(x, s_in, z_in, np.uint8)
    acc = conv_int(xq, z_in, w1.astype(np.int64), np.zeros(4, np.int64), b1.astype(np.int64), 1)
    a = requant(acc, scales(s_in, s1, s_a).reshape(1, -1, 1, 1), z_a, np.uint8)
    a = np.maximum(a, z_a)  # Relu before the QuantizeLinear
    p = maxpool2(a).reshape(len(x), -1)
    acc2 = (p - z_a) @ w2.astype(np.int64).T + b2
    yq = requant(acc2, scales(s_a, s2, s_y), z_y, np.uint8)
    save("qdq_cnn", nodes, inits, [1, 8, 8], TensorProto.FLOAT, [10], x, yq - z_y)


def qdq_mlp(x):
    """QDQ, int8 symmetric activations (zero point 0): MatMul (per-channel axis 1) -> Q -> DQ
    -> Relu -> Q -> DQ -> Gemm (transB 0, bias) -> Q -> DQ."""
    s_in = F32(1 / 127)
    w1, s1 = qw((64, 32), 1)
    s_h = F32(0.013)
    w2, s2 = qw((32, 10))
    b2 = RNG.integers(-5000, 5000, size=10).astype(np.int32)
    s_y = F32(0.031)
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "s_in", "z0"], ["xq"], name="x_q"),
        helper.make_node("DequantizeLinear", ["xq", "s_in", "z0"], ["xd"], name="x_dq"),
        helper.make_node("DequantizeLinear", ["w1q", "s1", "z1"], ["w1d"], name="w1_dq", axis=1),
        helper.make_node("MatMul", ["xd", "w1d"], ["h"], name="fc1"),
        helper.make_node("QuantizeLinear", ["h", "s_h", "z0"], ["hq"], name="h_q"),
        helper.make_node("DequantizeLinear", ["hq", "s_h", "z0"], ["hd"], name="h_dq"),
        helper.make_node("Relu", ["hd"], ["hr"], name="relu"),
        helper.make_node("QuantizeLinear", ["hr", "s_h", "z0"], ["hrq"], name="hr_q"),
        helper.make_node("DequantizeLinear", ["hrq", "s_h", "z0"], ["hrd"], name="hr_dq"),
        helper.make_node("DequantizeLinear", ["w2q", "s2", "z0"], ["w2d"], name="w2_dq"),
        helper.make_node("DequantizeLinear", ["b2q", "s_b2"], ["b2d"], name="b2_dq"),
        helper.make_node("Gemm", ["hrd", "w2d", "b2d"], ["g"], name="fc2"),
        helper.make_node("QuantizeLinear", ["g", "s_y", "z0"], ["gq"], name="y_q"),
        helper.make_node("DequantizeLinear", ["gq", "s_y", "z0"], ["y"], name="y_dq"),
    ]
    inits = [init("s_in", s_in), init("z0", 0, np.int8), init("w1q", w1), init("s1", s1), init("z1", np.zeros(32), np.int8),
             init("s_h", s_h), init("w2q", w2), init("s2", s2), init("b2q", b2), init("s_b2", F32(s_h * s2)), init("s_y", s_y)]
    xq = q_input(x, s_in, 0, np.int8)
    h = requant(xq @ w1.astype(np.int64), scales(s_in, s1, s_h), 0, np.int8)
    h = np.maximum(h, 0)
    y = requant(h @ w2.astype(np.int64) + b2, scales(s_h, s2, s_y), 0, np.int8)
    save("qdq_mlp", nodes, inits, [64], TensorProto.FLOAT, [10], x, y)


def qlinear_cnn(x):
    """Operator form, int8 activations with non-zero zero points: QuantizeLinear ->
    QLinearConv (no padding, per-channel weights, bias) -> MaxPool -> Flatten -> QLinearMatMul
    (per-column scales) -> DequantizeLinear."""
    s_in, z_in = F32(1 / 250), -100
    w1, s1 = qw((6, 1, 3, 3), 0)
    b1 = RNG.integers(-3000, 3000, size=6).astype(np.int32)
    s_a, z_a = F32(0.017), -20
    w2, s2 = qw((54, 10), 1)
    s_y, z_y = F32(0.029), 5
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "s_in", "z_in"], ["xq"], name="x_q"),
        helper.make_node("QLinearConv", ["xq", "s_in", "z_in", "w1q", "s1", "z_w1", "s_a", "z_a", "b1q"], ["c1"], name="qconv"),
        helper.make_node("MaxPool", ["c1"], ["p1"], name="pool", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Flatten", ["p1"], ["f1"], name="flatten"),
        helper.make_node("QLinearMatMul", ["f1", "s_a", "z_a", "w2q", "s2", "z_w2", "s_y", "z_y"], ["m"], name="qmatmul"),
        helper.make_node("DequantizeLinear", ["m", "s_y", "z_y"], ["y"], name="y_dq"),
    ]
    inits = [init("s_in", s_in), init("z_in", z_in, np.int8), init("w1q", w1), init("s1", s1), init("z_w1", np.zeros(6), np.int8),
             init("b1q", b1), init("s_a", s_a), init("z_a", z_a, np.int8), init("w2q", w2), init("s2", s2),
             init("z_w2", np.zeros(10), np.int8), init("s_y", s_y), init("z_y", z_y, np.int8)]
    xq = q_input(x, s_in, z_in, np.int8)
    acc = conv_int(xq, z_in, w1.astype(np.int64), np.zeros(6, np.int64), b1.astype(np.int64), 0)
    a = requant(acc, scales(s_in, s1, s_a).reshape(1, -1, 1, 1), z_a, np.int8)
    p = maxpool2(a).reshape(len(x), -1)
    y = requant((p - z_a) @ w2.astype(np.int64), scales(s_a, s2, s_y), z_y, np.int8)
    save("qlinear_cnn", nodes, inits, [1, 8, 8], TensorProto.FLOAT, [10], x, y - z_y)


def integer_ops(xc, xm):
    """ConvInteger (uint8 x with a zero point, int8 weights) and MatMulInteger (uint8 B with
    per-column zero points): their INT32 accumulators are the outputs."""
    s_in, z_in = F32(1 / 200), 7
    w = RNG.integers(-100, 100, size=(3, 1, 3, 3)).astype(np.int8)
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "s_in", "z_in"], ["xq"], name="x_q"),
        helper.make_node("ConvInteger", ["xq", "w", "z_in"], ["y"], name="convint"),
    ]
    xq = q_input(xc, s_in, z_in, np.uint8)
    y = conv_int(xq, z_in, w.astype(np.int64), np.zeros(3, np.int64), None, 0)
    save("convinteger", nodes, [init("s_in", s_in), init("z_in", z_in, np.uint8), init("w", w)],
         [1, 8, 8], TensorProto.INT32, [3, 6, 6], xc, y)

    b = RNG.integers(0, 256, size=(64, 10)).astype(np.uint8)
    zb = RNG.integers(100, 156, size=10).astype(np.uint8)
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "s_in", "z_in"], ["xq"], name="x_q"),
        helper.make_node("MatMulInteger", ["xq", "b", "z_in", "zb"], ["y"], name="matmulint"),
    ]
    xq = q_input(xm, s_in, z_in, np.uint8)
    y = (xq - z_in) @ (b.astype(np.int64) - zb.astype(np.int64))
    save("matmulinteger", nodes, [init("s_in", s_in), init("z_in", z_in, np.uint8), init("b", b), init("zb", zb)],
         [64], TensorProto.INT32, [10], xm, y)


def fma32(x, r, c):
    """float32 fused multiply-add x*r + c with one rounding (x integers, r and c float32): the
    float64 product is exact (8-bit by 24-bit), the float64 sum is checked exact (TwoSum), so the
    one rounding is the cast to float32."""
    p = x.astype(np.float64) * np.float64(r)
    c = np.broadcast_to(np.asarray(c, F32).astype(np.float64), p.shape)
    s = p + c
    bb = s - p
    assert np.all((p - (s - bb)) + (c - bb) == 0), "fma32: float64 sum not exact"
    return s.astype(F32)


def qlinear_add_mlas(a, sa, za, b, sb, zb, sc, zc, dt):
    """ORT's QLinearAdd (what its QDQ transformer fuses DQ, DQ -> Add -> Q into) as MLAS's AVX2
    kernel (qladd_avx2.cpp, the x86-64 default) computes it on raw quantized a and b: the ratios
    r = float32(s_a / s_c), float32(s_b / s_c); the fixed part F = float32(zc) - (r_a*za + r_b*zb)
    in float32 ops; per element fma(a, r_a, fma(b, r_b, F)) in float32, converted with
    round-half-even (cvtps2dq) and saturated by the packs."""
    lo, hi = (0, 255) if dt == np.uint8 else (-128, 127)
    ra, rb = F32(F32(sa) / F32(sc)), F32(F32(sb) / F32(sc))
    fixed = F32(F32(zc) - F32(F32(ra * F32(za)) + F32(rb * F32(zb))))
    v = fma32(a, ra, fma32(b, rb, fixed))
    return np.clip(np.rint(v).astype(np.int64), lo, hi)


def qlinear_add_exact(a, sa, za, b, sb, zb, sc, zc, dt):
    """What streamprove proves: the float32 ratios r_a, r_b taken as exact dyadic rationals,
    y = saturate(round_half_even(r_a*(a - za) + r_b*(b - zb)) + zc), in integers."""
    lo, hi = (0, 255) if dt == np.uint8 else (-128, 127)
    (na, da), (nb, db) = (float(F32(F32(s) / F32(sc))).as_integer_ratio() for s in (sa, sb))
    d = max(da, db)  # powers of two
    num = (a - za) * (na * (d // da)) + (b - zb) * (nb * (d // db))
    k = d.bit_length() - 1
    fl = num >> k
    rem = num - (fl << k)
    q = fl + ((2 * rem > d) | ((2 * rem == d) & (fl % 2 == 1)))
    return np.clip(q + zc, lo, hi)


def qlinear_add_other(a, sa, za, b, sb, zb, sc, zc, dt):
    """MLAS's other QLinearAdd kernels, for comparison only: SSE2 (x86 without AVX2) rounds
    float32(float32(F + a*r_a) + b*r_b); NEON uses 22-bit integer multipliers
    lrintf(r * 2^shift) and a rounding shift, ties away from zero."""
    lo, hi = (0, 255) if dt == np.uint8 else (-128, 127)
    ra, rb = F32(F32(sa) / F32(sc)), F32(F32(sb) / F32(sc))
    fixed = F32(F32(zc) - F32(F32(ra * F32(za)) + F32(rb * F32(zb))))
    sse = (fixed + a.astype(F32) * ra).astype(F32) + (b.astype(F32) * rb).astype(F32)
    sse = np.clip(np.rint(sse.astype(F32)).astype(np.int64), lo, hi)
    shift = 21 - (int(np.frexp(max(ra, rb))[1]) - 1)
    ma, mb = (int(np.rint(np.float64(r) * 2.0 ** shift)) for r in (ra, rb))
    assert 13 <= shift <= 31 and max(ma, mb) < 1 << 22 and max(ma, mb) >= 1 << 21
    acc = (a - za) * ma + (b - zb) * mb
    acc = acc - (acc < 0)
    neon = np.clip(((acc + (1 << (shift - 1))) >> shift) + zc, lo, hi)
    return sse, neon


def qlinear_add(name, a, sa, za, b, sb, zb, sc, zc, dt):
    y = qlinear_add_mlas(a, sa, za, b, sb, zb, sc, zc, dt)
    ex = qlinear_add_exact(a, sa, za, b, sb, zb, sc, zc, dt)
    sse, neon = qlinear_add_other(a, sa, za, b, sb, zb, sc, zc, dt)
    print(f"  {name}: the SSE2 kernel differs from AVX2 on {int((sse != y).sum())}, the NEON one on {int((neon != y).sum())}")
    # Distance of the exact sum from the nearest half-integer: how close to a tie it came.
    ra, rb = (float(F32(F32(s) / F32(sc))) for s in (sa, sb))
    v = ra * (a - za) + rb * (b - zb)
    gap = np.abs(v - np.floor(v) - 0.5).min()
    print(f"  {name}: {int((y != ex).sum())} of {y.size} outputs differ between MLAS's AVX2 float32"
          f" arithmetic and the exact rounding (closest to a tie: {gap:.3g})")
    return y


def calib(v, relu=False):
    """Asymmetric int8 parameters from a float range, as quantize_static's MinMax calibrator
    picks them (the range includes 0; a Relu output gets zero point -128)."""
    lo, hi = min(float(v.min()), 0.0), max(float(v.max()), 0.0)
    if relu:
        lo = 0.0
    s = F32((hi - lo) / 255)
    return s, int(np.clip(np.rint(-128 - lo / s), -128, 127))


def qdq_residual(x):
    """QDQ, int8 activations with zero points, a two-block residual CNN as quantize_static
    writes a ResNet: branch a = conv_a(x); branch b = conv_b2(relu(conv_b1(x))); c = relu(a + b)
    (the Relu before the QuantizeLinear, zero point -128, which ORT's ReluQuantFusion removes);
    y = c + conv_d(c), every Add between DequantizeLinears and a QuantizeLinear (QLinearAdd in
    ORT)."""
    rng = np.random.default_rng(2718)  # its own stream: the other fixtures stay as they are
    n = len(x)

    def w(shape):
        v = rng.normal(0, 0.5, size=shape).astype(F32)
        s = (np.abs(v).max(axis=(1, 2, 3)) / 127).astype(F32)
        return np.clip(np.rint(v / s.reshape(-1, 1, 1, 1)), -127, 127).astype(np.int8), s

    def conv(xq, xs, xz, name, cin, relu=False):
        wq, ws = w((4, cin, 3, 3))
        b = rng.integers(-500, 500, size=4).astype(np.int32)
        acc = conv_int(xq, xz, wq.astype(np.int64), np.zeros(4, np.int64), b.astype(np.int64), 1)
        real = acc * (F32(xs) * ws).astype(np.float64).reshape(1, -1, 1, 1)
        ys, yz = calib(np.maximum(real, 0) if relu else real, relu)
        y = requant(acc, scales(xs, ws, ys).reshape(1, -1, 1, 1), yz, np.int8)
        if relu:
            y = np.maximum(y, yz)
        inits = [init(name + "_w", wq), init(name + "_ws", ws), init(name + "_b", b),
                 init(name + "_bs", (F32(xs) * ws).astype(F32)), init(name + "_s", ys), init(name + "_z", yz, np.int8)]
        return y, ys, yz, inits

    s_in, z_in = F32(1 / 127), 0
    xq = q_input(x, s_in, z_in, np.int8)
    a, s_a, z_a, ia = conv(xq, s_in, z_in, "ca", 1)
    h, s_h, z_h, ih = conv(xq, s_in, z_in, "cb1", 1, relu=True)
    b, s_b, z_b, ib = conv(h, s_h, z_h, "cb2", 4)
    real = np.maximum(s_a * (a - z_a) + s_b * (b - z_b), 0)
    s_c, z_c = calib(real, relu=True)
    c = qlinear_add("add1 (+Relu)", a, s_a, z_a, b, s_b, z_b, s_c, z_c, np.int8)
    d, s_d, z_d, idd = conv(c, s_c, z_c, "dd", 4)
    s_e, z_e = calib(s_c * (c - z_c) + s_d * (d - z_d))
    y = qlinear_add("add2", c, s_c, z_c, d, s_d, z_d, s_e, z_e, np.int8)

    def qdq(v, p):
        return [helper.make_node("QuantizeLinear", [v, p + "_s", p + "_z"], [v + "q"], name=v + "_q"),
                helper.make_node("DequantizeLinear", [v + "q", p + "_s", p + "_z"], [v + "d"], name=v + "_dq")]

    def cnode(name, xin):
        return [helper.make_node("DequantizeLinear", [name + "_w", name + "_ws"], [name + "_wd"], name=name + "_w_dq", axis=0),
                helper.make_node("DequantizeLinear", [name + "_b", name + "_bs"], [name + "_bd"], name=name + "_b_dq", axis=0),
                helper.make_node("Conv", [xin, name + "_wd", name + "_bd"], [name], name=name, pads=[1, 1, 1, 1])]

    nodes = (qdq("x", "in") + cnode("ca", "xd") + qdq("ca", "ca") + cnode("cb1", "xd") +
             [helper.make_node("Relu", ["cb1"], ["h"], name="relu_b1")] + qdq("h", "cb1") +
             cnode("cb2", "hd") + qdq("cb2", "cb2") +
             [helper.make_node("Add", ["cad", "cb2d"], ["sum1"], name="add1"),
              helper.make_node("Relu", ["sum1"], ["c"], name="relu1")] + qdq("c", "c") +
             cnode("dd", "cd") + qdq("dd", "dd") +
             [helper.make_node("Add", ["cd", "ddd"], ["sum2"], name="add2")] +
             [helper.make_node("QuantizeLinear", ["sum2", "e_s", "e_z"], ["yq"], name="y_q"),
              helper.make_node("DequantizeLinear", ["yq", "e_s", "e_z"], ["y"], name="y_dq")])
    # c's one DequantizeLinear (cd) feeds both conv dd and add2 (the shortcut).
    inits = ([init("in_s", s_in), init("in_z", z_in, np.int8)] + ia + ih + ib + idd +
             [init("c_s", s_c), init("c_z", z_c, np.int8), init("e_s", s_e), init("e_z", z_e, np.int8)])
    print(f"  scales a {s_a:.4g} (zp {z_a}), b {s_b:.4g} ({z_b}), c {s_c:.4g} ({z_c}), d {s_d:.4g} ({z_d}), y {s_e:.4g} ({z_e})")
    save("qdq_residual", nodes, inits, [1, 8, 8], TensorProto.FLOAT, [4, 8, 8], x, y - z_e)


if __name__ == "__main__":
    xc = np.load("cnn_test_x.npy")[:N]
    xm = np.load("mlp_test_x.npy")[:N]
    qdq_cnn(xc)
    qdq_mlp(xm)
    qlinear_cnn(xc)
    integer_ops(xc, xm)
    qdq_residual(xc)
