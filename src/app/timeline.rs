//! Keyframes in the editor: which keyframe is selected, the playhead, playback, and the preview
//! frames of the clip kept once computed.
//!
//! The keyframes themselves are part of the document ([`Doc::timeline`]), so adding,
//! reordering, retiming or deleting one is one undo step through [`Editor::edit`]. Scrubbing
//! and playing only *show* a pose: they set the target directly and record nothing — a clip
//! played at 12 fps would otherwise bury every real edit under a dozen frames a second — and
//! the next real edit records the pose shown as its "before", so undo works as usual.
//!
//! The playhead moves in whole frames of the timeline's frame rate, the frames an export
//! writes. A frame's preview is kept when it arrives for exactly that pose (and photo, source
//! skeleton and layers), so scrubbing back and playing again show it at once instead of
//! waiting for the preview worker.

use super::editor::{Doc, Editor};
use super::preview::{Preview, PreviewKey};
use super::project::Mode;
use crate::animate::keyframes::{Easing, Keyframe, Timeline, FPS_RANGE, MAX_KEYFRAMES};
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

/// Playback: the frame shown when play started, and when.
#[derive(Clone, Copy, Debug)]
struct Clock {
    started: Instant,
    first: usize,
}

/// The timeline's state apart from the keyframes.
pub struct TimelineState {
    pub selected: Option<usize>,
    /// Seconds into the clip.
    pub playhead: f32,
    /// Playback starts again at the end.
    pub looping: bool,
    clock: Option<Clock>,
    /// The pose the playhead last put on the target. A target that differs was edited since,
    /// and the playhead no longer describes what is shown.
    shown: Option<Rig>,
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

/// The timeline's actions. Those that change keyframes are one undoable edit each; those that
/// move the playhead record nothing.
impl Editor {
    /// Whether the timeline can be used: posing (while fitting, the target is the source).
    pub fn can_animate(&self) -> bool {
        self.photo.is_some() && self.settings.mode == Mode::PoseTarget
    }

    fn check_can_animate(&mut self) -> bool {
        if !self.can_animate() {
            self.say("Keyframes pose the target: open a photo and start posing first".into());
        }
        self.can_animate()
    }

    /// Adds the current target (with its depth order) as a keyframe after the selected one (or at the end), and
    /// selects it.
    pub fn add_keyframe(&mut self) {
        if !self.check_can_animate() {
            return;
        }
        let n = self.doc.timeline.keyframes.len();
        if n >= MAX_KEYFRAMES {
            self.say(format!("A clip holds at most {MAX_KEYFRAMES} keyframes"));
            return;
        }
        let at = self.timeline.selected.map_or(n, |i| i + 1).min(n);
        let key = Keyframe {
            order: self.doc.order,
            ..Keyframe::new(self.doc.target.clone())
        };
        self.edit(|d| d.timeline.keyframes.insert(at, key));
        self.park_on_keyframe(at);
        let t = self.doc.timeline.time_of(at);
        self.say(format!("Added keyframe {} at {t:.2} s", at + 1));
    }

    /// Replaces the selected keyframe's pose and depth order with the current target's.
    pub fn update_keyframe(&mut self) {
        let Some(i) = self.selected_keyframe() else {
            return;
        };
        let (rig, order) = (self.doc.target.clone(), self.doc.order);
        self.edit(|d| {
            d.timeline.keyframes[i].rig = rig;
            d.timeline.keyframes[i].order = order;
        });
        self.park_on_keyframe(i);
    }

    /// A copy of the selected keyframe right after it, selected.
    pub fn duplicate_keyframe(&mut self) {
        let Some(i) = self.selected_keyframe() else {
            return;
        };
        if self.doc.timeline.keyframes.len() >= MAX_KEYFRAMES {
            self.say(format!("A clip holds at most {MAX_KEYFRAMES} keyframes"));
            return;
        }
        self.edit(|d| {
            let copy = d.timeline.keyframes[i].clone();
            d.timeline.keyframes.insert(i + 1, copy);
        });
        self.park_on_keyframe(i + 1);
    }

    /// Deletes the selected keyframe; the one now at its place (or the new last) is selected.
    /// The target stays as it is.
    pub fn delete_keyframe(&mut self) {
        let Some(i) = self.selected_keyframe() else {
            return;
        };
        self.pause();
        self.edit(|d| {
            d.timeline.keyframes.remove(i);
        });
        let n = self.doc.timeline.keyframes.len();
        self.timeline.selected = n.checked_sub(1).map(|last| i.min(last));
    }

    /// Swaps the selected keyframe with its neighbour (`later`: the next one), keeping it
    /// selected. A keyframe takes its duration and easing along.
    pub fn move_keyframe(&mut self, later: bool) {
        let Some(i) = self.selected_keyframe() else {
            return;
        };
        let n = self.doc.timeline.keyframes.len();
        let j = if later { i + 1 } else { i.wrapping_sub(1) };
        if j >= n {
            return;
        }
        self.pause();
        self.edit(|d| d.timeline.keyframes.swap(i, j));
        self.timeline.selected = Some(j);
        self.timeline.playhead = self.doc.timeline.time_of(j);
    }

    /// Selects keyframe `i` and poses the target as it, depth order included (one undoable
    /// edit: the target changes).
    pub fn select_keyframe(&mut self, i: usize) {
        if !self.check_can_animate() || i >= self.doc.timeline.keyframes.len() {
            return;
        }
        let k = &self.doc.timeline.keyframes[i];
        let (rig, order) = (k.rig.clone(), k.order);
        self.edit(|d| {
            d.target = rig;
            d.order = order;
        });
        self.park_on_keyframe(i);
    }

    /// Seconds from keyframe `i` to the next, clamped to 0–[`MAX_DURATION`]. `continuing`:
    /// part of a drag opened with [`Editor::begin_edit`], so no record of its own.
    pub fn set_keyframe_duration(&mut self, i: usize, seconds: f32, continuing: bool) {
        if i >= self.doc.timeline.keyframes.len() || !seconds.is_finite() {
            return;
        }
        let seconds = seconds.clamp(0.0, MAX_DURATION);
        self.change_timeline(continuing, |t| t.keyframes[i].duration = seconds);
    }

    pub fn set_keyframe_easing(&mut self, i: usize, easing: Easing) {
        if i < self.doc.timeline.keyframes.len() {
            self.change_timeline(false, |t| t.keyframes[i].easing = easing);
        }
    }

    /// The frame rate of playback and export, clamped to what a GIF can show.
    pub fn set_timeline_fps(&mut self, fps: f32, continuing: bool) {
        if fps.is_finite() {
            let fps = fps.clamp(*FPS_RANGE.start(), *FPS_RANGE.end());
            self.change_timeline(continuing, |t| t.fps = fps);
        }
    }

    fn change_timeline(&mut self, continuing: bool, f: impl FnOnce(&mut Timeline)) {
        if continuing {
            f(&mut self.doc.timeline);
        } else {
            self.edit(|d| f(&mut d.timeline));
        }
    }

    /// Shows the clip at `seconds` (snapped to the nearest frame): the target becomes that
    /// frame's pose. Records nothing; stops playback.
    pub fn scrub_to(&mut self, seconds: f32) {
        if !self.can_animate() {
            return;
        }
        self.pause();
        let fps = self.doc.timeline.fps;
        let count = self.doc.timeline.frame_count(fps);
        if count == 0 || !seconds.is_finite() {
            return;
        }
        let frame = (seconds.max(0.0) * fps).round() as usize;
        self.show_frame(frame.min(count - 1));
    }

    /// Play (from the playhead, or from the start when at the end) or pause.
    pub fn toggle_play(&mut self) {
        self.toggle_play_at(Instant::now());
    }

    pub fn toggle_play_at(&mut self, now: Instant) {
        if self.timeline.playing() {
            self.pause();
            return;
        }
        if !self.check_can_animate() {
            return;
        }
        let fps = self.doc.timeline.fps;
        let count = self.doc.timeline.frame_count(fps);
        if self.doc.timeline.keyframes.len() < 2 || count < 2 {
            self.say("Add two keyframes (a segment longer than a frame) to play".into());
            return;
        }
        let mut first = ((self.timeline.playhead * fps).round() as usize).min(count - 1);
        if first == count - 1 {
            first = 0;
        }
        self.show_frame(first);
        self.timeline.clock = Some(Clock {
            started: now,
            first,
        });
    }

    pub fn pause(&mut self) {
        self.timeline.clock = None;
    }

    /// Once per UI frame (from [`Editor::tick`]): keeps the selection inside the clip after an
    /// undo, drops kept frames that no longer apply, and advances playback to `now`.
    pub fn tick_timeline(&mut self, now: Instant) {
        let n = self.doc.timeline.keyframes.len();
        if self.timeline.selected.is_some_and(|i| i >= n) {
            self.timeline.selected = n.checked_sub(1);
        }
        let photo = self.photo.as_ref().map(|p| p.id);
        self.timeline
            .frames
            .rebase(&self.doc.timeline, photo, &self.doc.source);
        let Some(clock) = self.timeline.clock else {
            return;
        };
        // A joint dragged or an edit undone during playback: the user takes over.
        if self.timeline.shown.as_ref() != Some(&self.doc.target) || !self.can_animate() {
            self.pause();
            return;
        }
        let fps = self.doc.timeline.fps;
        let count = self.doc.timeline.frame_count(fps);
        if count < 2 {
            self.pause();
            return;
        }
        let elapsed = now.saturating_duration_since(clock.started).as_secs_f32();
        let k = clock.first + (elapsed * fps).floor() as usize;
        let frame = if self.timeline.looping {
            k % count
        } else if k >= count - 1 {
            self.pause();
            count - 1
        } else {
            k
        };
        self.show_frame(frame);
    }

    /// Puts frame `frame`'s pose and depth order on the target without an undo record.
    fn show_frame(&mut self, frame: usize) {
        let fps = self.doc.timeline.fps;
        let Some(rig) = self.doc.timeline.frame(frame, fps) else {
            return;
        };
        self.timeline.playhead = frame as f32 / fps;
        if self.doc.target != rig {
            self.doc.target = rig.clone();
        }
        self.doc.order = self.doc.timeline.frame_order(frame, fps);
        self.timeline.shown = Some(rig);
    }

    /// Keyframe `i` selected, the playhead at its time showing it (the target is its pose).
    fn park_on_keyframe(&mut self, i: usize) {
        self.pause();
        self.timeline.selected = Some(i);
        self.timeline.playhead = self.doc.timeline.time_of(i);
        self.timeline.shown = Some(self.doc.target.clone());
    }

    fn selected_keyframe(&mut self) -> Option<usize> {
        if !self.check_can_animate() {
            return None;
        }
        let i = self
            .timeline
            .selected
            .filter(|&i| i < self.doc.timeline.keyframes.len());
        if i.is_none() {
            self.say("Select a keyframe first".into());
        }
        i
    }

    /// The kept preview of the frame the target shows, when `key` is what it answers: shown at
    /// once (as the newest preview) instead of asking the worker. False when there is none.
    pub(super) fn show_cached_frame(&mut self, key: &PreviewKey) -> bool {
        let Some(frame) = self.timeline.current_frame(&self.doc) else {
            return false;
        };
        let Some(hit) = self.timeline.frames.get(frame, key) else {
            return false;
        };
        self.preview = Some(Preview {
            request: self.latest_request,
            ..hit.clone()
        });
        self.preview_version += 1;
        true
    }

    /// A preview was asked for `key`: if the target is a frame of the clip, its answer is kept.
    pub(super) fn preview_asked(&mut self, key: &PreviewKey) {
        if let Some(frame) = self.timeline.current_frame(&self.doc) {
            self.timeline.frames.asked(frame, key.clone());
        }
    }
}

#[cfg(test)]
#[path = "timeline_tests.rs"]
mod tests;
