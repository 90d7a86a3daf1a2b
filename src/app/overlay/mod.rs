//! Float-field overlays (flow colour wheel, turbo heat maps) drawn on the GPU through egui_wgpu
//! paint callbacks, with a CPU twin ([`to_rgba_image`] in [`cpu`]) that produces the same bytes
//! for PNG export, legends and tests.
//!
//! How it fits together:
//! * [`install`] builds the pipeline once per renderer and stores `OverlayResources` in
//!   egui_wgpu's `callback_resources`; the [`GpuOverlays`] it returns is what paints, so
//!   only a renderer with the pipeline can be asked to draw one.
//! * [`GpuOverlays::paint`] queues an `OverlayCallback`. In `prepare` the callback uploads its
//!   field (cached by [`OverlayPaint::key`]) and writes its own uniform slot; in `paint` it
//!   draws one triangle.
//! * The shader (`shaders/overlay.wgsl`) and [`cpu`] share every colour rule: the flow wheel
//!   is `imaging::flow_color` (the reference's `flow2color`), turbo is one polynomial written
//!   twice, and both quantise to 8 bits the same way before blending.
//!
//! Requirements on the host: eframe's defaults `multisampling: 0` and `depth_buffer: 0` (egui_wgpu
//! does not expose its render-pass sample count or depth format to callbacks, so the pipeline is
//! built for one sample and no depth attachment).
//!
//! The files: [`cpu`] the CPU twin and the colour rules both sides share, [`gpu`] the
//! pipeline and the paint callbacks; the field itself is [`crate::app::field`].

pub mod cpu;
#[cfg(feature = "gui")]
pub mod gpu;

pub use super::field::FloatField;
pub use cpu::{to_rgba_image, turbo};
#[cfg(feature = "gui")]
pub use gpu::{install, GpuOverlays};

use std::sync::Arc;

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum OverlayStyle {
    /// The reference flow colouring; `max_radius` normalises (use FloatField::max_magnitude for the reference look).
    FlowWheel { max_radius: f32 },
    /// Turbo colormap of channel 0 over [min, max]; when `alpha_from_value`, per-pixel alpha is opacity * t (heat maps that fade out where the value is low).
    Colormap {
        min: f32,
        max: f32,
        alpha_from_value: bool,
    },
}

#[derive(Clone, Debug)]
pub struct OverlayPaint {
    /// Identifies the field's content: the same key with the same Arc content reuses the GPU texture (no re-upload); a new key uploads. Several overlays with different keys can be on screen in one frame.
    pub key: u64,
    pub field: Arc<FloatField>,
    pub style: OverlayStyle,
    /// 0..=1
    pub opacity: f32,
    /// bilinear (true) or nearest cells (false)
    pub smooth: bool,
}
