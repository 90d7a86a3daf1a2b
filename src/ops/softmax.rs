//! Row softmax for inference on the CPU, with an exponential the compiler vectorises.
//!
//! PoNA's attention is a softmax over rows of 2 816 logits (six 2816×2816 matrices per pass):
//! candle's fused kernel calls the scalar `expf` per element, ~200 ms per PoNA pass here.
//! [`exp`] is a branch-free Cody–Waite reduction with a degree-7 polynomial (relative error
//! < 2e-7 over the range a softmax meets; arguments below −87 give e^−87 ≈ 1.6e−38, nothing
//! next to the row's maximum's 1), so the row loops vectorise — 16 lanes at a time in the
//! AVX-512 build of the row function, 8 in the AVX2 one, picked at run time. No gradient: tracked tensors keep
//! candle's composed softmax.

use crate::ops::simd::Isa;
use candle_core::{CpuStorage, CustomOp1, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

/// `e^x` for `x ≤ 0` (softmax arguments after the max is subtracted), clamped at −87.
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    // ln 2 split in a part exact in few bits and the rest, so x − k·ln2 loses nothing.
    const LN2_HI: f32 = 0.693_145_75;
    const LN2_LO: f32 = 1.428_606_8e-6;
    // Adding and removing 1.5·2^23 rounds to the nearest integer in plain f32 arithmetic
    // (no libm call, so the loop vectorises).
    const ROUND: f32 = 12_582_912.0;
    let x = x.max(-87.0);
    let k = (x * LOG2E + ROUND) - ROUND;
    let r = (x - k * LN2_HI) - k * LN2_LO;
    // e^r on |r| ≤ ln2/2: Taylor to degree 7 (truncation < 6e-9 relative).
    let p = 1.0
        + r * (1.0
            + r * (0.5
                + r * (1.0 / 6.0
                    + r * (1.0 / 24.0
                        + r * (1.0 / 120.0 + r * (1.0 / 720.0 + r * (1.0 / 5040.0)))))));
    // 2^k through the exponent bits (k in [−126, 0] here).
    let scale = f32::from_bits(((k as i32 + 127) as u32) << 23);
    p * scale
}

/// Softmax of one row `x` into `y`, in the vectors of [`crate::ops::simd::isa`].
fn softmax_row(x: &[f32], y: &mut [f32]) {
    softmax_row_on(crate::ops::simd::isa(), x, y)
}

/// One row in the build of `isa` (all sum in one order: the same bits; the portable build is
/// the NEON one on AArch64, where NEON is the baseline).
fn softmax_row_on(isa: Isa, x: &[f32], y: &mut [f32]) {
    match isa {
        // SAFETY: `isa` is supported (the `simd` module's choice, or the tests' filter).
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => unsafe { softmax_row_avx512(x, y) },
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => unsafe { softmax_row_avx2(x, y) },
        _ => softmax_row_body(x, y),
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn softmax_row_avx512(x: &[f32], y: &mut [f32]) {
    softmax_row_body(x, y)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn softmax_row_avx2(x: &[f32], y: &mut [f32]) {
    softmax_row_body(x, y)
}

/// Max, exp and sum, scale; each a loop over 16 independent lanes so it vectorises.
#[inline(always)]
fn softmax_row_body(x: &[f32], y: &mut [f32]) {
    let mut lanes = [f32::NEG_INFINITY; 16];
    let chunks = x.chunks_exact(16);
    let mut max = chunks
        .remainder()
        .iter()
        .copied()
        .fold(f32::NEG_INFINITY, f32::max);
    for ch in chunks {
        for (l, &v) in lanes.iter_mut().zip(ch) {
            *l = if v > *l { v } else { *l };
        }
    }
    max = lanes.iter().copied().fold(max, f32::max);
    let mut sums = [0f32; 16];
    let mut tail = 0f32;
    let mut ys = y.chunks_exact_mut(16);
    let mut xs = x.chunks_exact(16);
    for (yc, xc) in (&mut ys).zip(&mut xs) {
        for ((s, o), &v) in sums.iter_mut().zip(yc.iter_mut()).zip(xc) {
            *o = exp(v - max);
            *s += *o;
        }
    }
    for (o, &v) in ys.into_remainder().iter_mut().zip(xs.remainder()) {
        *o = exp(v - max);
        tail += *o;
    }
    let inv = 1.0 / (sums.iter().sum::<f32>() + tail);
    y.iter_mut().for_each(|v| *v *= inv);
}

struct Softmax;

impl CustomOp1 for Softmax {
    fn name(&self) -> &'static str {
        "softmax-rows"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = super::f32_slice(s, l, self.name())?;
        let n = l.shape().dims().last().copied().unwrap_or(0);
        if n == 0 {
            candle_core::bail!("softmax-rows: empty rows in {:?}", l.shape());
        }
        // Every row is written whole by the exponential pass of `softmax_row`.
        let mut y = super::alloc::output_buffer(x.len());
        y.par_chunks_mut(n)
            .zip(x.par_chunks(n))
            .for_each(|(y, x)| softmax_row(x, y));
        Ok((CpuStorage::F32(y), l.shape().clone()))
    }
}

/// Softmax over the last dimension (CPU, f32, no gradient).
pub fn softmax_last_dim(x: &Tensor) -> Result<Tensor> {
    x.contiguous()?.apply_op1_no_bwd(&Softmax)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn exp_matches_std_over_the_softmax_range() {
        let mut worst = 0f64;
        for i in 0..=200_000 {
            let x = -87.0 * i as f32 / 200_000.0;
            let (got, want) = (exp(x) as f64, (x as f64).exp());
            worst = worst.max((got - want).abs() / want);
        }
        assert!(worst < 2e-7, "relative error {worst}");
        assert_eq!(exp(-100.0), exp(-87.0));
        assert_eq!(exp(0.0), 1.0);
    }

    #[test]
    fn softmax_matches_candle() -> Result<()> {
        let dev = Device::Cpu;
        for shape in [(3, 7), (2, 2816), (5, 33)] {
            let x = (Tensor::randn(0f32, 1.0, shape, &dev)? * 30.0)?;
            let want = candle_nn::ops::softmax_last_dim(&x)?;
            let got = softmax_last_dim(&x)?;
            let d = (got - want)?.abs()?.max_all()?.to_scalar::<f32>()?;
            assert!(d < 1e-6, "{shape:?}: {d}");
        }
        Ok(())
    }

    /// Every build this CPU runs gives the portable build's bits (lanes summed in one order).
    #[test]
    fn every_build_gives_the_same_bits() -> Result<()> {
        let x = (Tensor::randn(0f32, 1.0, 2816 + 5, &Device::Cpu)? * 30.0)?.to_vec1::<f32>()?;
        let mut want = vec![0f32; x.len()];
        softmax_row_on(Isa::Portable, &x, &mut want);
        for isa in crate::ops::simd::testable() {
            let mut got = vec![f32::NAN; x.len()];
            softmax_row_on(isa, &x, &mut got);
            assert_eq!(got, want, "{isa:?}");
        }
        Ok(())
    }
}
