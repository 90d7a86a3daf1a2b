//! The accumulation half of matmul-based convolutions (see [`crate::model::layers::ShiftConv`]):
//! after `Y = W (C·taps, cin) × X`, each output pixel sums one shifted entry of every tap plane,
//! plus the bias. candle's element-wise adds over strided views (and its broadcast bias add
//! over large maps) are slow on the CPU, so these two ops walk contiguous rows instead. Both
//! are differentiable (the backward pass scatters the gradient back to the tap planes).

use candle_core::{CpuStorage, CustomOp1, CustomOp2, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

/// The bias as a slice of `c` values.
fn bias_slice<'a>(s: &'a CpuStorage, l: &Layout, c: usize, op: &str) -> Result<&'a [f32]> {
    check_bias(l, c, op)?;
    super::f32_slice(s, l, op)
}

/// A per-channel bias has one value per channel (either device).
fn check_bias(l: &Layout, c: usize, op: &str) -> Result<()> {
    if l.shape().elem_count() != c {
        candle_core::bail!("{op}: bias of {:?} for {c} channels", l.shape());
    }
    Ok(())
}

/// Gradient of a per-channel bias: the output gradient summed over batch and space.
fn bias_grad(grad: &Tensor, bias: &Tensor) -> Result<Tensor> {
    channel_sums(grad)?.reshape(bias.shape())
}

/// `t.sum((0, 2, 3))` of a (B, C, H, W) tensor, as contiguous row sums: candle reduces over
/// several non-trailing dimensions with a strided scalar loop, which was ~4 % of a training
/// step in bias gradients alone.
pub fn channel_sums(t: &Tensor) -> Result<Tensor> {
    let (b, c, h, w) = t.dims4()?;
    t.contiguous()?
        .reshape((b * c, h * w))?
        .sum(1)?
        .reshape((b, c))?
        .sum(0)
}

/// `out[b,c,y,x] = bias[c] + Σ_{ky,kx} y[b, c, ky·k+kx, y+ky, x+kx]`: a stride-1 "valid"
/// convolution's accumulation, `y` of shape (B, C, k², Hp, Wp).
struct TapSum {
    k: usize,
}

impl TapSum {
    fn dims(&self, s: &Shape) -> Result<(usize, usize, usize, usize, usize, usize)> {
        let (b, c, kk, hp, wp) = s.dims5()?;
        if kk != self.k * self.k || hp < self.k || wp < self.k {
            candle_core::bail!("tap_sum: {s:?} does not fit kernel {}", self.k);
        }
        Ok((b, c, hp, wp, hp - self.k + 1, wp - self.k + 1))
    }
}

impl CustomOp2 for TapSum {
    fn name(&self) -> &'static str {
        "tap-sum"
    }

    fn cpu_fwd(
        &self,
        s: &CpuStorage,
        l: &Layout,
        sb: &CpuStorage,
        lb: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (b, c, hp, wp, ho, wo) = self.dims(l.shape())?;
        let y = super::f32_slice(s, l, self.name())?;
        let bias = bias_slice(sb, lb, c, self.name())?;
        let k = self.k;
        let mut out = vec![0f32; b * c * ho * wo];
        out.par_chunks_mut(ho * wo).enumerate().for_each(|(bc, o)| {
            o.fill(bias[bc % c]);
            let planes = &y[bc * k * k * hp * wp..(bc + 1) * k * k * hp * wp];
            for ky in 0..k {
                for kx in 0..k {
                    let plane = &planes[(ky * k + kx) * hp * wp..];
                    for (row, orow) in o.chunks_exact_mut(wo).enumerate() {
                        let start = (row + ky) * wp + kx;
                        let src = &plane[start..start + wo];
                        orow.iter_mut().zip(src).for_each(|(a, v)| *a += v);
                    }
                }
            }
        });
        Ok((CpuStorage::F32(out), Shape::from((b, c, ho, wo))))
    }

    #[cfg(feature = "cuda")]
    fn cuda_fwd(
        &self,
        s: &candle_core::CudaStorage,
        l: &Layout,
        sb: &candle_core::CudaStorage,
        lb: &Layout,
    ) -> Result<(candle_core::CudaStorage, Shape)> {
        let (b, c, hp, wp, ho, wo) = self.dims(l.shape())?;
        check_bias(lb, c, self.name())?;
        let ints = [b, c, hp, wp, self.k];
        let out = gpu::launch("tap_sum_fwd", &[(s, l), (sb, lb)], &ints, b * c * ho * wo)?;
        Ok((out, Shape::from((b, c, ho, wo))))
    }

    fn bwd(
        &self,
        arg: &Tensor,
        bias: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let (_, _, hp, wp, _, _) = self.dims(arg.shape())?;
        let gy = grad
            .contiguous()?
            .apply_op1_no_bwd(&TapSumGrad { k: self.k, hp, wp })?;
        Ok((Some(gy), Some(bias_grad(grad, bias)?)))
    }
}

/// The adjoint of [`TapSum`] (its backward pass w.r.t. the tap planes), as an op of the output
/// gradient (B, C, Hp−k+1, Wp−k+1) -> (B, C, k², Hp, Wp).
struct TapSumGrad {
    k: usize,
    hp: usize,
    wp: usize,
}

impl TapSumGrad {
    fn dims(&self, grad: &Shape) -> Result<(usize, usize)> {
        let (b, c, ho, wo) = grad.dims4()?;
        if self.hp < self.k || ho != self.hp - self.k + 1 || wo + self.k != self.wp + 1 {
            candle_core::bail!("tap_sum backward: gradient {grad:?} does not fit");
        }
        Ok((b, c))
    }
}

impl CustomOp1 for TapSumGrad {
    fn name(&self) -> &'static str {
        "tap-sum-grad"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let (b, c) = self.dims(l.shape())?;
        let (k, hp, wp) = (self.k, self.hp, self.wp);
        let (ho, wo) = (hp - k + 1, wp - k + 1);
        let g = super::f32_slice(s, l, self.name())?;
        let mut gy = vec![0f32; b * c * k * k * hp * wp];
        gy.par_chunks_mut(k * k * hp * wp)
            .enumerate()
            .for_each(|(bc, planes)| {
                let go = &g[bc * ho * wo..(bc + 1) * ho * wo];
                for ky in 0..k {
                    for kx in 0..k {
                        let plane =
                            &mut planes[(ky * k + kx) * hp * wp..(ky * k + kx + 1) * hp * wp];
                        for (row, grow) in go.chunks_exact(wo).enumerate() {
                            let start = (row + ky) * wp + kx;
                            plane[start..start + wo].copy_from_slice(grow);
                        }
                    }
                }
            });
        Ok((CpuStorage::F32(gy), Shape::from((b, c, k * k, hp, wp))))
    }

    #[cfg(feature = "cuda")]
    fn cuda_fwd(
        &self,
        s: &candle_core::CudaStorage,
        l: &Layout,
    ) -> Result<(candle_core::CudaStorage, Shape)> {
        let (b, c) = self.dims(l.shape())?;
        let (k, hp, wp) = (self.k, self.hp, self.wp);
        let n = b * c * k * k * hp * wp;
        let out = gpu::launch("tap_sum_bwd", &[(s, l)], &[b, c, hp, wp, k], n)?;
        Ok((out, Shape::from((b, c, k * k, hp, wp))))
    }
}

/// `tap_sum(y (B, C, k², Hp, Wp), bias (C), k) -> (B, C, Hp−k+1, Wp−k+1)`.
pub fn tap_sum(y: &Tensor, bias: &Tensor, k: usize) -> Result<Tensor> {
    y.contiguous()?.apply_op2(&bias.contiguous()?, TapSum { k })
}

/// Taps of a 3/s2/p1/op1 transposed conv per output parity: (input offset, kernel index).
/// Output row 2m takes kernel row 1 at input row m; row 2m+1 takes kernel row 2 at input row m
/// and kernel row 0 at input row m+1.
const UP_TAPS: [&[(usize, usize)]; 2] = [&[(0, 1)], &[(0, 2), (1, 0)]];

/// The accumulation of `ConvTranspose2d(k=3, stride=2, padding=1, output_padding=1)` from its
/// nine tap planes, `y` of shape (B, C, 9, H+1, W+1) (input zero-padded at the bottom/right).
struct UpTapSum;

fn up_dims(s: &Shape) -> Result<(usize, usize, usize, usize)> {
    let (b, c, nine, h1, w1) = s.dims5()?;
    if nine != 9 || h1 < 2 || w1 < 2 {
        candle_core::bail!("up_tap_sum: expected (B, C, 9, H+1, W+1), got {s:?}");
    }
    Ok((b, c, h1 - 1, w1 - 1))
}

/// Calls `f(output row, tap plane offset into the batch-channel block, output column parity)`
/// for every (output row, tap) pair of a (2H × 2W) output.
fn for_each_up_tap(h: usize, w: usize, mut f: impl FnMut(usize, usize, usize)) {
    let (h1, w1) = (h + 1, w + 1);
    for oy in 0..2 * h {
        let (m, a) = (oy / 2, oy % 2);
        for &(dy, ky) in UP_TAPS[a] {
            for (parity, taps) in UP_TAPS.iter().enumerate() {
                for &(dx, kx) in *taps {
                    f(oy, (ky * 3 + kx) * h1 * w1 + (m + dy) * w1 + dx, parity);
                }
            }
        }
    }
}

impl CustomOp2 for UpTapSum {
    fn name(&self) -> &'static str {
        "up-tap-sum"
    }

    fn cpu_fwd(
        &self,
        s: &CpuStorage,
        l: &Layout,
        sb: &CpuStorage,
        lb: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (b, c, h, w) = up_dims(l.shape())?;
        let y = super::f32_slice(s, l, self.name())?;
        let bias = bias_slice(sb, lb, c, self.name())?;
        let block = 9 * (h + 1) * (w + 1);
        let mut out = vec![0f32; b * c * 4 * h * w];
        out.par_chunks_mut(4 * h * w)
            .enumerate()
            .for_each(|(bc, o)| {
                o.fill(bias[bc % c]);
                let planes = &y[bc * block..(bc + 1) * block];
                for_each_up_tap(h, w, |oy, start, parity| {
                    let orow = &mut o[oy * 2 * w..(oy + 1) * 2 * w];
                    for (n, v) in planes[start..start + w].iter().enumerate() {
                        orow[2 * n + parity] += v;
                    }
                });
            });
        Ok((CpuStorage::F32(out), Shape::from((b, c, 2 * h, 2 * w))))
    }

    #[cfg(feature = "cuda")]
    fn cuda_fwd(
        &self,
        s: &candle_core::CudaStorage,
        l: &Layout,
        sb: &candle_core::CudaStorage,
        lb: &Layout,
    ) -> Result<(candle_core::CudaStorage, Shape)> {
        let (b, c, h, w) = up_dims(l.shape())?;
        check_bias(lb, c, self.name())?;
        let n = b * c * 4 * h * w;
        let out = gpu::launch("up_tap_sum_fwd", &[(s, l), (sb, lb)], &[b, c, h, w], n)?;
        Ok((out, Shape::from((b, c, 2 * h, 2 * w))))
    }

    fn bwd(
        &self,
        arg: &Tensor,
        bias: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        up_dims(arg.shape())?;
        let gy = grad.contiguous()?.apply_op1_no_bwd(&UpTapSumGrad)?;
        Ok((Some(gy), Some(bias_grad(grad, bias)?)))
    }
}

/// The adjoint of [`UpTapSum`] w.r.t. the tap planes: gradient (B, C, 2H, 2W) ->
/// (B, C, 9, H+1, W+1).
struct UpTapSumGrad;

/// (B, C, H, W) of an up-sampled gradient (B, C, 2H, 2W).
fn up_grad_dims(s: &Shape) -> Result<(usize, usize, usize, usize)> {
    let (b, c, h2, w2) = s.dims4()?;
    if h2 % 2 != 0 || w2 % 2 != 0 {
        candle_core::bail!("up_tap_sum backward: odd gradient {s:?}");
    }
    Ok((b, c, h2 / 2, w2 / 2))
}

impl CustomOp1 for UpTapSumGrad {
    fn name(&self) -> &'static str {
        "up-tap-sum-grad"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let (b, c, h, w) = up_grad_dims(l.shape())?;
        let block = 9 * (h + 1) * (w + 1);
        let g = super::f32_slice(s, l, self.name())?;
        let mut gy = vec![0f32; b * c * block];
        gy.par_chunks_mut(block)
            .enumerate()
            .for_each(|(bc, planes)| {
                let go = &g[bc * 4 * h * w..(bc + 1) * 4 * h * w];
                for_each_up_tap(h, w, |oy, start, parity| {
                    let grow = &go[oy * 2 * w..(oy + 1) * 2 * w];
                    for (n, v) in planes[start..start + w].iter_mut().enumerate() {
                        *v += grow[2 * n + parity];
                    }
                });
            });
        Ok((CpuStorage::F32(gy), Shape::from((b, c, 9, h + 1, w + 1))))
    }

    #[cfg(feature = "cuda")]
    fn cuda_fwd(
        &self,
        s: &candle_core::CudaStorage,
        l: &Layout,
    ) -> Result<(candle_core::CudaStorage, Shape)> {
        let (b, c, h, w) = up_grad_dims(l.shape())?;
        let n = b * c * 9 * (h + 1) * (w + 1);
        let out = gpu::launch("up_tap_sum_bwd", &[(s, l)], &[b, c, h, w], n)?;
        Ok((out, Shape::from((b, c, 9, h + 1, w + 1))))
    }
}

/// Launching the kernels of `conv_taps.cu`.
#[cfg(feature = "cuda")]
mod gpu {
    use crate::ops::cuda;
    use candle_core::{CudaStorage, Layout, Result};

    /// Runs `kernel` on `inputs` and the size arguments `ints` (both in the kernel's order)
    /// into a new buffer of `n` elements, which the kernel writes in full.
    pub(super) fn launch(
        kernel: &str,
        inputs: &[(&CudaStorage, &Layout)],
        ints: &[usize],
        n: usize,
    ) -> Result<CudaStorage> {
        let call = cuda::Call {
            module: &cuda::CONV_TAPS,
            kernel,
            inputs,
            ints,
            floats: &[],
        };
        call.run(n, false, cuda::grid_1d(n)?)
    }
}

/// `up_tap_sum(y (B, C, 9, H+1, W+1), bias (C)) -> (B, C, 2H, 2W)`.
pub fn up_tap_sum(y: &Tensor, bias: &Tensor) -> Result<Tensor> {
    y.contiguous()?.apply_op2(&bias.contiguous()?, UpTapSum)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    /// The maps are affine in (y, bias), so the gradients must be their adjoints:
    /// <f(y, b) − f(0, b), g> = <y, ∂y> and <f(0, b), g> = <b, ∂b> for random y, b, g.
    #[test]
    fn backward_is_the_adjoint_of_forward() -> Result<()> {
        let dev = Device::Cpu;
        type Op = Box<dyn Fn(&Tensor, &Tensor) -> Result<Tensor>>;
        type Dims5 = (usize, usize, usize, usize, usize);
        let cases: Vec<(Op, Dims5)> = vec![
            (Box::new(|y, b| tap_sum(y, b, 3)), (2, 3, 9, 6, 7)),
            (Box::new(|y, b| tap_sum(y, b, 2)), (1, 2, 4, 3, 5)),
            (Box::new(up_tap_sum), (2, 3, 9, 4, 5)),
        ];
        let dot =
            |a: &Tensor, b: &Tensor| -> Result<f32> { (a * b)?.sum_all()?.to_scalar::<f32>() };
        for (f, shape) in cases {
            let y = Var::randn(0f32, 1.0, shape, &dev)?;
            let bias = Var::randn(0f32, 1.0, shape.1, &dev)?;
            let out = f(y.as_tensor(), bias.as_tensor())?;
            let out0 = f(&y.as_tensor().zeros_like()?, bias.as_tensor())?;
            let g = Tensor::randn(0f32, 1.0, out.shape(), &dev)?;
            let grads = (&out * &g)?.sum_all()?.backward()?;
            let (lhs_y, rhs_y) = (
                dot(&(&out - &out0)?, &g)?,
                dot(y.as_tensor(), grads.get(&y).unwrap())?,
            );
            assert!(
                (lhs_y - rhs_y).abs() < 1e-3 * (1.0 + lhs_y.abs()),
                "{lhs_y} vs {rhs_y}"
            );
            let (lhs_b, rhs_b) = (
                dot(&out0, &g)?,
                dot(bias.as_tensor(), grads.get(&bias).unwrap())?,
            );
            assert!(
                (lhs_b - rhs_b).abs() < 1e-3 * (1.0 + lhs_b.abs()),
                "{lhs_b} vs {rhs_b}"
            );
        }
        Ok(())
    }
}
