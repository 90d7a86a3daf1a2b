//! 2-D human poses: the OpenPose COCO-18 skeleton, the GFLA heat-map encoder, and pose file
//! formats (OpenPose JSON, the project's pose-fixture JSON, GFLA/PATN annotation CSV rows).
//!
//! Coordinates are always pixels of whatever frame the pose lives in (x right, y down, the
//! origin at the top-left corner of the frame). A pose does not remember its frame size; the
//! functions that need it (heat-maps, normalised coordinates) take it as an argument.

pub mod annotation;
pub mod heatmap;
pub mod openpose;
pub mod rig;
pub mod skeleton;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use annotation::{
    format_annotation_row, parse_annotation_row, pose_from_yx, pose_to_yx, read_annotation_csv,
};
pub use heatmap::{
    heatmap_tensor, heatmap_tensor_unscaled, heatmaps, heatmaps_into, Bump, HEATMAP_SIGMA,
};
pub use openpose::{
    parse_openpose, parse_openpose_value, read_openpose, read_openpose_with_canvas,
    to_openpose_json, write_openpose, PoseDocument,
};
pub use skeleton::{
    joint_index, mirror_index, JOINT_COLORS, JOINT_NAMES, LIMBS, LIMB_COLORS, NUM_LIMBS,
};

/// Number of joints of the OpenPose COCO-18 skeleton (order in [`skeleton`]).
pub const NUM_JOINTS: usize = 18;

/// One detected or placed joint, in pixels of the pose's frame.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Joint {
    pub x: f32,
    pub y: f32,
    /// Detector confidence (1.0 for annotated or hand-placed joints).
    pub confidence: f32,
}

impl Joint {
    pub fn new(x: f32, y: f32, confidence: f32) -> Self {
        Self { x, y, confidence }
    }
}

/// A COCO-18 pose; `None` marks a missing joint (not detected, or outside the picture).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Pose {
    pub joints: [Option<Joint>; NUM_JOINTS],
}

impl Pose {
    /// A pose with every joint missing.
    pub fn missing() -> Self {
        Self::default()
    }

    /// Joint `j` (`None` if missing). Panics if `j >= NUM_JOINTS`, like slice indexing.
    pub fn get(&self, j: usize) -> Option<Joint> {
        self.joints[j]
    }

    /// Sets (or, with `None`, removes) joint `j`. Panics if `j >= NUM_JOINTS`.
    pub fn set(&mut self, j: usize, joint: Option<Joint>) {
        self.joints[j] = joint;
    }

    /// How many joints are present.
    pub fn num_present(&self) -> usize {
        self.joints.iter().flatten().count()
    }

    /// `(index, joint)` for every present joint, in joint order.
    pub fn present(&self) -> impl Iterator<Item = (usize, Joint)> + '_ {
        self.joints
            .iter()
            .enumerate()
            .filter_map(|(j, joint)| joint.map(|joint| (j, joint)))
    }

    /// `(min_x, min_y, max_x, max_y)` over the present joints; `None` if there are none.
    pub fn bbox(&self) -> Option<(f32, f32, f32, f32)> {
        self.present().fold(None, |acc, (_, p)| {
            Some(match acc {
                None => (p.x, p.y, p.x, p.y),
                Some((x0, y0, x1, y1)) => (x0.min(p.x), y0.min(p.y), x1.max(p.x), y1.max(p.y)),
            })
        })
    }

    /// A copy with every present joint moved to `f(x, y)`; confidences and missing joints are
    /// kept. This is how poses follow an image through crops, resizes and flips.
    pub fn map_points(&self, mut f: impl FnMut(f32, f32) -> (f32, f32)) -> Pose {
        let mut out = self.clone();
        for joint in out.joints.iter_mut().flatten() {
            let (x, y) = f(joint.x, joint.y);
            joint.x = x;
            joint.y = y;
        }
        out
    }

    /// A copy with x multiplied by `sx` and y by `sy` (resizing the frame by those factors).
    pub fn scaled(&self, sx: f32, sy: f32) -> Pose {
        self.map_points(|x, y| (x * sx, y * sy))
    }
}

/// Everything that can go wrong reading or writing poses. Messages say what was expected and
/// where (file, line, person, array index), so they can be shown to a user as they are.
#[derive(Debug, thiserror::Error)]
pub enum PoseError {
    /// Reading or writing a file failed.
    #[error("{}: {error}", path.display())]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    /// The text is not valid JSON at all.
    #[error("invalid JSON: {0}")]
    Json(serde_json::Error),
    /// Valid syntax, wrong content (missing fields, wrong types, wrong counts).
    #[error("{0}")]
    Format(String),
    /// The requested person is not in the file.
    #[error("no person with index {requested} in the pose file (it lists {available} people)")]
    NoPerson { requested: usize, available: usize },
    /// An error inside a file, prefixed with the file's path.
    #[error("{}: {error}", path.display())]
    InFile {
        path: PathBuf,
        error: Box<PoseError>,
    },
    /// An error on a line of a text file (1-based line number).
    #[error("line {line}: {error}")]
    AtLine { line: usize, error: Box<PoseError> },
}

impl PoseError {
    pub(crate) fn format(msg: impl Into<String>) -> Self {
        PoseError::Format(msg.into())
    }

    /// Attaches `path` to an error from parsing that file's contents (I/O errors already
    /// carry their path).
    pub(crate) fn in_file(self, path: &std::path::Path) -> Self {
        match self {
            e @ (PoseError::Io { .. } | PoseError::InFile { .. }) => e,
            e => PoseError::InFile {
                path: path.to_path_buf(),
                error: Box::new(e),
            },
        }
    }
}
