//! Direct convolutions on the CPU with no im2col and no tap planes: the inference path of
//! [`crate::model::layers::ShiftConv`] and [`crate::model::layers::UpConv`].
//!
//! A convolution over a (zero- or reflection-) padded input is a sum over *taps*: each tap
//! `(dy, dx)` reads the input shifted by `dy` rows and `dx` columns. With the input stored
//! channel-major with row width `wp`, the im2col row for (channel, tap) at output row `y`,
//! columns `x0..x0+32` is a contiguous run of the input itself, `x[c][(y+dy)·wp + x0+dx ..]`.
//! So the micro-kernel loads the "B matrix" straight from the input (no packing, no k²-times
//! larger copy) and only the weights are packed, once per layer: 8 output channels × 32 output
//! columns per register tile (16 AVX-512 accumulators), bias added in the epilogue, results
//! stored straight into the unpadded output.
//!
//! The matrix-product form this replaces wrote `cout·k²` full planes and read them back in a
//! tap sum: for a 64-channel 256×256 layer that is 150 MB of traffic per pass, more than the
//! arithmetic costs. A transposed convolution (stride 2) is four such tap convolutions, one
//! per output phase, interleaved.
//!
//! Only the forward pass lives here: layers take this path when no gradient is tracked, and the
//! differentiable candle-op path otherwise. The AVX-512 kernel is used where the CPU has it;
//! elsewhere the layers keep their matrix-product path (faster than any scalar loop). The
//! portable kernel below has the same tiling and exists so the packing and tiling logic is
//! tested on every machine.

use rayon::prelude::*;

/// Output channels per register tile.
const MR: usize = 8;
/// Output columns per register tile (two 16-lane vectors).
const NR: usize = 32;
/// Past this many rows of the implicit im2col matrix (e.g. 3×3 over more than 128 channels) one
/// block of packed weights no longer stays in L1 across a band of tiles, so the rows are taken
/// in chunks of [`KC`]: each tile's input runs for a chunk (≤ 32 KB) stay in L1 while every
/// block of output channels reads them, and the chunk's weights for all channels (≤ 512 KB at
/// 512 channels) stay in L2. Below it, each weight block stays in L1 and the band's input in
/// L2, which measured faster (`bench --model conv`: 64→64 at 256², 182 vs 150 GFLOP/s).
const CHUNKED_FROM: usize = 1200;
/// Output channels of the narrow tile (4 × 64) for layers with few outputs.
const NARROW_MR: usize = 4;
const KC: usize = 256;

/// One row of the implicit im2col matrix: input channel `chan` shifted by `(dy, dx)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Row {
    pub chan: usize,
    pub dy: usize,
    pub dx: usize,
}

/// Weights packed for the kernel: for each block of [`MR`] output channels, for each row, the
/// [`MR`] weights of that row (zero past `cout`).
#[derive(Clone, Debug)]
pub struct PackedTaps {
    cout: usize,
    /// Input channels the rows read (`chan < channels`).
    channels: usize,
    rows: Vec<Row>,
    data: Vec<f32>,
}

impl PackedTaps {
    /// Packs `weight(co, r)` for `co < cout` and each row `r` of `rows`.
    pub fn new(
        cout: usize,
        channels: usize,
        rows: Vec<Row>,
        weight: impl Fn(usize, usize) -> f32,
    ) -> Self {
        let nr = rows.len();
        let blocks = cout.div_ceil(MR);
        let mut data = vec![0f32; blocks * nr * MR];
        for cb in 0..blocks {
            for r in 0..nr {
                let base = (cb * nr + r) * MR;
                for m in 0..MR.min(cout - cb * MR) {
                    data[base + m] = weight(cb * MR + m, r);
                }
            }
        }
        Self {
            cout,
            channels,
            rows,
            data,
        }
    }

    /// A stride-1 `Conv2d` weight `(cout, cin, k, k)`, given flat: rows (channel, ky, kx).
    pub fn conv(w: &[f32], cout: usize, cin: usize, k: usize) -> Self {
        let rows = (0..cin * k * k)
            .map(|i| Row {
                chan: i / (k * k),
                dy: i / k % k,
                dx: i % k,
            })
            .collect();
        Self::new(cout, cin, rows, |co, r| w[co * cin * k * k + r])
    }

    /// A stride-2 `Conv2d` weight `(cout, cin, k, k)` over the input split into its four
    /// phases (see [`split_phases`]): tap (ky, kx) of channel c reads phase plane
    /// `4c + 2·(ky mod 2) + (kx mod 2)` shifted by `(ky div 2, kx div 2)`.
    pub fn conv_stride2(w: &[f32], cout: usize, cin: usize, k: usize) -> Self {
        let rows = (0..cin * k * k)
            .map(|i| {
                let (c, ky, kx) = (i / (k * k), i / k % k, i % k);
                Row {
                    chan: 4 * c + 2 * (ky % 2) + kx % 2,
                    dy: ky / 2,
                    dx: kx / 2,
                }
            })
            .collect();
        Self::new(cout, 4 * cin, rows, |co, r| w[co * cin * k * k + r])
    }

    pub fn cout(&self) -> usize {
        self.cout
    }

    /// Input channels the rows read.
    pub fn channels(&self) -> usize {
        self.channels
    }

    fn block(&self, cb: usize) -> &[f32] {
        let len = self.rows.len() * MR;
        &self.data[cb * len..(cb + 1) * len]
    }
}

/// Splits a padded image `c × hp × wp` into its four stride-2 phases, `4c × ⌈hp/2⌉ × ⌈wp/2⌉`:
/// plane `4c + 2a + b` holds `x[c][2i + a][2j + b]` (zero past the edge). A stride-2
/// convolution is then a stride-1 tap convolution over the phases.
pub fn split_phases(x: &[f32], c: usize, hp: usize, wp: usize, out: &mut [f32]) {
    let (h2, w2) = (hp.div_ceil(2), wp.div_ceil(2));
    out[..4 * c * h2 * w2]
        .par_chunks_mut(4 * h2 * w2)
        .zip(x.par_chunks(hp * wp))
        .for_each(|(dst, src)| {
            for (p, plane) in dst.chunks_exact_mut(h2 * w2).enumerate() {
                let (a, b) = (p / 2, p % 2);
                for (i, row) in plane.chunks_exact_mut(w2).enumerate() {
                    let y = 2 * i + a;
                    if y >= hp {
                        row.fill(0.0);
                        continue;
                    }
                    let srow = &src[y * wp..(y + 1) * wp];
                    for (j, v) in row.iter_mut().enumerate() {
                        *v = srow.get(2 * j + b).copied().unwrap_or(0.0);
                    }
                }
            }
        });
}

/// Whether the fast kernel runs on this CPU (else callers keep their matrix-product path).
pub fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        static AVX512: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        *AVX512.get_or_init(|| {
            std::arch::is_x86_feature_detected!("avx512f")
                && std::env::var("MARIONETTE_TAP_CONV").map_or(true, |v| v != "0")
        })
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Which micro-kernel to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kernel {
    /// AVX-512 (only where [`available`]).
    Simd,
    /// Plain Rust with the same tiling: for tests on any machine.
    Portable,
}

/// The geometry of one tap convolution of a single image.
#[derive(Clone, Copy, Debug)]
pub struct Geometry {
    /// Padded input rows and row width.
    pub hp: usize,
    pub wp: usize,
    /// Output rows and columns.
    pub ho: usize,
    pub wo: usize,
}

impl Geometry {
    /// Checks that every tap stays inside the padded input.
    fn check(&self, w: &PackedTaps, x_len: usize) -> Result<(), String> {
        let (dy, dx) = w
            .rows
            .iter()
            .fold((0, 0), |(a, b), r| (a.max(r.dy), b.max(r.dx)));
        if self.ho + dy > self.hp || self.wo + dx > self.wp {
            return Err(format!(
                "taps up to ({dy}, {dx}) for a {}×{} output need more than a {}×{} input",
                self.ho, self.wo, self.hp, self.wp
            ));
        }
        if x_len != w.channels * self.hp * self.wp {
            return Err(format!(
                "input of {x_len} values for {} channels of {}×{}",
                w.channels, self.hp, self.wp
            ));
        }
        Ok(())
    }
}

/// A raw pointer that work items share; each writes a disjoint part of the output.
#[derive(Clone, Copy)]
struct OutPtr(*mut f32);
unsafe impl Send for OutPtr {}
unsafe impl Sync for OutPtr {}

impl OutPtr {
    /// Through a method, so closures capture the whole (Sync) wrapper, not its field.
    fn at(self, offset: usize) -> *mut f32 {
        self.0.wrapping_add(offset)
    }
}

/// `out[co][y][x] = bias[co] + Σ_{ci, t} w(co, ci, t) · x[ci][y + dy_t][x + dx_t]` for one
/// image: `x` is `cin × hp × wp`, `out` is `cout × ho × wo`.
pub fn tap_conv(
    x: &[f32],
    g: Geometry,
    w: &PackedTaps,
    bias: &[f32],
    out: &mut [f32],
    kernel: Kernel,
) -> Result<(), String> {
    g.check(w, x.len())?;
    if bias.len() != w.cout || out.len() != w.cout * g.ho * g.wo {
        return Err(format!(
            "bias of {} and output of {} values for {} channels of {}×{}",
            bias.len(),
            out.len(),
            w.cout,
            g.ho,
            g.wo
        ));
    }
    if kernel == Kernel::Simd && !available() {
        return Err("the AVX-512 kernel does not run on this CPU".into());
    }
    let plane = g.hp * g.wp;
    let roff: Vec<usize> = w
        .rows
        .iter()
        .map(|r| r.chan * plane + r.dy * g.wp + r.dx)
        .collect();
    // Bands of output rows whose input rows (all channels) stay within about half of L2, so
    // the band is read from cache once per block of output channels; split the channel
    // blocks too when there are too few bands to keep every thread busy.
    let blocks = w.cout.div_ceil(MR);
    let row_bytes = w.channels * g.wp * 4;
    let band = (512 * 1024 / row_bytes.max(1)).clamp(1, g.ho.max(1));
    let bands = g.ho.div_ceil(band);
    let want = 4 * rayon::current_num_threads();
    let groups = want.div_ceil(bands).clamp(1, blocks);
    let per_group = blocks.div_ceil(groups);
    let out_ptr = OutPtr(out.as_mut_ptr());
    let nrows_k = roff.len();
    // Layers with at most 4 output channels (an RGB output, flow and mask heads) take the
    // 4 × 64 tile: the 8 × 32 tile would spend over half its multiply-adds on zero weights.
    let narrow = kernel == Kernel::Simd && w.cout <= NARROW_MR;
    let step = if narrow { 2 * NR } else { NR };
    // One 8 × 32 tile over rows `ks` of the implicit im2col matrix. Sound because (cb, y)
    // pairs are disjoint across work items and a tile reads and writes only
    // out[co0..co0+nrows][y][x0..x0+ncols] (the kernels' safety condition).
    let run_tile = |cb: usize, y: usize, x0: usize, ks: std::ops::Range<usize>| {
        let a = &w.block(cb)[ks.start * MR..ks.end * MR];
        let co0 = cb * MR;
        let nrows = MR.min(w.cout - co0);
        let tile = Tile {
            x: &x[y * g.wp + x0..],
            roff: &roff[ks.clone()],
            bias: &bias[co0..co0 + nrows],
            ncols: step.min(g.wo - x0),
            accumulate: ks.start > 0,
        };
        let o = out_ptr.at(co0 * g.ho * g.wo + y * g.wo + x0);
        match kernel {
            #[cfg(target_arch = "x86_64")]
            Kernel::Simd if narrow => unsafe { avx512::tile_narrow(a, &tile, o, g.ho * g.wo) },
            #[cfg(target_arch = "x86_64")]
            Kernel::Simd => unsafe { avx512::tile(a, &tile, o, g.ho * g.wo) },
            _ => unsafe { portable_tile(a, &tile, o, g.ho * g.wo) },
        }
    };
    (0..bands * groups).into_par_iter().for_each(|item| {
        let (b, gi) = (item / groups, item % groups);
        let rows = b * band..((b + 1) * band).min(g.ho);
        let cbs = gi * per_group..((gi + 1) * per_group).min(blocks);
        // Chunks of rows outermost, then the tile, then the output channel blocks: one
        // tile's input runs for a chunk are read from L1 by every channel block. For short
        // rows: one chunk, and the channel block outermost (its weights stay in L1).
        let kc = if nrows_k >= CHUNKED_FROM {
            KC
        } else {
            nrows_k.max(1)
        };
        if kc == nrows_k.max(1) {
            for cb in cbs.clone() {
                for y in rows.clone() {
                    for x0 in (0..g.wo).step_by(step) {
                        run_tile(cb, y, x0, 0..nrows_k);
                    }
                }
            }
            return;
        }
        for k0 in (0..nrows_k).step_by(kc) {
            let k1 = (k0 + kc).min(nrows_k);
            for y in rows.clone() {
                for x0 in (0..g.wo).step_by(step) {
                    for cb in cbs.clone() {
                        run_tile(cb, y, x0, k0..k1);
                    }
                }
            }
        }
    });
    Ok(())
}

/// One register tile's inputs: `x` starts at the tile's first output position in channel 0;
/// row `r` of the implicit im2col matrix starts `roff[r]` values further.
struct Tile<'a> {
    x: &'a [f32],
    roff: &'a [usize],
    /// One value per stored output channel (≤ MR).
    bias: &'a [f32],
    /// Output columns to compute (≤ NR).
    ncols: usize,
    /// Add to the partial sums already in the output (later row chunks) instead of the bias.
    accumulate: bool,
}

/// # Safety
/// `o` is valid for writes of `bias.len()` rows of `ncols` values, `ostride` apart.
unsafe fn portable_tile(a: &[f32], t: &Tile, o: *mut f32, ostride: usize) {
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

#[cfg(target_arch = "x86_64")]
mod avx512 {
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
    /// AVX-512F is available; `o` as in `portable_tile`. Masked loads never touch lanes past
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
}

/// The four output phases of a stride-2 `ConvTranspose2d(k 3, padding 1, output_padding 1)`,
/// as tap convolutions over the input padded by one zero row and column at the end.
///
/// Output row 2m takes kernel row 1 at input row m; row 2m+1 takes kernel row 2 at input row m
/// and kernel row 0 at input row m+1. Columns likewise.
#[derive(Clone, Debug)]
pub struct PackedUp {
    /// Phases in order (py, px) = (0,0), (0,1), (1,0), (1,1).
    phases: Vec<PackedTaps>,
}

impl PackedUp {
    /// `w` is the PyTorch weight `(cin, cout, 3, 3)`, flat.
    pub fn new(w: &[f32], cin: usize, cout: usize) -> Self {
        // (kernel index, input offset) per output parity.
        let per_parity: [&[(usize, usize)]; 2] = [&[(1, 0)], &[(2, 0), (0, 1)]];
        let mut phases = Vec::with_capacity(4);
        for py in 0..2 {
            for px in 0..2 {
                let mut kt = Vec::new();
                for ci in 0..cin {
                    for &(ky, dy) in per_parity[py] {
                        for &(kx, dx) in per_parity[px] {
                            kt.push((ci, ky, kx, dy, dx));
                        }
                    }
                }
                let rows = kt
                    .iter()
                    .map(|&(chan, _, _, dy, dx)| Row { chan, dy, dx })
                    .collect();
                phases.push(PackedTaps::new(cout, cin, rows, |co, r| {
                    let (ci, ky, kx, _, _) = kt[r];
                    w[((ci * cout + co) * 3 + ky) * 3 + kx]
                }));
            }
        }
        Self { phases }
    }

    /// One image: `x` is the input padded to `cin × (h+1) × (w+1)`, `out` is
    /// `cout × 2h × 2w`; `scratch` is reused across calls.
    pub fn forward(
        &self,
        x: &[f32],
        (h, w): (usize, usize),
        bias: &[f32],
        out: &mut [f32],
        scratch: &mut Vec<f32>,
        kernel: Kernel,
    ) -> Result<(), String> {
        let cout = self.phases[0].cout;
        let g = Geometry {
            hp: h + 1,
            wp: w + 1,
            ho: h,
            wo: w,
        };
        let plane = h * w;
        if out.len() != cout * 4 * plane {
            return Err(format!(
                "output of {} values for {cout}×{}×{}",
                out.len(),
                2 * h,
                2 * w
            ));
        }
        // Every phase is written whole by `tap_conv` before the interleave reads it.
        if scratch.len() < 4 * cout * plane {
            *scratch = crate::ops::alloc::output_buffer(4 * cout * plane);
        }
        for (p, taps) in self.phases.iter().enumerate() {
            let dst = &mut scratch[p * cout * plane..(p + 1) * cout * plane];
            tap_conv(x, g, taps, bias, dst, kernel)?;
        }
        let scratch = &scratch[..];
        out.par_chunks_mut(4 * plane)
            .enumerate()
            .for_each(|(co, oc)| {
                for (r, orow) in oc.chunks_exact_mut(2 * w).enumerate() {
                    let (m, py) = (r / 2, r % 2);
                    let even = &scratch[((2 * py) * cout + co) * plane + m * w..][..w];
                    let odd = &scratch[((2 * py + 1) * cout + co) * plane + m * w..][..w];
                    for ((pair, &e), &o) in orow.chunks_exact_mut(2).zip(even).zip(odd) {
                        pair[0] = e;
                        pair[1] = o;
                    }
                }
            });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lcg(n: usize, seed: u64) -> Vec<f32> {
        let mut s = seed;
        (0..n)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
            })
            .collect()
    }

    /// Straight from the definition.
    fn naive(x: &[f32], g: Geometry, w: &[f32], cout: usize, cin: usize, k: usize) -> Vec<f32> {
        let mut out = vec![0f32; cout * g.ho * g.wo];
        for co in 0..cout {
            for y in 0..g.ho {
                for xx in 0..g.wo {
                    let mut s = 0f64;
                    for ci in 0..cin {
                        for ky in 0..k {
                            for kx in 0..k {
                                s += w[((co * cin + ci) * k + ky) * k + kx] as f64
                                    * x[(ci * g.hp + y + ky) * g.wp + xx + kx] as f64;
                            }
                        }
                    }
                    out[(co * g.ho + y) * g.wo + xx] = s as f32 + co as f32 * 0.25;
                }
            }
        }
        out
    }

    fn kernels() -> Vec<Kernel> {
        let mut k = vec![Kernel::Portable];
        if available() {
            k.push(Kernel::Simd);
        } else {
            eprintln!("tap_conv: no AVX-512 here; the SIMD kernel is not tested");
        }
        k
    }

    /// Every tail case: channels not a multiple of 8, widths below, at and past 16 and 32, and
    /// the narrow tile's. The output starts as NaN: every value must be written.
    #[test]
    fn tap_conv_matches_the_definition() {
        for (cout, cin, k, hp, wp) in [
            (3, 5, 3, 7, 9),
            (8, 4, 3, 10, 18),
            (17, 6, 3, 5, 35),
            (9, 3, 7, 12, 41),
            (16, 7, 1, 3, 33),
            (2, 2, 3, 3, 3),
            // The narrow 4 × 64 tile: a full tile, one past it, a tail between 32 and 64.
            (4, 3, 3, 3, 66),
            (3, 6, 3, 5, 75),
            (1, 4, 3, 4, 50),
        ] {
            let g = Geometry {
                hp,
                wp,
                ho: hp - k + 1,
                wo: wp - k + 1,
            };
            let x = lcg(cin * hp * wp, 1);
            let w = lcg(cout * cin * k * k, 2);
            let bias: Vec<f32> = (0..cout).map(|c| c as f32 * 0.25).collect();
            let want = naive(&x, g, &w, cout, cin, k);
            let packed = PackedTaps::conv(&w, cout, cin, k);
            for kernel in kernels() {
                let mut out = vec![f32::NAN; cout * g.ho * g.wo];
                tap_conv(&x, g, &packed, &bias, &mut out, kernel).unwrap();
                let err = out
                    .iter()
                    .zip(&want)
                    .map(|(a, b)| (a - b).abs())
                    .fold(0f32, f32::max);
                assert!(err < 1e-4, "{kernel:?} {cout}×{cin} k{k} {hp}×{wp}: {err}");
            }
        }
    }

    #[test]
    fn taps_outside_the_input_are_refused() {
        let packed = PackedTaps::conv(&[0.0; 9], 1, 1, 3);
        let g = Geometry {
            hp: 4,
            wp: 4,
            ho: 3,
            wo: 2,
        };
        let mut out = vec![0.0; 6];
        let err = tap_conv(&[0.0; 16], g, &packed, &[0.0], &mut out, Kernel::Portable);
        assert!(err.unwrap_err().contains("need more than"));
    }

    /// The transposed convolution against its scatter definition.
    #[test]
    fn up_phases_match_the_transposed_convolution() {
        for (cin, cout, h, w) in [(3, 5, 4, 6), (9, 2, 1, 1), (4, 11, 5, 19)] {
            let x = lcg(cin * h * w, 3);
            let wt = lcg(cin * cout * 9, 4);
            let bias: Vec<f32> = (0..cout).map(|c| c as f32 - 1.0).collect();
            // Scatter form: input (m, n) with kernel (ky, kx) lands on (2m - 1 + ky, 2n - 1 + kx).
            let (ho, wo) = (2 * h, 2 * w);
            let mut want = vec![0f32; cout * ho * wo];
            for co in 0..cout {
                want[co * ho * wo..(co + 1) * ho * wo].fill(bias[co]);
                for ci in 0..cin {
                    for m in 0..h {
                        for n in 0..w {
                            for ky in 0..3 {
                                for kx in 0..3 {
                                    let (oy, ox) = (2 * m + ky, 2 * n + kx);
                                    if oy == 0 || ox == 0 || oy > ho || ox > wo {
                                        continue;
                                    }
                                    want[(co * ho + oy - 1) * wo + ox - 1] += x
                                        [(ci * h + m) * w + n]
                                        * wt[((ci * cout + co) * 3 + ky) * 3 + kx];
                                }
                            }
                        }
                    }
                }
            }
            let mut xp = vec![0f32; cin * (h + 1) * (w + 1)];
            for ci in 0..cin {
                for m in 0..h {
                    let src = &x[(ci * h + m) * w..][..w];
                    xp[(ci * (h + 1) + m) * (w + 1)..][..w].copy_from_slice(src);
                }
            }
            let up = PackedUp::new(&wt, cin, cout);
            for kernel in kernels() {
                let mut out = vec![f32::NAN; cout * ho * wo];
                up.forward(&xp, (h, w), &bias, &mut out, &mut Vec::new(), kernel)
                    .unwrap();
                let err = out
                    .iter()
                    .zip(&want)
                    .map(|(a, b)| (a - b).abs())
                    .fold(0f32, f32::max);
                assert!(err < 1e-4, "{kernel:?} {cin}→{cout} {h}×{w}: {err}");
            }
        }
    }
}
