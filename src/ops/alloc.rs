//! Keeps freed tensor buffers in the process heap (glibc only).
//!
//! Every candle op allocates its output; buffers above glibc's mmap threshold (128 KiB to
//! 32 MiB, adaptive) are fresh `mmap`s whose pages fault in, zeroed by the kernel, on first
//! touch, and are unmapped on free. A GFLA pass at 256×256 allocates ~1.5 GB that way: ~100 ms
//! of its ~600 ms went to page faults. Serving large blocks from the heap and never trimming it
//! reuses the same pages pass after pass; the cost is that the heap keeps its high-water mark.

/// Raises the mmap threshold to its maximum and disables trimming. Idempotent; a no-op
/// outside glibc.
pub fn keep_freed_buffers() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            // SAFETY: mallopt only changes allocator parameters; glibc clamps the values.
            unsafe {
                libc::mallopt(libc::M_MMAP_THRESHOLD, 32 * 1024 * 1024);
                libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
                // The threshold cannot go past 32 MiB, and training at 256×192 (batch 4)
                // allocates many larger tensors: 18 % of a step went to zeroing their fresh
                // pages. No mmap at all: every block comes from the (never trimmed) heap.
                libc::mallopt(libc::M_MMAP_MAX, 0);
            }
        });
    }
}

/// A buffer of `n` floats for an op that writes every element before anything reads it (a
/// kernel's output, a padded copy), without the memset of `vec![0.0; n]`: on the official
/// GFLA's edit path those memsets were ~9 % of the time (`perf`), as large as the writes that
/// follow them. Callers name, next to each use, the loop that writes every element.
pub fn output_buffer(n: usize) -> Vec<f32> {
    let mut v = Vec::with_capacity(n);
    // SAFETY: `f32` has no invalid bit patterns, the capacity is `n`, and the contract above
    // (every element written before it is read) means no unspecified value is ever observed.
    // candle's own CPU backend allocates its outputs the same way (`alloc_uninit`).
    #[allow(clippy::uninit_vec)]
    unsafe {
        v.set_len(n)
    };
    v
}
