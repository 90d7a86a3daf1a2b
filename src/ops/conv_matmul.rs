//! Differentiable convolutions as one matrix product and a tap sum, for training on the CPU.
//!
//! candle's CPU `conv2d` is differentiable, but its input gradient is a `conv_transpose2d`,
//! which candle computes as a direct loop at ~16 GFLOP/s: at 256×192 that was the largest
//! single cost of a training step (the discriminator's convs and the encoders' stride-2
//! ones). Here a stride-1 k×k conv is `W (cout·k², cin) × X (cin, Hp·Wp)` followed by the
//! k² shifted adds of [`tap_sum`], and a stride-2 conv is the same over the input's four
//! phases (space-to-depth), so every backward pass is a matrix product or a tap scatter. On
//! CPUs with a SIMD tile (AVX-512, AVX2+FMA, NEON), [`conv`] takes the direct kernel with its own backward instead.

use super::tap_sum;
use candle_core::{Result, Tensor};

/// A PyTorch `Conv2d` weight (cout, cin, k, k) as the rows [`conv_rows`] takes: (cout·k², cin),
/// ordered (out channel, ky, kx).
pub fn weight_rows(w: &Tensor) -> Result<Tensor> {
    let (cout, cin, kh, kw) = w.dims4()?;
    if kh != kw {
        candle_core::bail!("weight_rows: a {kh}×{kw} kernel is not square");
    }
    w.permute((0, 2, 3, 1))?.reshape((cout * kh * kw, cin))
}

/// `Conv2d(stride 1, padding pad)` of `x` (B, cin, H, W) with `rows` from [`weight_rows`].
pub fn conv_rows(x: &Tensor, rows: &Tensor, bias: &Tensor, k: usize, pad: usize) -> Result<Tensor> {
    let (b, cin, h, w) = x.dims4()?;
    let p = pad;
    let cout = bias.dim(0)?;
    let (hp, wp) = (h + 2 * p, w + 2 * p);
    if hp < k || wp < k || rows.dims() != [cout * k * k, cin] {
        candle_core::bail!(
            "{k}×{k} conv of {:?} weight rows on a {cin}×{h}×{w} map with padding {p}",
            rows.dims()
        );
    }
    let xp = if p > 0 {
        x.pad_with_zeros(2, p, p)?.pad_with_zeros(3, p, p)?
    } else {
        x.clone()
    };
    let y = rows
        .broadcast_matmul(&xp.reshape((b, cin, hp * wp))?)?
        .reshape((b, cout, k * k, hp, wp))?;
    tap_sum(&y, bias, k)
}

/// Whether [`conv`] of `x` with a k×k kernel and padding `pad` takes the direct kernel with its
/// own backward ([`super::tap_conv::train`]): f32 on a CPU that runs it.
pub fn direct_trains(x: &Tensor, k: usize, pad: usize) -> bool {
    x.device().is_cpu()
        && x.dtype() == candle_core::DType::F32
        && pad < k
        && super::tap_conv::available()
}

/// `Conv2d(stride 1, padding pad)` of `x` with the PyTorch weight `w` (cout, cin, k, k),
/// differentiable: the direct kernel with its own backward where [`direct_trains`], the
/// matrix product and tap sum elsewhere.
pub fn conv(x: &Tensor, w: &Tensor, bias: &Tensor, pad: usize) -> Result<Tensor> {
    let (_, _, k, _) = w.dims4()?;
    if direct_trains(x, k, pad) {
        return super::tap_conv::train::conv2d(x, w, bias, pad);
    }
    conv_rows(x, &weight_rows(w)?, bias, k, pad)
}

/// Pads (or, by one, crops) `x` along `dim` to `before + n + after` with `after` possibly −1.
fn pad_or_crop(x: &Tensor, dim: usize, before: usize, after: isize) -> Result<Tensor> {
    let n = x.dim(dim)?;
    if after >= 0 {
        x.pad_with_zeros(dim, before, after as usize)
    } else {
        x.narrow(dim, 0, n - after.unsigned_abs())?
            .pad_with_zeros(dim, before, 0)
    }
}

/// (…, 2m, 2n) → (… ·4, m, n): plane `4c + 2a + b` holds `t[c][2i + a][2j + b]`.
fn phases(t: &Tensor) -> Result<Tensor> {
    let (b, c, h, w) = t.dims4()?;
    t.reshape((b, c, h / 2, 2, w / 2, 2))?
        .permute((0, 1, 3, 5, 2, 4))?
        .reshape((b, c * 4, h / 2, w / 2))
}

/// `Conv2d(stride 2, padding pad)` of `x` (B, cin, H, W) with the PyTorch weight `w`
/// (cout, cin, k, k): a stride-1 ⌈k/2⌉-tap conv over the four phases of the padded input
/// (the weight zero-padded to an even size and split the same way). Any H and W.
pub fn conv_stride2(x: &Tensor, w: &Tensor, bias: &Tensor, pad: usize) -> Result<Tensor> {
    let (_, cin, h, wd) = x.dims4()?;
    let (cout, wcin, k, _) = w.dims4()?;
    if wcin != cin || h + 2 * pad < k || wd + 2 * pad < k {
        candle_core::bail!("stride-2 {k}×{k} conv of {cin}×{h}×{wd} with {wcin}-channel weights");
    }
    let kh = k.div_ceil(2);
    let (ho, wo) = ((h + 2 * pad - k) / 2 + 1, (wd + 2 * pad - k) / 2 + 1);
    // Padded so each phase has exactly ho + kh − 1 rows (wo + kh − 1 columns): the rows past
    // the last tap any output reads are dropped, missing ones are zeros.
    let (hp, wp) = (2 * (ho + kh - 1), 2 * (wo + kh - 1));
    let xp = pad_or_crop(x, 2, pad, hp as isize - (h + pad) as isize)?;
    let xp = pad_or_crop(&xp, 3, pad, wp as isize - (wd + pad) as isize)?;
    let we = w
        .pad_with_zeros(2, 0, 2 * kh - k)?
        .pad_with_zeros(3, 0, 2 * kh - k)?;
    let we = phases(&we)?.reshape((cout, cin * 4, kh, kh))?;
    conv(&phases(&xp.contiguous()?)?, &we, bias, 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::conv_check::against_candle;

    /// Values equal candle's convolution, odd sizes and odd kernels included; gradients of the
    /// input, weight and bias equal candle's where candle's are right (even sizes).
    #[test]
    fn stride2_matches_candle_values_and_gradients() -> Result<()> {
        for case in [
            (3, 5, 8, 6, 4, 1),
            (2, 3, 9, 7, 3, 1),
            (4, 2, 7, 10, 4, 1),
            (3, 4, 8, 8, 3, 0),
            (2, 2, 9, 9, 4, 0),
        ] {
            let (_, _, h, w, _, p) = case;
            let even = h % 2 == 0 && w % 2 == 0;
            against_candle(|x, wt, b| conv_stride2(x, wt, b, p), case, 2, even)?;
        }
        Ok(())
    }

    #[test]
    fn stride1_rows_match_candle_with_gradients() -> Result<()> {
        let conv = |x: &Tensor, wt: &Tensor, b: &Tensor| conv_rows(x, &weight_rows(wt)?, b, 3, 1);
        against_candle(conv, (3, 4, 7, 5, 3, 1), 1, true)
    }
}
