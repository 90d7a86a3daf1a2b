//! Instance norm fused with the activation that follows it, as one op: on the GPU one kernel
//! launch per norm instead of the ten or so the composed candle ops cost (launches, not
//! arithmetic, bound a batch-1 forward pass there). Differentiable: the backward pass is the
//! closed-form instance-norm gradient, fused per plane on the CPU and in candle ops elsewhere.
//!
//! The model layers ([`crate::model::layers::InstanceNorm`]) use it on CUDA ([`fused_on`])
//! and on the CPU, inference and training (two passes over the map forward and three
//! backward, where the composed ops make about nine and fifteen). The composed ops remain the
//! layer's `forward`. Both compute the same formula: `act((x − mean) / sqrt(var + eps) ·
//! weight + bias)`, mean and biased variance over each (sample, channel) plane.

use crate::ops::simd::Isa;
use candle_core::{CpuStorage, CustomOp1, CustomOp3, DType, Device, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

/// The activation applied after the norm.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Activation {
    None,
    /// `max(x, slope·x)`, slope in (0, 1).
    LeakyRelu(f64),
    Relu,
}

/// Whether the layers take the fused op on `device`: on CUDA, unless `MARIONETTE_UNFUSED=1`
/// asks for the composed ops (to compare the two in one run).
pub fn fused_on(device: &Device) -> bool {
    static UNFUSED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    device.is_cuda()
        && !*UNFUSED.get_or_init(|| std::env::var("MARIONETTE_UNFUSED").is_ok_and(|v| v == "1"))
}

#[derive(Clone, Copy)]
struct Fused {
    eps: f64,
    act: Activation,
}

impl Fused {
    fn dims(&self, s: &Shape) -> Result<(usize, usize)> {
        let (b, c, h, w) = s.dims4()?;
        if h * w == 0 {
            candle_core::bail!("instance norm of an empty map {s:?}");
        }
        Ok((b * c, h * w))
    }

    fn cpu(&self, x: &[f32], c: usize, n: usize, affine: Option<(&[f32], &[f32])>) -> Vec<f32> {
        // Every plane is written whole by `norm_plane` (`out_map` over all of it).
        let mut y = super::alloc::output_buffer(x.len());
        y.par_chunks_mut(n).enumerate().for_each(|(plane, yp)| {
            let xp = &x[plane * n..(plane + 1) * n];
            let (sc, sh) = affine.map_or((1.0, 0.0), |(w, b)| (w[plane % c], b[plane % c]));
            norm_plane(xp, yp, (sc, sh), self.eps as f32, self.act);
        });
        y
    }

    /// Gradients w.r.t. x and, when affine, the weight and bias: one fused pass per plane on
    /// the CPU ([`Self::cpu_backward`]), candle ops elsewhere.
    fn backward(
        &self,
        x: &Tensor,
        affine: Option<(&Tensor, &Tensor)>,
        grad: &Tensor,
    ) -> Result<(Tensor, Option<(Tensor, Tensor)>)> {
        if x.device().is_cpu() && x.dtype() == DType::F32 {
            return self.cpu_backward(x, affine, grad);
        }
        self.backward_ops(x, affine, grad)
    }

    /// The CPU backward: per (sample, channel) plane, the statistics, then the four sums the
    /// closed form needs (Σdz, Σdz·x̂ for the parameters, Σdx̂, Σdx̂·x̂ for x), then dx — three
    /// passes over the plane, where the candle-op form makes about fifteen whole-tensor ones.
    fn cpu_backward(
        &self,
        x: &Tensor,
        affine: Option<(&Tensor, &Tensor)>,
        grad: &Tensor,
    ) -> Result<(Tensor, Option<(Tensor, Tensor)>)> {
        let (b, c, h, w) = x.dims4()?;
        let n = h * w;
        let xs = x.flatten_all()?.to_vec1::<f32>()?;
        let gs = grad.flatten_all()?.to_vec1::<f32>()?;
        let params = match affine {
            Some((wt, bs)) => Some((wt.to_vec1::<f32>()?, bs.to_vec1::<f32>()?)),
            None => None,
        };
        let (eps, act) = (self.eps, self.act);
        let mut dx = super::alloc::output_buffer(xs.len()); // every plane written below
                                                            // Per plane: (Σdz, Σdz·x̂), summed over the batch afterwards.
        let sums: Vec<(f64, f64)> = dx
            .par_chunks_mut(n)
            .enumerate()
            .map(|(plane, dxp)| {
                let xp = &xs[plane * n..(plane + 1) * n];
                let gp = &gs[plane * n..(plane + 1) * n];
                let (sc, sh) = params.as_ref().map_or((1.0, 0.0), |(w, b)| {
                    (w[plane % c] as f64, b[plane % c] as f64)
                });
                let mean = xp.iter().map(|&v| v as f64).sum::<f64>() / n as f64;
                let var = xp.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n as f64;
                let den = (var + eps).sqrt();
                let slope = |xh: f64| match act {
                    Activation::None => 1.0,
                    Activation::Relu => f64::from(u8::from(xh * sc + sh > 0.0)),
                    Activation::LeakyRelu(_) if xh * sc + sh > 0.0 => 1.0,
                    Activation::LeakyRelu(s) => s,
                };
                let (mut s_dz, mut s_dzx, mut s_dxh, mut s_dxhx) = (0f64, 0f64, 0f64, 0f64);
                for (&v, &g) in xp.iter().zip(gp) {
                    let xh = (v as f64 - mean) / den;
                    let dz = g as f64 * slope(xh);
                    s_dz += dz;
                    s_dzx += dz * xh;
                    s_dxh += dz * sc;
                    s_dxhx += dz * sc * xh;
                }
                let (m1, m2) = (s_dxh / n as f64, s_dxhx / n as f64);
                for ((o, &v), &g) in dxp.iter_mut().zip(xp).zip(gp) {
                    let xh = (v as f64 - mean) / den;
                    let dxh = g as f64 * slope(xh) * sc;
                    *o = ((dxh - m1 - xh * m2) / den) as f32;
                }
                (s_dz, s_dzx)
            })
            .collect();
        let dx = Tensor::from_vec(dx, (b, c, h, w), x.device())?;
        let params = match affine {
            Some(_) => {
                let (mut dw, mut db) = (vec![0f32; c], vec![0f32; c]);
                for (plane, (s_dz, s_dzx)) in sums.iter().enumerate() {
                    dw[plane % c] += *s_dzx as f32;
                    db[plane % c] += *s_dz as f32;
                }
                let dev = x.device();
                Some((Tensor::from_vec(dw, c, dev)?, Tensor::from_vec(db, c, dev)?))
            }
            None => None,
        };
        Ok((dx, params))
    }

    /// The backward pass in candle ops (any device).
    fn backward_ops(
        &self,
        x: &Tensor,
        affine: Option<(&Tensor, &Tensor)>,
        grad: &Tensor,
    ) -> Result<(Tensor, Option<(Tensor, Tensor)>)> {
        let (b, c, h, w) = x.dims4()?;
        let x3 = x.reshape((b, c, h * w))?;
        let centred = x3.broadcast_sub(&x3.mean_keepdim(2)?)?;
        let den = (centred.sqr()?.mean_keepdim(2)? + self.eps)?.sqrt()?;
        let xhat = centred.broadcast_div(&den)?;
        let z = match affine {
            Some((wt, bs)) => xhat
                .broadcast_mul(&wt.reshape((1, c, 1))?)?
                .broadcast_add(&bs.reshape((1, c, 1))?)?,
            None => xhat.clone(),
        };
        let g = grad.reshape((b, c, h * w))?;
        let positive = || z.gt(0.0)?.to_dtype(DType::F32);
        let dz = match self.act {
            Activation::None => g,
            Activation::Relu => (g * positive()?)?,
            // slope + (1 − slope)·[z > 0]
            Activation::LeakyRelu(s) => (g * positive()?.affine(1.0 - s, s)?)?,
        };
        let (dxhat, params) = match affine {
            Some((wt, _)) => {
                let dw = (&dz * &xhat)?.sum((0, 2))?;
                let db = dz.sum((0, 2))?;
                (dz.broadcast_mul(&wt.reshape((1, c, 1))?)?, Some((dw, db)))
            }
            None => (dz, None),
        };
        let dx = dxhat
            .broadcast_sub(&dxhat.mean_keepdim(2)?)?
            .sub(&xhat.broadcast_mul(&(&dxhat * &xhat)?.mean_keepdim(2)?)?)?
            .broadcast_div(&den)?
            .reshape((b, c, h, w))?;
        Ok((dx, params))
    }
}

/// One (sample, channel) plane, in the vectors of [`crate::ops::simd::isa`].
fn norm_plane(x: &[f32], y: &mut [f32], affine: (f32, f32), eps: f32, act: Activation) {
    norm_plane_on(crate::ops::simd::isa(), x, y, affine, eps, act)
}

/// One plane in the build of `isa` (every build sums in the same order: the same bits). NEON
/// is the AArch64 baseline, so the portable build is the NEON one there.
fn norm_plane_on(
    isa: Isa,
    x: &[f32],
    y: &mut [f32],
    affine: (f32, f32),
    eps: f32,
    act: Activation,
) {
    match isa {
        // SAFETY: `isa` is supported (the `simd` module's choice, or the tests' filter).
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => unsafe { norm_plane_avx512(x, y, affine, eps, act) },
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => unsafe { norm_plane_avx2(x, y, affine, eps, act) },
        _ => norm_plane_body(x, y, affine, eps, act),
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn norm_plane_avx512(
    x: &[f32],
    y: &mut [f32],
    affine: (f32, f32),
    eps: f32,
    act: Activation,
) {
    norm_plane_body(x, y, affine, eps, act)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn norm_plane_avx2(x: &[f32], y: &mut [f32], affine: (f32, f32), eps: f32, act: Activation) {
    norm_plane_body(x, y, affine, eps, act)
}

#[inline(always)]
fn norm_plane_body(x: &[f32], y: &mut [f32], (sc, sh): (f32, f32), eps: f32, act: Activation) {
    let n = x.len() as f32;
    // Two passes (mean, then squared deviations) as the reference computes them; the sums
    // run in 16 lanes, which vectorises and is more accurate than one chain.
    let mean = lane_sum(x, |v| v) / n;
    let var = lane_sum(x, |v| (v - mean) * (v - mean)) / n;
    let den = (var + eps).sqrt();
    // act((v − mean) / den · sc + sh) as one multiply-add per value.
    let scale = sc / den;
    let shift = sh - mean * scale;
    match act {
        Activation::None => out_map(x, y, |v| v * scale + shift),
        Activation::Relu => out_map(x, y, |v| (v * scale + shift).max(0.0)),
        Activation::LeakyRelu(s) => {
            let s = s as f32;
            out_map(x, y, |v| {
                let t = v * scale + shift;
                t.max(s * t)
            })
        }
    }
}

/// `Σ f(v)` over `xs` in 16 independent lanes (so the loop vectorises), lanes added at the end.
#[inline(always)]
fn lane_sum(xs: &[f32], f: impl Fn(f32) -> f32) -> f32 {
    let mut lanes = [0f32; 16];
    let chunks = xs.chunks_exact(16);
    let tail: f32 = chunks.remainder().iter().map(|&v| f(v)).sum();
    for ch in chunks {
        for (l, &v) in lanes.iter_mut().zip(ch) {
            *l += f(v);
        }
    }
    lanes.iter().sum::<f32>() + tail
}

/// `y[i] = f(x[i])`, a loop the compiler vectorises.
#[inline(always)]
fn out_map(x: &[f32], y: &mut [f32], f: impl Fn(f32) -> f32) {
    for (o, &v) in y.iter_mut().zip(x) {
        *o = f(v);
    }
}

/// Parameter-free form: the op of x alone.
struct Plain(Fused);
/// Affine form: the op of (x, weight, bias).
struct Affine(Fused);

impl CustomOp1 for Plain {
    fn name(&self) -> &'static str {
        "instance-norm-act"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let (_, n) = self.0.dims(l.shape())?;
        let x = super::f32_slice(s, l, self.name())?;
        let c = l.shape().dims()[1];
        Ok((
            CpuStorage::F32(self.0.cpu(x, c, n, None)),
            l.shape().clone(),
        ))
    }

    #[cfg(feature = "cuda")]
    fn cuda_fwd(
        &self,
        s: &candle_core::CudaStorage,
        l: &Layout,
    ) -> Result<(candle_core::CudaStorage, Shape)> {
        let y = gpu::launch(&self.0, l.shape(), (s, l), None)?;
        Ok((y, l.shape().clone()))
    }

    fn bwd(&self, x: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(self.0.backward(x, None, grad)?.0))
    }
}

impl CustomOp3 for Affine {
    fn name(&self) -> &'static str {
        "instance-norm-affine-act"
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
        let (_, n) = self.0.dims(l1.shape())?;
        let c = l1.shape().dims()[1];
        let x = super::f32_slice(s1, l1, self.name())?;
        let w = super::f32_slice(s2, l2, self.name())?;
        let b = super::f32_slice(s3, l3, self.name())?;
        if w.len() != c || b.len() != c {
            candle_core::bail!(
                "instance norm: {c} channels, weight {} bias {}",
                w.len(),
                b.len()
            );
        }
        let y = self.0.cpu(x, c, n, Some((w, b)));
        Ok((CpuStorage::F32(y), l1.shape().clone()))
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
        let c = l1.shape().dims4()?.1;
        if l2.shape().elem_count() != c || l3.shape().elem_count() != c {
            candle_core::bail!("instance norm: {c} channels, weight {:?}", l2.shape());
        }
        let y = gpu::launch(&self.0, l1.shape(), (s1, l1), Some([(s2, l2), (s3, l3)]))?;
        Ok((y, l1.shape().clone()))
    }

    fn bwd(
        &self,
        x: &Tensor,
        weight: &Tensor,
        bias: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let (dx, params) = self.0.backward(x, Some((weight, bias)), grad)?;
        let (dw, db) = params.expect("affine backward returns parameter gradients");
        Ok((Some(dx), Some(dw), Some(db)))
    }
}

/// `act(instance_norm(x) · weight + bias)` for x (B, C, H, W); `affine` is (weight (C), bias (C)).
pub fn instance_norm_act(
    x: &Tensor,
    affine: Option<(&Tensor, &Tensor)>,
    eps: f64,
    act: Activation,
) -> Result<Tensor> {
    let op = Fused { eps, act };
    let x = x.contiguous()?;
    match affine {
        Some((w, b)) => x.apply_op3(&w.contiguous()?, &b.contiguous()?, Affine(op)),
        None => x.apply_op1(Plain(op)),
    }
}

/// Launching the kernels of `instance_norm.cu`.
#[cfg(feature = "cuda")]
mod gpu {
    use super::{Activation, Fused};
    use crate::ops::cuda::{self, PushKernelArg};
    use candle_core::backend::BackendStorage;
    use candle_core::cuda_backend::cudarc::driver::LaunchConfig;
    use candle_core::{CudaStorage, Layout, Result, Shape};

    pub(super) fn launch(
        op: &Fused,
        shape: &Shape,
        x: (&CudaStorage, &Layout),
        affine: Option<[(&CudaStorage, &Layout); 2]>,
    ) -> Result<CudaStorage> {
        let (planes, n) = op.dims(shape)?;
        let c = shape.dims()[1];
        let dev = x.0.device();
        let xv = cuda::view(x.0, x.1, "instance norm")?;
        // SAFETY: each block writes its whole plane.
        let y = unsafe { dev.alloc::<f32>(planes * n)? };
        // The activation as the kernel takes it: a code and a slope.
        let (act, slope): (i32, f32) = match op.act {
            Activation::None => (0, 0.0),
            Activation::LeakyRelu(s) => (1, s as f32),
            Activation::Relu => (2, 0.0),
        };
        let (c, n, eps) = (cuda::int(c)?, cuda::int(n)?, op.eps as f32);
        let cfg = LaunchConfig {
            grid_dim: (cuda::int(planes)? as u32, 1, 1),
            block_dim: (256, 1, 1),
            shared_mem_bytes: 0,
        };
        match affine {
            Some([(ws, wl), (bs, bl)]) => {
                let (wv, bv) = (cuda::view(ws, wl, "weight")?, cuda::view(bs, bl, "bias")?);
                let k = cuda::Kernel::new(dev, &cuda::INSTANCE_NORM, "instance_norm_affine")?;
                let mut args = k.args();
                args.arg(&xv).arg(&wv).arg(&bv).arg(&y);
                args.arg(&c).arg(&n).arg(&eps).arg(&act).arg(&slope);
                cuda::launch(cfg, args)?;
            }
            None => {
                let k = cuda::Kernel::new(dev, &cuda::INSTANCE_NORM, "instance_norm_plain")?;
                let mut args = k.args();
                args.arg(&xv).arg(&y);
                args.arg(&c).arg(&n).arg(&eps).arg(&act).arg(&slope);
                cuda::launch(cfg, args)?;
            }
        }
        Ok(cuda::storage(y, dev))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    /// Every build this CPU runs gives the portable build's bits (lanes summed in one order),
    /// over a plane with a tail past the 16 lanes.
    #[test]
    fn every_build_gives_the_same_bits() -> Result<()> {
        let x = Tensor::randn(0.5f32, 2.0, 1000 + 7, &Device::Cpu)?.to_vec1::<f32>()?;
        for act in [
            Activation::None,
            Activation::LeakyRelu(0.2),
            Activation::Relu,
        ] {
            let mut want = vec![0f32; x.len()];
            norm_plane_on(Isa::Portable, &x, &mut want, (1.3, -0.2), 1e-5, act);
            for isa in crate::ops::simd::testable() {
                let mut got = vec![f32::NAN; x.len()];
                norm_plane_on(isa, &x, &mut got, (1.3, -0.2), 1e-5, act);
                assert_eq!(got, want, "{isa:?} {act:?}");
            }
        }
        Ok(())
    }
}
