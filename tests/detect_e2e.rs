//! Detection end to end, photo to OpenPose-18, against MediaPipe's own results for every
//! photo in `../shared/fixtures/pose/` and in `$MARIONETTE_POSE_FIXTURES` (when set): each
//! `*.json` there whose image is present is run; the others are reported as skipped.

use std::io::Write;
use std::path::{Path, PathBuf};

use marionette::detect::models::sha256_hex;
use marionette::detect::PoseDetector;
use serde_json::Value;

/// Tolerance of the README: 3% of the landmark ROI's side, for joints marked `confident`.
const ROI_FRACTION: f64 = 0.03;

/// Prints to the real stderr, which the test harness does not capture: skips stay visible.
fn note(msg: &str) {
    let _ = writeln!(std::io::stderr(), "{msg}");
}

fn fixture_dirs() -> Vec<PathBuf> {
    let mut dirs = vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/pose")];
    if let Some(extra) = std::env::var_os("MARIONETTE_POSE_FIXTURES") {
        dirs.push(PathBuf::from(extra));
    }
    dirs
}

/// `(json path, parsed json, image path)` of every fixture whose image is present.
fn fixtures() -> Vec<(PathBuf, Value, PathBuf)> {
    let mut out = Vec::new();
    for dir in fixture_dirs() {
        let mut jsons: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        jsons.sort();
        for path in jsons {
            let v: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap())
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let Some(image) = v["image"].as_str() else {
                continue; // not a photo fixture (e.g. the op trace)
            };
            let image = dir.join(image);
            if image.is_file() {
                out.push((path, v, image));
            } else {
                note(&format!(
                    "SKIPPED {}: its image {} is not there",
                    path.display(),
                    image.display()
                ));
            }
        }
    }
    out
}

#[test]
fn detected_joints_match_mediapipe_on_every_fixture_photo() {
    let detector = match PoseDetector::load_default() {
        Ok(d) => d,
        Err(e) => {
            note(&format!(
                "SKIPPED detected_joints_match_mediapipe_on_every_fixture_photo: {e:#}"
            ));
            return;
        }
    };
    let fixtures = fixtures();
    assert!(!fixtures.is_empty(), "no fixture photo found");
    for (json_path, want, image_path) in fixtures {
        let name = json_path.display().to_string();
        let bytes = std::fs::read(&image_path).unwrap();
        if let Some(sha) = want["source"]["sha256"].as_str() {
            assert_eq!(
                sha256_hex(&bytes),
                sha,
                "{name}: the image is not the reference's"
            );
        }
        let img = image::load_from_memory(&bytes).unwrap().to_rgb8();
        let found = detector.detect(&img).unwrap();
        if !want["pose_found"].as_bool().unwrap_or(true) {
            assert!(found.is_none(), "{name}: MediaPipe found no one, we did");
            continue;
        }
        let det = found.unwrap_or_else(|| panic!("{name}: no person found"));
        let want_score = want["detector"]["score"].as_f64().unwrap();
        assert!(
            (det.person.score as f64 - want_score).abs() < 0.01,
            "{name}: detector score {} vs {want_score}",
            det.person.score
        );
        let side = want["landmark_roi"]["side_px"].as_f64().unwrap();
        let tol = ROI_FRACTION * side;
        let mut worst: f64 = 0.0;
        let mut compared = 0;
        for (j, joint) in want["openpose18"].as_array().unwrap().iter().enumerate() {
            if !joint["confident"].as_bool().unwrap() {
                continue;
            }
            let (wx, wy) = (
                joint["x_px"].as_f64().unwrap(),
                joint["y_px"].as_f64().unwrap(),
            );
            let ours = det.pose.get(j).unwrap_or_else(|| {
                panic!(
                    "{name}: joint {j} ({}) is confident in the reference but missing here",
                    joint["name"]
                )
            });
            let d = ((ours.x as f64 - wx).powi(2) + (ours.y as f64 - wy).powi(2)).sqrt();
            assert!(
                d <= tol,
                "{name}: joint {j} ({}) is {d:.1} px off (tolerance {tol:.1})",
                joint["name"]
            );
            worst = worst.max(d);
            compared += 1;
        }
        assert!(compared > 0, "{name}: no confident joint to compare");
        println!(
            "{name}: {compared} confident joints, worst {worst:.2} px ({:.2}% of the ROI side), score {:.4} vs {want_score:.4}",
            100.0 * worst / side,
            det.person.score
        );
    }
}

#[test]
fn photos_without_a_person_give_none() {
    let detector = match PoseDetector::load_default() {
        Ok(d) => d,
        Err(e) => {
            note(&format!("SKIPPED photos_without_a_person_give_none: {e:#}"));
            return;
        }
    };
    // A flat grey picture and a smooth gradient: nothing for the detector to find.
    let grey = image::RgbImage::from_pixel(320, 240, image::Rgb([128, 128, 128]));
    assert!(detector.detect(&grey).unwrap().is_none());
    let gradient = image::RgbImage::from_fn(200, 300, |x, y| image::Rgb([x as u8, y as u8, 90]));
    assert!(detector.detect(&gradient).unwrap().is_none());
    // Absurd sizes are an error, not a panic or a huge allocation.
    let empty = image::RgbImage::new(0, 0);
    assert!(detector.detect(&empty).is_err());
}
