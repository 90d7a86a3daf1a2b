//! Finding the person in a newly opened photo: sending the photo to the detector, and taking its answer (applied, held back, or why there is none).

use super::{Doc, Editor};
use crate::app::detection::{
    self, DetectOutcome, DetectRequest, DetectResponse, DetectStatus, Detected, DetectionStep,
    SentDetection, Unavailable,
};
use crate::app::project::Mode;
use crate::pose::{self, rig::Rig};
use std::sync::Arc;

impl Editor {
    /// "Detect person": looks for the person in the current photo again (after opening a
    /// project, or to redo a fit). Retries loading the models if that failed before. The
    /// answer replaces both skeletons as one undoable edit.
    pub fn detect_person(&mut self) {
        if self.photo.is_none() {
            self.say("Open a photo first".into());
            return;
        }
        if self.detection.worker.is_none() {
            self.say("Pose detection is turned off in this session".into());
            return;
        }
        self.detection.pending = None;
        self.start_detection(true);
    }

    /// Whether a detection for the current photo is running (status bar spinner).
    pub fn detecting(&self) -> bool {
        self.detection.sent.is_some()
    }

    /// Whether "Detect person" can be offered: detection is on, a photo is open and no
    /// detection is running.
    pub fn can_detect(&self) -> bool {
        self.detection.worker.is_some() && self.photo.is_some() && !self.detecting()
    }

    /// Applies the detection that was held back because the user had already moved joints.
    pub fn use_pending_detection(&mut self) {
        if let Some(d) = self.detection.pending.take() {
            self.apply_detected(d);
        }
    }

    pub fn dismiss_pending_detection(&mut self) {
        self.detection.pending = None;
    }

    /// Sends the current photo to the detector. Without `reload`, a detector already known not
    /// to load is not asked again: the status just says why.
    pub(super) fn start_detection(&mut self, reload: bool) {
        let (Some(worker), Some(photo)) = (&self.detection.worker, &self.photo) else {
            return;
        };
        if !reload {
            if let Some(u) = &self.detection.unavailable {
                self.detection.status = DetectStatus::Unavailable(u.clone());
                return;
            }
        }
        self.detection.next_id += 1;
        let sent = SentDetection {
            id: self.detection.next_id,
            photo_id: photo.id,
            doc: self.doc.clone(),
        };
        worker.submit(DetectRequest {
            id: sent.id,
            photo_id: sent.photo_id,
            photo: Arc::clone(photo),
            reload,
        });
        self.detection.sent = Some(sent);
        self.detection.status = DetectStatus::Running;
    }

    pub(super) fn collect_detections(&mut self) {
        while let Some(resp) = self.detection.worker.as_ref().and_then(|w| w.try_recv()) {
            self.on_detection(resp);
        }
    }

    /// Takes the detector's answer, unless it is stale: for a photo no longer open, or for a
    /// request that a newer one replaced.
    pub(super) fn on_detection(&mut self, resp: DetectResponse) {
        let current_photo = self.photo.as_ref().map(|p| p.id);
        let awaited = self.detection.sent.as_ref().is_some_and(|s| {
            s.id == resp.id && s.photo_id == resp.photo_id && current_photo == Some(resp.photo_id)
        });
        if !awaited {
            return;
        }
        let Some(sent) = self.detection.sent.take() else {
            return;
        };
        match resp.outcome {
            DetectOutcome::Found(d) if self.doc == sent.doc => self.apply_detected(*d),
            DetectOutcome::Found(d) => self.hold_detection(*d),
            DetectOutcome::NoPerson => {
                self.detection.status = DetectStatus::NoPerson;
                self.say(detection::NO_PERSON.into());
            }
            DetectOutcome::Unavailable(u) => {
                self.detection.unavailable = Some(u.clone());
                self.warn(unavailable_message(&u));
                self.detection.status = DetectStatus::Unavailable(u);
            }
            DetectOutcome::Failed(message) => {
                self.warn(format!("Pose detection failed: {message}"));
                self.detection.status = DetectStatus::Failed(message);
            }
        }
    }

    /// Replaces both skeletons with the detected one as one undoable edit, and starts posing.
    /// Joints the detector was not sure of stay hidden, placed where the template fitted to
    /// the others puts them, so the user can show and move them.
    pub(super) fn apply_detected(&mut self, d: Detected) {
        let Some(wh) = self.photo_wh() else { return };
        let skeleton = Rig::from_pose(&d.pose, wh);
        let before = self.doc.clone();
        self.doc = Doc {
            target: skeleton.clone(),
            source: skeleton,
            timeline: before.timeline.clone(),
            order: before.order,
        };
        if self.doc != before {
            self.history.record(before.clone());
        }
        self.detection.step = Some(DetectionStep {
            before,
            after: self.doc.clone(),
            origin_before: self.source_origin.clone(),
            origin_after: d.origin(),
        });
        self.settings.mode = Mode::PoseTarget;
        self.source_origin = d.origin();
        self.detection.status = DetectStatus::Found(d.origin());
        self.detection.pending = None;
        self.say(found_message(&d, self.settings.show_hidden));
    }

    /// A detection that arrived after the user moved joints: their work stays, the detection is
    /// offered in the side panel.
    pub(super) fn hold_detection(&mut self, d: Detected) {
        self.detection.status = DetectStatus::Found(d.origin());
        self.say(
            "The detector found the person, but you had already moved joints: your skeleton \
             is kept (\"Use detected skeleton\" in the side panel replaces it)"
                .into(),
        );
        self.detection.pending = Some(d);
    }
}
/// The status line after a detection is applied.
fn found_message(d: &Detected, show_hidden: bool) -> String {
    let present = d.pose.num_present();
    let hidden = pose::NUM_JOINTS - present;
    let hidden = match (hidden, show_hidden) {
        (0, _) => String::new(),
        (n, true) => format!(", {n} hidden (drawn hollow: right-click one to show it)"),
        (n, false) => format!(", {n} hidden (tick \"Show hidden joints\" to place them)"),
    };
    format!(
        "Found the person in {:.0} ms: {present} joints placed{hidden}. Ctrl+Z undoes it.",
        d.millis
    )
}

/// The status line when the detector cannot load.
fn unavailable_message(u: &Unavailable) -> String {
    if u.missing {
        format!(
            "Pose detection is not installed: run `{}` once, then Edit > Detect person",
            crate::detect::models::FETCH_HINT
        )
    } else {
        format!("Pose detection could not load: {}", u.message)
    }
}
