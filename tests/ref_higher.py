#!/usr/bin/env python3
"""Reference values for higher-order derivatives (issue: higher order).
Writes tests/ref/higher.txt (one input, test_higher.c) and
tests/ref/higher_multi.txt (several inputs with their cross terms, the list
forms tg_*_n, test_higher_multi.c). Run once with Debian's PyTorch:
    /usr/bin/python3 tests/ref_higher.py

Each case's output is itself a derivative (a gradient built with
create_graph, a Hessian, H v, a Jacobian, J v, u^T J), so the gradient of
sum(out * w) that refcase.h also checks is one order higher again: third
derivatives for the Hessian cases. Constant inputs (matrices) are
written with requires-grad 0."""
import os
import torch
import torch.autograd.functional as AF
from refgen import Writer, gen, rand, DT, _fmt, _shape

here = os.path.dirname(os.path.abspath(__file__))
w = Writer(os.path.join(here, "ref", "higher.txt"))
g = gen(5)


def case(name, fn, inputs, req, writer=None):
    """Writer.case with a requires-grad flag per input (refgen's marks
    every float input); into higher.txt unless writer is given."""
    xs = [x.detach().clone().requires_grad_(bool(r)) for x, r in zip(inputs, req)]
    out = fn(*xs)
    n = out.numel()
    wt = ((torch.arange(n, dtype=torch.float64) % 7 + 1) / 4.0).to(out.dtype).reshape(out.shape)
    wr = writer or w
    f = wr.f
    f.write(f"case {name}\n")
    for x in xs:
        f.write(f"in {DT[x.dtype]} {int(x.requires_grad)} {_shape(x)} {_fmt(x)}\n")
    f.write(f"out {_shape(out)} {_fmt(out)}\n")
    if out.requires_grad:
        f.write(f"w {_fmt(wt)}\n")
        (out * wt).sum().backward()
        for i, x in enumerate(xs):
            if x.requires_grad:
                gr = x.grad if x.grad is not None else torch.zeros_like(x)
                f.write(f"grad {i} {_fmt(gr)}\n")
    f.write("end\n")
    wr.count += 1


# Scalar functions f(x, *constants); the C builders in test_higher.c
# write the same expressions with tapegrad ops.
def poly(x):
    return (0.5 * x ** 3 - x ** 2 + x).sum()


def trig(x):
    return (torch.sin(x) * torch.exp(x / 2)).sum() + torch.cos(x).sum() ** 2


def lse(x):
    return torch.log(torch.exp(x).sum())


def ratio(x):
    return torch.sqrt(x * x + 1).sum() / torch.sigmoid(x).sum()


def mlp(x, W, b):
    return torch.tanh(x @ W + b).mean() * torch.sigmoid(x @ W).sum()


def rosen(x, A, B):  # A x = x[:-1], B x = x[1:]
    xa, xb = A @ x, B @ x
    return (100 * (xb - xa ** 2) ** 2 + (1 - xa) ** 2).sum()


# Vector functions.
def vmlp(x, W, b):
    return torch.tanh(x @ W + b)


def vmix(x):
    return x * torch.sin(x).sum() + torch.exp(-x)


def vmat(x):
    return x @ x.transpose(-1, -2)


x4 = rand(g, 4, lo=-1.0, hi=1.0)
x24 = rand(g, 2, 4, lo=-1.0, hi=1.0)
W = rand(g, 4, 3, lo=-1.0, hi=1.0)
b = rand(g, 3, lo=-1.0, hi=1.0)
A = torch.eye(4)[:-1].clone()
B = torch.eye(4)[1:].clone()
xr = torch.tensor([-1.2, 1.0, 0.5, 0.8])

scalars = [
    ("poly", poly, [x4], [1]),
    ("trig", trig, [x4], [1]),
    ("lse", lse, [x24], [1]),
    ("ratio", ratio, [x4], [1]),
    ("mlp", mlp, [x24, W, b], [1, 0, 0]),
    ("rosen", rosen, [xr, A, B], [1, 0, 0]),
]
for name, f, ins, req in scalars:
    rest = ins[1:]
    # the gradient, recorded: its gradient is H w
    case(f"grad2/{name}", lambda x, *c, f=f: torch.autograd.grad(f(x, *c), x, create_graph=True)[0],
         ins, req)
    case(f"hessian/{name}", lambda x, *c, f=f: AF.hessian(lambda y: f(y, *c), x, create_graph=True),
         ins, req)
    v = rand(g, *ins[0].shape)
    case(f"hvp/{name}",
         lambda x, v, *c, f=f: AF.hvp(lambda y: f(y, *c), x, v, create_graph=True)[1],
         [ins[0], v] + rest, [1, 1] + req[1:])

# f32: the same drivers in single precision
x4f = x4.float()
case("hessian/poly_f32", lambda x: AF.hessian(poly, x, create_graph=True), [x4f], [1])
case("jacobian/vmix_f32", lambda x: AF.jacobian(vmix, x, create_graph=True), [x4f], [1])

vectors = [
    ("vmlp", vmlp, [x24, W, b], [1, 0, 0]),
    ("vmix", vmix, [x4], [1]),
    ("vmat", vmat, [rand(g, 2, 3)], [1]),
]
for name, f, ins, req in vectors:
    rest = ins[1:]
    case(f"jacobian/{name}", lambda x, *c, f=f: AF.jacobian(lambda y: f(y, *c), x, create_graph=True),
         ins, req)
    v = rand(g, *ins[0].shape)
    case(f"jvp/{name}",
         lambda x, v, *c, f=f: AF.jvp(lambda y: f(y, *c), x, v, create_graph=True)[1],
         [ins[0], v] + rest, [1, 1] + req[1:])
    u = rand(g, *f(*ins).shape)
    case(f"vjp/{name}",
         lambda x, u, *c, f=f: AF.vjp(lambda y: f(y, *c), x, u, create_graph=True)[1],
         [ins[0], u] + rest, [1, 1] + req[1:])
w.close()


# Several inputs (higher_multi.txt): each case's output is the list form's
# results flattened and joined in order (Hessian blocks row by row: H[0][0],
# H[0][1], ..., H[1][0], ...), as the builders in test_higher_multi.c join
# them; its gradient is again one order higher (third derivatives for the
# Hessian and H v cases).
m = Writer(os.path.join(here, "ref", "higher_multi.txt"))


def flat(ts):
    return torch.cat([t.reshape(-1) for t in ts])


# Scalar functions of two inputs with cross terms; constants after them.
def cross(x, y):  # x [3], y [2,3]
    return ((x ** 2 * y).sum() + (torch.sin(x) * y ** 2).sum() + x.sum() ** 3 / 6
            + torch.cos(y.sum()))


def mlp2(W, b, X):  # W [3,2], b [2], X [4,3] constant
    return (torch.tanh(X @ W + b) ** 2).mean() * torch.sigmoid(b).sum()


# Vector functions of two inputs.
def vcross(x, y):  # [2,3]
    return torch.tanh(x * y) + torch.sin(x)


def vmm(A, B):  # [2,3] @ [3,2]
    return A @ B


xc = rand(g, 3, lo=-1.0, hi=1.0)
yc = rand(g, 2, 3, lo=-1.0, hi=1.0)
Wm = rand(g, 3, 2, lo=-1.0, hi=1.0)
bm = rand(g, 2, lo=-1.0, hi=1.0)
Xm = rand(g, 4, 3, lo=-1.0, hi=1.0)
Am = rand(g, 2, 3, lo=-1.0, hi=1.0)
Bm = rand(g, 3, 2, lo=-1.0, hi=1.0)


def hess_flat(f, n):
    def run(*a):
        H = AF.hessian(lambda *v: f(*v, *a[n:]), tuple(a[:n]), create_graph=True)
        return flat([H[i][j] for i in range(n) for j in range(n)])
    return run


def hvp_flat(f, n):
    def run(*a):
        return flat(AF.hvp(lambda *v: f(*v, *a[2 * n:]), tuple(a[:n]), tuple(a[n:2 * n]),
                           create_graph=True)[1])
    return run


for name, f, ins, req in [("cross", cross, [xc, yc], [1, 1]),
                          ("mlp2", mlp2, [Wm, bm, Xm], [1, 1, 0])]:
    case(f"hessian_n/{name}", hess_flat(f, 2), ins, req, m)
    vs = [rand(g, *t.shape) for t in ins[:2]]
    case(f"hvp_n/{name}", hvp_flat(f, 2), ins[:2] + vs + ins[2:], [1, 1, 1, 1] + req[2:], m)
case("hessian_n/cross_f32", hess_flat(cross, 2), [xc.float(), yc.float()], [1, 1], m)

for name, f, ins in [("vcross", vcross, [xc, yc]), ("vmm", vmm, [Am, Bm])]:
    case(f"jacobian_n/{name}", lambda *a, f=f: flat(AF.jacobian(f, tuple(a), create_graph=True)),
         ins, [1, 1], m)
    vs = [rand(g, *t.shape) for t in ins]
    case(f"jvp_n/{name}",
         lambda x, y, v0, v1, f=f: AF.jvp(f, (x, y), (v0, v1), create_graph=True)[1],
         ins + vs, [1, 1, 1, 1], m)
    u = rand(g, *f(*ins).shape)
    case(f"vjp_n/{name}", lambda x, y, u, f=f: flat(AF.vjp(f, (x, y), u, create_graph=True)[1]),
         ins + [u], [1, 1, 1], m)
m.close()
