#!/usr/bin/env python3
"""torch_peer.py - the PyTorch side of the benchmarks, run by the C
benchmarks in the same run so both sides see the same machine.

    /usr/bin/python3 bench/torch_peer.py <benchmark> [args...]

prints one line per torch thread count (1 and 2) on stdout:
    torch <threads> <seconds>
the median of the benchmark's runs at that setting, in seconds per unit
stated by each benchmark. A caller (bench/peer.h's bench_torch_grid:
bench_op_overhead.c) runs this script once per OPENBLAS_NUM_THREADS x
malloc setting, through popen, with
OPENBLAS_CORETYPE unset and every thread count set explicitly, and keeps
the best line.

    /usr/bin/python3 bench/torch_peer.py --serve <benchmark> [args...]

stays up for bench/peer.h's bench_alternate instead: it prints `ready`,
then answers each line `run <threads> <k>` on stdin with
`times <t1> ... <tk>`, k timed units on that many torch threads (the
first block on a thread count runs one unit untimed first), until EOF.
Benchmarks: mlp_epoch (a unit: an epoch, in seconds) and
rosenbrock_tensor (a pass, in ms). bench/conv_torch.py serves the same way (its step: 5 untimed first, and
one before every block).
"""
import sys
import time

import torch


def serve(unit, scale=1.0, first=1, lead=0, clock=time.perf_counter):
    """The --serve loop: unit() is one timed unit; its seconds (by clock)
    times scale are printed. The first block on a thread count runs `first`
    units untimed before it, every other block `lead`."""
    warm = set()
    print("ready", flush=True)
    for line in sys.stdin:
        w = line.split()
        if len(w) != 3 or w[0] != "run":
            break
        threads, k = int(w[1]), int(w[2])
        torch.set_num_threads(threads)
        for _ in range(lead if threads in warm else first):
            unit()
        warm.add(threads)
        ts = []
        for _ in range(k):
            t0 = clock()
            unit()
            ts.append((clock() - t0) * scale)
        print("times " + " ".join(f"{t:.9g}" for t in ts), flush=True)


def median_of(fn, reps):
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    ts.sort()
    return ts[len(ts) // 2]


def op_overhead(n=20000):
    """Seconds per op: a chain of 0-d add+mul recorded and differentiated."""
    def run():
        x = torch.tensor(0.5, dtype=torch.float64, requires_grad=True)
        a = torch.tensor(0.999, dtype=torch.float64)
        b = torch.tensor(0.001, dtype=torch.float64)
        y = x
        for _ in range(n):
            y = y * a + b
        y.backward()
    run()
    return median_of(run, 5) / (2 * n)


def rosenbrock_tensor_unit(n=1000000):
    """f and its gradient below, as a function."""
    g = torch.Generator().manual_seed(0)
    x0 = torch.rand(n, generator=g, dtype=torch.float64)

    def run():
        x = x0.clone().requires_grad_(True)
        a, b = x[:-1], x[1:]
        f = (100.0 * (b - a * a) ** 2 + (1.0 - a) ** 2).sum()
        f.backward()
        return x.grad
    return run


def rosenbrock_tensor(n=1000000):
    """Seconds for f and its gradient, vectorized, f64."""
    run = rosenbrock_tensor_unit(n)
    run()
    return median_of(run, 11)


def _idx(path):
    import gzip
    import os
    import numpy as np
    if not os.path.exists(path) and os.path.exists(path + ".gz"):
        path += ".gz"
    with (gzip.open if path.endswith(".gz") else open)(path, "rb") as f:
        raw = f.read()
    rank = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(rank)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * rank).reshape(dims)


def mlp_epoch_unit(data_dir="/usr/share/datasets/fashion-mnist"):
    """One epoch of the MLP below, as a function (one model, trained on)."""
    x = torch.from_numpy(_idx(data_dir + "/train-images-idx3-ubyte").reshape(-1, 784).astype("float32") / 255.0)
    y = torch.from_numpy(_idx(data_dir + "/train-labels-idx1-ubyte").astype("int64"))
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(784, 100), torch.nn.ReLU(), torch.nn.Linear(100, 10))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    lossf = torch.nn.CrossEntropyLoss()

    def run():
        perm = torch.randperm(x.shape[0])
        for i in range(0, x.shape[0], 64):
            idx = perm[i:i + 64]
            loss = lossf(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return run


def mlp_epoch(data_dir="/usr/share/datasets/fashion-mnist"):
    """Seconds for one epoch: 784-100-10 ReLU MLP, Adam 1e-3, CE, batch 64."""
    run = mlp_epoch_unit(data_dir)
    run()
    return median_of(run, 3)


def main():
    if sys.argv[1] == "--serve":  # units: mlp_epoch seconds, rosenbrock_tensor ms
        name = sys.argv[2]
        if name == "mlp_epoch":
            serve(mlp_epoch_unit(*sys.argv[3:]))
        elif name == "rosenbrock_tensor":
            serve(rosenbrock_tensor_unit(*[int(a) for a in sys.argv[3:]]), scale=1e3, first=2)
        else:
            sys.exit(f"torch_peer.py: --serve {name}: not a benchmark that stays up")
        return
    name = sys.argv[1]
    fn = {"op_overhead": op_overhead, "rosenbrock_tensor": rosenbrock_tensor,
          "mlp_epoch": mlp_epoch}[name]
    args = [a if name == "mlp_epoch" else int(a) for a in sys.argv[2:]]
    for threads in (1, 2):
        torch.set_num_threads(threads)
        print(f"torch {threads} {fn(*args):.9g}", flush=True)


if __name__ == "__main__":
    main()
