//! The AVX2+FMA register tiles: 6 output channels × 16 columns, and 3 × 24 for layers with at
//! most three output channels.
//!
//! AVX2 has 16 registers of 8 floats. 6 × 16 takes twelve accumulators, two for the input run
//! and one for the broadcast weight (the shape of BLIS's Haswell kernel): per row of the
//! implicit im2col matrix two loads, six broadcasts and twelve FMAs, enough independent sums
//! to cover the FMA latency of two units. Measured on one core of this machine (Zen, data in
//! L1, `bench` of the tile alone): 6 × 16 ~95 % of the FMA peak; 4 × 24 (four output channels,
//! the register file's other twelve-sum shape) ~50 %, because it needs a seventeenth register
//! and LLVM spills an accumulator, whose store and reload then sit in the loop's dependency
//! chain; 4 × 16 ~60 % (eight sums are just the latency bound). The weights are packed in
//! blocks of six for it ([`super::AVX2_MR`]). 3 × 24 (nine sums, ~95 %) serves the image,
//! flow and mask heads, where 6 × 16 would spend half its multiply-adds on zero weights.
//!
//! The last vector of a row's tail tile is a masked load (which never touches the lanes it
//! leaves out, so nothing past the input is read) and a masked store.

use super::{Tile, AVX2_MR, AVX2_NARROW_MR, AVX2_NARROW_NR, AVX2_NR};
use std::arch::x86_64::*;

/// Rows ahead whose input run is prefetched, as in the AVX-512 tiles: the runs are spread
/// over channels × taps, too many streams for the hardware prefetcher.
const PREFETCH: usize = 12;

/// One block of up to 6 output channels × `ncols` ≤ 16 columns.
///
/// # Safety
/// AVX2 and FMA are available; `o` as in [`super::portable::tile`], `ncols ≤ AVX2_NR`; the
/// weights packed in blocks of [`AVX2_MR`].
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn tile(a: &[f32], t: &Tile, o: *mut f32, ostride: usize) {
    debug_assert!(t.ncols >= 1 && t.ncols <= AVX2_NR && t.bias.len() <= AVX2_MR);
    match (t.ncols.div_ceil(8), !t.ncols.is_multiple_of(8)) {
        (2, false) => rows::<AVX2_MR, 2, false>(a, t, o, ostride),
        (2, true) => rows::<AVX2_MR, 2, true>(a, t, o, ostride),
        (1, false) => rows::<AVX2_MR, 1, false>(a, t, o, ostride),
        _ => rows::<AVX2_MR, 1, true>(a, t, o, ostride),
    }
}

/// The 3 × 24 tile for layers with at most three output channels.
///
/// # Safety
/// As [`tile`], with `bias.len() ≤ 3` and `ncols ≤ 24`.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn tile_narrow(a: &[f32], t: &Tile, o: *mut f32, ostride: usize) {
    debug_assert!(t.ncols >= 1 && t.ncols <= AVX2_NARROW_NR);
    debug_assert!(t.bias.len() <= AVX2_NARROW_MR);
    const R: usize = AVX2_NARROW_MR;
    match (t.ncols.div_ceil(8), !t.ncols.is_multiple_of(8)) {
        (3, false) => rows::<R, 3, false>(a, t, o, ostride),
        (3, true) => rows::<R, 3, true>(a, t, o, ostride),
        (2, false) => rows::<R, 2, false>(a, t, o, ostride),
        (2, true) => rows::<R, 2, true>(a, t, o, ostride),
        (1, false) => rows::<R, 1, false>(a, t, o, ostride),
        _ => rows::<R, 1, true>(a, t, o, ostride),
    }
}

/// Asks for the `8·V`-value input run of row `i`, if there is one, to be brought into L1: the
/// lines of its first and last value, and the one between for three vectors.
#[inline(always)]
unsafe fn prefetch_run<const V: usize>(x: *const f32, roff: &[usize], i: usize) {
    if let Some(&off) = roff.get(i) {
        // A prefetch never faults, so the address need not be inside the input.
        let p = x.wrapping_add(off) as *const i8;
        _mm_prefetch::<_MM_HINT_T0>(p);
        if V == 3 {
            _mm_prefetch::<_MM_HINT_T0>(p.wrapping_add(64));
        }
        _mm_prefetch::<_MM_HINT_T0>(p.wrapping_add(32 * V - 1));
    }
}

/// The first `R` output channels of a block of packed weights ([`AVX2_MR`] per row) × `V`
/// vectors of 8 columns, the last one masked to `ncols` when `MASKED`; rows past `bias.len()`
/// are computed (their weights are zero) but not stored.
///
/// # Safety
/// As [`tile`], with `bias.len() ≤ R` and `8·(V−1) < ncols ≤ 8·V`.
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn rows<const R: usize, const V: usize, const MASKED: bool>(
    a: &[f32],
    t: &Tile,
    o: *mut f32,
    ostride: usize,
) {
    // Lanes below the last vector's column count.
    let rem = t.ncols - 8 * (V - 1);
    let mask = _mm256_cmpgt_epi32(
        _mm256_set1_epi32(rem as i32),
        _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
    );
    let load = |p: *const f32, j: usize| {
        if MASKED && j == V - 1 {
            _mm256_maskload_ps(p, mask)
        } else {
            _mm256_loadu_ps(p)
        }
    };
    let mut acc = [[_mm256_setzero_ps(); V]; R];
    let x = t.x.as_ptr();
    let mut ap = a.as_ptr();
    for (i, &off) in t.roff.iter().enumerate() {
        prefetch_run::<V>(x, t.roff, i + PREFETCH);
        let p = x.add(off);
        let mut b = [_mm256_setzero_ps(); V];
        for (j, b) in b.iter_mut().enumerate() {
            *b = load(p.add(8 * j), j);
        }
        for (r, acc) in acc.iter_mut().enumerate() {
            let w = _mm256_broadcast_ss(&*ap.add(r));
            for (acc, &b) in acc.iter_mut().zip(&b) {
                *acc = _mm256_fmadd_ps(w, b, *acc);
            }
        }
        ap = ap.add(AVX2_MR);
    }
    for (r, &bias) in t.bias.iter().enumerate() {
        let row = o.add(r * ostride);
        for (j, &acc) in acc[r].iter().enumerate() {
            let dst = row.add(8 * j);
            let add = if t.accumulate {
                load(dst, j)
            } else {
                _mm256_set1_ps(bias)
            };
            let v = _mm256_add_ps(acc, add);
            if MASKED && j == V - 1 {
                _mm256_maskstore_ps(dst, mask, v);
            } else {
                _mm256_storeu_ps(dst, v);
            }
        }
    }
}
