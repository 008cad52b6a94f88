#!/usr/bin/env python3
"""Reference values for the losses (issue: nn layer, part 2). Writes
tests/ref/loss.txt. Run once with Debian's PyTorch:
    /usr/bin/python3 tests/ref_loss.py
Case names are <loss>/<variant>/<dtype>; tests/test_loss.c has a builder
per <loss>/<variant>."""
import os
import warnings
import torch
import torch.nn.functional as F
from refgen import Writer, gen, rand

here = os.path.dirname(os.path.abspath(__file__))
w = Writer(os.path.join(here, "ref", "loss.txt"))
g = gen(7)
warnings.filterwarnings("ignore")  # kl_div's note on 'mean'
RED = ("mean", "sum", "none")


def labels(*shape, C, ignore=(), gen_=None):
    y = torch.randint(0, C, shape, generator=gen_ or g)
    for i in ignore:
        y.view(-1)[i] = -100
    return y


for dt, tag in ((torch.float64, "f64"), (torch.float32, "f32")):
    R = lambda *s, lo=-2.0, hi=2.0: rand(g, *s, lo=lo, hi=hi, dtype=dt)
    T = lambda v: torch.tensor(v, dtype=dt)
    for red in RED:
        w.case(f"mse/{red}/{tag}", lambda x, y: F.mse_loss(x, y, reduction=red), R(3, 4), R(3, 4))
        w.case(f"l1/{red}/{tag}", lambda x, y: F.l1_loss(x, y, reduction=red), R(3, 4), R(3, 4))
        w.case(f"huber1/{red}/{tag}", lambda x, y: F.huber_loss(x, y, reduction=red, delta=1.0),
               R(3, 4, lo=-3, hi=3), R(3, 4))
        w.case(f"sl1/{red}/{tag}", lambda x, y: F.smooth_l1_loss(x, y, reduction=red, beta=1.0),
               R(3, 4, lo=-3, hi=3), R(3, 4))
        w.case(f"bce/{red}/{tag}", lambda p, y: F.binary_cross_entropy(p, y, reduction=red),
               R(3, 4, lo=0.05, hi=0.95), R(3, 4, lo=0, hi=1))
        w.case(f"bcel/{red}/{tag}",
               lambda x, y: F.binary_cross_entropy_with_logits(x, y, reduction=red),
               R(3, 4, lo=-5, hi=5), R(3, 4, lo=0, hi=1))
        w.case(f"ce/{red}/{tag}", lambda x, y: F.cross_entropy(x, y, reduction=red),
               R(5, 4, lo=-3, hi=3), labels(5, C=4))
        w.case(f"ce_ignore/{red}/{tag}", lambda x, y: F.cross_entropy(x, y, reduction=red),
               R(6, 3, lo=-3, hi=3), labels(6, C=3, ignore=(1, 4)))
        w.case(f"ce_smooth/{red}/{tag}",
               lambda x, y: F.cross_entropy(x, y, reduction=red, label_smoothing=0.1),
               R(5, 4, lo=-3, hi=3), labels(5, C=4, ignore=(2,)))
        w.case(f"ce_spatial/{red}/{tag}", lambda x, y: F.cross_entropy(x, y, reduction=red),
               R(2, 3, 2, 2), labels(2, 2, 2, C=3))
        w.case(f"nll/{red}/{tag}", lambda x, y: F.nll_loss(x, y, reduction=red),
               torch.log_softmax(R(5, 4), 1), labels(5, C=4, ignore=(3,)))
        w.case(f"kl/{red}/{tag}", lambda x, t: F.kl_div(x, t, reduction=red),
               torch.log_softmax(R(3, 4), 1), torch.softmax(R(3, 4), 1))
        w.case(f"kllog/{red}/{tag}", lambda x, t: F.kl_div(x, t, reduction=red, log_target=True),
               torch.log_softmax(R(3, 4), 1), torch.log_softmax(R(3, 4), 1))
        w.case(f"mm/{red}/{tag}", lambda x, y: F.multi_margin_loss(x, y, reduction=red),
               R(4, 5), labels(4, C=5))
    # parameters other than the defaults
    w.case(f"huber05/mean/{tag}", lambda x, y: F.huber_loss(x, y, delta=0.5), R(3, 4, lo=-3, hi=3), R(3, 4))
    w.case(f"sl105/mean/{tag}", lambda x, y: F.smooth_l1_loss(x, y, beta=0.5), R(3, 4, lo=-3, hi=3), R(3, 4))
    w.case(f"sl10/mean/{tag}", lambda x, y: F.smooth_l1_loss(x, y, beta=0.0), R(3, 4, lo=-3, hi=3), R(3, 4))
    w.case(f"kl/batchmean/{tag}", lambda x, t: F.kl_div(x, t, reduction="batchmean"),
           torch.log_softmax(R(3, 4), 1), torch.softmax(R(3, 4), 1))
    w.case(f"mm05/mean/{tag}", lambda x, y: F.multi_margin_loss(x, y, margin=0.5), R(4, 5), labels(4, C=5))
    w.case(f"bcel_pw/mean/{tag}",
           lambda x, y: F.binary_cross_entropy_with_logits(x, y, pos_weight=T([0.5, 1.0, 2.0, 3.0])),
           R(3, 4, lo=-5, hi=5), R(3, 4, lo=0, hi=1))  # pos_weight: no gradient in PyTorch
    w.case(f"ce_1d/mean/{tag}", lambda x, y: F.cross_entropy(x, y), R(5), torch.tensor(3))
    w.case(f"mm_1d/mean/{tag}", lambda x, y: F.multi_margin_loss(x.unsqueeze(0), y.unsqueeze(0)),
           R(5), torch.tensor(2))
    # extremes: logits of +-1000, probabilities of exactly 0 and 1
    big = T([[1000.0, -1000.0, 0.0], [-1000.0, -1000.0, 1000.0], [0.0, 0.0, 0.0], [1000.0, 1000.0, -1000.0]])
    w.case(f"ce/extreme/{tag}", lambda x, y: F.cross_entropy(x, y, reduction="none"), big,
           torch.tensor([1, 2, 0, 0]))
    w.case(f"bcel/extreme/{tag}", lambda x, y: F.binary_cross_entropy_with_logits(x, y, reduction="none"),
           T([-1000.0, -50.0, -1.0, 0.0, 0.0, 1.0, 50.0, 1000.0]),
           T([0.0, 1.0, 0.5, 1.0, 0.0, 0.0, 0.0, 1.0]))
    # BCE at p = 0 and 1: values only (PyTorch's gradient formula differs
    # there, see tg_loss.h)
    w.case(f"bce/edge/{tag}", lambda p, y: F.binary_cross_entropy(p, y, reduction="none"),
           T([0.0, 1.0, 0.0, 1.0, 0.5, 1e-30]), T([0.0, 1.0, 1.0, 0.0, 0.3, 1.0]), grad=False)

# The fused op tg_softmax_cross_entropy (ops/softmax.c) is
# F.cross_entropy(..., reduction="none"): per-row losses of [N, C] logits
# (or [C] with a 0-d label), with ignore_index and label_smoothing. Cases
# sce/<variant>/<dtype>, from their own generator so the cases above keep
# their numbers.
g2 = gen(11)


def sce_labels(n, C, ignore=(), ig=-100):
    y = torch.randint(0, C, (n,), generator=g2)
    for i in ignore:
        y[i] = ig
    return y


def SCE(ig=-100, ls=0.0):
    return lambda x, y: F.cross_entropy(x, y, reduction="none", ignore_index=ig, label_smoothing=ls)


for dt, tag in ((torch.float64, "f64"), (torch.float32, "f32")):
    R = lambda *s, lo=-3.0, hi=3.0: rand(g2, *s, lo=lo, hi=hi, dtype=dt)
    T = lambda v: torch.tensor(v, dtype=dt)
    w.case(f"sce/plain/{tag}", SCE(), R(6, 5), sce_labels(6, 5))
    w.case(f"sce/ignore/{tag}", SCE(), R(6, 3), sce_labels(6, 3, ignore=(1, 4)))
    w.case(f"sce/ignore1/{tag}", SCE(ig=1), R(6, 3), torch.tensor([0, 1, 2, 1, 0, 2]))
    w.case(f"sce/smooth/{tag}", SCE(ls=0.1), R(5, 4), sce_labels(5, 4, ignore=(2,)))
    w.case(f"sce/smooth_wide/{tag}", SCE(ls=0.25), R(3, 37), sce_labels(3, 37))
    w.case(f"sce/smooth_ignore1/{tag}", SCE(ig=1, ls=0.1), R(4, 3), torch.tensor([1, 0, 2, 1]))
    w.case(f"sce/extreme/{tag}", SCE(ls=0.1),
           T([[1000.0, -1000.0, 0.0], [-1000.0, -1000.0, 1000.0], [0.0, 0.0, 0.0],
              [1000.0, 1000.0, -1000.0]]), torch.tensor([1, 2, 0, 0]))
    w.case(f"sce/1d/{tag}", SCE(), R(5), torch.tensor(3))
    w.case(f"sce/1d_smooth/{tag}", SCE(ls=0.1), R(5), torch.tensor(0))
    w.case(f"sce/c1/{tag}", SCE(ls=0.1), R(3, 1), torch.tensor([0, 0, 0]))

# Class weights (tg_cross_entropy_weighted, tg_nll_loss_weighted): PyTorch's
# weight=, the first C of CLASS_W (tests/test_loss.c has the same numbers),
# a constant (no gradient). cew*/<reduction>/<dtype>, their own generator.
g3 = gen(13)
CLASS_W = [0.5, 1.0, 2.0, 3.0, 0.25, 1.5, 0.75, 4.0]


def wlabels(*shape, C, ignore=()):
    return labels(*shape, C=C, ignore=ignore, gen_=g3)


for dt, tag in ((torch.float64, "f64"), (torch.float32, "f32")):
    R = lambda *s, lo=-3.0, hi=3.0: rand(g3, *s, lo=lo, hi=hi, dtype=dt)
    W = lambda C: torch.tensor(CLASS_W[:C], dtype=dt)
    for red in RED:
        w.case(f"cew/{red}/{tag}",
               lambda x, y: F.cross_entropy(x, y, weight=W(5), reduction=red),
               R(6, 5), wlabels(6, C=5, ignore=(2,)))
        w.case(f"cew_smooth/{red}/{tag}",
               lambda x, y: F.cross_entropy(x, y, weight=W(4), reduction=red, label_smoothing=0.1),
               R(5, 4), wlabels(5, C=4, ignore=(1, 3)))
        w.case(f"cew_spatial/{red}/{tag}",
               lambda x, y: F.cross_entropy(x, y, weight=W(3), reduction=red, label_smoothing=0.1),
               R(2, 3, 2, 2), wlabels(2, 2, 2, C=3, ignore=(5,)))
        w.case(f"nllw/{red}/{tag}",
               lambda x, y: F.nll_loss(x, y, weight=W(5), reduction=red),
               F.log_softmax(R(6, 5), 1).detach(), wlabels(6, C=5, ignore=(0,)))
    w.case(f"cew_1d/mean/{tag}",
           lambda x, y: F.cross_entropy(x, y, weight=W(6), label_smoothing=0.1),
           R(6), torch.tensor(4))
w.close()
