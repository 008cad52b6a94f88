#!/usr/bin/env python3
"""refgen.py - shared helpers for the scripts that compute reference values
with PyTorch once. The numbers are committed under tests/ref/, so the test
suite never needs PyTorch. Run a generator with Debian's python3-torch:

    /usr/bin/python3 tests/ref_core.py      # writes tests/ref/core.txt

File format (text, one item per line, read by tests/refcase.h):
    case <name>
    in <f32|f64|i64> <grad 0|1> <rank> <dims...> <values...>
    out <rank> <dims...> <values...>
    w <values...>                  weights: the checked loss is sum(out * w)
    grad <input index> <values...> d loss / d input
    end
"""
import torch

torch.set_default_dtype(torch.float64)

DT = {torch.float32: "f32", torch.float64: "f64", torch.int64: "i64"}


def _fmt(t):
    t = t.detach().reshape(-1)
    if t.dtype == torch.int64:
        return " ".join(str(int(v)) for v in t.tolist())
    return " ".join(repr(float(v)) for v in t.tolist())


def _shape(t):
    return " ".join([str(t.dim())] + [str(d) for d in t.shape])


class Writer:
    def __init__(self, path):
        self.f = open(path, "w")
        self.count = 0

    def case(self, name, fn, *inputs, grad=True):
        """inputs: tensors (float ones get gradients unless grad=False)."""
        xs = []
        for x in inputs:
            x = x.detach().clone()
            if grad and x.is_floating_point():
                x.requires_grad_(True)
            xs.append(x)
        out = fn(*xs)
        n = out.numel()
        w = (torch.arange(n, dtype=torch.float64) % 7 + 1) / 4.0
        w = w.to(out.dtype).reshape(out.shape) if out.is_floating_point() else None
        f = self.f
        f.write(f"case {name}\n")
        for x in xs:
            f.write(f"in {DT[x.dtype]} {int(x.requires_grad)} {_shape(x)} {_fmt(x)}\n")
        f.write(f"out {_shape(out)} {_fmt(out)}\n")
        if grad and w is not None and out.requires_grad:
            f.write(f"w {_fmt(w)}\n")
            (out * w).sum().backward()
            for i, x in enumerate(xs):
                if x.requires_grad:
                    g = x.grad if x.grad is not None else torch.zeros_like(x)
                    f.write(f"grad {i} {_fmt(g)}\n")
        f.write("end\n")
        self.count += 1

    def close(self):
        self.f.close()
        print(f"{self.f.name}: {self.count} cases")


def gen(seed=0):
    g = torch.Generator().manual_seed(seed)
    return g


def rand(g, *shape, lo=-2.0, hi=2.0, dtype=torch.float64):
    return (torch.rand(tuple(shape), generator=g, dtype=torch.float64) * (hi - lo) + lo).to(dtype)
