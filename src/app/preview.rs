//! The instant preview: the training-free puppet warp of the (shrunk) photo, run on its own
//! worker so it shows within a frame or two while the network is still busy. With the photo's
//! layers ([`super::layers`]) it is composited: the moved person over the background plate,
//! the whole photo re-posed; before they exist (the first fraction of a second, or without the
//! detector's models) it is the plain warp.

use super::photo::Photo;
use crate::composite::pipeline::{default_method, Edit, Renderer, DEFAULT_METHOD};
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
    // The default method's instant stage: the whole edit when it needs no network, else the
    // puppet's composite until the network's result arrives.
    let method = default_method().unwrap_or(DEFAULT_METHOD).instant();
    let edit = Edit {
        source: &req.source,
        target: &req.target,
        puppet: &cfg,
    };
    let mut renderer = Renderer::new(method, None).expect("an instant method needs no network");
    let layers = req
        .layers
        .as_deref()
        .filter(|l| l.photo.dimensions() == (w, h));
    let composited = layers.and_then(|l| {
        renderer
            .render(&req.photo.image, Some(l), &edit)
            .map_err(|e| tracing::warn!("preview composite failed: {e:#}"))
            .ok()
    });
    let (image, composited) = match composited {
        Some(c) => (c.image, true),
        None => {
            let plain = renderer.render(&req.photo.image, None, &edit);
            let image = plain.map(|p| p.image).unwrap_or_else(|e| {
                tracing::warn!("preview failed: {e:#}");
                req.photo.image.clone()
            });
            (image, false)
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
