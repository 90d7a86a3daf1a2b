#!/usr/bin/env bash
# Every CUDA check of marionette in one run on a GPU machine, from the repository root, with
# the files that .ci/cuda/build.sh --tests puts in .dev/ (the binary and
# test binaries, the shared fixtures). Prints a compact summary at the end; logs go to $OUT.
#
#   bash .ci/cuda/device_checks.sh            # parity, speed vs PyTorch, edit path, training
#   TRAIN_STEPS=0 bash .ci/cuda/device_checks.sh   # skip the training steps
#   DEVICE=cpu RUNS=2 WARMUP=0 PYTHON=... bash .ci/cuda/device_checks.sh   # dry run of the
#       script itself on a machine without a GPU (the binary then needs a libcuda stub on
#       LD_LIBRARY_PATH: .ci/cuda/build.sh leaves one in $MARIONETTE_CUDA_PREFIX/link)
#
# Needs on that machine: the NVIDIA driver, and PyTorch's CUDA 13 wheels (libcublas, libcurand,
# libnvrtc, which the binary links dynamically) plus torch itself for the PyTorch peer.
set -uo pipefail
root=$(pwd)
DEVICE=${DEVICE:-cuda}
RUNS=${RUNS:-100}
WARMUP=${WARMUP:-20}
PYTHON=${PYTHON:-python3}
OUT=${OUT:-/tmp/marionette-device}
mkdir -p "$OUT"
summary="$OUT/summary.txt"
# CPU_ONLY=1 runs only section 5 (the CPU ratios) and appends to an existing summary.
[ "${CPU_ONLY:-0}" = 1 ] || : > "$summary"
say() { echo "$*" | tee -a "$summary"; }

bins=/tmp/marionette-bins
mkdir -p "$bins"
xz -dc .dev/bins.tar.xz | tar xf - -C "$bins"
# The test binaries find ../shared from the source tree they were built in (/work/main).
mkdir -p /work
[ -e /work/shared ] || ln -s "$root/.dev/shared" /work/shared
# The CUDA libraries of the machine's PyTorch (same CUDA 13 major as the build).
source "$root/.ci/cuda/cuda_libs.sh"
export MARIONETTE_MODELS="$root/assets/models"
m="$bins/marionette"

if [ "${CPU_ONLY:-0}" != 1 ]; then
say "== $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | head -1)"
ldd "$m" | grep -E 'not found|cublas|curand|nvrtc|libcuda' | tee -a "$OUT/ldd.txt"

# 1. Parity: every GFLA/PoNA fixture and each custom op, forward and backward, on CUDA.
export MARIONETTE_TEST_DEVICE=$DEVICE
for t in gfla_ops gfla_model pona_model; do
    timeout ${TEST_S:-150} "$bins/$t" --test-threads 1 > "$OUT/test_$t.log" 2>&1
    say "test $t: rc $? | $(grep '^test result' "$OUT/test_$t.log")"
    grep -E 'FAILED|panicked' "$OUT/test_$t.log" | head -5 | tee -a "$summary"
done
grep -E 'max abs diff|forward|gradient' "$OUT/test_gfla_ops.log" | grep -i 'on Cuda\|gradient' | head -12 > "$OUT/grad_parity.txt"
unset MARIONETTE_TEST_DEVICE

# 2. Speed: our bench vs the PyTorch peer on the same weights, batch 1, median of 100 after 20.
peer=tests/reference/torch_peer.py
timeout 120 "$PYTHON" $peer check --gfla-fixtures .dev/shared/fixtures/gfla \
    --pona-fixtures .dev/shared/fixtures/pona --device $DEVICE > "$OUT/peer_check.log" 2>&1
say "peer check: $(tail -1 "$OUT/peer_check.log")"
# The presets' input sizes: GFLA fashion 256x256, PoNA fashion 256x176.
for model in gfla pona; do
    w="/tmp/peer_$model.safetensors"
    timeout 180 "$PYTHON" $peer bench --model $model --config fashion --device $DEVICE \
        --runs "$RUNS" --warmup "$WARMUP" --save-weights "$w" > "$OUT/torch_$model.log" 2>&1
    say "torch $model: $(grep -E '^(gfla|pona) ' "$OUT/torch_$model.log") | $(tail -1 "$OUT/torch_$model.log")"
    for variant in default MARIONETTE_UNFUSED=1 MARIONETTE_SHIFTCONV=1; do
        [ "$variant" = default ] && v=() || v=("$variant")
        env "${v[@]}" timeout 180 "$m" bench --model $model --weights "$w" --device $DEVICE \
            --runs "$RUNS" --warmup "$WARMUP" > "$OUT/ours_${model}_${variant%%=*}.log" 2>&1
        say "ours  $model ($variant): $(tail -1 "$OUT/ours_${model}_${variant%%=*}.log") | $(grep -m1 GFLOP/s "$OUT/ours_${model}_${variant%%=*}.log")"
    done
done

# 3. The editor's per-edit path on CUDA (cached source features), bundled model and official
#    shapes; the CPU of this machine for reference.
timeout 120 "$m" bench --edit --device $DEVICE --runs "$RUNS" --warmup 5 > "$OUT/edit_bundled.log" 2>&1
say "edit bundled $DEVICE: $(tail -1 "$OUT/edit_bundled.log")"
timeout 120 "$m" bench --edit --device $DEVICE --weights /tmp/peer_gfla.safetensors \
    --runs "$RUNS" --warmup 5 > "$OUT/edit_fashion.log" 2>&1
say "edit official-shape gfla $DEVICE: $(tail -1 "$OUT/edit_fashion.log")"

# 4. Training steps on CUDA (the bundled model's recipe): seconds per step from the run log.
steps=${TRAIN_STEPS:-40}
if [ "$steps" -gt 0 ]; then
    rm -rf /tmp/train-cuda
    timeout 240 "$m" train --run /tmp/train-cuda --device $DEVICE --flow-steps 10 \
        --steps "$steps" > "$OUT/train.log" 2>&1
    say "train $DEVICE: rc $? | $("$PYTHON" - <<'PY'
import csv, statistics
rows = list(csv.DictReader(open("/tmp/train-cuda/log.csv")))
for stage in ("1", "2"):
    t = [float(r["seconds"]) for r in rows if r.get("stage") == stage][2:]
    if t:
        print(f"stage {stage}: median {statistics.median(t)*1e3:.0f} ms/step ({1/statistics.median(t):.2f} steps/s, {len(t)} steps)", end="; ")
PY
)"
    cp /tmp/train-cuda/log.csv "$OUT/train_log.csv" 2>/dev/null
fi
fi # CPU_ONLY

# 5. The CPU paths against PyTorch's CPU build on this machine's processor, two pinned cores
#    (issue 27: ours on AVX2+FMA and AVX-512 vs PyTorch at its defaults, same weights, same run).
#    The bench finds torch_peer.py in the tree it was built from (/work/main).
if [ "${CPU_CHECKS:-1}" = 1 ]; then
    mkdir -p /work
    [ -e /work/main ] || ln -s "$root" /work/main
    say "cpu: $(lscpu | grep -m1 'Model name' | sed 's/.*: *//') | flags: $(grep -o -w -m1 'avx512f\|avx2' /proc/cpuinfo | sort -u | tr '\n' ' ')"
    for simd in avx2 avx512; do
        for model in gfla pona; do
            [ $model = gfla ] && r=7 || r=3
            MARIONETTE_SIMD=$simd RAYON_NUM_THREADS=2 CANDLE_NUM_THREADS=2 timeout 150 taskset -c 0,1 \
                "$m" bench --model $model --config fashion --device cpu --runs $r \
                --reference-python "$PYTHON" > "$OUT/cpu_${simd}_$model.log" 2>&1
            say "cpu $simd $model: rc $? | $(grep -i -E 'ratio|^(gfla|pona)_ms|torch|CPU path' "$OUT/cpu_${simd}_$model.log" | tr '\n' ' ' | cut -c1-400)"
        done
        MARIONETTE_SIMD=$simd RAYON_NUM_THREADS=2 CANDLE_NUM_THREADS=2 timeout 100 taskset -c 0,1 \
            "$m" bench --edit --device cpu --runs 9 --warmup 2 > "$OUT/cpu_${simd}_edit.log" 2>&1
        say "cpu $simd edit bundled: $(tail -1 "$OUT/cpu_${simd}_edit.log")"
        MARIONETTE_SIMD=$simd RAYON_NUM_THREADS=2 CANDLE_NUM_THREADS=2 timeout 100 taskset -c 0,1 \
            "$m" bench --edit --device cpu --weights /tmp/peer_gfla.safetensors --runs 9 --warmup 2 \
            > "$OUT/cpu_${simd}_edit_fashion.log" 2>&1
        say "cpu $simd edit official-shape gfla: $(tail -1 "$OUT/cpu_${simd}_edit_fashion.log")"
    done
fi
echo "---- summary"
cat "$summary"
