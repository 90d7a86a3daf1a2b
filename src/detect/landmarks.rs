//! Landmark model output → 39 landmarks in image pixels: MediaPipe's
//! `TensorsToLandmarksCalculator`, `RefineLandmarksFromHeatmapCalculator` and
//! `LandmarkProjectionCalculator`, quirks included.

use super::crop::{Roi, LANDMARK_INPUT};

/// Side of the landmark model's heat-map output (64x64, one channel per landmark).
pub const HEATMAP_SIZE: usize = 64;
/// Landmarks the model outputs: 33 pose points, 2 auxiliary ROI points, 4 unused.
pub const NUM_LANDMARKS: usize = 39;
/// Heat-map refinement window of `mp.solutions.pose` in mediapipe 0.10.14 (the graph config
/// says 7, but the legacy Python API drops that option and runs the default 9).
pub const REFINE_KERNEL: usize = 9;
/// Below this pose flag (model output 1, already a probability) there is no person in the ROI.
pub const MIN_POSE_FLAG: f32 = 0.5;

/// Values per landmark in the raw output: x, y, z (tensor pixels), visibility, presence (logits).
const RAW_VALUES: usize = 5;
/// Refinement only moves a landmark whose window's best heat-map confidence reaches this.
const MIN_REFINE_CONFIDENCE: f32 = 0.5;

/// One landmark of the photo.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Landmark {
    /// Image pixels.
    pub x: f32,
    /// Image pixels.
    pub y: f32,
    /// Depth relative to the hips, **in pixels** (`z_t · side`), the same scale as `x`.
    /// MediaPipe's normalised `z` is this divided by the image width; [`decode_landmarks`] is
    /// not given the width, so it keeps the unit of `x` and `y`.
    pub z: f32,
    /// Probability that the point is visible (not occluded), after the sigmoid.
    pub visibility: f32,
    /// Probability that the point is inside the picture, after the sigmoid.
    pub presence: f32,
}

/// Whether the landmark model found a person in its crop (model output 1).
pub fn pose_present(pose_flag: f32) -> bool {
    pose_flag >= MIN_POSE_FLAG
}

/// Decodes the landmark model's outputs for the crop `roi`: `raw` (output 0, 39 x 5 values)
/// and `heatmap` (64 x 64 x 39, NHWC logits). Each point is refined from the heat-map with a
/// `kernel x kernel` window ([`REFINE_KERNEL`] to match `mp.solutions.pose`), then projected
/// from the crop to image pixels. Returns all 39 landmarks; the first 33 are the pose.
pub fn decode_landmarks(
    raw: &[f32],
    heatmap: &[f32],
    roi: &Roi,
    kernel: usize,
) -> Result<Vec<Landmark>, String> {
    check_inputs(raw.len(), heatmap.len(), kernel)?;
    Ok(raw
        .chunks_exact(RAW_VALUES)
        .enumerate()
        .map(|(i, values)| {
            let crop = refine(crop_landmark(values), heatmap, i, kernel);
            project(crop, roi)
        })
        .collect())
}

/// Wrong sizes would silently mix up landmarks and heat-map channels; a zero kernel has no
/// window at all.
fn check_inputs(raw: usize, heatmap: usize, kernel: usize) -> Result<(), String> {
    let want_raw = NUM_LANDMARKS * RAW_VALUES;
    let want_heatmap = HEATMAP_SIZE * HEATMAP_SIZE * NUM_LANDMARKS;
    if raw != want_raw {
        return Err(format!(
            "landmark output: expected {want_raw} values, got {raw}"
        ));
    }
    if heatmap != want_heatmap {
        return Err(format!(
            "landmark heat-map: expected {HEATMAP_SIZE}x{HEATMAP_SIZE}x{NUM_LANDMARKS} = \
             {want_heatmap} values, got {heatmap}"
        ));
    }
    if kernel == 0 {
        return Err("heat-map refinement kernel must be at least 1".into());
    }
    Ok(())
}

/// A landmark in crop-normalised coordinates (0..1 across the crop), before projection.
#[derive(Clone, Copy, Debug)]
struct CropLandmark {
    x: f32,
    y: f32,
    z: f32,
    visibility: f32,
    presence: f32,
}

/// Raw tensor-pixel values → crop-normalised point; z is scaled like x (by the input width).
fn crop_landmark(values: &[f32]) -> CropLandmark {
    let scale = LANDMARK_INPUT as f32;
    CropLandmark {
        x: values[0] / scale,
        y: values[1] / scale,
        z: values[2] / scale,
        visibility: sigmoid(values[3]),
        presence: sigmoid(values[4]),
    }
}

/// The logistic function, in f32 like MediaPipe.
fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// Replaces x and y by the confidence-weighted mean cell of heat-map channel `channel` around
/// the point, as MediaPipe does it: the cell is found by truncation (so points up to one cell
/// left of / above the map still count), only `col >= 64` and negative cells are skipped (a
/// row >= 64 just clips the window, maybe to nothing), and the mean uses cell indices without
/// the +0.5 centre offset. Points whose window never reaches confidence 0.5 are kept as they are.
fn refine(lm: CropLandmark, heatmap: &[f32], channel: usize, kernel: usize) -> CropLandmark {
    let size = HEATMAP_SIZE as i64;
    let col = (lm.x * HEATMAP_SIZE as f32) as i64;
    let row = (lm.y * HEATMAP_SIZE as f32) as i64;
    if col < 0 || col >= size || row < 0 {
        return lm;
    }
    let half = (kernel as i64 - 1) / 2;
    let cols = (col - half).max(0)..(col + half + 1).min(size);
    let rows = (row - half).max(0)..(row + half + 1).min(size);
    let mut stats = WindowStats::default();
    for r in rows {
        for c in cols.clone() {
            let at = (r as usize * HEATMAP_SIZE + c as usize) * NUM_LANDMARKS + channel;
            stats.add(r as f32, c as f32, sigmoid(heatmap[at]));
        }
    }
    if stats.max < MIN_REFINE_CONFIDENCE || stats.sum <= 0.0 {
        return lm;
    }
    let size = HEATMAP_SIZE as f32;
    CropLandmark {
        x: stats.weighted_col / size / stats.sum,
        y: stats.weighted_row / size / stats.sum,
        ..lm
    }
}

/// Running sums over a refinement window.
#[derive(Default)]
struct WindowStats {
    sum: f32,
    max: f32,
    weighted_col: f32,
    weighted_row: f32,
}

impl WindowStats {
    fn add(&mut self, row: f32, col: f32, confidence: f32) {
        self.sum += confidence;
        self.max = self.max.max(confidence);
        self.weighted_col += col * confidence;
        self.weighted_row += row * confidence;
    }
}

/// Crop-normalised → image pixels through the ROI's rotation; z scales with the crop side.
fn project(lm: CropLandmark, roi: &Roi) -> Landmark {
    let (x, y) = roi.to_image(lm.x, lm.y);
    Landmark {
        x,
        y,
        z: lm.z * roi.side,
        visibility: lm.visibility,
        presence: lm.presence,
    }
}
