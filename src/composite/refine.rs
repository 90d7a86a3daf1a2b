//! The refiner's side of an edit: the compositor's result seen in the refiner's working crop,
//! and the refiner's correction brought back to the photo where the compositor was unsure.
//!
//! The crop is the network's tight crop around both skeletons at the working aspect (the same
//! rule for synthetic training scenes and for photos, so the refiner sees people at the scale
//! it was trained on). The correction is computed at the working size and upsampled; it is
//! added only where the gate (invented, vacated or soft-edge share) is positive: every other
//! pixel of the photo stays the compositor's, bit for bit.

use super::Composited;
use crate::imaging::{fit, FitTransform};
use crate::model::refiner::{Refiner, IN_CHANNELS};
use crate::pose::Pose;
use anyhow::{Context, Result};
use candle_core::{Device, Tensor};
use image::RgbImage;

/// One edit in the refiner's working crop.
#[derive(Clone, Debug)]
pub struct WorkingView {
    /// Photo pixels ↔ working pixels (the working frame is the working size itself).
    pub crop: FitTransform,
    pub hw: (usize, usize),
    pub composite: RgbImage,
    pub source: RgbImage,
    /// 4·H·W: person alpha, vacated share, invented share, moved edge band (all in [0, 1]).
    pub layers: Vec<f32>,
    /// The target skeleton in working pixels.
    pub target: Pose,
}

/// How strongly a pixel of alpha `a` lies on the soft edge: 1 at a = ½, 0 at 0 and 1.
pub fn edge_band(a: f32) -> f32 {
    (4.0 * a * (1.0 - a)).clamp(0.0, 1.0)
}

/// The gate at one pixel: the largest of the vacated and invented shares and the moved
/// soft edge (`band`: [`edge_band`] of the alpha times how far the pixel moved — the outline
/// of a person who stays is the photo's own and stays exact).
pub fn gate(vacated: f32, invented: f32, band: f32) -> f32 {
    vacated.max(invented).max(band).clamp(0.0, 1.0)
}

/// The compositor's result `comp` (of `source`, re-posed from `source_pose` to `target`) in the
/// refiner's working crop of size `hw`.
pub fn working_view(
    source: &RgbImage,
    comp: &Composited,
    source_pose: &Pose,
    target: &Pose,
    hw: (usize, usize),
) -> Result<WorkingView> {
    let (pw, ph) = source.dimensions();
    anyhow::ensure!(
        comp.image.dimensions() == (pw, ph),
        "composite {:?} and source photo {:?} differ in size",
        comp.image.dimensions(),
        (pw, ph)
    );
    let n = (pw * ph) as usize;
    anyhow::ensure!(
        [&comp.person, &comp.vacated, &comp.invented, &comp.moved]
            .iter()
            .all(|m| m.len() == n),
        "composite layers do not match the photo's {pw}×{ph} pixels"
    );
    let crop = fit::tight_crop(&[source_pose, target], (pw, ph), hw);
    let composite = fit::fit_photo_to(&comp.image, crop, hw).image;
    let source_crop = fit::fit_photo_to(source, crop, hw).image;
    let (h, w) = hw;
    let mut layers = vec![0f32; 4 * h * w];
    let (ph, pw) = (ph as usize, pw as usize);
    for y in 0..h {
        for x in 0..w {
            let (px, py) = crop.frame_to_photo(x as f32, y as f32);
            let at = |m: &[f32]| super::sample_map(m, ph, pw, px, py);
            let a = at(&comp.person);
            let i = y * w + x;
            layers[i] = a;
            layers[h * w + i] = at(&comp.vacated);
            layers[2 * h * w + i] = at(&comp.invented);
            layers[3 * h * w + i] = edge_band(a) * at(&comp.moved);
        }
    }
    Ok(WorkingView {
        crop,
        hw,
        composite,
        source: source_crop,
        layers,
        target: crop.pose_to_frame(target),
    })
}

/// Pushes one view's input channels (composite, source, layers, target heat-maps; see
/// [`crate::model::refiner`]) onto `data`.
pub fn push_input(view: &WorkingView, data: &mut Vec<f32>) {
    let (h, w) = view.hw;
    for img in [&view.composite, &view.source] {
        for c in 0..3 {
            data.extend(img.pixels().map(|p| p[c] as f32 / 127.5 - 1.0));
        }
    }
    data.extend_from_slice(&view.layers);
    data.extend(crate::pose::heatmap::heatmaps(&view.target, (h, w), (h, w)));
}

/// The input tensor (B, IN_CHANNELS, H, W) and gate (B, 1, H, W) of a batch of views (one size).
pub fn batch_input(views: &[&WorkingView], dev: &Device) -> Result<(Tensor, Tensor)> {
    let (h, w) = views.first().context("empty batch")?.hw;
    let mut data = Vec::with_capacity(views.len() * IN_CHANNELS * h * w);
    let mut gates = Vec::with_capacity(views.len() * h * w);
    for v in views {
        anyhow::ensure!(v.hw == (h, w), "views of one batch differ in size");
        push_input(v, &mut data);
        let plane = h * w;
        gates.extend((0..plane).map(|i| {
            gate(
                v.layers[plane + i],
                v.layers[2 * plane + i],
                v.layers[3 * plane + i],
            )
        }));
    }
    let b = views.len();
    Ok((
        Tensor::from_vec(data, (b, IN_CHANNELS, h, w), dev)?,
        Tensor::from_vec(gates, (b, 1, h, w), dev)?,
    ))
}

/// The correction `σ(alpha) · 2·tanh(residual)` per working pixel: 3·H·W, in [-1, 1] units.
fn correction(raw: &Tensor) -> Result<Vec<f32>> {
    Ok(Refiner::correction(raw)?
        .to_device(&Device::Cpu)?
        .flatten_all()?
        .to_vec1::<f32>()?)
}

/// Runs `refiner` on the edit and returns the refined photo: the composite plus the gated,
/// upsampled correction; every pixel with a zero gate is the composite's own.
pub fn refine(
    refiner: &Refiner,
    source: &RgbImage,
    comp: &Composited,
    source_pose: &Pose,
    target: &Pose,
    hw: (usize, usize),
    dev: &Device,
) -> Result<RgbImage> {
    let view = working_view(source, comp, source_pose, target, hw)?;
    let (x, _) = batch_input(&[&view], dev)?;
    let raw = refiner.forward(&x).context("running the refiner")?;
    let mut corr = correction(&raw)?;
    if is_grey(&view.source) {
        grey_out(&mut corr);
    }
    Ok(apply_correction(comp, &corr, &view))
}

/// Whether no pixel's channels are more than 2 apart: a grey photo, which must stay grey (the
/// refiner learned colours from synthetic people and would tint it).
fn is_grey(img: &RgbImage) -> bool {
    img.pixels()
        .all(|p| p[0].max(p[1]).max(p[2]) - p[0].min(p[1]).min(p[2]) <= 2)
}

/// Replaces each pixel's correction (3 planes) by its mean over the channels.
fn grey_out(corr: &mut [f32]) {
    let plane = corr.len() / 3;
    for i in 0..plane {
        let m = (corr[i] + corr[plane + i] + corr[2 * plane + i]) / 3.0;
        for c in 0..3 {
            corr[c * plane + i] = m;
        }
    }
}

/// The composite with `corr` (3·H·W at the view's working size) added where the gate is open.
fn apply_correction(comp: &Composited, corr: &[f32], view: &WorkingView) -> RgbImage {
    let (h, w) = view.hw;
    let plane = h * w;
    let pw = comp.image.width();
    let mut out = comp.image.clone();
    for (x, y, p) in out.enumerate_pixels_mut() {
        let i = (y * pw + x) as usize;
        let band = edge_band(comp.person[i]) * comp.moved[i];
        let g = gate(comp.vacated[i], comp.invented[i], band);
        if g <= 0.0 {
            continue;
        }
        let (fx, fy) = view.crop.photo_to_frame(x as f32, y as f32);
        if fx < -0.5 || fy < -0.5 || fx > w as f32 - 0.5 || fy > h as f32 - 0.5 {
            continue;
        }
        for c in 0..3 {
            let d = super::sample_map(&corr[c * plane..(c + 1) * plane], h, w, fx, fy);
            let v = p[c] as f32 / 127.5 - 1.0 + g * d;
            p[c] = ((v.clamp(-1.0, 1.0) + 1.0) * 127.5).round() as u8;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gate_is_open_only_where_the_compositor_is_unsure() {
        assert_eq!(gate(0.0, 0.0, 0.0), 0.0);
        assert_eq!(gate(0.0, 0.0, edge_band(1.0)), 0.0);
        assert_eq!(gate(0.0, 0.0, edge_band(0.5)), 1.0);
        assert_eq!(gate(0.3, 0.0, 0.0), 0.3);
        assert_eq!(gate(0.0, 0.7, 0.2), 0.7);
        assert!((edge_band(0.25) - 0.75).abs() < 1e-6);
    }

    #[test]
    fn grey_photos_get_grey_corrections() {
        let grey = RgbImage::from_fn(4, 3, |x, y| image::Rgb([(x * 40 + y) as u8; 3]));
        assert!(is_grey(&grey));
        let mut tinted = grey.clone();
        tinted.put_pixel(2, 1, image::Rgb([10, 14, 10]));
        assert!(!is_grey(&tinted));
        // Two pixels, planes R, G, B: means 0.1 and 0.2.
        let mut corr = vec![0.3, 0.0, 0.0, 0.6, 0.0, 0.0];
        grey_out(&mut corr);
        let want = [0.1, 0.2, 0.1, 0.2, 0.1, 0.2];
        assert!(
            corr.iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-6),
            "{corr:?}"
        );
    }
}
