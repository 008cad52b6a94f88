#!/usr/bin/env python3
"""Reference values for tg_sum_squares (ops/sumsq.c): sum over axes of a^2,
torch.square(a).sum(dims). Writes tests/ref/sumsq.txt.
Run once with Debian's PyTorch: /usr/bin/python3 tests/ref_sumsq.py"""
import os
import torch
from refgen import Writer, gen, rand

here = os.path.dirname(os.path.abspath(__file__))
w = Writer(os.path.join(here, "ref", "sumsq.txt"))
g = gen(33)


def ssq(dims, keep=False):
    if dims is None:
        return lambda a: torch.square(a).sum()
    return lambda a: torch.square(a).sum(dims, keepdim=keep)


for dt, tag in ((torch.float64, "f64"), (torch.float32, "f32")):
    R = lambda *s: rand(g, *s, lo=-2.0, hi=2.0, dtype=dt)
    x = R(2, 3, 4)
    w.case(f"ssq_all/{tag}", ssq(None), x)
    w.case(f"ssq_m1/{tag}", ssq(-1), R(3, 5))
    w.case(f"ssq_12_keep/{tag}", ssq((1, 2), True), x)
    w.case(f"ssq_0/{tag}", ssq(0), R(3, 4))
    w.case(f"ssq_02_keep/{tag}", ssq((0, 2), True), x)
    w.case(f"ssq_1/{tag}", ssq(1), x)
    w.case(f"ssq_all/{tag}/scalar", ssq(None), torch.tensor(-1.5, dtype=dt))
    w.case(f"ssq_m1/{tag}/empty", ssq(-1), torch.zeros(3, 0, dtype=dt))
    # edge values: zeros, signs, tiny squares that underflow, large ones
    big = 1e150 if dt == torch.float64 else 1e18
    tiny = 1e-170 if dt == torch.float64 else 1e-25
    e = torch.tensor([[0.0, -0.0, 1.0, -1.0], [tiny, -tiny, big, -3.0]], dtype=dt)
    w.case(f"ssq_m1/{tag}/edge", ssq(-1), e)
    w.case(f"ssq_0/{tag}/edge", ssq(0), e)
    # the GMM shape: [n, k, d] over d
    w.case(f"ssq_m1/{tag}/gmm", ssq(-1), R(4, 3, 2))
w.close()
