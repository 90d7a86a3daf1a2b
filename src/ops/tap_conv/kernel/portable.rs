//! The plain-Rust tile: 8 output channels × 32 columns, the AVX-512 tile's shape, with loops
//! the compiler vectorises for the baseline target. It runs the packing and tiling logic on
//! every machine (the tests' reference for the SIMD tiles) and the tails the NEON tile leaves.

use super::{Tile, MR, NR};

/// # Safety
/// `o` is valid for writes of `bias.len()` rows of `ncols` values, `ostride` apart.
pub(super) unsafe fn tile(a: &[f32], t: &Tile, o: *mut f32, ostride: usize) {
    let mut acc = [[0f32; NR]; MR];
    for (wv, &off) in a.chunks_exact(MR).zip(t.roff) {
        let xs = &t.x[off..][..t.ncols];
        for (r, &wr) in wv.iter().enumerate() {
            for (acc, &xv) in acc[r].iter_mut().zip(xs) {
                *acc += wr * xv;
            }
        }
    }
    for (r, &b) in t.bias.iter().enumerate() {
        for (c, &v) in acc[r][..t.ncols].iter().enumerate() {
            let dst = o.add(r * ostride + c);
            *dst = v + if t.accumulate { *dst } else { b };
        }
    }
}
