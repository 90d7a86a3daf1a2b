//! Keyframes in the editor: which keyframe is selected, the playhead, playback, and the preview
//! frames of the clip kept once computed.
//!
//! The keyframes themselves are part of the document ([`Doc::timeline`]), so adding,
//! reordering, retiming or deleting one is one undo step through
//! [`crate::app::Editor::edit`]; the editor's actions on the timeline are in
//! `app/editor/timeline.rs`. Scrubbing and playing only *show* a pose: they set the target
//! directly and record nothing — a clip played at 12 fps would otherwise bury every real edit
//! under a dozen frames a second — and the next real edit records the pose shown as its
//! "before", so undo works as usual.
//!
//! The playhead moves in whole frames of the timeline's frame rate, the frames an export
//! writes. A frame's preview is kept when it arrives for exactly that pose (and photo, source
//! skeleton and layers), so scrubbing back and playing again show it at once instead of
//! waiting for the preview worker.

use super::doc::Doc;
use super::preview::{Preview, PreviewKey};
use crate::animate::keyframes::Timeline;
use crate::pose::rig::Rig;
use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// Longest segment the editor's duration field offers (a keyframes file may hold longer).
pub const MAX_DURATION: f32 = 60.0;
/// Memory the kept preview frames may take (~330 frames of a 512 px preview): a clip longer
/// than that keeps its first frames and computes the rest each time.
const CACHE_BYTES: usize = 256 << 20;
/// Frames asked of the preview worker remembered until their answer: the worker runs only the
/// newest request, so older ones are mostly never answered; a few are enough.
const ASKED_KEPT: usize = 32;

/// Playback: the frame shown when play started, and when. (`pub(super)`, like `clock` and
/// `shown`: the editor's timeline actions, `app/editor/timeline.rs`, move them.)
#[derive(Clone, Copy, Debug)]
pub(super) struct Clock {
    pub(super) started: Instant,
    pub(super) first: usize,
}

/// The timeline's state apart from the keyframes.
pub struct TimelineState {
    pub selected: Option<usize>,
    /// Seconds into the clip.
    pub playhead: f32,
    /// Playback starts again at the end.
    pub looping: bool,
    pub(super) clock: Option<Clock>,
    /// The pose the playhead last put on the target. A target that differs was edited since,
    /// and the playhead no longer describes what is shown.
    pub(super) shown: Option<Rig>,
    pub frames: FrameCache,
}

impl Default for TimelineState {
    fn default() -> Self {
        Self {
            selected: None,
            playhead: 0.0,
            looping: true,
            clock: None,
            shown: None,
            frames: FrameCache::default(),
        }
    }
}

impl TimelineState {
    pub fn playing(&self) -> bool {
        self.clock.is_some()
    }

    /// The frame of `doc.timeline` the target shows, when it shows one (it was put there by
    /// the playhead and not edited since).
    pub fn current_frame(&self, doc: &Doc) -> Option<usize> {
        let fps = doc.timeline.fps;
        let at = self.playhead * fps;
        let frame = at.round();
        let on_frame = (at - frame).abs() < 1e-3
            && (frame as usize) < doc.timeline.frame_count(fps)
            && self.shown.as_ref() == Some(&doc.target);
        on_frame.then_some(frame as usize)
    }

    /// How long until playback shows its next frame (the UI sleeps until then).
    pub fn until_next_frame(&self, fps: f32, now: Instant) -> Option<Duration> {
        let clock = self.clock?;
        let elapsed = now.saturating_duration_since(clock.started).as_secs_f32();
        let next = ((elapsed * fps).floor() + 1.0) / fps;
        Some(Duration::from_secs_f32((next - elapsed).max(0.0)))
    }
}

/// Preview frames of the clip by frame index, each kept with the exact preview it answers.
#[derive(Default)]
pub struct FrameCache {
    /// What the frames were made for: the keyframes, the photo and the source skeleton. Any
    /// change drops them (a kept frame is also checked against its whole key when used, so
    /// this is about memory, not correctness).
    basis: Option<(Timeline, Option<u64>, Rig)>,
    frames: HashMap<usize, Preview>,
    /// Frames asked of the preview worker, newest last, awaiting their answer.
    asked: VecDeque<(usize, PreviewKey)>,
    bytes: usize,
}

impl FrameCache {
    /// Drops the frames when the clip, photo or source skeleton changed.
    pub fn rebase(&mut self, timeline: &Timeline, photo: Option<u64>, source: &Rig) {
        let same = self
            .basis
            .as_ref()
            .is_some_and(|(t, p, s)| t == timeline && *p == photo && s == source);
        if !same {
            self.frames.clear();
            self.asked.clear();
            self.bytes = 0;
            self.basis = Some((timeline.clone(), photo, source.clone()));
        }
    }

    /// Frame `frame`'s preview, if it was kept for exactly `key`.
    pub fn get(&self, frame: usize, key: &PreviewKey) -> Option<&Preview> {
        self.frames.get(&frame).filter(|p| {
            p.photo_id == key.0
                && p.source == key.1
                && p.target == key.2
                && p.composited == key.3
                && p.order == key.4
        })
    }

    /// A preview for `frame` was asked for with `key`.
    pub fn asked(&mut self, frame: usize, key: PreviewKey) {
        if self.asked.len() == ASKED_KEPT {
            self.asked.pop_front();
        }
        self.asked.push_back((frame, key));
    }

    /// Keeps `p` if it answers a frame asked for (and fits in memory).
    pub fn offer(&mut self, p: &Preview) {
        let Some(pos) = self.asked.iter().rposition(|(_, k)| {
            p.photo_id == k.0
                && p.source == k.1
                && p.target == k.2
                && p.composited == k.3
                && p.order == k.4
        }) else {
            return;
        };
        let Some((frame, _)) = self.asked.remove(pos) else {
            return;
        };
        if let Some(old) = self.frames.remove(&frame) {
            self.bytes -= old.image.as_raw().len();
        }
        let size = p.image.as_raw().len();
        if self.bytes + size <= CACHE_BYTES {
            self.bytes += size;
            self.frames.insert(frame, p.clone());
        }
    }

    /// How many frames are kept.
    pub fn len(&self) -> usize {
        self.frames.len()
    }

    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }
}
