//! The document the editor edits — both skeletons, the target's depth order, the keyframes —
//! and the names of its two skeletons. Its own module, below the editor and the timeline, so
//! that both can use it without importing each other.

use crate::animate::keyframes::Timeline;
use crate::pose::rig::Rig;
use crate::puppet::LimbOrder;

/// The undoable part of the session: both skeletons, the target's depth order and the
/// keyframes.
#[derive(Clone, Debug, PartialEq)]
pub struct Doc {
    pub source: Rig,
    pub target: Rig,
    pub timeline: Timeline,
    /// Limbs the user put in front of / behind the body in the target pose.
    pub order: LimbOrder,
}

/// Which skeleton a joint belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Which {
    Source,
    Target,
}

impl Which {
    pub fn name(self) -> &'static str {
        match self {
            Which::Source => "source",
            Which::Target => "target",
        }
    }
}

/// A joint being dragged.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Drag {
    pub which: Which,
    pub joint: usize,
    /// Shift held at the start: swing the limb (forward kinematics) instead of moving the joint.
    pub rotate: bool,
}
