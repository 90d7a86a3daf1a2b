#!/usr/bin/env bash
# Builds the CPU kernels' SIMD choice and direct convolutions (src/ops/simd.rs,
# src/ops/tap_conv/kernel/, and winograd.rs on them) for AArch64 and runs their tests under
# qemu, so the NEON tile is checked on an x86 machine. The whole crate does not cross-compile without an AArch64 C
# toolchain for its dependencies' build scripts; these modules need only rayon, so a scratch
# crate includes them by path.
#
# Needs: rustup target add aarch64-unknown-linux-gnu;
#        apt-get install qemu-user gcc-aarch64-linux-gnu libc6-dev-arm64-cross
set -euo pipefail
src="$(cd "$(dirname "$0")/../.." && pwd)/src/ops"
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
mkdir -p "$dir/src"
cat > "$dir/Cargo.toml" <<TOML
[package]
name = "kernels-aarch64"
version = "0.1.0"
edition = "2021"

[dependencies]
rayon = "1"
TOML
cat > "$dir/src/lib.rs" <<RS
pub mod ops {
    pub mod alloc {
        pub fn output_buffer(n: usize) -> Vec<f32> {
            vec![0.0; n]
        }
    }
    #[path = "$src/simd.rs"]
    pub mod simd;
    pub mod tap_conv {
        #[path = "$src/tap_conv/kernel/mod.rs"]
        pub mod kernel;
        #[path = "$src/tap_conv/winograd.rs"]
        pub mod winograd;
    }
}
RS
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="qemu-aarch64 -L /usr/aarch64-linux-gnu"
cd "$dir"
cargo clippy --release --all-targets --target aarch64-unknown-linux-gnu -- -D warnings
cargo test --release --target aarch64-unknown-linux-gnu -- --nocapture
