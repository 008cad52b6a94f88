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

# Readers' promises (tests/test_readers.c).
# A UTF-8 byte-order mark before a numeric first line, and before a header.
put("bom.csv", b"\xef\xbb\xbf1.5,2\n3,4\n")
put("bom_header.csv", b"\xef\xbb\xbfa,b\n1,2\n")
# Numeric fields of 200+ characters, in the first line and a later one.
long15 = "1.5" + "0" * 200
long2 = "0" * 150 + "2"
put("longnum.csv", "%s,%s\n3,%s\n" % (long15, long2, long15), "w")
# A first line that is neither a header (no numbers) nor data (all numbers).
put("mixed_first.csv", "1,2,3x\n4,5,6\n", "w")
# A header with a nameless first column: no field is a number.
put("nameless_header.csv", ",a,b\n1,2,3\n", "w")
# gzip: garbage after the stream, several members, a cut second member.
tiny_head, tiny_data = images[:16], images[16:]
put("gz_trailing.idx.gz", gzip.compress(images, mtime=0) + b"garbage!")
put("plain_trailing.idx", images + b"garbage!")
put("gz_zeros.idx.gz", gzip.compress(images, mtime=0) + b"\0\0\0\0")
put("gz_members.idx.gz", gzip.compress(tiny_head, mtime=0) + gzip.compress(tiny_data, mtime=0)
    + gzip.compress(b"", mtime=0))
put("gz_members_trailing.idx.gz", gzip.compress(tiny_head, mtime=0)
    + gzip.compress(tiny_data, mtime=0) + b"garbage!")
put("gz_cut_member.idx.gz", gzip.compress(images, mtime=0) + gzip.compress(b"", mtime=0)[:12])
put("gz_trailing.csv.gz", gzip.compress(b"1,2\n3,4\n", mtime=0) + b"5,6\n")
print("wrote", len(os.listdir(here)) - 1, "files in", here)
