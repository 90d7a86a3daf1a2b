//! Keyframes and the timeline that samples them.
//!
//! A keyframe is a target rig plus how long the segment that starts at it lasts and how that
//! segment eases; the last keyframe ends the clip (its duration is kept, so moving it earlier
//! in the list does not lose it). A held pose is two equal keyframes. The same JSON is a
//! project's `timeline` and `marionette animate --keyframes`' file:
//!
//! ```json
//! { "fps": 12, "keyframes": [ { "rig": { "points": [[x, y], …18], "visible": [true, …18] },
//!                               "duration": 0.5, "easing": "ease_in_out",
//!                               "order": { "right_arm": "behind" } }, … ] }
//! ```
//!
//! `order` (optional, absent = every limb automatic) is the keyframe's depth order
//! ([`LimbOrder`]); it holds over the whole segment that starts at the keyframe (a limb cannot
//! be half in front of the body), so it changes in a step at the next keyframe.

use super::interp::interpolate;
use crate::pose::rig::Rig;
use crate::puppet::LimbOrder;
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Longest segment accepted from a file (an hour), and the most keyframes: far beyond any
/// real clip, small enough that nothing downstream can overflow.
pub const MAX_SEGMENT_SECONDS: f32 = 3600.0;
pub const MAX_KEYFRAMES: usize = 10_000;
/// Frame rates accepted (GIF cannot show more than 100 frames per second).
pub const FPS_RANGE: std::ops::RangeInclusive<f32> = 1.0..=100.0;

/// How a segment moves between its two keyframes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Easing {
    /// Constant speed.
    Linear,
    /// Starts and stops gently (cubic smoothstep): what a limb does.
    #[default]
    EaseInOut,
    /// Starts gently, arrives at speed.
    EaseIn,
    /// Starts at speed, stops gently.
    EaseOut,
    /// Stays on the first keyframe, then jumps (a comic's panels).
    Step,
}

impl Easing {
    pub const ALL: [Easing; 5] = [
        Easing::Linear,
        Easing::EaseInOut,
        Easing::EaseIn,
        Easing::EaseOut,
        Easing::Step,
    ];

    /// Eased progress for linear progress `u` in [0, 1]; 0 ↦ 0 and 1 ↦ 1.
    pub fn apply(self, u: f32) -> f32 {
        let u = u.clamp(0.0, 1.0);
        match self {
            Easing::Linear => u,
            Easing::EaseInOut => u * u * (3.0 - 2.0 * u),
            Easing::EaseIn => u * u,
            Easing::EaseOut => u * (2.0 - u),
            Easing::Step => {
                if u >= 1.0 {
                    1.0
                } else {
                    0.0
                }
            }
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Easing::Linear => "Linear",
            Easing::EaseInOut => "Ease in-out",
            Easing::EaseIn => "Ease in",
            Easing::EaseOut => "Ease out",
            Easing::Step => "Step",
        }
    }
}

fn default_duration() -> f32 {
    1.0
}

fn default_fps() -> f32 {
    12.0
}

/// One pose on the timeline.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Keyframe {
    pub rig: Rig,
    /// Seconds from this keyframe to the next.
    #[serde(default = "default_duration")]
    pub duration: f32,
    /// How the segment from this keyframe to the next eases.
    #[serde(default)]
    pub easing: Easing,
    /// Which limbs the user put in front of or behind the body, from this keyframe to the next.
    #[serde(default, skip_serializing_if = "LimbOrder::is_auto")]
    pub order: LimbOrder,
}

impl Keyframe {
    pub fn new(rig: Rig) -> Self {
        Self {
            rig,
            duration: default_duration(),
            easing: Easing::default(),
            order: LimbOrder::default(),
        }
    }
}

/// Keyframes in order and the frame rate frames are sampled at.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Timeline {
    #[serde(default)]
    pub keyframes: Vec<Keyframe>,
    #[serde(default = "default_fps")]
    pub fps: f32,
}

impl Default for Timeline {
    fn default() -> Self {
        Self {
            keyframes: Vec::new(),
            fps: default_fps(),
        }
    }
}

impl Timeline {
    pub fn is_empty(&self) -> bool {
        self.keyframes.is_empty()
    }

    /// The clip's length in seconds: every segment but the last keyframe's.
    pub fn duration(&self) -> f32 {
        let n = self.keyframes.len().saturating_sub(1);
        self.keyframes[..n].iter().map(|k| k.duration).sum()
    }

    /// When keyframe `i` is reached.
    pub fn time_of(&self, i: usize) -> f32 {
        self.keyframes[..i.min(self.keyframes.len())]
            .iter()
            .map(|k| k.duration)
            .sum()
    }

    /// The rig at time `t` seconds (clamped to the clip); `None` without keyframes.
    pub fn sample(&self, t: f32) -> Option<Rig> {
        let last = self.keyframes.last()?;
        let mut start = 0.0f32;
        for pair in self.keyframes.windows(2) {
            let (k, next) = (&pair[0], &pair[1]);
            let end = start + k.duration;
            if t < end {
                let u = if k.duration > 0.0 {
                    (t - start) / k.duration
                } else {
                    1.0
                };
                return Some(interpolate(&k.rig, &next.rig, k.easing.apply(u)));
            }
            start = end;
        }
        Some(last.rig.clone())
    }

    /// The depth order at time `t` (clamped to the clip): that of the keyframe starting the
    /// segment `t` falls in (a step, never blended), the last keyframe's at and after the end.
    /// All automatic without keyframes.
    pub fn order_at(&self, t: f32) -> LimbOrder {
        let mut start = 0.0f32;
        for pair in self.keyframes.windows(2) {
            let end = start + pair[0].duration;
            if t < end {
                return pair[0].order;
            }
            start = end;
        }
        self.keyframes.last().map(|k| k.order).unwrap_or_default()
    }

    /// The depth order of frame `i` at `fps` (see [`Timeline::order_at`]).
    pub fn frame_order(&self, i: usize, fps: f32) -> LimbOrder {
        self.order_at(i as f32 / fps)
    }

    /// The depth order of every frame at `fps`, aligned with [`Timeline::frames`].
    pub fn frame_orders(&self, fps: f32) -> Vec<LimbOrder> {
        (0..self.frame_count(fps))
            .map(|i| self.frame_order(i, fps))
            .collect()
    }

    /// How many frames the clip has at `fps`: one at t = 0 and one per period up to and
    /// including the last keyframe (a tiny tolerance keeps 1 s at 12 fps at 13 frames, not 12).
    pub fn frame_count(&self, fps: f32) -> usize {
        if self.keyframes.is_empty() {
            return 0;
        }
        (self.duration() * fps + 1e-3).floor() as usize + 1
    }

    /// The rig of frame `i` at `fps`.
    pub fn frame(&self, i: usize, fps: f32) -> Option<Rig> {
        self.sample(i as f32 / fps)
    }

    /// Every frame at `fps`.
    pub fn frames(&self, fps: f32) -> Vec<Rig> {
        (0..self.frame_count(fps))
            .filter_map(|i| self.frame(i, fps))
            .collect()
    }

    /// The frame nearest keyframe `i` at `fps`.
    pub fn frame_of_keyframe(&self, i: usize, fps: f32) -> usize {
        (self.time_of(i) * fps).round() as usize
    }

    /// Checks what a file could get wrong: sizes, durations, frame rate, coordinates.
    pub fn validate(&self) -> Result<()> {
        anyhow::ensure!(
            self.keyframes.len() <= MAX_KEYFRAMES,
            "{} keyframes (at most {MAX_KEYFRAMES})",
            self.keyframes.len()
        );
        anyhow::ensure!(
            FPS_RANGE.contains(&self.fps),
            "frame rate {} is outside {}–{} frames per second",
            self.fps,
            FPS_RANGE.start(),
            FPS_RANGE.end()
        );
        for (i, k) in self.keyframes.iter().enumerate() {
            anyhow::ensure!(
                k.duration.is_finite() && (0.0..=MAX_SEGMENT_SECONDS).contains(&k.duration),
                "keyframe {}: duration {} s is not between 0 and {MAX_SEGMENT_SECONDS} s",
                i + 1,
                k.duration
            );
            anyhow::ensure!(
                k.rig.is_finite(),
                "keyframe {}: a joint has non-finite coordinates",
                i + 1
            );
        }
        Ok(())
    }

    /// Reads a keyframes file: a timeline, or a project that has one (`timeline` inside).
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the keyframes {}", path.display()))?;
        Self::from_json(&text, path)
    }

    /// [`Timeline::load`] on text already read (`path` names it in errors).
    pub fn from_json(text: &str, path: &Path) -> Result<Self> {
        let value: serde_json::Value =
            serde_json::from_str(text).with_context(|| format!("{}: not JSON", path.display()))?;
        let value = match value.get("timeline") {
            Some(inner) if value.get("keyframes").is_none() => inner.clone(),
            _ => value,
        };
        let timeline: Timeline = serde_json::from_value(value)
            .with_context(|| format!("{}: not a keyframes file", path.display()))?;
        timeline
            .validate()
            .with_context(|| format!("{}: bad keyframes", path.display()))?;
        anyhow::ensure!(
            !timeline.is_empty(),
            "{}: no keyframes in the file",
            path.display()
        );
        Ok(timeline)
    }

    /// Writes the timeline atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        let text = serde_json::to_string_pretty(self)?;
        crate::util::fs::write_atomic(path, text.as_bytes())
            .with_context(|| format!("saving the keyframes {}", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pose::skeleton::{R_ELBOW, R_SHOULDER};

    fn wave() -> Timeline {
        let rest = Rig::template(400.0, 600.0);
        let mut up = rest.clone();
        let s = up.points[R_SHOULDER];
        up.rotate_limb(R_ELBOW, [s[0] - 200.0, s[1] - 200.0]);
        let mut t = Timeline::default();
        t.keyframes.push(Keyframe::new(rest.clone()));
        t.keyframes.push(Keyframe {
            duration: 0.5,
            easing: Easing::Linear,
            ..Keyframe::new(up)
        });
        t.keyframes.push(Keyframe::new(rest));
        t
    }

    #[test]
    fn easings_start_at_0_and_end_at_1_without_overshoot() {
        for e in Easing::ALL {
            assert_eq!(e.apply(0.0), 0.0, "{e:?}");
            assert_eq!(e.apply(1.0), 1.0, "{e:?}");
            let mut last = 0.0;
            for i in 0..=100 {
                let v = e.apply(i as f32 / 100.0);
                assert!((0.0..=1.0).contains(&v) && v >= last, "{e:?} at {i}: {v}");
                last = v;
            }
        }
        assert_eq!(Easing::EaseInOut.apply(0.5), 0.5);
        assert!(Easing::EaseIn.apply(0.25) < 0.25 && Easing::EaseOut.apply(0.25) > 0.25);
    }

    #[test]
    fn frames_hit_every_keyframe() {
        let t = wave();
        assert_eq!(t.duration(), 1.5);
        assert_eq!(t.frame_count(12.0), 19);
        let frames = t.frames(12.0);
        assert_eq!(frames.len(), 19);
        for i in 0..3 {
            let f = t.frame_of_keyframe(i, 12.0);
            assert_eq!(frames[f], t.keyframes[i].rig, "keyframe {i} at frame {f}");
        }
        // Past the end: the last keyframe.
        assert_eq!(t.sample(99.0).unwrap(), t.keyframes[2].rig);
        // A step segment holds its first pose to the end.
        let mut s = t.clone();
        s.keyframes[0].easing = Easing::Step;
        assert_eq!(s.sample(0.99).unwrap(), s.keyframes[0].rig);
    }

    #[test]
    fn files_round_trip_and_bad_ones_say_why() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.json");
        let t = wave();
        t.save(&path).unwrap();
        assert_eq!(Timeline::load(&path).unwrap(), t);
        // Inside a project.
        let project = serde_json::json!({ "version": 1, "timeline": t });
        std::fs::write(&path, project.to_string()).unwrap();
        assert_eq!(Timeline::load(&path).unwrap(), t);
        let mut bad = t.clone();
        bad.keyframes[1].duration = -1.0;
        bad.save(&path).unwrap();
        let e = format!("{:#}", Timeline::load(&path).unwrap_err());
        assert!(e.contains("keyframe 2") && e.contains("duration"), "{e}");
        let mut bad = t.clone();
        bad.fps = 0.0;
        bad.save(&path).unwrap();
        assert!(format!("{:#}", Timeline::load(&path).unwrap_err()).contains("frame rate"));
        std::fs::write(&path, "{\"keyframes\": []}").unwrap();
        assert!(format!("{:#}", Timeline::load(&path).unwrap_err()).contains("no keyframes"));
        std::fs::write(&path, "[1, 2").unwrap();
        assert!(format!("{:#}", Timeline::load(&path).unwrap_err()).contains("not JSON"));
    }

    /// A keyframe's depth order holds over its segment and changes in a step at the next
    /// keyframe; it is saved with the keyframe, and files without it load as automatic.
    #[test]
    fn depth_order_steps_at_keyframes_and_round_trips() {
        use crate::puppet::{Layer, Limb};
        let mut t = wave();
        t.keyframes[1]
            .order
            .set(Limb::RightArm, Some(Layer::Behind));
        let orders = t.frame_orders(12.0);
        assert_eq!(orders.len(), t.frame_count(12.0));
        let k1 = t.frame_of_keyframe(1, 12.0);
        let k2 = t.frame_of_keyframe(2, 12.0);
        for (i, o) in orders.iter().enumerate() {
            let expected = (k1..k2).contains(&i);
            assert_eq!(o.right_arm.is_some(), expected, "frame {i}");
        }
        assert!(t.order_at(99.0).is_auto());
        assert!(Timeline::default().order_at(0.0).is_auto());

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.json");
        t.save(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.matches("\"order\"").count(), 1, "{text}");
        assert!(text.contains("\"right_arm\": \"behind\""), "{text}");
        assert_eq!(Timeline::load(&path).unwrap(), t);
    }
}
