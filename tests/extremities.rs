//! Hands go with their forearms and feet with their shins (issue 28). One file for the three
//! checks (a raised arm, a leg turned out, a jumping jack): they share how an extremity is
//! found and measured. Hands: on real photos, an arm raised 50° about the shoulder through the
//! default pipeline must take its hand along. COCO-18 stops at the wrist, so nothing in the
//! skeleton names the hand: the check finds it as the matte's pixels in a disc
//! beyond the wrist, along the forearm.
//!
//! The arm turns 50° about the shoulder, lifting the hand (lowering it where a lifted hand would
//! leave the photo). Two figures per arm (means over the hand's pixels, 0–255):
//! * **old place**: how much the output changed where the hand was (and the new arm is not),
//!   against the hand's contrast with its surroundings (the photo's mean colour on a ring
//!   around the hand, off the person; hands with the body around them are not measured). A
//!   hand left behind changes nothing (ratio ≈ 0); a hand that left shows the background
//!   (ratio ≈ 1). Needs ≥ 0.4.
//! * **new place**: the distance of the output, at each hand pixel's rigidly rotated position,
//!   from the hand's colour, against what the photo had there. Needs ≤ 0.5 (the colour arrived
//!   at least half way).
//!
//! Photos: the shared cameraman, the bundled synthetic person, and the full-body bus photo when
//! `$MARIONETTE_POSE_FIXTURES` holds it (CI fetches it); arms whose hand rests on another limb
//! or on the body are not measurable this way and are skipped, so held-out synthetic people
//! (with their true matte) are checked too. Needs the pose detector's models (for
//! the matte); prints `SKIPPED` without them.

use image::RgbImage;
use marionette::composite::{build_layers, composite_puppet, plate_layers, PhotoLayers};
use marionette::detect::PoseDetector;
use marionette::pose::skeleton::{
    L_ANKLE, L_ELBOW, L_EYE, L_HIP, L_KNEE, L_SHOULDER, L_WRIST, NECK, NOSE, R_ANKLE, R_ELBOW,
    R_EYE, R_HIP, R_KNEE, R_SHOULDER, R_WRIST,
};
use marionette::pose::{read_openpose, Joint, Pose, NUM_JOINTS};
use marionette::puppet::{Extremities, PuppetConfig};
use marionette::synth::{render_scene, SynthConfig};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// The pose detector (for the matte), or `None` after printing `SKIPPED test` without its
/// models.
fn detector(test: &str) -> Option<PoseDetector> {
    PoseDetector::load_default()
        .map_err(|e| eprintln!("SKIPPED {test}: {e:#}"))
        .ok()
}

fn manifest() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The fixture's confident OpenPose-18 joints.
fn fixture_pose(json: &Path) -> Pose {
    let v: Value = serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap();
    let mut pose = Pose::missing();
    for (j, joint) in v["openpose18"].as_array().unwrap().iter().enumerate() {
        if j < NUM_JOINTS && joint["confident"].as_bool().unwrap() {
            let (x, y) = (
                joint["x_px"].as_f64().unwrap(),
                joint["y_px"].as_f64().unwrap(),
            );
            pose.set(j, Some(Joint::new(x as f32, y as f32, 1.0)));
        }
    }
    pose
}

/// (name, photo, skeleton) of every photo available here.
fn photos() -> Vec<(String, RgbImage, Pose)> {
    let mut out = Vec::new();
    let shared = manifest().join("../shared/fixtures/pose");
    let open = |p: &Path| image::open(p).unwrap().to_rgb8();
    out.push((
        "camera".into(),
        open(&shared.join("camera.png")),
        fixture_pose(&shared.join("camera.json")),
    ));
    let samples = manifest().join("assets/samples");
    out.push((
        "synth_person".into(),
        open(&samples.join("synth_person.png")),
        read_openpose(samples.join("synth_person_source.json"), 0).unwrap(),
    ));
    if let Some(dir) = std::env::var_os("MARIONETTE_POSE_FIXTURES").map(PathBuf::from) {
        if dir.join("bus.jpg").exists() {
            out.push((
                "bus".into(),
                open(&dir.join("bus.jpg")),
                fixture_pose(&shared.join("bus.json")),
            ));
        }
    }
    out
}

type P = (f32, f32);

fn rotate(p: P, about: P, angle: f32) -> P {
    let (s, c) = angle.sin_cos();
    let (dx, dy) = (p.0 - about.0, p.1 - about.1);
    (about.0 + c * dx - s * dy, about.1 + s * dx + c * dy)
}

/// `source` with `joints` turned by `angle` about `pivot`.
fn turned(source: &Pose, joints: &[usize], pivot: P, angle: f32) -> Pose {
    let mut target = source.clone();
    for &j in joints {
        let p = source.get(j).unwrap();
        let q = rotate((p.x, p.y), pivot, angle);
        target.set(j, Some(Joint::new(q.0, q.1, p.confidence)));
    }
    target
}

fn dist(a: P, b: P) -> f32 {
    (a.0 - b.0).hypot(a.1 - b.1)
}

fn segment_distance(p: P, a: P, b: P) -> f32 {
    let (vx, vy) = (b.0 - a.0, b.1 - a.1);
    let t = (((p.0 - a.0) * vx + (p.1 - a.1) * vy) / (vx * vx + vy * vy).max(1e-6)).clamp(0.0, 1.0);
    dist(p, (a.0 + t * vx, a.1 + t * vy))
}

fn rgb(img: &RgbImage, p: P) -> Option<[f32; 3]> {
    let (x, y) = (p.0.round(), p.1.round());
    (x >= 0.0 && y >= 0.0 && (x as u32) < img.width() && (y as u32) < img.height())
        .then(|| img.get_pixel(x as u32, y as u32).0.map(f32::from))
}

fn gap(a: [f32; 3], b: [f32; 3]) -> f32 {
    (0..3).map(|c| (a[c] - b[c]).abs()).sum::<f32>() / 3.0
}

fn mean(v: &[[f32; 3]]) -> [f32; 3] {
    let n = v.len().max(1) as f32;
    [0, 1, 2].map(|c| v.iter().map(|p| p[c]).sum::<f32>() / n)
}

/// The figures of one hand or foot moved with its limb (see the module doc): `old_place`, the
/// output's change where it was against its contrast with its surroundings; `new_place`, the
/// gap left to its colour at its turned place; `stayed`, the share of its old place the
/// output left as it was (within 8 of the photo's value: a piece of shoe left on the ground).
struct Moved {
    old_place: f32,
    new_place: f32,
    stayed: f32,
}

/// Renders `target` (the limb turned by `turn.1` about `turn.0`) and measures the extremity
/// `pixels` against `surround`, the photo's mean colour around it off the person; `covered`
/// says where the turned limb lies (not counted as the extremity's old place).
#[allow(clippy::too_many_arguments)]
fn measure(
    layers: &PhotoLayers,
    source: &Pose,
    target: &Pose,
    cfg: &PuppetConfig,
    pixels: &[P],
    surround: [f32; 3],
    arrives: impl Fn(P) -> P,
    covered: impl Fn(P) -> bool,
    what: &str,
) -> Result<Moved, String> {
    let photo = &layers.photo;
    let contrast = pixels
        .iter()
        .map(|&p| gap(rgb(photo, p).unwrap(), surround))
        .sum::<f32>()
        / pixels.len() as f32;
    if contrast < 12.0 {
        return Err(format!("{what}/surround contrast only {contrast:.1}"));
    }
    let out = composite_puppet(layers, source, target, cfg).map_err(|e| e.to_string())?;
    let old: Vec<P> = pixels.iter().copied().filter(|&p| !covered(p)).collect();
    if old.len() < 20 {
        return Err(format!("the turned limb covers the old {what}"));
    }
    let differs = |p: P| gap(rgb(&out.image, p).unwrap(), rgb(photo, p).unwrap());
    let change = old.iter().map(|&p| differs(p)).sum::<f32>() / old.len() as f32;
    let stayed = old.iter().filter(|&&p| differs(p) < 8.0).count() as f32 / old.len() as f32;
    let (mut now, mut before) = (0f32, 0f32);
    for &p in pixels {
        let q = arrives(p);
        let colour = rgb(photo, p).unwrap();
        now += gap(rgb(&out.image, q).unwrap(), colour);
        before += gap(rgb(photo, q).unwrap(), colour);
    }
    Ok(Moved {
        old_place: change / contrast,
        new_place: now / before.max(1e-3),
        stayed,
    })
}

fn check_arm(
    layers: &PhotoLayers,
    source: &Pose,
    joints: [usize; 3],
    cfg: &PuppetConfig,
) -> Result<Moved, String> {
    let photo = &layers.photo;
    let (w, h) = photo.dimensions();
    let at = |j: usize| source.get(j).map(|p| (p.x, p.y));
    let (Some(s), Some(e), Some(wr)) = (at(joints[0]), at(joints[1]), at(joints[2])) else {
        return Err("joints missing".into());
    };
    let len = dist(e, wr);
    let centre = (wr.0 + 0.4 * (wr.0 - e.0), wr.1 + 0.4 * (wr.1 - e.1));
    let radius = 0.3 * len;
    // Raise: the turn (±50°) that lifts the wrist; the other one when the lifted hand would
    // leave the photo.
    let (w_f, h_f) = (w as f32, h as f32);
    let fits = |a: f32| {
        let c = rotate(centre, s, a);
        c.0 - radius >= 0.0 && c.1 - radius >= 0.0 && c.0 + radius < w_f && c.1 + radius < h_f
    };
    let mut turns = [50f32, -50f32].map(f32::to_radians);
    turns.sort_by(|a, b| rotate(wr, s, *a).1.total_cmp(&rotate(wr, s, *b).1));
    let Some(angle) = turns.into_iter().find(|&a| fits(a)) else {
        return Err("the turned hand leaves the photo".into());
    };
    let target = turned(source, &joints[1..], s, angle);
    let (e2, w2) = (rotate(e, s, angle), rotate(wr, s, angle));
    let new_centre = rotate(centre, s, angle);
    let new_arm = |p: P| {
        segment_distance(p, s, e2) < 0.5 * len
            || segment_distance(p, e2, w2) < 0.5 * len
            || dist(p, new_centre) < radius + 0.2 * len
    };
    let inside = |p: P| p.0 >= 0.0 && p.1 >= 0.0 && p.0 < w as f32 && p.1 < h as f32;
    // A hand resting on another limb (crossed arms, hands on the hips) cannot be told from
    // that limb's pixels by a disc: not measured.
    let limbs = marionette::pose::LIMBS;
    let touching = limbs.iter().any(|&(a, b)| {
        let on_this_arm = joints.contains(&a) && joints.contains(&b);
        match (at(a), at(b)) {
            (Some(pa), Some(pb)) if !on_this_arm && a != joints[0] && b != joints[0] => {
                segment_distance(centre, pa, pb) < 2.0 * radius
            }
            _ => false,
        }
    });
    if touching {
        return Err("the hand touches another limb".into());
    }
    let mut hand = Vec::new();
    let mut ring = Vec::new();
    let r = (2.0 * radius).ceil() as i32;
    for dy in -r..=r {
        for dx in -r..=r {
            let p = (centre.0.round() + dx as f32, centre.1.round() + dy as f32);
            if !inside(p) {
                continue;
            }
            let a = layers.matte[p.1 as usize * w as usize + p.0 as usize];
            let d = dist(p, centre);
            if d < radius && a > 0.5 {
                hand.push(p);
            } else if d >= 1.2 * radius && d < 2.0 * radius {
                ring.push((rgb(photo, p).unwrap(), a < 0.1));
            }
        }
    }
    // A hand in front of the body has the body around it, not a background to contrast
    // with: only hands whose ring is mostly off the person are measured.
    let off: Vec<[f32; 3]> = ring.iter().filter(|r| r.1).map(|r| r.0).collect();
    if hand.len() < 30 || 2 * off.len() < ring.len() {
        return Err(format!(
            "{} hand pixels, {} of {} ring pixels off the person",
            hand.len(),
            off.len(),
            ring.len()
        ));
    }
    let ring = off;
    if !hand.iter().all(|&p| inside(rotate(p, s, angle))) {
        return Err("the raised hand leaves the photo".into());
    }
    measure(
        layers,
        source,
        &target,
        cfg,
        &hand,
        mean(&ring),
        |p| rotate(p, s, angle),
        new_arm,
        "hand",
    )
}

#[test]
fn hands_go_with_their_forearms_on_real_photos() {
    let Some(detector) = detector("hands_go_with_their_forearms_on_real_photos") else {
        return;
    };
    let cfg = PuppetConfig::default();
    let mut checked = 0;
    let mut failures = Vec::new();
    for (name, photo, source) in photos() {
        let layers = build_layers(&detector, &photo, &source, &|| false).unwrap();
        for (side, joints) in [
            ("right", [R_SHOULDER, R_ELBOW, R_WRIST]),
            ("left", [L_SHOULDER, L_ELBOW, L_WRIST]),
        ] {
            match check_arm(&layers, &source, joints, &cfg) {
                Err(why) => println!("{name} {side} arm: not checked ({why})"),
                Ok(c) => {
                    println!(
                        "{name} {side} arm raised 50°: old place changed {:.2} of the contrast \
                         (≥ 0.40), new place {:.2} of the gap left (≤ 0.50)",
                        c.old_place, c.new_place
                    );
                    checked += 1;
                    if c.old_place < 0.4 || c.new_place > 0.5 {
                        failures.push(format!("{name} {side}"));
                    }
                }
            }
        }
    }
    // Synthetic people (their true matte; hands are capsules past the wrist, as in a photo):
    // the first scenes whose arms qualify.
    let sc = SynthConfig {
        height: 384,
        width: 288,
    };
    let mut synthetic = 0;
    // The puppet without the forearm's reach past the wrist nor the hand measured from the
    // matte (what this guards against).
    let no_hands = PuppetConfig {
        hand_extension: 0.0,
        extremities: Some(Extremities::default()),
        ..cfg.clone()
    };
    let mut left_behind_before = 0;
    for seed in (1u64 << 40)..(1u64 << 40) + 60 {
        if synthetic >= 4 {
            break;
        }
        let scene = render_scene(seed, &sc);
        let source = &scene.pair.source_pose;
        let layers =
            plate_layers(&scene.pair.source, scene.source_person.clone(), &|| false).unwrap();
        for (side, joints) in [
            ("right", [R_SHOULDER, R_ELBOW, R_WRIST]),
            ("left", [L_SHOULDER, L_ELBOW, L_WRIST]),
        ] {
            if let Ok(c) = check_arm(&layers, source, joints, &cfg) {
                let without = check_arm(&layers, source, joints, &no_hands).unwrap();
                println!(
                    "synthetic {seed} {side} arm turned 50°: old place {:.2}, new place {:.2} \
                     (without the hand's reach {:.2}, {:.2})",
                    c.old_place, c.new_place, without.old_place, without.new_place
                );
                // The hand's reach is what moves it: without it the old place changes at
                // least 0.4 of the contrast less (the plate still takes the hand's soft edge).
                left_behind_before += usize::from(without.old_place < c.old_place - 0.4);
                synthetic += 1;
                checked += 1;
                if c.old_place < 0.4 || c.new_place > 0.5 {
                    failures.push(format!("synthetic {seed} {side}"));
                }
            }
        }
    }
    assert!(checked >= 4, "only {checked} arms could be checked");
    assert!(
        left_behind_before > 0,
        "the check cannot tell: no hand stayed (more) behind without the forearm's reach"
    );
    assert!(failures.is_empty(), "hands left behind: {failures:?}");
}

/// Whether a pixel of a `w`×`h` photo lies within 3 px of one of `points` (a moved foot, whose
/// pixels no longer count as its old place).
fn near(points: impl Iterator<Item = P>, w: u32, h: u32) -> impl Fn(P) -> bool {
    let mut mask = vec![false; (w * h) as usize];
    for q in points {
        for dy in -3i32..=3 {
            for dx in -3i32..=3 {
                let c = (q.0.round() + dx as f32, q.1.round() + dy as f32);
                let inside = c.0 >= 0.0 && c.1 >= 0.0 && c.0 < w as f32 && c.1 < h as f32;
                if inside && dist(c, q) < 3.0 {
                    mask[c.1 as usize * w as usize + c.0 as usize] = true;
                }
            }
        }
    }
    move |p: P| {
        let (x, y) = (p.0.round(), p.1.round());
        x >= 0.0
            && y >= 0.0
            && x < w as f32
            && y < h as f32
            && mask[y as usize * w as usize + x as usize]
    }
}

/// The foot past `ankle` (shin from `knee`): the matte's pixels past the ankle along the shin,
/// within 0.45 torso lengths (`scale`) of it and nearer to it than to the `other` ankle.
fn foot_pixels(layers: &PhotoLayers, knee: P, ankle: P, other: P, scale: f32) -> Vec<P> {
    let (w, h) = layers.photo.dimensions();
    let shin = (ankle.0 - knee.0, ankle.1 - knee.1);
    let r = (0.45 * scale).ceil() as i32;
    (-r..=r)
        .flat_map(|dy| {
            (-r..=r).map(move |dx| (ankle.0.round() + dx as f32, ankle.1.round() + dy as f32))
        })
        .filter(|&p| {
            p.0 >= 0.0
                && p.1 >= 0.0
                && p.0 < w as f32
                && p.1 < h as f32
                && (p.0 - ankle.0) * shin.0 + (p.1 - ankle.1) * shin.1 >= 0.0
                && dist(p, ankle) <= 0.45 * scale
                && dist(p, ankle) < dist(p, other)
                && layers.matte[p.1 as usize * w as usize + p.0 as usize] > 0.5
        })
        .collect()
}

/// Turns the leg `joints` (hip, knee, ankle) 18° outwards about the hip (away from the other
/// ankle) and measures where its foot went. The foot: the matte's pixels past the ankle,
/// within 0.45 torso lengths of it and nearer to it than to the other ankle.
fn check_foot(
    layers: &PhotoLayers,
    source: &Pose,
    joints: [usize; 3],
    other_ankle: usize,
    cfg: &PuppetConfig,
) -> Result<Moved, String> {
    let photo = &layers.photo;
    let (w, h) = photo.dimensions();
    let at = |j: usize| source.get(j).map(|p| (p.x, p.y));
    let (Some(hip), Some(knee), Some(ankle), Some(other), Some(neck)) = (
        at(joints[0]),
        at(joints[1]),
        at(joints[2]),
        at(other_ankle),
        at(NECK),
    ) else {
        return Err("joints missing".into());
    };
    let scale = dist(neck, hip);
    // Feet side by side or crossed cover each other's old place: not measurable this way.
    if dist(ankle, other) < 0.35 * scale {
        return Err("the feet touch".into());
    }
    let inside = |p: P| p.0 >= 0.0 && p.1 >= 0.0 && p.0 < w as f32 && p.1 < h as f32;
    let r = (0.45 * scale).ceil() as i32;
    let foot = foot_pixels(layers, knee, ankle, other, scale);
    if foot.len() < 30 {
        return Err(format!("{} foot pixels", foot.len()));
    }
    // Outwards: the turn that takes the ankle away from the other one.
    let angle = [18f32, -18f32]
        .map(f32::to_radians)
        .into_iter()
        .max_by(|a, b| {
            let d = |t: f32| (rotate(ankle, hip, t).0 - other.0).abs();
            d(*a).total_cmp(&d(*b))
        })
        .unwrap();
    let (knee2, ankle2) = (rotate(knee, hip, angle), rotate(ankle, hip, angle));
    // A foot goes with its ankle and keeps its angle (the body does not turn): on the ground
    // it does not tip with the swinging leg.
    let arrives = |p: P| (p.0 + ankle2.0 - ankle.0, p.1 + ankle2.1 - ankle.1);
    if !foot.iter().all(|&p| inside(arrives(p))) {
        return Err("the turned foot leaves the photo".into());
    }
    let target = turned(source, &joints[1..], hip, angle);
    // Where the turned leg is: its bones' width and the foot's pixels moved.
    let new_foot = near(foot.iter().map(|&p| arrives(p)), w, h);
    let new_leg = |p: P| {
        segment_distance(p, hip, knee2) < 0.2 * scale
            || segment_distance(p, knee2, ankle2) < 0.15 * scale
            || new_foot(p)
    };
    // The surround: the photo's mean colour off the person in a ring around the foot.
    let ring: Vec<[f32; 3]> = (-2 * r..=2 * r)
        .flat_map(|dy| (-2 * r..=2 * r).map(move |dx| (dx, dy)))
        .map(|(dx, dy)| (ankle.0.round() + dx as f32, ankle.1.round() + dy as f32))
        .filter(|&p| inside(p) && (r as f32..2.0 * r as f32).contains(&dist(p, ankle)))
        .filter(|&p| layers.matte[p.1 as usize * w as usize + p.0 as usize] < 0.1)
        .map(|p| rgb(photo, p).unwrap())
        .collect();
    measure(
        layers,
        source,
        &target,
        cfg,
        &foot,
        mean(&ring),
        arrives,
        new_leg,
        "foot",
    )
}

/// Feet go with their shins: each leg of the full-body photos turned 18° outwards about the
/// hip (a jumping jack's spread), the foot arriving with its ankle at its old angle. COCO-18
/// stops at the ankle, and a shoe seen three-quarter on
/// points sideways: the skeleton's guess (down the shin) missed its toe, which stayed on the
/// pavement; the matte's measured foot takes it along. Without the measurement (the guess
/// only) at least one foot must stay more behind, or the check tells nothing.
#[test]
fn feet_go_with_their_shins() {
    let Some(detector) = detector("feet_go_with_their_shins") else {
        return;
    };
    let cfg = PuppetConfig::default();
    let guessed = PuppetConfig {
        extremities: Some(Extremities::default()),
        ..cfg.clone()
    };
    let legs = [
        ("right", [R_HIP, R_KNEE, R_ANKLE], L_ANKLE),
        ("left", [L_HIP, L_KNEE, L_ANKLE], R_ANKLE),
    ];
    let (mut behind_before, mut failures) = (0, Vec::new());
    // How many feet of `layers` were checked.
    let mut judge = |name: &str, layers: &PhotoLayers, source: &Pose| {
        let mut checked = 0;
        for (side, joints, other) in legs {
            match check_foot(layers, source, joints, other, &cfg) {
                Err(why) => println!("{name} {side} leg: not checked ({why})"),
                Ok(c) => {
                    let g = check_foot(layers, source, joints, other, &guessed).unwrap();
                    println!(
                        "{name} {side} leg turned 18°: old place changed {:.2} of the contrast \
                         (≥ 0.40), {:.2} of it left as it was (≤ 0.10), new place {:.2} of the \
                         gap left (≤ 0.50); the skeleton's guess alone {:.2}, {:.2}, {:.2}",
                        c.old_place, c.stayed, c.new_place, g.old_place, g.stayed, g.new_place
                    );
                    checked += 1;
                    behind_before += usize::from(g.stayed > 0.1);
                    if c.old_place < 0.4 || c.stayed > 0.1 || c.new_place > 0.5 {
                        failures.push(format!("{name} {side}"));
                    }
                }
            }
        }
        checked
    };
    let (mut checked, mut real_feet) = (0, 0);
    for (name, photo, source) in photos() {
        let layers = build_layers(&detector, &photo, &source, &|| false).unwrap();
        let n = judge(&name, &layers, &source);
        checked += n;
        // synth_person is drawn: its feet count as synthetic.
        real_feet += if name == "synth_person" { 0 } else { n };
    }
    // Held-out synthetic people, with their true matte: their feet are capsules past the
    // ankle.
    let sc = SynthConfig {
        height: 384,
        width: 288,
    };
    for seed in (1u64 << 40)..(1u64 << 40) + 4 {
        let scene = render_scene(seed, &sc);
        let layers =
            plate_layers(&scene.pair.source, scene.source_person.clone(), &|| false).unwrap();
        checked += judge(
            &format!("synthetic {seed}"),
            &layers,
            &scene.pair.source_pose,
        );
    }
    assert!(checked >= 4, "only {checked} feet could be checked");
    assert!(failures.is_empty(), "feet left behind: {failures:?}");
    // The synthetic people's capsule feet continue the shin as the guess does; the bus man's
    // shoes point sideways (only there can the guess be told from the measurement).
    if real_feet > 0 {
        assert!(
            behind_before > 0,
            "the check cannot tell: no foot stayed (more) behind with the skeleton's guess alone"
        );
    } else {
        println!("no real photo's foot was checked: the control is not asserted");
    }
}

/// The bundled jumping-jack clip retargeted onto the bus photo's man (full body; needs
/// `$MARIONETTE_POSE_FIXTURES`), through the default composite frame by frame: in every frame
/// where an ankle has moved by more than a fifth of the torso length, at most 10 % of its
/// foot's old place (the matte past the ankle, not under the frame's leg or its foot carried
/// along with the shin) is left as it was. The hands are folded on his chest, where they
/// cannot be told from the coat, and are not measured.
#[test]
fn no_foot_is_left_behind_in_a_jumping_jack() {
    let Some(detector) = detector("no_foot_is_left_behind_in_a_jumping_jack") else {
        return;
    };
    let Some((_, photo, source)) = photos().into_iter().find(|(n, _, _)| n == "bus") else {
        println!("SKIPPED no_foot_is_left_behind_in_a_jumping_jack: no bus photo here");
        return;
    };
    use marionette::animate::motion::motion_from_json;
    use marionette::animate::retarget::{retarget, RetargetOptions};
    use marionette::pose::rig::Rig;
    let clip_path = manifest().join("assets/samples/motion/jumping_jack.json");
    let clip = motion_from_json(&std::fs::read_to_string(&clip_path).unwrap(), &clip_path).unwrap();
    let (w, h) = photo.dimensions();
    let person = Rig::from_pose(&source, (w as f32, h as f32));
    let frames = retarget(&clip, &person, &RetargetOptions::default());
    let layers = build_layers(&detector, &photo, &source, &|| false).unwrap();
    let cfg = PuppetConfig {
        textured_fill: false, // as animations render
        ..PuppetConfig::default()
    };
    let at = |pose: &Pose, j: usize| pose.get(j).map(|p| (p.x, p.y)).unwrap();
    let scale = dist(at(&source, NECK), at(&source, R_HIP));
    // Each foot: its pixels (as `check_foot` finds them) and its shin.
    let feet: Vec<(usize, usize, Vec<P>)> =
        [(R_KNEE, R_ANKLE, L_ANKLE), (L_KNEE, L_ANKLE, R_ANKLE)]
            .into_iter()
            .map(|(knee, ankle, other)| {
                let (k, a, o) = (at(&source, knee), at(&source, ankle), at(&source, other));
                (knee, ankle, foot_pixels(&layers, k, a, o, scale))
            })
            .collect();
    let (mut measured, mut worst, mut worst_area) = (0, 0f32, 0f32);
    for (f, rig) in frames.iter().enumerate() {
        let target = rig.to_pose();
        let out = composite_puppet(&layers, &source, &target, &cfg).unwrap();
        // Head and torso keep their shape: the warp's area ratio at their middles (the mean of
        // their joints) stays within 10 % of 1 (the retargeted bones keep the person's lengths).
        let warp = marionette::puppet::puppet_warp(&source, &target, h as usize, w as usize, &cfg);
        for joints in [
            &[NECK, R_SHOULDER, L_SHOULDER, R_HIP, L_HIP][..],
            &[NOSE, R_EYE, L_EYE][..],
        ] {
            let pts: Vec<P> = joints
                .iter()
                .filter_map(|&j| target.get(j))
                .map(|p| (p.x, p.y))
                .collect();
            let n = pts.len() as f32;
            let (cx, cy) = (
                pts.iter().map(|p| p.0).sum::<f32>() / n,
                pts.iter().map(|p| p.1).sum::<f32>() / n,
            );
            let ratio = warp
                .flow
                .area_ratio(cx.round() as usize, cy.round() as usize);
            worst_area = worst_area.max((ratio - 1.0).abs());
            assert!(
                (ratio - 1.0).abs() <= 0.1,
                "frame {f}: the {} changes its area by {:.0} %",
                if joints.len() == 3 { "head" } else { "torso" },
                100.0 * (ratio - 1.0)
            );
        }
        for (knee, ankle, foot) in &feet {
            let (k, a) = (at(&source, *knee), at(&source, *ankle));
            let (Some(k2), Some(a2)) = (target.get(*knee), target.get(*ankle)) else {
                continue;
            };
            let (k2, a2) = ((k2.x, k2.y), (a2.x, a2.y));
            if dist(a, a2) < 0.2 * scale {
                continue;
            }
            // The foot carried rigidly with the shin (knee → ankle) to this frame.
            let turn = (a2.1 - k2.1).atan2(a2.0 - k2.0) - (a.1 - k.1).atan2(a.0 - k.0);
            let s = dist(k2, a2) / dist(k, a).max(1e-3);
            let carry = |p: P| {
                let q = rotate((k.0 + s * (p.0 - k.0), k.1 + s * (p.1 - k.1)), k, turn);
                (q.0 + k2.0 - k.0, q.1 + k2.1 - k.1)
            };
            let carried = near(foot.iter().map(|&p| carry(p)), w, h);
            let covered = |p: P| segment_distance(p, k2, a2) < 0.15 * scale || carried(p);
            let old: Vec<P> = foot.iter().copied().filter(|&p| !covered(p)).collect();
            if old.len() < 20 {
                continue;
            }
            let stayed = old
                .iter()
                .filter(|&&p| gap(rgb(&out.image, p).unwrap(), rgb(&photo, p).unwrap()) < 8.0)
                .count() as f32
                / old.len() as f32;
            measured += 1;
            worst = worst.max(stayed);
            assert!(
                stayed <= 0.1,
                "frame {f}: {:.0} % of the foot at ankle {ankle} stayed where it was",
                100.0 * stayed
            );
        }
    }
    println!(
        "{measured} feet measured over {} frames; at most {:.1} % of an old foot stayed; head \
         and torso area within {:.1} % of the photo's",
        frames.len(),
        100.0 * worst,
        100.0 * worst_area
    );
    assert!(
        measured >= 10,
        "only {measured} feet moved far enough to measure"
    );
}
