//! The timeline's actions on the editor (see [`crate::app::timeline`] for the state they
//! move and why scrubbing records no undo step).

use super::Editor;
use crate::animate::keyframes::Timeline;
use crate::animate::keyframes::{Easing, Keyframe, FPS_RANGE, MAX_KEYFRAMES};
use crate::app::preview::{Preview, PreviewKey};
use crate::app::project::Mode;
use crate::app::timeline::{Clock, MAX_DURATION};
use std::time::Instant;

/// The timeline's actions. Those that change keyframes are one undoable edit each; those that
/// move the playhead record nothing.
impl Editor {
    /// Whether the timeline can be used: posing (while fitting, the target is the source).
    pub fn can_animate(&self) -> bool {
        self.photo.is_some() && self.settings.mode == Mode::PoseTarget
    }

    pub(super) fn check_can_animate(&mut self) -> bool {
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

    pub(super) fn change_timeline(&mut self, continuing: bool, f: impl FnOnce(&mut Timeline)) {
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
    pub(super) fn show_frame(&mut self, frame: usize) {
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
    pub(super) fn park_on_keyframe(&mut self, i: usize) {
        self.pause();
        self.timeline.selected = Some(i);
        self.timeline.playhead = self.doc.timeline.time_of(i);
        self.timeline.shown = Some(self.doc.target.clone());
    }

    pub(super) fn selected_keyframe(&mut self) -> Option<usize> {
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
