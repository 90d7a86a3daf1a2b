//! Tests of the editor's actions (detection, workers, preview, depth order).

use super::*;
use crate::app::detection::{DetectOutcome, DetectStatus, Detected, Unavailable};
use crate::app::project::Mode;
use crate::pose::{self, Joint};
use crate::puppet::Limb;
use std::time::Duration;

/// An editor with detection on whose worker answers "no person" at once; the tests hand
/// the editor the answers they need through `on_detection`, so no model files are needed.
fn editor() -> Editor {
    editor_with_job(|req| DetectResponse {
        id: req.id,
        photo_id: req.photo_id,
        outcome: DetectOutcome::NoPerson,
    })
}

fn editor_with_job(job: impl FnMut(DetectRequest) -> DetectResponse + Send + 'static) -> Editor {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    let options = EditorOptions {
        composite: false,
        ..Default::default()
    };
    Editor::with_detect_job(options, || {}, Arc::new(pool), job)
}

/// A `w`x`h` photo with no pose file, in `dir`.
fn photo(dir: &Path, name: &str, w: u32, h: u32) -> PathBuf {
    let path = dir.join(name);
    image::RgbImage::new(w, h).save(&path).unwrap();
    path
}

/// A person found a little left of the template, with the ears and the left ankle not
/// confident: 15 of 18 joints.
fn detected(w: f32, h: f32) -> Detected {
    let t = Rig::template(w, h);
    let mut pose = Pose::missing();
    for j in 0..pose::NUM_JOINTS {
        let [x, y] = t.points[j];
        pose.set(j, Some(Joint::new(x - 12.0, y + 5.0, 0.9)));
    }
    for j in [16, 17, 13] {
        pose.set(j, None);
    }
    Detected {
        pose,
        score: 0.61,
        millis: 80.0,
    }
}

/// The answer to the request in flight.
fn answer(e: &Editor, outcome: DetectOutcome) -> DetectResponse {
    let sent = e.detection.sent.as_ref().expect("a detection in flight");
    DetectResponse {
        id: sent.id,
        photo_id: sent.photo_id,
        outcome,
    }
}

fn notice(e: &Editor) -> String {
    e.notice
        .as_ref()
        .map(|n| n.text.clone())
        .unwrap_or_default()
}

#[test]
fn detection_replaces_the_template_as_one_undo_step() {
    let dir = tempfile::tempdir().unwrap();
    let mut e = editor();
    e.open_photo(&photo(dir.path(), "a.png", 200, 300)).unwrap();
    let template = Rig::template(200.0, 300.0);
    assert_eq!(e.doc.source, template);
    assert_eq!(e.settings.mode, Mode::FitSource);
    assert!(e.detecting());
    assert_eq!(e.detection.status, DetectStatus::Running);

    let d = detected(200.0, 300.0);
    e.on_detection(answer(&e, DetectOutcome::Found(Box::new(d.clone()))));
    let expect = Rig::from_pose(&d.pose, (200.0, 300.0));
    assert_eq!(e.doc.source, expect);
    assert_eq!(e.doc.target, expect);
    assert_eq!(e.settings.mode, Mode::PoseTarget);
    assert!(!e.detecting());
    assert_eq!(e.source_origin, "detected (15 of 18 joints, score 0.61)");
    // Joints the detector was not sure of stay, hidden, for the user to show and place.
    assert!(!e.doc.source.visible[16] && !e.doc.source.visible[13]);
    assert!(e.doc.source.visible[0]);
    assert!(notice(&e).contains("Found the person"), "{}", notice(&e));
    assert!(notice(&e).contains("3 hidden"), "{}", notice(&e));

    let template_origin = "template (no pose file beside the photo)";
    e.undo();
    assert_eq!(e.doc.source, template);
    assert_eq!(e.doc.target, template);
    assert!(!e.can_undo(), "the detection was one step");
    // Back to fitting the template, labelled as such.
    assert_eq!(e.settings.mode, Mode::FitSource);
    assert_eq!(e.source_origin, template_origin);
    e.redo();
    assert_eq!(e.doc.source, expect);
    assert_eq!(e.settings.mode, Mode::PoseTarget);
    assert_eq!(e.source_origin, "detected (15 of 18 joints, score 0.61)");
}

#[test]
fn stale_detections_are_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let mut e = editor();
    e.open_photo(&photo(dir.path(), "a.png", 200, 300)).unwrap();
    let for_a = answer(&e, DetectOutcome::Found(Box::new(detected(200.0, 300.0))));
    e.open_photo(&photo(dir.path(), "b.png", 300, 200)).unwrap();
    let template_b = Rig::template(300.0, 200.0);

    // Photo a's answer arrives after b was opened: ignored, b's detection still awaited.
    e.on_detection(for_a.clone());
    assert_eq!(e.doc.source, template_b);
    assert_eq!(e.settings.mode, Mode::FitSource);
    assert!(e.detecting());
    // Even with b's photo id, an answer to an older request is not the one awaited.
    e.on_detection(DetectResponse {
        photo_id: e.photo.as_ref().unwrap().id,
        ..for_a
    });
    assert_eq!(e.doc.source, template_b);
    assert!(e.detecting());

    // "Detect person" twice: only the second answer counts.
    e.detect_person();
    let first = answer(&e, DetectOutcome::NoPerson);
    e.detect_person();
    e.on_detection(first);
    assert!(e.detecting());
    assert_eq!(e.detection.status, DetectStatus::Running);

    let d = detected(300.0, 200.0);
    e.on_detection(answer(&e, DetectOutcome::Found(Box::new(d.clone()))));
    assert_eq!(e.doc.source, Rig::from_pose(&d.pose, (300.0, 200.0)));
    assert!(!e.detecting());
}

#[test]
fn detection_after_a_hand_edit_is_offered_not_applied() {
    let dir = tempfile::tempdir().unwrap();
    let mut e = editor();
    e.open_photo(&photo(dir.path(), "a.png", 200, 300)).unwrap();
    let d = detected(200.0, 300.0);
    let reply = answer(&e, DetectOutcome::Found(Box::new(d.clone())));
    // The user drags a wrist while the detector runs.
    e.begin_drag(Which::Source, 4, false);
    e.drag_to([20.0, 30.0]);
    e.end_drag();
    let edited = e.doc.clone();
    e.on_detection(reply);
    assert_eq!(e.doc, edited, "the user's work is not replaced");
    assert_eq!(e.settings.mode, Mode::FitSource);
    assert_eq!(e.detection.pending.as_ref(), Some(&d));
    assert!(
        notice(&e).contains("already moved joints"),
        "{}",
        notice(&e)
    );

    // Taken up from the side panel: applied as one more undo step.
    e.use_pending_detection();
    assert_eq!(e.doc.source, Rig::from_pose(&d.pose, (200.0, 300.0)));
    assert_eq!(e.settings.mode, Mode::PoseTarget);
    assert!(e.detection.pending.is_none());
    e.undo();
    assert_eq!(e.doc, edited);
    e.undo();
    assert_eq!(e.doc.source, Rig::template(200.0, 300.0));
}

#[test]
fn no_person_keeps_the_template_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let mut e = editor();
    e.open_photo(&photo(dir.path(), "a.png", 200, 300)).unwrap();
    let before = e.doc.clone();
    e.on_detection(answer(&e, DetectOutcome::NoPerson));
    assert_eq!(e.doc, before);
    assert_eq!(e.settings.mode, Mode::FitSource);
    assert_eq!(e.detection.status, DetectStatus::NoPerson);
    assert_eq!(
        notice(&e),
        "No person found by the detector; drag the template's joints onto the person"
    );
    assert!(!e.can_undo());
    assert!(!e.detecting());
}

#[test]
fn a_missing_detector_is_looked_for_once_until_asked() {
    let dir = tempfile::tempdir().unwrap();
    let mut e = editor();
    e.open_photo(&photo(dir.path(), "a.png", 200, 300)).unwrap();
    let missing = Unavailable {
        missing: true,
        message: "pose detection models not found".into(),
    };
    e.on_detection(answer(&e, DetectOutcome::Unavailable(missing.clone())));
    assert_eq!(
        e.detection.status,
        DetectStatus::Unavailable(missing.clone())
    );
    let n = e.notice.clone().unwrap();
    assert!(
        n.error && n.text.contains("marionette fetch-models"),
        "{n:?}"
    );
    assert!(
        e.error_dialog.is_none(),
        "no dialog for a missing optional part"
    );
    assert_eq!(e.doc.source, Rig::template(200.0, 300.0));

    // The next photo does not ask again, but says why nothing happens.
    e.open_photo(&photo(dir.path(), "b.png", 200, 300)).unwrap();
    assert!(!e.detecting());
    assert_eq!(e.detection.status, DetectStatus::Unavailable(missing));
    // Asking explicitly tries again (the models may have been fetched meanwhile).
    e.detect_person();
    assert!(e.detecting());
}

#[test]
fn a_photo_with_a_pose_file_or_detection_off_starts_no_detection() {
    let dir = tempfile::tempdir().unwrap();
    let path = photo(dir.path(), "posed.png", 200, 300);
    let pose = Rig::template(200.0, 300.0).to_pose();
    pose::write_openpose(dir.path().join("posed_pose.json"), &pose, Some((200, 300))).unwrap();
    let mut e = editor();
    e.open_photo(&path).unwrap();
    assert_eq!(e.settings.mode, Mode::PoseTarget);
    assert!(!e.detecting());
    assert_eq!(e.detection.status, DetectStatus::Idle);

    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    let options = EditorOptions {
        detect: false,
        ..Default::default()
    };
    let mut off = Editor::with_detect_job(
        options,
        || {},
        Arc::new(pool),
        |_| unreachable!("detection is off"),
    );
    off.open_photo(&photo(dir.path(), "plain.png", 200, 300))
        .unwrap();
    assert!(!off.detecting());
    assert_eq!(off.detection.status, DetectStatus::Off);
    off.detect_person();
    assert!(!off.detecting());
    assert!(!off.can_detect());
}

/// The worker's answer travels back through `tick`'s collection, with the request's ids.
#[test]
fn the_workers_answer_is_collected() {
    let dir = tempfile::tempdir().unwrap();
    let mut e = editor_with_job(|req| {
        let (w, h) = req.photo.image.dimensions();
        DetectResponse {
            id: req.id,
            photo_id: req.photo_id,
            outcome: DetectOutcome::Found(Box::new(detected(w as f32, h as f32))),
        }
    });
    e.open_photo(&photo(dir.path(), "a.png", 200, 300)).unwrap();
    let t0 = Instant::now();
    while e.detecting() {
        assert!(t0.elapsed() < Duration::from_secs(10), "no answer came");
        std::thread::sleep(Duration::from_millis(5));
        e.collect_detections();
    }
    assert_eq!(e.settings.mode, Mode::PoseTarget);
    assert!(e.source_origin.starts_with("detected (15 of 18 joints"));
}

/// The cameraman opened with compositing on, his skeleton from a pose file the shipped
/// detector wrote, in an editor showing `method`: (editor, its folder, the photo's path and
/// pixels). `None` (the test is skipped) without the samples or the detector's models.
fn cameraman_editor(
    test: &str,
    method: Option<Method>,
) -> Option<(Editor, tempfile::TempDir, PathBuf, image::RgbImage)> {
    let Some(sample) = first_sample() else {
        eprintln!("SKIPPED {test}: no samples");
        return None;
    };
    let detector = match crate::detect::PoseDetector::load_default() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("SKIPPED {test}: {e:#}");
            return None;
        }
    };
    let dir = tempfile::tempdir().unwrap();
    let photo = dir.path().join("cameraman.png");
    std::fs::copy(&sample, &photo).unwrap();
    let img = crate::imaging::open_photo(&photo).unwrap();
    let pose = detector
        .detect(&img)
        .unwrap()
        .expect("the cameraman is found")
        .pose;
    pose::write_openpose(dir.path().join("cameraman_source.json"), &pose, None).unwrap();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    let options = EditorOptions {
        detect: false,
        method,
        ..Default::default()
    };
    let mut e = Editor::with_detect_job(options, || {}, Arc::new(pool), |_| unreachable!());
    e.open_photo(&photo).unwrap();
    assert_eq!(e.settings.mode, Mode::PoseTarget);
    Some((e, dir, photo, img))
}

/// Ticks `e` until its preview satisfies `done` (two minutes at most).
fn wait_preview(e: &mut Editor, what: &str, done: impl Fn(&Preview) -> bool) {
    let t0 = Instant::now();
    loop {
        e.tick();
        if e.preview.as_ref().is_some_and(&done) {
            return;
        }
        assert!(t0.elapsed() < Duration::from_secs(120), "no {what} preview");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// With compositing on and the shipped detector: the cameraman opens with his skeleton from
/// a pose file, the layers are built off the UI thread, and the preview becomes the whole
/// photo re-posed over the plate — the photo itself while nothing moved, changed around
/// the arm (and only there) once the right wrist is raised.
#[test]
fn the_preview_is_composited_over_the_photos_layers() {
    let test = "the_preview_is_composited_over_the_photos_layers";
    let Some((mut e, dir, _, img)) = cameraman_editor(test, Some(Method::Puppet)) else {
        return;
    };
    let wait_composited = |e: &mut Editor, after: u64| {
        wait_preview(e, "composited", |p| p.composited && p.request >= after)
    };
    wait_composited(&mut e, 0);
    assert!(matches!(
        e.layers.as_ref().unwrap().status,
        crate::app::layers::LayersStatus::Ready { .. }
    ));
    let small = e.preview_photo.as_ref().unwrap().0.image.clone();
    let same = &e.preview.as_ref().unwrap().image;
    let db = crate::eval::metrics::psnr(same, &small).unwrap();
    assert!(
        db >= 40.0,
        "nothing moved, yet the preview differs: {db:.1} dB"
    );

    // Raise the right wrist by a third of the photo: the preview changes near the arm only.
    let (w, h) = (img.width() as f32, img.height() as f32);
    let wrist = e.doc.target.points[pose::skeleton::R_WRIST];
    e.doc.target.points[pose::skeleton::R_WRIST] = [wrist[0], wrist[1] - h / 3.0];
    let before = e.latest_request;
    e.tick();
    assert!(e.latest_request > before);
    let latest = e.latest_request;
    wait_composited(&mut e, latest);
    let moved = &e.preview.as_ref().unwrap().image;
    let s = small.width() as f32 / w;
    let diff: Vec<bool> = moved
        .pixels()
        .zip(small.pixels())
        .map(|(a, b)| a.0.iter().zip(b.0).any(|(x, y)| x.abs_diff(y) > 16))
        .collect();
    let (sw, sh) = (small.width() as usize, small.height() as usize);
    let near_arm = |x: usize, y: usize| {
        let (px, py) = (x as f32 / s, y as f32 / s);
        let shoulder = e.doc.target.points[pose::skeleton::R_SHOULDER];
        // Within the box spanning the arm's old and new places (shoulder, elbow, both wrists:
        // a forearm turning about the elbow changes the cuff below it), grown by 20 % of the
        // photo.
        let elbow = e.doc.target.points[pose::skeleton::R_ELBOW];
        let xs = [
            shoulder[0],
            elbow[0],
            wrist[0],
            e.doc.target.points[pose::skeleton::R_WRIST][0],
        ];
        let ys = [
            shoulder[1],
            elbow[1],
            wrist[1],
            e.doc.target.points[pose::skeleton::R_WRIST][1],
        ];
        let m = 0.2 * w.max(h);
        let lo = |v: &[f32; 4]| v.iter().copied().fold(f32::INFINITY, f32::min) - m;
        let hi = |v: &[f32; 4]| v.iter().copied().fold(f32::NEG_INFINITY, f32::max) + m;
        px >= lo(&xs) && px <= hi(&xs) && py >= lo(&ys) && py <= hi(&ys)
    };
    let (mut inside, mut outside) = (0, 0);
    for y in 0..sh {
        for x in 0..sw {
            if diff[y * sw + x] {
                if near_arm(x, y) {
                    inside += 1;
                } else {
                    outside += 1;
                }
            }
        }
    }
    assert!(
        inside > 200,
        "the arm did not move: {inside} pixels changed"
    );
    assert_eq!(outside, 0, "pixels changed away from the arm");

    // The export is the full-resolution composite, written off the UI thread.
    let out = dir.path().join("reposed.png");
    e.export_photo(&out).unwrap();
    assert!(e.exporting());
    assert!(
        e.export_photo(&out).is_err(),
        "a second export while one runs"
    );
    let t0 = Instant::now();
    while e.exporting() {
        e.tick();
        assert!(
            t0.elapsed() < Duration::from_secs(120),
            "the export did not finish"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(notice(&e).starts_with("Exported"), "{}", notice(&e));
    let written = image::open(&out).unwrap().to_rgb8();
    assert_eq!(written.dimensions(), img.dimensions());
    let far = written.get_pixel(img.width() - 5, img.height() - 5);
    assert_eq!(far, img.get_pixel(img.width() - 5, img.height() - 5));
}

/// The refined method's two stages (issue 26): an edit shows the puppet's composite at once,
/// then, the edit being still, the refined picture of that same edit replaces it — equal to the
/// composite outside the refiner's gate, different inside it; the next edit starts over from its
/// own composite, and a refined picture of the old edit is never shown over it.
#[test]
fn the_refined_preview_replaces_the_composite_once_the_edit_is_still() {
    let test = "the_refined_preview_replaces_the_composite_once_the_edit_is_still";
    let Some((mut e, _dir, _, _)) = cameraman_editor(test, Some(Method::Refined)) else {
        return;
    };
    if crate::model::shipped::default_refiner_weights().is_none() {
        eprintln!("SKIPPED {test}: no shipped refiner");
        return;
    }
    wait_preview(&mut e, "composited", |p| p.composited);
    // Turn the right forearm up about the elbow.
    let elbow = e.doc.target.points[pose::skeleton::R_ELBOW];
    let wrist = e.doc.target.points[pose::skeleton::R_WRIST];
    let len = ((wrist[0] - elbow[0]).powi(2) + (wrist[1] - elbow[1]).powi(2)).sqrt();
    e.doc.target.points[pose::skeleton::R_WRIST] = [elbow[0] + 0.3 * len, elbow[1] - 0.95 * len];
    e.tick();
    let first = e.latest_request;
    wait_preview(&mut e, "instant", |p| p.request == first && p.composited);
    let instant = e.preview.clone().unwrap();
    wait_preview(&mut e, "refined", |p| p.request == first && p.refined);
    let refined = e.preview.clone().unwrap();
    assert!(!instant.refined && refined.composited);
    let changed = instant
        .image
        .pixels()
        .zip(refined.image.pixels())
        .filter(|(a, b)| a != b)
        .count();
    let n = (instant.image.width() * instant.image.height()) as usize;
    assert!(changed > 0, "the refiner changed nothing");
    assert!(
        changed < n / 4,
        "the refiner changed {changed} of {n} pixels"
    );
    assert!(!e.refining());

    // A new edit: its own composite first; no picture of the old edit comes back.
    e.doc.target.points[pose::skeleton::R_WRIST] = [elbow[0] + 0.6 * len, elbow[1] - 0.8 * len];
    e.tick();
    let second = e.latest_request;
    assert!(second > first);
    let t0 = Instant::now();
    let mut second_shown = false;
    loop {
        e.tick();
        let p = e.preview.as_ref().unwrap();
        second_shown |= p.request == second;
        assert!(
            !(second_shown && p.request != second),
            "a preview of the old edit came back over the new one"
        );
        if p.request == second && p.refined {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(120),
            "the second edit was not refined"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The depth toggle of issue 28 end to end: the right forearm brought across the chest is
/// drawn over it by default; "Behind" (one undo step) changes the preview there, the
/// project keeps the choice, and the reopened project previews the same picture.
#[test]
fn depth_toggle_changes_the_preview_and_survives_the_project() {
    use crate::pose::skeleton::*;
    let dir = tempfile::tempdir().unwrap();
    // A textured photo: wherever the warp samples differently, the preview differs.
    let path = dir.path().join("texture.png");
    image::RgbImage::from_fn(240, 320, |x, y| {
        image::Rgb([
            (x * 7 % 251) as u8,
            (y * 5 % 241) as u8,
            ((x ^ y) * 3) as u8,
        ])
    })
    .save(&path)
    .unwrap();
    let options = EditorOptions {
        detect: false,
        composite: false,
        ..Default::default()
    };
    let new_editor = || {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        Editor::with_detect_job(options.clone(), || {}, Arc::new(pool), |_| unreachable!())
    };
    let preview_of = |e: &mut Editor| -> image::RgbImage {
        let t0 = Instant::now();
        loop {
            e.tick();
            let target = e
                .preview_photo
                .as_ref()
                .map(|(_, s)| e.doc.target.to_pose().scaled(*s, *s));
            if e.preview
                .as_ref()
                .is_some_and(|p| p.order == e.doc.order && Some(&p.target) == target.as_ref())
            {
                return e.preview.as_ref().unwrap().image.clone();
            }
            assert!(t0.elapsed() < Duration::from_secs(60), "no preview came");
            std::thread::sleep(Duration::from_millis(5));
        }
    };

    let mut e = new_editor();
    e.open_photo(&path).unwrap();
    e.set_mode(Mode::PoseTarget);
    // Elbow in at the waist, the wrist across the chest by the left shoulder's x.
    let pt = e.doc.target.points;
    let elbow = [
        (pt[R_SHOULDER][0] + pt[NECK][0]) / 2.0,
        (pt[R_SHOULDER][1] + pt[R_HIP][1]) / 2.0,
    ];
    let reach = pt[R_ELBOW][1] - pt[R_SHOULDER][1];
    let wrist = [pt[L_SHOULDER][0], elbow[1] - 0.2 * reach];
    e.edit(|d| {
        d.target.points[R_ELBOW] = elbow;
        d.target.points[R_WRIST] = wrist;
    });
    let auto = preview_of(&mut e);

    e.select_joint(R_WRIST);
    e.set_limb_layer(Limb::RightArm, Some(Layer::Behind));
    let behind = preview_of(&mut e);
    // Where the forearm crosses the chest the two pictures differ (and only a part of
    // the photo: everything away from the forearm is the same).
    let changed = auto
        .pixels()
        .zip(behind.pixels())
        .filter(|(a, b)| a != b)
        .count();
    let all = (auto.width() * auto.height()) as usize;
    assert!(
        changed > 100 && changed < all / 5,
        "{changed} of {all} pixels changed"
    );
    // One undo step each way.
    e.undo();
    assert!(e.doc.order.is_auto());
    e.redo();
    assert_eq!(e.doc.order.right_arm, Some(Layer::Behind));

    let project = dir.path().join("depth.json");
    e.save_project(&project).unwrap();
    let text = std::fs::read_to_string(&project).unwrap();
    assert!(text.contains("\"right_arm\": \"behind\""), "{text}");
    let mut back = new_editor();
    back.open_project(&project).unwrap();
    assert_eq!(back.doc.order, e.doc.order);
    assert_eq!(preview_of(&mut back), behind);
    // Back to automatic: the first picture again.
    back.set_limb_layer(Limb::RightArm, None);
    assert_eq!(preview_of(&mut back), auto);
}
