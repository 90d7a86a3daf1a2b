//! Where the photo's hands and feet point, and how thick its limbs are, measured from the
//! person's matte.
//!
//! COCO-18 stops at the wrists and ankles, so the skeleton alone can only guess the hand (it
//! continues the forearm) and the foot (down the shin, or towards where the face looks). A
//! shoe seen three-quarter on points sideways and reaches 0.4 torso lengths past the ankle:
//! the guess missed its toe, which then belonged to no part and stayed where it was while the
//! leg moved (a shoe tip left on the pavement in every frame of a jumping jack). The matte
//! shows the extremity: the person's pixels just past the terminal joint that no other part
//! of the body claims. Their mean direction and reach give the hand's or foot's axis.

use super::depth::Region;
use super::geometry::{dot, norm, sub, xy, P};
use super::parts;
use super::PuppetConfig;
use crate::pose::skeleton::*;
use crate::pose::{Pose, NUM_JOINTS};

/// The terminal joints with the joint before them (wrist ← elbow, ankle ← knee) and the
/// extremity's search radius: × the body scale for a foot, × the bone's length for a hand.
const TERMINALS: [(usize, usize, Reach); 4] = [
    (R_WRIST, R_ELBOW, Reach::Bone(0.9)),
    (L_WRIST, L_ELBOW, Reach::Bone(0.9)),
    (R_ANKLE, R_KNEE, Reach::Body(0.5)),
    (L_ANKLE, L_KNEE, Reach::Body(0.5)),
];

#[derive(Clone, Copy)]
enum Reach {
    Body(f64),
    Bone(f64),
}

/// Matte values at or above this are the person.
const SOLID: f32 = 0.5;
/// An extremity needs at least this many pixels, × (search radius)²: fewer is a wrist or an
/// ankle against the body or cut by the frame, where the skeleton's guess stays.
const MIN_AREA: f64 = 0.06;
/// …and its mean must lie at least this far (× the search radius) from the joint: a foot
/// pointing at the camera has no axis to measure.
const MIN_OFFSET: f64 = 0.12;

/// Per terminal joint (indexed by joint), the extremity's far end relative to the joint, in
/// pixels of the frame it was measured in (the compositor measures on the frame it warps);
/// `None`: not measured (the skeleton's guess is used).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Extremities {
    tips: [Option<[f64; 2]>; NUM_JOINTS],
    /// Per limb bone ([`parts::LIMB_BONES`]): its measured half-width over the one the
    /// settings assume, within [`GIRTH`]; `None`: not measured.
    girth: [Option<f64>; 8],
}

impl Extremities {
    /// The extremity of terminal joint `j`, relative to it, in pixels.
    pub(crate) fn tip(&self, j: usize) -> Option<P> {
        self.tips.get(j).copied().flatten()
    }

    /// How thick the photo's limb of `region` is against what the settings assume (1: as
    /// assumed; below 1: thinner). Both bones of a limb take the larger of their two
    /// measurements, and only when both were measured: one sleeve, one trouser leg. A bone
    /// measured alone could be an arm lying along the body's outline, and an upper arm thinner
    /// than the forearm left the forearm's round end at the elbow to claim the bend.
    pub(crate) fn girth(&self, region: Region) -> f64 {
        // `LIMB_BONES` lists each limb's two bones side by side.
        let Some(k) = parts::LIMB_BONES.iter().position(|b| b.2 == region) else {
            return 1.0;
        };
        match (self.girth[k & !1], self.girth[k | 1]) {
            (Some(a), Some(b)) => a.max(b),
            _ => 1.0,
        }
    }

    /// Measures the hands and feet of the person whose skeleton is `pose` from their matte
    /// (`alpha`, H·W row-major, the same frame as the pose).
    pub fn from_matte(pose: &Pose, alpha: &[f32], height: usize, width: usize) -> Self {
        let mut out = Self::default();
        if alpha.len() != height * width || height == 0 || width == 0 {
            return out;
        }
        let cfg = PuppetConfig::default();
        let rig = parts::build(pose, pose, height, width, &cfg);
        let scale = rig.scale_s;
        for (joint, parent, reach) in TERMINALS {
            let (Some(a), Some(b)) = (xy(pose, joint), xy(pose, parent)) else {
                continue;
            };
            let bone = sub(a, b);
            let len = norm(bone);
            if len < 1e-6 {
                continue;
            }
            let e = [bone[0] / len, bone[1] / len];
            let r = match reach {
                Reach::Body(k) => k * scale,
                Reach::Bone(k) => k * len,
            };
            // The parts of the rest of the body: this bone and its own foot may claim the
            // extremity's pixels, nothing else.
            let others: Vec<&parts::Part> = rig
                .parts
                .iter()
                .filter(|p| !p.joints.contains(&joint))
                .collect();
            let (x0, x1) = (
                (a[0] - r).floor().max(0.0) as usize,
                ((a[0] + r).ceil() as usize).min(width - 1),
            );
            let (y0, y1) = (
                (a[1] - r).floor().max(0.0) as usize,
                ((a[1] + r).ceil() as usize).min(height - 1),
            );
            // Past the joint (not up the bone), within reach, claimed by no other part.
            let candidate = |x: usize, y: usize| {
                let q = [x as f64, y as f64];
                let d = sub(q, a);
                alpha[y * width + x] >= SOLID
                    && norm(d) <= r
                    && dot(d, e) >= 0.0
                    && !others.iter().any(|p| p.shape_s.distance(q) < p.radius_s)
            };
            let pts = connected_to_joint(a, (x0, x1), (y0, y1), candidate);
            if (pts.len() as f64) < MIN_AREA * r * r {
                continue;
            }
            let n = pts.len() as f64;
            let mean = [
                pts.iter().map(|d| d[0]).sum::<f64>() / n,
                pts.iter().map(|d| d[1]).sum::<f64>() / n,
            ];
            let m = norm(mean);
            if m < MIN_OFFSET * r {
                continue;
            }
            // The axis points at the extremity's far end, the farthest quarter of its pixels:
            // the mean of all of them is pulled towards the bone's own direction by the
            // trouser's or sleeve's end just past the joint, and a shoe pointing sideways from
            // a slanted shin got an axis half-way between the two, its toe outside the part
            // (left on the ground in `eval`'s scenes as a dark speck).
            let mut by_reach: Vec<(f64, P)> = pts.iter().map(|&d| (norm(d), d)).collect();
            by_reach.sort_by(|a, b| b.0.total_cmp(&a.0));
            let far_pts = &by_reach[..by_reach.len().div_ceil(4)];
            let fm = far_pts
                .iter()
                .fold([0.0, 0.0], |s, (_, d)| [s[0] + d[0], s[1] + d[1]]);
            let fl = norm(fm);
            let axis = if fl > 1e-9 {
                [fm[0] / fl, fm[1] / fl]
            } else {
                [mean[0] / m, mean[1] / m]
            };
            // The far end: the 95th percentile of the pixels' reach along the axis.
            let mut along: Vec<f64> = pts.iter().map(|d| dot(*d, axis)).collect();
            along.sort_by(f64::total_cmp);
            let far = along[((along.len() - 1) as f64 * 0.95) as usize].max(m);
            out.tips[joint] = Some([axis[0] * far, axis[1] * far]);
        }
        // Each limb bone's thickness.
        for (k, &(a, b, region)) in parts::LIMB_BONES.iter().enumerate() {
            let (Some(pa), Some(pb)) = (xy(pose, a), xy(pose, b)) else {
                continue;
            };
            let assumed = cfg.radius(region) * scale;
            out.girth[k] = half_width(alpha, height, width, pa, pb, assumed)
                .map(|h| (h / assumed).clamp(GIRTH.0, GIRTH.1));
        }
        out
    }
}

/// The pixels of the box `xs` × `ys` (inclusive) that pass `candidate` and connect (4-way,
/// through candidates) to the one nearest the joint `a`, relative to `a`. Only connected
/// pixels are the extremity: a foot's search disc also holds the other foot's toe when the
/// feet are close (the other foot's part, guessed from the skeleton, need not cover it), and
/// it dragged the measured axis towards it.
fn connected_to_joint(
    a: P,
    (x0, x1): (usize, usize),
    (y0, y1): (usize, usize),
    candidate: impl Fn(usize, usize) -> bool,
) -> Vec<P> {
    if x1 < x0 || y1 < y0 {
        return Vec::new();
    }
    let (bw, bh) = (x1 - x0 + 1, y1 - y0 + 1);
    let mut ok: Vec<bool> = (0..bw * bh)
        .map(|i| candidate(x0 + i % bw, y0 + i / bw))
        .collect();
    let dist = |i: usize| norm(sub([(x0 + i % bw) as f64, (y0 + i / bw) as f64], a));
    let Some(seed) = (0..ok.len())
        .filter(|&i| ok[i])
        .min_by(|&i, &j| dist(i).total_cmp(&dist(j)))
    else {
        return Vec::new();
    };
    let mut pts = Vec::new();
    let mut stack = vec![seed];
    ok[seed] = false;
    while let Some(i) = stack.pop() {
        let (x, y) = (i % bw, i / bw);
        pts.push(sub([(x0 + x) as f64, (y0 + y) as f64], a));
        let mut visit = |j: usize| {
            if ok[j] {
                ok[j] = false;
                stack.push(j);
            }
        };
        if x > 0 {
            visit(i - 1);
        }
        if x + 1 < bw {
            visit(i + 1);
        }
        if y > 0 {
            visit(i - bw);
        }
        if y + 1 < bh {
            visit(i + bw);
        }
    }
    pts
}

/// The range of [`Extremities::girth`]. A limb thinner than the settings assume gets a thinner
/// part, so it claims less of the body beside it (`eval --count 100 --size 256x192`: person
/// 19.66 → 19.92 dB, frame 25.21 → 25.55; the synthetic people's limbs are mostly thinner
/// than the defaults). Never thicker: a bulky sleeve measured thick claimed the suit beside it
/// (the astronaut's raised arm left the side of her suit to the plate), and the synthetic
/// scenes lost 0.1 dB.
const GIRTH: (f64, f64) = (0.6, 1.0);

/// The half-width of the matte around bone `a → b` where it meets the background: at several
/// points along the bone, half the perpendicular run of solid matte across it, or where one
/// side runs on (into the body) the other side's run; their median. `None` where
/// both sides run past 3 × `expected` at most points (the limb lies on the body).
fn half_width(
    alpha: &[f32],
    height: usize,
    width: usize,
    a: P,
    b: P,
    expected: f64,
) -> Option<f64> {
    let d = sub(b, a);
    let len = norm(d);
    if len < 1e-6 || expected <= 0.0 {
        return None;
    }
    let n = [-d[1] / len, d[0] / len];
    let cap = 3.0 * expected;
    let solid = |p: P| {
        let (x, y) = (p[0].round(), p[1].round());
        x >= 0.0
            && y >= 0.0
            && (x as usize) < width
            && (y as usize) < height
            && alpha[y as usize * width + x as usize] >= SOLID
    };
    let run = |c: P, s: f64| {
        let mut t = 0.0;
        while t < cap && solid([c[0] + s * t * n[0], c[1] + s * t * n[1]]) {
            t += 0.5;
        }
        t
    };
    let mut found: Vec<f64> = [0.3, 0.4, 0.5, 0.6, 0.7]
        .iter()
        .map(|&f| [a[0] + f * d[0], a[1] + f * d[1]])
        .filter(|&c| solid(c))
        .map(|c| {
            let (l, r) = (run(c, 1.0), run(c, -1.0));
            // Background on both sides: half the width, wherever the bone lies in it.
            if l < cap && r < cap {
                0.5 * (l + r)
            } else {
                l.min(r)
            }
        })
        .filter(|&h| h < cap)
        .collect();
    if found.len() < 3 {
        return None;
    }
    found.sort_by(f64::total_cmp);
    Some(found[found.len() / 2])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pose::Joint;

    /// A standing figure (torso 100 px) with its right leg down to an ankle at (100, 300).
    fn figure() -> Pose {
        let mut pose = Pose::missing();
        for (j, x, y) in [
            (NECK, 120.0, 60.0),
            (R_SHOULDER, 100.0, 60.0),
            (L_SHOULDER, 140.0, 60.0),
            (R_HIP, 105.0, 160.0),
            (L_HIP, 135.0, 160.0),
            (R_KNEE, 100.0, 230.0),
            (R_ANKLE, 100.0, 300.0),
        ] {
            pose.set(j, Some(Joint::new(x, y, 1.0)));
        }
        pose
    }

    fn matte_with(h: usize, w: usize, inside: impl Fn(f64, f64) -> bool) -> Vec<f32> {
        (0..h * w)
            .map(|i| inside((i % w) as f64, (i / w) as f64) as u8 as f32)
            .collect()
    }

    /// Distance from (x, y) to segment (ax, ay) → (bx, by).
    fn off(x: f64, y: f64, (ax, ay, bx, by): (f64, f64, f64, f64)) -> f64 {
        let t = (((x - ax) * (bx - ax) + (y - ay) * (by - ay))
            / ((bx - ax).powi(2) + (by - ay).powi(2)))
        .clamp(0.0, 1.0);
        (x - ax - t * (bx - ax)).hypot(y - ay - t * (by - ay))
    }

    const THIGH: (f64, f64, f64, f64) = (105.0, 160.0, 100.0, 230.0);
    const SHIN: (f64, f64, f64, f64) = (100.0, 230.0, 100.0, 300.0);

    #[test]
    fn a_thin_leg_is_measured_thin_a_thick_or_hidden_one_is_not_grown() {
        let (h, w) = (340, 260);
        let pose = figure();
        let (thigh, shin) = (
            Region::Leg {
                right: true,
                lower: false,
            },
            Region::Leg {
                right: true,
                lower: true,
            },
        );
        // The settings assume a thigh 17 px thick on each side (0.17 torso lengths), a shin
        // 13 px.
        let girth = |t: f64, s: f64| {
            let alpha = matte_with(h, w, |x, y| off(x, y, THIGH) <= t || off(x, y, SHIN) <= s);
            let ex = Extremities::from_matte(&pose, &alpha, h, w);
            assert_eq!(ex.girth(thigh), ex.girth(shin), "one trouser leg");
            ex.girth(thigh)
        };
        // The larger of 12 / 17 and 9 / 13.
        let thin = girth(12.0, 9.0);
        assert!((thin - 12.0 / 17.0).abs() < 0.05, "measured {thin}");
        assert_eq!(girth(4.0, 4.0), GIRTH.0, "clamped below");
        assert_eq!(girth(30.0, 30.0), 1.0, "never thicker than assumed");
        // The shin on a body of matte all around it (no edge): the leg is not measured.
        let alpha = matte_with(h, w, |x, y| off(x, y, THIGH) <= 12.0 || y >= 225.0);
        assert_eq!(
            Extremities::from_matte(&pose, &alpha, h, w).girth(thigh),
            1.0
        );
        // The other leg and the arms are not measured from this one.
        let alpha = matte_with(h, w, |x, y| {
            off(x, y, THIGH) <= 12.0 || off(x, y, SHIN) <= 9.0
        });
        let ex = Extremities::from_matte(&pose, &alpha, h, w);
        let left = Region::Leg {
            right: false,
            lower: false,
        };
        assert_eq!(ex.girth(left), 1.0);
    }

    #[test]
    fn a_shoe_pointing_sideways_is_measured_along_itself() {
        let (h, w) = (340, 260);
        let pose = figure();
        // The shin (10 px wide) and a shoe from the ankle 45 px to the right, 14 px tall.
        let alpha = matte_with(h, w, |x, y| {
            ((95.0..=105.0).contains(&x) && (230.0..=300.0).contains(&y))
                || ((95.0..=145.0).contains(&x) && (296.0..=310.0).contains(&y))
        });
        let ex = Extremities::from_matte(&pose, &alpha, h, w);
        let tip = ex.tip(R_ANKLE).expect("the shoe is measured");
        let (tx, ty) = (100.0 + tip[0], 300.0 + tip[1]);
        assert!((138.0..=148.0).contains(&tx), "tip x {tx}");
        assert!((295.0..=312.0).contains(&ty), "tip y {ty}");
        // No matte past the other joints: nothing measured there.
        assert!(ex.tip(L_ANKLE).is_none() && ex.tip(R_WRIST).is_none());

        // The other foot's toe in the search disc, not touching this shoe, and the trouser's
        // end round the ankle: the shoe alone sets the axis, its far end the tip.
        let alpha = matte_with(h, w, |x, y| {
            ((93.0..=107.0).contains(&x) && (230.0..=304.0).contains(&y))
                || ((95.0..=145.0).contains(&x) && (296.0..=310.0).contains(&y))
                || ((58.0..=76.0).contains(&x) && (298.0..=314.0).contains(&y))
        });
        let tip = Extremities::from_matte(&pose, &alpha, h, w)
            .tip(R_ANKLE)
            .expect("the shoe is measured");
        let (tx, ty) = (100.0 + tip[0], 300.0 + tip[1]);
        assert!((138.0..=148.0).contains(&tx), "tip x {tx}");
        assert!((295.0..=312.0).contains(&ty), "tip y {ty}");
    }

    #[test]
    fn an_ankle_without_a_foot_keeps_the_guess() {
        let (h, w) = (340, 260);
        let pose = figure();
        // The shin ends at the ankle: nothing past it but a speck.
        let alpha = matte_with(h, w, |x, y| {
            ((95.0..=105.0).contains(&x) && (230.0..=300.0).contains(&y))
                || ((110.0..=111.0).contains(&x) && (301.0..=302.0).contains(&y))
        });
        let ex = Extremities::from_matte(&pose, &alpha, h, w);
        assert!((0..NUM_JOINTS).all(|j| ex.tip(j).is_none()), "{ex:?}");
        // A matte of the wrong size measures nothing (and does not panic).
        assert_eq!(
            Extremities::from_matte(&pose, &alpha[1..], h, w),
            Extremities::default()
        );
    }
}
