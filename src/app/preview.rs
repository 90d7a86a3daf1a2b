//! The instant preview: the training-free puppet warp of the (shrunk) photo, run on its own
//! worker so it shows within a frame or two while the network is still busy.

use super::engine::Photo;
use crate::pose::Pose;
use image::RgbImage;
use std::sync::Arc;
use std::time::Instant;

#[derive(Clone, Debug)]
pub struct PreviewRequest {
    pub id: u64,
    /// The photo shrunk for previews; the poses are in its pixels.
    pub photo: Arc<Photo>,
    pub source: Pose,
    pub target: Pose,
}

/// The warped photo, same size as the request's photo.
#[derive(Clone, Debug)]
pub struct Preview {
    pub request: u64,
    pub photo_id: u64,
    pub image: RgbImage,
    pub millis: f64,
}

/// Runs one preview request (the worker's job).
pub fn run(req: PreviewRequest) -> Preview {
    let t0 = Instant::now();
    let (w, h) = req.photo.image.dimensions();
    let warp = crate::puppet::puppet_warp(
        &req.source,
        &req.target,
        h as usize,
        w as usize,
        &Default::default(),
    );
    Preview {
        request: req.id,
        photo_id: req.photo.id,
        image: crate::puppet::puppet_render(&req.photo.image, &warp),
        millis: t0.elapsed().as_secs_f64() * 1e3,
    }
}
