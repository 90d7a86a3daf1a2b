//! Pose detector output → person detections: SSD box decoding, weighted non-maximum
//! suppression and letterbox removal, as MediaPipe's `TensorsToDetectionsCalculator`,
//! `NonMaxSuppressionCalculator` (weighted) and `DetectionLetterboxRemovalCalculator` do it.

/// Side of the (square) detector input in pixels; raw offsets are in these pixels.
pub const DETECTOR_INPUT: usize = 224;
/// Number of anchors, hence of raw boxes and scores.
pub const NUM_ANCHORS: usize = 2254;
/// Detections scoring below this (after the sigmoid) are dropped before NMS.
pub const MIN_DETECTION_SCORE: f32 = 0.5;
/// Boxes overlapping the cluster's best box by more than this IoU are merged into it.
pub const NMS_IOU: f32 = 0.3;

/// Values per raw box: centre offset, size, then 4 keypoints (x, y).
const BOX_VALUES: usize = 12;
/// Raw score logits are clamped to this magnitude before the sigmoid, as MediaPipe does.
const SCORE_CLIP: f32 = 100.0;

/// One detected person, in coordinates normalised to the frame it was detected in (the
/// letterboxed detector input before [`remove_letterbox`], the image after it).
///
/// `xmin`/`ymin` are the **top-left corner** of the box, as in MediaPipe's relative bounding
/// box (the fixtures' `box_xywh` is `[xmin, ymin, width, height]`, not the centre).
/// Keypoints: 0 = hip midpoint, 1 = point on the full-body circle (`|kp1 - kp0|` is its
/// radius), 2 = shoulder midpoint, 3 = point on the upper-body circle.
#[derive(Clone, Debug, PartialEq)]
pub struct PersonDetection {
    pub score: f32,
    pub xmin: f32,
    pub ymin: f32,
    pub width: f32,
    pub height: f32,
    pub keypoints: [[f32; 2]; 4],
}

impl PersonDetection {
    /// Right edge of the box.
    pub fn xmax(&self) -> f32 {
        self.xmin + self.width
    }

    /// Bottom edge of the box.
    pub fn ymax(&self) -> f32 {
        self.ymin + self.height
    }

    /// Box area (0 for degenerate boxes, so IoU never divides by a negative area).
    fn area(&self) -> f32 {
        self.width.max(0.0) * self.height.max(0.0)
    }
}

/// A weighted-NMS cluster: the merged detection and how many raw detections it averaged.
#[derive(Clone, Debug, PartialEq)]
pub struct MergedDetection {
    pub detection: PersonDetection,
    pub n_merged: usize,
}

/// Decodes the detector's raw outputs (`raw_boxes`: `anchors.len() x 12`, `raw_scores`:
/// `anchors.len()` logits) into the detections scoring at least [`MIN_DETECTION_SCORE`], in
/// anchor order. `anchors` are the centres from [`super::anchors::pose_anchors`].
pub fn decode_detections(
    raw_boxes: &[f32],
    raw_scores: &[f32],
    anchors: &[[f32; 2]],
) -> Result<Vec<PersonDetection>, String> {
    check_lengths(raw_boxes.len(), raw_scores.len(), anchors.len())?;
    Ok(raw_boxes
        .chunks_exact(BOX_VALUES)
        .zip(raw_scores)
        .zip(anchors)
        .filter_map(|((raw, &logit), &anchor)| {
            let score = sigmoid(logit.clamp(-SCORE_CLIP, SCORE_CLIP));
            (score >= MIN_DETECTION_SCORE).then(|| decode_box(raw, anchor, score))
        })
        .collect())
}

/// The output lengths must agree with the anchor count, or boxes would pair with the wrong
/// anchors (and MediaPipe itself rejects such tensors).
fn check_lengths(boxes: usize, scores: usize, anchors: usize) -> Result<(), String> {
    if boxes != anchors * BOX_VALUES {
        return Err(format!(
            "detector boxes: expected {anchors} x {BOX_VALUES} = {} values, got {boxes}",
            anchors * BOX_VALUES
        ));
    }
    if scores != anchors {
        return Err(format!(
            "detector scores: expected {anchors} values, got {scores}"
        ));
    }
    Ok(())
}

/// One raw box: offsets are in detector pixels relative to the anchor centre; anchors all have
/// unit size, so sizes are plain pixel sizes over 224.
fn decode_box(raw: &[f32], anchor: [f32; 2], score: f32) -> PersonDetection {
    let scale = DETECTOR_INPUT as f32;
    let xc = raw[0] / scale + anchor[0];
    let yc = raw[1] / scale + anchor[1];
    let width = raw[2] / scale;
    let height = raw[3] / scale;
    let keypoints = std::array::from_fn(|k| {
        [
            raw[4 + 2 * k] / scale + anchor[0],
            raw[5 + 2 * k] / scale + anchor[1],
        ]
    });
    PersonDetection {
        score,
        xmin: xc - width / 2.0,
        ymin: yc - height / 2.0,
        width,
        height,
        keypoints,
    }
}

/// The logistic function, in f32 like MediaPipe.
fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// Weighted non-maximum suppression: every merged detection, best first (the pipeline uses the
/// first). See [`weighted_nms_clusters`].
pub fn weighted_nms(dets: Vec<PersonDetection>) -> Vec<PersonDetection> {
    weighted_nms_clusters(dets)
        .into_iter()
        .map(|m| m.detection)
        .collect()
}

/// Weighted NMS with the cluster sizes. Repeatedly takes the best remaining detection; the
/// cluster is every remaining detection with IoU > [`NMS_IOU`] to it (itself included). Box
/// corners and keypoints are score-weighted means over the cluster, the score is the best
/// one's. Averaging instead of discarding steadies the box, which the ROI is built from.
pub fn weighted_nms_clusters(mut dets: Vec<PersonDetection>) -> Vec<MergedDetection> {
    dets.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut out = Vec::new();
    while !dets.is_empty() {
        // The best box always joins its own cluster, even when its IoU with itself is not
        // > 0.3 (empty or NaN box): every round then removes at least one detection.
        let best = dets.remove(0);
        let (mut cluster, rest): (Vec<_>, Vec<_>) =
            dets.into_iter().partition(|d| iou(d, &best) > NMS_IOU);
        cluster.insert(0, best.clone());
        dets = rest;
        out.push(merge_cluster(&best, &cluster));
    }
    out
}

/// Intersection over union of two boxes; 0 when they do not overlap or both are empty.
fn iou(a: &PersonDetection, b: &PersonDetection) -> f32 {
    let w = a.xmax().min(b.xmax()) - a.xmin.max(b.xmin);
    let h = a.ymax().min(b.ymax()) - a.ymin.max(b.ymin);
    if w < 0.0 || h < 0.0 {
        return 0.0;
    }
    let inter = w * h;
    let union = a.area() + b.area() - inter;
    if union > 0.0 {
        inter / union
    } else {
        0.0
    }
}

/// Score-weighted mean of a cluster (which includes `best`) of corners and keypoints, keeping
/// `best`'s score. A cluster with no positive total weight (only possible for hand-made
/// detections with scores <= 0) leaves `best` unchanged rather than dividing by zero.
fn merge_cluster(best: &PersonDetection, cluster: &[PersonDetection]) -> MergedDetection {
    let total: f32 = cluster.iter().map(|d| d.score).sum();
    if total.is_nan() || total <= 0.0 {
        return MergedDetection {
            detection: best.clone(),
            n_merged: cluster.len(),
        };
    }
    let mean = |f: &dyn Fn(&PersonDetection) -> f32| {
        cluster.iter().map(|d| f(d) * d.score).sum::<f32>() / total
    };
    let (xmin, ymin) = (mean(&|d| d.xmin), mean(&|d| d.ymin));
    let (xmax, ymax) = (mean(&|d| d.xmax()), mean(&|d| d.ymax()));
    let keypoints =
        std::array::from_fn(|k| [mean(&|d| d.keypoints[k][0]), mean(&|d| d.keypoints[k][1])]);
    let detection = PersonDetection {
        score: best.score,
        xmin,
        ymin,
        width: xmax - xmin,
        height: ymax - ymin,
        keypoints,
    };
    MergedDetection {
        detection,
        n_merged: cluster.len(),
    }
}

/// Maps a detection from the letterboxed detector frame to the image frame. `pad_ltrb` are the
/// padding fractions (left, top, right, bottom) of the detector input, as returned by
/// [`super::crop::detector_input`]: the image occupies `[l, 1 - r] x [t, 1 - b]`.
pub fn remove_letterbox(det: &PersonDetection, pad_ltrb: [f32; 4]) -> PersonDetection {
    let [l, t, r, b] = pad_ltrb;
    let (sx, sy) = (1.0 - l - r, 1.0 - t - b);
    PersonDetection {
        score: det.score,
        xmin: (det.xmin - l) / sx,
        ymin: (det.ymin - t) / sy,
        width: det.width / sx,
        height: det.height / sy,
        keypoints: det.keypoints.map(|[x, y]| [(x - l) / sx, (y - t) / sy]),
    }
}
