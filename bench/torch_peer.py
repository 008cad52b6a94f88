#!/usr/bin/env python3
"""torch_peer.py - the PyTorch side of the benchmarks, run by the C
benchmarks in the same run (popen) so both sides see the same machine.

    /usr/bin/python3 bench/torch_peer.py <benchmark> [args...]

prints one number (seconds per unit stated by each benchmark) on stdout.
Each benchmark tries 1 and 2 torch threads and reports the best, with
OPENBLAS_CORETYPE unset and every thread count set explicitly (the caller
sets OMP_NUM_THREADS / OPENBLAS_NUM_THREADS / MKL_NUM_THREADS).
"""
import sys
import time

import torch


def best_of(fn, reps):
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


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


def rosenbrock_tensor(n=1000000):
    """Seconds for f and its gradient, vectorized, f64."""
    g = torch.Generator().manual_seed(0)
    x0 = torch.rand(n, generator=g, dtype=torch.float64)

    def run():
        x = x0.clone().requires_grad_(True)
        a, b = x[:-1], x[1:]
        f = (100.0 * (b - a * a) ** 2 + (1.0 - a) ** 2).sum()
        f.backward()
        return x.grad
    run()
    return median_of(run, 11)


def main():
    name = sys.argv[1]
    args = [int(a) for a in sys.argv[2:]]
    fn = {"op_overhead": op_overhead, "rosenbrock_tensor": rosenbrock_tensor}[name]
    best = float("inf")
    for threads in (1, 2):
        torch.set_num_threads(threads)
        best = min(best, fn(*args))
    print(f"{best:.9g}")


if __name__ == "__main__":
    main()
