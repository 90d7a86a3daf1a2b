//! Tests of [`super`] (retarget.rs).
use super::*;
use crate::pose::skeleton::{L_ANKLE, L_KNEE, L_WRIST, R_ELBOW, R_WRIST};

/// Marks a missing frame in the tracks below.
const N: f32 = f32::NAN;

/// `a` wrapped into (−π, π].
fn wrap(a: f64) -> f64 {
    use std::f64::consts::PI;
    let w = (a + PI).rem_euclid(2.0 * PI) - PI;
    if w <= -PI {
        w + 2.0 * PI
    } else {
        w
    }
}

/// Options that take the driver's track as it is (no smoothing, no gap filling), so that each
/// frame can be checked against the driver's pose at that frame.
fn unsmoothed(root_motion: bool, transfer: Transfer) -> RetargetOptions {
    RetargetOptions {
        smooth_sigma: 0.0,
        max_gap: 0,
        root_motion,
        transfer,
    }
}

/// A constant-confidence pose from rig points.
fn pose_of(points: &[Point; NUM_JOINTS]) -> Pose {
    let mut pose = Pose::missing();
    for (j, &[x, y]) in points.iter().enumerate() {
        pose.set(j, Some(Joint::new(x, y, 1.0)));
    }
    pose
}

fn clip_of(frames: Vec<Pose>) -> MotionClip {
    MotionClip {
        frames,
        fps: Some(30.0),
        frame_size: None,
        source: "test".into(),
    }
}

/// The person's template ×2, translated by frame, its right forearm 30 % longer and waving.
fn waving_driver(person: &Rig, frames: usize) -> Vec<Pose> {
    (0..frames)
        .map(|t| {
            let tf = t as f32;
            let shift = [50.0 + 7.0 * tf, 20.0 - 3.0 * tf];
            let mut pts = person
                .points
                .map(|[x, y]| [2.0 * x + shift[0], 2.0 * y + shift[1]]);
            let e = pts[R_ELBOW];
            let v = [pts[R_WRIST][0] - e[0], pts[R_WRIST][1] - e[1]];
            let (s, c) = (-2.0 + 0.8 * (0.7 * tf).sin()).sin_cos();
            pts[R_WRIST] = [
                e[0] + 1.3 * (c * v[0] - s * v[1]),
                e[1] + 1.3 * (s * v[0] + c * v[1]),
            ];
            pose_of(&pts)
        })
        .collect()
}

fn direction(a: Point, b: Point) -> f64 {
    angle([a[0].into(), a[1].into()], [b[0].into(), b[1].into()])
}

#[test]
fn retargeting_maps_a_driver_of_another_size_onto_the_person() {
    let person = Rig::template(400.0, 600.0);
    let driver = waving_driver(&person, 24);
    let opts = unsmoothed(true, Transfer::Pose);
    let rigs = retarget(&clip_of(driver.clone()), &person, &opts);
    assert_eq!(rigs.len(), driver.len());
    let d_neck = |t: usize| driver[t].get(NECK).map(|n| [n.x, n.y]).unwrap();
    for (t, rig) in rigs.iter().enumerate() {
        assert!(rig.visible.iter().all(|&v| v));
        for (j, &parent) in PARENT.iter().enumerate() {
            let Some(p) = parent else { continue };
            let (want, got) = (person.bone_length(j).unwrap(), rig.bone_length(j).unwrap());
            assert!(
                (want - got).abs() <= 1e-3,
                "frame {t} bone {j}: {got} ≠ {want}"
            );
            let dj = driver[t].get(j).unwrap();
            let dp = driver[t].get(p).unwrap();
            let want = direction([dp.x, dp.y], [dj.x, dj.y]);
            let got = direction(rig.points[p], rig.points[j]);
            assert!(
                wrap(want - got).abs() <= 1e-4,
                "frame {t} bone {j}: {got} ≠ {want}"
            );
        }
        // The root moves by the driver's motion × 0.5 (person size / driver size).
        let moved = [
            rig.points[NECK][0] - rigs[0].points[NECK][0],
            rig.points[NECK][1] - rigs[0].points[NECK][1],
        ];
        let (n0, nt) = (d_neck(0), d_neck(t));
        let want = [(nt[0] - n0[0]) * 0.5, (nt[1] - n0[1]) * 0.5];
        assert!(
            dist(moved, want) <= 1e-3,
            "frame {t}: root moved {moved:?}, want {want:?}"
        );
    }
    assert!(dist(rigs[0].points[NECK], person.points[NECK]) <= 1e-3);
    // Without root motion the neck stays on the person's.
    let still = retarget(
        &clip_of(driver),
        &person,
        &RetargetOptions {
            root_motion: false,
            ..opts
        },
    );
    assert!(still
        .iter()
        .all(|r| dist(r.points[NECK], person.points[NECK]) <= 1e-3));
}

/// A bust (no hips in the photo) keeps its neck where it is however the driver bounces; the
/// same person with hips follows the driver's root.
#[test]
fn a_person_without_hips_has_no_root_motion() {
    let person = Rig::template(400.0, 600.0);
    let driver = waving_driver(&person, 12);
    let mut bust = person.clone();
    bust.visible[R_HIP] = false;
    bust.visible[L_HIP] = false;
    let opts = unsmoothed(true, Transfer::Pose);
    let neck_moves = |rigs: &[Rig]| {
        rigs.iter()
            .map(|r| dist(r.points[NECK], rigs[0].points[NECK]))
            .fold(0.0f32, f32::max)
    };
    let with_hips = retarget(&clip_of(driver.clone()), &person, &opts);
    assert!(neck_moves(&with_hips) > 20.0, "{}", neck_moves(&with_hips));
    let rigs = retarget(&clip_of(driver), &bust, &opts);
    assert!(rigs
        .iter()
        .all(|r| dist(r.points[NECK], bust.points[NECK]) <= 1e-3));
    // The limbs still follow the driver.
    let wrist = |r: &Rig| r.points[R_WRIST];
    assert!(dist(wrist(&rigs[0]), wrist(&rigs[5])) > 5.0);
}

#[test]
fn motion_transfer_keeps_the_persons_posture_and_adds_the_drivers_turns() {
    // The person leans over (a profile over a camera): head and arms elsewhere than the
    // upright driver's.
    let upright = Rig::template(400.0, 600.0);
    let mut person = upright.clone();
    person.rotate_limb(crate::pose::skeleton::NOSE, [400.0, 0.0]);
    person.rotate_limb(crate::pose::skeleton::R_WRIST, [400.0, 300.0]);
    let driver = waving_driver(&upright, 12);
    let opts = unsmoothed(false, Transfer::Motion);
    let rigs = retarget(&clip_of(driver.clone()), &person, &opts);
    for (t, rig) in rigs.iter().enumerate() {
        for (j, &parent) in PARENT.iter().enumerate() {
            let Some(p) = parent else { continue };
            let at = |pose: &Pose, k: usize| pose.get(k).map(|q| [q.x, q.y]).unwrap();
            let driver_turn = direction(at(&driver[t], p), at(&driver[t], j))
                - direction(at(&driver[0], p), at(&driver[0], j));
            let turn = direction(rig.points[p], rig.points[j])
                - direction(person.points[p], person.points[j]);
            assert!(
                wrap(turn - driver_turn).abs() <= 1e-4,
                "frame {t} bone {j}: turned {turn}, driver {driver_turn}"
            );
        }
    }
    // Frame 0 is the person as photographed, lean and all.
    for j in 0..NUM_JOINTS {
        assert!(
            dist(rigs[0].points[j], person.points[j]) <= 1e-3,
            "joint {j}"
        );
    }
}

#[test]
fn joints_the_driver_lacks_follow_the_persons_placement() {
    let mut person = Rig::template(400.0, 600.0);
    person.visible[L_ANKLE] = false; // hidden in the photo, never shown by the driver
    person.visible[R_WRIST] = false; // hidden in the photo, shown by the driver
    let mut driver = waving_driver(&person, 5);
    for pose in &mut driver {
        for j in [L_KNEE, L_ANKLE] {
            pose.set(j, None);
        }
    }
    driver[2].set(L_WRIST, None);
    let opts = unsmoothed(true, Transfer::Pose);
    let rigs = retarget(&clip_of(driver.clone()), &person, &opts);
    let rel = |r: &Rig, j: usize| {
        let p = PARENT[j].unwrap();
        let pp = PARENT[p].unwrap();
        wrap(direction(r.points[p], r.points[j]) - direction(r.points[pp], r.points[p]))
    };
    for (t, rig) in rigs.iter().enumerate() {
        // Never shown: the person's visibility and angle to the parent bone.
        assert!(rig.visible[L_KNEE] && !rig.visible[L_ANKLE]);
        for j in [L_KNEE, L_ANKLE] {
            assert!(
                wrap(rel(rig, j) - rel(&person, j)).abs() < 1e-4,
                "frame {t} joint {j}"
            );
        }
        // The person's hidden forearm takes the driver's length × 0.5.
        let d = &driver[t];
        let (w, e) = (d.get(R_WRIST).unwrap(), d.get(R_ELBOW).unwrap());
        let want = (w.x - e.x).hypot(w.y - e.y) * 0.5;
        assert!((rig.bone_length(R_WRIST).unwrap() - want).abs() < 1e-3);
        assert!(rig.visible[R_WRIST]);
    }
    // Missing in one frame only: hidden there, placed like the person's.
    assert!(!rigs[2].visible[L_WRIST] && rigs[1].visible[L_WRIST]);
    assert!(wrap(rel(&rigs[2], L_WRIST) - rel(&person, L_WRIST)).abs() < 1e-4);
}

#[test]
fn scale_falls_back_to_shoulders_then_bones() {
    let person = Rig::template(400.0, 600.0);
    let mut driver = pose_of(&person.points.map(|[x, y]| [3.0 * x, 3.0 * y]));
    driver.set(R_HIP, None);
    let bones = median_bone_lengths(std::slice::from_ref(&driver));
    let s = body_scale(std::slice::from_ref(&driver), &person, &bones);
    assert!((s - 1.0 / 3.0).abs() < 1e-5, "{s}");
    driver.set(R_SHOULDER, None);
    let bones = median_bone_lengths(std::slice::from_ref(&driver));
    let s = body_scale(std::slice::from_ref(&driver), &person, &bones);
    assert!((s - 1.0 / 3.0).abs() < 1e-5, "{s}");
    let empty = [Pose::missing()];
    let none = median_bone_lengths(&empty);
    assert_eq!(body_scale(&empty, &person, &none), 1.0);
}

/// One joint's track (joint 0, y = −2x), NaN = missing.
fn track(xs: &[f32]) -> Vec<Pose> {
    xs.iter()
        .map(|&x| {
            let mut p = Pose::missing();
            p.set(0, (!x.is_nan()).then(|| Joint::new(x, -2.0 * x, 1.0)));
            p
        })
        .collect()
}

/// The NaN-coded track of `xs`.
fn opt(xs: &[f32]) -> Vec<Option<f32>> {
    xs.iter().map(|&x| (!x.is_nan()).then_some(x)).collect()
}

fn xs(frames: &[Pose]) -> Vec<Option<f32>> {
    frames.iter().map(|p| p.get(0).map(|j| j.x)).collect()
}

#[test]
fn fill_gaps_interpolates_short_gaps_only() {
    let input = track(&[N, 0.0, 1.0, N, N, N, 9.0, N, N, N, N, 0.0, N]);
    let out = xs(&fill_gaps(&input, 3));
    let want = opt(&[N, 0.0, 1.0, 3.0, 5.0, 7.0, 9.0, N, N, N, N, 0.0, N]);
    assert_eq!(out, want);
    // y follows x's line, so the fill is linear in both.
    let filled = fill_gaps(&input, 3);
    assert_eq!(filled[4].get(0).unwrap().y, -10.0);
    // max_gap 0 fills nothing.
    assert_eq!(fill_gaps(&input, 0), input);
}

/// Deterministic noise in [−1, 1] (a 32-bit LCG).
fn noise(n: usize, mut seed: u32) -> Vec<f32> {
    (0..n)
        .map(|_| {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (seed >> 8) as f32 / (1u32 << 23) as f32 - 1.0
        })
        .collect()
}

/// RMS of the frame-to-frame change minus the true velocity.
fn jitter(xs: &[Option<f32>], velocity: f32) -> f32 {
    let d: Vec<f32> = xs
        .windows(2)
        .filter_map(|w| Some(w[1]? - w[0]? - velocity))
        .collect();
    (d.iter().map(|v| v * v).sum::<f32>() / d.len() as f32).sqrt()
}

#[test]
fn smoothing_has_no_lag_removes_jitter_and_invents_nothing() {
    // Constant velocity, with a gap: unchanged everywhere (the ends and the gap's edges too).
    let mut line: Vec<f32> = (0..40).map(|t| 10.0 + 2.5 * t as f32).collect();
    line[15..19].fill(N);
    let out = xs(&smooth(&track(&line), 2.0));
    for (t, (a, b)) in opt(&line).iter().zip(&out).enumerate() {
        match (a, b) {
            (Some(a), Some(b)) => assert!((a - b).abs() < 1e-3, "frame {t}: {a} → {b}"),
            (None, None) => {}
            _ => panic!("frame {t}: {a:?} → {b:?}"),
        }
    }
    // Noisy: the jitter drops by at least half, at every σ worth using.
    let noisy: Vec<f32> = noise(120, 7)
        .iter()
        .enumerate()
        .map(|(t, n)| 100.0 + 1.5 * t as f32 + 3.0 * n)
        .collect();
    for sigma in [1.0, 1.5, 3.0] {
        let before = jitter(&opt(&noisy), 1.5);
        let after = jitter(&xs(&smooth(&track(&noisy), sigma)), 1.5);
        assert!(
            after * 2.0 <= before,
            "σ {sigma}: jitter {before} → {after}"
        );
    }
    // Off: unchanged.
    assert_eq!(smooth(&track(&noisy), 0.0), track(&noisy));
}

#[test]
fn an_unsure_frame_counts_less() {
    // A jump at frame 5 with low confidence barely moves its neighbours.
    let mut frames = track(&[0.0; 11]);
    frames[5].set(0, Some(Joint::new(100.0, 0.0, 0.05)));
    let sure = {
        let mut f = frames.clone();
        f[5].set(0, Some(Joint::new(100.0, 0.0, 1.0)));
        smooth(&f, 1.5)
    };
    let unsure = smooth(&frames, 1.5);
    let at4 = |f: &[Pose]| f[4].get(0).unwrap().x;
    let (unsure, sure) = (at4(&unsure), at4(&sure));
    assert!(unsure * 5.0 < sure, "{unsure} vs {sure}");
}
