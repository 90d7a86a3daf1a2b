//! Building a photo's layers: the person's matte from the pose detector's segmentation output
//! (on the crop the person's skeleton gives) and the plate filled by PatchMatch.

use super::{plate_hole, PhotoLayers};
use crate::detect::PoseDetector;
use crate::imaging::inpaint::{fill_patchmatch, PatchMatchParams};
use crate::pose::Pose;
use anyhow::{Context, Result};
use image::RgbImage;

/// Matte values above this are the person when cutting the plate's hole.
const HOLE_THRESHOLD: f32 = 0.05;

/// How far the plate's hole reaches beyond the matte: its soft edge and a little halo, ~1 %
/// of the photo's smaller side.
pub(super) fn hole_radius(h: usize, w: usize) -> usize {
    (h.min(w) / 100).clamp(2, 24)
}

/// The layers of `photo` for the person whose skeleton is `pose` (photo pixels). `cancel` is
/// polled by the fill.
pub fn build_layers(
    detector: &PoseDetector,
    photo: &RgbImage,
    pose: &Pose,
    cancel: &dyn Fn() -> bool,
) -> Result<PhotoLayers> {
    let matte = detector
        .matte_for_pose(photo, pose)
        .context("finding the person's matte")?;
    plate_layers(photo, matte.alpha().to_vec(), cancel)
}

/// The layers of `photo` given its person's matte (H·W alpha): the plate is PatchMatch's fill
/// of the matte's region, grown by its soft edge.
pub fn plate_layers(
    photo: &RgbImage,
    alpha: Vec<f32>,
    cancel: &dyn Fn() -> bool,
) -> Result<PhotoLayers> {
    let (w, h) = (photo.width() as usize, photo.height() as usize);
    anyhow::ensure!(
        alpha.len() == w * h,
        "matte of {} values for a {w}×{h} photo",
        alpha.len()
    );
    let hole = plate_hole(&alpha, h, w, HOLE_THRESHOLD, hole_radius(h, w));
    let plate = fill_patchmatch(photo, &hole, &PatchMatchParams::default(), cancel)
        .context("filling the background plate")?;
    PhotoLayers::new(photo.clone(), alpha, plate)
}
