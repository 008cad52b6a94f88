#!/usr/bin/env python3
"""Reference values for the core ops (issue: core). Writes tests/ref/core.txt.
Run once with Debian's PyTorch: /usr/bin/python3 tests/ref_core.py"""
import os
import torch
from refgen import Writer, gen, rand

here = os.path.dirname(os.path.abspath(__file__))
w = Writer(os.path.join(here, "ref", "core.txt"))
g = gen(1)

for dt, tag in ((torch.float64, "f64"), (torch.float32, "f32")):
    R = lambda *s, lo=-2.0, hi=2.0: rand(g, *s, lo=lo, hi=hi, dtype=dt)
    # binary, with broadcasting
    for name, fn, lo in (("add", torch.add, -2), ("sub", torch.sub, -2), ("mul", torch.mul, -2),
                         ("div", torch.div, 0.5), ("pow", torch.pow, 0.5)):
        w.case(f"{name}/{tag}/same", fn, R(2, 3, lo=lo), R(2, 3, lo=lo))
        w.case(f"{name}/{tag}/bcast", fn, R(2, 1, 4, lo=lo), R(3, 1, lo=lo))
        w.case(f"{name}/{tag}/scalar", fn, R(lo=lo), R(4, lo=lo))
    # scalar forms
    w.case(f"add_scalar/{tag}", lambda a: a + 1.5, R(5))
    w.case(f"sub_scalar/{tag}", lambda a: a - 1.5, R(5))
    w.case(f"rsub_scalar/{tag}", lambda a: 1.5 - a, R(5))
    w.case(f"mul_scalar/{tag}", lambda a: a * -2.5, R(5))
    w.case(f"div_scalar/{tag}", lambda a: a / 3.0, R(5))
    w.case(f"rdiv_scalar/{tag}", lambda a: 2.0 / a, R(5, lo=0.5))
    w.case(f"pow_scalar/{tag}", lambda a: a ** 3.0, R(5))
    w.case(f"pow_scalar_half/{tag}", lambda a: a ** 0.5, R(5, lo=0.1))
    # unary
    for name, fn, lo, hi in (("neg", torch.neg, -2, 2), ("exp", torch.exp, -3, 3),
                             ("log", torch.log, 0.1, 4), ("sqrt", torch.sqrt, 0.1, 4),
                             ("sin", torch.sin, -3, 3), ("cos", torch.cos, -3, 3),
                             ("tan", torch.tan, -1.3, 1.3), ("tanh", torch.tanh, -4, 4),
                             ("sigmoid", torch.sigmoid, -8, 8), ("relu", torch.relu, -2, 2),
                             ("abs", torch.abs, -2, 2)):
        w.case(f"{name}/{tag}", fn, R(3, 4, lo=lo, hi=hi))
    w.case(f"sigmoid/{tag}/extreme", torch.sigmoid,
           torch.tensor([-1000.0, -50.0, 0.0, 50.0, 1000.0], dtype=dt))
    w.case(f"tanh/{tag}/extreme", torch.tanh, torch.tensor([-1000.0, -20.0, 0.0, 20.0, 1000.0], dtype=dt))
    # reductions
    w.case(f"sum/{tag}", torch.sum, R(3, 4))
    w.case(f"mean/{tag}", torch.mean, R(3, 4))
    w.case(f"sum_axis0/{tag}", lambda a: a.sum(0), R(3, 4))
    w.case(f"sum_axis-1_keep/{tag}", lambda a: a.sum(-1, keepdim=True), R(2, 3, 4))
    w.case(f"mean_axis1/{tag}", lambda a: a.mean(1), R(2, 3, 4))
    w.case(f"sum_axes02/{tag}", lambda a: a.sum((0, 2)), R(2, 3, 4))
    # matmul
    w.case(f"matmul/{tag}/2d", torch.matmul, R(3, 4), R(4, 5))
    w.case(f"matmul/{tag}/batch_bcast", torch.matmul, R(2, 1, 3, 4), R(3, 4, 2))
    w.case(f"matmul/{tag}/vec", torch.matmul, R(4), R(4, 3))
    w.case(f"matmul/{tag}/matvec", torch.matmul, R(3, 4), R(4))
    w.case(f"matmul_tn/{tag}", lambda a, b: a.transpose(-1, -2) @ b, R(4, 3), R(4, 5))
    w.case(f"matmul_nt/{tag}", lambda a, b: a @ b.transpose(-1, -2), R(3, 4), R(5, 4))
    w.case(f"matmul_tt/{tag}", lambda a, b: a.transpose(-1, -2) @ b.transpose(-1, -2), R(4, 3), R(5, 4))
    # shape
    w.case(f"reshape/{tag}", lambda a: a.reshape(-1, 2), R(3, 4))
    w.case(f"transpose/{tag}", lambda a: a.transpose(0, 2), R(2, 3, 4))
    w.case(f"expand/{tag}", lambda a: a.expand(2, 3, 4), R(3, 1))

# fused linear: F.linear then the activation (tg_linear_act), with its own
# generator so the cases above keep their numbers
g2 = gen(2)
F = torch.nn.functional
acts = (("none", lambda z: z), ("relu", torch.relu), ("tanh", torch.tanh),
        ("sigmoid", torch.sigmoid), ("gelu", F.gelu),
        ("leaky_relu", lambda z: F.leaky_relu(z, 0.01)))
for dt, tag in ((torch.float64, "f64"), (torch.float32, "f32")):
    R = lambda *s, lo=-1.0, hi=1.0: rand(g2, *s, lo=lo, hi=hi, dtype=dt)
    for name, act in acts:
        fb = lambda x, wt, b, act=act: act(F.linear(x, wt, b))
        fn = lambda x, wt, act=act: act(F.linear(x, wt))
        w.case(f"linear_{name}/{tag}/2d", fb, R(5, 4), R(3, 4), R(3))
        w.case(f"linear_{name}/{tag}/3d", fb, R(2, 3, 4), R(5, 4), R(5))
        w.case(f"linear_{name}/{tag}/vec", fb, R(6), R(2, 6), R(2))
        w.case(f"linear_{name}/{tag}/big", fb, R(9, 20), R(17, 20), R(17))
        w.case(f"linear_nobias_{name}/{tag}/2d", fn, R(4, 3), R(2, 3))
w.close()
