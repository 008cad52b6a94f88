#!/usr/bin/python3
"""revolve_torch.py - bench_revolve's loop in PyTorch: the gradient of
|x_N|^2 with respect to the initial state and (sigma, rho, beta) of
Lorenz-63 integrated by classic RK4 (h = 1e-5) from (1, 1.5, 20), on 0-d
float64 tensors, as one autograd graph ("full") and with
torch.utils.checkpoint over equal segments of the time loop (PyTorch's
recomputation is one level: a segment's inside is recomputed in backward;
the states between segments are kept). use_reentrant=True, so that a
segment's forward builds no graph: the non-reentrant form still makes every
op's autograd node and drops only the saved tensors, which for 0-d tensors
saves almost nothing (N = 5000, 18 segments: +339 MB against +359 MB).

    /usr/bin/python3 bench/revolve_torch.py [N [segments,...]]

Defaults: N = 20000 (PyTorch's per-op overhead makes 2e5 steps take
minutes), segments = the square roots near N. Each variant runs in a child
process (peak RSS is per process: getrusage ru_maxrss); times are the
child's CPU time (time.process_time) of forward + backward, one run each
with one thread; the baseline is the peak RSS after one warm-up step
(import and PyTorch's lazy setup), so "+MB" is what the loop adds (torch.set_num_threads(1)). Prints one line per variant:
    revolve_torch: <variant> <s> s, rss <MB> MB (+<MB> MB over the baseline)
and the best checkpointed setting (the least memory among those within
1.5x of the fastest time) last.
"""
import os
import resource
import sys


def run(n, segments):
    import time

    import torch
    import torch.utils.checkpoint as cp

    torch.set_num_threads(1)
    f64 = torch.float64
    p = [torch.tensor(v, dtype=f64, requires_grad=True) for v in (10.0, 28.0, 8.0 / 3)]
    x0 = [torch.tensor(v, dtype=f64, requires_grad=True) for v in (1.0, 1.5, 20.0)]
    h = 1e-5

    def field(x, y, z, sigma, rho, beta):
        return sigma * (y - x), x * (rho - z) - y, x * y - beta * z

    def rk4(x, y, z, sigma, rho, beta):
        k1 = field(x, y, z, sigma, rho, beta)
        k2 = field(*(s + k * (h / 2) for s, k in zip((x, y, z), k1)), sigma, rho, beta)
        k3 = field(*(s + k * (h / 2) for s, k in zip((x, y, z), k2)), sigma, rho, beta)
        k4 = field(*(s + k * h for s, k in zip((x, y, z), k3)), sigma, rho, beta)
        return tuple(s + (a + b * 2 + c * 2 + d) * (h / 6)
                     for s, a, b, c, d in zip((x, y, z), k1, k2, k3, k4))

    def segment(m):
        def go(x, y, z, sigma, rho, beta):
            for _ in range(m):
                x, y, z = rk4(x, y, z, sigma, rho, beta)
            return x, y, z
        return go

    # warm-up: one step forward and backward (PyTorch's lazy setup), then
    # the baseline resident memory
    w = segment(1)(*x0, *p)
    (w[0] + w[1] + w[2]).backward()
    for v in x0 + p:
        v.grad = None
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.process_time()
    s = tuple(x0)
    if segments == 0:
        s = segment(n)(*s, *p)
    else:
        per = (n + segments - 1) // segments
        done = 0
        while done < n:
            m = min(per, n - done)
            s = cp.checkpoint(segment(m), *s, *p, use_reentrant=True)
            done += m
    loss = s[0] * s[0] + s[1] * s[1] + s[2] * s[2]
    loss.backward()
    t = time.process_time() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    g = [v.grad.item() for v in x0 + p]
    print(f"{t} {peak / 1024} {(peak - base) / 1024} {loss.item()!r} {' '.join(map(repr, g))}")


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    if len(sys.argv) > 2:
        segs = [int(v) for v in sys.argv[2].split(",")]
    else:
        r = int(n ** 0.5)
        segs = sorted({max(1, r // 4), max(1, r // 2), r, 2 * r})
    rows = []
    for s in [0] + segs:
        rd, wr = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(rd)
            os.dup2(wr, 1)
            run(n, s)
            sys.stdout.flush()
            os._exit(0)
        os.close(wr)
        with os.fdopen(rd) as f:
            out = f.read().split()
        os.waitpid(pid, 0)
        t, rss, extra = float(out[0]), float(out[1]), float(out[2])
        name = "full" if s == 0 else f"checkpoint {s} segments"
        print(f"revolve_torch: N {n}, {name}: {t:.2f} s, rss {rss:.1f} MB "
              f"(+{extra:.1f} MB over the baseline); loss {out[3]}", flush=True)
        rows.append((s, t, rss, extra, [float(v) for v in out[4:]]))
    full = rows[0]
    ck = rows[1:]
    fastest = min(r[1] for r in ck)
    best = min((r for r in ck if r[1] <= 1.5 * fastest), key=lambda r: r[3])
    worst = max(abs(a - b) / max(abs(b), 1e-300) for a, b in zip(best[4], full[4]))
    print(f"revolve_torch_best: N {n}: full {full[1]:.2f} s +{full[3]:.1f} MB, checkpointed "
          f"({best[0]} segments) {best[1]:.2f} s +{best[3]:.1f} MB, time ratio "
          f"{best[1] / full[1]:.2f}, memory ratio (over the baseline) "
          f"{best[3] / max(full[3], 1e-9):.3f}; gradients agree to {worst:.2g}")


if __name__ == "__main__":
    main()
