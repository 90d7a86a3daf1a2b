//! Compiles the CUDA kernels of our custom ops (`src/ops/*.cu`) to PTX with nvcc, only when the
//! `cuda` feature is on; the CPU build runs nothing here and needs no CUDA component.
//!
//! Build time (nvcc) rather than run time (NVRTC): a `cuda` build already needs nvcc for
//! candle's own kernels, a kernel that does not compile fails the build instead of the first
//! edit, and the editor does not pay a compile on its first GPU request. The PTX is embedded
//! in the binary and JIT-compiled by the driver for the GPU it meets.

use std::path::PathBuf;

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-env-changed=CUDA_COMPUTE_CAP");
    println!("cargo::rerun-if-env-changed=NVCC");
    if std::env::var_os("CARGO_FEATURE_CUDA").is_none() {
        return;
    }
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let nvcc = std::env::var("NVCC").unwrap_or_else(|_| "nvcc".into());
    // The PTX targets the oldest architecture asked for; the driver JITs it for newer GPUs.
    let cap = std::env::var("CUDA_COMPUTE_CAP").unwrap_or_else(|_| "75".into());
    let cap: String = cap.chars().filter(char::is_ascii_digit).collect();
    for name in [
        "block_extractor",
        "local_attn",
        "conv_taps",
        "resample2d",
        "instance_norm",
    ] {
        let src = PathBuf::from(format!("src/ops/{name}.cu"));
        println!("cargo::rerun-if-changed={}", src.display());
        let ptx = out.join(format!("{name}.ptx"));
        let status = std::process::Command::new(&nvcc)
            .args(["--ptx", "-O3", "-std=c++17"])
            .arg(format!("--gpu-architecture=compute_{cap}"))
            .arg("-o")
            .arg(&ptx)
            .arg(&src)
            .status()
            .unwrap_or_else(|e| {
                panic!("running {nvcc} (set NVCC or PATH; see .ci/cuda/build.sh): {e}")
            });
        assert!(status.success(), "nvcc failed on {}", src.display());
    }
}
