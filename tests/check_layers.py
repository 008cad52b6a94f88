#!/usr/bin/env python3
"""check_layers.py - fails on any #include that runs back up the layers.

The library is built in layers, bottom to top (HACKING.md, "Layers"):

    autograd/core/  the core: records, tape, tensors, errors, allocation
    ops/kernels/    raw loops (GEMM)
    ops/            the differentiable ops
    autograd/       the sweep, gradcheck, higher order, inspection
    nn/             layers, losses, optimizers, data: public headers only

A file may include headers of its own folder and of the folders below it.
nn/, examples/, bench/ and the tests of the public API may include, from
other folders, only the public headers (named on the command line by
meson). The compiler already enforces most of this through each layer's
include path; this check also catches relative paths ("../x.h") and says
which rule a file broke.

    check_layers.py ROOT --public H... [--internal-tests F...]
    check_layers.py --self-test

Prints each violation and "layers: N passed, M failed"; exits 1 on any.
"""
import os
import re
import sys
import tempfile

LAYERS = ["autograd/core", "ops/kernels", "ops", "autograd", "nn"]
# folders outside the library: they see the public headers, or (the tests
# named as internal) every layer
CLIENTS = ["examples", "bench", "tests", "tests/fuzz"]
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def rank(folder):
    return LAYERS.index(folder) if folder in LAYERS else None


def headers_by_folder(root):
    """{header name: folder} for every header in a layer folder."""
    where = {}
    for folder in LAYERS:
        d = os.path.join(root, folder)
        if not os.path.isdir(d):
            continue
        for name in os.listdir(d):
            if name.endswith(".h"):
                where.setdefault(name, []).append(folder)
    return where


def check(root, public, internal_tests):
    """Returns (files checked, list of violation sentences)."""
    where = headers_by_folder(root)
    bad = []
    nfiles = 0
    for folder in LAYERS + CLIENTS:
        d = os.path.join(root, folder)
        if not os.path.isdir(d):
            continue
        for name in sorted(os.listdir(d)):
            if not name.endswith((".c", ".h")):
                continue
            path = os.path.join(d, name)
            rel = f"{folder}/{name}"
            nfiles += 1
            text = open(path, encoding="utf-8", errors="replace").read()
            for inc in INCLUDE.findall(text):
                # a path: resolve it against the including file's folder
                if "/" in inc:
                    target = os.path.relpath(os.path.normpath(os.path.join(d, inc)), root)
                    tfolder = os.path.dirname(target).replace(os.sep, "/")
                    base = os.path.basename(target)
                    if rank(tfolder) is None:
                        continue  # outside the library (e.g. a test helper)
                    homes = [tfolder]
                else:
                    base = inc
                    if os.path.exists(os.path.join(d, inc)):
                        continue  # its own folder
                    homes = where.get(inc)
                    if not homes:
                        continue  # a system header or one outside the layers
                if folder in LAYERS:
                    r = rank(folder)
                    if all(rank(h) > r for h in homes):
                        bad.append(f"{rel}: includes {inc} from {homes[0]}/, a layer above "
                                   f"{folder}/")
                        continue
                    if folder == "nn" and base not in public:
                        bad.append(f"{rel}: includes {inc}, an internal header of "
                                   f"{homes[0]}/ (nn/ sits on the public API alone)")
                elif base not in public and name not in internal_tests:
                    bad.append(f"{rel}: includes {inc}, an internal header of {homes[0]}/ "
                               f"(only the tests of internals may; tests/meson.build)")
    return nfiles, bad


def self_test():
    """The check must be able to fail: a small tree with one violation of
    each rule, and one clean include of each kind."""
    files = {
        "autograd/core/tg_engine.h": "",
        "autograd/core/tg_core.h": "",
        "autograd/core/tape.c": '#include "tg_engine.h"\n',
        "autograd/core/bad_up.c": '#include "tg_internal.h"\n',          # core -> ops
        "ops/tg_internal.h": '#include "tg_engine.h"\n',
        "ops/tg_ops.h": '#include "tg_core.h"\n',
        "ops/arith.c": '#include "tg_internal.h"\n#include "../autograd/tg_sweep.h"\n',
        "autograd/tg_sweep.h": '#include "tg_internal.h"\n',
        "autograd/backward.c": '#include "tg_sweep.h"\n#include <stdio.h>\n',
        "nn/loss.c": '#include "tg_ops.h"\n#include "tg_engine.h"\n',     # internal
        "examples/ex.c": '#include "tg_core.h"\n',
        "tests/test_x.c": '#include "tg_internal.h"\n',                  # not internal
        "tests/test_gemm.c": '#include "tg_internal.h"\n',               # internal: ok
    }
    with tempfile.TemporaryDirectory() as root:
        for rel, text in files.items():
            os.makedirs(os.path.join(root, os.path.dirname(rel)), exist_ok=True)
            with open(os.path.join(root, rel), "w") as f:
                f.write(text)
        _, bad = check(root, {"tg_core.h", "tg_ops.h"}, {"test_gemm.c"})
    want = ["autograd/core/bad_up.c", "ops/arith.c", "nn/loss.c", "tests/test_x.c"]
    got = sorted(b.split(":")[0] for b in bad)
    ok = got == sorted(want)
    if not ok:
        print("self-test: expected violations in", want, "got", bad)
    return ok


def main(argv):
    if argv[1:] == ["--self-test"]:
        ok = self_test()
        print(f"layers_self_test: {int(ok)} passed, {int(not ok)} failed")
        return 0 if ok else 1
    root = argv[1]
    public, internal, cur = set(), set(), None
    for a in argv[2:]:
        if a in ("--public", "--internal-tests"):
            cur = public if a == "--public" else internal
        elif cur is not None:
            cur.add(os.path.basename(a))
    nfiles, bad = check(root, public, internal)
    for b in bad:
        print(b)
    nbad = len({b.split(":")[0] for b in bad})
    print(f"layers: {nfiles - nbad} passed, {nbad} failed")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
