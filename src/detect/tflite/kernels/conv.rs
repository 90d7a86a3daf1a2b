//! CONV_2D: NHWC input, OHWI weights, as one GEMM (im2col when the kernel is not 1x1).

use candle_core::{CpuStorage, CustomOp1, Layout, Result, Shape};
use gemm::Parallelism;
use rayon::prelude::*;

use super::sparse_pointwise::SparsePointwise;
use super::{activate, bias_or_zeros, f32_slice, geometry, nhwc};
use crate::detect::tflite::schema::{Activation, Window};

/// A convolution with its weights laid out for the GEMM: `[kh*kw*ci, co]`, row `(ky, kx, ci)`.
#[derive(Clone, Debug)]
pub struct Conv2d {
    /// Empty when `sparse` holds the weights.
    weights_kc: Vec<f32>,
    /// The same weights without their zeros, for pruned 1x1 convolutions.
    sparse: Option<SparsePointwise>,
    bias: Vec<f32>,
    kernel: (usize, usize),
    in_channels: usize,
    out_channels: usize,
    window: Window,
    activation: Activation,
}

impl Conv2d {
    /// `weights` in TFLite's OHWI order `[co, kh, kw, ci]`; `bias` of length `co` or `None`.
    pub fn new(
        weights: &[f32],
        weight_shape: &[usize],
        bias: Option<&[f32]>,
        window: Window,
        activation: Activation,
    ) -> std::result::Result<Self, String> {
        let &[co, kh, kw, ci] = weight_shape else {
            return Err(format!(
                "weights of shape {weight_shape:?}, expected [co, kh, kw, ci]"
            ));
        };
        let k = kh * kw * ci;
        if weights.len() != co * k || co == 0 || k == 0 {
            return Err(format!(
                "{} weights for shape {weight_shape:?}",
                weights.len()
            ));
        }
        let bias = bias_or_zeros(bias, co, "outputs")?;
        let sparse = (kh == 1 && kw == 1 && window.stride == (1, 1))
            .then(|| SparsePointwise::new(weights, co, ci, bias.clone(), activation))
            .flatten();
        // OHWI -> (HWI)O: each output channel becomes a column of the GEMM's right operand.
        // Not needed (and not kept) when the sparse kernel runs the convolution.
        let mut weights_kc = Vec::new();
        if sparse.is_none() {
            weights_kc = vec![0f32; k * co];
            for (o, row) in weights.chunks_exact(k).enumerate() {
                for (i, &w) in row.iter().enumerate() {
                    weights_kc[i * co + o] = w;
                }
            }
        }
        Ok(Self {
            weights_kc,
            sparse,
            bias,
            kernel: (kh, kw),
            in_channels: ci,
            out_channels: co,
            window,
            activation,
        })
    }

    /// Output `(h, w)` and leading padding `(top, left)` for an input of `h x w`.
    pub fn geometry(&self, h: usize, w: usize) -> Option<((usize, usize), (usize, usize))> {
        geometry(&self.window, self.kernel, h, w)
    }

    pub fn out_channels(&self) -> usize {
        self.out_channels
    }

    pub fn in_channels(&self) -> usize {
        self.in_channels
    }

    /// Whether the zero-skipping kernel runs this convolution.
    pub fn is_sparse(&self) -> bool {
        self.sparse.is_some()
    }

    /// `kh * kw * ci`: the length of one output's dot product.
    fn inputs_per_output(&self) -> usize {
        self.kernel.0 * self.kernel.1 * self.in_channels
    }

    fn is_pointwise(&self) -> bool {
        self.kernel == (1, 1) && self.window.stride == (1, 1)
    }

    /// The im2col matrix `[n*oh*ow, kh*kw*ci]`, zeros where the window hangs over the edge.
    fn patches(&self, x: &[f32], (n, h, w, c): (usize, usize, usize, usize)) -> Vec<f32> {
        let ((oh, ow), pad) = self.geometry(h, w).expect("checked by the caller");
        let k = self.kernel.0 * self.kernel.1 * c;
        let mut out = vec![0f32; n * oh * ow * k];
        // One output row per task: at 128x128 and up (the segmentation head) the copy is a
        // good part of the convolution's time.
        out.par_chunks_mut(ow * k)
            .enumerate()
            .for_each(|(image_row, rows)| {
                let (b, oy) = (image_row / oh, image_row % oh);
                for (ox, row) in rows.chunks_exact_mut(k).enumerate() {
                    self.patch(x, (h, w, c), pad, (b, oy, ox), row);
                }
            });
        out
    }

    /// The receptive field of output pixel `(b, oy, ox)` as `(ky, kx, ci)` values; `row` must
    /// be zero where the window hangs over the edge (it is left untouched there).
    fn patch(
        &self,
        x: &[f32],
        (h, w, c): (usize, usize, usize),
        (pt, pl): (usize, usize),
        (b, oy, ox): (usize, usize, usize),
        row: &mut [f32],
    ) {
        self.for_each_tap((h, w), (pt, pl), (b, oy, ox), |tap, pixel| {
            let (src, dst) = (pixel * c, tap * c);
            row[dst..dst + c].copy_from_slice(&x[src..src + c]);
        });
    }

    /// Calls `f(tap, pixel)` for each tap of output pixel (`oy`, `ox`) of image `b` that falls
    /// inside the (`h`, `w`) picture padded by (`pt`, `pl`), in (ky, kx) order: `tap` is
    /// `ky * kw + kx`, `pixel` the input pixel's index `(b * h + iy) * w + ix`. The im2col
    /// patch and the direct kernel walk the window alike.
    #[inline(always)]
    fn for_each_tap(
        &self,
        (h, w): (usize, usize),
        (pt, pl): (usize, usize),
        (b, oy, ox): (usize, usize, usize),
        mut f: impl FnMut(usize, usize),
    ) {
        let (kh, kw) = self.kernel;
        let (sh, sw) = self.window.stride;
        let (dh, dw) = self.window.dilation;
        for ky in 0..kh {
            let Some(iy) = (oy * sh + ky * dh).checked_sub(pt).filter(|&y| y < h) else {
                continue;
            };
            for kx in 0..kw {
                let Some(ix) = (ox * sw + kx * dw).checked_sub(pl).filter(|&x| x < w) else {
                    continue;
                };
                f(ky * kw + kx, (b * h + iy) * w + ix);
            }
        }
    }

    /// Few inputs per output (a first layer on RGB: 3x3x3 = 27) make im2col and a GEMM mostly
    /// copying; such convolutions run directly, one output row per task. So does a single
    /// output channel, where the GEMM is a matrix-vector product behind an im2col copy k
    /// times the output's size (the segmentation logits, 3x3x8 → 1 at 256x256: 5.7 ms that
    /// way on this machine).
    fn is_direct(&self) -> bool {
        !self.is_pointwise() && (self.inputs_per_output() <= DIRECT_MAX_K || self.out_channels == 1)
    }

    fn run_direct(
        &self,
        x: &[f32],
        (n, h, w, c): (usize, usize, usize, usize),
        (oh, ow): (usize, usize),
    ) -> Vec<f32> {
        let co = self.out_channels;
        let (_, pad) = self.geometry(h, w).expect("checked by the caller");
        let mut out = vec![0f32; n * oh * ow * co];
        out.par_chunks_mut(ow * co)
            .enumerate()
            .for_each(|(row_index, out_row)| {
                let at = (row_index / oh, row_index % oh);
                #[cfg(target_arch = "x86_64")]
                if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
                    // SAFETY: the CPU was just checked to have AVX2 and FMA.
                    unsafe { self.direct_row_avx2(x, (h, w, c), pad, at, out_row) };
                    return activate(out_row, self.activation);
                }
                self.direct_row::<false>(x, (h, w, c), pad, at, out_row);
                activate(out_row, self.activation);
            });
        out
    }

    /// [`Self::direct_row`] compiled for AVX2 and FMA. The CPU check and the call happen
    /// once per row, not per pixel: at 256x256 with one output channel the per-pixel call
    /// cost as much as the arithmetic.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    fn direct_row_avx2(
        &self,
        x: &[f32],
        dims: (usize, usize, usize),
        pad: (usize, usize),
        at: (usize, usize),
        out_row: &mut [f32],
    ) {
        self.direct_row::<true>(x, dims, pad, at, out_row)
    }

    /// Output row `oy` of image `b`, before the activation.
    #[inline(always)]
    fn direct_row<const FMA: bool>(
        &self,
        x: &[f32],
        (h, w, c): (usize, usize, usize),
        (pt, pl): (usize, usize),
        (b, oy): (usize, usize),
        out_row: &mut [f32],
    ) {
        let (kh, kw) = self.kernel;
        // (input offset, first weight row) of each tap inside the picture.
        let mut taps = Vec::with_capacity(kh * kw);
        for (ox, px) in out_row.chunks_exact_mut(self.out_channels).enumerate() {
            taps.clear();
            self.for_each_tap((h, w), (pt, pl), (b, oy, ox), |tap, pixel| {
                taps.push((pixel * c, tap * c))
            });
            self.pixel_direct_body::<FMA>(x, &taps, c, px);
        }
    }

    /// `out[o] = bias[o] + sum over taps and input channels of x * W`. The usual small output
    /// counts get a fixed-size body whose sums all stay in registers, so each input value is
    /// loaded and broadcast once; other counts go 8 outputs at a time.
    #[inline(always)]
    fn pixel_direct_body<const FMA: bool>(
        &self,
        x: &[f32],
        taps: &[(usize, usize)],
        c: usize,
        out: &mut [f32],
    ) {
        match out.len() {
            1 => self.pixel_one_output::<FMA>(x, taps, c, out),
            8 => self.pixel_all_outputs::<FMA, 8>(x, taps, c, out),
            16 => self.pixel_all_outputs::<FMA, 16>(x, taps, c, out),
            24 => self.pixel_all_outputs::<FMA, 24>(x, taps, c, out),
            32 => self.pixel_all_outputs::<FMA, 32>(x, taps, c, out),
            _ => self.pixel_by_blocks::<FMA>(x, taps, c, out),
        }
    }

    #[inline(always)]
    fn pixel_all_outputs<const FMA: bool, const N: usize>(
        &self,
        x: &[f32],
        taps: &[(usize, usize)],
        c: usize,
        out: &mut [f32],
    ) {
        let mut sum: [f32; N] = self.bias[..N].try_into().expect("N outputs");
        for &(xo, ko) in taps {
            let ws = &self.weights_kc[ko * N..(ko + c) * N];
            for (&p, w) in x[xo..xo + c].iter().zip(ws.chunks_exact(N)) {
                let w: &[f32; N] = w.try_into().expect("N outputs");
                for i in 0..N {
                    sum[i] = if FMA {
                        p.mul_add(w[i], sum[i])
                    } else {
                        sum[i] + p * w[i]
                    };
                }
            }
        }
        out.copy_from_slice(&sum);
    }

    /// One output channel: a dot product over taps and input channels, 8 input channels at
    /// a time in 8 independent sums (vector lanes), added up at the end.
    #[inline(always)]
    fn pixel_one_output<const FMA: bool>(
        &self,
        x: &[f32],
        taps: &[(usize, usize)],
        c: usize,
        out: &mut [f32],
    ) {
        let mut lanes = [0f32; 8];
        let mut rest = self.bias[0];
        for &(xo, ko) in taps {
            // With one output the weight matrix `[k, 1]` is the taps' weights in a row.
            let (xs, ws) = (&x[xo..xo + c], &self.weights_kc[ko..ko + c]);
            let (xv, wv) = (xs.chunks_exact(8), ws.chunks_exact(8));
            for (&a, &b) in xv.remainder().iter().zip(wv.remainder()) {
                rest += a * b;
            }
            for (xv, wv) in xv.zip(wv) {
                for i in 0..8 {
                    lanes[i] = if FMA {
                        xv[i].mul_add(wv[i], lanes[i])
                    } else {
                        lanes[i] + xv[i] * wv[i]
                    };
                }
            }
        }
        out[0] = rest + lanes.iter().sum::<f32>();
    }

    #[inline(always)]
    fn pixel_by_blocks<const FMA: bool>(
        &self,
        x: &[f32],
        taps: &[(usize, usize)],
        c: usize,
        out: &mut [f32],
    ) {
        let co = self.out_channels;
        let mut o0 = 0;
        while o0 + 8 <= co {
            let mut sum: [f32; 8] = self.bias[o0..o0 + 8].try_into().expect("8 outputs");
            for &(xo, ko) in taps {
                for (ci, &p) in x[xo..xo + c].iter().enumerate() {
                    let ws: &[f32; 8] = self.weights_kc[(ko + ci) * co + o0..][..8]
                        .try_into()
                        .expect("8 outputs");
                    for i in 0..8 {
                        sum[i] = if FMA {
                            p.mul_add(ws[i], sum[i])
                        } else {
                            sum[i] + p * ws[i]
                        };
                    }
                }
            }
            out[o0..o0 + 8].copy_from_slice(&sum);
            o0 += 8;
        }
        for (o, slot) in out.iter_mut().enumerate().skip(o0) {
            let mut sum = self.bias[o];
            for &(xo, ko) in taps {
                for (ci, &p) in x[xo..xo + c].iter().enumerate() {
                    sum += p * self.weights_kc[(ko + ci) * co + o];
                }
            }
            *slot = sum;
        }
    }
}

/// Largest `kh * kw * ci` computed by [`Conv2d::is_direct`]'s direct loop.
const DIRECT_MAX_K: usize = 64;

/// `dst[m, co] += lhs[m, k] * rhs[k, co]`, all row-major and contiguous.
fn gemm_accumulate(dst: &mut [f32], lhs: &[f32], rhs: &[f32], m: usize, k: usize, co: usize) {
    assert!(dst.len() == m * co && lhs.len() == m * k && rhs.len() == k * co);
    // Small products lose more to thread hand-off than they gain.
    let parallelism = if m * k * co >= 1 << 18 {
        Parallelism::Rayon(candle_core::utils::get_num_threads())
    } else {
        Parallelism::None
    };
    // SAFETY: the three slices have exactly the sizes the strides below address (asserted
    // above), the destination is exclusively borrowed, and none of them overlap.
    unsafe {
        gemm::gemm(
            m,
            co,
            k,
            dst.as_mut_ptr(),
            1,
            co as isize,
            true,
            lhs.as_ptr(),
            1,
            k as isize,
            rhs.as_ptr(),
            1,
            co as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        )
    }
}

impl CustomOp1 for Conv2d {
    fn name(&self) -> &'static str {
        "tflite-conv2d"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let (n, h, w, c) = nhwc(l, self.name())?;
        let x = f32_slice(s, l, self.name())?;
        if c != self.in_channels {
            candle_core::bail!(
                "conv2d: input has {c} channels, weights expect {}",
                self.in_channels
            );
        }
        let Some(((oh, ow), _)) = self.geometry(h, w) else {
            candle_core::bail!("conv2d: a {h}x{w} input is smaller than the kernel");
        };
        let (m, co) = (n * oh * ow, self.out_channels);
        if let Some(sparse) = &self.sparse {
            let out = sparse.run(x, m);
            return Ok((CpuStorage::F32(out), Shape::from((n, oh, ow, co))));
        }
        if self.is_direct() {
            let out = self.run_direct(x, (n, h, w, c), (oh, ow));
            return Ok((CpuStorage::F32(out), Shape::from((n, oh, ow, co))));
        }
        let k = self.inputs_per_output();
        let mut out: Vec<f32> = Vec::with_capacity(m * co);
        for _ in 0..m {
            out.extend_from_slice(&self.bias);
        }
        if self.is_pointwise() {
            gemm_accumulate(&mut out, x, &self.weights_kc, m, k, co);
        } else {
            let patches = self.patches(x, (n, h, w, c));
            gemm_accumulate(&mut out, &patches, &self.weights_kc, m, k, co);
        }
        activate(&mut out, self.activation);
        Ok((CpuStorage::F32(out), Shape::from((n, oh, ow, co))))
    }
}
