//! One pose of the figure ([`Articulation`]): orientation, joint angles, scale and position,
//! sampled within human limits.

use std::f32::consts::PI;

use super::util::{coin, rf, sign, weighted};
use super::SynthConfig;
use crate::util::rng::SplitMix64;

const DEG: f32 = PI / 180.0;

/// The body's facing, as sampled (the geometry only uses [`Articulation::yaw`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Orientation {
    Front,
    ThreeQuarter,
    Side,
    Back,
}

/// Angles of one arm or leg.
///
/// `raise`: angle of the upper segment from hanging straight down, positive = away from the
/// body's midline (frontal views) or forwards (side views). `bend`: elbow / knee flexion,
/// 0 = straight (elbow 0..150°, knee 0..140°). `foreshorten`: apparent length factor of the upper
/// and lower segment (1 = in the image plane).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Limb {
    pub raise: f32,
    pub bend: f32,
    /// +1: an elbow bends the forearm towards the midline (frontal) / a knee to the side;
    /// −1 the other way. Side views ignore it (elbows flex forwards, knees backwards).
    pub bend_dir: f32,
    pub foreshorten: [f32; 2],
}

/// One pose: orientation, joint angles, scale and position.
#[derive(Clone, Debug, PartialEq)]
pub struct Articulation {
    /// Rotation about the vertical axis: 0 = facing the camera, ±π/2 = profile (+: facing image
    /// left, the person's left side towards the camera), π = back view.
    pub yaw: f32,
    /// Head rotation relative to the body (yaw) and in-plane head tilt, radians.
    pub head_yaw: f32,
    pub head_roll: f32,
    /// In-plane lean of the torso, radians: the neck→hips axis points at this angle from
    /// straight down (positive towards +x).
    pub lean: f32,
    /// Standing figure height as a fraction of the image height.
    pub scale: f32,
    /// Centre of the standing figure's box as fractions of (width, height).
    pub center: (f32, f32),
    /// `[right, left]`.
    pub arms: [Limb; 2],
    pub legs: [Limb; 2],
    /// Frontal views: whether each arm passes in front of the torso (back views: behind the
    /// back, i.e. nearer the camera). Side views put the near arm in front regardless.
    pub arm_in_front: [bool; 2],
    /// Frontal views: which leg is drawn over the other (true = left over right).
    pub left_leg_front: bool,
}

impl Articulation {
    /// A standing pose facing the camera, arms slightly out, centred.
    pub fn neutral() -> Self {
        let limb = |raise: f32| Limb {
            raise,
            bend: 0.0,
            bend_dir: 1.0,
            foreshorten: [1.0, 1.0],
        };
        Self {
            yaw: 0.0,
            head_yaw: 0.0,
            head_roll: 0.0,
            lean: 0.0,
            scale: 0.85,
            center: (0.5, 0.5),
            arms: [limb(12.0 * DEG); 2],
            legs: [limb(6.0 * DEG); 2],
            arm_in_front: [true; 2],
            left_leg_front: true,
        }
    }

    pub fn orientation(&self) -> Orientation {
        let c = self.yaw.cos();
        let s = self.yaw.sin().abs();
        if s > 0.9 {
            Orientation::Side
        } else if c < -0.8 {
            Orientation::Back
        } else if c > 0.85 {
            Orientation::Front
        } else {
            Orientation::ThreeQuarter
        }
    }

    pub fn sample(rng: &mut SplitMix64, _cfg: &SynthConfig) -> Self {
        let yaw = match weighted(rng, &[0.4, 0.25, 0.15, 0.2]) {
            0 => rf(rng, -15.0, 15.0) * DEG,
            1 => {
                let a = sign(rng) * rf(rng, 35.0, 60.0) * DEG;
                if coin(rng, 0.75) {
                    a
                } else {
                    PI - a
                }
            }
            2 => sign(rng) * rf(rng, 78.0, 100.0) * DEG,
            _ => PI + rf(rng, -15.0, 15.0) * DEG,
        };
        let scale = rf(rng, 0.7, 0.95);
        let slack = (1.0 - scale) * 0.5;
        let center = (
            0.5 + rf(rng, -0.08, 0.08),
            0.5 + rf(rng, -slack, slack) * 0.8,
        );
        let arms = [Self::sample_arm(rng), Self::sample_arm(rng)];
        let legs = [Self::sample_leg(rng), Self::sample_leg(rng)];
        Self {
            yaw,
            head_yaw: if coin(rng, 0.6) {
                rf(rng, -25.0, 25.0) * DEG
            } else {
                0.0
            },
            head_roll: rf(rng, -8.0, 8.0) * DEG,
            lean: rf(rng, -6.0, 6.0) * DEG,
            scale,
            center,
            arms,
            legs,
            arm_in_front: [coin(rng, 0.7), coin(rng, 0.7)],
            left_leg_front: coin(rng, 0.5),
        }
    }

    fn sample_arm(rng: &mut SplitMix64) -> Limb {
        let raise = match weighted(rng, &[0.55, 0.25, 0.1, 0.1]) {
            0 => rf(rng, 3.0, 30.0),
            1 => rf(rng, 30.0, 100.0),
            2 => rf(rng, 100.0, 170.0),
            _ => rf(rng, -35.0, 3.0),
        } * DEG;
        let bend = match weighted(rng, &[0.45, 0.4, 0.15]) {
            0 => rf(rng, 0.0, 20.0),
            1 => rf(rng, 20.0, 90.0),
            _ => rf(rng, 90.0, 150.0),
        } * DEG;
        Limb {
            raise,
            bend,
            bend_dir: if coin(rng, 0.75) { 1.0 } else { -1.0 },
            foreshorten: [Self::foreshorten(rng), Self::foreshorten(rng)],
        }
    }

    fn sample_leg(rng: &mut SplitMix64) -> Limb {
        let raise = match weighted(rng, &[0.6, 0.3, 0.1]) {
            0 => rf(rng, 0.0, 15.0),
            1 => rf(rng, 15.0, 40.0),
            _ => rf(rng, -20.0, 0.0),
        } * DEG;
        let bend = match weighted(rng, &[0.6, 0.3, 0.1]) {
            0 => rf(rng, 0.0, 15.0),
            1 => rf(rng, 15.0, 60.0),
            _ => rf(rng, 60.0, 140.0),
        } * DEG;
        Limb {
            raise,
            bend,
            bend_dir: sign(rng),
            foreshorten: [
                Self::foreshorten(rng).max(0.8),
                Self::foreshorten(rng).max(0.8),
            ],
        }
    }

    fn foreshorten(rng: &mut SplitMix64) -> f32 {
        if coin(rng, 0.25) {
            rf(rng, 0.65, 1.0)
        } else {
            1.0
        }
    }

    /// A copy with a few joints and the global placement changed a little (the "small pose
    /// change" pairs).
    pub fn perturbed(&self, rng: &mut SplitMix64) -> Self {
        let mut a = self.clone();
        let n = 1 + (rng.next_u64() % 4) as usize;
        for _ in 0..n {
            let k = (rng.next_u64() % 4) as usize;
            let limb = if k < 2 {
                &mut a.arms[k]
            } else {
                &mut a.legs[k - 2]
            };
            let max_bend = if k < 2 { 150.0 } else { 140.0 } * DEG;
            if coin(rng, 0.5) {
                limb.raise =
                    (limb.raise + rf(rng, -40.0, 40.0) * DEG).clamp(-35.0 * DEG, 170.0 * DEG);
            } else {
                limb.bend = (limb.bend + rf(rng, -40.0, 40.0) * DEG).clamp(0.0, max_bend);
            }
        }
        if coin(rng, 0.4) {
            a.yaw += rf(rng, -15.0, 15.0) * DEG;
        }
        if coin(rng, 0.3) {
            a.head_yaw = (a.head_yaw + rf(rng, -20.0, 20.0) * DEG).clamp(-30.0 * DEG, 30.0 * DEG);
        }
        a.scale *= rf(rng, 0.97, 1.03);
        a.center.0 += rf(rng, -0.03, 0.03);
        a.center.1 += rf(rng, -0.02, 0.02);
        a
    }

    /// An independent pose for the same person in the same shot: scale within ±10% and the
    /// position within ±10% of `self`'s.
    pub fn sample_related(&self, rng: &mut SplitMix64, cfg: &SynthConfig) -> Self {
        let mut a = Self::sample(rng, cfg);
        a.scale = (self.scale * rf(rng, 0.9, 1.1)).clamp(0.6, 1.0);
        let slack = ((1.0 - a.scale) * 0.5).max(0.0);
        a.center = (
            (self.center.0 + rf(rng, -0.1, 0.1)).clamp(0.35, 0.65),
            (self.center.1 + rf(rng, -0.1, 0.1)).clamp(0.5 - slack, 0.5 + slack),
        );
        a
    }
}
