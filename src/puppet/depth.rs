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
//! 5. **The user's word.** A [`LimbOrder`] overrides the *target* depth of a whole limb (arm:
//!    upper arm + forearm with the hand; leg: thigh + shin with the foot): in front of
//!    everything the heuristic places (torso, head, the other limbs), or behind the torso. The
//!    source depths stay the heuristic's: how the photo is layered is a fact of the photo.

use super::geometry::{norm, xy};
use crate::pose::skeleton::*;
use crate::pose::Pose;
use serde::{Deserialize, Serialize};

/// One of the four limbs whose depth order the user can set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Limb {
    RightArm,
    LeftArm,
    RightLeg,
    LeftLeg,
}

impl Limb {
    pub const ALL: [Limb; 4] = [Limb::RightArm, Limb::LeftArm, Limb::RightLeg, Limb::LeftLeg];

    /// The limb a joint moves (shoulder/elbow/wrist: that arm; hip/knee/ankle: that leg);
    /// `None` for the neck and the face.
    pub fn of_joint(j: usize) -> Option<Limb> {
        match j {
            R_SHOULDER | R_ELBOW | R_WRIST => Some(Limb::RightArm),
            L_SHOULDER | L_ELBOW | L_WRIST => Some(Limb::LeftArm),
            R_HIP | R_KNEE | R_ANKLE => Some(Limb::RightLeg),
            L_HIP | L_KNEE | L_ANKLE => Some(Limb::LeftLeg),
            _ => None,
        }
    }

    /// For people: "right arm" (the person's right).
    pub fn name(self) -> &'static str {
        match self {
            Limb::RightArm => "right arm",
            Limb::LeftArm => "left arm",
            Limb::RightLeg => "right leg",
            Limb::LeftLeg => "left leg",
        }
    }

    /// Parses the command line's spelling: `right-arm`, `left-leg`, … (also `right_arm`).
    pub fn parse(s: &str) -> Option<Limb> {
        let s = s.trim().to_ascii_lowercase().replace('_', "-");
        Limb::ALL
            .into_iter()
            .find(|l| l.name().replace(' ', "-") == s)
    }

    fn of_region(region: Region) -> Option<Limb> {
        match region {
            Region::Arm { right: true, .. } => Some(Limb::RightArm),
            Region::Arm { right: false, .. } => Some(Limb::LeftArm),
            Region::Leg { right: true, .. } => Some(Limb::RightLeg),
            Region::Leg { right: false, .. } => Some(Limb::LeftLeg),
            Region::Torso | Region::Head => None,
        }
    }
}

/// Where the user put a limb relative to the body.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Layer {
    /// In front of the torso, the head and every limb left to the heuristic.
    Front,
    /// Behind the torso (and so behind the head and the limbs in front of it).
    Behind,
}

/// The user's depth order of the target pose: per limb, `None` = the heuristic's choice
/// (facing and nearer side, see the module text), or a [`Layer`]. Stored in projects and
/// keyframes; every field is optional in the JSON (`{}` = all automatic), so files written
/// before it existed load unchanged.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default)]
pub struct LimbOrder {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub right_arm: Option<Layer>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub left_arm: Option<Layer>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub right_leg: Option<Layer>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub left_leg: Option<Layer>,
}

/// Target depths of an overridden limb: beyond the heuristic's range (arms reach 2.35 in
/// front and −1.35 behind) so the user's choice wins every overlap it is meant to win.
const FRONT_DEPTH: f64 = 2.5;
const BEHIND_DEPTH: f64 = -1.5;

impl LimbOrder {
    /// Every limb automatic (what [`Default`] gives).
    pub fn is_auto(&self) -> bool {
        *self == Self::default()
    }

    /// Left and right swapped: the order that goes with a mirrored pose (whose right arm does
    /// what the left one did).
    pub fn mirrored(&self) -> Self {
        Self {
            right_arm: self.left_arm,
            left_arm: self.right_arm,
            right_leg: self.left_leg,
            left_leg: self.right_leg,
        }
    }

    pub fn get(&self, limb: Limb) -> Option<Layer> {
        *self.slot(limb)
    }

    pub fn set(&mut self, limb: Limb, layer: Option<Layer>) {
        *self.slot_mut(limb) = layer;
    }

    fn slot(&self, limb: Limb) -> &Option<Layer> {
        match limb {
            Limb::RightArm => &self.right_arm,
            Limb::LeftArm => &self.left_arm,
            Limb::RightLeg => &self.right_leg,
            Limb::LeftLeg => &self.left_leg,
        }
    }

    fn slot_mut(&mut self, limb: Limb) -> &mut Option<Layer> {
        match limb {
            Limb::RightArm => &mut self.right_arm,
            Limb::LeftArm => &mut self.left_arm,
            Limb::RightLeg => &mut self.right_leg,
            Limb::LeftLeg => &mut self.left_leg,
        }
    }

    /// Target depth of a part: the heuristic's [`depth`] unless the user placed its limb. The
    /// lower segment stays 0.1 further in the same direction (a forearm in front lies over its
    /// upper arm at the elbow, one behind under it), as in the heuristic.
    pub(crate) fn depth(&self, region: Region, o: &Orientation) -> f64 {
        let lower = match region {
            Region::Arm { lower, .. } | Region::Leg { lower, .. } => lower,
            Region::Torso | Region::Head => false,
        };
        let step = if lower { 0.1 } else { 0.0 };
        match Limb::of_region(region).and_then(|l| self.get(l)) {
            Some(Layer::Front) => FRONT_DEPTH + step,
            Some(Layer::Behind) => BEHIND_DEPTH - step,
            None => depth(region, o),
        }
    }
}

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

    /// An override puts a limb's parts beyond every automatic depth, in both orientations;
    /// the other limbs, torso and head keep theirs.
    #[test]
    fn overrides_beat_the_heuristic_everywhere() {
        let mut order = LimbOrder::default();
        order.set(Limb::RightArm, Some(Layer::Behind));
        order.set(Limb::LeftLeg, Some(Layer::Front));
        let regions = |right: bool| {
            [false, true]
                .map(|lower| Region::Arm { right, lower })
                .into_iter()
                .chain([false, true].map(|lower| Region::Leg { right, lower }))
        };
        let others: Vec<Region> = [Region::Torso, Region::Head]
            .into_iter()
            .chain(regions(true).chain(regions(false)))
            .collect();
        for o in [
            Orientation {
                front: true,
                near: 1.0,
                profile: false,
            },
            Orientation {
                front: false,
                near: -1.0,
                profile: false,
            },
            Orientation {
                front: true,
                near: -1.0,
                profile: true,
            },
        ] {
            for lower in [false, true] {
                let arm = order.depth(Region::Arm { right: true, lower }, &o);
                let leg = order.depth(
                    Region::Leg {
                        right: false,
                        lower,
                    },
                    &o,
                );
                for &r in &others {
                    assert!(arm < depth(r, &o), "{r:?} {o:?}");
                    assert!(leg > depth(r, &o), "{r:?} {o:?}");
                }
            }
            for r in [
                Region::Torso,
                Region::Head,
                Region::Arm {
                    right: false,
                    lower: true,
                },
            ] {
                assert_eq!(order.depth(r, &o), depth(r, &o));
            }
        }
        // Forearm over its upper arm in front, under it behind.
        let o = Orientation {
            front: true,
            near: 0.0,
            profile: false,
        };
        let d = |lower| {
            order.depth(
                Region::Leg {
                    right: false,
                    lower,
                },
                &o,
            )
        };
        assert!(d(true) > d(false));
        let d = |lower| order.depth(Region::Arm { right: true, lower }, &o);
        assert!(d(true) < d(false));
    }

    #[test]
    fn limbs_of_joints_and_their_names() {
        assert_eq!(Limb::of_joint(R_WRIST), Some(Limb::RightArm));
        assert_eq!(Limb::of_joint(L_KNEE), Some(Limb::LeftLeg));
        assert_eq!(Limb::of_joint(NECK), None);
        assert_eq!(Limb::of_joint(NOSE), None);
        for l in Limb::ALL {
            assert_eq!(Limb::parse(&l.name().replace(' ', "-")), Some(l));
        }
        assert_eq!(Limb::parse("Left_Arm"), Some(Limb::LeftArm));
        assert_eq!(Limb::parse("tail"), None);
        // All automatic is `{}` in JSON, and `{}` (or an old file's absence) reads back so.
        assert_eq!(serde_json::to_string(&LimbOrder::default()).unwrap(), "{}");
        let o: LimbOrder = serde_json::from_str(r#"{"left_leg": "behind"}"#).unwrap();
        assert_eq!(o.get(Limb::LeftLeg), Some(Layer::Behind));
        assert!(!o.is_auto());
        assert_eq!(o.mirrored().get(Limb::RightLeg), Some(Layer::Behind));
        assert_eq!(o.mirrored().get(Limb::LeftLeg), None);
        assert_eq!(o.mirrored().mirrored(), o);
    }
}
