//! Animation: a person in a photo moved through a sequence of poses and rendered frame by frame
//! through the same default pipeline as a still (the layered composite at the photo's size).
//!
//! * [`keyframes`] — keyframes (a rig, a duration to the next, an easing) and the timeline that
//!   samples them at any time; serialised in projects and `--keyframes` files.
//! * [`interp`] — interpolation between two rigs in the kinematic tree: joint angles about their
//!   parents, bone lengths kept, the root translated.
//! * [`motion`] — pose sequences from disk (OpenPose `*_keypoints.json` folders, one JSON with
//!   frames, folders of images through the detector).
//! * [`retarget`] — a driver's motion mapped onto the photo's person (their bone lengths, scale
//!   and placement), gaps filled and jitter smoothed.
//! * [`render`] — frames through the default pipeline, held poses rendered once, into a
//!   [`crate::imaging::animation`] writer, with progress and cancel.
//! * [`temporal`] — frame-to-frame change in static regions and in the person (flicker).

pub mod interp;
pub mod keyframes;
pub mod motion;
pub mod render;
pub mod retarget;
pub mod temporal;
