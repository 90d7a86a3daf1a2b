//! Direct convolutions on the CPU with no im2col and no tap planes: the inference path of
//! [`crate::model::layers::ShiftConv`] and [`crate::model::layers::UpConv`], and the forward and
//! input-gradient passes of [`super::train`].
//!
//! A convolution over a (zero- or reflection-) padded input is a sum over *taps*: each tap
//! `(dy, dx)` reads the input shifted by `dy` rows and `dx` columns. With the input stored
//! channel-major with row width `wp`, the im2col row for (channel, tap) at output row `y`,
//! columns `x0..x0+n` is a contiguous run of the input itself, `x[c][(y+dy)·wp + x0+dx ..]`.
//! So the micro-kernel loads the "B matrix" straight from the input (no packing, no k²-times
//! larger copy) and only the weights are packed, once per layer, in blocks of as many output
//! channels as a tile has rows; bias added in the epilogue, results stored straight into the
//! unpadded output.
//!
//! The matrix-product form this replaces wrote `cout·k²` full planes and read them back in a
//! tap sum: for a 64-channel 256×256 layer that is 150 MB of traffic per pass, more than the
//! arithmetic costs. A transposed convolution (stride 2) is four such tap convolutions, one
//! per output phase, interleaved ([`PackedUp`]).
//!
//! One driver ([`tap_conv`]: bands, channel blocks, row chunks, threads) calls one register
//! tile per instruction set behind one interface ([`Tile`] in, a block of output rows out),
//! hand-written per set because the register files differ enough that each wants its own
//! tile shape: [`avx512`] 8 × 32 (32 registers of 16), [`avx2`] 6 × 16 (16 registers of 8),
//! [`neon`] 8 × 12 (32 registers of 4), [`portable`] 8 × 32 plain Rust. Weights are packed
//! for one set's blocks ([`PackedTaps::new`]); the set is [`crate::ops::simd::isa`]'s choice
//! (`MARIONETTE_SIMD` forces one).

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod avx512;
#[cfg(target_arch = "aarch64")]
mod neon;
mod portable;
#[cfg(test)]
pub(super) mod tests;
mod up;

pub use crate::ops::simd::Isa;
pub use up::PackedUp;

use rayon::prelude::*;

/// Output channels per block of packed weights and per tile (AVX-512, NEON, portable).
const MR: usize = 8;
/// Output columns of the AVX-512 and portable tiles (two 16-lane vectors).
const NR: usize = 32;
/// Output channels per block and tile of AVX2 (see [`avx2`] for why 6 × 16).
const AVX2_MR: usize = 6;
/// Output columns of the AVX2 tile (two 8-lane vectors), and of its narrow tile (three).
const AVX2_NR: usize = 16;
const AVX2_NARROW_NR: usize = 24;
/// Output columns of the NEON tile (three 4-lane vectors).
const NEON_NR: usize = 12;
/// Past this many rows of the implicit im2col matrix (e.g. 3×3 over more than 128 channels) one
/// block of packed weights no longer stays in L1 across a band of tiles, so the rows are taken
/// in chunks of [`KC`]: each tile's input runs for a chunk (≤ 32 KB) stay in L1 while every
/// block of output channels reads them, and the chunk's weights for all channels (≤ 512 KB at
/// 512 channels) stay in L2. Below it, each weight block stays in L1 and the band's input in
/// L2, which measured faster (`bench --model conv`: 64→64 at 256², 182 vs 150 GFLOP/s).
const CHUNKED_FROM: usize = 1200;
/// Output channels of the narrow tiles (AVX-512 4 × 64, AVX2 3 × 24) for layers with few
/// outputs.
const NARROW_MR: usize = 4;
const AVX2_NARROW_MR: usize = 3;
const KC: usize = 256;

/// One row of the implicit im2col matrix: input channel `chan` shifted by `(dy, dx)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Row {
    pub chan: usize,
    pub dy: usize,
    pub dx: usize,
}

/// Weights packed for the kernel of one instruction set: for each block of `mr` output
/// channels (`block_rows`), for each row, the `mr` weights of that row (zero past `cout`).
#[derive(Clone, Debug)]
pub struct PackedTaps {
    /// The instruction set whose tiles the blocks are sized for.
    isa: Isa,
    mr: usize,
    cout: usize,
    /// Input channels the rows read (`chan < channels`).
    channels: usize,
    rows: Vec<Row>,
    data: Vec<f32>,
}

impl PackedTaps {
    /// Packs `weight(co, r)` for `co < cout` and each row `r` of `rows`, for the tiles of
    /// `isa`.
    pub fn new(
        cout: usize,
        channels: usize,
        rows: Vec<Row>,
        weight: impl Fn(usize, usize) -> f32,
        isa: Isa,
    ) -> Self {
        let mr = block_rows(isa);
        let nr = rows.len();
        let blocks = cout.div_ceil(mr);
        let mut data = vec![0f32; blocks * nr * mr];
        for cb in 0..blocks {
            for r in 0..nr {
                let base = (cb * nr + r) * mr;
                for m in 0..mr.min(cout - cb * mr) {
                    data[base + m] = weight(cb * mr + m, r);
                }
            }
        }
        Self {
            isa,
            mr,
            cout,
            channels,
            rows,
            data,
        }
    }

    /// A stride-1 `Conv2d` weight `(cout, cin, k, k)`, given flat: rows (channel, ky, kx).
    pub fn conv(w: &[f32], cout: usize, cin: usize, k: usize, isa: Isa) -> Self {
        let rows = (0..cin * k * k)
            .map(|i| Row {
                chan: i / (k * k),
                dy: i / k % k,
                dx: i % k,
            })
            .collect();
        Self::new(cout, cin, rows, |co, r| w[co * cin * k * k + r], isa)
    }

    /// A stride-2 `Conv2d` weight `(cout, cin, k, k)` over the input split into its four
    /// phases (see [`split_phases`]): tap (ky, kx) of channel c reads phase plane
    /// `4c + 2·(ky mod 2) + (kx mod 2)` shifted by `(ky div 2, kx div 2)`.
    pub fn conv_stride2(w: &[f32], cout: usize, cin: usize, k: usize, isa: Isa) -> Self {
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
        Self::new(cout, 4 * cin, rows, |co, r| w[co * cin * k * k + r], isa)
    }

    pub fn cout(&self) -> usize {
        self.cout
    }

    /// Input channels the rows read.
    pub fn channels(&self) -> usize {
        self.channels
    }

    /// The instruction set the weights are packed for.
    pub fn isa(&self) -> Isa {
        self.isa
    }

    fn block(&self, cb: usize) -> &[f32] {
        let len = self.rows.len() * self.mr;
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

/// Whether the layers take the direct kernels (else they keep their matrix-product path,
/// faster than the portable tile): a SIMD tile for this CPU, and not `MARIONETTE_TAP_CONV=0`
/// (the matrix-product path, to compare) or `MARIONETTE_SIMD=portable`.
pub fn available() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| {
        crate::ops::simd::isa() != Isa::Portable
            && std::env::var("MARIONETTE_TAP_CONV").map_or(true, |v| v != "0")
    })
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

/// Output channels per block of packed weights for the tiles of `isa`.
fn block_rows(isa: Isa) -> usize {
    match isa {
        Isa::Avx2 => AVX2_MR,
        Isa::Avx512 | Isa::Neon | Isa::Portable => MR,
    }
}

/// Output columns per tile of `isa` (the step along an output row).
fn columns(isa: Isa, narrow: bool) -> usize {
    match isa {
        Isa::Avx512 if narrow => 2 * NR,
        Isa::Avx2 if narrow => AVX2_NARROW_NR,
        Isa::Avx2 => AVX2_NR,
        Isa::Neon => NEON_NR,
        Isa::Avx512 | Isa::Portable => NR,
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
    isa: Isa,
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
    if !isa.supported() {
        return Err(format!(
            "the {} kernel does not run on this CPU",
            isa.label()
        ));
    }
    if w.isa != isa {
        return Err(format!(
            "weights packed for {}, not {}",
            w.isa.label(),
            isa.label()
        ));
    }
    let mr = w.mr;
    let plane = g.hp * g.wp;
    let roff: Vec<usize> = w
        .rows
        .iter()
        .map(|r| r.chan * plane + r.dy * g.wp + r.dx)
        .collect();
    // Bands of output rows whose input rows (all channels) stay within about half of L2, so
    // the band is read from cache once per block of output channels; split the channel
    // blocks too when there are too few bands to keep every thread busy.
    let blocks = w.cout.div_ceil(mr);
    let row_bytes = w.channels * g.wp * 4;
    let band = (512 * 1024 / row_bytes.max(1)).clamp(1, g.ho.max(1));
    let bands = g.ho.div_ceil(band);
    let want = 4 * rayon::current_num_threads();
    let groups = want.div_ceil(bands).clamp(1, blocks);
    let per_group = blocks.div_ceil(groups);
    let out_ptr = OutPtr(out.as_mut_ptr());
    let nrows_k = roff.len();
    // Layers with at most 4 output channels (an RGB output, flow and mask heads) take the
    // AVX-512 4 × 64 tile: the 8 × 32 tile would spend over half its multiply-adds on zero
    // weights. Likewise AVX2's 3 × 24 for at most 3.
    let narrow = match isa {
        Isa::Avx512 => w.cout <= NARROW_MR,
        Isa::Avx2 => w.cout <= AVX2_NARROW_MR,
        _ => false,
    };
    let step = columns(isa, narrow);
    // One tile (a block of up to `mr` output channels × `step` columns) over rows `ks` of the
    // implicit im2col matrix. Sound because (cb, y) pairs are disjoint across work items and
    // a tile reads and writes only out[co0..co0+nrows][y][x0..x0+ncols] (the tiles' safety
    // condition), and the tile of `isa` runs on this CPU (checked above).
    let run_tile = |cb: usize, y: usize, x0: usize, ks: std::ops::Range<usize>| {
        let a = &w.block(cb)[ks.start * mr..ks.end * mr];
        let co0 = cb * mr;
        let nrows = mr.min(w.cout - co0);
        let tile = Tile {
            x: &x[y * g.wp + x0..],
            roff: &roff[ks.clone()],
            bias: &bias[co0..co0 + nrows],
            ncols: step.min(g.wo - x0),
            accumulate: ks.start > 0,
        };
        let o = out_ptr.at(co0 * g.ho * g.wo + y * g.wo + x0);
        let ostride = g.ho * g.wo;
        match isa {
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 if narrow => unsafe { avx512::tile_narrow(a, &tile, o, ostride) },
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => unsafe { avx512::tile(a, &tile, o, ostride) },
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 if narrow => unsafe { avx2::tile_narrow(a, &tile, o, ostride) },
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => unsafe { avx2::tile(a, &tile, o, ostride) },
            #[cfg(target_arch = "aarch64")]
            Isa::Neon => unsafe { neon::tile(a, &tile, o, ostride) },
            _ => unsafe { portable::tile(a, &tile, o, ostride) },
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
    /// One value per stored output channel (≤ the block's rows).
    bias: &'a [f32],
    /// Output columns to compute (≤ the tile's width, [`columns`]).
    ncols: usize,
    /// Add to the partial sums already in the output (later row chunks) instead of the bias.
    accumulate: bool,
}
