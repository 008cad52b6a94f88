#!/usr/bin/env python3
"""Reference trajectories for the optimizers and learning-rate schedules
(issue: nn layer). Writes tests/ref/optim.txt and tests/ref/sched.txt.
Run once with Debian's PyTorch: /usr/bin/python3 tests/ref_optim.py

optim.txt: the data, then one case per optimizer configuration:
    X <rows> <cols> <values>        Y <rows> <cols> <values>
    case <name>
    opt <sgd|adam|adamw|rmsprop|adagrad|lbfgs>
    hp <key> <value> ...            every hyperparameter, PyTorch's names
    init <n> <values>               w [3,4] then b [4], flattened
    step <k> <values>               the parameters after step k
    loss <k> <value>                (lbfgs) the loss step k returned
    end
The loss, computed the same way in tests/test_optim.c:
    mean((X @ w + b - Y)^2) + 0.1 sum(w^4)
      + 0.5 sum(10 (b[1:] - b[:-1]^2)^2 + (1 - b[:-1])^2)
sched.txt:
    case <name>  hp ...  [metrics <n> <values>]  lr <n+1> <values>  end
the lr after construction and after each of n steps (base lr 0.1).
"""
import os
import torch

torch.set_default_dtype(torch.float64)
here = os.path.dirname(os.path.abspath(__file__))
g = torch.Generator().manual_seed(11)
X = torch.rand(5, 3, generator=g) * 2 - 1
Y = torch.rand(5, 4, generator=g) * 2 - 1
W0 = torch.rand(3, 4, generator=g) * 2 - 1
B0 = torch.rand(4, generator=g) * 2 - 1
STEPS = 20


def loss_fn(w, b):
    r = X @ w + b - Y
    b0, b1 = b[:-1], b[1:]
    return (r * r).mean() + 0.1 * (w ** 4).sum() + 0.5 * (10 * (b1 - b0 * b0) ** 2 + (1 - b0) ** 2).sum()


def fmt(t):
    return " ".join(repr(float(v)) for v in t.reshape(-1).tolist())


def flat(w, b):
    return torch.cat([w.detach().reshape(-1), b.detach().reshape(-1)])


out = open(os.path.join(here, "ref", "optim.txt"), "w")
out.write(f"X 5 3 {fmt(X)}\nY 5 4 {fmt(Y)}\n")
count = 0


def case(name, kind, hp, steps=STEPS):
    global count
    w = W0.clone().requires_grad_(True)
    b = B0.clone().requires_grad_(True)
    hp = dict(hp)
    lr = hp.pop("lr")
    ctor = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW,
            "rmsprop": torch.optim.RMSprop, "adagrad": torch.optim.Adagrad,
            "lbfgs": torch.optim.LBFGS}[kind]
    extra = {} if kind == "lbfgs" else {"foreach": False}
    opt = ctor([w, b], lr=lr, **hp, **extra)
    out.write(f"case {name}\nopt {kind}\n")
    flat_hp = {}
    for k, v in hp.items():
        if k == "betas":
            flat_hp["beta1"], flat_hp["beta2"] = v
        else:
            flat_hp[k] = int(v) if isinstance(v, bool) else v
    hps = " ".join(f"{k} {v}" for k, v in flat_hp.items())
    out.write(f"hp lr {lr} {hps}\n".replace(" \n", "\n"))
    out.write(f"init 16 {fmt(flat(w, b))}\n")

    def closure():
        opt.zero_grad()
        l = loss_fn(w, b)
        l.backward()
        return l

    for k in range(1, steps + 1):
        if kind == "lbfgs":
            l = opt.step(closure)
            out.write(f"loss {k} {float(l)!r}\n")
        else:
            closure()
            opt.step()
        out.write(f"step {k} {fmt(flat(w, b))}\n")
    out.write("end\n")
    count += 1


case("sgd", "sgd", dict(lr=1e-3))
case("sgd/momentum", "sgd", dict(lr=1e-3, momentum=0.9))
case("sgd/dampening", "sgd", dict(lr=1e-3, momentum=0.9, dampening=0.1))
case("sgd/nesterov", "sgd", dict(lr=1e-3, momentum=0.9, nesterov=True))
case("sgd/wd", "sgd", dict(lr=1e-3, momentum=0.5, weight_decay=0.01))
case("sgd/maximize", "sgd", dict(lr=1e-4, momentum=0.5, maximize=True))
case("adam", "adam", dict(lr=1e-2))
case("adam/amsgrad", "adam", dict(lr=1e-2, amsgrad=True))
case("adam/wd", "adam", dict(lr=1e-2, weight_decay=0.1))
case("adam/betas", "adam", dict(lr=1e-2, betas=(0.8, 0.99), eps=1e-6))
case("adam/maximize", "adam", dict(lr=1e-3, maximize=True))
case("adamw", "adamw", dict(lr=1e-2))
case("adamw/amsgrad_wd", "adamw", dict(lr=1e-2, weight_decay=0.1, amsgrad=True))
case("rmsprop", "rmsprop", dict(lr=1e-2))
case("rmsprop/centered", "rmsprop", dict(lr=1e-2, centered=True))
case("rmsprop/momentum", "rmsprop", dict(lr=1e-2, momentum=0.9))
case("rmsprop/all", "rmsprop", dict(lr=1e-2, alpha=0.9, eps=1e-6, centered=True, momentum=0.5,
                                    weight_decay=0.1))
case("adagrad", "adagrad", dict(lr=1e-1))
case("adagrad/lr_decay", "adagrad", dict(lr=1e-1, lr_decay=0.01))
case("adagrad/all", "adagrad", dict(lr=1e-1, lr_decay=0.01, weight_decay=0.01,
                                    initial_accumulator_value=0.1, eps=1e-6))
case("lbfgs", "lbfgs", dict(lr=1), steps=3)
case("lbfgs/small", "lbfgs", dict(lr=0.5, max_iter=5, history_size=3), steps=5)
case("lbfgs/wolfe", "lbfgs", dict(lr=1, line_search_fn="strong_wolfe"), steps=3)
case("lbfgs/wolfe_small", "lbfgs", dict(lr=1, max_iter=4, history_size=2,
                                          line_search_fn="strong_wolfe"), steps=4)
out.close()
print(f"{out.name}: {count} cases")

# --------------------------------------------------------------- schedules
out = open(os.path.join(here, "ref", "sched.txt"), "w")
count = 0


def sched(name, make, hp, steps=30, metrics=None):
    global count
    p = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([p], lr=0.1)
    s = make(opt)
    lrs = [opt.param_groups[0]["lr"]]
    for k in range(steps):
        opt.step()
        if metrics is not None:
            s.step(metrics[k])
        else:
            s.step()
        lrs.append(opt.param_groups[0]["lr"])
    out.write(f"case {name}\nhp {' '.join(f'{k} {v}' for k, v in hp.items())}\n")
    if metrics is not None:
        out.write(f"metrics {len(metrics)} {' '.join(repr(float(m)) for m in metrics)}\n")
    out.write(f"lr {len(lrs)} {' '.join(repr(float(v)) for v in lrs)}\nend\n")
    count += 1


S = torch.optim.lr_scheduler
sched("step", lambda o: S.StepLR(o, step_size=4, gamma=0.5), dict(step_size=4, gamma=0.5))
sched("multistep", lambda o: S.MultiStepLR(o, milestones=[3, 7, 7, 20], gamma=0.3),
      dict(m0=3, m1=7, m2=7, m3=20, gamma=0.3))
sched("exponential", lambda o: S.ExponentialLR(o, gamma=0.9), dict(gamma=0.9))
sched("cosine", lambda o: S.CosineAnnealingLR(o, T_max=10, eta_min=0.001),
      dict(t_max=10, eta_min=0.001), steps=45)
sched("cosine/zero", lambda o: S.CosineAnnealingLR(o, T_max=7), dict(t_max=7, eta_min=0.0))
sched("warmup", lambda o: S.LinearLR(o, start_factor=0.25, end_factor=1.0, total_iters=8),
      dict(start_factor=0.25, end_factor=1.0, total_iters=8))
sched("warmup/decay", lambda o: S.LinearLR(o, start_factor=1.0, end_factor=0.1, total_iters=5),
      dict(start_factor=1.0, end_factor=0.1, total_iters=5))
mg = torch.Generator().manual_seed(3)
noisy = [1.0 / (1 + k) + 0.05 * float(torch.rand(1, generator=mg)) for k in range(10)] + [0.2] * 30
sched("plateau", lambda o: S.ReduceLROnPlateau(o), dict(), steps=40, metrics=noisy)
sched("plateau/all", lambda o: S.ReduceLROnPlateau(o, mode="max", factor=0.5, patience=2,
                                                   threshold=0.01, threshold_mode="abs",
                                                   cooldown=2, min_lr=0.01, eps=1e-8),
      dict(maximize=1, factor=0.5, patience=2, threshold=0.01, threshold_abs=1, cooldown=2,
           min_lr=0.01, eps=1e-8), steps=40, metrics=[-m for m in noisy])
sched("plateau/rel_max", lambda o: S.ReduceLROnPlateau(o, mode="max", patience=1),
      dict(maximize=1, patience=1), steps=40, metrics=[1 - m for m in noisy])
out.close()
print(f"{out.name}: {count} sched cases")
