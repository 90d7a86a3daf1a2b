//! Where the skull lies across a face, from the face's keypoints.
//!
//! The face's keypoints sit on the front of the head, so when a head turns they slide across
//! it while the skull stays on the neck: a nose at the middle of a face seen from the front is
//! at the edge of one seen three-quarter. The head's map (an affine fit of the keypoints)
//! followed the keypoints and moved the whole skull by the slide — in `eval`'s pairs (the
//! figure and its head turn by up to 35° between source and target) a crescent of hair on one
//! side of the head and of background on the other, and the head carried 17 % of the person
//! region's error. Seen from the camera, a keypoint at angle φ round a head of half-width `r`
//! turned by yaw ψ lies `r·sin(φ − ψ)` across from the skull's centre line; given `r` (from
//! the body's scale) the yaw and the centre line are the pair that explain the keypoints seen
//! — and the ones not seen, which face away.

use super::geometry::{dot, neck_to_hips, norm, sub, xy, P};
use crate::pose::skeleton::*;
use crate::pose::Pose;

/// The face keypoints with their angle round the head (0: the nose; the eyes 6.3 cm apart on
/// a head about 15 cm wide: sin φ = 0.42) and the least cosine of their angle to the camera at
/// which they are still seen.
const KEYPOINTS: [(usize, f64, f64); 5] = [
    (NOSE, 0.0, -0.2),
    (R_EYE, -0.43, 0.1),
    (L_EYE, 0.43, 0.1),
    (R_EAR, -std::f64::consts::FRAC_PI_2, -0.35),
    (L_EAR, std::f64::consts::FRAC_PI_2, -0.35),
];

/// A head's half-width over the body's scale (neck to hips): about 7.5 cm over 50 cm on an
/// adult; the synthetic people's are 0.15–0.18.
const HALF_WIDTH: f64 = 0.16;

/// The skull's radius (its half-width) on a body of `scale`.
pub(crate) fn radius(scale: f64) -> f64 {
    HALF_WIDTH * scale
}

/// A keypoint missing from a head whose others are seen faces away at least this much (cos).
const UNSEEN_BELOW: f64 = 0.3;

/// The skull's centre line of a head.
#[derive(Clone, Copy, Debug)]
pub(crate) struct CentreLine {
    /// Unit direction across the face, from its right side to its left ([`across`]).
    pub across: P,
    /// Whether `across` was measured on the face (eyes or ears), not assumed.
    pub handed: bool,
    /// The centre's position along `across` (`dot(centre, across)`).
    pub centre: f64,
    /// The face's yaw (radians, 0 facing the camera): the nose lies `r·sin(−yaw)` along
    /// `across` from the centre line.
    pub yaw: f64,
}

/// Which way a face looks, seen from the camera: `amount` = |sin yaw| (0 facing the camera or
/// away from it, 1 in profile) and `towards`, the image direction across the face to the side
/// the nose points to.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Facing {
    pub amount: f64,
    pub towards: P,
}

impl CentreLine {
    pub(crate) fn facing(&self) -> Facing {
        let s = -self.yaw.sin();
        let sign = if s < 0.0 { -1.0 } else { 1.0 };
        Facing {
            amount: s.abs(),
            towards: [sign * self.across[0], sign * self.across[1]],
        }
    }
}

/// The skull's centre line of the head of `pose` whose body scale is `scale`; `None` with
/// fewer than two face keypoints.
pub(crate) fn centre_line(pose: &Pose, scale: f64) -> Option<CentreLine> {
    let seen: Vec<(P, f64, f64)> = KEYPOINTS
        .iter()
        .filter_map(|&(j, phi, least)| xy(pose, j).map(|p| (p, phi, least)))
        .collect();
    if seen.len() < 2 || scale.is_nan() || scale <= 0.0 {
        return None;
    }
    let (across, handed) = across(pose)?;
    let r = radius(scale);
    let unseen: Vec<f64> = KEYPOINTS
        .iter()
        .filter(|&&(j, _, _)| pose.get(j).is_none() && j != NOSE)
        .map(|&(_, phi, _)| phi)
        .collect();
    let x: Vec<f64> = seen.iter().map(|(p, _, _)| dot(*p, across)).collect();
    let n = seen.len() as f64;
    // The yaw by a search over whole degrees: the cost is cheap and has two minima where the
    // keypoints alone are ambiguous (which the unseen ones then tell apart).
    let mut best: Option<(f64, f64, f64)> = None;
    for step in 0..360 {
        let yaw = (step as f64 - 180.0).to_radians();
        let centre = seen
            .iter()
            .zip(&x)
            .map(|((_, phi, _), x)| x - r * (phi - yaw).sin())
            .sum::<f64>()
            / n;
        let mut cost: f64 = seen
            .iter()
            .zip(&x)
            .map(|((_, phi, _), x)| (x - centre - r * (phi - yaw).sin()).powi(2))
            .sum();
        // Seen keypoints face the camera, unseen ones (of a head that is seen) face away.
        cost += seen
            .iter()
            .map(|(_, phi, least)| (r * (least - (phi - yaw).cos()).max(0.0)).powi(2))
            .sum::<f64>();
        cost += unseen
            .iter()
            .map(|phi| (r * ((phi - yaw).cos() - UNSEEN_BELOW).max(0.0)).powi(2))
            .sum::<f64>();
        if best.is_none_or(|(c, _, _)| cost < c) {
            best = Some((cost, centre, yaw));
        }
    }
    best.map(|(_, centre, yaw)| CentreLine {
        across,
        handed,
        centre,
        yaw,
    })
}

/// The skull's centre of the head of `pose` (body scale `scale`): on its centre line
/// ([`centre_line`]), level with the eyes and ears (which sit about half-way up a head; the
/// nose lies lower and is left out); `None` without a centre line (two face keypoints, so
/// an eye or an ear among them).
pub(crate) fn skull_centre(pose: &Pose, scale: f64) -> Option<(P, CentreLine)> {
    let line = centre_line(pose, scale)?;
    let (across, centre) = (line.across, line.centre);
    let down = [-across[1], across[0]];
    let level: Vec<f64> = [R_EYE, L_EYE, R_EAR, L_EAR]
        .iter()
        .filter_map(|&j| xy(pose, j).map(|p| dot(p, down)))
        .collect();
    if level.is_empty() {
        return None;
    }
    let along = level.iter().sum::<f64>() / level.len() as f64;
    Some((
        [
            centre * across[0] + along * down[0],
            centre * across[1] + along * down[1],
        ],
        line,
    ))
}

/// The direction across the face, from its right to its left side: the eyes' line, or the
/// ears', where both are seen (they lie level on the head whatever its yaw; `true`: from the
/// face, so it tells a face from the back of a head); else square to the body's axis (neck to
/// hips) or to the image's vertical without hips, as the camera sees a face (`false`).
fn across(pose: &Pose) -> Option<(P, bool)> {
    for (r, l) in [(R_EYE, L_EYE), (R_EAR, L_EAR)] {
        if let (Some(a), Some(b)) = (xy(pose, r), xy(pose, l)) {
            let d = sub(b, a);
            let len = norm(d);
            if len > 1e-6 {
                return Some(([d[0] / len, d[1] / len], true));
            }
        }
    }
    let down = neck_to_hips(pose).unwrap_or([0.0, 1.0]);
    let len = norm(down);
    (len > 1e-6).then(|| ([down[1] / len, -down[0] / len], false))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pose::Joint;

    /// A head of half-width 16 px centred at (100, 50) on a body of scale 100, turned by `yaw`
    /// (radians; seen keypoints by their least cosines), rolled by `roll`.
    fn head(yaw: f64, roll: f64) -> Pose {
        let mut pose = Pose::missing();
        let (s, c) = roll.sin_cos();
        let across = [c, s];
        let down = [-s, c];
        // (across, down) offsets from the head's centre.
        let at = |a: f64, d: f64| {
            let (x, y) = (
                100.0 + a * across[0] + d * down[0],
                50.0 + a * across[1] + d * down[1],
            );
            Some(Joint::new(x as f32, y as f32, 1.0))
        };
        pose.set(NECK, at(0.0, 35.0));
        pose.set(R_HIP, at(-10.0, 135.0));
        pose.set(L_HIP, at(10.0, 135.0));
        for (j, phi, least) in KEYPOINTS {
            if (phi - yaw).cos() > least {
                let below = if j == NOSE { 4.0 } else { -1.0 };
                pose.set(j, at(16.0 * (phi - yaw).sin(), below));
            }
        }
        pose
    }

    #[test]
    fn the_centre_stays_on_the_skull_as_the_face_turns() {
        for roll in [0.0, 0.3] {
            for deg in [-80.0f64, -45.0, -20.0, 0.0, 10.0, 30.0, 60.0, 85.0] {
                let pose = head(deg.to_radians(), roll);
                let line = centre_line(&pose, 100.0).expect("a head");
                let CentreLine { across, centre, .. } = line;
                let truth = dot([100.0, 50.0], across);
                assert!(
                    (centre - truth).abs() < 2.0,
                    "yaw {deg}°, roll {roll}: centre {centre} against {truth}"
                );
                // The nose itself lies up to a half-width off it.
                let nose = dot(xy(&pose, NOSE).unwrap(), across);
                if deg.abs() >= 45.0 {
                    assert!((nose - truth).abs() > 10.0, "yaw {deg}°: nose {nose}");
                }
                // Which way it looks: as far as it is turned, to the nose's side.
                let facing = line.facing();
                let sin = deg.to_radians().sin().abs();
                assert!(
                    (facing.amount - sin).abs() < 0.1,
                    "yaw {deg}°: turned {} against {sin}",
                    facing.amount
                );
                let to_nose = (nose - centre) * dot(facing.towards, across);
                assert!(
                    deg.abs() < 10.0 || to_nose > 0.0,
                    "yaw {deg}°: faces away from its nose"
                );
            }
        }
    }

    #[test]
    fn a_face_of_one_keypoint_has_no_centre_line() {
        let mut pose = Pose::missing();
        pose.set(NOSE, Some(Joint::new(10.0, 10.0, 1.0)));
        pose.set(NECK, Some(Joint::new(10.0, 40.0, 1.0)));
        assert!(centre_line(&pose, 100.0).is_none());
        pose.set(R_EYE, Some(Joint::new(6.0, 8.0, 1.0)));
        assert!(centre_line(&pose, 0.0).is_none());
        assert!(centre_line(&pose, 100.0).is_some());
    }
}
