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

/// Standard deviation of the luma (0–255) over the 3×3 window at (x, y), clipped to the image.
pub fn local_std(img: &RgbImage, x: u32, y: u32) -> f64 {
    let (w, h) = img.dimensions();
    let (mut s, mut s2, mut n) = (0f64, 0f64, 0f64);
    for yy in y.saturating_sub(1)..=(y + 1).min(h - 1) {
        for xx in x.saturating_sub(1)..=(x + 1).min(w - 1) {
            let p = img.get_pixel(xx, yy).0;
            let l = 0.299 * p[0] as f64 + 0.587 * p[1] as f64 + 0.114 * p[2] as f64;
            (s, s2, n) = (s + l, s2 + l * l, n + 1.0);
        }
    }
    (s2 / n - (s / n).powi(2)).max(0.0).sqrt()
}

/// PSNR (dB) of a summed squared error over `n` channel values (0–255 units).
pub fn pooled_psnr(sse: f64, n: usize) -> f64 {
    let mse = sse / n.max(1) as f64;
    10.0 * (255.0f64 * 255.0 / mse.max(1e-12)).log10()
}

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
        let plane = |img: &RgbImage| -> Vec<f64> {
            img.as_raw()
                .iter()
                .skip(c)
                .step_by(3)
                .map(|&v| v as f64)
                .collect()
        };
        let (pa, pb) = (plane(a), plane(b));
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
mod tests;
