use super::figure::part;
use super::geometry::build;
use super::render::{rasterize, SS};
use super::*;
use crate::imaging::warp_image;

const SMALL: SynthConfig = SynthConfig {
    height: 128,
    width: 96,
};
const LARGE: SynthConfig = SynthConfig {
    height: 256,
    width: 256,
};

/// Mean |warp(source, flow) − target| over eroded visible person pixels (all 3×3 neighbours
/// visible, on the same part in the target, and the source neighbourhood on that part too),
/// in 0..255 units, with the number of such pixels.
fn warp_error(
    person: &Person,
    a: &Articulation,
    b: &Articulation,
    cfg: &SynthConfig,
) -> (f64, usize) {
    let pair = render_pair_with(person, a, b, cfg);
    let (w, h) = (cfg.width, cfg.height);
    let tgt = build(person, b, cfg);
    let src = build(person, a, cfg);
    let tr = rasterize(&tgt, w, h);
    let sr = rasterize(&src, w, h);
    let warped = warp_image(&pair.source, &pair.flow);
    let (mut sum, mut n) = (0f64, 0usize);
    for y in 1..h - 1 {
        for x in 1..w - 1 {
            let id = tr.ids[tr.centre(x, y)];
            if id == u8::MAX {
                continue;
            }
            let mut ok = true;
            'nb: for dy in -1i64..=1 {
                for dx in -1i64..=1 {
                    let (xx, yy) = ((x as i64 + dx) as usize, (y as i64 + dy) as usize);
                    // Every subsample of the neighbour is on the same part and visible.
                    for j in 0..SS {
                        for i in 0..SS {
                            let g = (yy * SS + j) * w * SS + xx * SS + i;
                            if tr.ids[g] != id {
                                ok = false;
                                break 'nb;
                            }
                        }
                    }
                    if pair.visibility[yy * w + xx] < 1.0 {
                        ok = false;
                        break 'nb;
                    }
                }
            }
            if !ok {
                continue;
            }
            // The source footprint (pixels around the flow target) must be the same part.
            let (dx, dy) = pair.flow.get(x, y);
            let (sx, sy) = (x as f32 + dx, y as f32 + dy);
            for (ox, oy) in [(-1.0, -1.0), (1.0, -1.0), (-1.0, 1.0), (1.0, 1.0)] {
                let (px, py) = ((sx + ox).round(), (sy + oy).round());
                if px < 0.0 || py < 0.0 || px >= w as f32 || py >= h as f32 {
                    ok = false;
                    break;
                }
                let sid = sr.ids[sr.centre(px as usize, py as usize)];
                if sid != id {
                    ok = false;
                    break;
                }
            }
            if !ok {
                continue;
            }
            let (p, q) = (
                warped.get_pixel(x as u32, y as u32),
                pair.target.get_pixel(x as u32, y as u32),
            );
            for c in 0..3 {
                sum += (p[c] as f64 - q[c] as f64).abs();
            }
            n += 1;
        }
    }
    (sum / (3 * n.max(1)) as f64, n)
}

fn person_and_poses(seed: u64, cfg: &SynthConfig) -> (Person, Articulation, Articulation) {
    let mut rng = SplitMix64::new(seed);
    let person = Person::sample(&mut rng, cfg);
    let a = Articulation::sample(&mut rng, cfg);
    let b = if seed.is_multiple_of(2) {
        a.perturbed(&mut rng)
    } else {
        a.sample_related(&mut rng, cfg)
    };
    (person, a, b)
}

#[test]
fn warping_the_source_by_the_flow_reproduces_the_visible_target() {
    for cfg in [SMALL, LARGE] {
        let mut errs = Vec::new();
        let mut total = (0f64, 0usize);
        for seed in 0..12u64 {
            let (person, a, b) = person_and_poses(seed, &cfg);
            let (e, n) = warp_error(&person, &a, &b, &cfg);
            if n > 0 {
                errs.push(e);
                total.0 += e * n as f64;
                total.1 += n;
            }
        }
        let mean = total.0 / total.1 as f64;
        let worst = errs.iter().cloned().fold(0.0, f64::max);
        println!(
            "warp consistency {}x{}: mean abs error {mean:.2}/255 over {} px, worst pair {worst:.2}",
            cfg.height, cfg.width, total.1
        );
        assert!(total.1 > 500, "too few checked pixels: {}", total.1);
        assert!(mean < 6.0, "mean warp error {mean}");
        assert!(worst < 15.0, "worst pair warp error {worst}");
    }
}

#[test]
fn a_wrong_flow_is_detected_by_the_warp_check() {
    // The consistency measure must be able to fail: shifting the target pose by a few pixels
    // while keeping the flow of the unshifted one gives large errors on textured people.
    let cfg = SMALL;
    let (person, a, b) = person_and_poses(3, &cfg);
    let good = render_pair_with(&person, &a, &b, &cfg);
    let mut b2 = b.clone();
    b2.center.0 += 3.0 / cfg.width as f32;
    let moved = render_pair_with(&person, &a, &b2, &cfg);
    let warped = warp_image(&good.source, &good.flow);
    let diff = |img: &image::RgbImage| -> f64 {
        let mut s = 0f64;
        for (p, q) in warped.pixels().zip(img.pixels()) {
            for c in 0..3 {
                s += (p[c] as f64 - q[c] as f64).abs();
            }
        }
        s
    };
    assert!(diff(&moved.target) > 1.5 * diff(&good.target));
}

#[test]
fn identical_poses_give_zero_flow_and_full_visibility() {
    for seed in [1u64, 2, 3, 4, 5] {
        for cfg in [SMALL, LARGE] {
            let mut rng = SplitMix64::new(seed);
            let person = Person::sample(&mut rng, &cfg);
            let a = Articulation::sample(&mut rng, &cfg);
            let p = render_pair_with(&person, &a, &a, &cfg);
            assert_eq!(p.source, p.target);
            assert_eq!(p.source_pose, p.target_pose);
            assert!(
                p.flow.data.iter().all(|&v| v == 0.0),
                "seed {seed}: non-zero flow"
            );
            assert!(p.visibility.iter().all(|&v| v == 1.0), "seed {seed}");
            assert!(p.person.iter().any(|&v| v > 0.0));
        }
    }
}

#[test]
fn same_seed_same_pair_different_seed_different_pair() {
    let a = render_pair(42, &SMALL);
    let b = render_pair(42, &SMALL);
    assert_eq!(a.source, b.source);
    assert_eq!(a.target, b.target);
    assert_eq!(a.flow, b.flow);
    assert_eq!(a.visibility, b.visibility);
    assert_eq!(a.source_pose, b.source_pose);
    let c = render_pair(43, &SMALL);
    assert_ne!(a.source, c.source);
    assert_ne!(a.target, c.target);
}

#[test]
fn sizes_and_ranges_are_right() {
    for cfg in [
        SMALL,
        LARGE,
        SynthConfig {
            height: 32,
            width: 40,
        },
    ] {
        let p = render_pair(7, &cfg);
        assert_eq!(p.source.dimensions(), (cfg.width as u32, cfg.height as u32));
        assert_eq!(p.target.dimensions(), (cfg.width as u32, cfg.height as u32));
        assert_eq!((p.flow.height, p.flow.width), (cfg.height, cfg.width));
        assert_eq!(p.visibility.len(), cfg.height * cfg.width);
        assert_eq!(p.person.len(), cfg.height * cfg.width);
        assert!(p.person.iter().all(|&v| (0.0..=1.0).contains(&v)));
        assert!(p.visibility.iter().all(|&v| v == 0.0 || v == 1.0));
        assert!(p.flow.data.iter().all(|v| v.is_finite()));
        // Background pixels (no person in the target) have zero flow.
        for y in 0..cfg.height {
            for x in 0..cfg.width {
                if p.person[y * cfg.width + x] == 0.0 {
                    assert_eq!(p.flow.get(x, y), (0.0, 0.0));
                }
            }
        }
    }
}

#[test]
fn joints_are_inside_and_match_render_single() {
    for seed in 0..30u64 {
        for cfg in [SMALL, LARGE] {
            let p = render_pair(seed, &cfg);
            for pose in [&p.source_pose, &p.target_pose] {
                assert!(
                    pose.num_present() >= 8,
                    "seed {seed}: {} joints",
                    pose.num_present()
                );
                for (_, j) in pose.present() {
                    assert!(j.x >= 0.0 && j.y >= 0.0);
                    assert!(j.x <= (cfg.width - 1) as f32 && j.y <= (cfg.height - 1) as f32);
                }
            }
        }
        let mut rng = SplitMix64::new(seed);
        let person = Person::sample(&mut rng, &SMALL);
        let a = Articulation::sample(&mut rng, &SMALL);
        let b = Articulation::sample(&mut rng, &SMALL);
        let pair = render_pair_with(&person, &a, &b, &SMALL);
        let (img, pose) = render_single(&person, &a, &SMALL);
        assert_eq!(pose, pair.source_pose);
        assert_eq!(img, pair.source);
        let (img_b, pose_b) = render_single(&person, &b, &SMALL);
        assert_eq!(pose_b, pair.target_pose);
        assert_eq!(img_b, pair.target);
    }
}

#[test]
fn face_keypoints_follow_the_orientation() {
    use crate::pose::skeleton::*;
    let mut rng = SplitMix64::new(9);
    let person = Person::sample(&mut rng, &LARGE);
    let mut a = Articulation::neutral();
    let (_, front) = render_single(&person, &a, &LARGE);
    for j in [NOSE, R_EYE, L_EYE, R_EAR, L_EAR] {
        assert!(front.get(j).is_some(), "front view lacks joint {j}");
    }
    // Front view: the person's left shoulder is on the image right.
    assert!(front.get(L_SHOULDER).unwrap().x > front.get(R_SHOULDER).unwrap().x);
    a.yaw = std::f32::consts::PI;
    let (_, back) = render_single(&person, &a, &LARGE);
    for j in [NOSE, R_EYE, L_EYE] {
        assert!(back.get(j).is_none(), "back view shows joint {j}");
    }
    assert!(back.get(L_SHOULDER).unwrap().x < back.get(R_SHOULDER).unwrap().x);
    a.yaw = std::f32::consts::FRAC_PI_2; // facing image left, left side to the camera
    let (_, side) = render_single(&person, &a, &LARGE);
    assert!(side.get(L_EAR).is_some() && side.get(R_EAR).is_none());
    assert!(side.get(L_EYE).is_some() && side.get(R_EYE).is_none());
    assert!(side.get(NOSE).unwrap().x < side.get(NECK).unwrap().x);
}

#[test]
fn an_arm_moving_in_front_of_the_torso_hides_the_torso_in_the_source() {
    let mut rng = SplitMix64::new(5);
    let person = Person::sample(&mut rng, &LARGE);
    let mut src = Articulation::neutral();
    // Source: the right forearm folded across the chest, in front of the torso.
    src.arms[0].raise = 20f32.to_radians();
    src.arms[0].bend = 130f32.to_radians();
    src.arms[0].bend_dir = 1.0;
    src.arm_in_front[0] = true;
    let tgt = Articulation::neutral();
    let p = render_pair_with(&person, &src, &tgt, &LARGE);
    // Target torso pixels that were under the arm in the source are invisible.
    let fig = build(&person, &tgt, &LARGE);
    let r = rasterize(&fig, LARGE.width, LARGE.height);
    let (mut torso, mut hidden) = (0, 0);
    for y in 0..LARGE.height {
        for x in 0..LARGE.width {
            if r.ids[r.centre(x, y)] as usize == part::TORSO {
                torso += 1;
                if p.visibility[y * LARGE.width + x] == 0.0 {
                    hidden += 1;
                }
            }
        }
    }
    assert!(
        hidden > 50 && hidden < torso / 2,
        "{hidden} of {torso} torso pixels hidden"
    );
    // And the reverse pair has the arm fully visible where it lies over the torso.
    let q = render_pair_with(&person, &tgt, &src, &LARGE);
    let fig = build(&person, &src, &LARGE);
    let r = rasterize(&fig, LARGE.width, LARGE.height);
    // (Not all of it: the folded forearm is foreshortened, so points near its ends map under
    // the hand / past the elbow cap of the hanging arm.)
    let (mut arm, mut arm_hidden) = (0, 0);
    for y in 0..LARGE.height {
        for x in 0..LARGE.width {
            if r.ids[r.centre(x, y)] as usize == part::LOWER_ARM[0] {
                arm += 1;
                if q.visibility[y * LARGE.width + x] == 0.0 {
                    arm_hidden += 1;
                }
            }
        }
    }
    println!("folded forearm: {arm_hidden} of {arm} pixels hidden in the hanging pose");
    assert!(arm > 100 && arm_hidden * 10 < arm, "{arm_hidden} of {arm}");
}

#[test]
fn typical_pairs_have_some_hidden_points() {
    let cfg = SMALL;
    let mut fractions = Vec::new();
    for seed in 100..120u64 {
        let p = render_pair(seed, &cfg);
        let area: f32 = p.person.iter().sum();
        let hidden: f32 = p
            .visibility
            .iter()
            .zip(&p.person)
            .filter(|(_, &c)| c >= 1.0)
            .map(|(&v, _)| 1.0 - v)
            .sum();
        fractions.push(hidden / area);
    }
    let mean = fractions.iter().sum::<f32>() / fractions.len() as f32;
    println!("hidden fraction of the person area: mean {mean:.3}, per pair {fractions:.2?}");
    assert!((0.01..0.5).contains(&mean), "mean hidden fraction {mean}");
    assert!(fractions.iter().any(|&f| f > 0.02));
}

#[test]
fn contact_sheet_has_one_row_per_pair() {
    let pairs: Vec<_> = (0..3).map(|s| render_pair(s, &SMALL)).collect();
    let sheet = contact_sheet(&pairs);
    assert_eq!(sheet.width(), 4 * 96 + 5 * 2);
    assert_eq!(sheet.height(), 3 * 128 + 4 * 2);
    if let Ok(dir) = std::env::var("SYNTH_SHEET_DIR") {
        let pairs: Vec<_> = (0..8).map(|s| render_pair(s, &SMALL)).collect();
        contact_sheet(&pairs)
            .save(format!("{dir}/synth_small.png"))
            .unwrap();
        let pairs: Vec<_> = (0..6).map(|s| render_pair(s, &LARGE)).collect();
        contact_sheet(&pairs)
            .save(format!("{dir}/synth_large.png"))
            .unwrap();
        let mut people = image::RgbImage::new(256 * 6, 256 * 2);
        for s in 0..12u64 {
            let (x, y) = ((s % 6) as i64 * 256, (s / 6) as i64 * 256);
            image::imageops::replace(&mut people, &render_pair(s + 50, &LARGE).source, x, y);
        }
        people.save(format!("{dir}/synth_people.png")).unwrap();
    }
}

#[test]
fn rendering_speed() {
    for (cfg, n) in [(SMALL, 100u64), (LARGE, 30)] {
        let t = std::time::Instant::now();
        for seed in 0..n {
            std::hint::black_box(render_pair(seed, &cfg));
        }
        let dt = t.elapsed().as_secs_f64();
        println!(
            "render_pair {}x{}: {:.1} ms/pair, {:.0} pairs/s",
            cfg.height,
            cfg.width,
            1e3 * dt / n as f64,
            n as f64 / dt
        );
    }
}

#[test]
fn the_photo_bank_decodes_with_the_sizes_its_licence_file_names() {
    let bank = photo::bank();
    let names: Vec<_> = bank
        .iter()
        .map(|p| (p.name, p.width, p.height, p.grey))
        .collect();
    assert_eq!(
        names,
        [
            ("coffee", 400, 267, false),
            ("chelsea", 451, 300, false),
            ("rocket", 480, 320, false),
            ("brick", 256, 256, true),
            ("grass", 256, 256, true),
            ("gravel", 256, 256, true),
        ]
    );
    // Mirrored past the borders: −t and +t sample the same colour, so tiles meet seamlessly.
    let p = &bank[0];
    for v in [3.0, 100.25] {
        assert_eq!(p.sample(-0.75, v), p.sample(0.75, v));
        let last = (p.width - 1) as f32;
        assert_eq!(p.sample(last + 0.5, v), p.sample(last - 0.5, v));
    }
}

#[test]
fn the_photo_look_redresses_a_scene_and_keeps_its_poses_and_flow() {
    let mut backdrops_changed = 0;
    for seed in 0..8u64 {
        let drawn = render_scene(seed, &SMALL);
        let photo = render_scene_look(seed, &SMALL, Look::Photo);
        let (d, p) = (&drawn.pair, &photo.pair);
        assert_eq!(d.source_pose, p.source_pose, "seed {seed}");
        assert_eq!(d.target_pose, p.target_pose, "seed {seed}");
        assert_eq!(d.flow, p.flow, "seed {seed}");
        assert_eq!(d.visibility, p.visibility, "seed {seed}");
        assert_eq!(d.person, p.person, "seed {seed}");
        assert_ne!(
            d.source, p.source,
            "seed {seed}: the photo look changed nothing"
        );
        backdrops_changed += usize::from(drawn.background != photo.background);
        // The drawn look of a seed is what it always was.
        assert_eq!(
            render_scene_look(seed, &SMALL, Look::Drawn).pair.source,
            d.source
        );
    }
    assert!(
        backdrops_changed >= 5,
        "only {backdrops_changed} of 8 backdrops are photos"
    );
}

#[test]
fn photo_textured_people_keep_the_flow_exact() {
    let (mut total, mut n) = (0f64, 0usize);
    for seed in 0..8u64 {
        let (mut person, a, b) = person_and_poses(seed, &LARGE);
        let mut rng = SplitMix64::new(seed + 100);
        person.shirt = texture::Texture::photo(&mut rng, person.shirt.c1);
        person.trousers = texture::Texture::photo(&mut rng, person.trousers.c1);
        person.light = 0.25;
        let (e, k) = warp_error(&person, &a, &b, &LARGE);
        total += e * k as f64;
        n += k;
    }
    let mean = total / n.max(1) as f64;
    println!("photo-textured warp consistency: {mean:.2}/255 over {n} px");
    assert!(n > 500 && mean < 8.0, "mean warp error {mean} over {n} px");
}
