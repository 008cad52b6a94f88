#!/usr/bin/env python3
"""Reference values for the shape, indexing and nn-function ops (issue:
tensor ops, part 2). Writes tests/ref/shape.txt.
Run once with Debian's PyTorch: /usr/bin/python3 tests/ref_shape.py"""
import os
import torch
import torch.nn.functional as F
from refgen import Writer, gen, rand

here = os.path.dirname(os.path.abspath(__file__))
w = Writer(os.path.join(here, "ref", "shape.txt"))
g = gen(2)
I = lambda *v: torch.tensor(v, dtype=torch.int64)

for dt, tag in ((torch.float64, "f64"), (torch.float32, "f32")):
    R = lambda *s, lo=-2.0, hi=2.0: rand(g, *s, lo=lo, hi=hi, dtype=dt)
    T = lambda v: torch.tensor(v, dtype=dt)
    # ---- shape
    w.case(f"permute/{tag}", lambda a: a.permute(2, 0, 1), R(2, 3, 4))
    w.case(f"squeeze/{tag}", lambda a: a.squeeze(1), R(2, 1, 3))
    w.case(f"squeeze_neg/{tag}", lambda a: a.squeeze(-1), R(2, 3, 1))
    w.case(f"unsqueeze/{tag}", lambda a: a.unsqueeze(-1), R(2, 3))
    w.case(f"flatten/{tag}", lambda a: a.flatten(1, 2), R(2, 3, 4, 2))
    w.case(f"broadcast_to/{tag}", lambda a: a.broadcast_to(2, 3, 4), R(3, 1))
    w.case(f"concat_last/{tag}", lambda a, b, c: torch.cat([a, b, c], -1), R(2, 3), R(2, 1), R(2, 4))
    w.case(f"concat0/{tag}", lambda a, b: torch.cat([a, b], 0), R(1, 3), R(2, 3))
    w.case(f"stack1/{tag}", lambda a, b, c: torch.stack([a, b, c], 1), R(2, 3), R(2, 3), R(2, 3))
    w.case(f"split/{tag}", lambda a: torch.cat([p * (k + 1) for k, p in enumerate(a.split([2, 3], 0))], 0), R(5, 4))
    w.case(f"chunk/{tag}", lambda a: torch.cat([p * (k + 1) for k, p in enumerate(a.chunk(3, 0))], 0), R(7, 3))
    w.case(f"slice_step/{tag}", lambda a: a[1:8:3], R(10, 3))
    w.case(f"slice_neg/{tag}", lambda a: a[:, -4:], R(3, 10))
    w.case(f"slice_clamp/{tag}", lambda a: a[:, -100:2], R(3, 10))
    w.case(f"pad1/{tag}", lambda a: F.pad(a, (1, 2), value=0.5), R(2, 3))
    w.case(f"pad2/{tag}", lambda a: F.pad(a, (1, 2, 0, 1)), R(2, 3))
    w.case(f"pad_neg/{tag}", lambda a: F.pad(a, (-1, 1, 1, -1)), R(3, 4))
    w.case(f"repeat/{tag}", lambda a: a.repeat(2, 1, 3), R(2, 3))
    w.case(f"repeat1/{tag}", lambda a: a.repeat(2, 2), R(3))
    # ---- indexing (repeated indices: the gradient adds up)
    w.case(f"index_select0/{tag}", lambda a, i: a.index_select(0, i), R(4, 3), I(3, 0, 3, 1))
    w.case(f"index_select_last/{tag}", lambda a, i: a.index_select(-1, i), R(2, 5), I(4, 4, 0))
    w.case(f"gather1/{tag}", lambda a, i: a.gather(1, i), R(3, 4), I([0, 0], [3, 1], [2, 2]))
    w.case(f"gather0/{tag}", lambda a, i: a.gather(0, i), R(3, 4), I([2, 0, 1, 2], [2, 2, 0, 0]))
    w.case(f"embedding/{tag}", lambda wt, i: F.embedding(i, wt), R(5, 3), I([1, 4, 1], [0, 1, 1]))
    w.case(f"masked_fill/{tag}", lambda a, m: a.masked_fill(m.bool(), -1.5), R(3, 4), I(1, 0, 0, 1))
    w.case(f"masked_softmax/{tag}", lambda a, m: torch.softmax(a.masked_fill(m.bool(), float("-inf")), -1),
           R(3, 4), I([0], [1], [0]).expand(3, 4) * I(0, 1, 1, 0))
    w.case(f"one_hot/{tag}", lambda l: F.one_hot(l, 4), I(3, 0, 1, 1, 2, 0))
    # ---- nn functions
    w.case(f"softmax_last/{tag}", lambda a: torch.softmax(a, -1), R(3, 5))
    w.case(f"softmax_mid/{tag}", lambda a: torch.softmax(a, 1), R(4, 3, 2))
    w.case(f"softmax_extreme/{tag}", lambda a: torch.softmax(a, -1),
           T([[-1000.0, 0.0, 1000.0], [1000.0, 1000.0, -1000.0], [-1000.0, -1000.0, -1000.0]]))
    w.case(f"log_softmax_last/{tag}", lambda a: torch.log_softmax(a, -1), R(3, 5))
    w.case(f"log_softmax_mid/{tag}", lambda a: torch.log_softmax(a, 1), R(4, 3, 2))
    w.case(f"log_softmax_extreme/{tag}", lambda a: torch.log_softmax(a, -1),
           T([[-1000.0, 0.0, 1000.0], [1000.0, 1000.0, -1000.0], [-1000.0, -1000.0, -1000.0]]))
    w.case(f"layer_norm_wb/{tag}", lambda a, wt, b: F.layer_norm(a, (4,), wt, b, 1e-5), R(3, 4), R(4), R(4))
    w.case(f"layer_norm2/{tag}", lambda a: F.layer_norm(a, (3, 4), None, None, 1e-5), R(2, 3, 4))
    w.case(f"batch_norm_train/{tag}",
           lambda a, wt, b: F.batch_norm(a, None, None, wt, b, True, 0.1, 1e-5), R(4, 3), R(3), R(3))
    w.case(f"batch_norm_train4/{tag}",
           lambda a, wt, b: F.batch_norm(a, None, None, wt, b, True, 0.1, 1e-5), R(2, 3, 2, 2), R(3), R(3))
    w.case(f"batch_norm_eval/{tag}",
           lambda a, wt, b, rm, rv: F.batch_norm(a, rm.detach().clone(), rv.detach().clone(), wt, b, False, 0.1, 1e-5),
           R(2, 3, 2, 2), R(3), R(3), R(3), R(3, lo=0.5, hi=2.0))

    def stats(a, rm, rv):
        rm, rv = rm.clone(), rv.clone()
        F.batch_norm(a, rm, rv, None, None, True, 0.1, 1e-5)
        return torch.cat([rm, rv])
    w.case(f"batch_norm_stats/{tag}", stats, R(2, 3, 2, 2), R(3), R(3, lo=0.5, hi=2.0), grad=False)
w.close()
