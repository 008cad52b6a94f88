#!/bin/sh
# docs/measure.sh - reruns the examples and prints every measured number
# that README.md and docs/examples.md quote, one "name: value" line each.
#
#     sh docs/measure.sh [BUILD_DIR]          (default: build)
#     NO_CNN=1 sh docs/measure.sh             skip fashion_cnn (minutes of CPU)
#
# Times: wall and CPU (user + sys, of the example and its threads) from
# /usr/bin/time; the Fashion-MNIST runs use --threads 2. The load average
# is printed before and after: on a loaded machine the wall times grow,
# the CPU times much less, the accuracies not at all (they are
# deterministic for a given seed and build).
set -eu
B=${1:-build}
E=$B/examples
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "cpu: $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -n 1), $(nproc) cores"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

# run NAME CMD...: runs CMD with its output in $T/NAME.out and the times
# in $T/NAME.time ("wall user sys").
run() {
    name=$1
    shift
    /usr/bin/time -f '%e %U %S' -o "$T/$name.time" "$@" >"$T/$name.out" 2>"$T/$name.err" || {
        echo "$name: failed (exit $?)"
        cat "$T/$name.err"
        return 1
    }
}
times_of() { awk '{ printf "wall %.1f s, CPU %.1f s", $1, $2 + $3 }' "$T/$1.time"; }
field() { sed -n "s/^$2: //p" "$T/$1.out" | tail -n 1; }

# The small examples: deterministic numbers.
run derivative "$E/derivative" "x*y + sin(x)/y" x=2 y=3
echo "derivative x*y + sin(x)/y at (2, 3): $(grep -E '^(f|df/d[xy]) {2,}=' "$T/derivative.out" | tr -s ' ' | paste -sd ';')"
run xor "$E/xor"
echo "xor: loss $(field xor loss_first) -> $(field xor loss_last), $(sed -n 's/^accuracy: //p' "$T/xor.out") correct"
run binary_classifier "$E/binary_classifier"
echo "binary_classifier: $(grep '^epoch  40' "$T/binary_classifier.out" | tr -s ' ')"
run custom_loss "$E/custom_loss"
echo "custom_loss: $(grep -E '^  (MSE|Huber):' "$T/custom_loss.out" | tr -s ' ' | paste -sd ';')"
run gradient_penalty "$E/gradient_penalty"
echo "gradient_penalty: loss $(field gradient_penalty loss_first) -> $(field gradient_penalty loss_last)"
run newton "$E/newton"
echo "newton: $(grep -cE '^ +[0-9]+ ' "$T/newton.out") rows (start + steps) to (1, 1)"

# The flagship, three seeds.
for seed in 1 2 3; do
    run "mlp$seed" "$E/fashion_mnist" --threads 2 --seed "$seed" || exit 1
    echo "fashion_mnist seed $seed: test accuracy $(field "mlp$seed" test_accuracy), $(times_of "mlp$seed")"
done

# The CNN: the accuracy after each epoch.
if [ -z "${NO_CNN:-}" ]; then
    run cnn "$E/fashion_cnn" --threads 2 || exit 1
    echo "fashion_cnn: test accuracy by epoch $(sed -n 's/^epoch \([0-9]*\)\/[0-9]*: .*test accuracy \([0-9.]*\),.*/\2/p' "$T/cnn.out" | paste -sd ' '), $(times_of cnn)"
fi
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
