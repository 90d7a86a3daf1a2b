//! Tests of `labels.rs` (a file of their own: they drive `ownership.rs` too, which imports
//! the labels).

use super::depth::Region;
use super::geometry::{dot, sub, Shape, P};
use super::labels::*;
use super::parts;
use super::PuppetConfig;
use crate::pose::skeleton::*;
use crate::pose::{Joint, Pose, NUM_JOINTS};
use crate::puppet::geometry::norm;
use crate::puppet::{ownership, puppet_warp};
use image::RgbImage;

const H: usize = 200;
const W: usize = 200;
const SLEEVE: f64 = 3.0;

/// A frontal figure whose right forearm lies across the chest (elbow → wrist level, inside
/// the torso's box).
fn arm_on_chest() -> Pose {
    let pts: [(usize, f32, f32); NUM_JOINTS] = [
        (NOSE, 100.0, 30.0),
        (NECK, 100.0, 50.0),
        (R_SHOULDER, 80.0, 52.0),
        (R_ELBOW, 74.0, 85.0),
        (R_WRIST, 112.0, 88.0),
        (L_SHOULDER, 120.0, 52.0),
        (L_ELBOW, 128.0, 85.0),
        (L_WRIST, 132.0, 115.0),
        (R_HIP, 87.0, 120.0),
        (R_KNEE, 85.0, 160.0),
        (R_ANKLE, 84.0, 195.0),
        (L_HIP, 113.0, 120.0),
        (L_KNEE, 115.0, 160.0),
        (L_ANKLE, 116.0, 195.0),
        (R_EYE, 95.0, 26.0),
        (L_EYE, 105.0, 26.0),
        (R_EAR, 89.0, 28.0),
        (L_EAR, 111.0, 28.0),
    ];
    let mut p = Pose::missing();
    for (j, x, y) in pts {
        p.set(j, Some(Joint::new(x, y, 1.0)));
    }
    p
}

fn at(pose: &Pose, j: usize) -> P {
    let p = pose.get(j).unwrap();
    [p.x as f64, p.y as f64]
}

fn segment_distance(q: P, a: P, b: P) -> f64 {
    Shape::Segment(a, b).distance(q)
}

/// The photo: a blue shirt (the torso's box), a red sleeve `SLEEVE` px either side of the
/// right arm's bones (and the hand past the wrist), grey elsewhere; the matte covers both.
fn photo(pose: &Pose) -> (RgbImage, Vec<f32>) {
    let (sh, el, wr) = (at(pose, R_SHOULDER), at(pose, R_ELBOW), at(pose, R_WRIST));
    let hand = [wr[0] + 0.3 * (wr[0] - el[0]), wr[1] + 0.3 * (wr[1] - el[1])];
    let mut img = RgbImage::from_pixel(W as u32, H as u32, image::Rgb([128, 128, 128]));
    let mut matte = vec![0f32; H * W];
    for y in 0..H {
        for x in 0..W {
            let q = [x as f64, y as f64];
            let arm = segment_distance(q, sh, el)
                .min(segment_distance(q, el, wr))
                .min(segment_distance(q, wr, hand));
            let (colour, person) = if arm <= SLEEVE {
                ([200, 40, 40], true)
            } else if (68..=132).contains(&x) && (46..=124).contains(&y) {
                ([40, 60, 200], true)
            } else {
                ([128, 128, 128], false)
            };
            img.put_pixel(x as u32, y as u32, image::Rgb(colour));
            matte[y * W + x] = if person { 1.0 } else { 0.0 };
        }
    }
    (img, matte)
}

const FOREARM: Region = Region::Arm {
    right: true,
    lower: true,
};

#[test]
fn a_forearm_on_the_chest_owns_its_sleeve_and_not_the_shirt_beside_it() {
    let pose = arm_on_chest();
    let (img, matte) = photo(&pose);
    let cfg = PuppetConfig::default();
    let labels = part_labels(&pose, &img, &matte, &cfg);
    let rig = parts::build(&pose, &pose, H, W, &cfg);
    let forearm = rig.parts.iter().position(|p| p.region == FOREARM).unwrap();
    let (el, wr) = (at(&pose, R_ELBOW), at(&pose, R_WRIST));
    let radius = rig.parts[forearm].radius_s;
    assert!(
        radius > SLEEVE + 2.5,
        "radius {radius}: the shirt must lie within it"
    );
    let (mut shirt, mut sleeve) = (0, 0);
    for y in 0..H {
        for x in 0..W {
            let q = [x as f64, y as f64];
            let t = {
                let ab = sub(wr, el);
                dot(sub(q, el), ab) / dot(ab, ab)
            };
            let d = segment_distance(q, el, wr);
            if !(0.3..=0.9).contains(&t) {
                continue;
            }
            if d <= SLEEVE - 1.0 {
                sleeve += 1;
                assert_eq!(labels.region_at(q), Some(FOREARM), "sleeve at {q:?}");
            } else if d >= SLEEVE + 1.0 && d <= 0.95 * radius {
                // The straight-line rule gives the shirt here to the forearm…
                let o = rig.source_owner(q, &cfg).unwrap();
                assert_eq!(rig.parts[o.part].region, FOREARM, "{q:?}");
                // …the labels to the torso.
                shirt += 1;
                assert_eq!(labels.region_at(q), Some(Region::Torso), "shirt at {q:?}");
            }
        }
    }
    assert!(
        sleeve > 50 && shirt > 50,
        "{sleeve} sleeve, {shirt} shirt pixels"
    );
    // The hand past the wrist (no seeds there) is the forearm's too, and the background
    // no one's.
    let hand = [wr[0] + 0.2 * (wr[0] - el[0]), wr[1] + 0.2 * (wr[1] - el[1])];
    assert_eq!(labels.region_at(hand), Some(FOREARM));
    assert_eq!(labels.at([10.0, 10.0]), None);
    assert!(labels.fits(H, W) && !labels.fits(W + 1, H));
}

#[test]
fn a_forearm_raised_off_the_chest_takes_its_sleeve_and_leaves_the_shirt() {
    let src = arm_on_chest();
    let (img, matte) = photo(&src);
    let cfg = PuppetConfig::default();
    let labels = part_labels(&src, &img, &matte, &cfg);
    // The forearm turned up about the elbow, out beside the head.
    let mut tgt = src.clone();
    tgt.set(R_WRIST, Some(Joint::new(60.0, 50.0, 1.0)));
    let warp = puppet_warp(&src, &tgt, H, W, &cfg);
    let with = ownership(&src, &tgt, &warp, &cfg, Some(&labels));
    let without = ownership(&src, &tgt, &warp, &cfg, None);
    let (el, wt) = (at(&tgt, R_ELBOW), at(&tgt, R_WRIST));
    let len = norm(sub(wt, el));
    let (e, n) = (
        [(wt[0] - el[0]) / len, (wt[1] - el[1]) / len],
        [-(wt[1] - el[1]) / len, (wt[0] - el[0]) / len],
    );
    let mut checked = 0;
    for t in [0.4, 0.55, 0.7, 0.85] {
        for side in [-1.0, 1.0] {
            let on = [el[0] + t * len * e[0], el[1] + t * len * e[1]];
            let beside = |d: f64| [on[0] + side * d * n[0], on[1] + side * d * n[1]];
            let idx = |q: P| q[1].round() as usize * W + q[0].round() as usize;
            // On the new forearm's bone: the sleeve, owned either way.
            assert!(with[idx(on)] > 0.9 && without[idx(on)] > 0.9, "{on:?}");
            // Beside it, where the warp samples the shirt next to the old sleeve: only the
            // straight-line rule carries the shirt along.
            let q = beside(SLEEVE + 1.5);
            let (dx, dy) = warp.flow.get(q[0].round() as usize, q[1].round() as usize);
            let sampled = img.get_pixel(
                (q[0].round() + dx as f64).round() as u32,
                (q[1].round() + dy as f64).round() as u32,
            );
            if sampled.0 != [40, 60, 200] {
                continue;
            }
            checked += 1;
            assert!(without[idx(q)] > 0.9, "the check cannot tell at {q:?}");
            assert!(
                with[idx(q)] < 0.1,
                "shirt carried at {q:?}: {}",
                with[idx(q)]
            );
        }
    }
    assert!(checked >= 4, "only {checked} pixels sampled the shirt");
}
