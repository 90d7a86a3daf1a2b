//! Denormal floats flushed to zero on the threads that run the models.
//!
//! PoNA's attention is a softmax over 2 816 positions: most probabilities underflow into the
//! denormal range (< 1.2e-38), and x86 cores take a microcode assist on every arithmetic op
//! that meets one — 50–100× slower. The matrix products over those probabilities ran at
//! ~30 GFLOP/s instead of ~250. Flush-to-zero (results) and denormals-are-zero (inputs) make
//! them ordinary zeros; values that small change no output at the fixtures' tolerances.
//! PyTorch leaves them on by default (`torch.set_flush_denormal(False)`).

/// Sets FTZ and DAZ in this thread's MXCSR (x86-64 with SSE, i.e. every x86-64); elsewhere a
/// no-op. Cheap (two instructions): callers set it at the start of each model pass, and
/// thread pools in their start handlers.
pub fn flush_denormals() {
    #[cfg(target_arch = "x86_64")]
    {
        const FTZ: u32 = 1 << 15;
        const DAZ: u32 = 1 << 6;
        let mut csr: u32 = 0;
        // SAFETY: stmxcsr/ldmxcsr read and write this thread's SSE control register; only the
        // two flush bits change (rounding mode and exception masks are kept).
        unsafe {
            std::arch::asm!("stmxcsr [{}]", in(reg) &mut csr, options(nostack));
            if csr & (FTZ | DAZ) != FTZ | DAZ {
                csr |= FTZ | DAZ;
                std::arch::asm!("ldmxcsr [{}]", in(reg) &csr, options(nostack));
            }
        }
    }
}

/// Builds rayon's global pool with [`flush_denormals`] on every worker (a no-op when the pool
/// exists already; then each model pass still sets it on the thread it runs on).
pub fn init_global_pool() {
    let _ = rayon::ThreadPoolBuilder::new()
        .start_handler(|_| flush_denormals())
        .build_global();
    flush_denormals();
}

#[cfg(test)]
mod tests {
    /// A denormal product becomes zero once the flags are set (on a fresh thread, so no other
    /// test's state leaks in or out).
    #[test]
    fn denormals_flush_to_zero() {
        std::thread::spawn(|| {
            let tiny = std::hint::black_box(1e-30f32);
            assert!(tiny * tiny == 0.0 || (tiny * 1e-10) > 0.0, "baseline");
            let d = std::hint::black_box(f32::MIN_POSITIVE / 4.0);
            assert!(
                d * std::hint::black_box(1.0f32) > 0.0,
                "denormals are kept by default"
            );
            super::flush_denormals();
            let d = std::hint::black_box(f32::MIN_POSITIVE / 4.0);
            #[cfg(target_arch = "x86_64")]
            assert_eq!(d * std::hint::black_box(1.0f32), 0.0);
        })
        .join()
        .unwrap();
    }
}
