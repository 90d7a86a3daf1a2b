//! The instant preview: the training-free puppet warp of the (shrunk) photo, run on its own
//! worker so it shows within a frame or two while the network is still busy. With the photo's
//! layers ([`super::layers`]) it is composited: the moved person over the background plate,
//! the whole photo re-posed; before they exist (the first fraction of a second, or without the
//! detector's models) it is the plain warp.

use super::engine::Photo;
use crate::composite::PhotoLayers;
use crate::pose::Pose;
use crate::puppet::{LimbOrder, PuppetConfig};
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
    /// The target's depth order (limbs the user put in front of / behind the body).
    pub order: LimbOrder,
    /// The shrunk photo's layers for this source skeleton, when built.
    pub layers: Option<Arc<PhotoLayers>>,
}

/// What a preview shows: (preview photo id, source, target, composited over the layers, depth
/// order). Two previews with one key are the same picture, so the editor can keep and reuse
/// them (the timeline's frames).
pub type PreviewKey = (u64, Pose, Pose, bool, LimbOrder);

/// The re-posed photo, same size as the request's photo.
#[derive(Clone, Debug)]
pub struct Preview {
    pub request: u64,
    pub photo_id: u64,
    /// The request's skeletons (preview photo pixels).
    pub source: Pose,
    pub target: Pose,
    pub order: LimbOrder,
    pub image: RgbImage,
    /// Whether `image` is composited over the plate (else the plain warp).
    pub composited: bool,
    pub millis: f64,
}

impl Preview {
    pub fn key(&self) -> PreviewKey {
        (
            self.photo_id,
            self.source.clone(),
            self.target.clone(),
            self.composited,
            self.order,
        )
    }
}

/// Runs one preview request (the worker's job).
pub fn run(req: PreviewRequest) -> Preview {
    let t0 = Instant::now();
    let (w, h) = req.photo.image.dimensions();
    let cfg = PuppetConfig {
        order: req.order,
        ..Default::default()
    };
    let composited = req
        .layers
        .as_ref()
        .filter(|l| l.photo.dimensions() == (w, h))
        .and_then(|l| {
            crate::composite::composite_puppet(l, &req.source, &req.target, &cfg)
                .map_err(|e| tracing::warn!("preview composite failed: {e:#}"))
                .ok()
        });
    let (image, composited) = match composited {
        Some(c) => (c.image, true),
        None => {
            let warp =
                crate::puppet::puppet_warp(&req.source, &req.target, h as usize, w as usize, &cfg);
            (crate::puppet::puppet_render(&req.photo.image, &warp), false)
        }
    };
    Preview {
        request: req.id,
        photo_id: req.photo.id,
        source: req.source,
        target: req.target,
        order: req.order,
        image,
        composited,
        millis: t0.elapsed().as_secs_f64() * 1e3,
    }
}
