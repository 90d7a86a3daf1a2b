//! Every frame: sending the model and the preview what changed, and collecting their answers.

use super::Editor;
use crate::app::engine::RenderRequest;
use crate::app::preview::PreviewRequest;
use crate::app::probe;
use std::sync::Arc;
use std::time::Instant;

impl Editor {
    /// Sends requests for changed poses and collects finished results. Never blocks.
    pub fn tick(&mut self) {
        self.tick_timeline(Instant::now());
        self.send_if_changed();
        self.collect();
        self.collect_detections();
        self.collect_anim_export();
        self.autosave_if_due();
    }

    pub(super) fn send_if_changed(&mut self) {
        let Some(photo) = &self.photo else { return };
        let (source, target) = (self.doc.source.to_pose(), self.doc.target.to_pose());
        let now = (photo.id, source, target, self.model_spec.clone());
        if self.sent.as_ref() != Some(&now) {
            self.next_id += 1;
            self.worker.submit(RenderRequest {
                id: self.next_id,
                model: now.3.clone(),
                photo: Arc::clone(photo),
                source: now.1.clone(),
                target: now.2.clone(),
            });
            self.latest_request = self.next_id;
        }
        // The preview follows every edit too, and once more when the layers arrive; a frame
        // of the clip computed before is shown at once instead.
        if let Some((small, s)) = self.preview_photo.clone() {
            let (src, tgt) = (now.1.scaled(s, s), now.2.scaled(s, s));
            let layers = self.layers.as_mut().and_then(|l| l.get(&small, &src));
            let key = (small.id, src, tgt, layers.is_some(), self.doc.order);
            if self.preview_sent.as_ref() != Some(&key) && !self.show_cached_frame(&key) {
                let req = PreviewRequest {
                    id: self.latest_request,
                    photo: small,
                    source: key.1.clone(),
                    target: key.2.clone(),
                    order: key.4,
                    layers,
                    method: self.method,
                };
                if self.refine_worker.is_some() && req.layers.is_some() {
                    self.to_refine = Some(req.clone());
                }
                self.preview_worker.submit(req);
                self.preview_asked(&key);
            }
            self.preview_sent = Some(key);
        }
        self.sent = Some(now);
    }

    pub(super) fn collect(&mut self) {
        while let Some(resp) = self.worker.try_recv() {
            match resp {
                Ok(r) => {
                    if self.photo.as_ref().is_some_and(|p| p.id == r.photo_id) {
                        self.good_spec = Some(self.model_spec.clone());
                        let known = self.model_info.as_ref().map(|m| &m.fallback);
                        if let Some(why) = &r.model.fallback {
                            if known != Some(&r.model.fallback) {
                                self.say(format!("GPU unavailable: {why}"));
                            }
                        }
                        self.model_info = Some(r.model.clone());
                        // Keep the probe on the same point as the result changes.
                        let point = self.probe.as_ref().map(|p| p.point);
                        self.result = Some(r);
                        self.result_version += 1;
                        if let Some(p) = point {
                            self.probe = self.result.as_ref().and_then(|r| probe::probe(r, p));
                            self.probe_version += 1;
                        }
                    }
                }
                Err(f) => {
                    self.model_info = f.model.clone().or(self.model_info.take());
                    // A checkpoint that failed to load: go back to the one that worked.
                    if let Some(good) = self.good_spec.clone() {
                        if good != self.model_spec {
                            self.model_spec = good;
                        }
                    }
                    self.report_error(anyhow::anyhow!(f.message));
                }
            }
        }
        let photo_id = self.preview_photo.as_ref().map(|(p, _)| p.id);
        if let Some(l) = &mut self.layers {
            if l.collect(photo_id) {
                // New layers: the next tick sends the preview again, composited.
                self.preview_sent = None;
            }
        }
        self.collect_export();
        while let Some(p) = self.preview_worker.try_recv() {
            if self.photo.as_ref().is_some_and(|ph| ph.id == p.photo_id) {
                self.timeline.frames.offer(&p);
                // A frame shown from the timeline's cache is newer than what the worker was
                // still finishing.
                if self
                    .preview
                    .as_ref()
                    .is_none_or(|shown| p.request >= shown.request)
                {
                    self.preview = Some(p);
                    self.preview_version += 1;
                }
            }
        }
        self.refine_when_still();
    }

    /// The preview's second stage: once the instant preview of the newest edit is on screen
    /// and no newer one is being composited, that edit goes to the refiner; its picture
    /// replaces the composite only while no newer edit has come (latest wins).
    fn refine_when_still(&mut self) {
        let Some(worker) = &self.refine_worker else {
            return;
        };
        let shown = self.preview.as_ref().map(|p| (p.request, p.refined));
        let still = !self.preview_worker.is_busy();
        if let Some(req) = self.to_refine.take() {
            let ready = req.id == self.latest_request && shown == Some((req.id, false));
            if ready && still {
                worker.submit(req);
            } else if req.id == self.latest_request {
                self.to_refine = Some(req); // its composite is not on screen yet
            }
        }
        while let Some(p) = worker.try_recv() {
            let Some(p) = p else { continue };
            let current = p.request == self.latest_request
                && self.photo.as_ref().is_some_and(|ph| ph.id == p.photo_id)
                && shown.is_some_and(|(id, _)| id == p.request);
            if current {
                self.preview = Some(p);
                self.preview_version += 1;
            }
        }
    }

    /// Whether the preview's second stage (the refiner) is at work on the newest edit.
    pub fn refining(&self) -> bool {
        self.to_refine.is_some() || self.refine_worker.as_ref().is_some_and(|w| w.is_busy())
    }

    /// Whether the model is working on (or has queued) a request.
    pub fn busy(&self) -> bool {
        self.worker.is_busy()
    }

    /// Whether the result on screen belongs to the current poses.
    pub fn result_is_current(&self) -> bool {
        self.result
            .as_ref()
            .is_some_and(|r| r.request == self.latest_request)
    }

    /// Whether the preview on screen belongs to the current poses (and nothing newer is being
    /// composited).
    pub fn preview_is_current(&self) -> bool {
        self.preview
            .as_ref()
            .is_some_and(|p| p.request == self.latest_request)
            && !self.preview_worker.is_busy()
    }

    /// Requests dropped unrun because newer edits replaced them.
    pub fn dropped_requests(&self) -> u64 {
        self.worker.dropped()
    }
}
