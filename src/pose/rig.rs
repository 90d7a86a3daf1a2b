//! The editable skeleton (a rig): every joint always has a position (so a hidden joint can be shown
//! again where it was), plus a visibility flag that becomes "missing" in the model's [`Pose`].
//! Also the kinematic tree and the edits on it: plain moves, forward-kinematics rotation of a
//! limb, limb-length lock, mirror, and the template placed when no pose is known.

use super::{mirror_index, Joint, Pose, NUM_JOINTS};
use serde::{Deserialize, Serialize};

/// A 2-D point in photo pixels.
pub type Point = [f32; 2];

/// Parent of each joint in the kinematic tree rooted at the neck (`None` for the neck): the
/// arms and legs hang from the neck through shoulders and hips, the face from the nose.
pub const PARENT: [Option<usize>; NUM_JOINTS] = [
    Some(1),  // nose ← neck
    None,     // neck (root)
    Some(1),  // r_shoulder ← neck
    Some(2),  // r_elbow ← r_shoulder
    Some(3),  // r_wrist ← r_elbow
    Some(1),  // l_shoulder ← neck
    Some(5),  // l_elbow ← l_shoulder
    Some(6),  // l_wrist ← l_elbow
    Some(1),  // r_hip ← neck
    Some(8),  // r_knee ← r_hip
    Some(9),  // r_ankle ← r_knee
    Some(1),  // l_hip ← neck
    Some(11), // l_knee ← l_hip
    Some(12), // l_ankle ← l_knee
    Some(0),  // r_eye ← nose
    Some(0),  // l_eye ← nose
    Some(14), // r_ear ← r_eye
    Some(15), // l_ear ← l_eye
];

/// A standing person facing the camera, arms slightly out, in a unit frame (x right, y down;
/// neck at the origin, ankles at y ≈ 1.25). Used to place a skeleton on a photo with no pose
/// and to guess where a pose file's missing joints would be.
const TEMPLATE: [Point; NUM_JOINTS] = [
    [0.0, -0.22],   // nose
    [0.0, 0.0],     // neck
    [-0.2, 0.0],    // r_shoulder (the person's right is the image's left)
    [-0.26, 0.3],   // r_elbow
    [-0.3, 0.56],   // r_wrist
    [0.2, 0.0],     // l_shoulder
    [0.26, 0.3],    // l_elbow
    [0.3, 0.56],    // l_wrist
    [-0.12, 0.58],  // r_hip
    [-0.13, 0.92],  // r_knee
    [-0.14, 1.25],  // r_ankle
    [0.12, 0.58],   // l_hip
    [0.13, 0.92],   // l_knee
    [0.14, 1.25],   // l_ankle
    [-0.04, -0.26], // r_eye
    [0.04, -0.26],  // l_eye
    [-0.09, -0.24], // r_ear
    [0.09, -0.24],  // l_ear
];

/// Extent of [`TEMPLATE`] above the neck and below it (nose to ankles plus the head's top).
const TEMPLATE_TOP: f32 = -0.38;
const TEMPLATE_BOTTOM: f32 = 1.25;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Rig {
    /// Joint positions in photo pixels, COCO-18 order.
    pub points: [Point; NUM_JOINTS],
    /// `false` = the joint is missing for the model (still drawn, hollow, when asked).
    pub visible: [bool; NUM_JOINTS],
}

impl Rig {
    /// The template standing in the middle of a `w`×`h` photo, 80 % of its height.
    pub fn template(w: f32, h: f32) -> Self {
        let scale = 0.8 * h / (TEMPLATE_BOTTOM - TEMPLATE_TOP);
        let top = 0.1 * h - TEMPLATE_TOP * scale;
        let points = TEMPLATE.map(|[x, y]| [w / 2.0 + x * scale, top + y * scale]);
        Self {
            points,
            visible: [true; NUM_JOINTS],
        }
    }

    /// A pose for editing. Missing joints keep `visible = false` and are placed where the
    /// template, fitted (scale + shift) to the present joints, puts them; with fewer than two
    /// joints to fit, the template is sized to the photo.
    pub fn from_pose(pose: &Pose, photo_wh: (f32, f32)) -> Self {
        let present: Vec<(usize, Joint)> = pose.present().collect();
        let fitted = fit_template(&present).unwrap_or_else(|| {
            let t = Self::template(photo_wh.0, photo_wh.1);
            // One joint: centre the template on it.
            match present.first() {
                Some(&(j, p)) => {
                    let d = [p.x - t.points[j][0], p.y - t.points[j][1]];
                    t.points.map(|q| [q[0] + d[0], q[1] + d[1]])
                }
                None => t.points,
            }
        });
        let mut out = Self {
            points: fitted,
            visible: [false; NUM_JOINTS],
        };
        for (j, p) in present {
            out.points[j] = [p.x, p.y];
            out.visible[j] = true;
        }
        out
    }

    /// The model's view: hidden joints are missing.
    pub fn to_pose(&self) -> Pose {
        let mut pose = Pose::missing();
        for j in 0..NUM_JOINTS {
            if self.visible[j] {
                let [x, y] = self.points[j];
                pose.set(j, Some(Joint::new(x, y, 1.0)));
            }
        }
        pose
    }

    /// Whether every coordinate is finite (project files and poses from disk are checked).
    pub fn is_finite(&self) -> bool {
        self.points.iter().flatten().all(|v| v.is_finite())
    }

    /// Moves joint `j` to `to`; with `lock_lengths`, `j` stays at its distance from its
    /// (nearest visible) parent and everything below it moves along rigidly, so no bone
    /// changes length.
    pub fn drag(&mut self, j: usize, to: Point, lock_lengths: bool) {
        if !lock_lengths {
            self.points[j] = to;
            return;
        }
        let Some(parent) = self.visible_parent(j) else {
            // The root (or a joint with no visible ancestor) translates its whole subtree.
            let d = sub(to, self.points[j]);
            for k in subtree(j) {
                self.points[k] = add(self.points[k], d);
            }
            return;
        };
        let pivot = self.points[parent];
        let len = dist(self.points[j], pivot);
        let dir = sub(to, pivot);
        let n = norm(dir);
        if n < 1e-6 {
            return;
        }
        let target = add(pivot, scale(dir, len / n));
        let d = sub(target, self.points[j]);
        for k in subtree(j) {
            self.points[k] = add(self.points[k], d);
        }
    }

    /// Forward kinematics: rotates joint `j` and everything below it rigidly about `j`'s
    /// (nearest visible) parent so that `j` points at `toward` — "swing the limb". Bone
    /// lengths are kept exactly. The root has no pivot: the whole skeleton follows it.
    pub fn rotate_limb(&mut self, j: usize, toward: Point) {
        let Some(parent) = self.visible_parent(j) else {
            let d = sub(toward, self.points[j]);
            for p in self.points.iter_mut() {
                *p = add(*p, d);
            }
            return;
        };
        let pivot = self.points[parent];
        let from = sub(self.points[j], pivot);
        let to = sub(toward, pivot);
        if norm(from) < 1e-6 || norm(to) < 1e-6 {
            return;
        }
        let angle = to[1].atan2(to[0]) - from[1].atan2(from[0]);
        let (s, c) = angle.sin_cos();
        for k in subtree(j) {
            let v = sub(self.points[k], pivot);
            self.points[k] = add(pivot, [c * v[0] - s * v[1], s * v[0] + c * v[1]]);
        }
    }

    /// The mirrored pose: reflected about the vertical line through the neck, with left and
    /// right joints swapped, so the person still faces the same way but raises the other arm.
    pub fn mirrored(&self) -> Self {
        let axis = self.points[crate::pose::skeleton::NECK][0];
        let mut out = self.clone();
        for j in 0..NUM_JOINTS {
            let m = mirror_index(j);
            let [x, y] = self.points[m];
            out.points[j] = [2.0 * axis - x, y];
            out.visible[j] = self.visible[m];
        }
        out
    }

    /// The nearest ancestor of `j` that is visible (hidden joints are skipped as pivots).
    fn visible_parent(&self, j: usize) -> Option<usize> {
        let mut p = PARENT[j];
        while let Some(k) = p {
            if self.visible[k] {
                return Some(k);
            }
            p = PARENT[k];
        }
        None
    }

    /// Bone length from `j` to its parent in the tree (for tests and the length lock).
    pub fn bone_length(&self, j: usize) -> Option<f32> {
        PARENT[j].map(|p| dist(self.points[j], self.points[p]))
    }
}

/// `j` and every joint below it in the tree.
pub fn subtree(j: usize) -> Vec<usize> {
    (0..NUM_JOINTS)
        .filter(|&k| {
            let mut cur = Some(k);
            while let Some(c) = cur {
                if c == j {
                    return true;
                }
                cur = PARENT[c];
            }
            false
        })
        .collect()
}

/// Least-squares scale + translation taking the template onto the present joints; `None` with
/// fewer than two joints or when they coincide.
fn fit_template(present: &[(usize, Joint)]) -> Option<[Point; NUM_JOINTS]> {
    if present.len() < 2 {
        return None;
    }
    let n = present.len() as f32;
    let (mut tm, mut pm) = ([0.0f32; 2], [0.0f32; 2]);
    for &(j, p) in present {
        tm = add(tm, TEMPLATE[j]);
        pm = add(pm, [p.x, p.y]);
    }
    tm = scale(tm, 1.0 / n);
    pm = scale(pm, 1.0 / n);
    let (mut num, mut den) = (0.0f32, 0.0f32);
    for &(j, p) in present {
        let t = sub(TEMPLATE[j], tm);
        let q = sub([p.x, p.y], pm);
        num += t[0] * q[0] + t[1] * q[1];
        den += t[0] * t[0] + t[1] * t[1];
    }
    if den < 1e-9 || num <= 0.0 {
        return None;
    }
    let s = num / den;
    Some(TEMPLATE.map(|t| add(pm, scale(sub(t, tm), s))))
}

fn add(a: Point, b: Point) -> Point {
    [a[0] + b[0], a[1] + b[1]]
}
fn sub(a: Point, b: Point) -> Point {
    [a[0] - b[0], a[1] - b[1]]
}
fn scale(a: Point, s: f32) -> Point {
    [a[0] * s, a[1] * s]
}
fn norm(a: Point) -> f32 {
    (a[0] * a[0] + a[1] * a[1]).sqrt()
}
/// Euclidean distance between two points.
pub fn dist(a: Point, b: Point) -> f32 {
    norm(sub(a, b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pose::skeleton::{L_ELBOW, L_SHOULDER, L_WRIST, NECK, R_ELBOW, R_SHOULDER, R_WRIST};

    fn lengths(s: &Rig) -> Vec<f32> {
        (0..NUM_JOINTS).filter_map(|j| s.bone_length(j)).collect()
    }

    #[test]
    fn rotate_limb_swings_the_subtree_about_the_parent_keeping_lengths() {
        let mut s = Rig::template(400.0, 600.0);
        let before = s.clone();
        let shoulder = s.points[R_SHOULDER];
        // Swing the right upper arm straight up.
        let up = [shoulder[0], shoulder[1] - 500.0];
        s.rotate_limb(R_ELBOW, up);
        let e = s.points[R_ELBOW];
        assert!(
            (e[0] - shoulder[0]).abs() < 1e-3,
            "elbow above the shoulder: {e:?}"
        );
        assert!(e[1] < shoulder[1]);
        for (a, b) in lengths(&before).iter().zip(lengths(&s)) {
            assert!((a - b).abs() < 1e-3, "bone length changed: {a} → {b}");
        }
        // The forearm turned by the same angle: elbow→wrist is perpendicular-rotated too.
        let v0 = sub(before.points[R_WRIST], before.points[R_ELBOW]);
        let v1 = sub(s.points[R_WRIST], s.points[R_ELBOW]);
        let a0 = sub(before.points[R_ELBOW], shoulder);
        let a1 = sub(e, shoulder);
        let turn = |p: Point, q: Point| q[1].atan2(q[0]) - p[1].atan2(p[0]);
        let wrap = |a: f32| (a + std::f32::consts::PI).rem_euclid(std::f32::consts::TAU);
        assert!((wrap(turn(v0, v1)) - wrap(turn(a0, a1))).abs() < 1e-4);
        // Nothing outside the limb moved.
        for j in [NECK, L_SHOULDER, L_ELBOW, L_WRIST, R_SHOULDER] {
            assert_eq!(s.points[j], before.points[j]);
        }
    }

    #[test]
    fn length_lock_keeps_every_bone() {
        let mut s = Rig::template(400.0, 600.0);
        let before = s.clone();
        s.drag(L_ELBOW, [390.0, 10.0], true);
        for (a, b) in lengths(&before).iter().zip(lengths(&s)) {
            assert!((a - b).abs() < 1e-3, "{a} → {b}");
        }
        // Unlocked, the joint lands exactly on the cursor and nothing else moves.
        let mut t = before.clone();
        t.drag(L_ELBOW, [390.0, 10.0], false);
        assert_eq!(t.points[L_ELBOW], [390.0, 10.0]);
        assert_eq!(t.points[L_WRIST], before.points[L_WRIST]);
    }

    #[test]
    fn hidden_parent_is_skipped_as_pivot() {
        let mut s = Rig::template(400.0, 600.0);
        s.visible[R_ELBOW] = false;
        let shoulder = s.points[R_SHOULDER];
        let len = dist(s.points[R_WRIST], shoulder);
        s.rotate_limb(R_WRIST, [shoulder[0] - 100.0, shoulder[1]]);
        assert!((dist(s.points[R_WRIST], shoulder) - len).abs() < 1e-3);
        assert!((s.points[R_WRIST][1] - shoulder[1]).abs() < 1e-3);
    }

    #[test]
    fn mirror_swaps_sides_and_is_an_involution() {
        let mut s = Rig::template(400.0, 600.0);
        s.rotate_limb(R_ELBOW, [0.0, 0.0]); // raise the right arm
        s.visible[L_WRIST] = false;
        let m = s.mirrored();
        let axis = s.points[NECK][0];
        assert!((m.points[L_ELBOW][0] - (2.0 * axis - s.points[R_ELBOW][0])).abs() < 1e-4);
        assert_eq!(m.points[L_ELBOW][1], s.points[R_ELBOW][1]);
        assert!(!m.visible[R_WRIST] && m.visible[L_WRIST]);
        let back = m.mirrored();
        for j in 0..NUM_JOINTS {
            assert!(dist(back.points[j], s.points[j]) < 1e-3);
        }
        assert_eq!(back.visible, s.visible);
    }

    #[test]
    fn from_pose_keeps_present_joints_and_places_missing_ones_plausibly() {
        let t = Rig::template(400.0, 600.0);
        // Only the upper body is known, shifted and scaled.
        let mut pose = Pose::missing();
        for j in [0, 1, 2, 3, 5, 6] {
            let [x, y] = t.points[j];
            pose.set(j, Some(Joint::new(x * 0.5 + 30.0, y * 0.5 + 10.0, 0.9)));
        }
        let s = Rig::from_pose(&pose, (400.0, 600.0));
        for j in 0..NUM_JOINTS {
            let expect = [t.points[j][0] * 0.5 + 30.0, t.points[j][1] * 0.5 + 10.0];
            assert!(
                dist(s.points[j], expect) < 1e-2,
                "joint {j}: {:?}",
                s.points[j]
            );
            assert_eq!(s.visible[j], pose.get(j).is_some());
        }
        let round = s.to_pose();
        assert_eq!(round.num_present(), 6);
        assert_eq!(
            round.get(3).map(|p| (p.x, p.y)),
            pose.get(3).map(|p| (p.x, p.y))
        );
    }

    #[test]
    fn subtree_of_a_shoulder_is_the_arm() {
        let mut st = subtree(R_SHOULDER);
        st.sort();
        assert_eq!(st, vec![R_SHOULDER, R_ELBOW, R_WRIST]);
        assert_eq!(subtree(NECK).len(), NUM_JOINTS);
    }
}
