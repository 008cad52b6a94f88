#!/usr/bin/env python3
"""Writes the tiny data files that tests/test_data.c reads: IDX files (plain
and gzip'd), CSV tables, and corrupt variants of both. Written with Python's
struct and gzip modules, independently of tapegrad's own reader and writer.
Run once from anywhere: python3 tests/data/make_data.py"""
import gzip
import os
import struct

here = os.path.dirname(os.path.abspath(__file__))


def put(name, data, mode="wb"):
    with open(os.path.join(here, name), mode) as f:
        f.write(data)


def put_gz(name, data):
    # mtime=0 so that the bytes are the same on every run
    with open(os.path.join(here, name), "wb") as raw:
        with gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as f:
            f.write(data)


def idx(code, shape, fmt, values):
    head = bytes([0, 0, code, len(shape)]) + b"".join(struct.pack(">I", d) for d in shape)
    return head + b"".join(struct.pack(">" + fmt, v) for v in values)


# A tiny MNIST-style pair: 3 images of 2x2 pixels, labels 2, 0, 1.
pixels = [0, 20, 40, 60, 80, 100, 120, 140, 160, 180, 200, 255]
images = idx(0x08, [3, 2, 2], "B", pixels)
labels = idx(0x08, [3], "B", [2, 0, 1])
put("tiny-images-idx3-ubyte", images)
put("tiny-labels-idx1-ubyte", labels)
put_gz("tiny-images-idx3-ubyte.gz", images)
put_gz("tiny-labels-idx1-ubyte.gz", labels)

# Other element types (big-endian on disk).
put("i8.idx", idx(0x09, [4], "b", [-128, -1, 0, 127]))
put("i16.idx", idx(0x0B, [2, 2], "h", [-300, -1, 2, 32767]))
put("i32.idx", idx(0x0C, [3], "i", [-2147483648, 7, 2147483647]))
put("f32.idx", idx(0x0D, [2], "f", [1.5, -0.25]))
put_gz("f64.idx.gz", idx(0x0E, [1, 3], "d", [3.141592653589793, -2.5e-300, 1e300]))

# Corrupt IDX files.
put("empty.idx", b"")
put("bad_magic.idx", b"\x01\x00\x08\x01" + struct.pack(">I", 1) + b"\x05")
put("bad_type.idx", b"\x00\x00\x07\x01" + struct.pack(">I", 1) + b"\x05")
put("bad_rank0.idx", b"\x00\x00\x08\x00")
put("bad_rank9.idx", b"\x00\x00\x08\x09" + struct.pack(">I", 1) * 9 + b"\x05")
put("short_header.idx", b"\x00\x00\x08\x03" + struct.pack(">I", 3) + b"\x00\x02")
put("truncated_data.idx", idx(0x08, [10], "B", [1, 2, 3, 4, 5]))
put("trailing.idx", idx(0x08, [3], "B", [1, 2, 3]) + b"\x04\x05")
put("absurd.idx", b"\x00\x00\x0E\x03" + struct.pack(">I", 0xFFFFFFFF) * 3)
# promises 4 GiB (exactly the limit) and holds 3 bytes: must fail fast
put("promise.idx", b"\x00\x00\x08\x02" + struct.pack(">I", 65536) * 2 + b"\x01\x02\x03")
put("labels4-idx1-ubyte", idx(0x08, [4], "B", [0, 1, 2, 3]))
put("labels_i32-idx1", idx(0x0C, [3], "i", [0, 1, 2]))
put("corrupt.gz", b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03" + bytes(range(7, 80)))
put("truncated.gz", gzip.compress(images, mtime=0)[:30])

# CSV tables.
put("table.csv", "x1,x2,label\n1.5,-2,0\n3e2, 4 ,2\n\n0.25,0x10,1\n", "w")
put("noheader.csv", "1,2,3\n4,5,6\n", "w")
put("crlf.csv", "a;b\r\n1;2\r\n  \r\n3;4\r\n", "w")
put("labelfirst.csv", "1,0.5,0.25\n0,1,2\n", "w")
put("bad_field.csv", "a,b\n1,2\n3,4\n5,abc\n", "w")
put("empty_field.csv", "1,2,3\n4,,6\n", "w")
put("bad_count.csv", "1,2,3\n4,5\n", "w")
put("bad_label.csv", "1,2,0\n1,2,2.5\n", "w")
put("neg_label.csv", "1,2,0\n1,2,-1\n", "w")
put("nan.csv", "1,2\nnan,3\n", "w")
put("inf.csv", "1,2\n3,inf\n", "w")
put("empty.csv", "", "w")
put("header_only.csv", "a,b\n", "w")
put_gz("table.csv.gz", b"x1,x2,label\n1.5,-2,0\n3e2, 4 ,2\n\n0.25,0x10,1\n")
print("wrote", len(os.listdir(here)) - 1, "files in", here)
