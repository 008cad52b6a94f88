#!/usr/bin/env python3
"""dist_torch.py - the peer of bench_dist: one epoch of the flagship MLP
(784-100-10, Adam lr 2e-3, global batch 128) with PyTorch
DistributedDataParallel, gloo backend, on P processes x 1 thread.

    /usr/bin/python3 bench/dist_torch.py P [DATA]

prints "epoch_s <the slowest process's wall time>". Data: Fashion-MNIST
read from the IDX files, standardized as the C side does; every process
takes its slice of each shuffled global batch (DistributedSampler-like).
"""
import gzip
import os
import sys
import time

import numpy as np
import torch
import torch.distributed as dist
import torch.multiprocessing as mp


def load(d):
    with gzip.open(os.path.join(d, 'train-images-idx3-ubyte.gz')) as f:
        x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 784).astype(np.float32) / 255
    with gzip.open(os.path.join(d, 'train-labels-idx1-ubyte.gz')) as f:
        y = np.frombuffer(f.read(), np.uint8, offset=8).astype(np.int64)
    x = (x - x.mean()) / x.std()
    return torch.from_numpy(x), torch.from_numpy(y)


def worker(rank, size, data, port, out):
    torch.set_num_threads(1)
    os.environ['MASTER_ADDR'] = '127.0.0.1'
    os.environ['MASTER_PORT'] = str(port)
    dist.init_process_group('gloo', rank=rank, world_size=size)
    x, y = load(data)
    torch.manual_seed(1)
    model = torch.nn.Sequential(torch.nn.Linear(784, 100), torch.nn.ReLU(), torch.nn.Linear(100, 10))
    ddp = torch.nn.parallel.DistributedDataParallel(model) if size > 1 else model
    opt = torch.optim.Adam(ddp.parameters(), lr=2e-3)
    g = torch.Generator().manual_seed(1)
    order = torch.randperm(x.shape[0], generator=g)
    dist.barrier()
    t0 = time.perf_counter()
    for i in range(0, x.shape[0], 128):
        batch = order[i:i + 128]
        k = batch.shape[0]
        mine = batch[rank * k // size:(rank + 1) * k // size]
        loss = torch.nn.functional.cross_entropy(ddp(x[mine]), y[mine])
        opt.zero_grad()
        loss.backward()
        opt.step()
    t = torch.tensor([time.perf_counter() - t0])
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    if rank == 0:
        out.put(float(t[0]))
    dist.destroy_process_group()


def main():
    size = int(sys.argv[1])
    data = sys.argv[2] if len(sys.argv) > 2 else '/usr/share/datasets/fashion-mnist'
    ctx = mp.get_context('spawn')
    out = ctx.Queue()
    port = 29500 + os.getpid() % 1000
    procs = [ctx.Process(target=worker, args=(r, size, data, port, out)) for r in range(size)]
    for p in procs:
        p.start()
    t = out.get()
    for p in procs:
        p.join()
    print('epoch_s %.3f' % t)


if __name__ == '__main__':
    main()
