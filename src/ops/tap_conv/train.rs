//! A stride-1 `Conv2d` with a backward pass, on the direct kernel, for training on CPUs with
//! one of its SIMD tiles.
//!
//! The matrix-product form ([`crate::ops::conv_matmul::conv_rows`]) materialises k² planes per
//! output channel: at 256×192, batch 4, one 64-channel 3×3 layer writes, zero-fills and reads
//! back ~460 MB per step, and a training step spent more time in those element-wise passes
//! and memsets than in arithmetic. Here the forward pass is the direct kernel with the weights
//! packed per call; the input gradient is the same kernel over the zero-padded output
//! gradient with the kernel flipped and transposed; the weight gradient is one matrix product
//! per tap (output gradient × shifted input), so nothing k²-times larger than an activation
//! is ever held.

use super::{run_conv, DirectConv, Isa, Padding};
use candle_core::{CpuStorage, CustomOp3, Layout, Result, Shape, Tensor};

/// `Conv2d(stride 1, padding pad)` of `x` (B, cin, H, W) with the PyTorch weight `w` (cout,
/// cin, k, k) and `bias` (cout), differentiable in all three. CPU, f32, and only where
/// [`super::available`] (the tile of [`crate::ops::simd::isa`]).
pub fn conv2d(x: &Tensor, w: &Tensor, bias: &Tensor, pad: usize) -> Result<Tensor> {
    conv2d_on(x, w, bias, pad, crate::ops::simd::isa())
}

/// As [`conv2d`] on the tile of `isa`, forward and backward.
pub fn conv2d_on(x: &Tensor, w: &Tensor, bias: &Tensor, pad: usize, isa: Isa) -> Result<Tensor> {
    let (_, _, k, _) = w.dims4()?;
    if pad >= k {
        candle_core::bail!("direct-conv-train: padding {pad} for a {k}×{k} kernel");
    }
    x.contiguous()?.apply_op3(
        &w.contiguous()?,
        &bias.contiguous()?,
        TrainConv { pad, isa },
    )
}

struct TrainConv {
    pad: usize,
    isa: Isa,
}

/// The weight's (cout, cin, k), checked square and against the number of its values.
fn weight(w: &[f32], l: &Layout) -> Result<(usize, usize, usize)> {
    let (cout, cin, k, k2) = l.shape().dims4()?;
    if k != k2 || w.len() != cout * cin * k * k {
        candle_core::bail!("direct-conv-train: weight {:?}", l.shape());
    }
    Ok((cout, cin, k))
}

impl CustomOp3 for TrainConv {
    fn name(&self) -> &'static str {
        "direct-conv-train"
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
        let w = crate::ops::f32_slice(s2, l2, self.name())?;
        let bias = crate::ops::f32_slice(s3, l3, self.name())?;
        let (cout, cin, k) = weight(w, l2)?;
        let pad = Padding::zero(self.pad);
        let conv = DirectConv::new_on(w, (cout, cin, k), 1, pad, bias.to_vec(), self.isa)?;
        run_conv(&conv, pad, s1, l1)
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        _bias: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let (cout, cin, k, _) = w.dims4()?;
        let (b, _, ho, wo) = grad.dims4()?;
        let p = self.pad;
        let grad = grad.contiguous()?;
        // dx[ci][y][x] = Σ_{co, ky, kx} g[co][y − ky + p][x − kx + p] · w[co][ci][ky][kx]: a
        // convolution of g, padded by k − 1 − p, with w flipped in space and transposed.
        let wv = w.flatten_all()?.to_vec1::<f32>()?;
        let mut flipped = vec![0f32; wv.len()];
        for co in 0..cout {
            for ci in 0..cin {
                for t in 0..k * k {
                    flipped[(ci * cout + co) * k * k + (k * k - 1 - t)] =
                        wv[(co * cin + ci) * k * k + t];
                }
            }
        }
        let back = DirectConv::new_on(
            &flipped,
            (cin, cout, k),
            1,
            Padding::zero(k - 1 - p),
            vec![0.0; cin],
            self.isa,
        )?;
        let dx = back.forward(&grad)?;
        // dw[co][ci][ky][kx] = Σ_{b, y, x} g[b][co][y][x] · xp[b][ci][y + ky][x + kx]: per tap,
        // (cout × HW) · (HW × cin), summed over the batch.
        let xp = if p > 0 {
            x.pad_with_zeros(2, p, p)?.pad_with_zeros(3, p, p)?
        } else {
            x.clone()
        };
        let g2 = grad.reshape((b, cout, ho * wo))?;
        let mut taps = Vec::with_capacity(k * k);
        for ky in 0..k {
            for kx in 0..k {
                let xs = xp
                    .narrow(2, ky, ho)?
                    .narrow(3, kx, wo)?
                    .contiguous()?
                    .reshape((b, cin, ho * wo))?;
                taps.push(g2.matmul(&xs.t()?)?.sum(0)?);
            }
        }
        let dw = Tensor::stack(&taps, 2)?.reshape((cout, cin, k, k))?;
        let db = crate::ops::conv_taps::channel_sums(&grad)?;
        Ok((Some(dx), Some(dw), Some(db)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::conv_check::against_candle;

    /// Values and the gradients of input, weight and bias equal candle's convolution's on
    /// every tile this CPU runs, for kernels 1, 3, 4 (even), paddings 0 to k − 1, channel
    /// counts off the 8-wide blocks and 6-wide AVX2 tiles, widths past a tile.
    #[test]
    fn matches_candle_values_and_gradients() -> Result<()> {
        for isa in crate::ops::simd::testable() {
            for case in [
                (3, 5, 7, 9, 3, 1),
                (9, 2, 6, 5, 3, 0),
                (4, 11, 8, 6, 1, 0),
                (5, 3, 9, 8, 4, 2),
                (2, 17, 5, 40, 3, 2),
                (6, 7, 4, 29, 3, 1),
            ] {
                let p = case.5;
                against_candle(|x, w, b| conv2d_on(x, w, b, p, isa), case, 1, true)?;
            }
        }
        Ok(())
    }
}
