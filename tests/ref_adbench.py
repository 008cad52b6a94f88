#!/usr/bin/env python3
"""Reference values for ADBench's problems (bench/adbench/): the objective and
its gradient by PyTorch autograd, in f64, for gmm_d2_K5, lstm_l2_c1024 and
one observation of ba1 (its camera, point, weight and feature are the same
for every observation). Writes tests/ref/adbench.txt, read by
tests/test_adbench.c. Run once with Debian's PyTorch:

    /usr/bin/python3 tests/ref_adbench.py

The functions follow ADBench's reference code (src/cpp/shared/gmm.h, lstm.h,
ba.h) loop by loop, not the tensor formulation of bench/adbench/, so that the
two are independent. File format, one item per line:
    <problem> F <values...>     the objective (BA: err0 err1 werr)
    <problem> J <n> <values...> the gradient (BA: the 3 x 15 Jacobian rows
                                err0, err1, werr by camera 0..10, point
                                0..2, weight)
"""
import math
import os

import torch

torch.set_default_dtype(torch.float64)
PI = 3.14159265359  # ADBench's constant (defs.h)
here = os.path.dirname(os.path.abspath(__file__))
data = os.path.join(here, "..", "bench", "adbench", "data")


def numbers(path):
    with open(path) as f:
        return f.read().split()


def fmt(t):
    return " ".join(repr(float(v)) for v in t.detach().reshape(-1).tolist())


def gmm(path):
    t = numbers(path)
    d, k, n = int(t[0]), int(t[1]), int(t[2])
    v = [float(x) for x in t[3:]]
    icf_sz = d * (d + 1) // 2
    alphas = torch.tensor(v[:k], requires_grad=True)
    at = k
    means = torch.tensor(v[at:at + k * d]).reshape(k, d).requires_grad_(True)
    at += k * d
    icf = torch.tensor(v[at:at + k * icf_sz]).reshape(k, icf_sz).requires_grad_(True)
    at += k * icf_sz
    x = torch.tensor(v[at:at + n * d]).reshape(n, d)
    at += n * d
    gamma, m = v[at], int(v[at + 1])

    def lse(a, dim):
        mx = a.max(dim, keepdim=True).values.detach()
        return torch.log(torch.exp(a - mx).sum(dim)) + mx.squeeze(dim)
    mains = []
    sum_qs = icf[:, :d].sum(1)
    for c in range(k):
        q = icf[c, :d]
        xc = x - means[c]                       # (n, d)
        cols = [torch.exp(q[i]) * xc[:, i] for i in range(d)]
        li = d
        for i in range(d):
            for j in range(i + 1, d):
                cols[j] = cols[j] + icf[c, li] * xc[:, i]
                li += 1
        sq = sum(col * col for col in cols)
        mains.append(alphas[c] + sum_qs[c] - 0.5 * sq)
    slse = lse(torch.stack(mains, 1), 1).sum()
    const = -n * d * 0.5 * math.log(2 * PI)
    nn = d + m + 1
    lgd = 0.25 * d * (d - 1) * math.log(PI) + sum(math.lgamma(0.5 * nn + 0.5 * (1 - j))
                                                  for j in range(1, d + 1))
    C = nn * d * (math.log(gamma) - 0.5 * math.log(2)) - lgd
    out = 0
    for c in range(k):
        fro = (torch.exp(icf[c, :d]) ** 2).sum() + (icf[c, d:] ** 2).sum()
        out = out + 0.5 * gamma * gamma * fro - m * sum_qs[c]
    prior = out - k * C
    err = const + slse - n * lse(alphas, 0) + prior
    err.backward()
    return err, torch.cat([alphas.grad.reshape(-1), means.grad.reshape(-1), icf.grad.reshape(-1)])


def lstm(path):
    t = numbers(path)
    l, c, b = int(t[0]), int(t[1]), int(t[2])
    v = torch.tensor([float(x) for x in t[3:]])
    mp = v[:8 * l * b].clone().requires_grad_(True)
    ep = v[8 * l * b:8 * l * b + 3 * b].clone().requires_grad_(True)
    at = 8 * l * b + 3 * b
    state = [v[at + r * b:at + (r + 1) * b] for r in range(2 * l)]
    seq = v[at + 2 * l * b:].reshape(c, b)
    total, count = 0, 0
    for tt in range(c - 1):
        x = seq[tt] * ep[:b]
        for i in range(l):
            w, bias = mp[8 * b * i:8 * b * i + 4 * b], mp[8 * b * i + 4 * b:8 * b * (i + 1)]
            h, cell = state[2 * i], state[2 * i + 1]
            forget = torch.sigmoid(x * w[:b] + bias[:b])
            ingate = torch.sigmoid(h * w[b:2 * b] + bias[b:2 * b])
            outgate = torch.sigmoid(x * w[2 * b:3 * b] + bias[2 * b:3 * b])
            change = torch.tanh(h * w[3 * b:] + bias[3 * b:])
            cell = cell * forget + ingate * change
            h = outgate * torch.tanh(cell)
            state[2 * i], state[2 * i + 1] = h, cell
            x = h
        ypred = x * ep[b:2 * b] + ep[2 * b:]
        ynorm = ypred - torch.log(torch.exp(ypred).sum() + 2)
        total = total + (seq[tt + 1] * ynorm).sum()
        count += b
    loss = -total / count
    loss.backward()
    return loss, torch.cat([mp.grad, ep.grad])


def ba(path):
    v = [float(x) for x in numbers(path)[3:]]
    x0 = torch.tensor(v[:15])  # camera (11), point (3), weight
    feat = torch.tensor(v[15:17])

    def f(x):
        cam, X, w = x[:11], x[11:14], x[14]
        rot, pt = cam[:3], X - cam[3:6]
        sqtheta = (rot * rot).sum()
        theta = torch.sqrt(sqtheta)
        wv = rot * (1.0 / theta)
        Xcam = pt * torch.cos(theta) + torch.cross(wv, pt, dim=0) * torch.sin(theta) + \
            wv * ((wv * pt).sum() * (1 - torch.cos(theta)))
        proj = Xcam[:2] / Xcam[2]
        rsq = (proj * proj).sum()
        proj = proj * (1 + cam[9] * rsq + cam[10] * rsq * rsq)
        proj = proj * cam[6] + cam[7:9]
        err = w * (proj - feat)
        return torch.cat([err, (1 - w * w).reshape(1)])
    return f(x0), torch.autograd.functional.jacobian(f, x0)


with open(os.path.join(here, "ref", "adbench.txt"), "w") as out:
    for name, fn, rel in (("gmm_d2_K5", gmm, "gmm/gmm_d2_K5.txt"),
                          ("lstm_l2_c1024", lstm, "lstm/lstm_l2_c1024.txt"),
                          ("ba1", ba, "ba/ba1_n49_m7776_p31843.txt")):
        F, J = fn(os.path.join(data, rel))
        out.write(f"{name} F {fmt(F)}\n")
        out.write(f"{name} J {J.numel()} {fmt(J)}\n")
