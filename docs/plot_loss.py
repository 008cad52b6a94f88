#!/usr/bin/env python3
"""Draws the training loss that an example logged with --loss-csv, as SVG.

    ./build/examples/fashion_mnist --loss-csv loss.csv
    python3 docs/plot_loss.py loss.csv docs/loss_curve.svg [TITLE]

Needs Python 3 alone (no plotting package): it writes the SVG itself.
The CSV has the columns step,epoch,loss (one row per optimizer step). The
plot: the loss of each batch (light), its mean over the last 50 batches
(dark), on a log scale, with a dashed line where each epoch starts."""
import csv
import math
import sys
from xml.sax.saxutils import escape

W, H = 800, 450                        # the image, in pixels
L, R, T, B = 70, 20, 40, 55            # margins: left, right, top, bottom


def nice_ticks(lo, hi):
    """Powers of ten and 2x, 5x between lo and hi (for a log axis)."""
    ticks = []
    for e in range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1):
        for m in (1, 2, 5):
            v = m * 10.0**e
            if lo <= v <= hi:
                ticks.append(v)
    return ticks


def polyline(points, color, width):
    pts = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
    return f'<polyline fill="none" stroke="{color}" stroke-width="{width}" points="{pts}"/>'


def svg(steps, epochs, losses, avg, w, title):
    lo = min(v for v in losses + avg if v > 0)
    hi = max(losses + avg)
    ylo, yhi = math.log10(lo) - 0.05, math.log10(hi) + 0.05
    s0, s1 = steps[0], max(steps[-1], steps[0] + 1)

    def px(step):
        return L + (step - s0) / (s1 - s0) * (W - L - R)

    def py(v):
        return T + (yhi - math.log10(max(v, lo))) / (yhi - ylo) * (H - T - B)

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" '
           f'viewBox="0 0 {W} {H}" font-family="Helvetica, Arial, sans-serif" font-size="12">',
           f'<rect width="{W}" height="{H}" fill="white"/>',
           f'<text x="{W / 2}" y="24" text-anchor="middle" font-size="15">{escape(title)}</text>']
    for v in nice_ticks(10**ylo, 10**yhi):  # grid and y labels
        y = py(v)
        out.append(f'<line x1="{L}" x2="{W - R}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e5e5e5"/>')
        out.append(f'<text x="{L - 6}" y="{y + 4:.1f}" text-anchor="end">{v:g}</text>')
    step_tick = 10 ** math.floor(math.log10(max(s1 - s0, 1)))
    if (s1 - s0) / step_tick < 4:
        step_tick /= 2
    t = math.ceil(s0 / step_tick) * step_tick
    while t <= s1:  # x labels
        out.append(f'<text x="{px(t):.1f}" y="{H - B + 18}" text-anchor="middle">{t:g}</text>')
        t += step_tick
    for i in range(1, len(steps)):  # epoch starts
        if epochs[i] != epochs[i - 1]:
            x = px(steps[i])
            out.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{T}" y2="{H - B}" stroke="#999999" '
                       f'stroke-dasharray="4,3"/>')
            out.append(f'<text x="{x + 3:.1f}" y="{H - B - 6}" fill="#555555" font-size="10">'
                       f'epoch {epochs[i]}</text>')
    out.append(polyline([(px(s), py(v)) for s, v in zip(steps, losses)], "#9ecae1", 0.6))
    out.append(polyline([(px(s), py(v)) for s, v in zip(steps, avg)], "#08519c", 1.8))
    out.append(f'<rect x="{L}" y="{T}" width="{W - L - R}" height="{H - T - B}" fill="none" '
               f'stroke="#333333"/>')
    out.append(f'<text x="{(L + W - R) / 2}" y="{H - 12}" text-anchor="middle">'
               f'step (one mini-batch)</text>')
    out.append(f'<text transform="translate(18 {(T + H - B) / 2}) rotate(-90)" '
               f'text-anchor="middle">cross entropy (log scale)</text>')
    lx, ly = W - R - 230, T + 12  # legend
    out.append(f'<rect x="{lx - 8}" y="{ly - 12}" width="228" height="42" fill="white" '
               f'stroke="#cccccc"/>')
    for k, (color, width, label) in enumerate((("#9ecae1", 1.5, "loss of each batch"),
                                              ("#08519c", 1.8, f"mean of the last {w} batches"))):
        y = ly + 18 * k
        out.append(f'<line x1="{lx}" x2="{lx + 24}" y1="{y - 4}" y2="{y - 4}" stroke="{color}" '
                   f'stroke-width="{width}"/>')
        out.append(f'<text x="{lx + 32}" y="{y}">{escape(label)}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else "loss.csv"
    dst = sys.argv[2] if len(sys.argv) > 2 else "docs/loss_curve.svg"
    title = sys.argv[3] if len(sys.argv) > 3 else "fashion_mnist: 784-100-10 MLP, Adam"
    steps, epochs, losses = [], [], []
    with open(src) as f:
        for row in csv.DictReader(f):
            steps.append(int(row["step"]))
            epochs.append(int(row["epoch"]))
            losses.append(float(row["loss"]))
    if not steps:
        sys.exit(f"{src}: no rows")
    if not all(math.isfinite(v) and v > 0 for v in losses):
        sys.exit(f"{src}: a loss is not a positive finite number (the axis is logarithmic)")
    # A moving average over 50 steps shows the trend under the batch noise.
    w = 50
    avg, run = [], 0.0
    for i, v in enumerate(losses):
        run += v
        if i >= w:
            run -= losses[i - w]
        avg.append(run / min(i + 1, w))
    with open(dst, "w") as f:
        f.write(svg(steps, epochs, losses, avg, w, title))
    print(f"{dst}: {len(steps)} steps, loss {losses[0]:.3f} -> {avg[-1]:.3f}")


if __name__ == "__main__":
    main()
