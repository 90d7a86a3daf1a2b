//! The OpenPose COCO-18 skeleton: joint order, names, limbs, drawing colours and the
//! left↔right mirror map.
//!
//! The joint order is the one GFLA/PATN annotations and heat-map channels use (spec §8.2):
//! channel `j` of a heat-map is joint `j` below. Left and right are the *person's own* sides.

use super::NUM_JOINTS;

pub const NOSE: usize = 0;
pub const NECK: usize = 1;
pub const R_SHOULDER: usize = 2;
pub const R_ELBOW: usize = 3;
pub const R_WRIST: usize = 4;
pub const L_SHOULDER: usize = 5;
pub const L_ELBOW: usize = 6;
pub const L_WRIST: usize = 7;
pub const R_HIP: usize = 8;
pub const R_KNEE: usize = 9;
pub const R_ANKLE: usize = 10;
pub const L_HIP: usize = 11;
pub const L_KNEE: usize = 12;
pub const L_ANKLE: usize = 13;
pub const R_EYE: usize = 14;
pub const L_EYE: usize = 15;
pub const R_EAR: usize = 16;
pub const L_EAR: usize = 17;

/// Joint names in COCO-18 order (snake_case, as in the project's pose fixtures).
pub const JOINT_NAMES: [&str; NUM_JOINTS] = [
    "nose",
    "neck",
    "r_shoulder",
    "r_elbow",
    "r_wrist",
    "l_shoulder",
    "l_elbow",
    "l_wrist",
    "r_hip",
    "r_knee",
    "r_ankle",
    "l_hip",
    "l_knee",
    "l_ankle",
    "r_eye",
    "l_eye",
    "r_ear",
    "l_ear",
];

/// Number of limbs in [`LIMBS`].
pub const NUM_LIMBS: usize = 19;

/// Limbs (joint index pairs) in the order the GFLA/PATN reference draws them (spec §8.2).
/// The last two, shoulder–ear, are drawn by the reference but not by OpenPose's own renderer.
pub const LIMBS: [(usize, usize); NUM_LIMBS] = [
    (1, 2),
    (1, 5),
    (2, 3),
    (3, 4),
    (5, 6),
    (6, 7),
    (1, 8),
    (8, 9),
    (9, 10),
    (1, 11),
    (11, 12),
    (12, 13),
    (1, 0),
    (0, 14),
    (14, 16),
    (0, 15),
    (15, 17),
    (2, 16),
    (5, 17),
];

/// OpenPose's 18-colour rainbow (RGB), red → orange → … → magenta → pink.
pub const OPENPOSE_COLORS: [[u8; 3]; 18] = [
    [255, 0, 0],
    [255, 85, 0],
    [255, 170, 0],
    [255, 255, 0],
    [170, 255, 0],
    [85, 255, 0],
    [0, 255, 0],
    [0, 255, 85],
    [0, 255, 170],
    [0, 255, 255],
    [0, 170, 255],
    [0, 85, 255],
    [0, 0, 255],
    [85, 0, 255],
    [170, 0, 255],
    [255, 0, 255],
    [255, 0, 170],
    [255, 0, 85],
];

/// Colour of joint `j`: `OPENPOSE_COLORS[j]`, as both OpenPose and the GFLA/PATN reference
/// (`draw_pose_from_cords`) colour joint circles.
pub const JOINT_COLORS: [[u8; 3]; NUM_JOINTS] = OPENPOSE_COLORS;

/// Colour of limb `i` of [`LIMBS`]. The first 17 limbs use `OPENPOSE_COLORS[i]`, exactly as
/// OpenPose's renderer does (it draws the same limb list in the same order). OpenPose never
/// draws the two shoulder–ear limbs, so they have no canonical colour: they reuse the colour of
/// the ear joint they end at (r_ear 16, l_ear 17), which keeps each ear's limbs visually grouped.
/// (The GFLA reference itself draws all limbs in grey; colours are our choice for the editor.)
pub const LIMB_COLORS: [[u8; 3]; NUM_LIMBS] = [
    OPENPOSE_COLORS[0],
    OPENPOSE_COLORS[1],
    OPENPOSE_COLORS[2],
    OPENPOSE_COLORS[3],
    OPENPOSE_COLORS[4],
    OPENPOSE_COLORS[5],
    OPENPOSE_COLORS[6],
    OPENPOSE_COLORS[7],
    OPENPOSE_COLORS[8],
    OPENPOSE_COLORS[9],
    OPENPOSE_COLORS[10],
    OPENPOSE_COLORS[11],
    OPENPOSE_COLORS[12],
    OPENPOSE_COLORS[13],
    OPENPOSE_COLORS[14],
    OPENPOSE_COLORS[15],
    OPENPOSE_COLORS[16],
    OPENPOSE_COLORS[R_EAR],
    OPENPOSE_COLORS[L_EAR],
];

/// The joint that plays the same role on the other side of the body (r_shoulder ↔ l_shoulder,
/// …); nose and neck map to themselves. Mirroring a pose horizontally must both reflect the x
/// coordinates and swap joints through this map, or the "right" arm ends up on the left.
///
/// Panics if `j >= NUM_JOINTS` (a programming error, like slice indexing).
pub const fn mirror_index(j: usize) -> usize {
    const MIRROR: [usize; NUM_JOINTS] = [
        NOSE, NECK, L_SHOULDER, L_ELBOW, L_WRIST, R_SHOULDER, R_ELBOW, R_WRIST, L_HIP, L_KNEE,
        L_ANKLE, R_HIP, R_KNEE, R_ANKLE, L_EYE, R_EYE, L_EAR, R_EAR,
    ];
    MIRROR[j]
}

/// Index of the joint called `name` (one of [`JOINT_NAMES`], case-insensitive).
pub fn joint_index(name: &str) -> Option<usize> {
    JOINT_NAMES
        .iter()
        .position(|n| n.eq_ignore_ascii_case(name))
}
