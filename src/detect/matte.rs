//! The person matte from the landmark model's segmentation output (`Identity_2`, 256x256
//! logits over the rotated ROI): sigmoid, then mapped back into the photo through the inverse
//! of the landmark crop, at the photo's full resolution, then edges refined with the photo as
//! guide. MediaPipe does the same (`TensorsToSegmentationCalculator`, then a warp by the
//! crop's inverse with a zero border), without the refinement.

use std::time::Instant;

use anyhow::{bail, Context, Result};
use image::RgbImage;
use rayon::prelude::*;

use super::crop::{Roi, LANDMARK_INPUT};
use super::landmarks::pose_present;
use super::pipeline::{check_size, Detection, MatteRefine, PoseDetector, StageTimes};
use crate::imaging::{GuidedParams, Matte};
use crate::pose::Pose;

/// Side of the segmentation output (the landmark input's).
pub const MASK_SIDE: usize = LANDMARK_INPUT;

/// The photo-sized matte of `logits` (`256 x 256`, row-major, over the crop `roi`): each
/// photo pixel is taken back through the crop's affine map into the mask and sampled
/// bilinearly there; mask taps outside the 256x256 grid count as 0, so outside the ROI the
/// matte is 0 (and it fades over half a mask pixel at the ROI's edge, as OpenCV's
/// zero-border warp does).
pub fn matte_from_logits(logits: &[f32], roi: &Roi, width: u32, height: u32) -> Result<Matte> {
    if logits.len() != MASK_SIDE * MASK_SIDE {
        bail!(
            "the segmentation output has {} values, expected {MASK_SIDE}x{MASK_SIDE}",
            logits.len()
        );
    }
    // The sigmoid on the 65536 mask values rather than on millions of photo pixels; the
    // bilinear blend of probabilities is also what MediaPipe's warp of the mask does.
    let mask: Vec<f32> = logits.iter().map(|&l| sigmoid(l)).collect();
    // Tensor pixel (u, v) → photo: x = s·R·(u, v) + o. Inverse: (u, v) = Rᵀ(x − o) / s.
    let m = roi.tensor_to_image_affine();
    let m = m.map(|row| row.map(f64::from));
    let det = m[0][0] * m[1][1] - m[0][1] * m[1][0];
    if !(det.abs() > 1e-12 && det.is_finite()) {
        bail!("the ROI {roi:?} is degenerate: no matte");
    }
    let inv = [
        [m[1][1] / det, -m[0][1] / det],
        [-m[1][0] / det, m[0][0] / det],
    ];
    let (ox, oy) = (m[0][2], m[1][2]);
    let w = width as usize;
    let mut alpha = vec![0f32; w * height as usize];
    alpha
        .par_chunks_mut(w.max(1))
        .enumerate()
        .for_each(|(y, row)| {
            // (u, v) is affine in x: start the row exactly, then step (in f64, so thousands
            // of steps add no visible error).
            let dy = y as f64 - oy;
            let mut u = inv[0][1] * dy - inv[0][0] * ox;
            let mut v = inv[1][1] * dy - inv[1][0] * ox;
            for a in row.iter_mut() {
                *a = sample_zero_border(&mask, u as f32, v as f32);
                u += inv[0][0];
                v += inv[1][0];
            }
        });
    Matte::new(width, height, alpha)
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// Bilinear sample of the `MASK_SIDE²` mask at `(u, v)` (pixel centres at integers), taps
/// outside the grid being 0.
#[inline]
fn sample_zero_border(mask: &[f32], u: f32, v: f32) -> f32 {
    let n = MASK_SIDE as f32;
    if !(u > -1.0 && v > -1.0 && u < n && v < n) {
        return 0.0;
    }
    let (u0, v0) = (u.floor(), v.floor());
    let (fu, fv) = (u - u0, v - v0);
    let (u0, v0) = (u0 as isize, v0 as isize);
    if (0..MASK_SIDE as isize - 1).contains(&u0) && (0..MASK_SIDE as isize - 1).contains(&v0) {
        // All four taps inside (most pixels of the ROI): no per-tap checks.
        let i = v0 as usize * MASK_SIDE + u0 as usize;
        let top = mask[i] * (1.0 - fu) + mask[i + 1] * fu;
        let bottom = mask[i + MASK_SIDE] * (1.0 - fu) + mask[i + MASK_SIDE + 1] * fu;
        return top * (1.0 - fv) + bottom * fv;
    }
    let tap = |du: isize, dv: isize| {
        let (uu, vv) = (u0 + du, v0 + dv);
        if (0..MASK_SIDE as isize).contains(&uu) && (0..MASK_SIDE as isize).contains(&vv) {
            mask[vv as usize * MASK_SIDE + uu as usize]
        } else {
            0.0
        }
    };
    let top = tap(0, 0) * (1.0 - fu) + tap(1, 0) * fu;
    let bottom = tap(0, 1) * (1.0 - fu) + tap(1, 1) * fu;
    top * (1.0 - fv) + bottom * fv
}

/// The guided filter's parameters for a matte upsampled from `roi`'s mask.
pub fn refine_params(roi: &Roi) -> GuidedParams {
    GuidedParams::for_upsampling(roi.side / MASK_SIDE as f32)
}

impl PoseDetector {
    /// [`PoseDetector::detect`] plus the person's matte at the photo's size (edges refined
    /// as [`PoseDetector::refine_matte`] says). Detection without a matte runs a graph
    /// without the segmentation head and stays as fast as before.
    pub fn detect_with_matte(&self, img: &RgbImage) -> Result<Option<(Detection, Matte)>> {
        let Some((mut det, logits)) = self.detect_run(img, true)? else {
            return Ok(None);
        };
        let logits = logits.context("the matte graph gave no segmentation output")?;
        let matte = self.photo_matte(img, &det.roi, &logits, &mut det.times)?;
        Ok(Some((det, matte)))
    }

    /// The matte of the person whose skeleton is `pose` (photo pixels, e.g. from a pose
    /// file): the landmark model runs on the ROI the skeleton gives ([`Roi::from_pose`])
    /// instead of the detector's. An error when the skeleton has too few joints or the
    /// landmark model sees no person there.
    pub fn matte_for_pose(&self, img: &RgbImage, pose: &Pose) -> Result<Matte> {
        check_size(img)?;
        let roi = Roi::from_pose(pose)
            .context("the skeleton has too few joints to place the person's crop")?;
        let mut times = StageTimes::default();
        let run = self.run_landmarks(img, &roi, &mut times, true)?;
        if !pose_present(run.pose_flag) {
            bail!(
                "the landmark model sees no person where the skeleton is (pose flag {:.2})",
                run.pose_flag
            );
        }
        let logits = run
            .segmentation
            .context("the matte graph gave no segmentation output")?;
        self.photo_matte(img, &roi, &logits, &mut times)
    }

    /// Logits → photo matte (→ refined), timed into `times.matte_ms`.
    fn photo_matte(
        &self,
        img: &RgbImage,
        roi: &Roi,
        logits: &[f32],
        times: &mut StageTimes,
    ) -> Result<Matte> {
        let t = Instant::now();
        let matte = matte_from_logits(logits, roi, img.width(), img.height())?;
        let matte = match self.refine_matte {
            MatteRefine::Off => matte,
            MatteRefine::Auto => matte.refined(img, refine_params(roi))?,
            MatteRefine::With(params) => matte.refined(img, params)?,
        };
        times.matte_ms = t.elapsed().as_secs_f64() * 1e3;
        Ok(matte)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_upright_roi_maps_the_mask_back_onto_itself() {
        // ROI = the photo itself (256 px square, unrotated): matte pixel (x, y) is mask pixel
        // (x, y), with the sigmoid applied.
        let roi = Roi {
            cx: 128.0,
            cy: 128.0,
            side: 256.0,
            rotation: 0.0,
        };
        let logits: Vec<f32> = (0..MASK_SIDE * MASK_SIDE)
            .map(|i| if i % MASK_SIDE < 100 { 8.0 } else { -8.0 })
            .collect();
        let m = matte_from_logits(&logits, &roi, 256, 256).unwrap();
        assert!((m.get(99, 7).unwrap() - sigmoid(8.0)).abs() < 1e-6);
        assert!((m.get(100, 7).unwrap() - sigmoid(-8.0)).abs() < 1e-6);
    }

    #[test]
    fn outside_the_rotated_roi_the_matte_is_zero() {
        // A 100 px square turned 45° in the middle of a 300x200 photo, all person inside.
        let roi = Roi {
            cx: 150.0,
            cy: 100.0,
            side: 100.0,
            rotation: std::f32::consts::FRAC_PI_4,
        };
        let logits = vec![20.0; MASK_SIDE * MASK_SIDE];
        let m = matte_from_logits(&logits, &roi, 300, 200).unwrap();
        assert_eq!(m.dimensions(), (300, 200));
        assert!(m.get(150, 100).unwrap() > 0.99);
        // The rotated square's corners are 70.7 px from the centre along the axes, its
        // edges' midpoints 50 px along the diagonals.
        assert!(m.get(150 + 68, 100).unwrap() > 0.99);
        assert_eq!(m.get(150 + 74, 100), Some(0.0));
        assert_eq!(m.get(150 + 38, 100 + 38), Some(0.0));
        assert!(m.get(150 + 33, 100 + 33).unwrap() > 0.99);
        assert_eq!(m.get(0, 0), Some(0.0));
    }

    #[test]
    fn wrong_sizes_and_degenerate_rois_are_errors() {
        let roi = Roi {
            cx: 1.0,
            cy: 1.0,
            side: 0.0,
            rotation: 0.0,
        };
        assert!(matte_from_logits(&[0.0; 10], &roi, 4, 4).is_err());
        assert!(matte_from_logits(&vec![0.0; MASK_SIDE * MASK_SIDE], &roi, 4, 4).is_err());
    }
}
