//! BlazePose's 33 landmarks → the OpenPose COCO-18 skeleton the rest of the app poses with.

use super::landmarks::Landmark;
use crate::pose::{Joint, Pose, NUM_JOINTS};

/// BlazePose landmarks behind each OpenPose joint, in OpenPose COCO order (nose, neck,
/// r_shoulder, r_elbow, r_wrist, l_shoulder, l_elbow, l_wrist, r_hip, r_knee, r_ankle, l_hip,
/// l_knee, l_ankle, r_eye, l_eye, r_ear, l_ear). BlazePose has no neck: it is the mean of the
/// two shoulders. Left/right are the person's own sides in both skeletons.
pub const OPENPOSE_FROM_BLAZEPOSE: [&[usize]; 18] = [
    &[0],
    &[11, 12],
    &[12],
    &[14],
    &[16],
    &[11],
    &[13],
    &[15],
    &[24],
    &[26],
    &[28],
    &[23],
    &[25],
    &[27],
    &[5],
    &[2],
    &[8],
    &[7],
];

/// Joints less visible than this are left out: BlazePose always guesses every point, and
/// occluded guesses would only drag the skeleton around.
pub const MIN_VISIBILITY: f32 = 0.5;

/// The OpenPose pose of a `width x height` photo from its BlazePose landmarks (pixels). A
/// joint is present when it is confident: visibility >= [`MIN_VISIBILITY`] and inside the
/// picture (`0 <= x < W`, `0 <= y < H`). Its confidence is the visibility; a joint built from
/// several landmarks (the neck) sits at their mean with the least visibility of them.
/// Landmarks missing from a short slice make their joints missing.
pub fn to_openpose(landmarks: &[Landmark], width: u32, height: u32) -> Pose {
    let mut pose = Pose::missing();
    for (j, sources) in OPENPOSE_FROM_BLAZEPOSE.iter().enumerate().take(NUM_JOINTS) {
        let joint = combine(landmarks, sources).filter(|p| confident(p, width, height));
        pose.set(j, joint);
    }
    pose
}

/// Mean position and least visibility of `sources`; `None` if any of them is missing or has a
/// NaN visibility (which `min` would otherwise silently skip).
fn combine(landmarks: &[Landmark], sources: &[usize]) -> Option<Joint> {
    let mut sum = (0.0, 0.0);
    let mut visibility = f32::INFINITY;
    for &i in sources {
        let lm = landmarks.get(i).filter(|lm| !lm.visibility.is_nan())?;
        sum = (sum.0 + lm.x, sum.1 + lm.y);
        visibility = visibility.min(lm.visibility);
    }
    let n = sources.len() as f32;
    (n > 0.0).then(|| Joint::new(sum.0 / n, sum.1 / n, visibility))
}

/// The fixtures' suggested rule (not MediaPipe's): visible enough and inside the picture.
fn confident(joint: &Joint, width: u32, height: u32) -> bool {
    joint.confidence >= MIN_VISIBILITY
        && (0.0..width as f32).contains(&joint.x)
        && (0.0..height as f32).contains(&joint.y)
}
