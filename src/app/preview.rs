//! The instant preview: the training-free puppet warp of the (shrunk) photo, run on its own
//! worker so it shows within a frame or two while the network is still busy. With the photo's
//! layers ([`super::layers`]) it is composited: the moved person over the background plate,
//! the whole photo re-posed; before they exist (the first fraction of a second, or without the
//! detector's models) it is the plain warp.
//!
//! When the default method needs a refiner ([`Method::Refined`]), a second stage
//! ([`Refining`]) runs the whole method on its own worker once the edit is still (the instant
//! preview has caught up): the composite shows at once and the refined picture replaces it when
//! it arrives, unless a newer edit came first (latest wins).

use super::photo::Photo;
use crate::composite::pipeline::{Edit, Method, Renderer};
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
    /// The method the editor shows ([`default_method`] unless its options say otherwise); the
    /// instant preview runs its instant stage.
    pub method: Method,
}

impl PreviewRequest {
    /// The puppet's settings for this request (its depth order; previews leave
    /// [`PuppetConfig::photo_detail`] off).
    fn puppet(&self) -> PuppetConfig {
        PuppetConfig {
            order: self.order,
            ..Default::default()
        }
    }
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
    /// Whether `image` is the second stage (the refined method), not the instant composite.
    pub refined: bool,
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
    let cfg = req.puppet();
    // The method's instant stage: the whole edit when it needs no network or refiner, else
    // the puppet's composite until the second stage arrives.
    let method = req.method.instant();
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
        refined: false,
        millis: t0.elapsed().as_secs_f64() * 1e3,
    }
}

/// The preview's second stage: the default method when its instant stage is not all of it
/// (the refined method: the composite, then the refiner). Owns the refiner, loaded on first use
/// on its worker thread.
pub struct Refining {
    method: Method,
    renderer: Option<Renderer>,
    /// Whether the refiner failed to load (said once; later requests are skipped).
    failed: bool,
}

impl Refining {
    /// The second stage of `method`, or `None` when its instant preview is already the result.
    pub fn for_method(method: Method) -> Option<Self> {
        method.needs_refiner().then_some(Self {
            method,
            renderer: None,
            failed: false,
        })
    }

    /// The refined preview of a composited request (`None` without layers, or when the
    /// refiner cannot be had: the instant composite stays on screen).
    pub fn run(&mut self, req: PreviewRequest) -> Option<Preview> {
        let t0 = Instant::now();
        let layers = req
            .layers
            .as_deref()
            .filter(|l| l.photo.dimensions() == req.photo.image.dimensions())?;
        if self.renderer.is_none() && !self.failed {
            match Renderer::load(self.method, None, &candle_core::Device::Cpu) {
                Ok(r) => self.renderer = Some(r),
                Err(e) => {
                    tracing::warn!("the preview stays unrefined: {e:#}");
                    self.failed = true;
                }
            }
        }
        let renderer = self.renderer.as_mut()?;
        let cfg = req.puppet();
        let edit = Edit {
            source: &req.source,
            target: &req.target,
            puppet: &cfg,
        };
        let out = renderer
            .render(&req.photo.image, Some(layers), &edit)
            .map_err(|e| tracing::warn!("refining the preview failed: {e:#}"))
            .ok()?;
        Some(Preview {
            request: req.id,
            photo_id: req.photo.id,
            source: req.source,
            target: req.target,
            order: req.order,
            image: out.image,
            composited: true,
            refined: true,
            millis: t0.elapsed().as_secs_f64() * 1e3,
        })
    }
}
