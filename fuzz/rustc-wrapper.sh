#!/usr/bin/env bash
# RUSTC_WRAPPER for the fuzz build (fuzz/run.sh sets it): build scripts, proc macros and the
# crates listed in $FUZZ_UNINSTRUMENTED (build-time-only dependencies, fuzz/uninstrumented.py)
# are compiled without cargo-afl's coverage instrumentation and at opt-level 0. No target
# reaches them, so coverage is unchanged and the build is shorter.
rustc=$1
shift
name='' type='' prev=''
for a in "$@"; do
    case "$prev" in
        --crate-name) name=$a ;;
        --crate-type) type=$a ;;
    esac
    prev=$a
done
plain=0
case "$name" in build_script_*) plain=1 ;; esac
[ "$type" = proc-macro ] && plain=1
if [ $plain = 0 ] && [ -n "$name" ] && [ -n "${FUZZ_UNINSTRUMENTED:-}" ] &&
    grep -qxF -- "$name" "$FUZZ_UNINSTRUMENTED"; then
    plain=1
fi
if [ $plain = 0 ]; then
    exec "$rustc" "$@"
fi
args=()
while [ $# -gt 0 ]; do
    if [ "$1" = -C ] && [ $# -ge 2 ]; then
        case "$2" in
            passes=sancov* | llvm-args=-sanitizer-coverage*) shift 2; continue ;;
            opt-level=*) args+=(-C opt-level=0); shift 2; continue ;;
        esac
    fi
    args+=("$1")
    shift
done
exec "$rustc" "${args[@]}"
