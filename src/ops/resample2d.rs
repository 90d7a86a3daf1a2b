//! `resample2d(input, flow, K, dilation, σ)`: Gaussian-weighted sampling used by GFLA's
//! sampling-correctness loss (spec §6.3). Not bilinear: for K=4 it is a normalised Gaussian
//! average over the 4×4 pixels around the flowed position.

use candle_core::{CpuStorage, CustomOp2, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

/// Parameters of the op; the loss uses `K = 4, dilation = 1, sigma = 2`.
#[derive(Clone, Copy, Debug)]
pub struct Resample2d {
    pub kernel_size: usize,
    pub dilation: usize,
    pub sigma: f32,
}

impl Default for Resample2d {
    fn default() -> Self {
        Self {
            kernel_size: 4,
            dilation: 1,
            sigma: 2.0,
        }
    }
}

impl Resample2d {
    /// Value at one output pixel of one channel plane `s` (hi × wi), flowed position (px, py).
    fn sample(&self, s: &[f32], hi: usize, wi: usize, px: f32, py: f32) -> f32 {
        let (x0f, y0f) = (px.floor(), py.floor());
        let (alpha, beta) = (px - x0f, py - y0f);
        let (x0, y0) = (x0f as i64, y0f as i64);
        let d = self.dilation as i64;
        let df = self.dilation as f32;
        let two_s2 = 2.0 * self.sigma * self.sigma;
        let g = |dist: f32| (-(dist * dist) / two_s2).exp();
        let at = |r: i64, c: i64| {
            let r = r.clamp(0, hi as i64 - 1) as usize;
            let c = c.clamp(0, wi as i64 - 1) as usize;
            s[r * wi + c]
        };
        let (mut num, mut den) = (0f32, 0f32);
        for fy in 0..(self.kernel_size / 2) as i64 {
            let rows = [
                (y0 - fy * d, fy as f32 * df + beta),
                (y0 + (fy + 1) * d, (fy + 1) as f32 * df - beta),
            ];
            for fx in 0..(self.kernel_size / 2) as i64 {
                let cols = [
                    (x0 - fx * d, fx as f32 * df + alpha),
                    (x0 + (fx + 1) * d, (fx + 1) as f32 * df - alpha),
                ];
                for &(r, dy) in &rows {
                    for &(c, dx) in &cols {
                        let w = g(dy) * g(dx);
                        num += w * at(r, c);
                        den += w;
                    }
                }
            }
        }
        // The reference kernel divides by 1e-8 when every weight underflowed.
        num / if den == 0.0 { 1e-8 } else { den }
    }
}

/// (B, C, Hi, Wi, H, W) of an input and a flow that fit together.
fn dims(input: &Shape, flow: &Shape) -> Result<(usize, usize, usize, usize, usize, usize)> {
    let (b, c, hi, wi) = input.dims4()?;
    let (bf, two, h, w) = flow.dims4()?;
    if bf != b || two != 2 || hi == 0 || wi == 0 {
        candle_core::bail!("resample2d: input {input:?} and flow {flow:?} do not fit");
    }
    Ok((b, c, hi, wi, h, w))
}

impl CustomOp2 for Resample2d {
    fn name(&self) -> &'static str {
        "resample2d"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (b, c, hi, wi, h, w) = dims(l1.shape(), l2.shape())?;
        let input = super::f32_slice(s1, l1, self.name())?;
        let flow = super::f32_slice(s2, l2, self.name())?;
        let plane = h * w;
        let mut out = vec![0f32; b * c * plane];
        out.par_chunks_mut(plane).enumerate().for_each(|(bc, o)| {
            let bi = bc / c;
            let s = &input[bc * hi * wi..(bc + 1) * hi * wi];
            let f = &flow[bi * 2 * plane..(bi + 1) * 2 * plane];
            for y in 0..h {
                for x in 0..w {
                    let p = y * w + x;
                    o[p] = self.sample(s, hi, wi, x as f32 + f[p], y as f32 + f[plane + p]);
                }
            }
        });
        Ok((CpuStorage::F32(out), Shape::from((b, c, h, w))))
    }

    #[cfg(feature = "cuda")]
    fn cuda_fwd(
        &self,
        s1: &candle_core::CudaStorage,
        l1: &Layout,
        s2: &candle_core::CudaStorage,
        l2: &Layout,
    ) -> Result<(candle_core::CudaStorage, Shape)> {
        use super::cuda;
        let (b, c, hi, wi, h, w) = dims(l1.shape(), l2.shape())?;
        let n = b * c * h * w;
        let call = cuda::Call {
            module: &cuda::RESAMPLE2D,
            kernel: "resample2d_fwd",
            inputs: &[(s1, l1), (s2, l2)],
            ints: &[b, c, hi, wi, h, w, self.kernel_size, self.dilation],
            floats: &[self.sigma],
        };
        let out = call.run(n, false, cuda::grid_1d(n)?)?;
        Ok((out, Shape::from((b, c, h, w))))
    }
}

/// `resample2d(input (B,C,Hi,Wi), flow (B,2,H,W)) -> (B,C,H,W)` (forward only: the loss never
/// needs gradients into the frozen features it samples).
pub fn resample2d(input: &Tensor, flow: &Tensor, params: Resample2d) -> Result<Tensor> {
    let _p = super::profile::scope("sampling");
    input
        .contiguous()?
        .apply_op2_no_bwd(&flow.contiguous()?, &params)
}
