//! marionette — pose a person in a photo by dragging a skeleton; a neural network (GFLA, later PoNA)
//! re-renders them in the new pose and shows why (flow fields, occlusion masks, attention).
//!
//! Where things live:
//! * [`pose`] — the 18-joint OpenPose-COCO skeleton, heat-map encoding, pose file formats.
//! * [`ops`] — the model's custom tensor ops (block extractor, local attention, resample2d,
//!   affine regularisation), each with a CPU kernel and checked against the authors' reference.
//! * [`model`] — the networks; [`model::gfla`] is the GFLA pose generator.
//! * [`weights`] — checkpoint loading (safetensors, zip and legacy `.pth`) and validation.
//! * [`imaging`] — photo fitting (crop/pad/resize around the person), tensor ↔ image, flow colours.
//! * [`detect`] — finding the skeleton in a photo: MediaPipe BlazePose on a small TFLite
//!   interpreter, mapped to the 18 OpenPose joints.
//! * [`puppet`] — the training-free puppet warp (the baseline, and what moves the person by
//!   default) and which target pixels the moved figure owns.
//! * [`composite`] — re-posing inside the photo: matte + background plate per photo, the moved
//!   person composited over them per edit (the editor, `render` and `eval` all call it).
//! * [`synth`], [`train`], [`eval`] — synthetic people with exact ground truth, GFLA training,
//!   and the comparison of every method on held-out scenes.
//! * [`animate`] — keyframes, motion transfer and frame export through the composite.
//! * [`app`] — the desktop editor (eframe/egui, wgpu overlays, background workers).
//! * [`util`] — the bottom layer: the seeded PRNG and atomic file writes.
//! * [`cli`] — the `marionette` subcommands (`edit`, `render`, `detect`, `fetch-models`,
//!   `inpaint`, `bench`, `synth`, `train`, `eval`).

pub mod animate;
pub mod app;
pub mod cli;
pub mod composite;
pub mod detect;
pub mod eval;
pub mod imaging;
pub mod model;
pub mod ops;
pub mod pose;
pub mod puppet;
pub mod synth;
pub mod train;
pub mod util;
pub mod weights;
