#!/bin/sh
# bench/run.sh - configure, build and run every benchmark against its peer,
# in one run on this machine:
#
#     sh bench/run.sh [build-dir]        (default build dir: build-perfbench)
#
# prints one line per comparison (ratio = tapegrad / peer for times,
# tapegrad / peer for GFLOP/s on sgemm):
#   sgemm_<n>: tapegrad <GFLOP/s>, openblas <GFLOP/s>, ratio <r>
#       n = 256, 512, 1024, 2048, 1000, 1023, and sgemm_64x784x100
#   mlp_epoch: tapegrad <s>, torch <s>, ratio <r>
#   rosenbrock_tensor: tapegrad <ms>, torch <ms>, ratio <r>
#   rosenbrock_scalar: tapegrad <s>, adolc <s>, ratio <r>
#   op_overhead: tapegrad <ns>, torch <ns>, ratio <r>
#   conv_fwd_bwd: tapegrad <ms>, torch <ms>, ratio <r>
#   revolve_lorenz: full <s> s <MB> MB, checkpointed <s> s <MB> MB, time ratio <r>, memory ratio <m>
#   dist_epoch: tapegrad <s>, torch_ddp <s>, ratio <r>, efficiency <e>   (bench/bench_dist.sh)
# Diagnostics (every peer setting's time, the winning one, losses) go to
# stderr.
#
# Peers: PyTorch from /usr/bin/python3 (Debian's python3-torch), OpenBLAS,
# ADOL-C, each at its best over the grid of its settings in the same run
# (bench/README.md, "Peers at their best"); every time is a median of runs.
# Needs libopenblas-dev, libadolc-dev, python3-torch and
# dataset-fashion-mnist.
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-build-perfbench}
cd "$src"
# No peer may inherit a forced core type or thread count from the caller.
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE || true
export OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2 MKL_NUM_THREADS=1
if [ ! -f "$build/build.ninja" ]; then
    meson setup "$build" -Dbench=true -Dbuildtype=release >/dev/null
else
    meson configure "$build" -Dbench=true >/dev/null
fi
ninja -C "$build" >/dev/null
b="$build/bench"
"$b/bench_sgemm"
"$b/bench_mlp_epoch"
"$b/bench_rosenbrock_tensor"
if [ -x "$b/bench_rosenbrock_scalar" ]; then
    "$b/bench_rosenbrock_scalar" |
        awk '/^rosenbrock_scalar_tape:/ { print > "/dev/stderr"; next } { print }'
else
    echo "rosenbrock_scalar: skipped (ADOL-C not found)"
fi
"$b/bench_op_overhead"
"$b/bench_conv"
"$b/bench_revolve"
sh bench/bench_dist.sh "$build"
# ADBench's problems (bench/adbench/, bench/README.md "ADBench"): one line
# each, tapegrad's gradient against PyTorch's best setting (GMM, LSTM) or
# against ADOL-C (BA), and over the plain-C objective.
d=bench/adbench/data
for f in gmm_d2_K5 gmm_d10_K25 gmm_d20_K50; do "$b/adbench" --bench gmm "$d/gmm/$f.txt"; done
for f in lstm_l2_c1024 lstm_l4_c1024; do "$b/adbench" --bench lstm "$d/lstm/$f.txt"; done
for f in ba1_n49_m7776_p31843 ba5_n257_m65132_p225911; do "$b/adbench" --bench ba "$d/ba/$f.txt"; done
