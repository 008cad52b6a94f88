#!/usr/bin/env python3
"""adbench_torch.py - the PyTorch peer of the ADBench bench lines: ADBench's
GMM and LSTM objectives in the same tensor formulation as
bench/adbench/gmm.c and lstm.c, f64, gradient by autograd.

    adbench_torch.py <gmm|lstm> <input.txt> <torch threads>

Prints the median CPU time (time.process_time, all threads) of one gradient
evaluation in seconds, after one warm-up: at least 5 evaluations, more until
1 s has been spent (at most 200).

    adbench_torch.py --serve <gmm|lstm> <input.txt>

stays up for build/bench/adbench --bench instead (bench/adbench/peer.c,
through bench/peer.h's bench_alternate: the protocol is
bench/torch_peer.py's), each unit one gradient evaluation, timed in CPU
seconds as above."""
import math
import sys
import time

import torch

PI = 3.14159265359  # ADBench's constant


def read_numbers(path):
    with open(path) as f:
        return f.read().split()


def gmm_load(path):
    t = read_numbers(path)
    d, k, n = int(t[0]), int(t[1]), int(t[2])
    icf_sz = d * (d + 1) // 2
    v = [float(x) for x in t[3:]]
    at = 0

    def take(cnt):
        nonlocal at
        out = torch.tensor(v[at:at + cnt], dtype=torch.float64)
        at += cnt
        return out
    alphas = take(k)
    means = take(k * d).reshape(k, d)
    icf = take(k * icf_sz).reshape(k, icf_sz)
    x = take(n * d).reshape(n, d)
    gamma, m = v[at], int(v[at + 1])
    return (alphas, means, icf), (x, gamma, m)


def gmm_prepare(params, extra):
    (alphas, means, icf), (x, gamma, m) = params, extra
    k, d = means.shape
    icf_sz = icf.shape[1]
    pos = torch.full((d * d,), icf_sz, dtype=torch.int64)
    li = d
    for i in range(d):
        pos[i * d + i] = i
        for j in range(i + 1, d):
            pos[j * d + i] = li
            li += 1
    nn = d + m + 1
    lgd = 0.25 * d * (d - 1) * math.log(PI) + sum(math.lgamma(0.5 * nn + 0.5 * (1 - j))
                                                  for j in range(1, d + 1))
    wc = nn * d * (math.log(gamma) - 0.5 * math.log(2.0)) - lgd
    n = x.shape[0]
    const = -n * d * 0.5 * math.log(2 * PI) - k * wc
    return x, gamma, m, pos, const


def gmm_objective(alphas, means, icf, x, gamma, m, pos, const):
    k, d = means.shape
    n = x.shape[0]
    q = icf[:, :d]
    ltri = icf[:, d:]
    qdiag = torch.exp(q)
    sum_qs = q.sum(1)
    Q = torch.cat([qdiag, ltri, torch.zeros(k, 1, dtype=icf.dtype)], 1)[:, pos]  # (k, d*d)
    Qmu = torch.matmul(Q.reshape(k, d, d), means.reshape(k, d, 1)).reshape(k * d)
    qxc = torch.nn.functional.linear(x, Q.reshape(k * d, d), -Qmu)  # (n, k d)
    sq = (qxc * qxc).reshape(n, k, d).sum(2)
    main = sq * -0.5 + (alphas + sum_qs)
    slse = torch.logsumexp(main, 1).sum()
    fro = (qdiag * qdiag).sum() + (ltri * ltri).sum()
    prior = fro * (0.5 * gamma * gamma) - sum_qs.sum() * m
    return slse - torch.logsumexp(alphas, 0) * n + prior + const


def lstm_load(path):
    t = read_numbers(path)
    l, c, b = int(t[0]), int(t[1]), int(t[2])
    v = torch.tensor([float(x) for x in t[3:]], dtype=torch.float64)
    mp = v[:8 * l * b].clone()
    ep = v[8 * l * b:8 * l * b + 3 * b].clone()
    st = v[8 * l * b + 3 * b:8 * l * b + 3 * b + 2 * l * b].clone()
    seq = v[8 * l * b + 3 * b + 2 * l * b:].reshape(c, b).clone()
    return (mp, ep), (l, b, st, seq)


def lstm_objective(mp, ep, l, b, st, seq):
    T = seq.shape[0] - 1
    wb = [mp[r * b:(r + 1) * b] for r in range(8 * l)]
    state = [st[r * b:(r + 1) * b].reshape(1, b) for r in range(2 * l)]
    in_w, out_w, out_b = ep[:b], ep[b:2 * b], ep[2 * b:]
    xs = seq[:T] * in_w
    hs = []
    for t in range(T):
        x = xs[t:t + 1]
        for i in range(l):
            W, B = wb[8 * i:8 * i + 4], wb[8 * i + 4:8 * i + 8]
            h, cell = state[2 * i], state[2 * i + 1]
            fg = torch.sigmoid(x * W[0] + B[0])
            ig = torch.sigmoid(h * W[1] + B[1])
            og = torch.sigmoid(x * W[2] + B[2])
            ch = torch.tanh(h * W[3] + B[3])
            cell = cell * fg + ig * ch
            h = og * torch.tanh(cell)
            state[2 * i], state[2 * i + 1] = h, cell
            x = h
        hs.append(x)
    y = torch.cat(hs, 0) * out_w + out_b
    lse = torch.log(torch.exp(y).sum(1, keepdim=True) + 2)
    return (seq[1:] * (y - lse)).sum() * (-1.0 / (T * b))


def main():
    serving = sys.argv[1] == "--serve"
    if serving:
        kind, path = sys.argv[2], sys.argv[3]
    else:
        kind, path, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
        torch.set_num_threads(threads)
    if kind == "gmm":
        params, extra = gmm_load(path)
        extra = gmm_prepare(params, extra)
        fn = gmm_objective
    else:
        params, extra = lstm_load(path)
        fn = lstm_objective
    params = [p.clone().requires_grad_(True) for p in params]

    def grad():
        for p in params:
            p.grad = None
        f = fn(*params, *extra)
        f.backward()
        return f
    if serving:
        from torch_peer import serve  # this script's directory is on sys.path
        serve(grad, clock=time.process_time)
        return
    grad()
    times, spent = [], 0.0
    while len(times) < 200 and (len(times) < 5 or spent < 1.0):
        t0 = time.process_time()
        grad()
        times.append(time.process_time() - t0)
        spent += times[-1]
    times.sort()
    print(f"{times[len(times) // 2]:.9g}")


if __name__ == "__main__":
    main()
