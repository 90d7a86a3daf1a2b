//! Building a photo's layers: the person's matte from the pose detector's segmentation output
//! (on the crop the person's skeleton gives) and the plate filled by PatchMatch.

use super::{plate_hole, PhotoLayers};
use crate::detect::PoseDetector;
use crate::imaging::foreground::colour_alpha;
use crate::imaging::inpaint::{fill_patchmatch, PatchMatchParams};
use crate::imaging::matte::{attached_edge, Matte};
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
    matte_layers(photo, &matte, pose, cancel)
}

/// [`build_layers`] from the segmentation's `matte` (the photo's size) of the person whose
/// skeleton is `pose`.
pub fn matte_layers(
    photo: &RgbImage,
    matte: &Matte,
    pose: &Pose,
    cancel: &dyn Fn() -> bool,
) -> Result<PhotoLayers> {
    anyhow::ensure!(
        matte.dimensions() == photo.dimensions(),
        "a {:?} matte for a {:?} photo",
        matte.dimensions(),
        photo.dimensions()
    );
    // Only what is attached to the person moves with them or leaves the plate showing; the
    // plate is still filled under everything the segmentation marked, so that it takes no
    // patches from a held helmet or camera the person might uncover.
    let seeds: Vec<(f32, f32)> = pose.present().map(|(_, j)| (j.x, j.y)).collect();
    let person = matte.attached(&seeds);
    let plate = fill_plate(photo, matte.alpha(), cancel)?;
    // The segmentation's soft edge is wider than the person's (a blur of its 256² mask): where
    // the colours say backdrop, it is backdrop, or a moved head carries a halo of it.
    let (w, h) = photo.dimensions();
    let radius = attached_edge(w as usize, h as usize).round() as usize;
    let alpha = colour_alpha(photo, person.alpha(), &plate, radius);
    PhotoLayers::new(photo.clone(), alpha, plate)
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
    let plate = fill_plate(photo, &alpha, cancel)?;
    PhotoLayers::new(photo.clone(), alpha, plate)
}

/// The plate of `photo`: PatchMatch's fill of the region of `hole_alpha` grown by its soft edge.
fn fill_plate(photo: &RgbImage, hole_alpha: &[f32], cancel: &dyn Fn() -> bool) -> Result<RgbImage> {
    let (w, h) = (photo.width() as usize, photo.height() as usize);
    let hole = plate_hole(hole_alpha, h, w, HOLE_THRESHOLD, hole_radius(h, w));
    fill_patchmatch(photo, &hole, &PatchMatchParams::default(), cancel)
        .context("filling the background plate")
}
