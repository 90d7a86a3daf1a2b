//! The photo's layers for the editor, off the UI thread: the person's matte (the pose
//! detector's segmentation on the crop the source skeleton gives) and the background plate
//! (PatchMatch), once per photo and source skeleton, on the copy the puppet preview works on.
//! Each preview is then composited over them ([`crate::composite`]), so the preview is the
//! whole re-posed photo with no ghost limb.
//!
//! The worker keeps its own pose detector (loaded at the first request): the detection worker
//! may be busy with another photo, and the two loaded graphs share nothing mutable. Full
//! resolution layers for exports are built by [`build_full`] on the export's own thread.

use super::photo::Photo;
use crate::composite::{build_layers, PhotoLayers};
use crate::detect::{models, PoseDetector};
use crate::pose::Pose;
use anyhow::Result;
use std::sync::Arc;
use std::time::Instant;

pub struct LayersRequest {
    pub id: u64,
    /// The preview-sized photo; `source` is in its pixels.
    pub photo: Arc<Photo>,
    pub source: Pose,
}

pub struct LayersResponse {
    pub id: u64,
    pub photo_id: u64,
    pub source: Pose,
    pub outcome: Result<Arc<PhotoLayers>, String>,
    pub millis: f64,
}

/// The worker's job: loads the detector once (a failed load is answered on every request),
/// then builds the layers inside `pool`.
pub fn layers_job(
    pool: Arc<rayon::ThreadPool>,
) -> impl FnMut(LayersRequest) -> LayersResponse + Send + 'static {
    let mut detector: Option<Result<PoseDetector, String>> = None;
    move |req: LayersRequest| {
        let t0 = Instant::now();
        let d = detector.get_or_insert_with(|| pool.install(load).map_err(|e| format!("{e:#}")));
        let outcome = match d {
            Err(e) => Err(e.clone()),
            Ok(d) => pool
                .install(|| build_layers(d, &req.photo.image, &req.source, &|| false))
                .map(Arc::new)
                .map_err(|e| format!("{e:#}")),
        };
        LayersResponse {
            id: req.id,
            photo_id: req.photo.id,
            source: req.source,
            outcome,
            millis: t0.elapsed().as_secs_f64() * 1e3,
        }
    }
}

fn load() -> Result<PoseDetector> {
    PoseDetector::load(&models::find()?)
}

/// The layers of a whole photo (exports), with a detector loaded for the purpose.
pub fn build_full(photo: &image::RgbImage, source: &Pose) -> Result<PhotoLayers> {
    build_layers(&load()?, photo, source, &|| false)
}

/// What the side panel says about the layers.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum LayersStatus {
    /// Compositing is off, or no photo is open.
    #[default]
    Idle,
    Building,
    Ready {
        millis: f64,
    },
    Failed(String),
}

/// The editor's side of the layers worker: what was asked, what is ready.
pub struct LayerCache {
    worker: super::worker::LatestWorker<LayersRequest, LayersResponse>,
    next_id: u64,
    /// (photo id, source) of the last request.
    sent: Option<(u64, Pose)>,
    /// The newest layers built, for (photo id, source).
    ready: Option<(u64, Pose, Arc<PhotoLayers>)>,
    pub status: LayersStatus,
}

impl LayerCache {
    pub fn spawn(pool: Arc<rayon::ThreadPool>, notify: impl Fn() + Send + 'static) -> Self {
        Self {
            worker: super::worker::LatestWorker::spawn(
                "marionette-layers",
                layers_job(pool),
                notify,
            ),
            next_id: 0,
            sent: None,
            ready: None,
            status: LayersStatus::Idle,
        }
    }

    /// The layers to composite `photo` with for skeleton `source` (its pixels); asks for them
    /// when they are not built for this source yet. Meanwhile the newest layers of the same
    /// photo serve (the matte hardly changes while the source skeleton is nudged).
    pub fn get(&mut self, photo: &Arc<Photo>, source: &Pose) -> Option<Arc<PhotoLayers>> {
        let current = self
            .ready
            .as_ref()
            .is_some_and(|(id, s, _)| *id == photo.id && s == source);
        let asked = self
            .sent
            .as_ref()
            .is_some_and(|(id, s)| *id == photo.id && s == source);
        if !current && !asked && source.num_present() > 0 {
            self.next_id += 1;
            self.worker.submit(LayersRequest {
                id: self.next_id,
                photo: Arc::clone(photo),
                source: source.clone(),
            });
            self.sent = Some((photo.id, source.clone()));
            self.status = LayersStatus::Building;
        }
        self.ready
            .as_ref()
            .filter(|(id, _, _)| *id == photo.id)
            .map(|(_, _, l)| Arc::clone(l))
    }

    /// Takes finished builds; true when new layers for `photo_id` arrived.
    pub fn collect(&mut self, photo_id: Option<u64>) -> bool {
        let mut fresh = false;
        while let Some(r) = self.worker.try_recv() {
            if Some(r.photo_id) != photo_id {
                continue;
            }
            match r.outcome {
                Ok(l) => {
                    self.ready = Some((r.photo_id, r.source, l));
                    self.status = LayersStatus::Ready { millis: r.millis };
                    fresh = true;
                }
                Err(e) => self.status = LayersStatus::Failed(e),
            }
        }
        if !fresh && self.status == LayersStatus::Building && !self.worker.is_busy() {
            // The request was for a photo that has been replaced since.
            self.status = LayersStatus::Idle;
        }
        fresh
    }

    /// Forgets the layers (a new photo).
    pub fn clear(&mut self) {
        self.ready = None;
        self.sent = None;
        self.status = LayersStatus::Idle;
    }
}
