//! The NEON register tile (AArch64): 8 output channels × 12 columns.
//!
//! AArch64 has 32 registers of 4 floats. 8 × 12 takes 24 accumulators, three for the input run
//! and two for the block's 8 weights, which the FMAs read lane by lane (`fmla v.4s, v.4s,
//! v.s[i]`, no broadcasts): per row of the implicit im2col matrix five loads and 24 FMAs.
//! NEON has no masked loads, so a row's last tile, when narrower than 12 columns, is left to
//! the portable tile rather than reading past the input.
//!
//! Not measured: it is compiled here (`cargo check --target aarch64-unknown-linux-gnu`) but
//! not run, as no AArch64 machine was at hand; the tests run it wherever they run on one.

use super::{Tile, MR, NEON_NR};
use std::arch::aarch64::*;

/// One block of up to 8 output channels × `ncols` ≤ 12 columns.
///
/// # Safety
/// `o` as in [`super::portable::tile`], `ncols ≤ NEON_NR`.
#[target_feature(enable = "neon")]
pub(super) unsafe fn tile(a: &[f32], t: &Tile, o: *mut f32, ostride: usize) {
    if t.ncols < NEON_NR {
        return super::portable::tile(a, t, o, ostride);
    }
    let mut acc = [[vdupq_n_f32(0.0); 3]; MR];
    let x = t.x.as_ptr();
    let mut ap = a.as_ptr();
    for &off in t.roff {
        let p = x.add(off);
        let b = [vld1q_f32(p), vld1q_f32(p.add(4)), vld1q_f32(p.add(8))];
        let w = [vld1q_f32(ap), vld1q_f32(ap.add(4))];
        // Row r's weight is lane r % 4 of w[r / 4]; the lane must be a constant.
        macro_rules! rows {
            ($($r:literal),*) => {$(
                for (acc, &b) in acc[$r].iter_mut().zip(&b) {
                    *acc = vfmaq_laneq_f32::<{ $r % 4 }>(*acc, b, w[$r / 4]);
                }
            )*};
        }
        rows!(0, 1, 2, 3, 4, 5, 6, 7);
        ap = ap.add(MR);
    }
    for (r, &bias) in t.bias.iter().enumerate() {
        let row = o.add(r * ostride);
        for (j, &acc) in acc[r].iter().enumerate() {
            let dst = row.add(4 * j);
            let add = if t.accumulate {
                vld1q_f32(dst)
            } else {
                vdupq_n_f32(bias)
            };
            vst1q_f32(dst, vaddq_f32(acc, add));
        }
    }
}
