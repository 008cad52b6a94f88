#!/usr/bin/env python3
"""Reference numbers for examples/chain_rule.c, computed once with PyTorch's
autograd in float64. Writes tests/ref/chain_rule.txt, one "key v0 v1 ..."
line per quantity the example prints; `chain_rule --check` compares them.
Run with Debian's PyTorch: /usr/bin/python3 tests/ref_chain_rule.py"""
import os
import torch

torch.set_default_dtype(torch.float64)
here = os.path.dirname(os.path.abspath(__file__))
out = []
lr = 0.5


def put(key, t):
    t = torch.as_tensor(t).detach().reshape(-1)
    out.append(key + " " + " ".join(repr(float(v)) for v in t.tolist()))


put("lr", lr)

# (a) 2-4-1 sigmoid network, binary cross entropy, label 0
W1 = torch.tensor([[0.1, 0.2], [0.3, 0.4], [0.5, 0.6], [0.7, 0.8]], requires_grad=True)
b1 = torch.tensor([-0.1, -0.2, -0.3, -0.4], requires_grad=True)
W2 = torch.tensor([-0.1, -0.3, -0.5, -0.7], requires_grad=True)
b2 = torch.tensor(0.5, requires_grad=True)
x = torch.tensor([1.0, 0.0])
t = torch.tensor(0.0)


def fwd_a(W1, b1, W2, b2):
    z1 = W1 @ x + b1
    h = torch.sigmoid(z1)
    z2 = W2 @ h + b2
    y = torch.sigmoid(z2)
    loss = torch.nn.functional.binary_cross_entropy(y, t)
    return z1, h, z2, y, loss


z1, h, z2, y, loss = fwd_a(W1, b1, W2, b2)
for v in (z1, h, z2, y):
    v.retain_grad()
put("a.z1", z1)
put("a.h", h)
put("a.z2", z2)
put("a.y", y)
put("a.loss", loss)
# local derivatives, each by autograd on its one step
yy = y.detach().clone().requires_grad_(True)
put("a.dL_dy", torch.autograd.grad(torch.nn.functional.binary_cross_entropy(yy, t), yy)[0])
zz = z2.detach().clone().requires_grad_(True)
put("a.dy_dz2", torch.autograd.grad(torch.sigmoid(zz), zz)[0])
hh = h.detach().clone().requires_grad_(True)
put("a.dz2_dh", torch.autograd.grad(W2.detach() @ hh + b2.detach(), hh)[0])
z1d = z1.detach().clone().requires_grad_(True)
put("a.dh_dz1", torch.autograd.functional.jacobian(torch.sigmoid, z1d).diagonal())
W1d = W1.detach().clone().requires_grad_(True)
put("a.dz1_dW1_row", torch.autograd.grad((W1d @ x)[0], W1d)[0][0])
loss.backward()
put("a.dL_dz2", z2.grad)
put("a.dL_db2", b2.grad)
put("a.dL_dW2", W2.grad)
put("a.dL_dh", h.grad)
put("a.dL_dz1", z1.grad)
put("a.dL_db1", b1.grad)
put("a.dL_dW1", W1.grad)
with torch.no_grad():
    new = [p - lr * p.grad for p in (W1, b1, W2, b2)]
put("a.W1_new", new[0])
put("a.b1_new", new[1])
put("a.W2_new", new[2])
put("a.b2_new", new[3])
put("a.loss_before", loss)
put("a.loss_after", fwd_a(*new)[4])

# (b) 2-2-1 tanh network, loss (y - 1)^2 / 2
names = ["w1_00", "w1_01", "w1_10", "w1_11", "b1_0", "b1_1", "w2_0", "w2_1", "b2"]
p = torch.tensor([0.1, 0.2, 0.3, 0.5, 0.4, 0.7, 0.3, 0.3, 0.5], requires_grad=True)
xb = torch.tensor([0.5, 0.3])


def fwd_b(p):
    w1 = p[0:4].reshape(2, 2)
    z1 = w1 @ xb + p[4:6]
    h = torch.tanh(z1)
    z2 = p[6:8] @ h + p[8]
    y = torch.tanh(z2)
    return z1, h, z2, y, (y - 1) ** 2 / 2


z1, h, z2, y, loss = fwd_b(p)
for v in (z1, h, z2):
    v.retain_grad()
put("b.z1_0", z1[0])
put("b.z1_1", z1[1])
put("b.h_0", h[0])
put("b.h_1", h[1])
put("b.z2", z2)
put("b.y", y)
put("b.loss", loss)
yy = y.detach().clone().requires_grad_(True)
put("b.dL_dy", torch.autograd.grad((yy - 1) ** 2 / 2, yy)[0])
zz = z2.detach().clone().requires_grad_(True)
put("b.dy_dz2", torch.autograd.grad(torch.tanh(zz), zz)[0])
z1d = z1.detach().clone().requires_grad_(True)
d = torch.autograd.functional.jacobian(torch.tanh, z1d).diagonal()
put("b.dh0_dz", d[0])
put("b.dh1_dz", d[1])
loss.backward()
put("b.dL_dz2", z2.grad)
put("b.dL_dh0", h.grad[0])
put("b.dL_dh1", h.grad[1])
put("b.dL_dz1_0", z1.grad[0])
put("b.dL_dz1_1", z1.grad[1])
for i, n in enumerate(names):
    put("b.dL_d" + n, p.grad[i])
with torch.no_grad():
    pn = p - lr * p.grad
put("b.params_new", pn[:6])
put("b.params_new2", pn[6:])
put("b.loss_before", loss)
put("b.loss_after", fwd_b(pn)[4])

path = os.path.join(here, "ref", "chain_rule.txt")
with open(path, "w") as f:
    f.write("\n".join(out) + "\n")
print(f"{path}: {len(out)} values")
