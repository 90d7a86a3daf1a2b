//! Image, flow and mask metrics. All return `Result<f64, MetricError>`: they are called with
//! user data, so mismatched or empty inputs are reported (with both sizes), never panicked on.
//!
//! * [`psnr`] — dB with peak 255 over all R, G, B values; `f64::INFINITY` for identical images.
//! * [`ssim`] — Wang et al. 2004 with the usual constants: an 11×11 Gaussian window of σ 1.5
//!   (normalised to sum 1), K1 = 0.01, K2 = 0.03, L = 255, population (not sample) statistics.
//!   The SSIM map is computed per channel at every *valid* position (the window entirely inside
//!   the image, no padding: an (H−10)×(W−10) map), averaged, and the three channel means are
//!   averaged. Along a side shorter than 11 px the window is truncated to that side (the
//!   centred taps of the same Gaussian, renormalised), leaving one position along it. This is
//!   what `skimage.metrics.structural_similarity(gaussian_weights=True, sigma=1.5,
//!   use_sample_covariance=False, data_range=255, channel_axis=-1)` computes for images of at
//!   least 11 px (it crops the padded border off the map).
//! * [`psnr_masked`] — the same over the pixels of a mask only.
//! * [`l1`] — mean absolute difference of all values, in [0, 1] units (÷ 255).
//! * [`epe`] — mean Euclidean end-point error of two flows, optionally weighted per pixel.
//! * [`mask_iou`] — IoU of two thresholded maps; 1 when both are empty.

use image::{GrayImage, RgbImage};

use crate::imaging::FlowField;

/// Why a metric could not be computed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MetricError {
    #[error("image sizes differ: {a_width}×{a_height} vs {b_width}×{b_height}")]
    ImageSize {
        a_width: u32,
        a_height: u32,
        b_width: u32,
        b_height: u32,
    },
    #[error("flow sizes differ: prediction {pred_width}×{pred_height} vs ground truth {gt_width}×{gt_height}")]
    FlowSize {
        pred_width: usize,
        pred_height: usize,
        gt_width: usize,
        gt_height: usize,
    },
    #[error(
        "malformed {which} flow: {len} values for {width}×{height} (expected 2·H·W = {expected})"
    )]
    FlowData {
        which: &'static str,
        len: usize,
        width: usize,
        height: usize,
        expected: usize,
    },
    #[error("region has {len} values for an image of {expected} pixels")]
    Region { len: usize, expected: usize },
    #[error("weight map has {len} values but the flow is {width}×{height} ({expected} pixels)")]
    WeightSize {
        len: usize,
        width: usize,
        height: usize,
        expected: usize,
    },
    #[error("weights sum to {0}, so the weighted mean is undefined (weights must be ≥ 0 with a positive sum)")]
    WeightSum(f64),
    #[error("mask sizes differ: prediction has {pred} values, ground truth {gt}")]
    MaskSize { pred: usize, gt: usize },
    #[error("{0} is empty (no pixels)")]
    Empty(&'static str),
}

fn check_images(a: &RgbImage, b: &RgbImage) -> Result<(), MetricError> {
    if a.dimensions() != b.dimensions() {
        return Err(MetricError::ImageSize {
            a_width: a.width(),
            a_height: a.height(),
            b_width: b.width(),
            b_height: b.height(),
        });
    }
    if a.width() == 0 || a.height() == 0 {
        return Err(MetricError::Empty("the image"));
    }
    Ok(())
}

/// Peak signal-to-noise ratio in dB (peak 255, MSE over all channels); `f64::INFINITY` for
/// identical images.
pub fn psnr(a: &RgbImage, b: &RgbImage) -> Result<f64, MetricError> {
    check_images(a, b)?;
    let (a, b) = (a.as_raw(), b.as_raw());
    let sse: f64 = a
        .iter()
        .zip(b)
        .map(|(&x, &y)| (x as f64 - y as f64).powi(2))
        .sum();
    if sse == 0.0 {
        return Ok(f64::INFINITY);
    }
    let mse = sse / a.len() as f64;
    Ok(10.0 * (255.0f64 * 255.0 / mse).log10())
}

/// [`psnr`] over the pixels where `mask` is > 127 only (e.g. a filled hole: the rest is
/// identical by construction and would only dilute the error).
pub fn psnr_masked(a: &RgbImage, b: &RgbImage, mask: &GrayImage) -> Result<f64, MetricError> {
    check_images(a, b)?;
    if mask.dimensions() != a.dimensions() {
        return Err(MetricError::ImageSize {
            a_width: a.width(),
            a_height: a.height(),
            b_width: mask.width(),
            b_height: mask.height(),
        });
    }
    let region: Vec<f32> = mask
        .pixels()
        .map(|m| if m[0] > 127 { 1.0 } else { 0.0 })
        .collect();
    psnr_region(a, b, &region)?.ok_or(MetricError::Empty("the mask"))
}

/// Mean absolute difference over all values, in [0, 1] units.
pub fn l1(a: &RgbImage, b: &RgbImage) -> Result<f64, MetricError> {
    check_images(a, b)?;
    let (a, b) = (a.as_raw(), b.as_raw());
    let sum: f64 = a
        .iter()
        .zip(b)
        .map(|(&x, &y)| (x as f64 - y as f64).abs())
        .sum();
    Ok(sum / a.len() as f64 / 255.0)
}

/// SSIM window side (and the Gaussian's σ).
const SSIM_WIN: usize = 11;
const SSIM_SIGMA: f64 = 1.5;

/// The normalised 1-D Gaussian taps for a window of `len ≤ 11` (centred, truncated).
fn gaussian_taps(len: usize) -> Vec<f64> {
    let centre = (len as f64 - 1.0) / 2.0;
    let g: Vec<f64> = (0..len)
        .map(|i| (-(i as f64 - centre).powi(2) / (2.0 * SSIM_SIGMA * SSIM_SIGMA)).exp())
        .collect();
    let s: f64 = g.iter().sum();
    g.into_iter().map(|v| v / s).collect()
}

/// Valid ('no padding') separable filtering of an h×w plane: (h−kh+1)×(w−kw+1).
fn filter_valid(plane: &[f64], h: usize, w: usize, gy: &[f64], gx: &[f64]) -> Vec<f64> {
    let (oh, ow) = (h - gy.len() + 1, w - gx.len() + 1);
    let mut rows = vec![0.0; h * ow];
    for y in 0..h {
        for x in 0..ow {
            rows[y * ow + x] = gx
                .iter()
                .enumerate()
                .map(|(i, g)| g * plane[y * w + x + i])
                .sum();
        }
    }
    let mut out = vec![0.0; oh * ow];
    for y in 0..oh {
        for x in 0..ow {
            out[y * ow + x] = gy
                .iter()
                .enumerate()
                .map(|(i, g)| g * rows[(y + i) * ow + x])
                .sum();
        }
    }
    out
}

/// Structural similarity (Wang et al. 2004), mean over valid window positions and channels;
/// see the module documentation for the exact definition.
pub fn ssim(a: &RgbImage, b: &RgbImage) -> Result<f64, MetricError> {
    let (map, _, _) = ssim_map(a, b)?;
    Ok(map.iter().sum::<f64>() / map.len() as f64)
}

/// SSIM averaged over the windows whose centre pixel `region` selects (H·W, row-major, > 0.5
/// selects); `None` when it selects no window.
pub fn ssim_region(a: &RgbImage, b: &RgbImage, region: &[f32]) -> Result<Option<f64>, MetricError> {
    check_region(a, region)?;
    let (map, oh, ow) = ssim_map(a, b)?;
    let w = a.width() as usize;
    let (h_off, w_off) = ((a.height() as usize - oh) / 2, (w - ow) / 2);
    let (mut sum, mut n) = (0.0, 0usize);
    for y in 0..oh {
        for x in 0..ow {
            if region[(y + h_off) * w + x + w_off] > 0.5 {
                sum += map[y * ow + x];
                n += 1;
            }
        }
    }
    Ok((n > 0).then(|| sum / n as f64))
}

/// PSNR over the pixels `region` selects (H·W, > 0.5 selects); `None` when it selects none,
/// `f64::INFINITY` when they are identical there.
pub fn psnr_region(a: &RgbImage, b: &RgbImage, region: &[f32]) -> Result<Option<f64>, MetricError> {
    check_images(a, b)?;
    check_region(a, region)?;
    let (mut sse, mut n) = (0f64, 0usize);
    for ((p, q), &r) in a.pixels().zip(b.pixels()).zip(region) {
        if r > 0.5 {
            for c in 0..3 {
                sse += (p[c] as f64 - q[c] as f64).powi(2);
            }
            n += 3;
        }
    }
    Ok(if n == 0 {
        None
    } else if sse == 0.0 {
        Some(f64::INFINITY)
    } else {
        Some(10.0 * (255.0f64 * 255.0 / (sse / n as f64)).log10())
    })
}

fn check_region(a: &RgbImage, region: &[f32]) -> Result<(), MetricError> {
    let expected = a.width() as usize * a.height() as usize;
    if region.len() != expected {
        return Err(MetricError::Region {
            len: region.len(),
            expected,
        });
    }
    Ok(())
}

/// The SSIM map (mean over the channels) over the valid window positions, and its size.
fn ssim_map(a: &RgbImage, b: &RgbImage) -> Result<(Vec<f64>, usize, usize), MetricError> {
    check_images(a, b)?;
    let (w, h) = (a.width() as usize, a.height() as usize);
    let gx = gaussian_taps(SSIM_WIN.min(w));
    let gy = gaussian_taps(SSIM_WIN.min(h));
    let (oh, ow) = (h - gy.len() + 1, w - gx.len() + 1);
    let c1 = (0.01f64 * 255.0).powi(2);
    let c2 = (0.03f64 * 255.0).powi(2);
    let mut total = vec![0.0; oh * ow];
    for c in 0..3 {
        let pa: Vec<f64> = a
            .as_raw()
            .iter()
            .skip(c)
            .step_by(3)
            .map(|&v| v as f64)
            .collect();
        let pb: Vec<f64> = b
            .as_raw()
            .iter()
            .skip(c)
            .step_by(3)
            .map(|&v| v as f64)
            .collect();
        let prod =
            |p: &[f64], q: &[f64]| -> Vec<f64> { p.iter().zip(q).map(|(x, y)| x * y).collect() };
        let f = |p: &[f64]| filter_valid(p, h, w, &gy, &gx);
        let (mu_a, mu_b) = (f(&pa), f(&pb));
        let (e_aa, e_bb, e_ab) = (f(&prod(&pa, &pa)), f(&prod(&pb, &pb)), f(&prod(&pa, &pb)));
        for (i, t) in total.iter_mut().enumerate() {
            let (ma, mb) = (mu_a[i], mu_b[i]);
            let var_a = e_aa[i] - ma * ma;
            let var_b = e_bb[i] - mb * mb;
            let cov = e_ab[i] - ma * mb;
            *t += (2.0 * ma * mb + c1) * (2.0 * cov + c2)
                / ((ma * ma + mb * mb + c1) * (var_a + var_b + c2))
                / 3.0;
        }
    }
    Ok((total, oh, ow))
}

fn check_flow(f: &FlowField, which: &'static str) -> Result<(), MetricError> {
    let expected = 2 * f.height * f.width;
    if f.data.len() != expected {
        return Err(MetricError::FlowData {
            which,
            len: f.data.len(),
            width: f.width,
            height: f.height,
            expected,
        });
    }
    Ok(())
}

/// Mean end-point error `‖pred − gt‖₂` over the pixels, or its `weight`-weighted mean
/// (`Σ wᵢ eᵢ / Σ wᵢ`, one non-negative weight per pixel, row-major H·W; e.g. a person mask).
pub fn epe(pred: &FlowField, gt: &FlowField, weight: Option<&[f32]>) -> Result<f64, MetricError> {
    check_flow(pred, "predicted")?;
    check_flow(gt, "ground-truth")?;
    if (pred.height, pred.width) != (gt.height, gt.width) {
        return Err(MetricError::FlowSize {
            pred_width: pred.width,
            pred_height: pred.height,
            gt_width: gt.width,
            gt_height: gt.height,
        });
    }
    let plane = pred.height * pred.width;
    if plane == 0 {
        return Err(MetricError::Empty("the flow"));
    }
    if let Some(w) = weight {
        if w.len() != plane {
            return Err(MetricError::WeightSize {
                len: w.len(),
                width: pred.width,
                height: pred.height,
                expected: plane,
            });
        }
    }
    let err = |i: usize| {
        let dx = pred.data[i] as f64 - gt.data[i] as f64;
        let dy = pred.data[plane + i] as f64 - gt.data[plane + i] as f64;
        dx.hypot(dy)
    };
    match weight {
        None => Ok((0..plane).map(err).sum::<f64>() / plane as f64),
        Some(w) => {
            let total: f64 = w.iter().map(|&v| v as f64).sum();
            if total.is_nan() || total <= 0.0 || w.iter().any(|&v| v < 0.0) {
                return Err(MetricError::WeightSum(total));
            }
            Ok((0..plane).map(|i| w[i] as f64 * err(i)).sum::<f64>() / total)
        }
    }
}

/// Intersection over union of `pred > threshold` and `gt > threshold` (two maps of the same
/// length); 1.0 when both are empty.
pub fn mask_iou(pred: &[f32], gt: &[f32], threshold: f32) -> Result<f64, MetricError> {
    if pred.len() != gt.len() {
        return Err(MetricError::MaskSize {
            pred: pred.len(),
            gt: gt.len(),
        });
    }
    let (mut inter, mut union) = (0usize, 0usize);
    for (&p, &g) in pred.iter().zip(gt) {
        let (p, g) = (p > threshold, g > threshold);
        inter += (p && g) as usize;
        union += (p || g) as usize;
    }
    Ok(if union == 0 {
        1.0
    } else {
        inter as f64 / union as f64
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn constant(w: u32, h: u32, v: u8) -> RgbImage {
        RgbImage::from_pixel(w, h, image::Rgb([v; 3]))
    }

    fn close(a: f64, b: f64, tol: f64) {
        assert!((a - b).abs() < tol, "{a} vs {b}");
    }

    fn ramp() -> RgbImage {
        RgbImage::from_fn(20, 15, |x, y| {
            image::Rgb([(x * 10) as u8, (y * 12 + 3) as u8, ((x * y) % 200) as u8])
        })
    }

    const C1: f64 = 6.5025; // (0.01·255)²
    const C2: f64 = 58.5225; // (0.03·255)²

    #[test]
    fn psnr_of_constant_difference_and_identity() {
        let a = ramp();
        let b = RgbImage::from_fn(20, 15, |x, y| {
            image::Rgb(a.get_pixel(x, y).0.map(|v| v + 10))
        });
        close(
            psnr(&a, &b).unwrap(),
            20.0 * (255.0f64 / 10.0).log10(),
            1e-9,
        );
        close(psnr(&a, &b).unwrap(), 28.1308, 1e-4);
        assert_eq!(psnr(&a, &a).unwrap(), f64::INFINITY);
        // One value off by 255 among 12 values: MSE = 255²/12 → 10·log10(12).
        let mut c = constant(2, 2, 0);
        let d = c.clone();
        c.get_pixel_mut(1, 1).0[2] = 255;
        close(psnr(&c, &d).unwrap(), 10.0 * 12f64.log10(), 1e-9);
    }

    #[test]
    fn masked_psnr_counts_only_the_mask() {
        // Off by 10 inside the left half, off by 200 outside it: only the 10s count.
        let a = constant(4, 2, 100);
        let b = RgbImage::from_fn(4, 2, |x, _| image::Rgb([if x < 2 { 110 } else { 255 }; 3]));
        let left = GrayImage::from_fn(4, 2, |x, _| image::Luma([if x < 2 { 200 } else { 100 }]));
        close(
            psnr_masked(&a, &b, &left).unwrap(),
            20.0 * (25.5f64).log10(),
            1e-9,
        );
        let none = GrayImage::new(4, 2);
        assert_eq!(
            psnr_masked(&a, &b, &none),
            Err(MetricError::Empty("the mask"))
        );
        assert!(psnr_masked(&a, &b, &GrayImage::new(3, 2)).is_err());
    }

    #[test]
    fn l1_in_unit_range() {
        let a = constant(4, 3, 100);
        let b = constant(4, 3, 151);
        close(l1(&a, &b).unwrap(), 51.0 / 255.0, 1e-12);
        assert_eq!(l1(&a, &a).unwrap(), 0.0);
        close(
            l1(&constant(2, 2, 0), &constant(2, 2, 255)).unwrap(),
            1.0,
            1e-12,
        );
    }

    #[test]
    fn ssim_identical_is_one() {
        let a = ramp();
        close(ssim(&a, &a).unwrap(), 1.0, 1e-9);
        let small = RgbImage::from_fn(5, 3, |x, y| image::Rgb([x as u8 * 40, y as u8 * 70, 9]));
        close(ssim(&small, &small).unwrap(), 1.0, 1e-9);
    }

    #[test]
    fn ssim_of_constant_images_is_the_luminance_term() {
        // σ = 0, so SSIM = (2μaμb + C1)/(μa² + μb² + C1) · C2/C2 at every position.
        let want = (2.0 * 100.0 * 110.0 + C1) / (100.0f64.powi(2) + 110.0f64.powi(2) + C1);
        close(
            ssim(&constant(16, 13, 100), &constant(16, 13, 110)).unwrap(),
            want,
            1e-9,
        );
        // Smaller than the window: truncated window, same value.
        close(
            ssim(&constant(4, 7, 100), &constant(4, 7, 110)).unwrap(),
            want,
            1e-9,
        );
        close(
            ssim(&constant(1, 1, 100), &constant(1, 1, 110)).unwrap(),
            want,
            1e-9,
        );
        // Black vs white: C1 / (255² + C1).
        close(
            ssim(&constant(12, 12, 0), &constant(12, 12, 255)).unwrap(),
            C1 / (65025.0 + C1),
            1e-9,
        );
    }

    /// An 11×11 image (exactly one window position): c + d on the right five columns, c − d on
    /// the left five, c in the middle column. The symmetric window makes μ = c exactly.
    fn halves(c: f64, d: f64) -> RgbImage {
        RgbImage::from_fn(11, 11, |x, _| {
            let s = (x as i32 - 5).signum() as f64; // −1, 0, +1
            let v = c + d * s;
            image::Rgb([v as u8; 3])
        })
    }

    #[test]
    fn ssim_small_hand_computed_cases() {
        // Shifted copy (+20): the variances and covariance are equal, so only the luminance
        // term remains: (2·100·120 + C1)/(100² + 120² + C1).
        let (a, b) = (halves(100.0, 30.0), halves(120.0, 30.0));
        let want = (2.0 * 100.0 * 120.0 + C1) / (100.0f64.powi(2) + 120.0f64.powi(2) + C1);
        close(ssim(&a, &b).unwrap(), want, 1e-9);
        // Mirrored contrast (c − d·s vs c + d·s): equal means, σa² = σb² = d²(1 − g₀) with g₀
        // the centre tap of the normalised 1-D Gaussian (the middle column's weight), and
        // σab = −σa², so SSIM = (C2 − 2σ²)/(C2 + 2σ²).
        let g0 = 1.0
            / (-5..=5)
                .map(|i: i32| (-(i * i) as f64 / 4.5).exp())
                .sum::<f64>();
        let var = 30.0f64.powi(2) * (1.0 - g0);
        let mirrored = halves(100.0, -30.0);
        let want = (C2 - 2.0 * var) / (C2 + 2.0 * var);
        close(ssim(&a, &mirrored).unwrap(), want, 1e-9);
        assert!(want < 0.0);
    }

    #[test]
    fn ssim_map_is_averaged_over_valid_positions() {
        // 12×11: two window positions (x = 0, 1). Constant 50 vs 60 except one column that is
        // only inside the first window (x = 0 column): position 1 sees constant images.
        let a = constant(12, 11, 50);
        let mut b = constant(12, 11, 60);
        for y in 0..11 {
            b.put_pixel(0, y, image::Rgb([60, 60, 60]));
        }
        let lum = (2.0 * 50.0 * 60.0 + C1) / (2500.0 + 3600.0 + C1);
        close(ssim(&a, &b).unwrap(), lum, 1e-9);
        // Now change that column: position 0 differs, position 1 keeps `lum`.
        for y in 0..11 {
            b.put_pixel(0, y, image::Rgb([200, 200, 200]));
        }
        let s = ssim(&a, &b).unwrap();
        let g = gaussian_taps(11);
        let (mb, eb2) = (60.0 + 140.0 * g[0], 3600.0 * (1.0 - g[0]) + 40000.0 * g[0]);
        let var_b = eb2 - mb * mb;
        let pos0 = (2.0 * 50.0 * mb + C1) * C2 / ((2500.0 + mb * mb + C1) * (var_b + C2));
        close(s, (pos0 + lum) / 2.0, 1e-9);
    }

    #[test]
    fn image_size_mismatch_is_an_error() {
        let e = psnr(&constant(3, 2, 0), &constant(2, 3, 0)).unwrap_err();
        assert_eq!(e.to_string(), "image sizes differ: 3×2 vs 2×3");
        assert!(ssim(&constant(3, 2, 0), &constant(3, 3, 0)).is_err());
        assert!(l1(&constant(3, 2, 0), &constant(4, 2, 0)).is_err());
        assert_eq!(
            psnr(&constant(0, 0, 0), &constant(0, 0, 0)),
            Err(MetricError::Empty("the image"))
        );
    }

    fn constant_flow(h: usize, w: usize, dx: f32, dy: f32) -> FlowField {
        let mut f = FlowField::zeros(h, w);
        for y in 0..h {
            for x in 0..w {
                f.set(x, y, dx, dy);
            }
        }
        f
    }

    #[test]
    fn epe_plain_and_weighted() {
        let gt = constant_flow(4, 5, 1.0, -2.0);
        let pred = constant_flow(4, 5, 4.0, 2.0); // (3, 4) off everywhere
        close(epe(&pred, &gt, None).unwrap(), 5.0, 1e-12);
        assert_eq!(epe(&gt, &gt, None).unwrap(), 0.0);
        // Half the pixels off by 5 (left columns x < 2: 8 pixels), the rest exact.
        let mut half = gt.clone();
        for y in 0..4 {
            for x in 0..2 {
                half.set(x, y, 4.0, 2.0);
            }
        }
        close(epe(&half, &gt, None).unwrap(), 5.0 * 8.0 / 20.0, 1e-12);
        // Weights 3 on the wrong pixels, 1 on the right ones: 5·24/(24 + 12).
        let w: Vec<f32> = (0..20).map(|i| if i % 5 < 2 { 3.0 } else { 1.0 }).collect();
        close(epe(&half, &gt, Some(&w)).unwrap(), 5.0 * 24.0 / 36.0, 1e-12);
        // A mask selecting only the wrong pixels.
        let m: Vec<f32> = (0..20).map(|i| if i % 5 < 2 { 1.0 } else { 0.0 }).collect();
        close(epe(&half, &gt, Some(&m)).unwrap(), 5.0, 1e-12);
    }

    #[test]
    fn epe_errors() {
        let a = constant_flow(4, 5, 0.0, 0.0);
        let b = constant_flow(5, 4, 0.0, 0.0);
        let e = epe(&a, &b, None).unwrap_err();
        assert_eq!(
            e.to_string(),
            "flow sizes differ: prediction 5×4 vs ground truth 4×5"
        );
        assert!(matches!(
            epe(&a, &a, Some(&[1.0; 3])),
            Err(MetricError::WeightSize { len: 3, .. })
        ));
        assert!(matches!(
            epe(&a, &a, Some(&[0.0; 20])),
            Err(MetricError::WeightSum(_))
        ));
        let mut bad = a.clone();
        bad.data.pop();
        assert!(matches!(
            epe(&bad, &a, None),
            Err(MetricError::FlowData { .. })
        ));
    }

    #[test]
    fn iou_of_half_overlapping_squares() {
        // Two 4×4 squares on an 8×8 grid, offset by 2 columns: intersection 8, union 24.
        let square = |x0: usize| -> Vec<f32> {
            (0..64)
                .map(|i| {
                    let (x, y) = (i % 8, i / 8);
                    if (x0..x0 + 4).contains(&x) && (2..6).contains(&y) {
                        0.9
                    } else {
                        0.1
                    }
                })
                .collect()
        };
        close(
            mask_iou(&square(0), &square(2), 0.5).unwrap(),
            1.0 / 3.0,
            1e-12,
        );
        assert_eq!(mask_iou(&square(0), &square(0), 0.5).unwrap(), 1.0);
        assert_eq!(mask_iou(&square(0), &square(4), 0.5).unwrap(), 0.0);
        // Both empty above the threshold.
        assert_eq!(mask_iou(&square(0), &square(2), 0.95).unwrap(), 1.0);
        // Strictly greater than the threshold.
        assert_eq!(mask_iou(&[0.5, 1.0], &[1.0, 1.0], 0.5).unwrap(), 0.5);
        assert_eq!(
            mask_iou(&[1.0; 3], &[1.0; 4], 0.5).unwrap_err().to_string(),
            "mask sizes differ: prediction has 3 values, ground truth 4"
        );
    }
}
