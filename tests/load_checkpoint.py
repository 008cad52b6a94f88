#!/usr/bin/env python3
"""load_checkpoint.py - runs the Python blocks of docs/load_checkpoint.md.

    load_checkpoint.py FASHION_MNIST_EXE DOC

Trains fashion_mnist briefly (--limit 5000 --epochs 1) with --save into a
temporary folder, reads its printed test_accuracy, then executes every
```python block of DOC in order (with `path` and `data_dir` set) and checks
that the NumPy and the PyTorch accuracies equal tapegrad's (to the 4
decimals it prints), that the metadata names the architecture, and that
the input without its normalization scores more than 0.1 lower.
Exit 77 (skipped) where the data set, NumPy or PyTorch is absent.
"""
import os
import re
import subprocess
import sys
import tempfile

DATA = "/usr/share/datasets/fashion-mnist"


def main():
    exe, doc = sys.argv[1], sys.argv[2]
    for mod in ("numpy", "torch"):
        try:
            __import__(mod)
        except ImportError:
            print(f"load_checkpoint: no {mod} here, skipped")
            return 77
    if not os.path.exists(os.path.join(DATA, "t10k-images-idx3-ubyte.gz")):
        print(f"load_checkpoint: no data set in {DATA}, skipped")
        return 77
    blocks = re.findall(r"^```python\n(.*?)^```", open(doc).read(), re.S | re.M)
    failed = 0

    def check(cond, what):
        nonlocal failed
        if not cond:
            failed += 1
            print("FAIL", what, file=sys.stderr)

    check(len(blocks) == 3, f"{len(blocks)} python blocks in {doc}, want 3")
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "model.safetensors")
        p = subprocess.run([exe, "--data", DATA, "--limit", "5000", "--epochs", "1", "--save", path],
                           capture_output=True, text=True, timeout=600)
        check(p.returncode == 0, f"fashion_mnist: exit {p.returncode}\n{p.stderr}")
        m = re.search(r"^test_accuracy: ([0-9.]+)$", p.stdout, re.M)
        check(m is not None, "no test_accuracy line")
        if failed:
            return 1
        tapegrad = float(m.group(1))
        env = {"path": path, "data_dir": DATA}
        for b in blocks:
            exec(compile(b, doc, "exec"), env)
    np = env["np"]
    for name in ("accuracy_numpy", "accuracy_torch"):
        got = env.get(name)
        check(got is not None and round(got, 4) == tapegrad,
              f"{name} = {got}, tapegrad printed {tapegrad}")
    meta = env["meta"]
    check(meta.get("architecture") == "Sequential(Linear(784, 100), ReLU(), Linear(100, 10))",
          f"architecture {meta.get('architecture')!r}")
    check(meta.get("test_accuracy") == m.group(1), f"metadata test_accuracy {meta.get('test_accuracy')}")
    # without the normalization
    params, images, labels = env["params"], env["images"], env["labels"]
    x = (images / 255.0).astype(np.float32)
    h = np.maximum(x @ params["0.weight"].T + params["0.bias"], 0)
    raw = float(((h @ params["2.weight"].T + params["2.bias"]).argmax(1) == labels).mean())
    check(raw < tapegrad - 0.1, f"pixels / 255 alone scores {raw}, normalized {tapegrad}")
    print(f"tapegrad {tapegrad}, NumPy {env.get('accuracy_numpy')}, PyTorch {env.get('accuracy_torch')}, "
          f"unnormalized {raw:.4f}")
    print(f"load_checkpoint: {'0 failed' if not failed else f'{failed} failed'}")
    return 1 if failed else 0


sys.exit(main())
