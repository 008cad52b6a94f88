#!/usr/bin/env python3
"""examples_cli.py - the command lines of the examples, as a user meets them.

    examples_cli.py flags EXAMPLE...    every example: --help, bad flags
    examples_cli.py derivative EXE      derivative's expressions and errors
    examples_cli.py progress EXE        fashion_mnist's progress reaches a pipe
    examples_cli.py plot PLOT_LOSS_PY   docs/plot_loss.py draws a CSV as SVG

flags: `EXAMPLE --help` exits 0 and lists every flag with "(default: ...)";
an unknown flag, a flag without its value, a number flag given "abc", a
value out of the range its source checks (ex_require) and a stray
argument each exit 2 with a message on stderr and nothing on stdout.

derivative: a typed expression gives its value and partials (checked
against numbers worked out by hand), the old two-number form still works,
--trace and --dot work, and each bad input exits 2 naming the problem.

progress: fashion_mnist with stdout a pipe sends its progress lines while
it runs (line-buffered), each with the elapsed and the remaining time;
the first two lines are read, then the run is killed. Exit 77 (skipped)
when the data set is absent.

Prints "examples_cli: N passed, M failed" and exits 1 on a failure.
"""
import math
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

passed = failed = 0


def check(cond, what):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print("FAIL", what, file=sys.stderr)


def run(args, timeout=120):
    p = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


FLAG_LINE = re.compile(r"^  (--[a-z0-9-]+)\s+(.*)\(default: ([^)]*)\)$")


def flags(exes):
    for exe in exes:
        name = os.path.basename(exe)
        rc, out, err = run([exe, "--help"])
        check(rc == 0, f"{name} --help: exit {rc}, want 0 ({err.strip()})")
        check(out.startswith("usage: "), f"{name} --help: no usage line:\n{out}")
        lines = [FLAG_LINE.match(l) for l in out.splitlines()]
        listed = [m for m in lines if m]
        check("--help, -h" in out, f"{name} --help does not list --help")
        src_flags = []
        src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples", name + ".c")
        if os.path.exists(src):
            src_flags = re.findall(r'\{"(--[a-z0-9-]+)", EX_', open(src).read())
        check(sorted(m.group(1) for m in listed) == sorted(src_flags),
              f"{name} --help lists {[m.group(1) for m in listed]}, its source {src_flags}")
        rc2, out2, _ = run([exe, "-h"])
        check(rc2 == 0 and out2 == out, f"{name} -h: exit {rc2}, or not the --help text")

        rc, out, err = run([exe, "--no-such-flag"])
        check(rc == 2 and "unknown flag --no-such-flag" in err,
              f"{name} --no-such-flag: exit {rc}, stderr {err!r}")
        check(out == "", f"{name} --no-such-flag printed {out!r}")
        numeric = [m for m in listed if re.fullmatch(r"-?[0-9.e+-]+", m.group(3))]
        for m in numeric[:1] + numeric[-1:]:
            f = m.group(1)
            rc, out, err = run([exe, f, "abc"])
            check(rc == 2 and f"{f}: \"abc\" is not a" in err, f"{name} {f} abc: exit {rc}, {err!r}")
            rc, out, err = run([exe, f + "=1x"])
            check(rc == 2 and "is not a" in err, f"{name} {f}=1x: exit {rc}, {err!r}")
            rc, out, err = run([exe, f])
            check(rc == 2 and f"{f} needs a value" in err, f"{name} {f} (no value): exit {rc}, {err!r}")
        # out of range: every flag the source checks with ex_require
        if os.path.exists(src):
            text = open(src).read()
            checked = re.findall(r'ex_require\([^"]*"(--[a-z-]+)", "([^"]+)"', text)
            training = [("--epochs", "at least 1"), ("--batch", "at least 1"), ("--lr", "positive")]
            if "ex_require_training(" in text:
                checked += training
            if "ex_fashion_require(" in text:
                checked += training + [("--threads", "0 or more"), ("--limit", "0 or more"),
                                       ("--test-limit", "0 or more")]
            for f, what in checked:
                bad_value = "0" if what == "at least 1" or what == "positive" else "-1"
                rc, out, err = run([exe, f, bad_value])
                check(rc == 2 and f"{f} must be {what} (got {bad_value})" in err,
                      f"{name} {f} {bad_value}: exit {rc}, {err!r}")
        if name != "derivative":  # derivative takes positional arguments
            rc, out, err = run([exe, "stray"])
            check(rc == 2 and "unexpected argument \"stray\"" in err, f"{name} stray: exit {rc}, {err!r}")


def derivative(exe):
    def partials(out):
        got = {}
        for line in out.splitlines():
            num = r"(-?[0-9][0-9.e+-]*|-?inf|-?nan)"
            m = re.match(r"^(f|df/d\w+)\s+= " + num + r"(?:\s+" + num + ")?", line)
            if m:
                got[m.group(1)] = tuple(float(v) for v in m.groups()[1:] if v is not None)
        return got

    x, y = 2.0, 3.0
    rc, out, err = run([exe, "x*y + sin(x)/y", "x=2", "y=3"])
    check(rc == 0, f"derivative x*y + sin(x)/y: exit {rc} {err}")
    got = partials(out)
    want = {"f": x * y + math.sin(x) / y, "df/dx": y + math.cos(x) / y, "df/dy": x - math.sin(x) / y**2}
    for k, v in want.items():
        g = got.get(k)
        check(g is not None and all(abs(gi - v) <= 1e-9 * (1 + abs(v)) for gi in g),
              f"derivative: {k} = {g}, by hand {v}\n{out}")

    # the old form: derivative X Y on sin(x*y) + x^2/y - exp(-y); and no arguments
    for args, (x, y) in (([], (1.5, 0.5)), (["2", "-0.5"], (2.0, -0.5))):
        rc, out, err = run([exe] + args)
        got = partials(out)
        fx = y * math.cos(x * y) + 2 * x / y
        fy = x * math.cos(x * y) - x * x / (y * y) + math.exp(-y)
        check(rc == 0 and abs(got["df/dx"][0] - fx) < 1e-12 * (1 + abs(fx))
              and abs(got["df/dy"][0] - fy) < 1e-12 * (1 + abs(fy)), f"derivative {args}: {out} {err}")

    with tempfile.TemporaryDirectory() as d:
        dot = os.path.join(d, "g.dot")
        rc, out, err = run([exe, "--trace", "--dot", dot, "exp(-x^2)", "x=0.5"])
        check(rc == 0 and "backward trace" in out and "df/dx" in out, f"--trace: {out} {err}")
        check(os.path.exists(dot) and "digraph" in open(dot).read(), "--dot wrote no graph")
        rc, out, err = run([exe, "--dot", os.path.join(d, "no/such/dir.dot"), "x", "x=1"])
        check(rc == 1 and "cannot write" in err, f"--dot to a missing folder: exit {rc} {err}")
        page = os.path.join(d, "sweep.html")
        rc, out, err = run([exe, "--html", page, "x*y + sin(x)/y", "x=2", "y=3"])
        text = open(page).read() if os.path.exists(page) else ""
        check(rc == 0 and "<svg" in text and "Next" in text and "x*y + sin(x)/y" in text,
              f"--html: exit {rc} {err}, page of {len(text)} characters")
        rc, out, err = run([exe, "--html", page, "2"])
        check(rc == 1 and "no backward sweep to show" in err, f"--html of a constant: exit {rc} {err}")

    # not differentiable there: exit 1 and a word on why
    rc, out, err = run([exe, "sqrt(x)", "x=0"])
    check(rc == 1 and "differs" in out, f"sqrt(x) at 0: exit {rc}\n{out}")

    bad = [
        (["foo", "bar"], '"bar" is not NAME=VALUE'),
        (["foo"], 'column 1: unknown variable "foo" (give it a value: foo=1.5)\n  foo\n  ^'),
        (["x*y + * 2", "x=1", "y=2"], 'column 7: expected a number, a name or "(", found "*"\n'
                                      "  x*y + * 2\n        ^"),
        (["sine(x)", "x=1"], 'column 1: unknown function "sine"'),
        (["x^2", "x=abc"], 'x: "abc" is not a finite number'),
        (["x^2", "x=inf"], 'x: "inf" is not a finite number'),
        (["x^2", "x="], 'x: "" is not a finite number'),
        (["x^2", "x=1", "x=2"], "x is given twice"),
        (["x^2", "2x=1"], '"2x=1" is not NAME=VALUE'),
        (["x^2", "=1"], '"=1" is not NAME=VALUE'),
        (["--trace=yes", "x", "x=1"], "--trace takes no value"),
        (["--dot"], "--dot needs a value"),
    ]
    for args, msg in bad:
        rc, out, err = run([exe] + args)
        check(rc == 2 and msg in err, f"derivative {args}: exit {rc}, stderr {err!r}, want {msg!r}")
        check(out == "", f"derivative {args} printed {out!r}")


def progress(exe):
    data = "/usr/share/datasets/fashion-mnist"
    if not os.path.isdir(data):
        print(f"examples_cli: {data} absent, skipped")
        return 77
    p = subprocess.Popen([exe, "--data", data], stdout=subprocess.PIPE, text=True)
    lines = []
    alive = []
    start = time.monotonic()
    try:
        while len(lines) < 2 and time.monotonic() - start < 300:
            line = p.stdout.readline()
            if not line:
                break
            if line.startswith("epoch 1/") and " batch " in line:
                lines.append(line)
                alive.append(p.poll() is None)
    finally:
        if p.poll() is None:
            p.send_signal(signal.SIGKILL)
        p.communicate()
    if not lines and p.returncode == 77:
        # the example skipped itself (e.g. a build without zlib: the data are gzip'd)
        print("examples_cli: fashion_mnist skipped (77), so this is skipped")
        return 77
    check(len(lines) == 2, f"progress: {len(lines)} progress lines read from the pipe")
    check(all(alive), "progress: the lines came only when the program ended (not flushed)")
    pat = re.compile(r"^epoch 1/8  batch \d+/469  loss \d+\.\d{4}  \d+ samples/s  "
                     r"\d+\.\d s elapsed, \d+\.\d s left$")
    for l in lines:
        check(pat.match(l.rstrip("\n")) is not None, f"progress line {l!r}")
    if len(lines) == 2:
        # the first batch, then the first tenth of the epoch (469 batches)
        check(" batch 1/469 " in lines[0] and " batch 47/469 " in lines[1], f"progress: {lines}")
    return 0


def plot(script):
    """plot_loss.py on a made-up log of 3 epochs: an SVG with both curves,
    every step in each, two epoch lines; a bad log exits non-zero."""
    import xml.dom.minidom
    with tempfile.TemporaryDirectory() as d:
        csv_path, svg_path = os.path.join(d, "loss.csv"), os.path.join(d, "loss.svg")
        with open(csv_path, "w") as f:
            f.write("step,epoch,loss\n")
            for i in range(1, 301):
                f.write(f"{i},{1 + (i - 1) // 100},{2.0 * math.exp(-i / 60) + 0.1 + 0.05 * (i % 7) / 7:.6f}\n")
        rc, out, err = run([sys.executable, script, csv_path, svg_path, "a <title>"])
        check(rc == 0 and "300 steps" in out, f"plot_loss.py: exit {rc} {out} {err}")
        doc = xml.dom.minidom.parse(svg_path)
        lines = doc.getElementsByTagName("polyline")
        check(len(lines) == 2 and all(len(l.getAttribute("points").split()) == 300 for l in lines),
              "plot_loss.py: want two curves of 300 points")
        texts = [t.firstChild.data for t in doc.getElementsByTagName("text") if t.firstChild]
        check("a <title>" in texts and "epoch 2" in texts and "epoch 3" in texts,
              f"plot_loss.py: texts {texts}")
        with open(csv_path, "w") as f:
            f.write("step,epoch,loss\n1,1,nan\n")
        rc, out, err = run([sys.executable, script, csv_path, svg_path])
        check(rc != 0 and "not a positive finite number" in err, f"plot_loss.py on nan: exit {rc} {err}")


def main():
    mode, args = sys.argv[1], sys.argv[2:]
    rc = 0
    if mode == "flags":
        flags(args)
    elif mode == "derivative":
        derivative(args[0])
    elif mode == "progress":
        rc = progress(args[0])
    elif mode == "plot":
        plot(args[0])
    print(f"examples_cli {mode}: {passed} passed, {failed} failed")
    sys.exit(1 if failed else rc)


main()
