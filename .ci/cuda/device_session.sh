#!/usr/bin/env bash
# One GPU-machine session in one call (the device tool's 10-minute command limit). At once:
# the refiner's training scenes are rendered on cores 2.. while every CUDA check runs
# (.ci/cuda/device_checks.sh, pinned to cores 0-1); when the checks are done the refiner trains
# on the GPU while the CPU ratios run on cores 0-1. Everything is packed into $OUT (at most
# 8 files come back) before the budget ends.
#
#   bash .ci/cuda/device_session.sh   # with .dev/ staged by .ci/cuda/build.sh --tests
#   DEVICE=cpu BUDGET=300 POOL=40 ...  # dry run of the script on a machine without a GPU
set -uo pipefail
root=$(pwd)
out=${OUT:?}
start=$(date +%s)
budget=${BUDGET:-540}         # seconds until everything must be packed
logs=/tmp/marionette-device
run=/tmp/refiner-run
gpu_free=/tmp/marionette-gpu-free
rm -rf "$logs" "$run" "$gpu_free"; mkdir -p "$logs"
left() { echo $(( budget - ($(date +%s) - start) )); }
pack() {
    cp "$logs/summary.txt" "$out/" 2>/dev/null
    tar czf "$out/logs.tgz" -C /tmp marionette-device 2>/dev/null
    [ -d "$run" ] && tar czf "$out/refiner_run.tgz" -C /tmp refiner-run 2>/dev/null
    ls -la "$out"
}
trap pack EXIT

bins=/tmp/marionette-bins
mkdir -p "$bins" && xz -dc .dev/bins.tar.xz | tar xf - -C "$bins"
m=$bins/marionette
cores=$(nproc)
minutes=$(python3 -c "print(($budget - 30) / 60)")
# The refiner: its scenes on cores 2.. now, its steps on the GPU once the checks are done.
( export MARIONETTE_MODELS="$root/assets/models" RAYON_NUM_THREADS=$(( cores - 2 ))
  source "$root/.ci/cuda/cuda_libs.sh"
  pin=(); [ "$cores" -ge 4 ] && pin=(taskset -c 2-$(( cores - 1 )))
  exec "${pin[@]}" "$m" train-refiner --run "$run" --device "${DEVICE:-cuda}" \
    --pool "${POOL:-4000}" --batch-size "${BATCH:-16}" --steps "${STEPS:-100000}" \
    --minutes "$minutes" --start-after "$gpu_free" ) > "$logs/refiner.log" 2>&1 &
trainer=$!

RUNS=${RUNS:-50} WARMUP=${WARMUP:-10} TRAIN_STEPS=${TRAIN_STEPS:-20} CPU_CHECKS=0 OUT=$logs \
    timeout "${CHECKS_S:-230}" taskset -c 0,1 bash .ci/cuda/device_checks.sh > "$logs/checks.out" 2>&1
echo "checks rc $? done at $(( $(date +%s) - start )) s" | tee -a "$logs/summary.txt"
touch "$gpu_free"
# The CPU ratios on cores 0-1 meanwhile (issue 27), stopped in time for the packing.
CPU_ONLY=1 OUT=$logs timeout $(( $(left) - 40 )) bash .ci/cuda/device_checks.sh \
    > "$logs/cpu_checks.out" 2>&1
echo "cpu checks rc $? done at $(( $(date +%s) - start )) s" | tee -a "$logs/summary.txt"
wait $trainer
echo "refiner rc $? at $(( $(date +%s) - start )) s: $(grep -E 'validation|trained|pool of|error' "$logs/refiner.log" | tail -5 | tr '\n' ' ')" \
    | tee -a "$logs/summary.txt"
