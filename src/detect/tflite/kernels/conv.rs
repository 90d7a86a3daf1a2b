//! CONV_2D: NHWC input, OHWI weights, as one GEMM (im2col when the kernel is not 1x1).

use candle_core::{CpuStorage, CustomOp1, Layout, Result, Shape};
use gemm::Parallelism;

use super::sparse_pointwise::SparsePointwise;
use super::{activate, f32_slice, nhwc, out_size};
use crate::detect::tflite::schema::{Activation, Window};

/// A convolution with its weights laid out for the GEMM: `[kh*kw*ci, co]`, row `(ky, kx, ci)`.
#[derive(Clone, Debug)]
pub struct Conv2d {
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
        let bias = match bias {
            Some(b) if b.len() == co => b.to_vec(),
            Some(b) => return Err(format!("bias of length {} for {co} outputs", b.len())),
            None => vec![0.0; co],
        };
        // OHWI -> (HWI)O: each output channel becomes a column of the GEMM's right operand.
        let mut weights_kc = vec![0f32; k * co];
        for (o, row) in weights.chunks_exact(k).enumerate() {
            for (i, &w) in row.iter().enumerate() {
                weights_kc[i * co + o] = w;
            }
        }
        let sparse = (kh == 1 && kw == 1 && window.stride == (1, 1))
            .then(|| SparsePointwise::new(weights, co, ci, bias.clone(), activation))
            .flatten();
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
        let Window {
            padding,
            stride,
            dilation,
        } = self.window;
        let (oh, pt) = out_size(h, self.kernel.0, stride.0, dilation.0, padding)?;
        let (ow, pl) = out_size(w, self.kernel.1, stride.1, dilation.1, padding)?;
        Some(((oh, ow), (pt, pl)))
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

    fn is_pointwise(&self) -> bool {
        self.kernel == (1, 1) && self.window.stride == (1, 1)
    }

    /// The im2col matrix `[n*oh*ow, kh*kw*ci]`, zeros where the window hangs over the edge.
    fn patches(&self, x: &[f32], (n, h, w, c): (usize, usize, usize, usize)) -> Vec<f32> {
        let ((oh, ow), (pt, pl)) = self.geometry(h, w).expect("checked by the caller");
        let (kh, kw) = self.kernel;
        let (sh, sw) = self.window.stride;
        let (dh, dw) = self.window.dilation;
        let k = kh * kw * c;
        let mut out = vec![0f32; n * oh * ow * k];
        for (row_index, row) in out.chunks_exact_mut(k).enumerate() {
            let (b, oy, ox) = (row_index / (oh * ow), (row_index / ow) % oh, row_index % ow);
            for ky in 0..kh {
                let Some(iy) = (oy * sh + ky * dh).checked_sub(pt).filter(|&y| y < h) else {
                    continue;
                };
                for kx in 0..kw {
                    let Some(ix) = (ox * sw + kx * dw).checked_sub(pl).filter(|&x| x < w) else {
                        continue;
                    };
                    let src = ((b * h + iy) * w + ix) * c;
                    let dst = (ky * kw + kx) * c;
                    row[dst..dst + c].copy_from_slice(&x[src..src + c]);
                }
            }
        }
        out
    }
}

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
        let k = self.weights_kc.len() / co;
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
