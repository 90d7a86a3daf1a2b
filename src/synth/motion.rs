//! Motion clips of a synthetic person: the same identity through a smooth sequence of
//! articulations (a jumping jack, a wave), for trying motion transfer without a video. Each
//! frame is an ordinary synthetic picture with its exact keypoints, so a clip can drive a photo
//! from its OpenPose JSON or, through the detector, from its frames.

use super::figure::Person;
use super::pose_sampler::Articulation;
use super::{render_single, SynthConfig};
use crate::pose::Pose;
use crate::util::rng::SplitMix64;
use image::RgbImage;
use std::f32::consts::{PI, TAU};

const DEG: f32 = PI / 180.0;

/// The motions a clip can show.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Motion {
    /// Arms from the sides to overhead and legs apart, twice, with a small hop.
    JumpingJack,
    /// The right arm raised and its forearm waving side to side three times.
    Wave,
}

/// Articulation of frame `i` of `n` (one loop of the motion over the clip).
pub fn articulation(motion: Motion, i: usize, n: usize) -> Articulation {
    let phase = i as f32 / n.max(1) as f32;
    let mut a = Articulation::neutral();
    a.scale = 0.78;
    match motion {
        Motion::JumpingJack => {
            // 0 → 1 → 0 twice over the clip, eased like a body does.
            let open = 0.5 - 0.5 * (2.0 * TAU * phase).cos();
            for arm in &mut a.arms {
                arm.raise = (12.0 + 148.0 * open) * DEG;
                arm.bend = 15.0 * open * DEG;
            }
            for leg in &mut a.legs {
                leg.raise = (6.0 + 18.0 * open) * DEG;
            }
            a.center.1 = 0.5 - 0.03 * (2.0 * TAU * phase).sin().abs();
        }
        Motion::Wave => {
            let up = (phase * 6.0).min(1.0);
            let right = &mut a.arms[0];
            right.raise = (12.0 + 120.0 * up) * DEG;
            right.bend = (60.0 + 35.0 * (3.0 * TAU * phase).sin() * up) * DEG;
            right.bend_dir = -1.0;
            a.head_roll = 4.0 * DEG * (3.0 * TAU * phase).sin() * up;
        }
    }
    a
}

/// `n` frames of a synthetic person (identity from `seed`) doing `motion`, with their keypoints.
pub fn render_clip(
    motion: Motion,
    n: usize,
    seed: u64,
    cfg: &SynthConfig,
) -> Vec<(RgbImage, Pose)> {
    let person = Person::sample(&mut SplitMix64::new(seed), cfg);
    (0..n)
        .map(|i| render_single(&person, &articulation(motion, i, n), cfg))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pose::skeleton::{NECK, R_WRIST};

    #[test]
    fn a_jumping_jack_raises_the_arms_overhead_and_back() {
        let cfg = SynthConfig {
            height: 128,
            width: 96,
        };
        let clip = render_clip(Motion::JumpingJack, 8, 3, &cfg);
        assert_eq!(clip.len(), 8);
        let above_neck = |p: &Pose| {
            let (w, n) = (p.get(R_WRIST).unwrap(), p.get(NECK).unwrap());
            w.y < n.y
        };
        // Frame 0 arms down, frame 2 (a quarter: open) overhead, frame 4 down again.
        assert!(!above_neck(&clip[0].1));
        assert!(above_neck(&clip[2].1));
        assert!(!above_neck(&clip[4].1));
        // One identity: the same colours far from the limbs (the background corner).
        assert_eq!(clip[0].0.get_pixel(0, 0), clip[5].0.get_pixel(0, 0));
    }
}
