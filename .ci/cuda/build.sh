#!/usr/bin/env bash
# Builds marionette with `--features cuda` on a machine WITHOUT a GPU or a system CUDA install:
# the CUDA 13.0 compiler and libraries come from NVIDIA's PyPI wheels, libcuda (the driver,
# present only on GPU machines) from a link-time stub made here. Output: target/cuda/release/
# marionette and, with --tests, the CUDA test binaries, plus stripped + xz copies in
# target/cuda/carry/ small enough for the GPU machine's 64 MiB carry limit.
#
#   .ci/cuda/build.sh            # the binary
#   .ci/cuda/build.sh --tests    # + gfla_ops, gfla_model, pona_model test binaries, and
#                                # .dev/ staged for .ci/cuda/device_checks.sh on a GPU machine
#
# CUDA 13.0 (not the newest wheels): the PTX we and candle embed is JIT-compiled by the driver,
# which refuses a PTX ISA newer than itself; the GPU machines run driver 580 (CUDA 13.0).
# At run time the binary needs libcublas/libcublasLt/libcurand/libnvrtc 13 on LD_LIBRARY_PATH
# (the GPU machine's PyTorch ships them; see .ci/cuda/device_checks.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
prefix=${MARIONETTE_CUDA_PREFIX:-$HOME/.cache/marionette-cuda}
site="$prefix/site"
cu="$site/nvidia/cu13"

if [ ! -x "$cu/bin/nvcc" ]; then
    echo "installing the CUDA 13.0 toolchain wheels into $site"
    python3 -m pip install --quiet --disable-pip-version-check --target "$site" \
        nvidia-cuda-nvcc==13.0.88 nvidia-nvvm==13.0.88 nvidia-cuda-runtime==13.0.96 \
        nvidia-cuda-crt==13.0.88 nvidia-cuda-cccl==13.0.85 nvidia-cublas==13.0.2.14 \
        nvidia-cuda-nvrtc==13.0.88 nvidia-curand==10.4.0.35
fi

# The wheels ship only versioned sonames; the linker wants lib<name>.so.
links="$prefix/link"
mkdir -p "$links"
for lib in cublas cublasLt curand nvrtc cudart; do
    so=$(ls "$cu/lib/lib$lib.so."* | grep -v builtins | head -1)
    ln -sf "$so" "$links/lib$lib.so"
done

# libcuda.so is the driver: a stub with every cu* symbol the build references satisfies the
# linker (dynamic linking keeps the soname libcuda.so.1, resolved by the real driver at run
# time). The symbol list is taken from cuda.h so the stub never misses one cudarc binds.
if [ ! -e "$links/libcuda.so" ]; then
    grep -ohE '\bcu[A-Z][A-Za-z0-9_]*\s*\(' "$cu/include/cuda.h" |
        sed 's/\s*($//' | sort -u > "$links/cuda_syms.txt"
    grep -ohE '#define (cu[A-Za-z0-9_]+) +(cu[A-Za-z0-9_]+)' "$cu/include/cuda.h" |
        awk '{print $3}' >> "$links/cuda_syms.txt"
    sort -u -o "$links/cuda_syms.txt" "$links/cuda_syms.txt"
    awk '{printf "int %s(void) { return 999; }\n", $1}' "$links/cuda_syms.txt" > "$links/cuda_stub.c"
    cc -shared -fPIC -Wl,-soname,libcuda.so.1 -o "$links/libcuda.so" "$links/cuda_stub.c"
fi
# Under its soname too: with it on LD_LIBRARY_PATH the binary starts without a driver, every
# CUDA call fails, and the CPU fallback can be tried (and device_checks.sh dry-run) here.
ln -sf libcuda.so "$links/libcuda.so.1"

export PATH="$cu/bin:$cu/nvvm/bin:$PATH"
export CUDA_ROOT="$cu" CUDA_PATH="$cu" CUDA_HOME="$cu"
export NVCC="$cu/bin/nvcc" CUDA_COMPUTE_CAP=${CUDA_COMPUTE_CAP:-90} CUDARC_CUDA_VERSION=13000
export LIBRARY_PATH="$links${LIBRARY_PATH:+:$LIBRARY_PATH}"
export RUSTFLAGS="${RUSTFLAGS:-} -L native=$links"
export CARGO_TARGET_DIR="$root/target/cuda"

cargo build --release --features cuda --bin marionette
out="$root/target/cuda/carry"
mkdir -p "$out"
strip -o "$out/marionette" "$CARGO_TARGET_DIR/release/marionette"
if [ "${1:-}" = "--tests" ]; then
    for t in gfla_ops gfla_model pona_model; do
        exe=$(cargo test --release --features cuda --test "$t" --no-run --message-format=json 2>/dev/null |
            python3 -c 'import sys, json
for l in sys.stdin:
    m = json.loads(l)
    if m.get("reason") == "compiler-artifact" and m.get("executable"): print(m["executable"])' | tail -1)
        strip -o "$out/$t" "$exe"
    done
fi
(cd "$out" && rm -f bins.tar.xz && tar cf - $(ls | grep -v '\.tar\.xz$') |
    xz -T1 --lzma2=preset=6,dict=192MiB > bins.tar.xz) # one dictionary spans all binaries: they share most bytes
ls -la "$out"
if [ "${1:-}" = "--tests" ]; then
    # What .ci/cuda/device_checks.sh reads on the GPU machine (carry: [".dev"]): the binaries
    # and the shared fixtures and spec (the GPU machine sees only the repository).
    rm -rf .dev && mkdir -p .dev/shared/fixtures
    cp "$out/bins.tar.xz" .dev/
    cp -r ../shared/spec .dev/shared/
    cp -r ../shared/fixtures/gfla ../shared/fixtures/pona .dev/shared/fixtures/
    du -sh .dev
fi
