//! Local attention: weighting each k×k source patch by its softmax kernel (spec §5.4, §6.2).

use candle_core::{CpuStorage, CustomOp2, Layout, Result, Shape, Tensor};
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

fn backward_cpu(d: &Dims, attn: &[f32], patches: &[f32], grad: &[f32]) -> (Vec<f32>, Vec<f32>) {
    let (kk, plane) = (d.k * d.k, d.h * d.w);
    let pw = d.w * d.k;
    let scale = 1.0 / kk as f32;
    let mut g_patches = vec![0f32; patches.len()];
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
    let mut g_attn = vec![0f32; attn.len()];
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
    (g_attn, g_patches)
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

    fn bwd(
        &self,
        attn: &Tensor,
        patches: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let d = Dims::from_shapes(attn.shape(), patches.shape(), self.k)?;
        let to_vec = |t: &Tensor| -> Result<Vec<f32>> { t.flatten_all()?.to_vec1::<f32>() };
        let (ga, gp) = backward_cpu(&d, &to_vec(attn)?, &to_vec(patches)?, &to_vec(grad)?);
        let dev = attn.device();
        Ok((
            Some(Tensor::from_vec(ga, attn.shape(), dev)?),
            Some(Tensor::from_vec(gp, patches.shape(), dev)?),
        ))
    }
}

/// The attention-weighted pool of the local attention block:
/// `avg_pool_k(local_attn_reshape(attn, k) * patches)`, fused so the (B, C, h·k, w·k) product is
/// never materialised. `attn` is (B, k², h, w), `patches` (B, C, h·k, w·k) from
/// [`super::block_extractor`]; the result (B, C, h, w) is the softmax-weighted mean **scaled by
/// 1/k²** exactly as the reference's average pool computes it.
pub fn local_attention(attn: &Tensor, patches: &Tensor, k: usize) -> Result<Tensor> {
    super::cpu_roundtrip([attn, patches], |[a, p]| {
        a.contiguous()?
            .apply_op2(&p.contiguous()?, LocalAttention { k })
    })
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
