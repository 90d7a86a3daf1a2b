//! The person matte: the segmentation output of our interpreter against MediaPipe's recorded
//! logits, the matte end to end on every pose fixture photo (size, joints inside, background
//! outside), the matte for a given skeleton against the detected one, and the command line.
//! Everything that needs the BlazePose models prints a `SKIPPED` line without them.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use candle_core::{Device, Tensor};
use marionette::detect::crop::Roi;
use marionette::detect::models;
use marionette::detect::tflite::Interpreter;
use marionette::detect::PoseDetector;
use marionette::imaging::Matte;
use serde_json::Value;

fn note(msg: &str) {
    let _ = writeln!(std::io::stderr(), "{msg}");
}

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/pose")
}

fn detector_or_skip(test: &str) -> Option<PoseDetector> {
    match PoseDetector::load_default() {
        Ok(d) => Some(d),
        Err(e) => {
            note(&format!("SKIPPED {test}: {e:#}"));
            None
        }
    }
}

/// `(name, photo, fixture json)` for every fixture photo present (bus.jpg lives elsewhere).
fn fixture_photos() -> Vec<(String, image::RgbImage, Value)> {
    let mut dirs = vec![fixture_dir()];
    if let Some(extra) = std::env::var_os("MARIONETTE_POSE_FIXTURES") {
        dirs.push(PathBuf::from(extra));
    }
    let mut out = Vec::new();
    for dir in dirs {
        let mut jsons: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        jsons.sort();
        for path in jsons {
            let v: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            let Some(image) = v["image"].as_str() else {
                continue;
            };
            let image = dir.join(image);
            if !image.is_file() {
                note(&format!("SKIPPED {}: no image", path.display()));
                continue;
            }
            let name = path.file_stem().unwrap().to_string_lossy().into_owned();
            out.push((name, image::open(&image).unwrap().to_rgb8(), v));
        }
    }
    out
}

fn values(t: &Tensor) -> Vec<f32> {
    t.flatten_all().unwrap().to_vec1::<f32>().unwrap()
}

#[test]
fn segmentation_logits_match_mediapipe() {
    let Ok(paths) = models::find() else {
        note("SKIPPED segmentation_logits_match_mediapipe: no BlazePose models");
        return;
    };
    let t = candle_core::safetensors::load(
        fixture_dir().join("camera_tensors.safetensors"),
        &Device::Cpu,
    )
    .unwrap();
    let full = Interpreter::load(&paths.landmark).unwrap();
    // The graph detection-with-matte runs (pose outputs, then the segmentation).
    let matte_graph = full.pruned(&[0, 1, 3, 2]).unwrap();
    let pose_graph = full.pruned(&[0, 1, 3]).unwrap();
    let input = &t["lm_input"];
    let out = matte_graph.run(std::slice::from_ref(input)).unwrap();
    let want = values(&t["lm_segmentation_logits"]);
    let got = values(&out[3]);
    assert_eq!(out[3].dims(), &[1, 256, 256, 1]);
    let range = want.iter().fold(0f32, |m, v| m.max(v.abs()));
    let err = got
        .iter()
        .zip(&want)
        .fold(0f32, |m, (a, b)| m.max((a - b).abs()));
    let sig = |x: f32| 1.0 / (1.0 + (-x).exp());
    let prob_err = got
        .iter()
        .zip(&want)
        .fold(0f32, |m, (a, b)| m.max((sig(*a) - sig(*b)).abs()));
    let flipped = got
        .iter()
        .zip(&want)
        .filter(|(a, b)| (**a > 0.0) != (**b > 0.0))
        .count();
    println!(
        "segmentation logits: max |error| {err:.3} on a ±{range:.0} range ({:.2e} relative), \
         after the sigmoid {prob_err:.2e}, {flipped} of 65536 pixels on the other side of 0.5",
        err / range
    );
    // LiteRT's own kernels differ from the recorded XNNPACK run by 6.9e-4 relative here.
    assert!(err / range < 1.4e-3, "relative error {:.2e}", err / range);
    // 1.6e-3 measured: where a logit is near 0 a few 1e-3 of it show after the sigmoid.
    assert!(prob_err < 3e-3, "probability error {prob_err:.2e}");
    assert!(flipped <= 3, "{flipped} pixels changed side");
    // Adding the segmentation output changes none of the pose outputs.
    let pose_out = pose_graph.run(std::slice::from_ref(input)).unwrap();
    for (a, b) in pose_out.iter().zip(&out) {
        assert_eq!(values(a), values(b));
    }
}

/// Confident reference joints as pixel positions.
fn confident_joints(v: &Value) -> Vec<(String, f32, f32)> {
    v["openpose18"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|j| j["confident"].as_bool().unwrap())
        .map(|j| {
            (
                j["name"].as_str().unwrap().to_string(),
                j["x_px"].as_f64().unwrap() as f32,
                j["y_px"].as_f64().unwrap() as f32,
            )
        })
        .collect()
}

/// Alpha at a (real-valued) pixel position, rounded to the nearest pixel.
fn alpha_at(m: &Matte, x: f32, y: f32) -> Option<f32> {
    if x < 0.0 || y < 0.0 {
        return None;
    }
    m.get(x.round() as u32, y.round() as u32)
}

#[test]
fn matte_covers_the_person_on_every_fixture_photo() {
    let Some(detector) = detector_or_skip("matte_covers_the_person_on_every_fixture_photo") else {
        return;
    };
    let photos = fixture_photos();
    assert!(!photos.is_empty());
    for (name, img, want) in photos {
        let (det, matte) = detector
            .detect_with_matte(&img)
            .unwrap()
            .unwrap_or_else(|| panic!("{name}: no person"));
        assert_eq!(matte.dimensions(), img.dimensions(), "{name}");
        // The matte graph gives the same skeleton as plain detection.
        let plain = detector.detect(&img).unwrap().unwrap();
        assert_eq!(plain.pose, det.pose, "{name}");
        let joints = confident_joints(&want);
        let inside: Vec<&str> = joints
            .iter()
            .filter(|(_, x, y)| alpha_at(&matte, *x, *y).is_some_and(|a| a > 0.5))
            .map(|(n, _, _)| n.as_str())
            .collect();
        let outside: Vec<&str> = joints
            .iter()
            .filter(|(n, _, _)| !inside.contains(&n.as_str()))
            .map(|(n, _, _)| n.as_str())
            .collect();
        let (w, h) = img.dimensions();
        let corners =
            [(0, 0), (w - 1, 0), (0, h - 1), (w - 1, h - 1)].map(|(x, y)| matte.get(x, y).unwrap());
        let coverage = matte.coverage(0.5);
        println!(
            "{name}: {} of {} confident joints inside the matte (outside: {outside:?}), \
             corners {corners:.2?}, {:.1} % of the photo is the person, matte {:.1} ms",
            inside.len(),
            joints.len(),
            100.0 * coverage,
            det.times.matte_ms
        );
        assert!(
            inside.len() * 10 >= joints.len() * 8,
            "{name}: only {} of {} joints inside",
            inside.len(),
            joints.len()
        );
        assert!(
            corners.iter().all(|&a| a < 0.5),
            "{name}: corners {corners:?}"
        );
        assert!(
            (0.03..0.7).contains(&coverage),
            "{name}: coverage {coverage}"
        );
        // Refinement moves edges, not the person: the raw upsampled mask agrees.
        let mut raw_detector = detector_or_skip("raw").unwrap();
        raw_detector.refine_matte = marionette::detect::MatteRefine::Off;
        let (_, raw) = raw_detector.detect_with_matte(&img).unwrap().unwrap();
        let iou = raw.iou(&matte, 0.5).unwrap();
        println!("{name}: refined vs raw matte IoU {iou:.3}");
        assert!(iou > 0.9, "{name}: refined vs raw IoU {iou}");
    }
}

#[test]
fn matte_for_the_reference_skeleton_matches_the_detected_one() {
    let Some(detector) =
        detector_or_skip("matte_for_the_reference_skeleton_matches_the_detected_one")
    else {
        return;
    };
    for (name, img, want) in fixture_photos() {
        let (det, detected) = detector.detect_with_matte(&img).unwrap().unwrap();
        // The fixture's skeleton as a pose file gives it: confident joints only.
        let pose =
            marionette::pose::parse_openpose_value(&want, 0).unwrap_or_else(|e| panic!("{e}"));
        let roi = Roi::from_pose(&pose.pose).unwrap();
        let from_pose = detector.matte_for_pose(&img, &pose.pose).unwrap();
        let iou = from_pose.iou(&detected, 0.5).unwrap();
        let mp = &want["landmark_roi"];
        let side = mp["side_px"].as_f64().unwrap() as f32;
        let (cx, cy) = (
            mp["x_center"].as_f64().unwrap() as f32 * img.width() as f32,
            mp["y_center"].as_f64().unwrap() as f32 * img.height() as f32,
        );
        let centre_off = (roi.cx - cx).hypot(roi.cy - cy) / side;
        let turn = (roi.rotation - mp["rotation_rad"].as_f64().unwrap() as f32).abs();
        println!(
            "{name}: ROI from the skeleton: side {:.0} vs MediaPipe's {side:.0} (ours from \
             the detector {:.0}), centre {:.1} % of the side away, rotation {turn:.3} rad off; \
             matte IoU with the detected one {iou:.3}",
            roi.side,
            det.roi.side,
            100.0 * centre_off
        );
        assert!(
            (roi.side / side - 1.0).abs() < 0.1,
            "{name}: side {}",
            roi.side
        );
        assert!(centre_off < 0.1, "{name}: centre {centre_off}");
        assert!(turn < 0.15, "{name}: rotation {turn}");
        assert!(iou >= 0.9, "{name}: IoU {iou}");
    }
}

#[test]
fn matte_for_a_pose_needs_a_skeleton() {
    let Some(detector) = detector_or_skip("matte_for_a_pose_needs_a_skeleton") else {
        return;
    };
    let img = image::RgbImage::from_pixel(64, 48, image::Rgb([120, 120, 120]));
    let empty = marionette::pose::Pose::missing();
    let err = detector.matte_for_pose(&img, &empty).unwrap_err();
    assert!(format!("{err:#}").contains("too few joints"), "{err:#}");
    // A skeleton on a flat grey picture: the landmark model sees nobody there.
    let mut pose = marionette::pose::Pose::missing();
    pose.set(1, Some(marionette::pose::Joint::new(32.0, 10.0, 1.0)));
    pose.set(8, Some(marionette::pose::Joint::new(30.0, 30.0, 1.0)));
    pose.set(11, Some(marionette::pose::Joint::new(36.0, 30.0, 1.0)));
    let err = detector.matte_for_pose(&img, &pose).unwrap_err();
    assert!(format!("{err:#}").contains("no person"), "{err:#}");
}

#[test]
fn detect_writes_the_matte_png() {
    if let Err(e) = models::find() {
        note(&format!("SKIPPED detect_writes_the_matte_png: {e:#}"));
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let photo = fixture_dir().join("camera.png");
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_marionette"))
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let matte = dir.path().join("matte.png");
    let photo_s = photo.to_str().unwrap();
    run(&["detect", photo_s, "--matte", matte.to_str().unwrap()]);
    let detected = image::open(&matte).unwrap();
    assert!(matches!(detected, image::DynamicImage::ImageLuma8(_)));
    let detected = detected.to_luma8();
    assert_eq!(detected.dimensions(), (512, 512));
    // From the fixture's skeleton: the same person.
    let from_pose = dir.path().join("matte_pose.png");
    let pose = fixture_dir().join("camera.json");
    run(&[
        "detect",
        photo_s,
        "--source-pose",
        pose.to_str().unwrap(),
        "--matte",
        from_pose.to_str().unwrap(),
    ]);
    let from_pose = image::open(&from_pose).unwrap().to_luma8();
    let as_matte = |g: &image::GrayImage| {
        Matte::new(
            g.width(),
            g.height(),
            g.as_raw().iter().map(|&v| v as f32 / 255.0).collect(),
        )
        .unwrap()
    };
    let iou = as_matte(&detected).iou(&as_matte(&from_pose), 0.5).unwrap();
    assert!(iou > 0.9, "IoU {iou}");
    // `--source-pose` without `--matte` is refused before any work.
    let out = Command::new(env!("CARGO_BIN_EXE_marionette"))
        .args(["detect", photo_s, "--source-pose", pose.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
}
