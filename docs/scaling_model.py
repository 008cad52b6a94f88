#!/usr/bin/env python3
"""scaling_model.py - the numbers of docs/scaling.md: the ring-allreduce
cost model applied to the flagship and to a 10M-parameter MLP at 8 and 64
nodes on 10 and 100 Gbit/s links, and the bucket size that minimizes the
step time. Inputs are the measured values below (docs/scaling.md says how
each was measured); run `python3 docs/scaling_model.py` to reprint.
"""
import math

LAT = 35e-6          # s per message: a small allreduce over TCP loopback (bench_dist allreduce, quiet)
NODE_FLOPS = 160e9   # f32 FLOP/s of one 2-core node in GEMM (bench/README.md, sgemm 1024-2048)
FLAG_STEP = 0.43e-3  # s: one flagship step, batch 128, 1 thread: bench_dist.sh's 1-rank epoch (0.201 s / 469 steps, quiet)
PER_NODE_BATCH = 128

MODELS = {
    'flagship 784-100-10 (79,510 params)': (79510, FLAG_STEP),
    # 10M parameters: 6 FLOP per parameter per sample (forward 2, backward 4)
    '10M-param MLP': (10_000_000, 6 * 10_000_000 * PER_NODE_BATCH / NODE_FLOPS),
}


def allreduce(bytes_, p, beta, lat=LAT):
    """Ring allreduce: 2(p-1) messages (alpha) plus 2(p-1)/p of the data
    through each link."""
    alpha = 2 * (p - 1) * lat
    return alpha + 2 * (p - 1) / p * bytes_ / beta


def step(params, compute, p, beta, bucket):
    """Step time with buckets of `bucket` bytes started during the backward
    sweep (2/3 of compute): what the sweep cannot hide is exposed, and the
    last bucket always is."""
    size = 4 * params
    k = max(1, math.ceil(size / bucket))
    b = size / k
    comm = k * allreduce(b, p, beta)
    backward = compute * 2 / 3
    hidden = min(comm - allreduce(b, p, beta), backward)
    return compute + comm - hidden, comm


def main():
    print('| model | nodes | link | allreduce of all gradients | step (25 MB buckets) | efficiency | best bucket | step there |')
    print('|---|---|---|---|---|---|---|---|')
    for name, (params, compute) in MODELS.items():
        for p in (8, 64):
            for gbit in (10, 100):
                beta = gbit * 1e9 / 8
                t, comm = step(params, compute, p, beta, 25 << 20)
                best = min((step(params, compute, p, beta, 1 << e)[0], 1 << e) for e in range(12, 28))
                print('| %s | %d | %d Gbit/s | %.2f ms | %.2f ms | %.2f | %s | %.2f ms |' % (
                    name, p, gbit, 1e3 * comm, 1e3 * t, compute / t,
                    ('%d KB' % (best[1] >> 10)) if best[1] < (1 << 20) else ('%d MB' % (best[1] >> 20)),
                    1e3 * best[0]))


if __name__ == '__main__':
    main()
