//! Local attention: weighting each k×k source patch by its softmax kernel (spec §5.4, §6.2).

use candle_core::{CpuStorage, CustomOp2, CustomOp3, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

/// `local_attn_reshape(A (B, k², h, w), k) -> (B, 1, h·k, w·k)`, with
/// `out[b, 0, y·k + i, x·k + j] = A[b, i·k + j, y, x]` — depth-to-space (PyTorch `pixel_shuffle`).
/// Built from reshapes so that it is differentiable and runs on every device.
pub fn local_attn_reshape(attn: &Tensor, k: usize) -> Result<Tensor> {
    let (b, kk, h, w) = attn.dims4()?;
    if kk != k * k {
        candle_core::bail!(
            "local_attn_reshape: expected {} channels for k={k}, got {kk}",
            k * k
        );
    }
    attn.reshape((b, k, k, h, w))?
        .permute((0, 3, 1, 4, 2))?
        .reshape((b, 1, h * k, w * k))
}

#[derive(Clone, Copy)]
struct Dims {
    b: usize,
    c: usize,
    h: usize,
    w: usize,
    k: usize,
}

impl Dims {
    fn from_shapes(attn: &Shape, patches: &Shape, k: usize) -> Result<Self> {
        let (b, kk, h, w) = attn.dims4()?;
        let (bp, c, hp, wp) = patches.dims4()?;
        if kk != k * k || bp != b || hp != h * k || wp != w * k {
            candle_core::bail!(
                "local_attention: attention {attn:?} and patches {patches:?} do not fit kernel {k}"
            );
        }
        Ok(Self { b, c, h, w, k })
    }
}

/// `out[b,c,y,x] = (1/k²) Σ_{i,j} A[b, i·k+j, y, x] · P[b, c, y·k+i, x·k+j]`.
fn forward_cpu(d: &Dims, attn: &[f32], patches: &[f32]) -> Vec<f32> {
    let (kk, plane) = (d.k * d.k, d.h * d.w);
    let pw = d.w * d.k;
    let scale = 1.0 / kk as f32;
    let mut out = vec![0f32; d.b * d.c * plane];
    out.par_chunks_mut(plane).enumerate().for_each(|(bc, o)| {
        let b = bc / d.c;
        let a = &attn[b * kk * plane..(b + 1) * kk * plane];
        let p = &patches[bc * plane * kk..(bc + 1) * plane * kk];
        for y in 0..d.h {
            for x in 0..d.w {
                let mut acc = 0f32;
                for i in 0..d.k {
                    let row = (y * d.k + i) * pw + x * d.k;
                    for j in 0..d.k {
                        acc += a[(i * d.k + j) * plane + y * d.w + x] * p[row + j];
                    }
                }
                o[y * d.w + x] = acc * scale;
            }
        }
    });
    out
}

/// d/dpatches: each patch element times its attention weight and the output gradient.
fn backward_patches_cpu(d: &Dims, attn: &[f32], grad: &[f32]) -> Vec<f32> {
    let (kk, plane) = (d.k * d.k, d.h * d.w);
    let pw = d.w * d.k;
    let scale = 1.0 / kk as f32;
    let mut g_patches = vec![0f32; d.b * d.c * plane * kk];
    g_patches
        .par_chunks_mut(plane * kk)
        .enumerate()
        .for_each(|(bc, gp)| {
            let b = bc / d.c;
            let a = &attn[b * kk * plane..(b + 1) * kk * plane];
            let g = &grad[bc * plane..(bc + 1) * plane];
            for y in 0..d.h {
                for x in 0..d.w {
                    let gv = g[y * d.w + x] * scale;
                    for i in 0..d.k {
                        for j in 0..d.k {
                            gp[(y * d.k + i) * pw + x * d.k + j] =
                                a[(i * d.k + j) * plane + y * d.w + x] * gv;
                        }
                    }
                }
            }
        });
    g_patches
}

/// d/dattention: the output gradient against each patch element, summed over channels.
fn backward_attn_cpu(d: &Dims, patches: &[f32], grad: &[f32]) -> Vec<f32> {
    let (kk, plane) = (d.k * d.k, d.h * d.w);
    let pw = d.w * d.k;
    let scale = 1.0 / kk as f32;
    let mut g_attn = vec![0f32; d.b * kk * plane];
    g_attn
        .par_chunks_mut(kk * plane)
        .enumerate()
        .for_each(|(b, ga)| {
            for c in 0..d.c {
                let bc = b * d.c + c;
                let p = &patches[bc * plane * kk..(bc + 1) * plane * kk];
                let g = &grad[bc * plane..(bc + 1) * plane];
                for y in 0..d.h {
                    for x in 0..d.w {
                        let gv = g[y * d.w + x] * scale;
                        for i in 0..d.k {
                            for j in 0..d.k {
                                ga[(i * d.k + j) * plane + y * d.w + x] +=
                                    gv * p[(y * d.k + i) * pw + x * d.k + j];
                            }
                        }
                    }
                }
            }
        });
    g_attn
}

struct LocalAttention {
    k: usize,
}

impl CustomOp2 for LocalAttention {
    fn name(&self) -> &'static str {
        "local-attention"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let d = Dims::from_shapes(l1.shape(), l2.shape(), self.k)?;
        let attn = super::f32_slice(s1, l1, self.name())?;
        let patches = super::f32_slice(s2, l2, self.name())?;
        let out = forward_cpu(&d, attn, patches);
        Ok((CpuStorage::F32(out), Shape::from((d.b, d.c, d.h, d.w))))
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
        let out = gpu::launch(&d, "local_attn_fwd", [(s1, l1), (s2, l2)], d.c * d.h * d.w)?;
        Ok((out, Shape::from((d.b, d.c, d.h, d.w))))
    }

    /// Both gradients come from device kernels (the ops below), so training stays on device.
    fn bwd(
        &self,
        attn: &Tensor,
        patches: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let grad = grad.contiguous()?;
        let k = self.k;
        let ga =
            attn.apply_op3_no_bwd(patches, &grad, &LocalAttentionGrad { k, wrt_attn: true })?;
        let gp =
            attn.apply_op3_no_bwd(patches, &grad, &LocalAttentionGrad { k, wrt_attn: false })?;
        Ok((Some(ga), Some(gp)))
    }
}

/// The backward pass as an op of (attention, patches, output gradient), one per input.
struct LocalAttentionGrad {
    k: usize,
    wrt_attn: bool,
}

impl CustomOp3 for LocalAttentionGrad {
    fn name(&self) -> &'static str {
        if self.wrt_attn {
            "local-attention-grad-attn"
        } else {
            "local-attention-grad-patches"
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
        let grad = super::f32_slice(s3, l3, self.name())?;
        Ok(if self.wrt_attn {
            let patches = super::f32_slice(s2, l2, self.name())?;
            let g = backward_attn_cpu(&d, patches, grad);
            (CpuStorage::F32(g), l1.shape().clone())
        } else {
            let attn = super::f32_slice(s1, l1, self.name())?;
            let g = backward_patches_cpu(&d, attn, grad);
            (CpuStorage::F32(g), l2.shape().clone())
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
        Ok(if self.wrt_attn {
            let n = d.k * d.k * d.h * d.w;
            let g = gpu::launch(&d, "local_attn_bwd_attn", [(s2, l2), (s3, l3)], n)?;
            (g, l1.shape().clone())
        } else {
            let n = d.c * d.h * d.k * d.w * d.k;
            let g = gpu::launch(&d, "local_attn_bwd_patches", [(s1, l1), (s3, l3)], n)?;
            (g, l2.shape().clone())
        })
    }
}

/// Launching the kernels of `local_attn.cu`.
#[cfg(feature = "cuda")]
mod gpu {
    use super::Dims;
    use crate::ops::cuda;
    use candle_core::{CudaStorage, Layout, Result};

    /// Runs `kernel` on its two inputs into a new buffer of `per_item` elements per batch item
    /// (each kernel writes every element of its output once).
    pub(super) fn launch(
        d: &Dims,
        kernel: &str,
        inputs: [(&CudaStorage, &Layout); 2],
        per_item: usize,
    ) -> Result<CudaStorage> {
        let n = d.b * per_item;
        let call = cuda::Call {
            module: &cuda::LOCAL_ATTN,
            kernel,
            inputs: &inputs,
            ints: &[d.b, d.c, d.h, d.w, d.k],
            floats: &[],
        };
        call.run(n, false, cuda::grid_1d(n)?)
    }
}

/// The attention-weighted pool of the local attention block:
/// `avg_pool_k(local_attn_reshape(attn, k) * patches)`, fused so the (B, C, h·k, w·k) product is
/// never materialised. `attn` is (B, k², h, w), `patches` (B, C, h·k, w·k) from
/// [`super::block_extractor()`]; the result (B, C, h, w) is the softmax-weighted mean **scaled by
/// 1/k²** exactly as the reference's average pool computes it.
pub fn local_attention(attn: &Tensor, patches: &Tensor, k: usize) -> Result<Tensor> {
    let _p = super::profile::scope("sampling");
    attn.contiguous()?
        .apply_op2(&patches.contiguous()?, LocalAttention { k })
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    fn pseudo(n: usize, seed: usize) -> Vec<f32> {
        (0..n)
            .map(|i| (((i + seed) * 7919 % 1009) as f32 / 1009.0) - 0.5)
            .collect()
    }

    /// The fused op equals the unfused reference formulation (reshape, multiply, average pool),
    /// values and gradients.
    #[test]
    fn fused_equals_reshape_mul_avgpool() -> Result<()> {
        let dev = Device::Cpu;
        for k in [2usize, 3, 5] {
            let (b, c, h, w) = (2, 3, 4, 5);
            let a = Var::from_vec(pseudo(b * k * k * h * w, 1), (b, k * k, h, w), &dev)?;
            let p = Var::from_vec(pseudo(b * c * h * k * w * k, 2), (b, c, h * k, w * k), &dev)?;
            let wts = Tensor::from_vec(pseudo(b * c * h * w, 3), (b, c, h, w), &dev)?;
            let fused = local_attention(a.as_tensor(), p.as_tensor(), k)?;
            let plain = local_attn_reshape(a.as_tensor(), k)?
                .broadcast_mul(p.as_tensor())?
                .avg_pool2d(k)?;
            let diff = (&fused - &plain)?.abs()?.max_all()?.to_scalar::<f32>()?;
            assert!(diff < 1e-6, "k={k}: forward differs by {diff}");
            let g1 = fused.mul(&wts)?.sum_all()?.backward()?;
            let g2 = plain.mul(&wts)?.sum_all()?.backward()?;
            for v in [&a, &p] {
                let d = (g1.get(v).unwrap() - g2.get(v).unwrap())?
                    .abs()?
                    .max_all()?
                    .to_scalar::<f32>()?;
                assert!(d < 1e-6, "k={k}: gradient differs by {d}");
            }
        }
        Ok(())
    }
}
