//! The compositor on synthetic scenes, where the true matte, plate and result are known.

use super::*;
use crate::pose::Pose;
use crate::puppet::{puppet_warp, PuppetConfig};
use crate::synth::{render_scene, SynthConfig, SynthScene};
use upsample::Upsampler;

const CFG: SynthConfig = SynthConfig {
    height: 160,
    width: 128,
};

fn layers(scene: &SynthScene) -> PhotoLayers {
    PhotoLayers::new(
        scene.pair.source.clone(),
        scene.source_person.clone(),
        scene.background.clone(),
    )
    .unwrap()
}

/// Mean squared error over the pixels `keep` selects (all three channels).
fn mse(a: &RgbImage, b: &RgbImage, keep: impl Fn(usize) -> bool) -> f64 {
    let (mut sum, mut n) = (0f64, 0usize);
    for (i, (p, q)) in a.pixels().zip(b.pixels()).enumerate() {
        if keep(i) {
            for c in 0..3 {
                let d = p[c] as f64 - q[c] as f64;
                sum += d * d;
            }
            n += 3;
        }
    }
    sum / n.max(1) as f64
}

fn psnr(mse: f64) -> f64 {
    10.0 * (255.0f64 * 255.0 / mse.max(1e-10)).log10()
}

/// An edit that moves nothing returns the photo exactly, soft matte edges included.
#[test]
fn target_equal_to_source_returns_the_photo() {
    for seed in [3u64, 17, 40] {
        let scene = render_scene(seed, &CFG);
        let l = layers(&scene);
        let p = &scene.pair.source_pose;
        let out = composite_puppet(&l, p, p, &PuppetConfig::default()).unwrap();
        assert_eq!(out.image, scene.pair.source, "seed {seed}");
        assert!(out.vacated.iter().all(|&v| v == 0.0));
    }
}

/// Against the true target picture: the composite beats the plain puppet warp over the frame,
/// and where the person has left (the ghost region of the plain warp) it shows the background.
#[test]
fn composite_beats_the_plain_warp_and_leaves_no_ghost() {
    let (mut frame, mut ghost) = (vec![], vec![]);
    for seed in 0..12u64 {
        let scene = render_scene(1000 + seed, &CFG);
        let pair = &scene.pair;
        let cfg = PuppetConfig::default();
        let out =
            composite_puppet(&layers(&scene), &pair.source_pose, &pair.target_pose, &cfg).unwrap();
        assert_eq!(out.image.dimensions(), pair.source.dimensions());
        let warp = puppet_warp(
            &pair.source_pose,
            &pair.target_pose,
            CFG.height,
            CFG.width,
            &cfg,
        );
        let plain = crate::puppet::puppet_render(&pair.source, &warp);
        // Left: person in the source, background in the truth.
        let left = |i: usize| scene.source_person[i] > 0.9 && pair.person[i] < 0.01;
        if (0..pair.person.len()).filter(|&i| left(i)).count() < 50 {
            continue;
        }
        frame.push((
            psnr(mse(&out.image, &pair.target, |_| true)),
            psnr(mse(&plain, &pair.target, |_| true)),
        ));
        ghost.push((
            mse(&out.image, &pair.target, left).sqrt(),
            mse(&plain, &pair.target, left).sqrt(),
        ));
    }
    assert!(frame.len() >= 6, "too few scenes with a vacated region");
    let mean = |v: &[(f64, f64)], k: usize| {
        v.iter()
            .map(|p| if k == 0 { p.0 } else { p.1 })
            .sum::<f64>()
            / v.len() as f64
    };
    let (ours, plain) = (mean(&frame, 0), mean(&frame, 1));
    println!("frame PSNR: composite {ours:.2} dB, plain warp {plain:.2} dB");
    assert!(
        ours > plain + 1.0,
        "composite {ours:.2} vs plain {plain:.2}"
    );
    let (ours, plain) = (mean(&ghost, 0), mean(&ghost, 1));
    println!("RMS error where the person left: composite {ours:.1}, plain warp {plain:.1}");
    assert!(
        ours < 0.5 * plain,
        "ghost: composite {ours:.1} vs plain {plain:.1}"
    );
}

/// Away from both figures (and the grown edge) every pixel is the photo's, bit for bit.
#[test]
fn pixels_away_from_the_figures_are_untouched() {
    let scene = render_scene(77, &CFG);
    let pair = &scene.pair;
    let out = composite_puppet(
        &layers(&scene),
        &pair.source_pose,
        &pair.target_pose,
        &PuppetConfig::default(),
    )
    .unwrap();
    let (w, h) = (CFG.width, CFG.height);
    let near = vacated::max_filter(
        &scene
            .source_person
            .iter()
            .zip(&out.person)
            .map(|(a, b)| a.max(*b))
            .collect::<Vec<_>>(),
        h,
        w,
        super::layers::hole_radius(h, w) + 1,
    );
    let mut checked = 0;
    for y in 0..h {
        for x in 0..w {
            if near[y * w + x] == 0.0 {
                let (a, b) = (
                    out.image.get_pixel(x as u32, y as u32),
                    pair.source.get_pixel(x as u32, y as u32),
                );
                assert_eq!(a, b, "({x}, {y})");
                checked += 1;
            }
        }
    }
    assert!(
        checked > w * h / 3,
        "only {checked} pixels away from the figures"
    );
}

#[test]
fn mismatched_layers_are_refused() {
    let photo = RgbImage::new(8, 6);
    assert!(PhotoLayers::new(photo.clone(), vec![0.0; 47], photo.clone()).is_err());
    assert!(PhotoLayers::new(photo.clone(), vec![0.0; 48], RgbImage::new(6, 8)).is_err());
    let l = PhotoLayers::new(photo.clone(), vec![f32::NAN; 48], photo).unwrap();
    assert!(l.matte.iter().all(|&a| a == 0.0));
    assert!(composite(&l, &FlowField::zeros(5, 8), &[1.0; 40]).is_err());
    assert!(composite(&l, &FlowField::zeros(6, 8), &[1.0; 47]).is_err());
}

#[test]
fn plate_hole_grows_the_matte() {
    let mut matte = vec![0f32; 10 * 10];
    matte[5 * 10 + 5] = 0.9;
    let hole = plate_hole(&matte, 10, 10, 0.5, 2);
    let filled: Vec<(u32, u32)> = hole
        .enumerate_pixels()
        .filter(|p| p.2[0] == 255)
        .map(|p| (p.0, p.1))
        .collect();
    assert_eq!(filled.len(), 25);
    assert!(filled
        .iter()
        .all(|&(x, y)| (3..=7).contains(&x) && (3..=7).contains(&y)));
}

/// The photo of a forearm lying across a coat, `k` times 200×240: blue background, a coat
/// (colour `coat_colour(x, y)` in unscaled coordinates) from the shoulders to the hips, a green forearm
/// from the elbow to the wrist, a skin-coloured head; the matte is coat ∪ forearm ∪ head. The
/// source skeleton and a target with the wrist out to the side.
fn lifted_forearm(k: f32, coat_colour: impl Fn(f32, f32) -> [u8; 3]) -> (PhotoLayers, Pose, Pose) {
    use crate::pose::skeleton::*;
    use crate::pose::Joint;
    let (w, h) = ((200.0 * k) as usize, (240.0 * k) as usize);
    let set =
        |p: &mut Pose, j: usize, x: f32, y: f32| p.set(j, Some(Joint::new(k * x, k * y, 1.0)));
    let mut source = Pose::missing();
    for (j, x, y) in [
        (NOSE, 100.0, 30.0),
        (NECK, 100.0, 55.0),
        (R_SHOULDER, 75.0, 58.0),
        (L_SHOULDER, 125.0, 58.0),
        (R_ELBOW, 70.0, 110.0),
        (R_WRIST, 112.0, 122.0), // across the coat
        (L_ELBOW, 130.0, 110.0),
        (L_WRIST, 132.0, 155.0),
        (R_HIP, 85.0, 170.0),
        (L_HIP, 115.0, 170.0),
    ] {
        set(&mut source, j, x, y);
    }
    let mut target = source.clone();
    set(&mut target, R_WRIST, 20.0, 80.0); // out to the side
    let forearm = |x: f32, y: f32| {
        let (ax, ay, bx, by) = (70.0f32, 110.0f32, 112.0f32, 122.0f32);
        let t = (((x - ax) * (bx - ax) + (y - ay) * (by - ay))
            / ((bx - ax).powi(2) + (by - ay).powi(2)))
        .clamp(0.0, 1.0);
        (x - ax - t * (bx - ax)).hypot(y - ay - t * (by - ay)) < 7.0
    };
    let coat = |x: f32, y: f32| (68.0..=132.0).contains(&x) && (52.0..=185.0).contains(&y);
    let head = |x: f32, y: f32| (x - 100.0).hypot(y - 30.0) < 16.0;
    let photo = RgbImage::from_fn(w as u32, h as u32, |x, y| {
        let (x, y) = (x as f32 / k, y as f32 / k);
        image::Rgb(if forearm(x, y) {
            [40, 200, 40]
        } else if head(x, y) {
            [225, 170, 140]
        } else if coat(x, y) {
            coat_colour(x, y)
        } else {
            [30, 30, 200]
        })
    });
    let matte: Vec<f32> = (0..w * h)
        .map(|i| {
            let (x, y) = ((i % w) as f32 / k, (i / w) as f32 / k);
            if forearm(x, y) || coat(x, y) || head(x, y) {
                1.0
            } else {
                0.0
            }
        })
        .collect();
    let plate = RgbImage::from_pixel(w as u32, h as u32, image::Rgb([30, 30, 200]));
    (
        PhotoLayers::new(photo, matte, plate).unwrap(),
        source,
        target,
    )
}

/// A forearm lying across a coat is lifted off it: where it was, the coat is shown (the
/// person's colour spread from around it), not the blue background plate and not the green
/// forearm — whether or not the skeleton has the hips that make a torso part there.
#[test]
fn a_limb_lifted_off_the_body_uncovers_body_not_background() {
    use crate::pose::skeleton::*;
    let (l, source, target) = lifted_forearm(1.0, |_, _| [200, 30, 30]);
    for hips in [true, false] {
        let (mut s, mut t) = (source.clone(), target.clone());
        if !hips {
            for j in [R_HIP, L_HIP] {
                s.set(j, None);
                t.set(j, None);
            }
        }
        let out = composite_puppet(&l, &s, &t, &PuppetConfig::default()).unwrap();
        // On the forearm's old place, away from where it now is: coat red.
        for (x, y) in [(90u32, 116u32), (100, 119), (108, 121)] {
            let p = out.image.get_pixel(x, y).0;
            assert!(
                p[0] > 150 && p[1] < 90 && p[2] < 90,
                "hips {hips}: ({x}, {y}) is {p:?}, not coat"
            );
        }
        // The background far from the person stays, and the forearm is at its new place.
        assert_eq!(out.image.get_pixel(180, 220).0, [30, 30, 200]);
        let arm = out.image.get_pixel(35, 88).0;
        assert!(
            arm[1] > 150 && arm[0] < 100,
            "the forearm did not arrive: {arm:?}"
        );
    }
}

/// A grainy coat behind a forearm lifted off it, on a photo large enough for the coarse grid:
/// the invented coat is smooth from the grid alone; with `photo_detail` (stills) it gets the
/// coat's own grain back at the photo's resolution, and no patch of the face beside it.
#[test]
fn a_still_gets_the_hidden_cloths_grain_at_the_photos_resolution() {
    let (l, source, target) = lifted_forearm(3.0, grainy_coat);
    let by = |photo_detail| {
        let cfg = PuppetConfig {
            photo_detail,
            ..Default::default()
        };
        composite_puppet(&l, &source, &target, &cfg).unwrap()
    };
    let (smooth, still) = (by(false), by(true));
    let invented = |i: usize| still.invented[i] > 0.9 && smooth.invented[i] > 0.9;
    let w = l.photo.width() as usize;
    // The coat the photo shows, away from the forearm and the edit.
    let shown = |i: usize| {
        let (x, y) = (i % w, i / w);
        (330..390).contains(&x) && (420..540).contains(&y)
    };
    let (coat, _) = mean_step(&l.photo, &shown);
    let (without, n) = mean_step(&smooth.image, &invented);
    let (with, _) = mean_step(&still.image, &invented);
    println!("grain (mean step): coat {coat:.1}, invented without {without:.1}, with {with:.1} over {n} px");
    assert!(n > 1000, "too little invented: {n} px");
    assert!(
        with > 0.4 * coat,
        "the still's invented coat is flat: {with:.1} vs {coat:.1}"
    );
    assert!(
        with > 2.0 * without,
        "no grain gained: {with:.1} vs {without:.1}"
    );
    assert_eq!(
        face_pixels(&still.image, &invented),
        0,
        "face pixels in the invented coat"
    );
}

/// [`lifted_forearm`]'s coat with a grain of hashed cells, a red cloth of varying shade.
fn grainy_coat(x: f32, y: f32) -> [u8; 3] {
    let (i, j) = ((x * 3.0) as u32 / 2, (y * 3.0) as u32 / 2);
    let v = 120 + ((i.wrapping_mul(2_654_435_761) ^ j.wrapping_mul(40_503)) % 97 % 50) as u8;
    [v + 60, v / 3, v / 3]
}

/// The mean step of the red channel between horizontal neighbours that `keep` both selects
/// (how grainy a region is), and how many steps were taken.
fn mean_step(img: &RgbImage, keep: &dyn Fn(usize) -> bool) -> (f64, usize) {
    let w = img.width() as usize;
    let (mut sum, mut n) = (0f64, 0usize);
    for (i, p) in img.pixels().enumerate().skip(1) {
        if i % w > 0 && keep(i) && keep(i - 1) {
            let q = img.as_raw()[3 * (i - 1)];
            sum += p[0].abs_diff(q) as f64;
            n += 1;
        }
    }
    (sum / n.max(1) as f64, n)
}

/// Pixels `at` selects that look like [`lifted_forearm`]'s face: skin (225, 170, 140) is far
/// from the coat's red and the forearm's green in green and blue together.
fn face_pixels(img: &RgbImage, at: &dyn Fn(usize) -> bool) -> usize {
    img.pixels()
        .enumerate()
        .filter(|&(i, p)| at(i) && p[1] > 120 && p[2] > 100)
        .count()
}

/// When the whole figure moves (a new pose, not one limb) no pixel of the person is still,
/// and the texture cannot come from the body that stayed: the invented coat then takes the
/// grain of the shown coat that moved with it, rather than staying a flat membrane.
#[test]
fn a_figure_moved_as_a_whole_still_gets_grain_in_its_invented_cloth() {
    use crate::pose::{Joint, NUM_JOINTS};
    let (l, source, mut target) = lifted_forearm(1.0, grainy_coat);
    for j in 0..NUM_JOINTS {
        if let Some(p) = target.get(j) {
            target.set(j, Some(Joint::new(p.x + 4.0, p.y + 3.0, p.confidence)));
        }
    }
    let out = composite_puppet(&l, &source, &target, &PuppetConfig::default()).unwrap();
    let w = l.photo.width() as usize;
    let shown = |i: usize| (80..100).contains(&(i % w)) && (135..165).contains(&(i / w));
    let is_invented = |i: usize| out.invented[i] > 0.9;
    let (coat, _) = mean_step(&l.photo, &shown);
    let (invented, n) = mean_step(&out.image, &is_invented);
    println!("grain (mean step): coat {coat:.1}, invented {invented:.1} over {n} px");
    assert!(n > 150, "too little invented: {n} px");
    assert!(
        invented > 0.4 * coat,
        "the invented coat is flat: {invented:.1} vs {coat:.1}"
    );
    // Its patches are the coat's, not the face's.
    assert_eq!(
        face_pixels(&out.image, &is_invented),
        0,
        "face pixels in the invented coat"
    );
}

/// Past `GRID_SIDE` the puppet runs on a coarse grid: nothing moved is still the photo exactly,
/// and an edit agrees with the full-resolution composite (the grid only blurs the map's seams)
/// wherever neither invents.
#[test]
fn the_coarse_grid_agrees_with_full_resolution() {
    let cfg_big = SynthConfig {
        height: 720,
        width: 560,
    };
    let mut agree = vec![];
    for seed in [5u64, 21, 64] {
        let scene = render_scene(seed, &cfg_big);
        let l = layers(&scene);
        let (s, t) = (&scene.pair.source_pose, &scene.pair.target_pose);
        let cfg = PuppetConfig::default();
        let same = composite_puppet(&l, s, s, &cfg).unwrap();
        assert_eq!(same.image, scene.pair.source, "seed {seed}");
        let grid = composite_puppet(&l, s, t, &cfg).unwrap();
        let full = puppet::composite_on_grid(&l, &l, s, t, &cfg, None, None).unwrap();
        // Invented pixels are textured by an exemplar fill, which draws different patches at
        // the two resolutions: compare what both take from the photo.
        let shown = |i: usize| grid.invented[i] == 0.0 && full.invented[i] == 0.0;
        agree.push(psnr(mse(&grid.image, &full.image, shown)));
    }
    let mean = agree.iter().sum::<f64>() / agree.len() as f64;
    println!("grid vs full resolution: {agree:.1?} dB");
    assert!(
        mean > 30.0,
        "the grid composite departs from the full one: {agree:.1?} dB"
    );
}

/// A puppet-prior network's edit: with a zero correction the flow is the puppet's, so wherever
/// nothing is hidden the composite is the puppet's exactly; a uniform correction of one level
/// cell moves what the moved person samples by that many photo pixels; the hidden person takes
/// the network's colours, not the membrane fill.
#[test]
fn a_guided_edit_is_the_puppets_corrected() {
    let sc = SynthConfig {
        height: 128,
        width: 96,
    };
    let cfg = PuppetConfig::default();
    // The first scene whose edit hides some person (a limb lifted off the body).
    let hidden_of = |scene: &SynthScene| {
        let (s, t) = (&scene.pair.source_pose, &scene.pair.target_pose);
        // The hands and feet as the compositor measures them from the matte.
        let cfg = PuppetConfig {
            extremities: Some(crate::puppet::Extremities::from_matte(
                s,
                &layers(scene).matte,
                128,
                96,
            )),
            ..cfg.clone()
        };
        let warp = puppet_warp(s, t, 128, 96, &cfg);
        let l = layers(scene);
        let owned = puppet::owned_on(&l, s, t, &warp, &cfg);
        super::hidden::hidden_person(&l, &warp, &owned).unwrap()
    };
    let (scene, hidden) = (0..60u64)
        .map(|seed| render_scene(seed, &sc))
        .map(|scene| {
            let hidden = hidden_of(&scene);
            (scene, hidden)
        })
        .find(|(_, h)| h.iter().filter(|&&v| v > 0.9).count() > 30)
        .expect("a scene with hidden person");
    let l = layers(&scene);
    let (s, t) = (&scene.pair.source_pose, &scene.pair.target_pose);
    let zero = FlowField::zeros(32, 24);
    let red = RgbImage::from_pixel(96, 128, image::Rgb([250, 0, 0]));
    let guide = |correction| puppet::Guide {
        correction,
        level_at: Placement::new(0.0, 0.0, 96.0, 128.0, 24, 32),
        image: &red,
        image_at: Placement::new(0.0, 0.0, 96.0, 128.0, 96, 128),
    };
    let plain = composite_puppet(&l, s, t, &cfg).unwrap();
    let guided = puppet::composite_guided(&l, s, t, &cfg, Some(&guide(&zero))).unwrap();
    let (mut same, mut n, mut changed) = (0, 0, 0);
    let mut flat: Vec<[u8; 3]> = vec![];
    for (i, h) in hidden.iter().enumerate() {
        let (x, y) = ((i % 96) as u32, (i / 96) as u32);
        let (a, b) = (
            plain.image.get_pixel(x, y).0,
            guided.image.get_pixel(x, y).0,
        );
        if *h == 0.0 {
            n += 1;
            same += usize::from(a == b);
        } else if *h > 0.9 {
            changed += usize::from(a != b);
            if *h >= 0.99 {
                flat.push(b);
            }
        }
    }
    // The hidden share's soft edge and the vacated region's growth can touch a few unhidden
    // pixels.
    assert!(
        same as f64 > 0.99 * n as f64,
        "{same} of {n} unhidden pixels equal"
    );
    let strongly_hidden = hidden.iter().filter(|&&h| h > 0.9).count();
    assert!(
        changed as f64 > 0.5 * strongly_hidden as f64,
        "{changed} of {strongly_hidden} hidden pixels differ from the membrane fill"
    );
    // The composite says what it invented: the hidden person, and nothing far from it.
    let invented = (0..hidden.len()).filter(|&i| guided.invented[i] > 0.5);
    assert!(invented.count() as f64 > 0.5 * strongly_hidden as f64);
    assert!(plain
        .invented
        .iter()
        .zip(&hidden)
        .all(|(v, h)| *h > 0.0 || *v < 0.05));
    // A flat network image stays flat through the per-channel colour match.
    assert!(!flat.is_empty());
    for c in 0..3 {
        let (lo, hi) = flat
            .iter()
            .fold((255, 0), |(l, h), p| (p[c].min(l), p[c].max(h)));
        assert!(
            hi - lo <= 4,
            "channel {c} of the painted pixels spans {lo}..{hi}"
        );
    }
    // A correction of one cell to the right: four photo pixels at this level.
    let mut one = FlowField::zeros(32, 24);
    for y in 0..32 {
        for x in 0..24 {
            one.set(x, y, 1.0, 0.0);
        }
    }
    let up = Upsampler::new(&Placement::new(0.0, 0.0, 96.0, 128.0, 24, 32), 128, 96).flow(&one);
    assert_eq!(up.get(40, 60), (4.0, 0.0));
    let moved = puppet::composite_guided(&l, s, t, &cfg, Some(&guide(&one))).unwrap();
    assert_ne!(moved.image, guided.image);
}

/// Two edits of one photo that uncover the same coat (the forearm lifted a little more, then
/// a little less: two frames of an animation) give it the same grain: it comes from the one
/// fill per photo under the arms, not from a fill per edit that picks other patches as the
/// uncovered region changes shape (the cloth boiled from frame to frame).
#[test]
fn the_invented_grain_stays_put_from_edit_to_edit() {
    use crate::pose::skeleton::R_WRIST;
    let (l, source, target) = lifted_forearm(3.0, grainy_coat);
    let mut other = target.clone();
    let wrist = target.get(R_WRIST).unwrap();
    other.set(
        R_WRIST,
        Some(crate::pose::Joint::new(wrist.x + 12.0, wrist.y - 30.0, 1.0)),
    );
    let cfg = PuppetConfig::still();
    let a = composite_puppet(&l, &source, &target, &cfg).unwrap();
    let b = composite_puppet(&l, &source, &other, &cfg).unwrap();
    // Near the elbow the two forearms leave at different angles: there one edit shows the
    // sleeve's root where the other uncovers coat, which is geometry, not the grain moving.
    let elbow = source.get(crate::pose::skeleton::R_ELBOW).unwrap();
    let w = l.photo.width() as usize;
    let off_elbow = |i: usize| ((i % w) as f32 - elbow.x).hypot((i / w) as f32 - elbow.y) > 60.0;
    let both = |i: usize| a.invented[i] > 0.9 && b.invented[i] > 0.9 && off_elbow(i);
    let (grain, n) = mean_step(&a.image, &both);
    let (mut diff, mut m) = (0f64, 0usize);
    for (i, (p, q)) in a.image.pixels().zip(b.image.pixels()).enumerate() {
        if both(i) {
            diff += p[0].abs_diff(q[0]) as f64;
            m += 1;
        }
    }
    let diff = diff / m.max(1) as f64;
    println!("invented in both: {m} px, grain {grain:.1}, mean |a − b| {diff:.1}");
    assert!(n > 1000, "too little invented in both: {n} px");
    assert!(grain > 5.0, "the invented coat is flat: {grain:.1}");
    assert!(
        diff < 0.3 * grain,
        "the grain moved between the edits: |a − b| {diff:.1} vs grain {grain:.1}"
    );
}

/// Invented person fading out over a vacated place (a body brought over where an arm was):
/// at its faint edge the plate shows, and it takes over the photo behind smoothly; where the
/// invented person is substantial, the photo behind it is kept (no light seam of plate). The
/// plate was held back at the faintest alpha, so the old limb's photo came back along the
/// invented region's outline: the coarse grid's staircase across the grass. Inside the body
/// it is held back from the faintest alpha.
#[test]
fn an_invented_edge_fades_to_the_plate_without_a_step() {
    let (w, h) = (40u32, 8u32);
    let photo = RgbImage::from_pixel(w, h, image::Rgb([200, 200, 200])); // the old limb
    let plate = RgbImage::from_pixel(w, h, image::Rgb([50, 50, 50]));
    let layers = PhotoLayers::new(photo, vec![1.0; (w * h) as usize], plate).unwrap();
    let alpha = |x: u32| x as f32 / (w - 1) as f32;
    let owned: Vec<f32> = (0..w * h).map(|i| alpha(i % w)).collect();
    let image = RgbImage::from_pixel(w, h, image::Rgb([120, 120, 120]));
    let visible = vec![0.0; (w * h) as usize];
    let inv = Invented {
        image: &image,
        visible: &visible,
        body: None,
    };
    let flow = FlowField::zeros(h as usize, w as usize);
    let out = composite_with(&layers, &flow, &owned, Some(inv)).unwrap();
    let row: Vec<f32> = (0..w)
        .map(|x| out.image.get_pixel(x, h / 2).0[0] as f32)
        .collect();
    assert_eq!(row[0], 50.0, "no person: the plate");
    let step = row
        .windows(2)
        .map(|p| (p[1] - p[0]).abs())
        .fold(0f32, f32::max);
    assert!(
        step < 40.0,
        "a step of {step} along the invented edge: {row:?}"
    );
    for x in (0..w).filter(|&x| alpha(x) >= INVENTED_HOLDS) {
        let a = alpha(x);
        let want = 120.0 * a + 200.0 * (1.0 - a);
        assert!(
            (row[x as usize] - want).abs() <= 1.0,
            "plate through it at {x}: {row:?}"
        );
    }
    // Inside the figure's body (the chest an arm uncovered, up to the arm's old outline) the
    // plate does not show through even the faintest invented person: the photo behind stays.
    let body = vec![1.0; (w * h) as usize];
    let inv = Invented {
        image: &image,
        visible: &visible,
        body: Some(&body),
    };
    let out = composite_with(&layers, &flow, &owned, Some(inv)).unwrap();
    for x in 1..w {
        let (a, got) = (alpha(x), out.image.get_pixel(x, h / 2).0[0] as f32);
        let want = 120.0 * a + 200.0 * (1.0 - a);
        assert!(
            (got - want).abs() <= 1.0,
            "plate through the body at {x}: {got} vs {want}"
        );
    }
}
