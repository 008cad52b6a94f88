#!/usr/bin/env python3
"""Reference values for convolution and pooling (issue: tensor ops, part 3).
Writes tests/ref/conv.txt. Run once with Debian's PyTorch:
    /usr/bin/python3 tests/ref_conv.py
Each case name is "<builder>/<dtype>"; tests/test_ref_conv.c has one builder
per name with the same options."""
import os
import torch
import torch.nn.functional as F
from refgen import Writer, gen, rand

here = os.path.dirname(os.path.abspath(__file__))
w = Writer(os.path.join(here, "ref", "conv.txt"))
g = gen(3)

for dt, tag in ((torch.float64, "f64"), (torch.float32, "f32")):
    R = lambda *s, lo=-2.0, hi=2.0: rand(g, *s, lo=lo, hi=hi, dtype=dt)
    # conv2d: (name, x shape, w shape, bias, options)
    for name, xs, ws, bias, kw in (
        ("conv2d_basic", (2, 3, 5, 5), (4, 3, 3, 3), True, {}),
        ("conv2d_s2p1", (1, 2, 6, 7), (3, 2, 3, 3), True, dict(stride=2, padding=1)),
        ("conv2d_dil", (2, 2, 7, 6), (2, 2, 3, 2), True, dict(dilation=2, padding=(2, 1))),
        ("conv2d_groups", (2, 4, 5, 5), (6, 2, 3, 3), True, dict(groups=2)),
        ("conv2d_nobias", (1, 3, 4, 5), (2, 3, 2, 3), False, {}),
        ("conv2d_odd", (3, 1, 7, 9), (5, 1, 3, 3), True,
         dict(stride=(2, 3), padding=(1, 2), dilation=(1, 2))),
        ("conv2d_1x1", (2, 3, 4, 4), (5, 3, 1, 1), True, {}),
        ("conv2d_depthwise", (1, 3, 5, 5), (3, 1, 3, 3), False, dict(groups=3, padding=1)),
        ("conv2d_big", (2, 4, 8, 8), (8, 4, 3, 3), True, dict(padding=1)),
    ):
        ins = [R(*xs), R(*ws)] + ([R(ws[0])] if bias else [])
        fn = (lambda x, wt, b, kw=kw: F.conv2d(x, wt, b, **kw)) if bias else \
             (lambda x, wt, kw=kw: F.conv2d(x, wt, None, **kw))
        w.case(f"{name}/{tag}", fn, *ins)
    # conv1d
    for name, xs, ws, bias, kw in (
        ("conv1d_basic", (2, 3, 9), (4, 3, 3), True, {}),
        ("conv1d_sdp", (2, 2, 11), (3, 2, 3), True, dict(stride=2, padding=1, dilation=2)),
        ("conv1d_groups", (1, 4, 8), (2, 2, 2), False, dict(groups=2)),
    ):
        ins = [R(*xs), R(*ws)] + ([R(ws[0])] if bias else [])
        fn = (lambda x, wt, b, kw=kw: F.conv1d(x, wt, b, **kw)) if bias else \
             (lambda x, wt, kw=kw: F.conv1d(x, wt, None, **kw))
        w.case(f"{name}/{tag}", fn, *ins)
    # pooling
    for name, xs, kw in (
        ("max_pool_k2", (2, 3, 6, 6), dict(kernel_size=2)),
        ("max_pool_k3s2p1", (2, 2, 7, 7), dict(kernel_size=3, stride=2, padding=1)),
        ("max_pool_rect", (1, 2, 5, 6), dict(kernel_size=(3, 2), stride=(1, 2), padding=(1, 0))),
        ("max_pool_3d", (2, 5, 5), dict(kernel_size=2, stride=1)),
    ):
        w.case(f"{name}/{tag}", lambda x, kw=kw: F.max_pool2d(x, **kw), R(*xs))
    # max pooling over negative values with padding: the padding never wins
    w.case(f"max_pool_neg/{tag}", lambda x: F.max_pool2d(x, 3, 2, 1), R(1, 2, 5, 5, lo=-3, hi=-1))
    for name, xs, kw in (
        ("avg_pool_k2", (2, 3, 6, 6), dict(kernel_size=2)),
        ("avg_pool_k3s2p1", (2, 2, 7, 7), dict(kernel_size=3, stride=2, padding=1)),
        ("avg_pool_k3s2p1_ex", (2, 2, 7, 7),
         dict(kernel_size=3, stride=2, padding=1, count_include_pad=False)),
        ("avg_pool_rect", (1, 2, 5, 6), dict(kernel_size=(3, 2), stride=(1, 2), padding=(1, 1))),
        ("avg_pool_3d", (2, 5, 5), dict(kernel_size=2, stride=1)),
    ):
        w.case(f"{name}/{tag}", lambda x, kw=kw: F.avg_pool2d(x, **kw), R(*xs))
    # the benchmark's network, small: conv, relu, max pool, conv
    w.case(f"lenet/{tag}",
           lambda x, w1, b1, w2, b2: F.conv2d(F.max_pool2d(F.relu(F.conv2d(x, w1, b1)), 2), w2, b2),
           R(2, 1, 10, 10), R(4, 1, 3, 3), R(4), R(6, 4, 3, 3), R(6))
w.close()
