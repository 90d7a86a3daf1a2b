//! The whole detection: photo → detector → person ROI → landmark model → OpenPose-18 pose.

use std::time::Instant;

use anyhow::{bail, Context, Result};
use candle_core::{Device, Tensor};
use image::RgbImage;

use super::crop::{detector_input, landmark_input, Roi, LANDMARK_INPUT};
use super::decode::{
    decode_detections, remove_letterbox, weighted_nms, PersonDetection, DETECTOR_INPUT,
};
use super::landmarks::{decode_landmarks, pose_present, Landmark, REFINE_KERNEL};
use super::mapping::to_openpose;
use super::models::{self, ModelPaths};
use super::tflite::Interpreter;
use crate::pose::Pose;

/// The largest photo side accepted: the crops sample at most 256x256 pixels, but decoding a
/// bigger photo already costs gigabytes, so the caller is told instead.
pub const MAX_SIDE: u32 = 16384;

/// The landmark model's outputs the pipeline reads (of 5: landmarks, pose flag, segmentation,
/// heat-map, world landmarks).
const LM_LANDMARKS: usize = 0;
const LM_POSE_FLAG: usize = 1;
const LM_SEGMENTATION: usize = 2;
const LM_HEATMAP: usize = 3;

/// Wall-clock milliseconds of each stage of one [`PoseDetector::detect`].
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct StageTimes {
    /// Letterbox crop and tensor conversion.
    pub detector_crop_ms: f64,
    /// The detector network alone.
    pub detector_ms: f64,
    /// Box decoding and weighted NMS.
    pub decode_ms: f64,
    /// Rotated crop for the landmark network.
    pub landmark_crop_ms: f64,
    /// The landmark network alone.
    pub landmark_ms: f64,
    /// Heat-map refinement, projection, joint mapping.
    pub landmark_decode_ms: f64,
    /// The matte (when asked for): segmentation mask → photo, edge refinement.
    pub matte_ms: f64,
}

impl StageTimes {
    pub fn total_ms(&self) -> f64 {
        self.detector_crop_ms
            + self.detector_ms
            + self.decode_ms
            + self.landmark_crop_ms
            + self.landmark_ms
            + self.landmark_decode_ms
            + self.matte_ms
    }
}

/// One person found in a photo.
#[derive(Clone, Debug)]
pub struct Detection {
    /// The detector's box and keypoints, normalised to the photo.
    pub person: PersonDetection,
    /// The rotated square the landmark model looked at (pixels).
    pub roi: Roi,
    /// The landmark model's confidence that a person is in the ROI.
    pub pose_flag: f32,
    /// BlazePose's 33 landmarks in photo pixels.
    pub landmarks: Vec<Landmark>,
    /// The OpenPose-18 skeleton: joints that are confident and inside the photo.
    pub pose: Pose,
    pub times: StageTimes,
}

/// Both BlazePose networks, loaded once; `detect` may be called from any thread.
pub struct PoseDetector {
    detector: Interpreter,
    /// The landmark graph without the segmentation head (plain detection).
    landmark: Interpreter,
    /// The same graph with it (detection with a matte); the two share their weights.
    landmark_matte: Interpreter,
    anchors: Vec<[f32; 2]>,
    /// Heat-map refinement window (9 reproduces `mp.solutions.pose`; its graph says 7).
    pub refine_kernel: usize,
    /// How matte edges are refined at photo resolution (see [`MatteRefine`]).
    pub refine_matte: MatteRefine,
}

/// Edge refinement of the matte: a guided filter with the photo as guide.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub enum MatteRefine {
    /// The bilinear upsampling of the 256x256 mask as it is.
    Off,
    /// Radius from the ROI's scale ([`crate::imaging::GuidedParams::for_upsampling`]).
    #[default]
    Auto,
    /// These parameters.
    With(crate::imaging::GuidedParams),
}

/// What one landmark-model run gives.
pub(super) struct LandmarkRun {
    pub pose_flag: f32,
    /// BlazePose's 33 landmarks in photo pixels.
    pub landmarks: Vec<Landmark>,
    /// The 256x256 segmentation logits, when the matte graph ran.
    pub segmentation: Option<Vec<f32>>,
}

fn ms_since(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1e3
}

impl PoseDetector {
    /// Loads the models from the usual folders (see [`models::find`]); the error says how to
    /// fetch them when they are missing.
    pub fn load_default() -> Result<Self> {
        Self::load(&models::find()?)
    }

    pub fn load(paths: &ModelPaths) -> Result<Self> {
        let detector = Interpreter::load(&paths.detector).context("loading the pose detector")?;
        let landmark =
            Interpreter::load(&paths.landmark).context("loading the pose landmark model")?;
        if landmark.outputs().len() != 5 {
            bail!(
                "the pose landmark model has {} outputs, BlazePose's has 5 (wrong file?)",
                landmark.outputs().len()
            );
        }
        // Plain detection reads only the landmarks, the pose flag and the heat-map: the
        // segmentation head (about a third of the graph's time) and the world landmarks are
        // not computed. The matte graph adds the segmentation as a fourth output.
        let landmark_matte =
            landmark.pruned(&[LM_LANDMARKS, LM_POSE_FLAG, LM_HEATMAP, LM_SEGMENTATION])?;
        let landmark = landmark.pruned(&[LM_LANDMARKS, LM_POSE_FLAG, LM_HEATMAP])?;
        let expect = |m: &Interpreter, side: usize, what: &str| -> Result<()> {
            let shape = m.inputs().first().map(|p| p.shape.clone());
            if shape != Some(vec![1, side, side, 3]) {
                bail!(
                    "{what} takes input {shape:?}, expected [1, {side}, {side}, 3] (wrong file?)"
                );
            }
            Ok(())
        };
        expect(&detector, DETECTOR_INPUT, "the pose detector")?;
        expect(&landmark, LANDMARK_INPUT, "the pose landmark model")?;
        if detector.outputs().len() != 2 {
            bail!(
                "the pose detector has {} outputs, BlazePose's has 2 (wrong file?)",
                detector.outputs().len()
            );
        }
        Ok(Self {
            detector,
            landmark,
            landmark_matte,
            anchors: super::anchors::pose_anchors(),
            refine_kernel: REFINE_KERNEL,
            refine_matte: MatteRefine::Auto,
        })
    }

    /// Finds the most confident person, or `Ok(None)` when there is none.
    pub fn detect(&self, img: &RgbImage) -> Result<Option<Detection>> {
        Ok(self.detect_run(img, false)?.map(|(det, _)| det))
    }

    /// [`Self::detect`], with the segmentation logits when `segmentation` is set.
    pub(super) fn detect_run(
        &self,
        img: &RgbImage,
        segmentation: bool,
    ) -> Result<Option<(Detection, Option<Vec<f32>>)>> {
        check_size(img)?;
        let (w, h) = img.dimensions();
        let mut times = StageTimes::default();
        let Some(person) = self.find_person(img, &mut times)? else {
            return Ok(None);
        };
        let roi = Roi::from_detection(&person, w, h);
        let run = self.run_landmarks(img, &roi, &mut times, segmentation)?;
        if !pose_present(run.pose_flag) {
            return Ok(None);
        }
        let t = Instant::now();
        let pose = to_openpose(&run.landmarks, w, h);
        times.landmark_decode_ms += ms_since(t);
        let det = Detection {
            person,
            roi,
            pose_flag: run.pose_flag,
            landmarks: run.landmarks,
            pose,
            times,
        };
        Ok(Some((det, run.segmentation)))
    }

    /// Runs the detector on the letterboxed photo: the best person, in photo coordinates.
    pub fn find_person(
        &self,
        img: &RgbImage,
        times: &mut StageTimes,
    ) -> Result<Option<PersonDetection>> {
        let t = Instant::now();
        let (input, pad) = detector_input(img);
        let input = Tensor::from_vec(input, (1, DETECTOR_INPUT, DETECTOR_INPUT, 3), &Device::Cpu)?;
        times.detector_crop_ms = ms_since(t);
        let t = Instant::now();
        let out = self
            .detector
            .run(&[input])
            .context("running the pose detector")?;
        times.detector_ms = ms_since(t);
        let t = Instant::now();
        let boxes = out[0].flatten_all()?.to_vec1::<f32>()?;
        let scores = out[1].flatten_all()?.to_vec1::<f32>()?;
        let candidates =
            decode_detections(&boxes, &scores, &self.anchors).map_err(anyhow::Error::msg)?;
        let best = weighted_nms(candidates)
            .into_iter()
            .next()
            .map(|d| remove_letterbox(&d, pad));
        times.decode_ms = ms_since(t);
        Ok(best)
    }

    /// Runs the landmark model on the crop `roi`: its pose flag and the 33 landmarks.
    pub fn landmarks(
        &self,
        img: &RgbImage,
        roi: &Roi,
        times: &mut StageTimes,
    ) -> Result<(f32, Vec<Landmark>)> {
        let run = self.run_landmarks(img, roi, times, false)?;
        Ok((run.pose_flag, run.landmarks))
    }

    /// Runs the landmark model (with the segmentation head when `segmentation`) on `roi`.
    pub(super) fn run_landmarks(
        &self,
        img: &RgbImage,
        roi: &Roi,
        times: &mut StageTimes,
        segmentation: bool,
    ) -> Result<LandmarkRun> {
        let t = Instant::now();
        let input = landmark_input(img, roi);
        let input = Tensor::from_vec(input, (1, LANDMARK_INPUT, LANDMARK_INPUT, 3), &Device::Cpu)?;
        times.landmark_crop_ms = ms_since(t);
        let t = Instant::now();
        let model = if segmentation {
            &self.landmark_matte
        } else {
            &self.landmark
        };
        let out = model
            .run(&[input])
            .context("running the pose landmark model")?;
        times.landmark_ms = ms_since(t);
        let t = Instant::now();
        let raw = out[0].flatten_all()?.to_vec1::<f32>()?;
        let flag = out[1].flatten_all()?.to_vec1::<f32>()?;
        let heatmap = out[2].flatten_all()?.to_vec1::<f32>()?;
        let mut landmarks = decode_landmarks(&raw, &heatmap, roi, self.refine_kernel)
            .map_err(anyhow::Error::msg)?;
        // 33 and 34 only steer MediaPipe's tracking; 35..38 are unused.
        landmarks.truncate(33);
        let segmentation = match out.get(3) {
            Some(t) => Some(t.flatten_all()?.to_vec1::<f32>()?),
            None => None,
        };
        times.landmark_decode_ms = ms_since(t);
        Ok(LandmarkRun {
            pose_flag: flag.first().copied().unwrap_or(0.0),
            landmarks,
            segmentation,
        })
    }
}

/// Refuses photos the crops cannot take (empty, or too large to be worth decoding).
pub(super) fn check_size(img: &RgbImage) -> Result<()> {
    let (w, h) = img.dimensions();
    if w == 0 || h == 0 || w > MAX_SIDE || h > MAX_SIDE {
        bail!("a {w}x{h} photo cannot be searched for a person (sides must be 1..={MAX_SIDE})");
    }
    Ok(())
}
