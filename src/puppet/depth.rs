//! The depth-order heuristic: which way a skeleton faces and which side is nearer the camera,
//! turned into a depth per body part (larger = nearer the camera).
//!
//! 1. **Facing.** Front if the nose or an eye is present (the face is seen); back if only ears
//!    are; otherwise from the shoulders (then the hips): the person's right shoulder on the
//!    image's left means front. Undecidable: front.
//! 2. **Nearer side** (`+1` right, `−1` left, `0` unknown), first rule that decides:
//!    a. front-facing with a nose (or eyes) and a neck: the face turned towards image-right by
//!    more than 0.1 body scale means the person turned to their left, bringing their *right*
//!    side nearer (and vice versa);
//!    b. one side has ≥ 2 more present arm/leg/face joints than the other (joints hidden by the
//!    body are usually the missing ones): that side is nearer;
//!    c. the side whose ankle (else knee) is lower in the image by > 0.05 body scale is nearer
//!    (ground-plane perspective).
//! 3. **Profile:** the shoulders are closer together than 0.35 body scale (or only one is
//!    present) and a nearer side is known.
//! 4. **Depths:** torso 0, head 1 (in front of the torso where they meet), legs 0.5. Arms 2 (in
//!    front of the torso) facing front, −1 (behind it) facing back; forearms/shins ±0.1 further
//!    in the same direction (+ front, − back). The nearer side's arm and leg get +0.25, the
//!    farther −0.25; in profile the farther arm goes behind the torso (−1) and the nearer in
//!    front (2), whatever the facing.

use super::geometry::norm;
use crate::pose::skeleton::*;
use crate::pose::Pose;

/// Which kind of body part (for its depth).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Region {
    Torso,
    Head,
    /// Upper arm (`lower == false`) or forearm of the person's right (`right`) or left side.
    Arm {
        right: bool,
        lower: bool,
    },
    Leg {
        right: bool,
        lower: bool,
    },
}

/// The orientation estimate of one skeleton.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Orientation {
    pub front: bool,
    /// `+1` the person's right side is nearer the camera, `−1` the left, `0` unknown.
    pub near: f64,
    pub profile: bool,
}

fn xy(pose: &Pose, j: usize) -> Option<[f64; 2]> {
    pose.get(j).map(|p| [p.x as f64, p.y as f64])
}

pub(crate) fn orientation(pose: &Pose, scale: f64) -> Orientation {
    let has = |j: usize| pose.get(j).is_some();
    let face = has(NOSE) || has(R_EYE) || has(L_EYE);
    let front = if face {
        true
    } else if has(R_EAR) || has(L_EAR) {
        false
    } else {
        let order = |r: usize, l: usize| match (xy(pose, r), xy(pose, l)) {
            (Some(r), Some(l)) if (l[0] - r[0]).abs() > 0.1 * scale => Some(r[0] < l[0]),
            _ => None,
        };
        order(R_SHOULDER, L_SHOULDER)
            .or_else(|| order(R_HIP, L_HIP))
            .unwrap_or(true)
    };

    let mut near = 0.0;
    // a. Face turn.
    let face_x = xy(pose, NOSE).map(|p| p[0]).or_else(|| {
        let eyes: Vec<f64> = [R_EYE, L_EYE]
            .iter()
            .filter_map(|&j| xy(pose, j))
            .map(|p| p[0])
            .collect();
        (eyes.len() == 2).then(|| (eyes[0] + eyes[1]) / 2.0)
    });
    if let (true, Some(fx), Some(neck)) = (front, face_x, xy(pose, NECK)) {
        let turn = fx - neck[0];
        if turn.abs() > 0.1 * scale {
            near = turn.signum();
        }
    }
    // b. Missing joints.
    if near == 0.0 {
        let count = |js: &[usize]| js.iter().filter(|&&j| has(j)).count() as i32;
        let right = count(&[
            R_SHOULDER, R_ELBOW, R_WRIST, R_HIP, R_KNEE, R_ANKLE, R_EYE, R_EAR,
        ]);
        let left = count(&[
            L_SHOULDER, L_ELBOW, L_WRIST, L_HIP, L_KNEE, L_ANKLE, L_EYE, L_EAR,
        ]);
        if (right - left).abs() >= 2 {
            near = (right - left).signum() as f64;
        }
    }
    // c. Lower foot.
    if near == 0.0 {
        for (r, l) in [(R_ANKLE, L_ANKLE), (R_KNEE, L_KNEE)] {
            if let (Some(r), Some(l)) = (xy(pose, r), xy(pose, l)) {
                let dy = r[1] - l[1];
                if dy.abs() > 0.05 * scale {
                    near = dy.signum();
                }
                break;
            }
        }
    }

    let shoulders = match (xy(pose, R_SHOULDER), xy(pose, L_SHOULDER)) {
        (Some(r), Some(l)) => norm([r[0] - l[0], r[1] - l[1]]) < 0.35 * scale,
        (Some(_), None) | (None, Some(_)) => true,
        (None, None) => false,
    };
    Orientation {
        front,
        near,
        profile: shoulders && near != 0.0,
    }
}

/// Depth of a part (larger = nearer the camera) under orientation `o`.
pub(crate) fn depth(region: Region, o: &Orientation) -> f64 {
    let side = |right: bool| if right { o.near } else { -o.near };
    let dir = if o.front { 1.0 } else { -1.0 };
    match region {
        Region::Torso => 0.0,
        Region::Head => 1.0,
        Region::Arm { right, lower } => {
            let s = side(right);
            let base = if o.profile {
                if s > 0.0 {
                    2.0
                } else {
                    -1.0
                }
            } else if o.front {
                2.0 + 0.25 * s
            } else {
                -1.0 + 0.25 * s
            };
            base + if lower { 0.1 * dir } else { 0.0 }
        }
        Region::Leg { right, lower } => {
            0.5 + 0.25 * side(right) + if lower { 0.1 * dir } else { 0.0 }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pose::Joint;

    fn pose(points: &[(usize, f32, f32)]) -> Pose {
        let mut p = Pose::missing();
        for &(j, x, y) in points {
            p.set(j, Some(Joint::new(x, y, 1.0)));
        }
        p
    }

    #[test]
    fn facing_and_near_side() {
        // Frontal: right shoulder on the image's left, face visible, arms in front.
        let front = pose(&[
            (NOSE, 50.0, 10.0),
            (NECK, 50.0, 20.0),
            (R_SHOULDER, 35.0, 20.0),
            (L_SHOULDER, 65.0, 20.0),
        ]);
        let o = orientation(&front, 40.0);
        assert!(o.front && !o.profile && o.near == 0.0);
        let arm = Region::Arm {
            right: true,
            lower: false,
        };
        assert!(depth(arm, &o) > depth(Region::Torso, &o));
        // Back: no face, ears only, right shoulder on the image's right: arms behind.
        let back = pose(&[
            (R_EAR, 55.0, 10.0),
            (NECK, 50.0, 20.0),
            (R_SHOULDER, 65.0, 20.0),
            (L_SHOULDER, 35.0, 20.0),
        ]);
        let o = orientation(&back, 40.0);
        assert!(!o.front);
        assert!(depth(arm, &o) < depth(Region::Torso, &o));
        // Profile facing image-right: the right side is nearer, the left arm behind the torso.
        let side = pose(&[
            (NOSE, 65.0, 10.0),
            (NECK, 50.0, 20.0),
            (R_SHOULDER, 52.0, 20.0),
            (L_SHOULDER, 48.0, 20.0),
        ]);
        let o = orientation(&side, 40.0);
        assert!(o.front && o.profile && o.near > 0.0);
        let left = Region::Arm {
            right: false,
            lower: false,
        };
        assert!(depth(left, &o) < depth(Region::Torso, &o));
        assert!(depth(arm, &o) > depth(Region::Torso, &o));
    }
}
