#!/usr/bin/env bash
# One GPU-machine session in one call (the device tool's 10-minute command limit): every CUDA
# check (.ci/cuda/device_checks.sh, CPU ratios left out), then, at once, the CPU ratios on two
# pinned cores and the refiner's training on the GPU with its scenes rendered on the other
# cores; everything packed into $OUT (at most 8 files come back) before the limit.
#
#   bash .ci/cuda/device_session.sh   # with .dev/ staged by .ci/cuda/build.sh --tests
set -uo pipefail
root=$(pwd)
out=${OUT:?}
start=$(date +%s)
budget=${BUDGET:-540}         # seconds until everything must be packed
logs=/tmp/marionette-device
run=/tmp/refiner-run
rm -rf "$logs" "$run"; mkdir -p "$logs"
left() { echo $(( budget - ($(date +%s) - start) )); }
pack() {
    cp "$logs/summary.txt" "$out/" 2>/dev/null
    tar czf "$out/logs.tgz" -C /tmp marionette-device 2>/dev/null
    [ -d "$run" ] && tar czf "$out/refiner_run.tgz" -C /tmp refiner-run 2>/dev/null
    ls -la "$out"
}
trap pack EXIT

RUNS=${RUNS:-50} WARMUP=${WARMUP:-10} TRAIN_STEPS=${TRAIN_STEPS:-20} CPU_CHECKS=0 OUT=$logs \
    timeout ${CHECKS_S:-240} bash .ci/cuda/device_checks.sh > "$logs/checks.out" 2>&1
echo "checks done at $(( $(date +%s) - start )) s (rc $?)" | tee -a "$logs/summary.txt"

m=/tmp/marionette-bins/marionette
export MARIONETTE_MODELS="$root/assets/models"
# The refiner: scenes on cores 2.., the steps on the GPU, until the budget's end minus packing.
minutes=$(python3 -c "print(max(0.5, ($(left) - 25) / 60))")
RAYON_NUM_THREADS=$(( $(nproc) - 2 )) taskset -c 2-$(( $(nproc) - 1 )) \
    "$m" train-refiner --run "$run" --device ${DEVICE:-cuda} --pool ${POOL:-4000} --batch-size ${BATCH:-16} \
    --steps ${STEPS:-100000} --minutes "$minutes" > "$logs/refiner.log" 2>&1 &
trainer=$!
# The CPU ratios on cores 0-1 meanwhile (issue 27).
( cd "$root" && CPU_ONLY=1 OUT=$logs timeout $(( $(left) - 30 )) bash .ci/cuda/device_checks.sh \
    > "$logs/cpu_checks.out" 2>&1 )
wait $trainer
echo "refiner rc $? at $(( $(date +%s) - start )) s: $(grep -E 'validation|trained|pool of' "$logs/refiner.log" | tail -4 | tr '\n' ' ')" \
    | tee -a "$logs/summary.txt"
