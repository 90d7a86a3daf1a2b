#!/usr/bin/env bash
# Coverage-guided fuzzing of marionette's file readers with cargo-afl (AFL++ on stable Rust).
#
#   fuzz/run.sh TARGET [SECONDS | --execs N] [afl-fuzz options...]   fuzz one target
#   fuzz/run.sh all SECONDS                                           every target in turn
#   fuzz/run.sh --list | --build                                      targets / build only
#
# Seeds: fuzz/corpus/TARGET (plus, when it exists, fuzz/out/TARGET's queue is NOT reused: each
# run starts fresh from the committed corpus). Findings: fuzz/out/TARGET/default/{crashes,hangs}.
# Prints one summary line per target (executions, time, execs/s, edges) and exits non-zero when
# a run found a crash or a hang. Installs cargo-afl (crates.io) when it is missing.
# Environment: FUZZ_NICE (default 19), FUZZ_MEM_MB (afl -m, default 4096),
# FUZZ_TIMEOUT_MS (afl -t, default 1000), FUZZ_QUIET=1 keeps afl-fuzz's log out of the output,
# FUZZ_BIN_DIR=DIR fuzzes the binaries in DIR as they are (no build).
set -euo pipefail
cd "$(dirname "$0")"
FUZZ_DIR=$(pwd)
TARGETS=(pose_json project keyframes motion safetensors pth_zip pth_legacy pickle tflite image)
AFL_VERSION=0.18.2
NICE=(nice -n "${FUZZ_NICE:-19}")
TARGET_DIR=$(realpath -m "${CARGO_TARGET_DIR:-target}")

usage() { sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }

dicts_for() {
    local afl_dicts
    afl_dicts=$(ls -d "${XDG_DATA_HOME:-$HOME/.local/share}"/afl.rs/rustc-*/afl.rs-*/afl/share/afl/dictionaries 2>/dev/null | head -1 || true)
    local d=()
    case "$1" in
        pose_json | project | keyframes | motion) d=(dict/json_keys.dict "$afl_dicts/json.dict") ;;
        safetensors) d=(dict/safetensors.dict "$afl_dicts/json.dict") ;;
        pth_zip) d=(dict/zip.dict dict/pickle.dict) ;;
        pth_legacy | pickle) d=(dict/pickle.dict) ;;
        tflite) d=(dict/tflite.dict) ;;
        image) d=("$afl_dicts/png.dict" "$afl_dicts/jpeg.dict") ;;
    esac
    for f in "${d[@]}"; do [ -f "$f" ] && printf -- '-x\n%s\n' "$f"; done
    return 0
}

ensure_afl() {
    if ! cargo afl --version >/dev/null 2>&1; then
        echo "installing cargo-afl $AFL_VERSION (builds AFL++ from the sources it ships)"
        "${NICE[@]}" cargo install --locked cargo-afl --version "$AFL_VERSION"
    fi
}

build() {
    ensure_afl
    # cargo-afl instruments every crate (opt-level 3, one codegen unit). Here: opt-level 2 and 16
    # codegen units, and build scripts and proc macros plain and at opt-level 0
    # (rustc-wrapper.sh): the same coverage where the readers run, and a shorter build. The GUI
    # is not built at all (marionette without its `gui` feature, fuzz/Cargo.toml).
    mkdir -p "$TARGET_DIR"
    python3 uninstrumented.py >"$TARGET_DIR/uninstrumented.txt"
    FUZZ_UNINSTRUMENTED=$TARGET_DIR/uninstrumented.txt RUSTC_WRAPPER=$FUZZ_DIR/rustc-wrapper.sh \
        AFL_OPT_LEVEL=${AFL_OPT_LEVEL:-2} RUSTFLAGS="-C codegen-units=16 ${RUSTFLAGS:-}" \
        "${NICE[@]}" cargo afl build --release --quiet
}

stat() { sed -n "s/^$1 *: *//p" "$2"; }

summary() {
    local target=$1 stats=$FUZZ_DIR/out/$1/default/fuzzer_stats
    if [ ! -f "$stats" ]; then
        echo "fuzz $target: no stats (afl-fuzz did not start):"; tail -n 15 "$FUZZ_DIR/out/$1/afl.log" 2>/dev/null || true
        return 1
    fi
    local crashes hangs
    crashes=$(stat saved_crashes "$stats")
    hangs=$(stat saved_hangs "$stats")
    printf 'fuzz %-12s execs %10s  time %5ss  execs/s %8s  edges %6s/%s (%s)  corpus %4s  crashes %s  hangs %s\n' \
        "$target" "$(stat execs_done "$stats")" "$(stat run_time "$stats")" \
        "$(stat execs_per_sec "$stats")" "$(stat edges_found "$stats")" "$(stat total_edges "$stats")" \
        "$(stat bitmap_cvg "$stats")" "$(stat corpus_count "$stats")" "$crashes" "$hangs"
    if [ "$crashes" != 0 ] || [ "$hangs" != 0 ]; then
        ls "$FUZZ_DIR/out/$target/default/crashes" "$FUZZ_DIR/out/$target/default/hangs" 2>/dev/null | sed 's/^/    /'
        return 1
    fi
}

fuzz() {
    local target=$1
    shift
    local limit=()
    case "${1:-}" in
        --execs) limit=(-E "$2"); shift 2 ;;
        '' | -*) ;;
        *) limit=(-V "$1"); shift ;;
    esac
    [ -d "corpus/$target" ] || { echo "unknown target $target (fuzz/run.sh --list)" >&2; exit 2; }
    local out=$FUZZ_DIR/out/$target
    rm -rf "$out"
    mkdir -p "$out"
    local dicts
    mapfile -t dicts < <(dicts_for "$target")
    # No CPU pinning (shared machines), no CPU-governor check, one line of status per minute.
    local env=(AFL_NO_AFFINITY=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1
        AFL_NO_UI=1 AFL_FAST_CAL=1)
    local log=$out/afl.log
    set +e
    if [ "${FUZZ_QUIET:-0}" = 1 ]; then
        env "${env[@]}" "${NICE[@]}" cargo afl fuzz -i "corpus/$target" -o "$out" "${dicts[@]}" \
            -m "${FUZZ_MEM_MB:-4096}" -t "${FUZZ_TIMEOUT_MS:-1000}" "${limit[@]}" "$@" \
            -- "${FUZZ_BIN_DIR:-$TARGET_DIR/release}/$target" >"$log" 2>&1
    else
        env "${env[@]}" "${NICE[@]}" cargo afl fuzz -i "corpus/$target" -o "$out" "${dicts[@]}" \
            -m "${FUZZ_MEM_MB:-4096}" -t "${FUZZ_TIMEOUT_MS:-1000}" "${limit[@]}" "$@" \
            -- "${FUZZ_BIN_DIR:-$TARGET_DIR/release}/$target" 2>&1 | tee "$log"
    fi
    set -e
    summary "$target"
}

case "${1:-}" in
    '' | -h | --help) usage ;;
    --list) printf '%s\n' "${TARGETS[@]}" ;;
    --build) build ;;
    all)
        [ $# -ge 2 ] || usage
        [ -n "${FUZZ_BIN_DIR:-}" ] || build
        failed=0
        for t in "${TARGETS[@]}"; do FUZZ_QUIET=1 fuzz "$t" "${@:2}" || failed=1; done
        exit $failed
        ;;
    *)
        [ -n "${FUZZ_BIN_DIR:-}" ] || build
        fuzz "$@"
        ;;
esac
