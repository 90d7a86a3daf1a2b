//! The training losses. Flows are supervised by the renderer's exact ground truth (end-point
//! error) where the paper, lacking it, used a sampling-correctness loss on VGG features.

use candle_core::{Result, Tensor, D};

/// Mean end-point error of `flow` (B, 2, h, w) against `gt`, each pixel weighted by
/// `0.2 + person` so the figure, where flows are hard, dominates the easy static background.
pub fn flow_epe(flow: &Tensor, gt: &Tensor, person: &Tensor) -> Result<Tensor> {
    let epe = ((flow - gt)?.sqr()?.sum_keepdim(1)? + 1e-6)?.sqrt()?;
    let w = (person + 0.2)?;
    (epe * &w)?.sum_all()?.broadcast_div(&w.sum_all()?)
}

/// Binary cross-entropy of the predicted occlusion mask (B, 1, h, w) in (0, 1) against the
/// visibility: 1 where the target point is visible in the source.
pub fn mask_bce(mask: &Tensor, visibility: &Tensor) -> Result<Tensor> {
    let m = mask.clamp(1e-6f32, 1.0 - 1e-6)?;
    let pos = (visibility * m.log()?)?;
    let neg = (visibility.affine(-1.0, 1.0)? * m.affine(-1.0, 1.0)?.log()?)?;
    (pos + neg)?.mean_all()?.neg()
}

/// Mean absolute difference.
pub fn l1(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    (a - b)?.abs()?.mean_all()
}

/// Mean absolute difference of images (B, C, H, W) over the pixels of `region` (B, 1, H, W),
/// each weighted by it; the denominator has 1 added, so an empty region gives 0.
pub fn l1_region(a: &Tensor, b: &Tensor, region: &Tensor) -> Result<Tensor> {
    let c = a.dim(1)? as f64;
    let sum = (a - b)?.abs()?.broadcast_mul(region)?.sum_all()?;
    sum.broadcast_div(&(region.sum_all()?.affine(c, 1.0)?))
}

/// Feature matching: mean L1 between discriminator features of the fake and (constant) real
/// images, averaged over the blocks.
pub fn feature_matching(fake: &[Tensor], real: &[Tensor]) -> Result<Tensor> {
    let mut total = Tensor::new(0f32, fake[0].device())?;
    for (f, r) in fake.iter().zip(real) {
        total = (total + l1(f, &r.detach())?)?;
    }
    total.affine(1.0 / fake.len().max(1) as f64, 0.0)
}

/// Least-squares GAN (as GFLA's `lsgan` mode): the mean of (logits − target)².
pub fn lsgan(logits: &Tensor, target: f64) -> Result<Tensor> {
    (logits - target)?.sqr()?.mean_all()
}

/// Scalar value of a loss tensor.
pub fn value(t: &Tensor) -> Result<f32> {
    t.to_dtype(candle_core::DType::F32)?.to_scalar::<f32>()
}

/// Per-sample mean absolute error (B,) for logging per-pair quality.
pub fn l1_per_sample(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    (a - b)?.abs()?.flatten_from(1)?.mean(D::Minus1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn epe_and_bce_match_hand_values() -> Result<()> {
        let dev = Device::Cpu;
        // Flow off by (3, 4) everywhere: EPE 5 whatever the weights.
        let gt = Tensor::zeros((1, 2, 2, 2), candle_core::DType::F32, &dev)?;
        let flow = Tensor::cat(
            &[
                Tensor::full(3f32, (1, 1, 2, 2), &dev)?,
                Tensor::full(4f32, (1, 1, 2, 2), &dev)?,
            ],
            1,
        )?;
        let person = Tensor::new(&[[[[1f32, 0.0], [0.0, 0.5]]]], &dev)?;
        assert!((value(&flow_epe(&flow, &gt, &person)?)? - 5.0).abs() < 1e-4);
        // BCE of 0.5 against anything is ln 2; of a perfect mask ~0.
        let half = Tensor::full(0.5f32, (1, 1, 2, 2), &dev)?;
        assert!((value(&mask_bce(&half, &person)?)? - std::f32::consts::LN_2).abs() < 1e-5);
        let vis = Tensor::new(&[[[[1f32, 0.0], [0.0, 1.0]]]], &dev)?;
        assert!(value(&mask_bce(&vis, &vis)?)? < 1e-4);
        assert!((value(&lsgan(&half, 1.0)?)? - 0.25).abs() < 1e-6);
        // Off by 1 in 3 channels on the 2 region pixels: 6 over 2·3 values (+1, which keeps an
        // empty region at 0).
        let ones = Tensor::ones((1, 3, 2, 2), candle_core::DType::F32, &dev)?;
        let zeros = ones.zeros_like()?;
        assert!((value(&l1_region(&ones, &zeros, &vis)?)? - 6.0 / 7.0).abs() < 1e-6);
        assert_eq!(value(&l1_region(&ones, &zeros, &vis.zeros_like()?)?)?, 0.0);
        Ok(())
    }
}
