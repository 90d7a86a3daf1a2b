use super::*;
use crate::pose::skeleton::*;
use crate::pose::{Joint, NUM_JOINTS};

const H: usize = 256;
const W: usize = 256;

/// A frontal standing figure (the person's right on the image's left).
fn standing() -> Pose {
    let pts: [(usize, f32, f32); NUM_JOINTS] = [
        (NOSE, 128.0, 40.0),
        (NECK, 128.0, 60.0),
        (R_SHOULDER, 108.0, 62.0),
        (R_ELBOW, 100.0, 95.0),
        (R_WRIST, 96.0, 125.0),
        (L_SHOULDER, 148.0, 62.0),
        (L_ELBOW, 156.0, 95.0),
        (L_WRIST, 160.0, 125.0),
        (R_HIP, 115.0, 130.0),
        (R_KNEE, 113.0, 175.0),
        (R_ANKLE, 112.0, 220.0),
        (L_HIP, 141.0, 130.0),
        (L_KNEE, 143.0, 175.0),
        (L_ANKLE, 144.0, 220.0),
        (R_EYE, 123.0, 36.0),
        (L_EYE, 133.0, 36.0),
        (R_EAR, 117.0, 38.0),
        (L_EAR, 139.0, 38.0),
    ];
    let mut p = Pose::missing();
    for (j, x, y) in pts {
        p.set(j, Some(Joint::new(x, y, 1.0)));
    }
    p
}

fn pixels() -> impl Iterator<Item = (usize, usize)> {
    (0..H).flat_map(|y| (0..W).map(move |x| (x, y)))
}

/// Asserts that on figure pixels the flow is the inverse map `inv` (target → source), to 1e-3.
fn assert_rigid(warp: &PuppetWarp, inv: impl Fn(f64, f64) -> (f64, f64)) {
    let mut figure = 0;
    for (x, y) in pixels() {
        if warp.person[y * W + x] <= 0.5 {
            continue;
        }
        figure += 1;
        let (sx, sy) = inv(x as f64, y as f64);
        let (dx, dy) = warp.flow.get(x, y);
        let err =
            ((dx as f64 - (sx - x as f64)).powi(2) + (dy as f64 - (sy - y as f64)).powi(2)).sqrt();
        assert!(
            err < 1e-3,
            "pixel ({x}, {y}): flow ({dx}, {dy}), expected source ({sx}, {sy})"
        );
    }
    assert!(figure > 3000, "only {figure} figure pixels");
}

#[test]
fn identical_poses_give_zero_flow_and_full_mask() {
    let p = standing();
    let warp = puppet_warp(&p, &p, H, W, &PuppetConfig::default());
    assert!(warp.flow.data.iter().all(|&v| v == 0.0));
    assert!(warp.mask.iter().all(|&m| m == 1.0));
    let figure = warp.person.iter().filter(|&&v| v > 0.5).count();
    assert!(figure > 3000 && figure < H * W / 2, "{figure}");
    // Joints are on the figure, the corners are background.
    assert_eq!(warp.person[125 * W + 96], 1.0);
    assert_eq!(warp.person[0], 0.0);
}

#[test]
fn translation_is_reproduced_exactly_on_the_figure() {
    let (tx, ty) = (17.3f32, -9.6f32);
    let src = standing();
    let tgt = src.map_points(|x, y| (x + tx, y + ty));
    let warp = puppet_warp(&src, &tgt, H, W, &PuppetConfig::default());
    assert_rigid(&warp, |x, y| (x - tx as f64, y - ty as f64));
    // Far background keeps the identity.
    assert_eq!(warp.flow.get(2, 2), (0.0, 0.0));
    assert_eq!(warp.flow.get(250, 250), (0.0, 0.0));
    // Where the source figure stood and the target has background, the background is hidden
    // in the source; the moved figure itself is visible.
    let (x, y) = (96usize, 110usize); // source right forearm, left empty by the move
    assert!(warp.person[y * W + x] < 0.5);
    assert_eq!(warp.mask[y * W + x], 0.0);
    let (x, y) = ((128.0 + tx) as usize, (100.0 + ty) as usize); // target chest
    assert_eq!(warp.mask[y * W + x], 1.0);
}

#[test]
fn rotation_about_any_point_is_reproduced_exactly_on_the_figure() {
    let src = standing();
    for (cx, cy, deg) in [
        (90.0f64, 150.0f64, 25.0f64),
        (128.0, 128.0, -40.0),
        (300.0, -20.0, 8.0),
    ] {
        let (s, c) = deg.to_radians().sin_cos();
        let tgt = src.map_points(|x, y| {
            let (x, y) = (x as f64 - cx, y as f64 - cy);
            ((c * x - s * y + cx) as f32, (s * x + c * y + cy) as f32)
        });
        let warp = puppet_warp(&src, &tgt, H, W, &PuppetConfig::default());
        // Inverse: rotate back by −θ about the same centre.
        assert_rigid(&warp, |x, y| {
            let (x, y) = (x - cx, y - cy);
            (c * x + s * y + cx, -s * x + c * y + cy)
        });
    }
}

#[test]
fn missing_joints_do_not_panic() {
    let cfg = PuppetConfig::default();
    let none = Pose::missing();
    let full = standing();
    for (a, b) in [(&none, &none), (&full, &none), (&none, &full)] {
        let warp = puppet_warp(a, b, H, W, &cfg);
        assert!(warp.flow.data.iter().all(|&v| v == 0.0));
        assert!(warp.mask.iter().all(|&m| m == 1.0));
        assert!(warp.person.iter().all(|&m| m == 0.0));
    }
    // Two joints that make no part: identity.
    let mut two = Pose::missing();
    two.set(R_WRIST, full.get(R_WRIST));
    two.set(L_ANKLE, full.get(L_ANKLE));
    let moved = two.map_points(|x, y| (x + 5.0, y));
    let warp = puppet_warp(&two, &moved, H, W, &cfg);
    assert!(warp.flow.data.iter().all(|&v| v == 0.0));
    assert!(warp.mask.iter().all(|&m| m == 1.0));
    // Two joints that do (neck + shoulder: a torso of two points), one joint (the nose alone: a
    // head), and poses with different joints missing: finite flows, masks in {0, 1}.
    let mut neck_sho = Pose::missing();
    neck_sho.set(NECK, full.get(NECK));
    neck_sho.set(R_SHOULDER, full.get(R_SHOULDER));
    let mut nose = Pose::missing();
    nose.set(NOSE, full.get(NOSE));
    let mut partial = full.clone();
    partial.set(L_ELBOW, None);
    partial.set(R_HIP, None);
    partial.set(NOSE, None);
    let bent = full.map_points(|x, y| (x * 1.1 - 5.0, y * 0.9 + 3.0));
    for (a, b) in [
        (
            neck_sho.clone(),
            neck_sho.map_points(|x, y| (x + 3.0, y - 2.0)),
        ),
        (nose.clone(), nose.map_points(|x, y| (x + 4.0, y + 1.0))),
        (partial.clone(), bent.clone()),
        (bent, partial),
    ] {
        let warp = puppet_warp(&a, &b, H, W, &cfg);
        assert!(warp.flow.data.iter().all(|v| v.is_finite()));
        assert!(warp.mask.iter().all(|&m| m == 0.0 || m == 1.0));
        assert!(warp.person.iter().any(|&m| m > 0.5));
    }
    // Degenerate: every joint at the same point.
    let collapsed = full.map_points(|_, _| (50.0, 50.0));
    let warp = puppet_warp(&collapsed, &full, H, W, &cfg);
    assert!(warp.flow.data.iter().all(|v| v.is_finite()));
    let warp = puppet_warp(&full, &collapsed, H, W, &cfg);
    assert!(warp.flow.data.iter().all(|v| v.is_finite()));
}

#[test]
fn bent_elbow_moves_the_forearm_not_the_legs() {
    let src = standing();
    let mut tgt = src.clone();
    // Swing the right forearm 70° about the elbow (the wrist goes out to the image's left).
    let (e, w) = (src.get(R_ELBOW).unwrap(), src.get(R_WRIST).unwrap());
    let (s, c) = (-70f32).to_radians().sin_cos();
    let (vx, vy) = (w.x - e.x, w.y - e.y);
    tgt.set(
        R_WRIST,
        Some(Joint::new(
            e.x + c * vx + s * vy,
            e.y - s * vx + c * vy,
            1.0,
        )),
    );
    let warp = puppet_warp(&src, &tgt, H, W, &PuppetConfig::default());
    // Forearm pixel near the target wrist: maps back near the source wrist.
    let t = tgt.get(R_WRIST).unwrap();
    let (mx, my) = ((e.x + 3.0 * t.x) / 4.0, (e.y + 3.0 * t.y) / 4.0);
    let (dx, dy) = warp.flow.get(mx.round() as usize, my.round() as usize);
    let (sx, sy) = (mx.round() + dx, my.round() + dy);
    let (ex, ey) = ((e.x + 3.0 * w.x) / 4.0, (e.y + 3.0 * w.y) / 4.0);
    assert!(
        (sx - ex).hypot(sy - ey) < 2.0,
        "({sx}, {sy}) vs ({ex}, {ey})"
    );
    assert!(dx.hypot(dy) > 10.0);
    // Legs, the other arm and the head do not move.
    for j in [R_KNEE, L_KNEE, R_ANKLE, L_HIP, L_WRIST, L_ELBOW, NOSE] {
        let p = src.get(j).unwrap();
        for (ox, oy) in [(0i32, 0i32), (4, 0), (-4, 0), (0, 5)] {
            let (x, y) = ((p.x as i32 + ox) as usize, (p.y as i32 + oy) as usize);
            assert_eq!(warp.flow.get(x, y), (0.0, 0.0), "joint {j} at ({x}, {y})");
        }
    }
    for y in 150..H {
        for x in 0..W {
            assert_eq!(warp.flow.get(x, y), (0.0, 0.0));
        }
    }
}

#[test]
fn torso_uncovered_by_the_arm_is_hidden_in_the_source() {
    // Source: the right forearm lies across the chest (front-facing: arms in front). Target:
    // the arm hangs at the side, uncovering the chest.
    let tgt = standing();
    let mut src = tgt.clone();
    src.set(R_WRIST, Some(Joint::new(135.0, 100.0, 1.0)));
    let warp = puppet_warp(&src, &tgt, H, W, &PuppetConfig::default());
    // Chest point under the source forearm: torso in the target, hidden in the source.
    let (x, y) = (125usize, 99usize);
    assert_eq!(warp.person[y * W + x], 1.0);
    assert_eq!(warp.flow.get(x, y), (0.0, 0.0));
    assert_eq!(warp.mask[y * W + x], 0.0);
    // The target forearm itself (now beside the torso) is visible in the source.
    let (x, y) = (97usize, 115usize);
    assert_eq!(warp.mask[y * W + x], 1.0);
    // The lower belly and the legs are visible.
    assert_eq!(warp.mask[125 * W + 128], 1.0);
    assert_eq!(warp.mask[190 * W + 113], 1.0);
}

#[test]
fn render_follows_the_flow_and_is_fast() {
    let src = standing();
    let tgt = src.map_points(|x, y| (x + 10.0, y));
    let cfg = PuppetConfig::default();
    let t0 = std::time::Instant::now();
    let warp = puppet_warp(&src, &tgt, H, W, &cfg);
    let took = t0.elapsed();
    eprintln!("puppet_warp 256×256: {took:?}");
    assert!(took.as_secs_f64() < 2.0, "{took:?}");
    let img =
        image::RgbImage::from_fn(W as u32, H as u32, |x, y| image::Rgb([x as u8, y as u8, 9]));
    let out = puppet_render(&img, &warp);
    // Figure pixel at the target chest shows the source chest (10 px to the left).
    assert_eq!(out.get_pixel(138, 100), img.get_pixel(128, 100));
    assert_eq!(out.get_pixel(3, 3), img.get_pixel(3, 3));
    let same = puppet_render(&img, &puppet_warp(&src, &src, H, W, &cfg));
    assert_eq!(same, img);
}

/// Every limb's twin is the same bone of the other side, and twins are mutual; the torso and
/// head have none.
#[test]
fn mirror_twins_pair_the_same_bone_of_both_sides() {
    let p = standing();
    let rig = parts::build(&p, &p, H, W, &PuppetConfig::default());
    let twins = parts::mirror_twins(&rig.parts);
    let mut paired = 0;
    for (i, part) in rig.parts.iter().enumerate() {
        match twins[i] {
            Some(t) => {
                assert_eq!(twins[t], Some(i));
                let mut want: Vec<usize> = part.joints.iter().map(|&j| mirror_index(j)).collect();
                let mut got = rig.parts[t].joints.clone();
                want.sort_unstable();
                got.sort_unstable();
                assert_eq!(want, got);
                paired += 1;
            }
            None => assert!(
                part.joints.contains(&NECK) || part.joints.contains(&NOSE),
                "limb {:?} has no twin",
                part.joints
            ),
        }
    }
    assert_eq!(paired, 10, "4 arm and 4 leg bones, 2 feet");
}

/// `pose` with joint `j` turned `deg` degrees (clockwise on screen) about joint `about`.
fn swung(pose: &Pose, about: usize, j: usize, deg: f32) -> Pose {
    let (o, p) = (pose.get(about).unwrap(), pose.get(j).unwrap());
    let (s, c) = deg.to_radians().sin_cos();
    let (vx, vy) = (p.x - o.x, p.y - o.y);
    let mut out = pose.clone();
    out.set(
        j,
        Some(Joint::new(
            o.x + c * vx - s * vy,
            o.y + s * vx + c * vy,
            1.0,
        )),
    );
    out
}

/// The standing figure with the right forearm swung `deg` degrees about the elbow.
fn forearm_swung(deg: f32) -> (Pose, Pose) {
    let src = standing();
    let tgt = swung(&src, R_ELBOW, R_WRIST, deg);
    (src, tgt)
}

#[test]
fn the_hand_beyond_the_wrist_moves_with_the_forearm() {
    // COCO-18 ends at the wrist; the hand (here 0.4 forearm lengths past it) must follow.
    let (src, tgt) = forearm_swung(70.0);
    let cfg = PuppetConfig::default();
    let warp = puppet_warp(&src, &tgt, H, W, &cfg);
    let (e, ws, wt) = (
        src.get(R_ELBOW).unwrap(),
        src.get(R_WRIST).unwrap(),
        tgt.get(R_WRIST).unwrap(),
    );
    let beyond = |w: &Joint| (w.x + 0.4 * (w.x - e.x), w.y + 0.4 * (w.y - e.y));
    let (hs, ht) = (beyond(&ws), beyond(&wt));
    let (x, y) = (ht.0.round() as usize, ht.1.round() as usize);
    assert!(warp.person[y * W + x] > 0.99, "the new hand is figure");
    let (dx, dy) = warp.flow.get(x, y);
    let (sx, sy) = (x as f32 + dx, y as f32 + dy);
    assert!(
        (sx - hs.0).hypot(sy - hs.1) < 1.5,
        "the new hand samples ({sx}, {sy}), the old hand is at {hs:?}"
    );
    // The old hand's place is not owned any more: it does not stay behind.
    let own = ownership(&src, &tgt, &warp, &cfg, None);
    let (x, y) = (hs.0.round() as usize, hs.1.round() as usize);
    assert!(own[y * W + x] < 0.1, "old hand owned {}", own[y * W + x]);
    // Without the extension the hand is left behind (what this guards against).
    let short = PuppetConfig {
        hand_extension: 0.0,
        ..cfg.clone()
    };
    let warp = puppet_warp(&src, &tgt, H, W, &short);
    let own = ownership(&src, &tgt, &warp, &short, None);
    assert!(own[y * W + x] > 0.9, "the check cannot tell");
}

#[test]
fn a_foot_seen_from_the_side_points_where_the_face_does_and_keeps_its_angle() {
    // Profile to the image's right: the nose well right of the neck.
    let mut src = standing();
    src.set(NOSE, Some(Joint::new(150.0, 42.0, 1.0)));
    // Swing the right shin 30° about the knee, backwards (away from the other leg).
    let tgt = swung(&src, R_KNEE, R_ANKLE, 30.0);
    let cfg = PuppetConfig::default();
    let rig = parts::build(&src, &tgt, H, W, &cfg);
    let foot = rig
        .parts
        .iter()
        .find(|p| p.joints == vec![R_ANKLE])
        .expect("a right foot part");
    // In the source the toes are right of the ankle (where the face looks).
    let geometry::Shape::Segment(ankle, toe) = foot.shape_s else {
        panic!("a segment")
    };
    assert!(toe[0] - ankle[0] > 0.8 * (toe[1] - ankle[1]).abs());
    // In the target the foot has gone with the ankle at its old angle (a foot on the ground
    // does not tip with the swinging shin), and its map takes its toe back to the source's.
    let geometry::Shape::Segment(ankle_t, toe_t) = foot.shape_t else {
        panic!("a segment")
    };
    let a = tgt.get(R_ANKLE).unwrap();
    assert!((ankle_t[0] - a.x as f64).abs() < 1e-6 && (ankle_t[1] - a.y as f64).abs() < 1e-6);
    for i in 0..2 {
        assert!(((toe_t[i] - ankle_t[i]) - (toe[i] - ankle[i])).abs() < 1e-6);
        assert!((foot.xf.apply(toe_t)[i] - toe[i]).abs() < 1e-6);
    }
    // The shoe the shin's part labels in the source is owned at its new place: the foot's map
    // puts it there, not the shin's (which would sample beside it).
    let warp = puppet_warp(&src, &tgt, H, W, &cfg);
    let mid = [0.5 * (ankle_t[0] + toe_t[0]), 0.5 * (ankle_t[1] + toe_t[1])];
    let (x, y) = (mid[0].round() as usize, mid[1].round() as usize);
    // The photo: the right shin and its shoe, one colour; the fronts grow from the shin's
    // bone (a foot does not seed) and label the shoe with it.
    let dist = |p: [f64; 2], a: [f64; 2], b: [f64; 2]| {
        let (d, e) = ([p[0] - a[0], p[1] - a[1]], [b[0] - a[0], b[1] - a[1]]);
        let t = ((d[0] * e[0] + d[1] * e[1]) / (e[0] * e[0] + e[1] * e[1])).clamp(0.0, 1.0);
        (d[0] - t * e[0]).hypot(d[1] - t * e[1])
    };
    let knee = src.get(R_KNEE).unwrap();
    let knee = [knee.x as f64, knee.y as f64];
    let matte: Vec<f32> = pixels()
        .map(|(x, y)| {
            let p = [x as f64, y as f64];
            (dist(p, knee, ankle) < 6.0 || dist(p, ankle, toe) < 5.0) as u8 as f32
        })
        .collect();
    let photo = image::RgbImage::from_pixel(W as u32, H as u32, image::Rgb([90, 90, 90]));
    let labels = part_labels(&src, &photo, &matte, &cfg);
    let shin = rig
        .parts
        .iter()
        .position(|p| p.joints == vec![R_KNEE, R_ANKLE])
        .unwrap();
    let q = [toe[0] - 3.0, toe[1]];
    assert_eq!(labels.owner(q, &labels.in_rig(&rig)), Some(shin));
    let own = ownership(&src, &tgt, &warp, &cfg, Some(&labels));
    assert!(own[y * W + x] > 0.9, "the shoe owned {}", own[y * W + x]);
}

#[test]
fn the_torso_keeps_its_area_when_its_joints_squeeze() {
    // Target shoulders and hips pulled 40 % towards the middle: an affine fit would shrink
    // the torso's width by that; it stays within 10 % of its joints' similarity in area.
    let src = standing();
    let tgt = src.map_points(|x, y| (128.0 + 0.6 * (x - 128.0), y));
    let cfg = PuppetConfig::default();
    let warp = puppet_warp(&src, &tgt, H, W, &cfg);
    let js = [NECK, R_SHOULDER, L_SHOULDER, R_HIP, L_HIP];
    let pts = |p: &Pose| -> Vec<[f64; 2]> {
        js.iter()
            .map(|&j| [p.get(j).unwrap().x as f64, p.get(j).unwrap().y as f64])
            .collect()
    };
    let sim = geometry::similarity_linear(&pts(&tgt), &pts(&src)).unwrap();
    let want = sim[0][0] * sim[1][1] - sim[0][1] * sim[1][0];
    let got = warp.flow.area_ratio(128, 100) as f64;
    assert!(
        got <= 1.12 * want && got >= want / 1.12,
        "torso area ratio {got}, its similarity's {want}"
    );
    let free = PuppetConfig {
        max_area_change: f64::INFINITY,
        ..cfg
    };
    let warp = puppet_warp(&src, &tgt, H, W, &free);
    assert!(
        warp.flow.area_ratio(128, 100) as f64 > 1.2 * want,
        "the check cannot tell"
    );
}

/// Squeezed across (a torso seen from the front in the source and turning towards profile in
/// the target), the torso keeps its length along the spine: the area bound is met by the
/// squeezed axis, not by shrinking the whole torso (which sampled the chest in the belly).
#[test]
fn a_torso_squeezed_across_keeps_its_length() {
    let src = standing();
    let tgt = src.map_points(|x, y| (128.0 + 0.6 * (x - 128.0), y));
    let warp = puppet_warp(&src, &tgt, H, W, &PuppetConfig::default());
    // On the spine, between the shoulders and the hips: the map is the identity there.
    for y in [68, 80, 110, 122] {
        let (dx, dy) = warp.flow.get(128, y);
        assert!(
            dx.abs() < 1.0 && dy.abs() < 1.0,
            "spine at y = {y} samples ({dx}, {dy}) away"
        );
    }
    // Across, at most 10 % past the joints' similarity (scale 1.05 here): 8 px off the spine (inside the squeezed
    // waist, clear of the arm) it samples the source's chest beside the spine.
    let (dx, _) = warp.flow.get(136, 110);
    assert!(
        dx > -0.1 && dx < 1.5,
        "chest 8 px off the spine samples {dx} px farther out"
    );
}

/// The right forearm brought across the chest: in front of the torso by default (the figure
/// faces the camera), behind it when the user says so — then the chest shows through where
/// the forearm passes, and the forearm's pixels there are not drawn.
#[test]
fn an_arm_across_the_torso_is_in_front_unless_put_behind() {
    let src = standing();
    let mut tgt = src.clone();
    // Elbow in by the ribs, forearm level across the chest to the left side, the hand past
    // the torso's edge (upper arm 38 px as against 34 in the source, forearm 38 against 30).
    tgt.set(R_ELBOW, Some(Joint::new(112.0, 100.0, 1.0)));
    tgt.set(R_WRIST, Some(Joint::new(150.0, 100.0, 1.0)));
    let (x, y) = (131usize, 100usize); // halfway along the target forearm, over the sternum
                                       // Where that point of the forearm was in the photo: halfway along the source forearm.
    let (e, w) = (src.get(R_ELBOW).unwrap(), src.get(R_WRIST).unwrap());
    let forearm_s = ((e.x + w.x) / 2.0, (e.y + w.y) / 2.0);

    let auto = puppet_warp(&src, &tgt, H, W, &PuppetConfig::default());
    let (dx, dy) = auto.flow.get(x, y);
    let (sx, sy) = (x as f32 + dx, y as f32 + dy);
    assert!(
        (sx - forearm_s.0).hypot(sy - forearm_s.1) < 3.0,
        "auto: samples ({sx}, {sy}), the source forearm is at {forearm_s:?}"
    );
    assert_eq!(auto.mask[y * W + x], 1.0);

    let mut cfg = PuppetConfig::default();
    cfg.order.set(Limb::RightArm, Some(Layer::Behind));
    let behind = puppet_warp(&src, &tgt, H, W, &cfg);
    let (bx, by) = behind.flow.get(x, y);
    // The chest stays where it is (only the forearm's soft tail moves it a little).
    assert!(
        bx.hypot(by) < 0.1 * dx.hypot(dy),
        "behind: flow ({bx}, {by}) vs the forearm's ({dx}, {dy})"
    );
    assert_eq!(behind.mask[y * W + x], 1.0);
    assert_eq!(behind.person[y * W + x], 1.0);
    // Behind the body is behind the left upper arm too (it hangs in front of the torso)...
    let (lx, ly) = (157usize, 100usize);
    let (fx, fy) = behind.flow.get(lx, ly);
    assert!(fx.hypot(fy) < 1.0, "left upper arm: flow ({fx}, {fy})");
    assert!(auto.flow.get(lx, ly).0 < -20.0);
    // ...but past the body the hand is the arm's, either way.
    let (hx, hy) = (170usize, 100usize);
    for warp in [&auto, &behind] {
        let (fx, _) = warp.flow.get(hx, hy);
        assert!(fx < -30.0, "the hand at ({hx}, {hy}) has flow {fx}");
    }
    // The left arm (not overridden) and the legs are untouched by the toggle.
    for (x, y) in [(158usize, 110usize), (113, 190)] {
        assert_eq!(auto.flow.get(x, y), behind.flow.get(x, y));
    }
    // In the rendered photo: a red forearm on a grey chest shows red, then grey.
    let img = image::RgbImage::from_fn(W as u32, H as u32, |px, py| {
        let d = (px as f32 - forearm_s.0).hypot(py as f32 - forearm_s.1);
        image::Rgb(if d < 6.0 {
            [220, 30, 30]
        } else {
            [128, 128, 128]
        })
    });
    assert_eq!(
        puppet_render(&img, &auto).get_pixel(x as u32, y as u32)[0],
        220
    );
    assert_eq!(
        puppet_render(&img, &behind).get_pixel(x as u32, y as u32)[0],
        128
    );
}

#[test]
fn a_figure_turned_round_keeps_its_torso_and_shows_the_back_of_its_head() {
    // Mirrored about the body's axis, joint names kept: the person's right shoulder is now on
    // the image's right, so the target shows their back (no nose, no eyes).
    let src = standing();
    let mut tgt = src.map_points(|x, y| (256.0 - x, y));
    for j in [NOSE, R_EYE, L_EYE] {
        tgt.set(j, None);
    }
    let cfg = PuppetConfig::default();
    let warp = puppet_warp(&src, &tgt, H, W, &cfg);
    assert!(warp.turned);
    let own = ownership(&src, &tgt, &warp, &cfg, None);
    // The chest, off the axis: its map mirrors (a fold by the area test alone), and the torso
    // it samples is the same garment: owned.
    let (x, y) = (138, 100);
    assert!(warp.flow.area_ratio(x, y) < -0.3, "the map does not mirror");
    assert!(
        own[y * W + x] > 0.9,
        "turned chest owned {}",
        own[y * W + x]
    );
    // It samples its mirror image across the axis, at full width (the fit pulled towards a
    // rotation mirrored at half the width).
    assert!(warp.flow.area_ratio(x, y) < -0.9, "the mirror is squeezed");
    let (dx, _) = warp.flow.get(x, y);
    let sx = x as f32 + dx;
    assert!((sx - 118.0).abs() < 1.5, "the chest samples x = {sx}");
    // The face does not come round onto the back of the head: the back of the head samples
    // the crown (the skull's centre at y = 37, the eyes at 36, the crown 10 px above), the
    // same hair, owned.
    for (x, y) in [(124, 36), (133, 40), (128, 30)] {
        let (dx, dy) = warp.flow.get(x, y);
        let sy = y as f32 + dy;
        assert!(
            sy < 29.0,
            "({x}, {y}) samples the face at y = {sy} (dx {dx})"
        );
        assert!(
            own[y * W + x] > 0.9,
            "back of the head owned {}",
            own[y * W + x]
        );
    }
    // Past the skull (radius 11 px, hair reaching 13 px), above it: not the figure's.
    for y in [18, 21] {
        assert!(own[y * W + 128] < 0.1, "the crown stretched up to y = {y}");
    }
    // The other way round (the back in the source, the face in the target), there is no face
    // to show: the head is not owned (hidden person, filled), never hair painted over a face.
    let warp = puppet_warp(&tgt, &src, H, W, &cfg);
    let own = ownership(&tgt, &src, &warp, &cfg, None);
    for (x, y) in [(124, 36), (128, 40)] {
        assert!(own[y * W + x] < 0.1, "a face owned {}", own[y * W + x]);
    }
}

/// `standing()` with its face turned by `deg` to the side: the face keypoints slide across the
/// head (centre (128, 37), half-width 0.16 × its scale of 70 px) and those facing away go out of
/// sight, as `head`'s model has them.
fn face_turned(deg: f32) -> Pose {
    let mut pose = standing();
    let (r, yaw) = (0.16 * 70.0, deg.to_radians());
    for (j, phi, least) in [
        (NOSE, 0.0f32, -0.2f32),
        (R_EYE, -0.43, 0.1),
        (L_EYE, 0.43, 0.1),
        (R_EAR, -std::f32::consts::FRAC_PI_2, -0.35),
        (L_EAR, std::f32::consts::FRAC_PI_2, -0.35),
    ] {
        let p = pose.get(j).unwrap();
        let seen = (phi - yaw).cos() > least;
        pose.set(
            j,
            seen.then(|| Joint::new(128.0 + r * (phi - yaw).sin(), p.y, 1.0)),
        );
    }
    pose
}

/// A face turned to the side on an unmoved body (35°: the keypoints slide, the far ear goes
/// out of sight; 70°: a profile's nose, eye and ear against a frontal face's five), either
/// way round: the skull stays on the neck, upright. The keypoints' fit alone carried the head
/// 5 px after the nose at 35° and tipped it at 70°.
#[test]
fn a_face_turning_leaves_the_skull_on_the_neck() {
    for deg in [35.0, 70.0] {
        let turned = face_turned(deg);
        let nose = turned.get(NOSE).unwrap().x;
        assert!(nose < 122.0, "the nose slid across: {nose}");
        for (source, target) in [(standing(), turned.clone()), (turned, standing())] {
            let warp = puppet_warp(&source, &target, H, W, &PuppetConfig::default());
            // The skull's middle, its sides and its top sample the same place in the source.
            for (x, y) in [(128, 37), (122, 37), (134, 37), (128, 30)] {
                let (dx, dy) = warp.flow.get(x, y);
                assert!(
                    dx.abs() < 1.5 && dy.abs() < 1.5,
                    "{deg}°: ({x}, {y}) samples {dx}, {dy} away"
                );
            }
        }
    }
}

/// The whole figure turned from the camera to profile (its face to 80°, its shoulders and hips
/// narrowed to 30 %): its feet turn with it, from pointing at the camera (short, down from the
/// ankles) to pointing where the face looks (long, across). The face turned alone, the body
/// square to the camera, leaves them.
#[test]
fn feet_turn_with_a_body_turned_to_profile_not_with_a_face() {
    let src = standing();
    let face = face_turned(80.0);
    let narrowed = face.map_points(|x, y| (128.0 + 0.3 * (x - 128.0), y));
    let mut profile = face.clone();
    for j in [
        R_SHOULDER, R_ELBOW, R_WRIST, L_SHOULDER, L_ELBOW, L_WRIST, R_HIP, R_KNEE, R_ANKLE, L_HIP,
        L_KNEE, L_ANKLE,
    ] {
        profile.set(j, narrowed.get(j));
    }
    assert!(
        face.get(NOSE).unwrap().x < 120.0,
        "the face looks image-left"
    );
    let cfg = PuppetConfig::default();
    let person = |warp: &PuppetWarp, (x, y): (usize, usize)| warp.person[y * W + x];
    // Right ankle at (123.2, 220): 20 px to its left, on the turned foot (and the left foot's
    // toe), sampling the source's feet below their ankles at (112 | 144, 220), not a shin.
    let warp = puppet_warp(&src, &profile, H, W, &cfg);
    let p = (103, 222);
    assert!(person(&warp, p) > 0.5, "turned foot {}", person(&warp, p));
    let (dx, dy) = warp.flow.get(p.0, p.1);
    let q = (p.0 as f32 + dx, p.1 as f32 + dy);
    assert!(
        q.0 > 108.0 && q.0 < 148.0 && q.1 > 224.0 && q.1 < 238.0,
        "the turned foot samples {q:?}"
    );
    // The face turned alone: the foot still points down from the ankle at (112, 220).
    let warp = puppet_warp(&src, &face, H, W, &cfg);
    assert!(person(&warp, (112, 229)) > 0.5);
    assert!(
        person(&warp, (97, 222)) < 0.5,
        "a foot turned with the face"
    );
}
