#!/usr/bin/env python3
"""Reference values for the math ops and the further reductions (issue:
Tensor ops, part 1). Writes tests/ref/math.txt.
Run once with Debian's PyTorch: /usr/bin/python3 tests/ref_math.py"""
import os
import torch
import torch.nn.functional as F
from refgen import Writer, gen, rand

here = os.path.dirname(os.path.abspath(__file__))
w = Writer(os.path.join(here, "ref", "math.txt"))
g = gen(2)
inf = float("inf")


def T(v, dt):
    return torch.tensor(v, dtype=dt)


for dt, tag in ((torch.float64, "f64"), (torch.float32, "f32")):
    R = lambda *s, lo=-2.0, hi=2.0: rand(g, *s, lo=lo, hi=hi, dtype=dt)
    kinks = T([-2.0, -0.5, -1e-3, 0.0, 1e-3, 0.7, 2.0], dt)
    # elementwise
    for name, fn, lo, hi in (("log1p", torch.log1p, -0.5, 3), ("expm1", torch.expm1, -3, 3),
                             ("erf", torch.erf, -3, 3), ("square", torch.square, -2, 2),
                             ("reciprocal", torch.reciprocal, 0.5, 2),
                             ("rsqrt", torch.rsqrt, 0.3, 3),
                             ("softplus", F.softplus, -4, 4),
                             ("gelu", F.gelu, -4, 4),
                             ("gelu_tanh", lambda a: F.gelu(a, approximate="tanh"), -4, 4),
                             ("silu", F.silu, -6, 6), ("sign", torch.sign, -2, 2)):
        w.case(f"{name}/{tag}", fn, R(3, 4, lo=lo, hi=hi))
    far = T([-100.0, -30.0, -8.0, 0.0, 8.0, 30.0, 100.0], dt)
    w.case(f"softplus/{tag}/extreme", F.softplus, far)
    w.case(f"softplus_b2_t1/{tag}", lambda a: F.softplus(a, beta=2.0, threshold=1.0), R(3, 4))
    w.case(f"gelu/{tag}/extreme", F.gelu, far)
    w.case(f"gelu_tanh/{tag}/extreme", lambda a: F.gelu(a, approximate="tanh"), far)
    w.case(f"silu/{tag}/extreme", F.silu, far)
    w.case(f"expm1/{tag}/small", torch.expm1, T([-1e-10, 1e-8, 3e-5], dt))
    w.case(f"log1p/{tag}/small", torch.log1p, T([-1e-10, 1e-8, 3e-5], dt))
    w.case(f"leaky_relu/{tag}", lambda a: F.leaky_relu(a, 0.1), kinks)
    w.case(f"elu/{tag}", lambda a: F.elu(a, 1.5), kinks)
    w.case(f"elu/{tag}/far", lambda a: F.elu(a, 1.5), far)
    w.case(f"clamp/{tag}", lambda a: torch.clamp(a, -0.5, 0.7), kinks)
    w.case(f"clamp_lo/{tag}", lambda a: torch.clamp(a, min=-0.5), kinks)
    w.case(f"clamp_hi/{tag}", lambda a: torch.clamp(a, max=0.7), kinks)
    # binary, with broadcasting and ties
    ties_a, ties_b = T([[1.0, -2.0, 3.0], [0.5, 2.0, -1.0]], dt), T([1.0, 2.0, -1.0], dt)
    for name, fn in (("maximum", torch.maximum), ("minimum", torch.minimum)):
        w.case(f"{name}/{tag}/same", fn, R(2, 3), R(2, 3))
        w.case(f"{name}/{tag}/bcast", fn, R(2, 1, 4), R(3, 1))
        w.case(f"{name}/{tag}/ties", fn, ties_a, ties_b)
    for name, fn in (("eq", torch.eq), ("ne", torch.ne), ("lt", torch.lt), ("le", torch.le),
                     ("gt", torch.gt), ("ge", torch.ge)):
        w.case(f"{name}/{tag}", lambda a, b, fn=fn: fn(a, b).to(a.dtype), ties_a, ties_b)
    cond = torch.tensor([[1, 0, 0], [0, 3, 1]], dtype=torch.int64)
    w.case(f"where/{tag}", lambda c, a, b: torch.where(c != 0, a, b), cond, R(2, 3), R(3))
    w.case(f"where/{tag}/bcast", lambda c, a, b: torch.where(c != 0, a, b),
           torch.tensor([[1], [0]], dtype=torch.int64), R(3), R(2, 1))
    lo, hi = T([-0.5, 0.0, 1.0], dt), T([[0.7], [0.5]], dt)
    xa = T([[-1.0, 0.0, 2.0], [0.5, 0.6, 1.0]], dt)  # at the bounds and beside
    w.case(f"clamp_t/{tag}", lambda a, l, h: torch.clamp(a, l, h), xa, lo, hi)
    w.case(f"clamp_t_lo/{tag}", lambda a, l: torch.clamp(a, min=l), xa, lo)
    w.case(f"clamp_t_hi/{tag}", lambda a, h: torch.clamp(a, max=h), xa, hi)
    w.case(f"clamp_t/{tag}/crossed", lambda a, l, h: torch.clamp(a, l, h), R(2, 3), R(3, lo=0.5, hi=1),
           R(3, lo=-1, hi=0))
    # reductions
    x = R(2, 3, 4)
    w.case(f"var_all/{tag}", lambda a: torch.var(a), x)
    w.case(f"var_1/{tag}", lambda a: torch.var(a, 1), x)
    w.case(f"var_0m1_keep_c0/{tag}", lambda a: torch.var(a, (0, -1), unbiased=False, keepdim=True), x)
    w.case(f"std_all/{tag}", lambda a: torch.std(a), x)
    w.case(f"std_m1_keep/{tag}", lambda a: torch.std(a, -1, keepdim=True), x)
    w.case(f"std_02_c0/{tag}", lambda a: torch.std(a, (0, 2), unbiased=False), x)
    w.case(f"prod_all/{tag}", torch.prod, R(2, 3, lo=0.5, hi=1.5))
    w.case(f"prod_1/{tag}", lambda a: torch.prod(a, 1), x)
    w.case(f"prod_02_keep/{tag}", lambda a: a.prod(2, keepdim=True).prod(0, keepdim=True), x)
    zeros = T([[2.0, 0.0, 3.0, -1.0], [0.0, 1.5, 0.0, 2.0], [1.0, 2.0, -0.5, 4.0]], dt)
    w.case(f"prod_1/{tag}/zeros", lambda a: torch.prod(a, 1), zeros)
    w.case(f"prod_0/{tag}/zeros", lambda a: torch.prod(a, 0), zeros)
    tied = T([[1.0, 3.0, 3.0, -1.0], [2.0, 2.0, 2.0, 0.0], [-5.0, 4.0, -5.0, -5.0]], dt)
    w.case(f"amax_all/{tag}", lambda a: torch.amax(a), x)
    w.case(f"amax_1/{tag}", lambda a: torch.amax(a, 1), x)
    w.case(f"amin_0m1_keep/{tag}", lambda a: torch.amin(a, (0, -1), keepdim=True), x)
    w.case(f"amax_1/{tag}/ties", lambda a: torch.amax(a, 1), tied)
    w.case(f"amin_1/{tag}/ties", lambda a: torch.amin(a, 1), tied)
    w.case(f"amin_0/{tag}/ties", lambda a: torch.amin(a, 0), tied)
    w.case(f"argmax_m1/{tag}", lambda a: torch.argmax(a, -1), tied)
    w.case(f"argmin_0_keep/{tag}", lambda a: torch.argmin(a, 0, keepdim=True), tied)
    w.case(f"argmax_1/{tag}", lambda a: torch.argmax(a, 1), x)
    w.case(f"logsumexp_all/{tag}", lambda a: torch.logsumexp(a, (0, 1, 2)), x)
    w.case(f"logsumexp_1/{tag}", lambda a: torch.logsumexp(a, 1), x)
    w.case(f"logsumexp_02_keep/{tag}", lambda a: torch.logsumexp(a, (0, 2), keepdim=True), x)
    big = T([[1000.0, 999.0, -1000.0], [-1000.0, -1001.0, -999.5], [0.0, 1.0, 2.0]], dt)
    w.case(f"logsumexp_1/{tag}/extreme", lambda a: torch.logsumexp(a, 1), big)
    w.case(f"logsumexp_0/{tag}/extreme", lambda a: torch.logsumexp(a, 0), big)
    w.case(f"norm1_m1/{tag}", lambda a: torch.linalg.vector_norm(a, 1, -1), x)
    w.case(f"norm2_all/{tag}", lambda a: torch.linalg.vector_norm(a, 2), x)
    w.case(f"norm2_01_keep/{tag}", lambda a: torch.linalg.vector_norm(a, 2, (0, 1), keepdim=True), x)
    w.case(f"norm2_1/{tag}/zero_row", lambda a: torch.linalg.vector_norm(a, 2, 1),
           T([[0.0, 0.0, 0.0], [3.0, -4.0, 0.0]], dt))
w.close()
