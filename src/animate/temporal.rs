//! Temporal quality: how much consecutive frames change where they should not.
//!
//! Three regions per pair of consecutive rendered frames (colour values 0–255, mean absolute
//! difference over the three channels):
//! * **static**: neither frame has any share of the person or the plate there (the untouched
//!   photo). Any change is flicker; the composite makes it exactly zero.
//! * **person**: the person in both frames (alpha > 0.5). Mostly real motion of the moved limb.
//! * **person, still part**: the person in both frames, farther than a limb's width from every
//!   bone that moved between the two poses. Nothing moved there, so a change is shimmer.

use crate::composite::Composited;
use crate::pose::rig::{Point, Rig, PARENT};
use crate::pose::NUM_JOINTS;

/// Running figures over the frames seen so far.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Flicker {
    /// Frame pairs measured.
    pub pairs: usize,
    pub static_mean: f64,
    /// The largest single-pixel change in the static region over all pairs.
    pub static_max: u8,
    pub person_mean: f64,
    pub still_mean: f64,
    /// The largest mean change of the still part in one pair.
    pub still_worst: f64,
    sums: [f64; 3],
    counts: [u64; 3],
}

/// A joint moving less than this (pixels) has not moved.
const MOVED_PX: f32 = 0.01;

/// Feeds consecutive frames to [`Flicker`].
#[derive(Default)]
pub struct FlickerMeter {
    prev: Option<(Composited, Rig)>,
    pub figures: Flicker,
}

impl FlickerMeter {
    /// Adds the next rendered frame (`target` is the pose it shows).
    pub fn push(&mut self, frame: &Composited, target: &Rig) {
        if let Some((prev, prev_rig)) = self.prev.take() {
            if prev.image.dimensions() == frame.image.dimensions() {
                self.measure(&prev, &prev_rig, frame, target);
            }
        }
        self.prev = Some((frame.clone(), target.clone()));
    }

    fn measure(&mut self, a: &Composited, ra: &Rig, b: &Composited, rb: &Rig) {
        let (w, h) = a.image.dimensions();
        let moved = moved_bones(ra, rb);
        let band = limb_band(ra);
        let mut pair = [(0.0f64, 0u64); 3];
        for y in 0..h {
            for x in 0..w {
                let i = (y * w + x) as usize;
                let (pa, pb) = (a.image.get_pixel(x, y).0, b.image.get_pixel(x, y).0);
                let d: u32 = (0..3).map(|c| pa[c].abs_diff(pb[c]) as u32).sum();
                let diff = d as f64 / 3.0;
                // Exactly untouched: a pixel with any share of person or plate is not static.
                let untouched = a.person[i] == 0.0
                    && b.person[i] == 0.0
                    && a.vacated[i] == 0.0
                    && b.vacated[i] == 0.0;
                if untouched {
                    pair[0].0 += diff;
                    pair[0].1 += 1;
                    let most = (0..3).map(|c| pa[c].abs_diff(pb[c])).max().unwrap_or(0);
                    self.figures.static_max = self.figures.static_max.max(most);
                } else if a.person[i] > 0.5 && b.person[i] > 0.5 {
                    pair[1].0 += diff;
                    pair[1].1 += 1;
                    let p = [x as f32 + 0.5, y as f32 + 0.5];
                    let near_motion = moved.iter().any(|&(s, e)| seg_dist(p, s, e) < band);
                    if !near_motion {
                        pair[2].0 += diff;
                        pair[2].1 += 1;
                    }
                }
            }
        }
        let f = &mut self.figures;
        f.pairs += 1;
        for (k, (s, n)) in pair.iter().enumerate() {
            f.sums[k] += s;
            f.counts[k] += n;
        }
        let mean = |k: usize| f.sums[k] / f.counts[k].max(1) as f64;
        f.static_mean = mean(0);
        f.person_mean = mean(1);
        f.still_mean = mean(2);
        f.still_worst = f.still_worst.max(pair[2].0 / pair[2].1.max(1) as f64);
    }
}

/// The bones (as segments, in both poses) touching a joint that moved between `a` and `b`.
fn moved_bones(a: &Rig, b: &Rig) -> Vec<(Point, Point)> {
    let moved: Vec<bool> = (0..NUM_JOINTS)
        .map(|j| crate::pose::rig::dist(a.points[j], b.points[j]) > MOVED_PX)
        .collect();
    let mut out = Vec::new();
    for j in 0..NUM_JOINTS {
        let Some(p) = PARENT[j] else { continue };
        if moved[j] || moved[p] {
            out.push((a.points[p], a.points[j]));
            out.push((b.points[p], b.points[j]));
        }
    }
    out
}

/// How far from a bone its limb reaches: half the torso's length (neck to hip midpoint), a
/// generous limb width, so the "still" region is certainly still.
fn limb_band(r: &Rig) -> f32 {
    use crate::pose::skeleton::{L_HIP, NECK, R_HIP};
    let hips = [
        (r.points[R_HIP][0] + r.points[L_HIP][0]) / 2.0,
        (r.points[R_HIP][1] + r.points[L_HIP][1]) / 2.0,
    ];
    (0.5 * crate::pose::rig::dist(r.points[NECK], hips)).max(4.0)
}

/// Distance from `p` to the segment `s`–`e`.
fn seg_dist(p: Point, s: Point, e: Point) -> f32 {
    let d = [e[0] - s[0], e[1] - s[1]];
    let len2 = d[0] * d[0] + d[1] * d[1];
    let t = if len2 > 0.0 {
        (((p[0] - s[0]) * d[0] + (p[1] - s[1]) * d[1]) / len2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    crate::pose::rig::dist(p, [s[0] + t * d[0], s[1] + t * d[1]])
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::RgbImage;

    fn frame(w: u32, h: u32, f: impl Fn(u32, u32) -> [u8; 3], person: Vec<f32>) -> Composited {
        let n = (w * h) as usize;
        Composited {
            image: RgbImage::from_fn(w, h, |x, y| image::Rgb(f(x, y))),
            person,
            vacated: vec![0.0; n],
            invented: vec![0.0; n],
            moved: vec![0.0; n],
        }
    }

    #[test]
    fn static_change_is_measured_only_outside_the_person() {
        let (w, h) = (40u32, 40u32);
        let person: Vec<f32> = (0..w * h)
            .map(|i| if i % w < 20 { 1.0 } else { 0.0 })
            .collect();
        let rig = Rig::template(40.0, 40.0);
        let mut m = FlickerMeter::default();
        m.push(&frame(w, h, |_, _| [10, 10, 10], person.clone()), &rig);
        // The person's half changes by 30, the static half by 3 in one channel.
        m.push(
            &frame(
                w,
                h,
                |x, _| if x < 20 { [40, 40, 40] } else { [13, 10, 10] },
                person,
            ),
            &rig,
        );
        let f = &m.figures;
        assert_eq!(f.pairs, 1);
        assert!((f.static_mean - 1.0).abs() < 1e-9, "{f:?}");
        assert_eq!(f.static_max, 3);
        assert!((f.person_mean - 30.0).abs() < 1e-9, "{f:?}");
        // Nothing moved in the rig, so all of the person counts as still.
        assert!((f.still_mean - 30.0).abs() < 1e-9, "{f:?}");
    }

    #[test]
    fn the_still_part_excludes_what_is_near_a_moved_bone() {
        let a = Rig::template(400.0, 600.0);
        let mut b = a.clone();
        let s = b.points[crate::pose::skeleton::R_SHOULDER];
        b.rotate_limb(crate::pose::skeleton::R_ELBOW, [s[0] - 100.0, s[1] - 100.0]);
        let bones = moved_bones(&a, &b);
        // Upper arm and forearm, in both poses.
        assert_eq!(bones.len(), 4);
        let band = limb_band(&a);
        let ankle = a.points[crate::pose::skeleton::L_ANKLE];
        assert!(bones.iter().all(|&(s, e)| seg_dist(ankle, s, e) > band));
        let elbow = a.points[crate::pose::skeleton::R_ELBOW];
        assert!(bones.iter().any(|&(s, e)| seg_dist(elbow, s, e) < 1e-3));
    }
}
