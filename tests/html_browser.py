#!/usr/bin/env python3
"""html_browser.py - the HTML stepper (tg_tape_write_html) in a real
headless browser: Debian's chromium, exit 77 (skipped) where none is
installed.

    html_browser.py TEST_HTML_EXE OUT_DIR

runs TEST_HTML_EXE OUT_DIR (tests/test_html.c), which leaves there
stepper.html and the text trace of the same sweep, stepper_trace.txt.
Then, for every N from 0 to the number of steps, loads
stepper.html#next=N (the page presses its Next button N times), reads the
DOM back (--dump-dom) and checks it against the trace's N-th block: the
highlighted record, every displayed chain-rule line, the step counter, the
boxes marked done. It checks Previous (#next=N&prev=M shows step N - M)
and saves a screenshot, OUT_DIR/stepper.png.
"""
import html
import os
import re
import shutil
import subprocess
import sys
import tempfile


def browser():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        p = shutil.which(name)
        if p:
            return p
    return None


def run_browser(exe, profile, *args):
    cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir=" + profile,
           *args]
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
    return r.stdout.decode("utf-8", "replace")


def blocks(trace):
    """The trace as the sweep's steps: ('op', record, [lines]) or ('leaf', line)."""
    out = []
    for line in trace.splitlines():
        if line.startswith("backward of"):
            continue
        if line.startswith("#"):
            out.append(("op", int(line[1:].split()[0]), []))
        elif line.startswith("  "):
            out[-1][2].append(line[2:])
        elif line.startswith("dL/d"):
            out.append(("leaf", line))
    return out


def dom_state(dom):
    cur = re.search(r'<div id="cur" data-node="(\d*)">(.*?)</div>', dom, re.S)
    count = re.search(r'<span id="count">(.*?)</span>', dom)
    lines = [html.unescape(x) for x in re.findall(r'<div class="line">(.*?)</div>', dom)]
    done = re.findall(r'class="node done"', dom)
    current = re.findall(r'class="node current" id="n(\d+)"', dom)
    return {
        "node": cur.group(1) if cur else None,
        "cur": html.unescape(cur.group(2)) if cur else "",
        "count": count.group(1) if count else "",
        "lines": lines,
        "done": len(done),
        "current": current,
    }


def main():
    exe, out_dir = sys.argv[1], sys.argv[2]
    chrome = browser()
    if not chrome:
        print("html_browser: no chromium installed: skipped")
        return 77
    os.makedirs(out_dir, exist_ok=True)
    r = subprocess.run([exe, out_dir])
    if r.returncode != 0:
        print("html_browser: %s failed" % exe)
        return 1
    page = os.path.join(os.path.abspath(out_dir), "stepper.html")
    with open(os.path.join(out_dir, "stepper_trace.txt")) as f:
        steps = blocks(f.read())
    bad = 0

    def check(cond, what):
        nonlocal bad
        if not cond:
            bad += 1
            print("FAIL " + what)

    with tempfile.TemporaryDirectory() as profile:
        url = "file://" + page
        for n in range(len(steps) + 1):
            s = dom_state(run_browser(chrome, profile, "--dump-dom", url + "#next=%d" % n))
            check(s["count"] == "step %d of %d" % (n, len(steps)),
                  "next=%d: counter '%s'" % (n, s["count"]))
            check(s["done"] == max(n - 1, 0), "next=%d: %d boxes done" % (n, s["done"]))
            if n == 0:
                check(s["node"] == "" and not s["lines"] and not s["current"],
                      "next=0: something is highlighted")
                continue
            b = steps[n - 1]
            if b[0] == "op":
                check(s["node"] == str(b[1]) and s["current"] == [str(b[1])],
                      "next=%d: highlighted %s / %s, the trace's step is #%d" %
                      (n, s["node"], s["current"], b[1]))
                check(s["lines"] == b[2], "next=%d: lines %s, the trace says %s" %
                      (n, s["lines"], b[2]))
            else:
                check(b[1] in s["cur"] and not s["lines"],
                      "next=%d: '%s' does not show the trace's '%s'" % (n, s["cur"], b[1]))
            print("step %d: ok" % n if not bad else "step %d checked" % n)
        # Previous: back two steps from the fifth is the third
        a = dom_state(run_browser(chrome, profile, "--dump-dom", url + "#next=5&prev=2"))
        c = dom_state(run_browser(chrome, profile, "--dump-dom", url + "#next=3"))
        check(a == c, "next=5&prev=2 differs from next=3: %s vs %s" % (a, c))
        png = os.path.join(os.path.abspath(out_dir), "stepper.png")
        if os.path.exists(png):
            os.remove(png)
        run_browser(chrome, profile, "--screenshot=" + png, "--window-size=1000,760",
                    url + "#next=4")
        check(os.path.exists(png) and os.path.getsize(png) > 5000, "no screenshot at " + png)
    print("html_browser: %d steps, %s" % (len(steps), "FAILED" if bad else "all agree with the trace"))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
