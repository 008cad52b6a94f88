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
#   rosenbrock_scalar_floor: sketch <s>, adolc <s>, ratio <r>   (no target)
#   op_overhead: tapegrad <ns>, torch <ns>, ratio <r>
#   conv_fwd_bwd: tapegrad <ms>, torch <ms>, ratio <r>
#   revolve_lorenz: full <s> s <MB> MB, checkpointed <s> s <MB> MB, time ratio <r>, memory ratio <m>
#   dist_epoch: tapegrad <s>, torch_ddp <s>, ratio <r>, efficiency <e>   (bench/bench_dist.sh)
# Diagnostics (every peer setting's time, the winning one, losses, and the
# hypervisor's steal during each program) go to stderr.
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

# The share of the machine's CPU time that the hypervisor gave to others
# (steal, /proc/stat) while each program ran, on stderr: on a VM a line
# that misses its target in a run with high steal was timed while a core
# was taken away (bench/README.md, "The machine's noise"). Nothing where /proc/stat is
# absent.
stat_now() { [ -r /proc/stat ] && head -1 /proc/stat || echo; }
steal() { # steal NAME CMD...: runs CMD, then reports NAME's steal
    name=$1
    shift
    s0=$(stat_now)
    "$@"
    printf '%s\n%s\n' "$s0" "$(stat_now)" | awk -v name="$name" '
        NF >= 9 { t = 0; for (i = 2; i <= 9; i++) t += $i; tot[NR] = t; st[NR] = $9 }
        END { if (2 in tot && tot[2] > tot[1])
                  printf "# steal: %s %.1f%%\n", name, 100 * (st[2] - st[1]) / (tot[2] - tot[1]) > "/dev/stderr" }'
}
rosenbrock_scalar() {
    if [ -x "$b/bench_rosenbrock_scalar" ]; then
        "$b/bench_rosenbrock_scalar" |
            awk '/^rosenbrock_scalar_tape:/ { print > "/dev/stderr"; next } { print }'
    else
        echo "rosenbrock_scalar: skipped (ADOL-C not found)"
    fi
}
steal sgemm "$b/bench_sgemm"
steal mlp_epoch "$b/bench_mlp_epoch"
steal rosenbrock_tensor "$b/bench_rosenbrock_tensor"
steal rosenbrock_scalar rosenbrock_scalar
steal op_overhead "$b/bench_op_overhead"
steal conv_fwd_bwd "$b/bench_conv"
steal revolve_lorenz "$b/bench_revolve"
steal dist_epoch sh bench/bench_dist.sh "$build"
# ADBench's problems (bench/adbench/, bench/README.md "ADBench"): one line
# each, tapegrad's gradient against PyTorch's best setting (GMM, LSTM) or
# against ADOL-C (BA), and over the plain-C objective.
d=bench/adbench/data
for f in gmm_d2_K5 gmm_d10_K25 gmm_d20_K50; do
    steal "adbench_$f" "$b/adbench" --bench gmm "$d/gmm/$f.txt"
done
for f in lstm_l2_c1024 lstm_l4_c1024; do
    steal "adbench_$f" "$b/adbench" --bench lstm "$d/lstm/$f.txt"
done
for f in ba1_n49_m7776_p31843 ba5_n257_m65132_p225911; do
    steal "adbench_${f%%_n*}" "$b/adbench" --bench ba "$d/ba/$f.txt"
done
