#!/usr/bin/env python3
"""The PyTorch side of bench/bench_conv.c (run by it; not standalone-useful).

Forward + backward of a 32x1x28x28 f32 input through conv(1->32, 3x3) + relu
+ max_pool2d(2) + conv(32->64, 3x3), loss = sum of the output, the input
not requiring grad, parameters' grads set to None before each step.
For each thread count in argv[1] (comma-separated) prints one line
    torch <threads> <ms>
where <ms> is the median of the `blocks` x `runs` timed steps at that
setting (after warm-up); blocks alternate between the thread counts.
bench/bench_conv.c ran it once per OPENBLAS_NUM_THREADS x malloc setting
(bench/peer.h, bench_torch_grid); `--serve` keeps it up instead, for
bench_alternate (bench/peer.h; the protocol: bench/torch_peer.py).
Run with Debian's python3-torch: /usr/bin/python3 bench/conv_torch.py 1,2
"""
import sys
import time

import torch
import torch.nn.functional as F

torch.manual_seed(0)
x = torch.randn(32, 1, 28, 28)
w1 = (torch.randn(32, 1, 3, 3) / 3).requires_grad_()
b1 = (torch.randn(32) / 3).requires_grad_()
w2 = (torch.randn(64, 32, 3, 3) / 17).requires_grad_()
b2 = (torch.randn(64) / 17).requires_grad_()
params = (w1, b1, w2, b2)


def step():
    for p in params:
        p.grad = None
    y = F.conv2d(F.max_pool2d(F.relu(F.conv2d(x, w1, b1)), 2), w2, b2)
    y.sum().backward()


if len(sys.argv) > 1 and sys.argv[1] == "--serve":
    from torch_peer import serve  # this script's directory is on sys.path
    serve(step, scale=1e3, first=5, lead=1)
    sys.exit(0)

threads = [int(t) for t in (sys.argv[1] if len(sys.argv) > 1 else "1,2").split(",")]
runs = int(sys.argv[2]) if len(sys.argv) > 2 else 30
blocks = int(sys.argv[3]) if len(sys.argv) > 3 else 2
samples = {t: [] for t in threads}
for t in threads:  # warm-up for each setting
    torch.set_num_threads(t)
    for _ in range(5):
        step()
for _ in range(blocks):
    for t in threads:
        torch.set_num_threads(t)
        step()
        for _ in range(runs):
            t0 = time.perf_counter()
            step()
            samples[t].append((time.perf_counter() - t0) * 1e3)
for t in threads:
    ts = sorted(samples[t])
    print(f"torch {t} {ts[len(ts) // 2]:.4f}", flush=True)
