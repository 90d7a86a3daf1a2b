//! Tests of the `detect` module (BlazePose maths around the networks) against the MediaPipe
//! 0.10.14 reference fixtures in `../shared/fixtures/pose` (see its README): anchors, detector
//! decoding and weighted NMS, the two input crops, the ROI, landmark decoding and the mapping
//! to OpenPose-18. The raw network outputs come from the fixtures, so no model is needed.

use std::collections::HashMap;
use std::f32::consts::PI;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use image::RgbImage;
use marionette::detect::anchors::pose_anchors;
use marionette::detect::crop::{detector_input, landmark_input, Letterbox, Roi, LANDMARK_INPUT};
use marionette::detect::decode::{
    decode_detections, remove_letterbox, weighted_nms, weighted_nms_clusters, PersonDetection,
    DETECTOR_INPUT, MIN_DETECTION_SCORE, NUM_ANCHORS,
};
use marionette::detect::landmarks::{
    decode_landmarks, pose_present, Landmark, HEATMAP_SIZE, NUM_LANDMARKS, REFINE_KERNEL,
};
use marionette::detect::mapping::{to_openpose, MIN_VISIBILITY, OPENPOSE_FROM_BLAZEPOSE};
use marionette::pose::NUM_JOINTS;
use serde_json::Value;

// ---------------------------------------------------------------------------------------------
// Fixtures

/// `../shared/fixtures/pose` next to the crate: the recorded camera tensors live there.
fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/pose")
}

/// Every folder of pose JSONs: the shared one, and `$MARIONETTE_POSE_FIXTURES` when set.
fn fixture_dirs() -> Vec<PathBuf> {
    let mut dirs = vec![fixture_dir()];
    dirs.extend(std::env::var_os("MARIONETTE_POSE_FIXTURES").map(PathBuf::from));
    dirs
}

/// `camera_tensors.safetensors`: every tensor as flat f32, and the parsed `json` metadata.
struct CameraTensors {
    tensors: HashMap<String, (Vec<usize>, Vec<f32>)>,
    meta: Value,
}

impl CameraTensors {
    /// Tensor `name`, checking its shape so a changed fixture fails loudly.
    fn get(&self, name: &str, shape: &[usize]) -> &[f32] {
        let (have, data) = self
            .tensors
            .get(name)
            .unwrap_or_else(|| panic!("tensor {name} missing from the fixture"));
        assert_eq!(have, shape, "shape of {name}");
        data
    }
}

/// Loaded once: several tests read the same 2.4 MB file.
fn camera() -> &'static CameraTensors {
    static CAMERA: OnceLock<CameraTensors> = OnceLock::new();
    CAMERA.get_or_init(|| load_camera(&fixture_dir().join("camera_tensors.safetensors")))
}

fn load_camera(path: &Path) -> CameraTensors {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let (_, header) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let json = header
        .metadata()
        .as_ref()
        .and_then(|m| m.get("json"))
        .unwrap();
    let meta = serde_json::from_str(json).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let tensors = st
        .tensors()
        .into_iter()
        .map(|(name, view)| {
            assert_eq!(view.dtype(), safetensors::Dtype::F32, "{name}");
            let data = view
                .data()
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
            (name, (view.shape().to_vec(), data))
        })
        .collect();
    CameraTensors { tensors, meta }
}

fn load_rgb(name: &str) -> RgbImage {
    let path = fixture_dir().join(name);
    image::open(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .to_rgb8()
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn f(v: &Value) -> f32 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}")) as f32
}

fn fvec(v: &Value) -> Vec<f32> {
    v.as_array().expect("array").iter().map(f).collect()
}

/// A fixture detection (`box_xywh` = xmin, ymin, width, height; `kps`) as the crate's type.
fn fixture_detection(v: &Value) -> PersonDetection {
    let b = fvec(&v["box_xywh"]);
    let kps = v["kps"].as_array().expect("kps");
    PersonDetection {
        score: f(&v["score"]),
        xmin: b[0],
        ymin: b[1],
        width: b[2],
        height: b[3],
        keypoints: std::array::from_fn(|k| [f(&kps[k][0]), f(&kps[k][1])]),
    }
}

/// The image size of the camera fixture, from the metadata.
fn camera_size() -> (u32, u32) {
    let wh = &camera().meta["image_size_wh"];
    (f(&wh[0]) as u32, f(&wh[1]) as u32)
}

/// The reference ROI in pixels (the metadata's is normalised: centre / W, H and side / W).
fn fixture_roi() -> Roi {
    let (w, h) = camera_size();
    let r = &camera().meta["roi"];
    Roi {
        cx: f(&r["x_center"]) * w as f32,
        cy: f(&r["y_center"]) * h as f32,
        side: f(&r["width"]) * w as f32,
        rotation: f(&r["rotation"]),
    }
}

fn assert_close(got: f32, want: f32, tol: f32, what: &str) {
    assert!(
        (got - want).abs() <= tol,
        "{what}: got {got}, want {want} (tolerance {tol})"
    );
}

fn assert_detection_close(got: &PersonDetection, want: &PersonDetection, tol: f32, what: &str) {
    assert_close(got.score, want.score, tol, &format!("{what} score"));
    assert_close(got.xmin, want.xmin, tol, &format!("{what} xmin"));
    assert_close(got.ymin, want.ymin, tol, &format!("{what} ymin"));
    assert_close(got.width, want.width, tol, &format!("{what} width"));
    assert_close(got.height, want.height, tol, &format!("{what} height"));
    for k in 0..4 {
        for c in 0..2 {
            let (g, w) = (got.keypoints[k][c], want.keypoints[k][c]);
            assert_close(g, w, tol, &format!("{what} keypoint {k}[{c}]"));
        }
    }
}

/// (mean, max) absolute difference of two equally long slices.
fn abs_diff_stats(a: &[f32], b: &[f32]) -> (f64, f32) {
    assert_eq!(a.len(), b.len());
    let (sum, max) = a.iter().zip(b).fold((0.0f64, 0.0f32), |(s, m), (x, y)| {
        let d = (x - y).abs();
        (s + d as f64, m.max(d))
    });
    (sum / a.len() as f64, max)
}

/// Applies a 2x3 tensor-to-image matrix to tensor pixel `(u, v)`.
fn apply(m: &[[f32; 3]; 2], u: f32, v: f32) -> (f32, f32) {
    (
        m[0][0] * u + m[0][1] * v + m[0][2],
        m[1][0] * u + m[1][1] * v + m[1][2],
    )
}

fn fixture_affine(key: &str) -> [[f32; 3]; 2] {
    let m = &camera().meta[key];
    std::array::from_fn(|r| std::array::from_fn(|c| f(&m[r][c])))
}

/// The reference pipeline's decoded detections, before NMS.
fn decoded_camera_detections() -> Vec<PersonDetection> {
    let c = camera();
    let boxes = c.get("det_raw_boxes", &[1, NUM_ANCHORS, 12]);
    let scores = c.get("det_raw_scores", &[1, NUM_ANCHORS, 1]);
    decode_detections(boxes, scores, &pose_anchors()).unwrap()
}

// ---------------------------------------------------------------------------------------------
// Anchors and detector decoding

#[test]
fn anchors_match_mediapipe() {
    let anchors = pose_anchors();
    let want = camera().get("anchors_xywh", &[NUM_ANCHORS, 4]);
    assert_eq!(anchors.len(), NUM_ANCHORS);
    for (i, (a, w)) in anchors.iter().zip(want.chunks_exact(4)).enumerate() {
        assert_close(a[0], w[0], 1e-6, &format!("anchor {i} x"));
        assert_close(a[1], w[1], 1e-6, &format!("anchor {i} y"));
        assert_eq!((w[2], w[3]), (1.0, 1.0), "anchor {i} size");
    }
}

#[test]
fn decoding_reproduces_detections_before_nms() {
    let got = decoded_camera_detections();
    let want = camera().meta["det_decoded_before_nms"].as_array().unwrap();
    // The reference lists anchors 467, 469, 523, 525, 1688, 1690; the decoder keeps anchor
    // order, so equal counts and matching values mean the same anchors survived.
    assert_eq!(
        got.len(),
        want.len(),
        "detections scoring >= {MIN_DETECTION_SCORE}"
    );
    assert_eq!(want.len(), 6);
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let anchor = w["anchor"].as_u64().unwrap() as usize;
        let a = pose_anchors()[anchor];
        let centre = [g.xmin + g.width / 2.0, g.ymin + g.height / 2.0];
        // Offsets are a few detector pixels, so each box centre lies near its own anchor.
        assert!((centre[0] - a[0]).abs() < 0.1 && (centre[1] - a[1]).abs() < 0.1);
        assert_detection_close(g, &fixture_detection(w), 1e-5, &format!("detection {i}"));
    }
}

#[test]
fn weighted_nms_reproduces_mediapipe() {
    let clusters = weighted_nms_clusters(decoded_camera_detections());
    let want = camera().meta["det_after_weighted_nms"].as_array().unwrap();
    assert_eq!(clusters.len(), want.len());
    for (g, w) in clusters.iter().zip(want) {
        assert_eq!(g.n_merged as u64, w["n_merged"].as_u64().unwrap());
        assert_detection_close(&g.detection, &fixture_detection(w), 1e-5, "merged");
    }
    let plain = weighted_nms(decoded_camera_detections());
    assert_eq!(plain[0], clusters[0].detection);
}

#[test]
fn final_detection_matches_after_letterbox_removal() {
    let meta = &camera().meta;
    let pad = fvec(&meta["det_letterbox_pad_ltrb"]);
    let merged = weighted_nms(decoded_camera_detections());
    let got = remove_letterbox(&merged[0], [pad[0], pad[1], pad[2], pad[3]]);
    let want = fixture_detection(&meta["det_final_image_normalised"][0]);
    assert_detection_close(&got, &want, 1e-5, "final detection");
    // camera.json stores the same detection rounded to 7 digits.
    let json = read_json(&fixture_dir().join("camera.json"));
    let box_json = fvec(&json["detector"]["box_xywh_norm"]);
    assert_close(got.xmin, box_json[0], 1e-6, "camera.json xmin");
    assert_close(got.height, box_json[3], 1e-6, "camera.json height");
}

#[test]
fn decoding_rejects_wrong_lengths() {
    let anchors = pose_anchors();
    let boxes = vec![0.0; NUM_ANCHORS * 12];
    let scores = vec![0.0; NUM_ANCHORS];
    assert!(decode_detections(&boxes[1..], &scores, &anchors).is_err());
    assert!(decode_detections(&boxes, &scores[1..], &anchors).is_err());
    assert!(decode_detections(&boxes, &scores, &anchors[1..]).is_err());
    // Logit 0 is exactly 0.5, which is kept (>=); everything else here is below.
    let mut scores = vec![-3.0; NUM_ANCHORS];
    scores[7] = 0.0;
    scores[8] = f32::NAN;
    let dets = decode_detections(&boxes, &scores, &anchors).unwrap();
    assert_eq!(dets.len(), 1);
    assert_eq!(dets[0].score, 0.5);
    assert_eq!(dets[0].keypoints[0], anchors[7]);
}

/// A square box at `(x, y)` of side `s`, all keypoints at its corner.
fn square(score: f32, x: f32, y: f32, s: f32) -> PersonDetection {
    PersonDetection {
        score,
        xmin: x,
        ymin: y,
        width: s,
        height: s,
        keypoints: [[x, y]; 4],
    }
}

#[test]
fn disjoint_boxes_both_survive_nms() {
    let low = square(0.6, 0.1, 0.1, 0.2);
    let high = square(0.9, 0.6, 0.6, 0.3);
    let got = weighted_nms_clusters(vec![low.clone(), high.clone()]);
    assert_eq!(got.len(), 2);
    assert_eq!((got[0].n_merged, got[1].n_merged), (1, 1));
    // Unchanged but for rounding: the merge goes through the corners, as MediaPipe's does.
    assert_detection_close(&got[0].detection, &high, 1e-6, "best first");
    assert_detection_close(&got[1].detection, &low, 1e-6, "second");
}

#[test]
fn overlapping_boxes_merge_with_score_weights() {
    // Shifted by 0.05 on a 0.2 box: IoU = 0.03 / 0.05 = 0.6 > 0.3.
    let a = square(0.75, 0.10, 0.10, 0.2);
    let b = square(0.25, 0.15, 0.10, 0.2);
    // IoU (0.05 * 0.2) / (0.08 - 0.01) = 0.14, not above NMS_IOU = 0.3: separate.
    let c = square(0.5, 0.25, 0.10, 0.2);
    let got = weighted_nms_clusters(vec![b, c.clone(), a]);
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].n_merged, 2);
    let m = &got[0].detection;
    assert_eq!(m.score, 0.75, "the best score is kept, not averaged");
    assert_close(m.xmin, 0.75 * 0.10 + 0.25 * 0.15, 1e-6, "weighted xmin");
    assert_close(m.width, 0.2, 1e-6, "weighted width");
    assert_close(m.keypoints[2][0], 0.1125, 1e-6, "weighted keypoint");
    assert_detection_close(&got[1].detection, &c, 1e-6, "separate box");
}

#[test]
fn letterbox_removal_for_a_wide_image() {
    // 400 x 200: the image fills the middle half of the square vertically.
    let lb = Letterbox::for_image(400, 200);
    assert_eq!(lb.pad_ltrb, [0.0, 0.25, 0.0, 0.25]);
    assert_eq!(lb.side, 400.0);
    assert_eq!(lb.origin, [0.0, -100.0]);
    // A box at image-normalised (0.1, 0.2) size (0.3, 0.4) sits at y = 0.25 + 0.5·y in the
    // square, with half its height.
    let in_square = PersonDetection {
        score: 0.8,
        xmin: 0.1,
        ymin: 0.25 + 0.5 * 0.2,
        width: 0.3,
        height: 0.5 * 0.4,
        keypoints: [[0.5, 0.25], [0.0, 0.75], [1.0, 0.5], [0.2, 0.3]],
    };
    let got = remove_letterbox(&in_square, lb.pad_ltrb);
    let want = PersonDetection {
        score: 0.8,
        xmin: 0.1,
        ymin: 0.2,
        width: 0.3,
        height: 0.4,
        keypoints: [[0.5, 0.0], [0.0, 1.0], [1.0, 0.5], [0.2, 0.1]],
    };
    assert_detection_close(&got, &want, 1e-6, "unletterboxed");
    // Tall images pad left and right instead.
    assert_eq!(
        Letterbox::for_image(100, 400).pad_ltrb,
        [0.375, 0.0, 0.375, 0.0]
    );
}

// ---------------------------------------------------------------------------------------------
// Crops and ROI

#[test]
fn roi_from_reference_detection_matches_mediapipe() {
    let (w, h) = camera_size();
    let det = fixture_detection(&camera().meta["det_final_image_normalised"][0]);
    let roi = Roi::from_detection(&det, w, h);
    let want = &camera().meta["roi"];
    assert_close(roi.cx / w as f32, f(&want["x_center"]), 1e-5, "x_center");
    assert_close(roi.cy / h as f32, f(&want["y_center"]), 1e-5, "y_center");
    assert_close(roi.side / w as f32, f(&want["width"]), 1e-5, "width");
    assert_close(roi.side / h as f32, f(&want["height"]), 1e-5, "height");
    assert_close(roi.rotation, f(&want["rotation"]), 1e-5, "rotation");
}

#[test]
fn roi_angle_is_normalised_to_minus_pi_pi() {
    // Full-body point straight below the hips: pi/2 - atan2(-dy, 0) = pi, which is -pi.
    let mut det = square(0.9, 0.4, 0.4, 0.2);
    det.keypoints[0] = [0.5, 0.5];
    det.keypoints[1] = [0.5, 0.7];
    let roi = Roi::from_detection(&det, 100, 200);
    assert_close(roi.rotation, -PI, 1e-6, "rotation");
    // Side 2.5·|kp1 - kp0| in pixels: 2.5 · 0.2 · 200.
    assert_close(roi.side, 100.0, 1e-4, "side");
    assert_eq!((roi.cx, roi.cy), (50.0, 100.0));
    // Upright person: full-body point straight above, no rotation.
    det.keypoints[1] = [0.5, 0.3];
    assert_close(
        Roi::from_detection(&det, 100, 200).rotation,
        0.0,
        1e-6,
        "upright",
    );
}

#[test]
fn crop_affine_maps_match_mediapipe() {
    let (w, h) = camera_size();
    let det_m = Letterbox::for_image(w, h).tensor_to_image_affine();
    let lm_m = fixture_roi().tensor_to_image_affine();
    let want_det = fixture_affine("det_tensor_to_image_affine_2x3");
    let want_lm = fixture_affine("lm_tensor_to_image_affine_2x3");
    // Compare where it matters: the images of the tensor corners and centre.
    let n_det = DETECTOR_INPUT as f32;
    let n_lm = LANDMARK_INPUT as f32;
    for (u, v) in [(0.0, 0.0), (1.0, 0.0), (0.0, 1.0), (0.5, 0.5), (1.0, 1.0)] {
        let (gx, gy) = apply(&det_m, u * n_det, v * n_det);
        let (wx, wy) = apply(&want_det, u * n_det, v * n_det);
        assert_close(gx, wx, 1e-3, "detector x");
        assert_close(gy, wy, 1e-3, "detector y");
        let (gx, gy) = apply(&lm_m, u * n_lm, v * n_lm);
        let (wx, wy) = apply(&want_lm, u * n_lm, v * n_lm);
        // The ROI is stored as f32 normalised values; 2e-3 px on a 973 px side.
        assert_close(gx, wx, 2e-3, "landmark x");
        assert_close(gy, wy, 2e-3, "landmark y");
        let (tx, ty) = fixture_roi().to_image(u, v);
        assert_close(tx, wx, 2e-3, "Roi::to_image x");
        assert_close(ty, wy, 2e-3, "Roi::to_image y");
    }
}

/// How many values of two tensors differ by more than float rounding.
fn count_differing(a: &[f32], b: &[f32]) -> usize {
    a.iter()
        .zip(b)
        .filter(|(x, y)| (*x - *y).abs() > 1e-4)
        .count()
}

#[test]
fn detector_input_matches_mediapipe() {
    let (got, pad) = detector_input(&load_rgb("camera.png"));
    let want = camera().get("det_input", &[1, DETECTOR_INPUT, DETECTOR_INPUT, 3]);
    assert_eq!(pad.to_vec(), fvec(&camera().meta["det_letterbox_pad_ltrb"]));
    let (mean, max) = abs_diff_stats(&got, want);
    let differing = count_differing(&got, want);
    eprintln!("detector input vs MediaPipe: mean {mean:.3e}, max {max:.3e}, {differing} differ");
    // Measured on [-1, 1] (one 8-bit level = 7.8e-3): mean 3.3e-8, max 1.2e-7, no value off
    // by a level, thanks to the OpenCV-style 1/32-pixel positions and 8-bit rounding. A plain
    // float bilinear sampler gives mean 1.9e-3, max 2.1e-2 here; sampling at pixel centres
    // (+0.5) instead of MediaPipe's corner convention gives mean 5.6e-2, max 1.5.
    assert!(mean < 1e-5, "mean {mean}");
    assert!(max < 7.9e-3, "max {max} (more than one 8-bit level)");
    assert!(differing <= 20, "{differing} of {} values", got.len());
}
#[test]
fn detector_input_letterboxes_wide_images_with_black() {
    // 8 x 4 white image: rows of the top and bottom quarter are padding (-1), the middle is
    // the image (+1).
    let img = RgbImage::from_pixel(8, 4, image::Rgb([255, 255, 255]));
    let (t, pad) = detector_input(&img);
    assert_eq!(pad, [0.0, 0.25, 0.0, 0.25]);
    let at = |u: usize, v: usize| t[(v * DETECTOR_INPUT + u) * 3];
    assert_eq!(at(100, 10), -1.0);
    assert_eq!(at(100, 212), -1.0);
    assert_eq!(at(0, 112), 1.0);
    assert_eq!(at(100, 100), 1.0);
    // An empty image cannot panic: all padding.
    let (t, _) = detector_input(&RgbImage::new(0, 0));
    assert!(t.iter().all(|&x| x == -1.0));
}

#[test]
fn landmark_input_matches_mediapipe() {
    let got = landmark_input(&load_rgb("camera.png"), &fixture_roi());
    let want = camera().get("lm_input", &[1, LANDMARK_INPUT, LANDMARK_INPUT, 3]);
    let (mean, max) = abs_diff_stats(&got, want);
    let differing = count_differing(&got, want);
    eprintln!("landmark input vs MediaPipe: mean {mean:.3e}, max {max:.3e}, {differing} differ");
    // Measured on [0, 1] (one 8-bit level = 3.9e-3), the rotated crop reaching far outside the
    // photo (replicated border): mean 5.6e-7, max 7.8e-3 (two levels, 3 values); 24 of 196608
    // values differ at all (sample positions on a 1/32-pixel rounding boundary). A plain float
    // bilinear sampler gives mean 7.0e-4, max 1.0e-2; a half-pixel error, mean 2.3e-2.
    assert!(mean < 1e-5, "mean {mean}");
    assert!(max < 7.9e-3, "max {max} (more than two 8-bit levels)");
    assert!(differing <= 100, "{differing} of {} values", got.len());
}

#[test]
fn landmark_input_replicates_the_border() {
    // A 2 x 1 image (red | blue) and a crop much larger than it: left half red, right blue.
    let img = RgbImage::from_fn(2, 1, |x, _| {
        image::Rgb(if x == 0 { [255, 0, 0] } else { [0, 0, 255] })
    });
    let roi = Roi {
        cx: 0.5,
        cy: 0.0,
        side: 100.0,
        rotation: 0.0,
    };
    let t = landmark_input(&img, &roi);
    let at = |u: usize, v: usize, c: usize| t[(v * LANDMARK_INPUT + u) * 3 + c];
    assert_eq!((at(0, 0, 0), at(0, 0, 2)), (1.0, 0.0));
    assert_eq!((at(255, 255, 0), at(255, 255, 2)), (0.0, 1.0));
    assert!(landmark_input(&RgbImage::new(0, 3), &roi)
        .iter()
        .all(|&x| x == 0.0));
}

// ---------------------------------------------------------------------------------------------
// Landmarks

fn camera_landmarks(roi: &Roi, kernel: usize) -> Vec<Landmark> {
    let c = camera();
    let raw = c.get("lm_raw_landmarks", &[1, NUM_LANDMARKS * 5]);
    let heatmap = c.get(
        "lm_heatmap",
        &[1, HEATMAP_SIZE, HEATMAP_SIZE, NUM_LANDMARKS],
    );
    decode_landmarks(raw, heatmap, roi, kernel).unwrap()
}

/// Compares px landmarks with the metadata's normalised ones (z normalised by the width).
fn assert_landmarks_match(got: &[Landmark], key: &str, tol: f32) {
    let (w, h) = camera_size();
    let want = camera().meta[key].as_array().unwrap();
    assert_eq!(got.len(), NUM_LANDMARKS);
    assert_eq!(want.len(), NUM_LANDMARKS);
    for (i, (g, wv)) in got.iter().zip(want).enumerate() {
        let wv = fvec(wv);
        assert_close(g.x / w as f32, wv[0], tol, &format!("{key} {i} x"));
        assert_close(g.y / h as f32, wv[1], tol, &format!("{key} {i} y"));
        assert_close(g.z / w as f32, wv[2], tol, &format!("{key} {i} z"));
        assert_close(g.visibility, wv[3], tol, &format!("{key} {i} visibility"));
        assert_close(g.presence, wv[4], tol, &format!("{key} {i} presence"));
    }
}

#[test]
fn landmarks_match_mediapipe_kernel9() {
    let got = camera_landmarks(&fixture_roi(), REFINE_KERNEL);
    assert_landmarks_match(&got, "landmarks39_image_normalised_kernel9", 1e-5);
}

#[test]
fn landmarks_match_mediapipe_kernel7() {
    let got = camera_landmarks(&fixture_roi(), 7);
    assert_landmarks_match(&got, "landmarks39_image_normalised_kernel7", 1e-5);
    // The kernels really differ (up to ~23 px on hands), so each test checks its own kernel.
    let k9 = camera_landmarks(&fixture_roi(), 9);
    let moved = got
        .iter()
        .zip(&k9)
        .map(|(a, b)| (a.x - b.x).hypot(a.y - b.y))
        .fold(0.0, f32::max);
    assert!(moved > 5.0, "kernel 7 vs 9 differ by {moved} px");
}

#[test]
fn whole_pipeline_from_raw_outputs_matches_mediapipe() {
    let c = camera();
    let (w, h) = camera_size();
    assert!(pose_present(c.get("lm_pose_flag", &[1, 1])[0]));
    let pad = Letterbox::for_image(w, h).pad_ltrb;
    let best = weighted_nms(decoded_camera_detections()).remove(0);
    let roi = Roi::from_detection(&remove_letterbox(&best, pad), w, h);
    let got = camera_landmarks(&roi, REFINE_KERNEL);
    // Our ROI differs from the f32-stored reference by ~1e-7, so a slightly looser bound.
    assert_landmarks_match(&got, "landmarks39_image_normalised_kernel9", 2e-5);
}

#[test]
fn landmark_decoding_rejects_bad_inputs() {
    let raw = vec![0.0; NUM_LANDMARKS * 5];
    let heatmap = vec![0.0; HEATMAP_SIZE * HEATMAP_SIZE * NUM_LANDMARKS];
    let roi = fixture_roi();
    assert!(decode_landmarks(&raw[1..], &heatmap, &roi, 9).is_err());
    assert!(decode_landmarks(&raw, &heatmap[1..], &roi, 9).is_err());
    assert!(decode_landmarks(&raw, &heatmap, &roi, 0).is_err());
    assert!(decode_landmarks(&raw, &heatmap, &roi, 1).is_ok());
    assert!(!pose_present(0.49));
}

/// An identity-like ROI: crop (u, v) → image (256 u, 256 v).
fn unit_roi() -> Roi {
    Roi {
        cx: 128.0,
        cy: 128.0,
        side: 256.0,
        rotation: 0.0,
    }
}

/// Raw output with landmark 0 at tensor pixel (x, y) and a heat-map whose channel 0 is
/// confident only at cell (row, col).
fn one_hot(x: f32, y: f32, row: usize, col: usize) -> (Vec<f32>, Vec<f32>) {
    let mut raw = vec![0.0; NUM_LANDMARKS * 5];
    raw[0] = x;
    raw[1] = y;
    let mut heatmap = vec![-20.0; HEATMAP_SIZE * HEATMAP_SIZE * NUM_LANDMARKS];
    heatmap[(row * HEATMAP_SIZE + col) * NUM_LANDMARKS] = 20.0;
    (raw, heatmap)
}

#[test]
fn heatmap_refinement_keeps_mediapipe_quirks() {
    let roi = unit_roi();
    // Slightly left of the crop: (int)(-0.75) = 0, so MediaPipe still refines it, to cell 2.
    let (raw, heatmap) = one_hot(-3.0, 100.0, 25, 2);
    let lm = decode_landmarks(&raw, &heatmap, &roi, 9).unwrap()[0];
    assert_close(lm.x, 2.0 * 4.0, 1e-3, "refined x (cell index, no +0.5)");
    assert_close(lm.y, 25.0 * 4.0, 1e-3, "refined y");
    // One cell further left is skipped: col = (int)(-1.25) = -1.
    let (raw, heatmap) = one_hot(-5.0, 100.0, 25, 2);
    let lm = decode_landmarks(&raw, &heatmap, &roi, 9).unwrap()[0];
    assert_eq!((lm.x, lm.y), (-5.0, 100.0));
    // Below the map: row 65 is not skipped, its window is clipped to rows 61..63.
    let (raw, heatmap) = one_hot(40.0, 262.0, 63, 10);
    let lm = decode_landmarks(&raw, &heatmap, &roi, 9).unwrap()[0];
    assert_close(lm.y, 63.0 * 4.0, 1e-3, "refined from a clipped window");
    // ...and with kernel 3 the window (rows 64..66) is empty: the point stays put.
    let lm = decode_landmarks(&raw, &heatmap, &roi, 3).unwrap()[0];
    assert_eq!((lm.x, lm.y), (40.0, 262.0));
    // A peak outside the window does not pull the point.
    let (raw, heatmap) = one_hot(40.0, 40.0, 40, 40);
    let lm = decode_landmarks(&raw, &heatmap, &roi, 9).unwrap()[0];
    assert_eq!((lm.x, lm.y), (40.0, 40.0));
}

// ---------------------------------------------------------------------------------------------
// OpenPose mapping

/// The fixture's BlazePose landmarks, in pixels.
fn fixture_landmarks(json: &Value) -> Vec<Landmark> {
    let points = json["blazepose33"].as_array().unwrap();
    points
        .iter()
        .map(|p| Landmark {
            x: f(&p["x_px"]),
            y: f(&p["y_px"]),
            z: f(&p["z"]),
            visibility: f(&p["visibility"]),
            presence: f(&p["presence"]),
        })
        .collect()
}

#[test]
fn openpose_mapping_matches_every_fixture() {
    let mut paths: Vec<PathBuf> = fixture_dirs()
        .iter()
        .flat_map(|d| std::fs::read_dir(d).unwrap().map(|e| e.unwrap().path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    let mut checked = 0;
    let mut left_out = 0;
    for path in paths {
        let json = read_json(&path);
        if json.get("blazepose33").is_none() {
            continue;
        }
        let (w, h) = (f(&json["width"]) as u32, f(&json["height"]) as u32);
        let pose = to_openpose(&fixture_landmarks(&json), w, h);
        let want = json["openpose18"].as_array().unwrap();
        assert_eq!(want.len(), NUM_JOINTS);
        for (j, wj) in want.iter().enumerate() {
            let what = format!("{} joint {j} ({})", path.display(), wj["name"]);
            let sources: Vec<usize> = wj["from_blazepose"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i.as_u64().unwrap() as usize)
                .collect();
            assert_eq!(OPENPOSE_FROM_BLAZEPOSE[j], sources.as_slice(), "{what}");
            match (pose.get(j), wj["confident"].as_bool().unwrap()) {
                (Some(joint), true) => {
                    assert_close(joint.x, f(&wj["x_px"]), 1e-3, &what);
                    assert_close(joint.y, f(&wj["y_px"]), 1e-3, &what);
                    assert_close(joint.confidence, f(&wj["visibility"]), 1e-6, &what);
                    assert!(joint.confidence >= MIN_VISIBILITY);
                }
                (None, false) => left_out += 1,
                (got, want) => panic!("{what}: got {got:?}, fixture confident = {want}"),
            }
        }
        checked += 1;
    }
    // astronaut, bus and camera, plus any in `$MARIONETTE_POSE_FIXTURES` (CI adds bus again).
    assert!(checked >= 3, "only {checked} pose fixtures");
    assert!(
        left_out >= 5,
        "the fixtures have unconfident joints to leave out"
    );
}

#[test]
fn openpose_neck_is_the_shoulder_mean_with_the_least_visibility() {
    let lm = |x: f32, y: f32, visibility: f32| Landmark {
        x,
        y,
        z: 0.0,
        visibility,
        presence: 1.0,
    };
    let mut landmarks = vec![lm(50.0, 50.0, 0.9); 33];
    landmarks[11] = lm(60.0, 40.0, 0.8);
    landmarks[12] = lm(20.0, 44.0, 0.95);
    landmarks[16] = lm(100.0, 10.0, 0.99); // right wrist outside a 100-wide image
    landmarks[15] = lm(10.0, 10.0, 0.4); // left wrist not visible enough
    let pose = to_openpose(&landmarks, 100, 80);
    let neck = pose.get(1).unwrap();
    assert_eq!((neck.x, neck.y, neck.confidence), (40.0, 42.0, 0.8));
    assert!(pose.get(4).is_none() && pose.get(7).is_none());
    assert_eq!(pose.num_present(), 16);
    // Too few landmarks: the joints they would feed are missing (neck and right shoulder need
    // landmark 12), nothing panics; nose, left shoulder, eyes and ears remain.
    assert_eq!(to_openpose(&landmarks[..12], 100, 80).num_present(), 6);
}
