//! `block_extractor(source, flow, k)`: for every flow cell, the k×k source patch around the
//! position the flow points to, bilinearly sampled with border clamping (spec §6.1).
//!
//! Output pixel (Y, X) belongs to cell (Y div k, X div k) and patch offset
//! (Y mod k − k div 2, X mod k − k div 2); it samples the source at
//! `(flow_y + oy) + yf, (flow_x + ox) + xf` — the cell index is used directly as the source pixel
//! index. Corner indices are clamped to the image while the weights come from the unclamped
//! position, which is bilinear sampling with replicate padding.

use candle_core::{CpuStorage, CustomOp2, CustomOp3, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

/// The four bilinear taps of one output pixel: flat source indices and weights, in the
/// reference kernel's accumulation order (top-left, top-right, bottom-left, bottom-right).
#[derive(Clone, Copy, Default)]
pub(crate) struct Taps {
    pub(crate) idx: [u32; 4],
    pub(crate) w: [f32; 4],
    /// Unclamped fractional parts, needed by the flow gradient.
    fx: f32,
    fy: f32,
}

/// Geometry shared by the forward and backward kernels.
#[derive(Clone, Copy)]
pub(crate) struct Dims {
    pub(crate) b: usize,
    pub(crate) c: usize,
    pub(crate) hs: usize,
    pub(crate) ws: usize,
    pub(crate) hf: usize,
    pub(crate) wf: usize,
    pub(crate) k: usize,
}

impl Dims {
    fn out_hw(&self) -> (usize, usize) {
        (self.hf * self.k, self.wf * self.k)
    }

    pub(crate) fn from_shapes(source: &Shape, flow: &Shape, k: usize) -> Result<Self> {
        let (b, c, hs, ws) = source.dims4()?;
        let (bf, two, hf, wf) = flow.dims4()?;
        if bf != b || two != 2 {
            candle_core::bail!(
                "block_extractor: flow must be (B=2.., 2, H, W) matching source batch {b}, got {flow:?}"
            );
        }
        if k == 0 {
            candle_core::bail!("block_extractor: kernel size must be at least 1");
        }
        if hs == 0 || ws == 0 {
            candle_core::bail!("block_extractor: empty source {source:?}");
        }
        Ok(Self {
            b,
            c,
            hs,
            ws,
            hf,
            wf,
            k,
        })
    }
}

/// Taps for every output pixel of batch item `flow_b` (a (2, hf, wf) slice).
pub(crate) fn compute_taps(d: &Dims, flow_b: &[f32]) -> Vec<Taps> {
    let (ho, wo) = d.out_hw();
    let half = (d.k / 2) as f32;
    let plane = d.hf * d.wf;
    let clamp = |v: i64, hi: usize| v.clamp(0, hi as i64 - 1) as u32;
    let mut taps = vec![Taps::default(); ho * wo];
    taps.par_chunks_mut(wo).enumerate().for_each(|(yo, row)| {
        let yf = yo / d.k;
        let oy = (yo % d.k) as f32 - half;
        for (xo, t) in row.iter_mut().enumerate() {
            let xf = xo / d.k;
            let ox = (xo % d.k) as f32 - half;
            let cell = yf * d.wf + xf;
            // Same association as the kernel: (flow + offset) + cell index.
            let px = (flow_b[cell] + ox) + xf as f32;
            let py = (flow_b[plane + cell] + oy) + yf as f32;
            let x0f = px.floor();
            let y0f = py.floor();
            let fx = px - x0f;
            let fy = py - y0f;
            // `as i64` saturates (and maps NaN to 0), so hostile flows cannot index out of range.
            let (x0, y0) = (x0f as i64, y0f as i64);
            let (cx0, cx1) = (clamp(x0, d.ws), clamp(x0.saturating_add(1), d.ws));
            let (cy0, cy1) = (clamp(y0, d.hs), clamp(y0.saturating_add(1), d.hs));
            let ws = d.ws as u32;
            t.idx = [
                cy0 * ws + cx0,
                cy0 * ws + cx1,
                cy1 * ws + cx0,
                cy1 * ws + cx1,
            ];
            t.w = [
                (1.0 - fx) * (1.0 - fy),
                fx * (1.0 - fy),
                (1.0 - fx) * fy,
                fx * fy,
            ];
            t.fx = fx;
            t.fy = fy;
        }
    });
    taps
}

fn forward_cpu(d: &Dims, source: &[f32], flow: &[f32]) -> Vec<f32> {
    let (ho, wo) = d.out_hw();
    let out_plane = ho * wo;
    let src_plane = d.hs * d.ws;
    let mut out = vec![0f32; d.b * d.c * out_plane];
    for b in 0..d.b {
        let taps = compute_taps(d, &flow[b * 2 * d.hf * d.wf..(b + 1) * 2 * d.hf * d.wf]);
        let out_b = &mut out[b * d.c * out_plane..(b + 1) * d.c * out_plane];
        out_b
            .par_chunks_mut(out_plane)
            .enumerate()
            .for_each(|(c, out_c)| {
                let s = &source[(b * d.c + c) * src_plane..(b * d.c + c + 1) * src_plane];
                for (o, t) in out_c.iter_mut().zip(&taps) {
                    let mut v = t.w[0] * s[t.idx[0] as usize];
                    v += t.w[1] * s[t.idx[1] as usize];
                    v += t.w[2] * s[t.idx[2] as usize];
                    v += t.w[3] * s[t.idx[3] as usize];
                    *o = v;
                }
            });
    }
    out
}

/// Gradient w.r.t. the source: the bilinear weights scatter the output gradient back.
fn backward_source_cpu(d: &Dims, flow: &[f32], grad: &[f32]) -> Vec<f32> {
    let (ho, wo) = d.out_hw();
    let out_plane = ho * wo;
    let src_plane = d.hs * d.ws;
    let flow_plane = d.hf * d.wf;
    let mut g_src = vec![0f32; d.b * d.c * src_plane];
    for b in 0..d.b {
        let taps = compute_taps(d, &flow[b * 2 * flow_plane..(b + 1) * 2 * flow_plane]);
        let gs_b = &mut g_src[b * d.c * src_plane..(b + 1) * d.c * src_plane];
        gs_b.par_chunks_mut(src_plane)
            .enumerate()
            .for_each(|(c, gs)| {
                let g = &grad[(b * d.c + c) * out_plane..(b * d.c + c + 1) * out_plane];
                for (gv, t) in g.iter().zip(&taps) {
                    for n in 0..4 {
                        gs[t.idx[n] as usize] += t.w[n] * gv;
                    }
                }
            });
    }
    g_src
}

/// Gradient w.r.t. the flow: derivative of the bilinear interpolant (zero where both corners
/// were clamped onto the same pixel); one cell collects its k×k patch over all channels.
fn backward_flow_cpu(d: &Dims, source: &[f32], flow: &[f32], grad: &[f32]) -> Vec<f32> {
    let (ho, wo) = d.out_hw();
    let out_plane = ho * wo;
    let src_plane = d.hs * d.ws;
    let flow_plane = d.hf * d.wf;
    let mut g_flow = vec![0f32; d.b * 2 * flow_plane];
    for b in 0..d.b {
        let taps = compute_taps(d, &flow[b * 2 * flow_plane..(b + 1) * 2 * flow_plane]);
        let src_b = &source[b * d.c * src_plane..(b + 1) * d.c * src_plane];
        let grad_b = &grad[b * d.c * out_plane..(b + 1) * d.c * out_plane];
        let cells: Vec<(f32, f32)> = (0..flow_plane)
            .into_par_iter()
            .map(|cell| {
                let (yf, xf) = (cell / d.wf, cell % d.wf);
                let (mut gx, mut gy) = (0f32, 0f32);
                for i in 0..d.k {
                    for j in 0..d.k {
                        let p = (yf * d.k + i) * wo + xf * d.k + j;
                        let t = &taps[p];
                        for c in 0..d.c {
                            let s = &src_b[c * src_plane..];
                            let (s00, s01) = (s[t.idx[0] as usize], s[t.idx[1] as usize]);
                            let (s10, s11) = (s[t.idx[2] as usize], s[t.idx[3] as usize]);
                            let gv = grad_b[c * out_plane + p];
                            gx += gv * ((1.0 - t.fy) * (s01 - s00) + t.fy * (s11 - s10));
                            gy += gv * ((1.0 - t.fx) * (s10 - s00) + t.fx * (s11 - s01));
                        }
                    }
                }
                (gx, gy)
            })
            .collect();
        let gf_b = &mut g_flow[b * 2 * flow_plane..(b + 1) * 2 * flow_plane];
        for (cell, (gx, gy)) in cells.into_iter().enumerate() {
            gf_b[cell] = gx;
            gf_b[flow_plane + cell] = gy;
        }
    }
    g_flow
}

struct BlockExtractor {
    k: usize,
}

impl CustomOp2 for BlockExtractor {
    fn name(&self) -> &'static str {
        "block-extractor"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let d = Dims::from_shapes(l1.shape(), l2.shape(), self.k)?;
        let source = super::f32_slice(s1, l1, self.name())?;
        let flow = super::f32_slice(s2, l2, self.name())?;
        let out = forward_cpu(&d, source, flow);
        let (ho, wo) = d.out_hw();
        Ok((CpuStorage::F32(out), Shape::from((d.b, d.c, ho, wo))))
    }

    #[cfg(feature = "cuda")]
    fn cuda_fwd(
        &self,
        s1: &candle_core::CudaStorage,
        l1: &Layout,
        s2: &candle_core::CudaStorage,
        l2: &Layout,
    ) -> Result<(candle_core::CudaStorage, Shape)> {
        let d = Dims::from_shapes(l1.shape(), l2.shape(), self.k)?;
        let (ho, wo) = d.out_hw();
        let out = gpu::launch(&d, "block_extractor_fwd", &[(s1, l1), (s2, l2)], false)?;
        Ok((out, Shape::from((d.b, d.c, ho, wo))))
    }

    /// Both gradients come from device kernels (ops of their own, below), so training stays on
    /// the device the forward pass ran on.
    fn bwd(
        &self,
        source: &Tensor,
        flow: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let grad = grad.contiguous()?;
        let k = self.k;
        let gs = source.apply_op3_no_bwd(
            flow,
            &grad,
            &BlockExtractorGrad {
                k,
                wrt: Wrt::Source,
            },
        )?;
        let gf = source.apply_op3_no_bwd(flow, &grad, &BlockExtractorGrad { k, wrt: Wrt::Flow })?;
        Ok((Some(gs), Some(gf)))
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Wrt {
    Source,
    Flow,
}

/// The backward pass as an op of (source, flow, output gradient), one per input it
/// differentiates; the result has that input's shape.
struct BlockExtractorGrad {
    k: usize,
    wrt: Wrt,
}

impl CustomOp3 for BlockExtractorGrad {
    fn name(&self) -> &'static str {
        match self.wrt {
            Wrt::Source => "block-extractor-grad-source",
            Wrt::Flow => "block-extractor-grad-flow",
        }
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let d = Dims::from_shapes(l1.shape(), l2.shape(), self.k)?;
        let flow = super::f32_slice(s2, l2, self.name())?;
        let grad = super::f32_slice(s3, l3, self.name())?;
        Ok(match self.wrt {
            Wrt::Source => (
                CpuStorage::F32(backward_source_cpu(&d, flow, grad)),
                l1.shape().clone(),
            ),
            Wrt::Flow => {
                let source = super::f32_slice(s1, l1, self.name())?;
                let g = backward_flow_cpu(&d, source, flow, grad);
                (CpuStorage::F32(g), l2.shape().clone())
            }
        })
    }

    #[cfg(feature = "cuda")]
    fn cuda_fwd(
        &self,
        s1: &candle_core::CudaStorage,
        l1: &Layout,
        s2: &candle_core::CudaStorage,
        l2: &Layout,
        s3: &candle_core::CudaStorage,
        l3: &Layout,
    ) -> Result<(candle_core::CudaStorage, Shape)> {
        let d = Dims::from_shapes(l1.shape(), l2.shape(), self.k)?;
        Ok(match self.wrt {
            Wrt::Source => (
                gpu::launch(
                    &d,
                    "block_extractor_bwd_source",
                    &[(s2, l2), (s3, l3)],
                    true,
                )?,
                l1.shape().clone(),
            ),
            Wrt::Flow => (
                gpu::launch(
                    &d,
                    "block_extractor_bwd_flow",
                    &[(s1, l1), (s2, l2), (s3, l3)],
                    true,
                )?,
                l2.shape().clone(),
            ),
        })
    }
}

/// Launching the kernels of `block_extractor.cu`.
#[cfg(feature = "cuda")]
mod gpu {
    use super::Dims;
    use crate::ops::cuda;
    use candle_core::cuda_backend::cudarc::driver::LaunchConfig;
    use candle_core::{CudaStorage, Layout, Result};

    /// Channels one thread walks: the taps are computed once per pixel and reused that often.
    const CHANNELS_PER_THREAD: usize = 16;

    /// Runs `kernel` over `inputs` (in the kernel's argument order) into a new buffer: the
    /// output (B, C, Ho, Wo) for the forward pass, the source or flow gradient (`zeroed`, as
    /// the gradient kernels accumulate with atomics) for the backward ones.
    pub(super) fn launch(
        d: &Dims,
        kernel: &str,
        inputs: &[(&CudaStorage, &Layout)],
        zeroed: bool,
    ) -> Result<CudaStorage> {
        let (ho, wo) = d.out_hw();
        let (len, threads) = match kernel {
            "block_extractor_fwd" => (d.b * d.c * ho * wo, ho * wo),
            "block_extractor_bwd_source" => (d.b * d.c * d.hs * d.ws, ho * wo),
            _ => (d.b * 2 * d.hf * d.wf, d.hf * d.wf),
        };
        let cfg = LaunchConfig {
            grid_dim: (
                cuda::int(threads.div_ceil(cuda::BLOCK as usize))? as u32,
                cuda::int(d.b)? as u32,
                cuda::int(d.c.div_ceil(CHANNELS_PER_THREAD))? as u32,
            ),
            block_dim: (cuda::BLOCK, 1, 1),
            shared_mem_bytes: 0,
        };
        let call = cuda::Call {
            module: &cuda::BLOCK_EXTRACTOR,
            kernel,
            inputs,
            ints: &[d.c, d.hs, d.ws, d.hf, d.wf, d.k, CHANNELS_PER_THREAD],
            floats: &[],
        };
        call.run(len, zeroed, cfg)
    }
}

/// `block_extractor(source (B,C,Hs,Ws), flow (B,2,Hf,Wf), k) -> (B, C, Hf·k, Wf·k)`.
/// Differentiable w.r.t. both inputs.
pub fn block_extractor(source: &Tensor, flow: &Tensor, k: usize) -> Result<Tensor> {
    let _p = super::profile::scope("sampling");
    source
        .contiguous()?
        .apply_op2(&flow.contiguous()?, BlockExtractor { k })
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    #[test]
    fn zero_flow_odd_kernel_centre_is_source_and_k1_is_identity() -> Result<()> {
        let dev = Device::Cpu;
        let src = Tensor::arange(0f32, 2.0 * 3.0 * 4.0 * 5.0, &dev)?.reshape((2, 3, 4, 5))?;
        let flow = Tensor::zeros((2, 2, 4, 5), candle_core::DType::F32, &dev)?;
        let id = block_extractor(&src, &flow, 1)?;
        assert_eq!(
            (id - &src)?.abs()?.max_all()?.to_scalar::<f32>()?,
            0.0,
            "k=1 with zero flow must be the identity"
        );
        let p = block_extractor(&src, &flow, 3)?;
        // Centre element of each 3×3 patch is the source pixel.
        let centres = p.narrow(2, 1, 10)?.narrow(3, 1, 13)?; // rows 1,4,7,10 / cols 1,4,..
        let rows = Tensor::new(&[0u32, 3, 6, 9], &dev)?;
        let cols = Tensor::new(&[0u32, 3, 6, 9, 12], &dev)?;
        let c = centres
            .contiguous()?
            .index_select(&rows, 2)?
            .index_select(&cols, 3)?;
        assert_eq!((c - &src)?.abs()?.max_all()?.to_scalar::<f32>()?, 0.0);
        Ok(())
    }

    /// Finite differences of a scalar loss against the analytic gradients.
    #[test]
    fn gradients_match_finite_differences() -> Result<()> {
        let dev = Device::Cpu;
        let src_v: Vec<f32> = (0..2 * 2 * 5 * 4)
            .map(|i| ((i * 37 % 23) as f32 / 7.0).sin())
            .collect();
        let flow_v: Vec<f32> = (0..2 * 2 * 3 * 3)
            .map(|i| ((i * 53 % 17) as f32 / 3.0).cos() * 2.3 + 0.17)
            .collect();
        let src = Var::from_vec(src_v.clone(), (2, 2, 5, 4), &dev)?;
        let flow = Var::from_vec(flow_v.clone(), (2, 2, 3, 3), &dev)?;
        let weights = Tensor::arange(0f32, 2.0 * 2.0 * 9.0 * 9.0, &dev)?
            .reshape((2, 2, 9, 9))?
            .affine(0.01, -0.3)?;
        let loss = |s: &Tensor, f: &Tensor| -> Result<f32> {
            block_extractor(s, f, 3)?
                .mul(&weights)?
                .sum_all()?
                .to_scalar::<f32>()
        };
        let out = block_extractor(src.as_tensor(), flow.as_tensor(), 3)?
            .mul(&weights)?
            .sum_all()?;
        let grads = out.backward()?;
        let gs = grads.get(&src).unwrap().flatten_all()?.to_vec1::<f32>()?;
        let gf = grads.get(&flow).unwrap().flatten_all()?.to_vec1::<f32>()?;
        // The loss is linear in the source: a large step is exact and avoids f32 cancellation.
        let eps = 0.5f32;
        for (i, g) in gs.iter().enumerate() {
            let mut p = src_v.clone();
            p[i] += eps;
            let mut m = src_v.clone();
            m[i] -= eps;
            let f = flow.as_tensor();
            let num = (loss(&Tensor::from_vec(p, (2, 2, 5, 4), &dev)?, f)?
                - loss(&Tensor::from_vec(m, (2, 2, 5, 4), &dev)?, f)?)
                / (2.0 * eps);
            assert!((num - g).abs() < 2e-3, "source grad {i}: {num} vs {g}");
        }
        // Flow: the loss is piecewise bilinear, so use a small step away from integer positions.
        let eps = 1e-3f32;
        for (i, g) in gf.iter().enumerate() {
            let mut p = flow_v.clone();
            p[i] += eps;
            let mut m = flow_v.clone();
            m[i] -= eps;
            let s = src.as_tensor();
            let num = (loss(s, &Tensor::from_vec(p, (2, 2, 3, 3), &dev)?)?
                - loss(s, &Tensor::from_vec(m, (2, 2, 3, 3), &dev)?)?)
                / (2.0 * eps);
            assert!(
                (num - g).abs() < 2e-2 * (1.0 + g.abs()),
                "flow grad {i}: {num} vs {g}"
            );
        }
        Ok(())
    }
}
