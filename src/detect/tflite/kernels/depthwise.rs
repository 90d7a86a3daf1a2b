//! DEPTHWISE_CONV_2D (depth multiplier 1): a direct NHWC loop, vectorised over channels.

use candle_core::{CpuStorage, CustomOp1, Layout, Result, Shape};
use rayon::prelude::*;

use super::{activate, bias_or_zeros, f32_slice, geometry, nhwc};
use crate::detect::tflite::schema::{Activation, Window};

/// Channels summed together in registers (two AVX vectors).
const LANES: usize = 16;

#[derive(Clone, Debug)]
pub struct Depthwise {
    /// `[kh, kw, c]`, TFLite's layout without its leading 1.
    weights: Vec<f32>,
    bias: Vec<f32>,
    kernel: (usize, usize),
    window: Window,
    activation: Activation,
}

/// Everything one output row needs, so the SIMD and plain variants share one body.
struct RowJob<'a> {
    x: &'a [f32],
    dims: (usize, usize, usize),
    batch: usize,
    oy: usize,
    pad: (usize, usize),
    /// For stride 1: each tap's weights repeated across the output row (`[kh*kw][ow*c]`), so a
    /// tap is one contiguous multiply-add over the whole row, whatever the channel count.
    tiles: Option<&'a [f32]>,
}

impl Depthwise {
    /// `weights` of shape `[1, kh, kw, c]`; `bias` of length `c` or `None`.
    pub fn new(
        weights: &[f32],
        weight_shape: &[usize],
        bias: Option<&[f32]>,
        window: Window,
        activation: Activation,
    ) -> std::result::Result<Self, String> {
        let &[1, kh, kw, c] = weight_shape else {
            return Err(format!(
                "weights of shape {weight_shape:?}, expected [1, kh, kw, c]"
            ));
        };
        if weights.len() != kh * kw * c || c == 0 {
            return Err(format!(
                "{} weights for shape {weight_shape:?}",
                weights.len()
            ));
        }
        let bias = bias_or_zeros(bias, c, "channels")?;
        Ok(Self {
            weights: weights.to_vec(),
            bias,
            kernel: (kh, kw),
            window,
            activation,
        })
    }

    pub fn channels(&self) -> usize {
        self.bias.len()
    }

    /// Output `(h, w)` and leading padding `(top, left)` for an input of `h x w`.
    pub fn geometry(&self, h: usize, w: usize) -> Option<((usize, usize), (usize, usize))> {
        geometry(&self.window, self.kernel, h, w)
    }

    fn is_unit_stride(&self) -> bool {
        self.window.stride == (1, 1) && self.window.dilation == (1, 1)
    }

    /// The weight tiles of [`RowJob::tiles`] for an output row of `ow` pixels.
    fn tiles(&self, ow: usize) -> Vec<f32> {
        let c = self.channels();
        let mut tiles = Vec::with_capacity(self.weights.len() * ow);
        for tap in self.weights.chunks_exact(c) {
            for _ in 0..ow {
                tiles.extend_from_slice(tap);
            }
        }
        tiles
    }

    /// One output row with stride 1: for each tap, the valid span of the input row times
    /// that tap's tile, added to the output row in one pass.
    #[inline(always)]
    fn row_unit_stride<const FMA: bool>(&self, job: &RowJob, tiles: &[f32], out: &mut [f32]) {
        let (h, w, c) = job.dims;
        let (kh, kw) = self.kernel;
        let ow = out.len() / c;
        for acc in out.chunks_exact_mut(c) {
            acc.copy_from_slice(&self.bias);
        }
        for ky in 0..kh {
            let Some(iy) = (job.oy + ky).checked_sub(job.pad.0).filter(|&y| y < h) else {
                continue;
            };
            let in_row = &job.x[(job.batch * h + iy) * w * c..][..w * c];
            for kx in 0..kw {
                // Output pixel ox reads input pixel ox + kx - pad.
                let ox0 = job.pad.1.saturating_sub(kx);
                let ox1 = ow.min((w + job.pad.1).saturating_sub(kx));
                if ox0 >= ox1 {
                    continue;
                }
                let ix0 = ox0 + kx - job.pad.1;
                let span = (ox1 - ox0) * c;
                let tile = &tiles[(ky * kw + kx) * ow * c..][ox0 * c..][..span];
                let xs = &in_row[ix0 * c..][..span];
                let dst = &mut out[ox0 * c..][..span];
                for ((a, &xv), &wv) in dst.iter_mut().zip(xs).zip(tile) {
                    *a = if FMA {
                        xv.mul_add(wv, *a)
                    } else {
                        *a + xv * wv
                    };
                }
            }
        }
        activate(out, self.activation);
    }

    /// One output row: `out[ox, c] = bias[c] + sum over taps of x[iy, ix, c] * w[ky, kx, c]`.
    /// Inlined into both callers so that each is compiled for its own instruction set.
    #[inline(always)]
    fn row<const FMA: bool>(&self, job: &RowJob, out: &mut [f32]) {
        if let Some(tiles) = job.tiles {
            return self.row_unit_stride::<FMA>(job, tiles, out);
        }
        let (h, w, c) = job.dims;
        let (kh, kw) = self.kernel;
        let (sh, sw) = self.window.stride;
        let (dh, dw) = self.window.dilation;
        // (input offset, weight offset) of each tap inside the picture, per output pixel.
        let mut taps: Vec<(usize, usize)> = Vec::with_capacity(kh * kw);
        for (ox, acc) in out.chunks_exact_mut(c).enumerate() {
            taps.clear();
            for ky in 0..kh {
                let Some(iy) = (job.oy * sh + ky * dh)
                    .checked_sub(job.pad.0)
                    .filter(|&y| y < h)
                else {
                    continue;
                };
                for kx in 0..kw {
                    let Some(ix) = (ox * sw + kx * dw)
                        .checked_sub(job.pad.1)
                        .filter(|&x| x < w)
                    else {
                        continue;
                    };
                    taps.push((((job.batch * h + iy) * w + ix) * c, (ky * kw + kx) * c));
                }
            }
            // Channels in blocks of LANES (then 8): a block's sums stay in registers over all taps.
            let mut c0 = 0;
            while c0 + LANES <= c {
                self.channel_block::<FMA, LANES>(job.x, &taps, c0, &mut acc[c0..c0 + LANES]);
                c0 += LANES;
            }
            if c0 + 8 <= c {
                self.channel_block::<FMA, 8>(job.x, &taps, c0, &mut acc[c0..c0 + 8]);
                c0 += 8;
            }
            for (ch, slot) in acc.iter_mut().enumerate().skip(c0) {
                let mut sum = self.bias[ch];
                for &(xo, wo) in &taps {
                    let (xv, wv) = (job.x[xo + ch], self.weights[wo + ch]);
                    sum = if FMA {
                        xv.mul_add(wv, sum)
                    } else {
                        sum + xv * wv
                    };
                }
                *slot = sum;
            }
        }
        activate(out, self.activation);
    }

    /// `out[i] = bias[c0 + i] + sum over taps of x[xo + c0 + i] * w[wo + c0 + i]`, `i < N`.
    #[inline(always)]
    fn channel_block<const FMA: bool, const N: usize>(
        &self,
        x: &[f32],
        taps: &[(usize, usize)],
        c0: usize,
        out: &mut [f32],
    ) {
        let mut sum: [f32; N] = self.bias[c0..c0 + N].try_into().expect("N channels");
        for &(xo, wo) in taps {
            let xs: &[f32; N] = x[xo + c0..][..N].try_into().expect("N channels");
            let ws: &[f32; N] = self.weights[wo + c0..][..N].try_into().expect("N channels");
            for i in 0..N {
                sum[i] = if FMA {
                    xs[i].mul_add(ws[i], sum[i])
                } else {
                    sum[i] + xs[i] * ws[i]
                };
            }
        }
        out.copy_from_slice(&sum);
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    fn row_avx2(&self, job: &RowJob, out: &mut [f32]) {
        self.row::<true>(job, out)
    }

    fn run_row(&self, job: &RowJob, out: &mut [f32]) {
        #[cfg(target_arch = "x86_64")]
        if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            // SAFETY: the CPU was just checked to have AVX2 and FMA.
            return unsafe { self.row_avx2(job, out) };
        }
        self.row::<false>(job, out)
    }
}

impl CustomOp1 for Depthwise {
    fn name(&self) -> &'static str {
        "tflite-depthwise-conv2d"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let (n, h, w, c) = nhwc(l, self.name())?;
        let x = f32_slice(s, l, self.name())?;
        if c != self.channels() {
            candle_core::bail!(
                "depthwise conv: input has {c} channels, weights {}",
                self.channels()
            );
        }
        let Some(((oh, ow), pad)) = self.geometry(h, w) else {
            candle_core::bail!("depthwise conv: a {h}x{w} input is smaller than the kernel");
        };
        let mut out = vec![0f32; n * oh * ow * c];
        // Few channels leave the register blocks of `row` mostly empty: whole-row passes instead.
        let tiles = (self.is_unit_stride() && c < LANES).then(|| self.tiles(ow));
        out.par_chunks_mut(ow * c)
            .enumerate()
            .for_each(|(row_index, out_row)| {
                let job = RowJob {
                    x,
                    dims: (h, w, c),
                    batch: row_index / oh,
                    oy: row_index % oh,
                    pad,
                    tiles: tiles.as_deref(),
                };
                self.run_row(&job, out_row);
            });
        Ok((CpuStorage::F32(out), Shape::from((n, oh, ow, c))))
    }
}
