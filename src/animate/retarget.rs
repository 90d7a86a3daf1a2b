//! A driver's motion ([`MotionClip`]) mapped onto the photo's person: their bone lengths,
//! scale and placement, the driver's bone directions and (scaled) root motion.
//!
//! [`retarget`] runs three steps:
//!
//! 1. **Gaps** ([`fill_gaps`]): a joint missing for at most `max_gap` frames between two frames
//!    that show it is filled linearly in time. Longer gaps and the clip's ends stay missing:
//!    inventing a limb for a second is worse than hiding it.
//! 2. **Jitter** ([`smooth`]): a Gaussian-weighted *local linear* regression in time (LOESS of
//!    degree 1), centred on each frame, weighted by the joint's confidence, over only the frames
//!    where the joint is present. The clip is offline, so a centred filter is possible and has
//!    no lag. Fitting a line rather than averaging keeps a joint moving at constant speed
//!    exactly where it is even at the clip's ends and next to gaps, where a plain Gaussian
//!    average (its window cut on one side) would pull it back towards where it came from.
//!    Missing frames carry no weight, so nothing is pulled towards them, and stay missing.
//! 3. **Retargeting** (per frame): the kinematic tree ([`PARENT`]) is walked from the neck; each
//!    bone keeps the person's length and takes the driver's absolute direction in that frame.
//!    Left and right are the driver's own (no mirroring).
//!
//! **Scale** = person size / driver size, from the first of these measures both skeletons
//! have: the torso (neck to the hips' midpoint), the shoulder width, the summed lengths of the
//! bones both show. The driver's is the median over its frames, which a few frames of a bent
//! or turned body do not move. The torso comes first because it bends least as limbs move.
//!
//! **Root**: the person's neck, plus the driver's neck displacement since its first frame times
//! the scale when [`RetargetOptions::root_motion`] is set and the photo shows the person's hips.
//! A driver without a neck but with both shoulders gets one at their midpoint (how BlazePose's
//! and BODY_25's necks are defined). A person without hips (a bust, a photo cut at the waist)
//! has no root to carry: the upper body lifted by a driver's bounce over a lower body that no
//! part of the puppet moves tore a line of background across the astronaut's chest in every
//! frame of a jumping jack, so the neck stays put there.
//!
//! **Joints the driver does not show.** A joint the driver never shows keeps the person's own
//! placement relative to its parent bone (the angle between them as in the photo; for the
//! neck's children, which have no parent bone, their direction in the photo) and the person's
//! visibility. A joint missing in one frame (after gap filling) is hidden in that
//! frame but placed by the same rule, so its children hang somewhere sensible. Where the
//! person's own bone is unknown (an end hidden in the photo) it takes the driver's median
//! length times the scale.

use super::motion::MotionClip;
use crate::pose::rig::{dist, Point, Rig, PARENT};
use crate::pose::skeleton::{L_HIP, L_SHOULDER, NECK, R_HIP, R_SHOULDER};
use crate::pose::{Joint, Pose, NUM_JOINTS};

/// How a motion is cleaned and applied.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RetargetOptions {
    /// Standard deviation of the smoothing window in frames; 0 turns smoothing off.
    pub smooth_sigma: f32,
    /// Longest run of missing frames filled by interpolation.
    pub max_gap: usize,
    /// Move the person's root with the driver's (scaled), when the photo shows the person's hips;
    /// otherwise the neck stays put.
    pub root_motion: bool,
    /// What the person takes from the driver's bones.
    pub transfer: Transfer,
}

/// What a driven bone takes from the driver.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Transfer {
    /// The driver's direction in each frame: the person does the driver's pose (a dance onto
    /// someone standing like the driver did at the start).
    #[default]
    Pose,
    /// The person's own direction in the photo turned by how much the driver's bone has turned
    /// since the first frame that shows it: the person keeps their posture (a profile, a lean,
    /// a head tilted over a camera) and makes the driver's movements from it. A driver in
    /// another view than the person (a frontal driver for a profile photo) needs this: its
    /// absolute directions would turn the person's head and body into the driver's view.
    Motion,
}

impl Default for RetargetOptions {
    /// σ = 1.5 frames halves the power of motion at about 2.6 Hz at 30 fps: detector jitter
    /// (frame to frame) goes, a wave (1–2 Hz) stays. Gaps up to 10 frames, a third of a second.
    fn default() -> Self {
        Self {
            smooth_sigma: 1.5,
            max_gap: 10,
            root_motion: true,
            transfer: Transfer::Pose,
        }
    }
}

/// Bones shorter than this (pixels) have no direction to speak of.
const MIN_BONE: f64 = 1e-3;

/// Fills each joint's missing runs of at most `max_gap` frames that have the joint on both
/// sides, linearly in time (position and confidence). Longer gaps and the ends stay missing.
pub fn fill_gaps(frames: &[Pose], max_gap: usize) -> Vec<Pose> {
    let mut out = frames.to_vec();
    for j in 0..NUM_JOINTS {
        let mut last: Option<(usize, Joint)> = None;
        for (t, pose) in frames.iter().enumerate() {
            let Some(b) = pose.get(j) else { continue };
            if let Some((s, a)) = last {
                let gap = t - s - 1;
                if (1..=max_gap).contains(&gap) {
                    for (k, frame) in out.iter_mut().enumerate().take(t).skip(s + 1) {
                        let u = (k - s) as f32 / (t - s) as f32;
                        frame.set(j, Some(lerp(a, b, u)));
                    }
                }
            }
            last = Some((t, b));
        }
    }
    out
}

fn lerp(a: Joint, b: Joint, u: f32) -> Joint {
    let mix = |p: f32, q: f32| p + (q - p) * u;
    Joint::new(
        mix(a.x, b.x),
        mix(a.y, b.y),
        mix(a.confidence, b.confidence),
    )
}

/// Smooths every joint's track with the confidence-weighted Gaussian local linear regression
/// of the module docs (σ = `sigma` frames, window ±3σ). Only present joints are moved, missing
/// ones stay missing; confidences are kept. `sigma` ≤ 0 (or not finite) returns the frames.
pub fn smooth(frames: &[Pose], sigma: f32) -> Vec<Pose> {
    if !(sigma.is_finite() && sigma > 0.0) {
        return frames.to_vec();
    }
    let sigma = f64::from(sigma);
    let radius = ((3.0 * sigma).ceil() as usize).min(frames.len());
    let kernel: Vec<f64> = (0..=radius)
        .map(|d| (-((d * d) as f64) / (2.0 * sigma * sigma)).exp())
        .collect();
    let mut out = frames.to_vec();
    for j in 0..NUM_JOINTS {
        for (t, frame) in out.iter_mut().enumerate() {
            let Some(joint) = frame.get(j) else { continue };
            let [x, y] = local_linear(frames, j, t, &kernel);
            frame.set(j, Some(Joint::new(x, y, joint.confidence)));
        }
    }
    out
}

/// The weighted least-squares line through joint `j`'s positions near frame `t`, evaluated at
/// `t`. Time is measured from `t`, so the line's value there is its intercept.
fn local_linear(frames: &[Pose], j: usize, t: usize, kernel: &[f64]) -> Point {
    let radius = kernel.len() - 1;
    let lo = t.saturating_sub(radius);
    let hi = (t + radius).min(frames.len() - 1);
    // Sums of w, w·d, w·d², w·x, w·d·x, w·y, w·d·y.
    let (mut sw, mut sd, mut sdd) = (0.0f64, 0.0f64, 0.0f64);
    let (mut sx, mut sdx, mut sy, mut sdy) = (0.0f64, 0.0f64, 0.0f64, 0.0f64);
    for (s, frame) in frames.iter().enumerate().take(hi + 1).skip(lo) {
        let Some(p) = frame.get(j) else { continue };
        let d = s as f64 - t as f64;
        let w = kernel[s.abs_diff(t)] * confidence_weight(p.confidence);
        let (x, y) = (f64::from(p.x), f64::from(p.y));
        sw += w;
        sd += w * d;
        sdd += w * d * d;
        sx += w * x;
        sdx += w * d * x;
        sy += w * y;
        sdy += w * d * y;
    }
    let det = sw * sdd - sd * sd;
    if det <= 1e-9 * sw * sw {
        // One frame in the window (or all at one time): the weighted mean is all there is.
        return [(sx / sw) as f32, (sy / sw) as f32];
    }
    let at_t = |s: f64, sds: f64| ((sdd * s - sd * sds) / det) as f32;
    [at_t(sx, sdx), at_t(sy, sdy)]
}

/// A joint's weight from its confidence: unsure joints count less, but never nothing (a
/// present joint with confidence 0 is still evidence), and nonsense counts as sure.
fn confidence_weight(c: f32) -> f64 {
    if c.is_finite() {
        f64::from(c.clamp(0.05, 1.0))
    } else {
        1.0
    }
}

/// The driver's motion on `person` (the photo's source skeleton), one rig per frame of `clip`
/// (see the module docs for the rules).
pub fn retarget(clip: &MotionClip, person: &Rig, opts: &RetargetOptions) -> Vec<Rig> {
    let with_necks: Vec<Pose> = clip.frames.iter().map(neck_from_shoulders).collect();
    let driver = smooth(&fill_gaps(&with_necks, opts.max_gap), opts.smooth_sigma);
    let plan = Plan::new(&driver, person, opts.transfer);
    let mut offset = [0.0f64; 2];
    let reference = driver.iter().find_map(|p| p.get(NECK));
    let carries_root = opts.root_motion && (person.visible[R_HIP] || person.visible[L_HIP]);
    driver
        .iter()
        .map(|pose| {
            // The root's displacement; held through frames without a neck.
            if let (Some(n), Some(r)) = (pose.get(NECK), reference) {
                offset = [
                    f64::from(n.x - r.x) * plan.scale,
                    f64::from(n.y - r.y) * plan.scale,
                ];
            }
            let shift = if carries_root { offset } else { [0.0; 2] };
            plan.frame(pose, shift)
        })
        .collect()
}

/// A copy of `pose` with a missing neck put at the shoulders' midpoint when both are there.
fn neck_from_shoulders(pose: &Pose) -> Pose {
    let mut out = pose.clone();
    if let (None, Some(r), Some(l)) = (pose.get(NECK), pose.get(R_SHOULDER), pose.get(L_SHOULDER)) {
        let c = r.confidence.min(l.confidence);
        out.set(
            NECK,
            Some(Joint::new((r.x + l.x) / 2.0, (r.y + l.y) / 2.0, c)),
        );
    }
    out
}

/// What every frame shares: the person's geometry, the scale, the walking order.
struct Plan {
    /// The person's joints in f64 (hidden ones where the rig placed them).
    points: [[f64; 2]; NUM_JOINTS],
    visible: [bool; NUM_JOINTS],
    /// Length of the bone from each joint to its parent in the output.
    length: [f64; NUM_JOINTS],
    /// The person's bone angle relative to the parent bone (absolute for the root's children).
    relative: [f64; NUM_JOINTS],
    /// Whether the driver shows the joint in any frame.
    seen: [bool; NUM_JOINTS],
    /// [`Transfer::Motion`]: per bone, the person's direction in the photo minus the driver's
    /// in the first frame that shows the bone (added to the driver's direction); zero for
    /// [`Transfer::Pose`].
    turn: [f64; NUM_JOINTS],
    /// Joints with every parent before its children.
    order: Vec<usize>,
    scale: f64,
}

impl Plan {
    fn new(driver: &[Pose], person: &Rig, transfer: Transfer) -> Self {
        let points = person.points.map(|[x, y]| [f64::from(x), f64::from(y)]);
        let driver_bones = median_bone_lengths(driver);
        let scale = body_scale(driver, person, &driver_bones);
        let length = std::array::from_fn(|j| {
            bone_length(person, j, driver_bones[j].map(|d| f64::from(d) * scale))
        });
        let relative = std::array::from_fn(|j| match PARENT[j] {
            None => 0.0,
            Some(p) => {
                let own = angle(points[p], points[j]);
                PARENT[p].map_or(own, |pp| own - angle(points[pp], points[p]))
            }
        });
        let seen = std::array::from_fn(|j| driver.iter().any(|p| p.get(j).is_some()));
        let turn = std::array::from_fn(|j| match (transfer, PARENT[j]) {
            (Transfer::Motion, Some(p)) => driver
                .iter()
                .find_map(|d| driven_angle(d, p, j))
                .map_or(0.0, |first| angle(points[p], points[j]) - first),
            _ => 0.0,
        });
        Self {
            points,
            visible: person.visible,
            length,
            relative,
            seen,
            turn,
            order: parents_first(),
            scale,
        }
    }

    /// One frame: the root at the person's neck + `shift`, then each bone from its parent.
    fn frame(&self, driver: &Pose, shift: [f64; 2]) -> Rig {
        let mut pts = [[0.0f64; 2]; NUM_JOINTS];
        let mut visible = [false; NUM_JOINTS];
        pts[NECK] = [
            self.points[NECK][0] + shift[0],
            self.points[NECK][1] + shift[1],
        ];
        visible[NECK] = self.visibility(NECK, driver.get(NECK).is_some());
        for &j in &self.order {
            let Some(p) = PARENT[j] else { continue };
            let driven = driven_angle(driver, p, j).map(|a| a + self.turn[j]);
            let direction = driven.unwrap_or_else(|| {
                // The person's own angle to the parent bone as it is in this frame.
                let base = PARENT[p].map_or(0.0, |pp| angle(pts[pp], pts[p]));
                base + self.relative[j]
            });
            let (s, c) = direction.sin_cos();
            pts[j] = [
                pts[p][0] + self.length[j] * c,
                pts[p][1] + self.length[j] * s,
            ];
            visible[j] = self.visibility(j, driven.is_some());
        }
        Rig {
            points: pts.map(|[x, y]| [x as f32, y as f32]),
            visible,
        }
    }

    /// Shown when the driver shows it now; never shown: as in the photo; else hidden.
    fn visibility(&self, j: usize, driven: bool) -> bool {
        driven || (!self.seen[j] && self.visible[j])
    }
}

/// The driver's direction of the bone `p` → `j`, when it shows both ends apart.
fn driven_angle(driver: &Pose, p: usize, j: usize) -> Option<f64> {
    let (a, b) = (joint_point(driver.get(p)?), joint_point(driver.get(j)?));
    (dist2(a, b) > MIN_BONE).then(|| angle(a, b))
}

/// Output length of bone `j` (to its parent): the person's own when both its ends are visible
/// in the photo and it is not degenerate, else the driver's scaled median, else where the rig
/// put the hidden joint (the template's guess, fitted to the person).
fn bone_length(person: &Rig, j: usize, driver_scaled: Option<f64>) -> f64 {
    let Some(p) = PARENT[j] else { return 0.0 };
    let own = f64::from(dist(person.points[j], person.points[p]));
    let known = person.visible[j] && person.visible[p] && own > MIN_BONE;
    if known {
        own
    } else {
        driver_scaled.unwrap_or(own)
    }
}

/// Per joint, the median length of its bone over the frames where the driver shows both ends.
fn median_bone_lengths(driver: &[Pose]) -> [Option<f32>; NUM_JOINTS] {
    std::array::from_fn(|j| {
        let p = PARENT[j]?;
        median(driver.iter().filter_map(|pose| {
            let (a, b) = (pose.get(p)?, pose.get(j)?);
            Some((b.x - a.x).hypot(b.y - a.y))
        }))
    })
}

/// Person size / driver size (module docs): torso, then shoulder width, then summed bones;
/// 1 when nothing is comparable.
fn body_scale(driver: &[Pose], person: &Rig, driver_bones: &[Option<f32>; NUM_JOINTS]) -> f64 {
    let person_at = |j: usize| person.visible[j].then_some(person.points[j]);
    for measure in [torso, shoulder_width] {
        let own = measure(&person_at);
        let theirs = median(
            driver
                .iter()
                .filter_map(|pose| measure(&|j: usize| pose.get(j).map(|q| [q.x, q.y]))),
        );
        if let (Some(own), Some(theirs)) = (own, theirs) {
            if f64::from(own) > MIN_BONE && f64::from(theirs) > MIN_BONE {
                return f64::from(own) / f64::from(theirs);
            }
        }
    }
    let (mut own, mut theirs) = (0.0f64, 0.0f64);
    for j in 0..NUM_JOINTS {
        let (Some(p), Some(d)) = (PARENT[j], driver_bones[j]) else {
            continue;
        };
        if person.visible[j] && person.visible[p] {
            own += f64::from(dist(person.points[j], person.points[p]));
            theirs += f64::from(d);
        }
    }
    if own > MIN_BONE && theirs > MIN_BONE {
        own / theirs
    } else {
        1.0
    }
}

/// Neck to the hips' midpoint.
fn torso(at: &dyn Fn(usize) -> Option<Point>) -> Option<f32> {
    let (n, r, l) = (at(NECK)?, at(R_HIP)?, at(L_HIP)?);
    Some(dist(n, [(r[0] + l[0]) / 2.0, (r[1] + l[1]) / 2.0]))
}

fn shoulder_width(at: &dyn Fn(usize) -> Option<Point>) -> Option<f32> {
    Some(dist(at(R_SHOULDER)?, at(L_SHOULDER)?))
}

/// The median of finite values (the upper one of an even count); `None` when there are none.
fn median(values: impl Iterator<Item = f32>) -> Option<f32> {
    let mut v: Vec<f32> = values.filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f32::total_cmp);
    Some(v[v.len() / 2])
}

/// Joints ordered by depth in the tree, so every parent comes before its children.
fn parents_first() -> Vec<usize> {
    let depth = |mut j: usize| {
        let mut d = 0;
        while let Some(p) = PARENT[j] {
            j = p;
            d += 1;
        }
        d
    };
    let mut order: Vec<usize> = (0..NUM_JOINTS).collect();
    order.sort_by_key(|&j| depth(j));
    order
}

fn joint_point(j: Joint) -> [f64; 2] {
    [f64::from(j.x), f64::from(j.y)]
}

/// Direction of `b − a` (radians, y down like the image).
fn angle(a: [f64; 2], b: [f64; 2]) -> f64 {
    (b[1] - a[1]).atan2(b[0] - a[0])
}

fn dist2(a: [f64; 2], b: [f64; 2]) -> f64 {
    (b[0] - a[0]).hypot(b[1] - a[1])
}

#[cfg(test)]
#[path = "tests/retarget.rs"]
mod tests;
