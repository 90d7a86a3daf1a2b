//! Finding the skeleton in a photo: MediaPipe BlazePose (`mp.solutions.pose`, model
//! complexity 1) run by our own TFLite interpreter on candle, mapped to the 18 OpenPose joints.
//!
//! * [`models`] — where the two `.tflite` files live; fetching them from the pinned wheel;
//! * [`tflite`] — the interpreter (flatbuffer reader, constant folding, NHWC kernels);
//! * [`crop`] — photo → network inputs (letterboxed detector crop, rotated landmark crop);
//! * [`anchors`], [`decode`] — detector outputs → person boxes (anchors, weighted NMS);
//! * [`landmarks`] — landmark outputs → 39 points in the photo (heat-map refinement);
//! * [`mapping`] — BlazePose's 33 points → OpenPose COCO-18 with confidences;
//! * [`pipeline`] — all of it in order: [`PoseDetector::detect`];
//! * [`matte`] — the person matte from the landmark model's segmentation output
//!   ([`PoseDetector::detect_with_matte`], [`PoseDetector::matte_for_pose`]).

pub mod anchors;
pub mod crop;
pub mod decode;
pub mod landmarks;
pub mod mapping;
pub mod matte;
pub mod models;
pub mod pipeline;
pub mod tflite;

pub use pipeline::{Detection, MatteRefine, PoseDetector, StageTimes};
