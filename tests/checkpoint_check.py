#!/usr/bin/env python3
"""checkpoint_check.py - the safetensors format checked from outside, with
json + numpy only (no torch, no safetensors package).

    checkpoint_check.py IN OUT

reads IN, a checkpoint tests/test_checkpoint.c wrote with tapegrad, and
checks every field and value against what the C test put there; then writes
OUT, a checkpoint in the format as another writer lays it out (json.dumps
with its default spacing and \\u escapes, tensors in a different order, no
padding), which the C test reads back with tapegrad. Exit status 0 when IN
is as expected, 1 otherwise (the reason on stderr)."""
import json
import struct
import sys

import numpy as np

DT = {"F32": np.dtype("<f4"), "F64": np.dtype("<f8"), "I64": np.dtype("<i8")}


def expected():
    """The tensors test_checkpoint.c saves (keep in sync with it)."""
    return {
        "w": np.array([(i - 2.5) * 0.25 for i in range(6)], dtype="<f4").reshape(2, 3),
        "b": np.array([1.0 / (i + 1) for i in range(4)], dtype="<f8"),
        "s": np.array(3.141592653589793, dtype="<f8"),
        "e": np.zeros((0, 5), dtype="<f4"),
        "idx": np.array([-1, 0, 1 << 40], dtype="<i8"),
        "x": np.array([i * 1.5 - 4 for i in range(6)], dtype="<f8").reshape(2, 1, 3, 1),
    }


EXPECTED_META = {"format": "tapegrad", "step": "42", "note": 'h\u00e9llo "q"\n'}


def read(path):
    with open(path, "rb") as f:
        blob = f.read()
    if len(blob) < 8:
        raise ValueError("file shorter than 8 bytes")
    (n,) = struct.unpack("<Q", blob[:8])
    if n > len(blob) - 8:
        raise ValueError(f"header length {n} larger than the file")
    header = json.loads(blob[8:8 + n].decode("utf-8"))
    if n % 8:
        raise ValueError(f"header length {n} is not a multiple of 8 (tapegrad pads)")
    data = blob[8 + n:]
    meta = header.pop("__metadata__", {})
    spans = []
    out = {}
    for name, info in header.items():
        if set(info) != {"dtype", "shape", "data_offsets"}:
            raise ValueError(f"{name}: fields {sorted(info)}")
        dt = DT[info["dtype"]]
        shape = tuple(info["shape"])
        b, e = info["data_offsets"]
        count = int(np.prod(shape, dtype=np.int64))
        if e - b != count * dt.itemsize:
            raise ValueError(f"{name}: offsets {b},{e} do not fit {shape} {info['dtype']}")
        spans.append((b, e))
        out[name] = np.frombuffer(data[b:e], dtype=dt).reshape(shape)
    spans.sort()
    at = 0
    for b, e in spans:
        if b != at:
            raise ValueError(f"offsets not contiguous at {b} (expected {at})")
        at = e
    if at != len(data):
        raise ValueError(f"data has {len(data)} bytes, tensors cover {at}")
    return out, meta


def write(path, tensors, meta):
    header = {}
    blobs = []
    at = 0
    # another writer's order: reversed
    for name, a in reversed(list(tensors.items())):
        raw = a.tobytes()
        kind = {np.dtype("<f4"): "F32", np.dtype("<f8"): "F64", np.dtype("<i8"): "I64"}[a.dtype]
        header[name] = {"dtype": kind, "shape": list(a.shape), "data_offsets": [at, at + len(raw)]}
        blobs.append(raw)
        at += len(raw)
    header["__metadata__"] = meta
    h = json.dumps(header).encode("ascii")  # default: ", " / ": " and \\u escapes
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for raw in blobs:
            f.write(raw)


def python_tensors():
    """What this script writes (test_checkpoint.c checks these values)."""
    return {
        "py.f32": (np.arange(6, dtype="<f4") * 0.5 - 1).reshape(3, 2),
        "py.f64": np.array(2.718281828459045, dtype="<f8"),
        "py.i64": np.array([7, -7], dtype="<i8"),
        "py.empty": np.zeros((0,), dtype="<f8"),
        "py.\u00fcn\u00ef\U0001F600": np.array([0.125, -0.5], dtype="<f8"),
    }


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    got, meta = read(sys.argv[1])
    want = expected()
    bad = []
    if set(got) != set(want):
        bad.append(f"names {sorted(got)} != {sorted(want)}")
    for name, a in want.items():
        if name not in got:
            continue
        g = got[name]
        if g.dtype != a.dtype or g.shape != a.shape or not np.array_equal(g, a):
            bad.append(f"{name}: got {g.dtype} {g.shape} {g.ravel()[:6]}, want {a.dtype} {a.shape} {a.ravel()[:6]}")
    if meta != EXPECTED_META:
        bad.append(f"metadata {meta!r} != {EXPECTED_META!r}")
    for b in bad:
        print("checkpoint_check:", b, file=sys.stderr)
    write(sys.argv[2], python_tensors(), {"writer": "numpy", "esc": "tab\there"})
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
