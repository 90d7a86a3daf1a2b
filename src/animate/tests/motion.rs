//! Tests of [`super`] (motion.rs).
use super::*;
use crate::pose::skeleton::{NECK, NOSE};
use serde_json::json;
use std::cell::Cell;

/// An OpenPose document with one person per entry of `people`: (neck x, confidence), nose
/// 50 px above the neck; `canvas` 640×480.
fn doc(people: &[(f32, f32)]) -> Value {
    let people: Vec<Value> = people
        .iter()
        .map(|&(x, c)| {
            let mut k = vec![0.0f32; 54];
            k[3 * NOSE..3 * NOSE + 3].copy_from_slice(&[x, 50.0, c]);
            k[3 * NECK..3 * NECK + 3].copy_from_slice(&[x, 100.0, 0.9]);
            json!({ "pose_keypoints_2d": k })
        })
        .collect();
    json!({"version": 1.3, "people": people, "canvas_width": 640, "canvas_height": 480})
}

fn neck_xs(clip: &MotionClip) -> Vec<Option<f32>> {
    clip.frames
        .iter()
        .map(|p| p.get(NECK).map(|j| j.x))
        .collect()
}

fn load(path: &Path) -> Result<MotionClip> {
    load_motion(path, &|_, _| {}, &|| false)
}

#[test]
fn natural_order_compares_numbers_as_numbers() {
    let mut names = vec!["x_10", "x_2", "x_000000000001", "x_1b", "y_0", "x_"];
    names.sort_by(|a, b| natural_cmp(a, b));
    assert_eq!(
        names,
        ["x_", "x_000000000001", "x_1b", "x_2", "x_10", "y_0"]
    );
    assert_eq!(
        natural_cmp("a99999999999999999999999", "a100000000000000000000000"),
        Ordering::Less
    );
}

#[test]
fn keypoint_folder_loads_in_natural_order() {
    let dir = tempfile::tempdir().unwrap();
    for n in [10, 2, 1] {
        let name = format!("x_{n:012}_keypoints.json");
        std::fs::write(dir.path().join(name), doc(&[(n as f32, 0.9)]).to_string()).unwrap();
    }
    // OpenPose's rendered frames beside the JSON do not make the folder ambiguous.
    std::fs::write(dir.path().join("x_000000000001_rendered.png"), b"png").unwrap();
    let calls = Cell::new(0);
    let clip = load_motion(dir.path(), &|_, n| calls.set(calls.get() + n), &|| false).unwrap();
    assert_eq!(neck_xs(&clip), [Some(1.0), Some(2.0), Some(10.0)]);
    assert_eq!(calls.get(), 9, "progress after each of the 3 frames");
    assert_eq!(clip.frame_size, Some((640, 480)));
    assert_eq!(clip.fps, None);
    // Unpadded numbers in plain `*.json` names sort as numbers too (text order would not).
    let plain = tempfile::tempdir().unwrap();
    for n in [10, 2, 1] {
        let text = doc(&[(n as f32, 0.9)]).to_string();
        std::fs::write(plain.path().join(format!("f{n}.json")), text).unwrap();
    }
    let clip = load(plain.path()).unwrap();
    assert_eq!(neck_xs(&clip), [Some(1.0), Some(2.0), Some(10.0)]);
    // Cancel stops it.
    let e = load_motion(dir.path(), &|_, _| {}, &|| true).unwrap_err();
    assert!(e.downcast_ref::<Cancelled>().is_some(), "{e:#}");
}

#[test]
fn frames_json_and_top_level_array_both_load() {
    let dir = tempfile::tempdir().unwrap();
    let frames = vec![
        doc(&[(5.0, 0.9)]),
        json!({"people": []}),
        doc(&[(7.0, 0.1)]),
    ];
    let wrapped = dir.path().join("clip.json");
    std::fs::write(&wrapped, json!({"fps": 25, "frames": frames}).to_string()).unwrap();
    let clip = load(&wrapped).unwrap();
    assert_eq!(clip.fps, Some(25.0));
    assert_eq!(neck_xs(&clip), [Some(5.0), None, Some(7.0)]);
    // Frame 2's nose is unsure (0.1 < MIN_CONFIDENCE): missing; its neck (0.9) is kept.
    assert!(clip.frames[2].get(NOSE).is_none());
    assert!(clip.frames[0].get(NOSE).is_some());
    let array = dir.path().join("array.json");
    std::fs::write(&array, Value::Array(frames).to_string()).unwrap();
    let plain = load(&array).unwrap();
    assert_eq!(plain.frames, clip.frames);
    assert_eq!(plain.fps, None);
}

#[test]
fn a_second_person_walking_in_does_not_take_over() {
    let dir = tempfile::tempdir().unwrap();
    // The driver drifts right from x = 100; from frame 1 someone at x ≈ 400 is listed first.
    let frames = json!([
        doc(&[(100.0, 0.9)]),
        doc(&[(400.0, 0.9), (104.0, 0.9)]),
        doc(&[(390.0, 0.9), (108.0, 0.9)]),
        doc(&[(112.0, 0.9), (380.0, 0.9)]),
    ]);
    let path = dir.path().join("two.json");
    std::fs::write(&path, frames.to_string()).unwrap();
    let clip = load(&path).unwrap();
    assert_eq!(
        neck_xs(&clip),
        [Some(100.0), Some(104.0), Some(108.0), Some(112.0)]
    );
}

#[test]
fn bad_inputs_are_errors_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    // Empty folder.
    let e = load(dir.path()).unwrap_err();
    assert!(format!("{e:#}").contains("holds no pose files"), "{e:#}");
    // Plain JSON and images together.
    std::fs::write(dir.path().join("a.json"), doc(&[(1.0, 0.9)]).to_string()).unwrap();
    std::fs::write(dir.path().join("b.png"), b"png").unwrap();
    let e = load(dir.path()).unwrap_err();
    assert!(format!("{e:#}").contains("both JSON files"), "{e:#}");
    std::fs::remove_file(dir.path().join("b.png")).unwrap();
    // A broken frame file in a folder.
    std::fs::write(dir.path().join("b.json"), "{not json").unwrap();
    let e = format!("{:#}", load(dir.path()).unwrap_err());
    assert!(e.contains("b.json") && e.contains("invalid JSON"), "{e}");
    // A coordinate that overflows f32.
    let mut huge = doc(&[(1.0, 0.9)]);
    huge["people"][0]["pose_keypoints_2d"][3] = json!(1e300);
    std::fs::write(dir.path().join("b.json"), huge.to_string()).unwrap();
    let e = format!("{:#}", load(dir.path()).unwrap_err());
    assert!(e.contains("b.json") && e.contains("not finite"), "{e}");
    // A bad frame inside a frames file, a single pose, too many frames, no frames.
    let clip = dir.path().join("clip.json");
    let cases = [
        (
            json!({"frames": [doc(&[(1.0, 0.9)]), {"people": 3}]}),
            "frame 1",
        ),
        (json!({"fps": -1, "frames": []}), "`fps`"),
        (doc(&[(1.0, 0.9)]), "single pose"),
        (json!({"frames": []}), "no frames"),
        (
            Value::Array(vec![json!({"people": []}); MAX_FRAMES + 1]),
            "more than",
        ),
    ];
    for (value, expect) in cases {
        std::fs::write(&clip, value.to_string()).unwrap();
        let e = format!("{:#}", load(&clip).unwrap_err());
        assert!(e.contains("clip.json") && e.contains(expect), "{e}");
    }
    let e = format!("{:#}", load(&dir.path().join("nowhere")).unwrap_err());
    assert!(e.contains("nowhere"), "{e}");
}

#[test]
fn image_folder_is_detected_frame_by_frame() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/samples");
    if let Err(e) = crate::detect::PoseDetector::load_default() {
        eprintln!("SKIPPED image_folder_is_detected_frame_by_frame: {e:#}");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for n in [1, 2, 10] {
        std::fs::copy(
            root.join("astronaut.png"),
            dir.path().join(format!("f{n}.png")),
        )
        .unwrap();
    }
    let done = Cell::new(Vec::new());
    let clip = load_motion(
        dir.path(),
        &|i, n| {
            let mut d = done.take();
            d.push((i, n));
            done.set(d);
        },
        &|| false,
    )
    .unwrap();
    assert_eq!(done.take(), [(1, 3), (2, 3), (3, 3)]);
    assert_eq!(clip.frame_size, Some((512, 512)));
    let expect = crate::pose::read_openpose(root.join("astronaut_source.json"), 0).unwrap();
    let expect = expect.get(NECK).unwrap();
    for pose in &clip.frames {
        let neck = pose.get(NECK).expect("the neck is found");
        let d = (neck.x - expect.x).hypot(neck.y - expect.y);
        assert!(d < 10.0, "neck {neck:?} is {d} px from {expect:?}");
        assert!(pose.present().all(|(_, j)| j.confidence >= MIN_CONFIDENCE));
    }
    // Cancel is polled before each frame.
    let seen = Cell::new(0);
    let e = load_motion(dir.path(), &|_, _| {}, &|| {
        seen.set(seen.get() + 1);
        seen.get() > 2
    })
    .unwrap_err();
    assert!(e.downcast_ref::<Cancelled>().is_some(), "{e:#}");
}
