//! The AVX-512 register tiles: 8 output channels × 32 columns (sixteen 16-lane accumulators),
//! 8 × 16 for a row's last ≤ 16 columns, and 4 × 64 for layers with at most four outputs.
//! Masked loads and stores handle every tail, so no tile reads past the input.

use super::{Tile, MR, NARROW_MR};
use std::arch::x86_64::*;

/// Rows ahead whose input run is prefetched. A tile's rows read runs in up to 9·cin
/// places (channels × taps), too many streams for the hardware prefetcher: without it
/// the loads wait on L2/L3 (64 → 3 channels at 256², read once: 14 GFLOP/s).
const PREFETCH: usize = 12;

/// Asks for the 32-value input run of row `i` (if there is one) to be brought into L1.
#[inline(always)]
unsafe fn prefetch_run(x: *const f32, roff: &[usize], i: usize) {
    if let Some(&off) = roff.get(i) {
        // A prefetch never faults, so the address need not be inside the input.
        let p = x.wrapping_add(off) as *const i8;
        _mm_prefetch::<_MM_HINT_T0>(p);
        _mm_prefetch::<_MM_HINT_T0>(p.wrapping_add(64));
    }
}

/// The 8 × 32 tile: per (channel, tap), two masked loads of the input run and sixteen FMAs
/// with broadcast weights.
///
/// # Safety
/// AVX-512F is available; `o` as in [`super::portable::tile`]. Masked loads never touch lanes past
/// `ncols`, so the last tile of the last row reads nothing beyond the input.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn tile(a: &[f32], t: &Tile, o: *mut f32, ostride: usize) {
    if t.ncols <= 16 {
        return tile16(a, t, o, ostride);
    }
    let m0: __mmask16 = if t.ncols >= 16 {
        0xffff
    } else {
        (1u16 << t.ncols) - 1
    };
    let m1: __mmask16 = match t.ncols {
        32.. => 0xffff,
        17..=31 => (1u16 << (t.ncols - 16)) - 1,
        _ => 0,
    };
    let mut acc = [[_mm512_setzero_ps(); 2]; MR];
    let x = t.x.as_ptr();
    let mut ap = a.as_ptr();
    for (i, &off) in t.roff.iter().enumerate() {
        prefetch_run(x, t.roff, i + PREFETCH);
        let p = x.add(off);
        let b0 = _mm512_maskz_loadu_ps(m0, p);
        let b1 = _mm512_maskz_loadu_ps(m1, p.add(16));
        for (r, acc) in acc.iter_mut().enumerate() {
            let w = _mm512_set1_ps(*ap.add(r));
            acc[0] = _mm512_fmadd_ps(w, b0, acc[0]);
            acc[1] = _mm512_fmadd_ps(w, b1, acc[1]);
        }
        ap = ap.add(MR);
    }
    for (r, &b) in t.bias.iter().enumerate() {
        let row = o.add(r * ostride);
        let (add0, add1) = if t.accumulate {
            (
                _mm512_maskz_loadu_ps(m0, row),
                _mm512_maskz_loadu_ps(m1, row.add(16)),
            )
        } else {
            (_mm512_set1_ps(b), _mm512_set1_ps(b))
        };
        _mm512_mask_storeu_ps(row, m0, _mm512_add_ps(acc[r][0], add0));
        _mm512_mask_storeu_ps(row.add(16), m1, _mm512_add_ps(acc[r][1], add1));
    }
}

/// The 4 × 64 tile for layers with at most [`NARROW_MR`] output channels: per (channel,
/// tap), four masked loads and sixteen FMAs, like the 8 × 32 tile, with every row useful.
///
/// # Safety
/// As [`tile`], with `bias.len() ≤ NARROW_MR` and `ncols ≤ 64`.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn tile_narrow(a: &[f32], t: &Tile, o: *mut f32, ostride: usize) {
    let mask = |j: usize| -> __mmask16 {
        let n = t.ncols.saturating_sub(16 * j).min(16);
        ((1u32 << n) - 1) as __mmask16
    };
    let m = [mask(0), mask(1), mask(2), mask(3)];
    let mut acc = [[_mm512_setzero_ps(); 4]; NARROW_MR];
    let x = t.x.as_ptr();
    let mut ap = a.as_ptr();
    for (i, &off) in t.roff.iter().enumerate() {
        prefetch_run(x, t.roff, i + PREFETCH);
        let p = x.add(off);
        let b = [
            _mm512_maskz_loadu_ps(m[0], p),
            _mm512_maskz_loadu_ps(m[1], p.add(16)),
            _mm512_maskz_loadu_ps(m[2], p.add(32)),
            _mm512_maskz_loadu_ps(m[3], p.add(48)),
        ];
        for (r, acc) in acc.iter_mut().enumerate() {
            let w = _mm512_set1_ps(*ap.add(r));
            for (acc, &b) in acc.iter_mut().zip(&b) {
                *acc = _mm512_fmadd_ps(w, b, *acc);
            }
        }
        ap = ap.add(MR);
    }
    for (r, &bias) in t.bias.iter().enumerate() {
        let row = o.add(r * ostride);
        for (j, (&acc, &mj)) in acc[r].iter().zip(&m).enumerate() {
            let add = if t.accumulate {
                _mm512_maskz_loadu_ps(mj, row.add(16 * j))
            } else {
                _mm512_set1_ps(bias)
            };
            _mm512_mask_storeu_ps(row.add(16 * j), mj, _mm512_add_ps(acc, add));
        }
    }
}

/// The 8 × 16 tile for a row's last ≤ 16 columns (PoNA's 44-wide code grid ends in 12):
/// half the multiply-adds of a mostly masked 8 × 32 tile.
///
/// # Safety
/// As [`tile`].
#[target_feature(enable = "avx512f")]
unsafe fn tile16(a: &[f32], t: &Tile, o: *mut f32, ostride: usize) {
    let m0: __mmask16 = if t.ncols >= 16 {
        0xffff
    } else {
        (1u16 << t.ncols) - 1
    };
    let mut acc = [_mm512_setzero_ps(); MR];
    let x = t.x.as_ptr();
    let mut ap = a.as_ptr();
    for (i, &off) in t.roff.iter().enumerate() {
        prefetch_run(x, t.roff, i + PREFETCH);
        let b0 = _mm512_maskz_loadu_ps(m0, x.add(off));
        for (r, acc) in acc.iter_mut().enumerate() {
            *acc = _mm512_fmadd_ps(_mm512_set1_ps(*ap.add(r)), b0, *acc);
        }
        ap = ap.add(MR);
    }
    for (r, &b) in t.bias.iter().enumerate() {
        let row = o.add(r * ostride);
        let add = if t.accumulate {
            _mm512_maskz_loadu_ps(m0, row)
        } else {
            _mm512_set1_ps(b)
        };
        _mm512_mask_storeu_ps(row, m0, _mm512_add_ps(acc[r], add));
    }
}
