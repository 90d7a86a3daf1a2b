//! Float-field overlays (flow colour wheel, turbo heat maps) drawn on the GPU through egui_wgpu
//! paint callbacks, with a CPU twin ([`to_rgba_image`]) that produces the same bytes for PNG
//! export, legends and tests.
//!
//! How it fits together:
//! * [`install`] builds the pipeline once per renderer and stores `OverlayResources` in
//!   egui_wgpu's `callback_resources`.
//! * [`paint`] queues an `OverlayCallback`. In `prepare` the callback uploads its field (cached
//!   by [`OverlayPaint::key`]) and writes its own uniform slot; in `paint` it draws one triangle.
//! * The shader (`shaders/overlay.wgsl`) and this file share every colour rule: the flow wheel
//!   is `imaging::flow_color` (the reference's `flow2color`), turbo is one polynomial written
//!   twice, and both quantise to 8 bits the same way before blending.
//!
//! Requirements on the host: eframe's defaults `multisampling: 0` and `depth_buffer: 0` (egui_wgpu
//! does not expose its render-pass sample count or depth format to callbacks, so the pipeline is
//! built for one sample and no depth attachment).

use std::collections::HashMap;
use std::num::NonZeroU64;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};

use anyhow::{ensure, Result};
use eframe::egui;
use eframe::egui_wgpu::{self, wgpu};

use crate::imaging::flow_color::{color_wheel, wheel_color};

/// Largest accepted field side: the WebGPU default `max_texture_dimension_2d`.
const MAX_FIELD_SIDE: u32 = 8192;

/// Field textures kept on the GPU; least recently used ones beyond this are dropped (never one
/// drawn in the current frame).
const MAX_CACHED_FIELDS: usize = 16;

/// The reference adds this to the largest magnitude before normalising (no division by zero).
const FLOW_NORM_EPS: f64 = 1e-5;

/// Set by [`install`]: lets [`paint`] report that nothing can draw (glow backend, no install).
static INSTALLED: AtomicBool = AtomicBool::new(false);

/// A float image to be coloured on the GPU: `channels` = 2 (flow Δx, Δy in pixels of the field) or 1 (scalar), planar layout: plane c at data[c*w*h ..], rows top to bottom.
#[derive(Clone, Debug, PartialEq)]
pub struct FloatField {
    pub width: u32,
    pub height: u32,
    pub channels: u8,
    pub data: Vec<f32>,
}

impl FloatField {
    /// Validates the shape so that every later consumer (upload, CPU colouring) can index freely:
    /// `len == w*h*c`, `1 <= w, h <= 8192`, channels 1 or 2.
    pub fn new(width: u32, height: u32, channels: u8, data: Vec<f32>) -> Result<Self> {
        check_shape(width, height, channels, data.len())?;
        Ok(Self {
            width,
            height,
            channels,
            data,
        })
    }

    /// Max over pixels of sqrt(sum of squares of channels), non-finite values counted as 0.
    /// Accumulated in f64 like the reference's `flow_to_color`, so the flow look matches it.
    pub fn max_magnitude(&self) -> f32 {
        let n = self.cells();
        (0..n)
            .map(|i| {
                (0..self.channels as usize)
                    .map(|c| (self.value(c, i) as f64).powi(2))
                    .sum::<f64>()
                    .sqrt()
            })
            .fold(0.0f64, f64::max) as f32
    }

    fn cells(&self) -> usize {
        self.width as usize * self.height as usize
    }

    /// Value of channel `c` at cell `i`, sanitised; a missing channel (Δy of a scalar) reads 0,
    /// as the GPU's R32Float texture does. Missing data (a hand-built, too short field) reads 0
    /// too, so bad data never panics.
    fn value(&self, c: usize, i: usize) -> f32 {
        if c >= self.channels as usize {
            return 0.0;
        }
        let value = self.data.get(c * self.cells() + i).copied();
        value.map_or(0.0, finite_or_zero)
    }
}

/// The invariants of [`FloatField::new`]; rechecked before upload because the fields are public.
fn check_shape(width: u32, height: u32, channels: u8, len: usize) -> Result<()> {
    ensure!(
        width >= 1 && height >= 1,
        "float field must be at least 1×1, got {width}×{height}"
    );
    ensure!(
        width <= MAX_FIELD_SIDE && height <= MAX_FIELD_SIDE,
        "float field {width}×{height} exceeds the {MAX_FIELD_SIDE} px texture limit"
    );
    ensure!(
        channels == 1 || channels == 2,
        "float field needs 1 (scalar) or 2 (flow) channels, got {channels}"
    );
    let expected = width as usize * height as usize * channels as usize;
    ensure!(
        len == expected,
        "float field {width}×{height}×{channels} needs {expected} values, got {len}"
    );
    Ok(())
}

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

/// Creates the pipeline once and stores it in `render_state.renderer.write().callback_resources`. Call from the eframe app's constructor when `cc.wgpu_render_state` is Some. Idempotent.
pub fn install(render_state: &egui_wgpu::RenderState) {
    let mut renderer = render_state.renderer.write();
    if !renderer.callback_resources.contains::<OverlayResources>() {
        let resources = OverlayResources::new(&render_state.device, render_state.target_format);
        renderer.callback_resources.insert(resources);
    }
    INSTALLED.store(true, Ordering::Release);
}

/// Adds an egui_wgpu paint callback drawing `overlay` stretched over `rect`. If `install` was never called (e.g. a non-wgpu backend), draws nothing and returns false.
///
/// The rect may extend past the screen or the clip rect: the field stays anchored to `rect`
/// and is clipped, not squeezed.
pub fn paint(painter: &egui::Painter, rect: egui::Rect, overlay: OverlayPaint) -> bool {
    if !INSTALLED.load(Ordering::Acquire) {
        return false;
    }
    if rect.is_positive() && rect.is_finite() {
        painter.add(egui_wgpu::Callback::new_paint_callback(
            rect,
            OverlayCallback {
                overlay,
                rect,
                slot: AtomicUsize::new(NO_SLOT),
            },
        ));
    }
    true
}

/// CPU twin of the shader's colours, for PNG export, legends and tests: RGBA8, straight (non-premultiplied) alpha, one pixel per field cell.
pub fn to_rgba_image(field: &FloatField, style: OverlayStyle, opacity: f32) -> image::RgbaImage {
    let opacity = clean_opacity(opacity);
    let w = field.width as usize;
    match style {
        OverlayStyle::FlowWheel { max_radius } => {
            let wheel = color_wheel();
            let norm = clean_max_radius(max_radius) as f64 + FLOW_NORM_EPS;
            let alpha = unit_to_byte(opacity);
            image::RgbaImage::from_fn(field.width, field.height, |x, y| {
                let i = y as usize * w + x as usize;
                // The reference swaps the channels: u = Δy, v = Δx.
                let u = field.value(1, i) as f64 / norm;
                let v = field.value(0, i) as f64 / norm;
                let [r, g, b] = wheel_color(&wheel, u, v);
                image::Rgba([r, g, b, alpha])
            })
        }
        OverlayStyle::Colormap {
            min,
            max,
            alpha_from_value,
        } => {
            let (min, max) = clean_range(min, max);
            image::RgbaImage::from_fn(field.width, field.height, |x, y| {
                let i = y as usize * w + x as usize;
                let t = colormap_t(field.value(0, i), min, max);
                let [r, g, b] = turbo(t);
                let alpha = if alpha_from_value {
                    opacity * t
                } else {
                    opacity
                };
                image::Rgba([r, g, b, unit_to_byte(alpha)])
            })
        }
    }
}

/// Turbo (Anton Mikhailov, Google 2019) through Ruofei Du's degree-5 polynomial approximation
/// (Apache-2.0), evaluated in Horner form exactly as `overlay.wgsl` does. `t` is clamped to
/// [0, 1]; NaN reads as 0.
pub fn turbo(t: f32) -> [u8; 3] {
    // The published coefficients, kept digit for digit (f64 here only so the literals are
    // exact as written); evaluation is in f32 like the shader's.
    const R: [f64; 6] = [
        0.13572138,
        4.61539260,
        -42.66032258,
        132.13108234,
        -152.94239396,
        59.28637943,
    ];
    const G: [f64; 6] = [
        0.09140261,
        2.19418839,
        4.84296658,
        -14.18503333,
        4.27729857,
        2.82956604,
    ];
    const B: [f64; 6] = [
        0.10667330,
        12.64194608,
        -60.58204836,
        110.36276771,
        -89.90310912,
        27.34824973,
    ];
    let x = if t.is_nan() { 0.0 } else { t.clamp(0.0, 1.0) };
    let horner = |c: &[f64; 6]| c.iter().rev().fold(0.0f32, |acc, &k| acc * x + k as f32);
    [R, G, B].map(|c| unit_to_byte(horner(&c)))
}

// ---------------------------------------------------------------------------------------------
// Colour rules shared by the CPU twin and the uniforms (the shader assumes sanitised inputs).

fn finite_or_zero(x: f32) -> f32 {
    if x.is_finite() {
        x
    } else {
        0.0
    }
}

fn clean_opacity(opacity: f32) -> f32 {
    if opacity.is_nan() {
        0.0
    } else {
        opacity.clamp(0.0, 1.0)
    }
}

/// Negative or non-finite normalisers would flip or blank the wheel: treat them as 0, which the
/// 1e-5 epsilon then keeps finite (every non-zero vector is "beyond the radius").
fn clean_max_radius(max_radius: f32) -> f32 {
    if max_radius.is_finite() {
        max_radius.max(0.0)
    } else {
        0.0
    }
}

fn clean_range(min: f32, max: f32) -> (f32, f32) {
    let min = finite_or_zero(min);
    let max = if max.is_finite() { max } else { min };
    (min, max)
}

/// Position of `value` in [min, max], clamped; an empty or inverted range is a step at `min`.
fn colormap_t(value: f32, min: f32, max: f32) -> f32 {
    let range = max - min;
    if range > 0.0 {
        ((value - min) / range).clamp(0.0, 1.0)
    } else if value >= min {
        1.0
    } else {
        0.0
    }
}

/// 0–1 to a byte, rounding half up (the shader writes `floor(x * 255 + 0.5)` too; a unorm8
/// target rounds to nearest, so exact byte values survive the framebuffer).
fn unit_to_byte(x: f32) -> u8 {
    (x.clamp(0.0, 1.0) * 255.0 + 0.5).floor() as u8
}

// ---------------------------------------------------------------------------------------------
// GPU side.

/// The shader's `Params` (48 bytes; WGSL layout: vec2s at 8-byte alignment, then scalars).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    rect_min_px: [f32; 2],
    rect_size_px: [f32; 2],
    mode: u32,
    smooth_sampling: u32,
    opacity: f32,
    max_radius: f32,
    value_min: f32,
    value_max: f32,
    alpha_from_value: u32,
    _pad: u32,
}

const MODE_FLOW: u32 = 0;
const MODE_COLORMAP: u32 = 1;

impl Params {
    fn new(overlay: &OverlayPaint, rect: egui::Rect, pixels_per_point: f32) -> Self {
        let (mode, max_radius, (value_min, value_max), alpha_from_value) = match overlay.style {
            OverlayStyle::FlowWheel { max_radius } => {
                (MODE_FLOW, clean_max_radius(max_radius), (0.0, 1.0), false)
            }
            OverlayStyle::Colormap {
                min,
                max,
                alpha_from_value,
            } => (MODE_COLORMAP, 0.0, clean_range(min, max), alpha_from_value),
        };
        Self {
            rect_min_px: (rect.min.to_vec2() * pixels_per_point).into(),
            rect_size_px: (rect.size() * pixels_per_point).into(),
            mode,
            smooth_sampling: overlay.smooth as u32,
            opacity: clean_opacity(overlay.opacity),
            max_radius,
            value_min,
            value_max,
            alpha_from_value: alpha_from_value as u32,
            _pad: 0,
        }
    }
}

/// A field uploaded to the GPU, remembered by key.
struct CachedField {
    /// What was uploaded; a `Weak` so the cache does not keep large fields alive on the CPU (and
    /// a live `Weak` pins the allocation, so a new `Arc` can never alias a stale pointer).
    source: Weak<FloatField>,
    /// None when the field exceeds this device's texture limit (warned once, drawn as nothing).
    gpu: Option<GpuField>,
    last_used_frame: u64,
}

struct GpuField {
    /// Owned next to its bind group so the cache entry visibly owns the GPU memory.
    _texture: wgpu::Texture,
    bind_group: wgpu::BindGroup,
}

/// One overlay's uniforms: each callback in a frame takes its own slot, so several overlays
/// (even of the same field) never overwrite each other's parameters before the pass runs.
struct UniformSlot {
    buffer: wgpu::Buffer,
    bind_group: wgpu::BindGroup,
}

/// Everything the callbacks share, stored in egui_wgpu's `callback_resources`.
struct OverlayResources {
    pipeline: wgpu::RenderPipeline,
    uniform_layout: wgpu::BindGroupLayout,
    field_layout: wgpu::BindGroupLayout,
    fields: HashMap<u64, CachedField>,
    uniforms: Vec<UniformSlot>,
    next_slot: usize,
    /// Counts frames (prepare rounds) for the LRU.
    frame: u64,
    /// True between the first `prepare` of a frame and its `finish_prepare`: egui_wgpu calls all
    /// prepares, then all finish_prepares, then all paints, so this marks frame boundaries.
    frame_open: bool,
}

const NO_SLOT: usize = usize::MAX;

impl OverlayResources {
    fn new(device: &wgpu::Device, target_format: wgpu::TextureFormat) -> Self {
        let shader = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("overlay"),
            source: wgpu::ShaderSource::Wgsl(include_str!("../../shaders/overlay.wgsl").into()),
        });
        let uniform_layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("overlay uniforms"),
            entries: &[wgpu::BindGroupLayoutEntry {
                binding: 0,
                visibility: wgpu::ShaderStages::FRAGMENT,
                ty: wgpu::BindingType::Buffer {
                    ty: wgpu::BufferBindingType::Uniform,
                    has_dynamic_offset: false,
                    min_binding_size: NonZeroU64::new(std::mem::size_of::<Params>() as u64),
                },
                count: None,
            }],
        });
        let field_layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("overlay field"),
            entries: &[wgpu::BindGroupLayoutEntry {
                binding: 0,
                visibility: wgpu::ShaderStages::FRAGMENT,
                ty: wgpu::BindingType::Texture {
                    // 32-bit floats are unfilterable without FLOAT32_FILTERABLE: textureLoad only.
                    sample_type: wgpu::TextureSampleType::Float { filterable: false },
                    view_dimension: wgpu::TextureViewDimension::D2,
                    multisampled: false,
                },
                count: None,
            }],
        });
        let layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("overlay"),
            bind_group_layouts: &[Some(&uniform_layout), Some(&field_layout)],
            immediate_size: 0,
        });
        let pipeline = create_pipeline(device, &shader, &layout, target_format);
        Self {
            pipeline,
            uniform_layout,
            field_layout,
            fields: HashMap::new(),
            uniforms: Vec::new(),
            next_slot: 0,
            frame: 0,
            frame_open: false,
        }
    }

    fn begin_prepare(&mut self) {
        if !self.frame_open {
            self.frame_open = true;
            self.frame += 1;
            self.next_slot = 0;
        }
    }

    /// Makes sure `overlay.field` is on the GPU under `overlay.key`; uploads only when the key is
    /// new or now holds a different `Arc`.
    fn ensure_field(&mut self, device: &wgpu::Device, queue: &wgpu::Queue, overlay: &OverlayPaint) {
        let frame = self.frame;
        if let Some(cached) = self.fields.get_mut(&overlay.key) {
            cached.last_used_frame = frame;
            if std::ptr::eq(cached.source.as_ptr(), Arc::as_ptr(&overlay.field)) {
                return;
            }
        }
        let gpu = self.upload(device, queue, &overlay.field, overlay.key);
        self.fields.insert(
            overlay.key,
            CachedField {
                source: Arc::downgrade(&overlay.field),
                gpu,
                last_used_frame: frame,
            },
        );
        self.evict();
    }

    fn upload(
        &self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        field: &FloatField,
        key: u64,
    ) -> Option<GpuField> {
        if let Err(err) = check_shape(field.width, field.height, field.channels, field.data.len()) {
            tracing::warn!(key, "overlay field not drawn: {err:#}");
            return None;
        }
        let limit = device.limits().max_texture_dimension_2d;
        if field.width > limit || field.height > limit {
            tracing::warn!(
                key,
                "overlay field {}×{} exceeds this GPU's {limit} px texture limit; not drawn",
                field.width,
                field.height
            );
            return None;
        }
        let (format, texels) = interleave(field);
        let size = wgpu::Extent3d {
            width: field.width,
            height: field.height,
            depth_or_array_layers: 1,
        };
        let texture = device.create_texture(&wgpu::TextureDescriptor {
            label: Some("overlay field"),
            size,
            mip_level_count: 1,
            sample_count: 1,
            dimension: wgpu::TextureDimension::D2,
            format,
            usage: wgpu::TextureUsages::TEXTURE_BINDING | wgpu::TextureUsages::COPY_DST,
            view_formats: &[],
        });
        queue.write_texture(
            texture.as_image_copy(),
            bytemuck::cast_slice(&texels),
            wgpu::TexelCopyBufferLayout {
                offset: 0,
                bytes_per_row: Some(field.width * field.channels as u32 * 4),
                rows_per_image: Some(field.height),
            },
            size,
        );
        let view = texture.create_view(&wgpu::TextureViewDescriptor::default());
        let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("overlay field"),
            layout: &self.field_layout,
            entries: &[wgpu::BindGroupEntry {
                binding: 0,
                resource: wgpu::BindingResource::TextureView(&view),
            }],
        });
        Some(GpuField {
            _texture: texture,
            bind_group,
        })
    }

    /// Drops least recently used fields beyond the cap, sparing any used this frame (a callback
    /// prepared earlier in the frame still has to draw with it).
    fn evict(&mut self) {
        while self.fields.len() > MAX_CACHED_FIELDS {
            let oldest = self
                .fields
                .iter()
                .filter(|(_, f)| f.last_used_frame < self.frame)
                .min_by_key(|(_, f)| f.last_used_frame)
                .map(|(&key, _)| key);
            match oldest {
                // Dropping the texture and its bind group frees them once the GPU is done.
                Some(key) => drop(self.fields.remove(&key)),
                None => break,
            }
        }
    }

    /// Takes the next free uniform slot of this frame, growing the pool when needed.
    fn take_uniform_slot(&mut self, device: &wgpu::Device) -> usize {
        if self.next_slot == self.uniforms.len() {
            let buffer = device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("overlay params"),
                size: std::mem::size_of::<Params>() as u64,
                usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            });
            let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
                label: Some("overlay params"),
                layout: &self.uniform_layout,
                entries: &[wgpu::BindGroupEntry {
                    binding: 0,
                    resource: buffer.as_entire_binding(),
                }],
            });
            self.uniforms.push(UniformSlot { buffer, bind_group });
        }
        self.next_slot += 1;
        self.next_slot - 1
    }
}

fn create_pipeline(
    device: &wgpu::Device,
    shader: &wgpu::ShaderModule,
    layout: &wgpu::PipelineLayout,
    target_format: wgpu::TextureFormat,
) -> wgpu::RenderPipeline {
    // egui picks its fragment entry point the same way: it prefers a non-sRGB target and writes
    // gamma-space colours into it; an sRGB target wants linear values.
    let fragment_entry = if target_format.is_srgb() {
        "fs_main_linear_framebuffer"
    } else {
        "fs_main_gamma_framebuffer"
    };
    device.create_render_pipeline(&wgpu::RenderPipelineDescriptor {
        label: Some("overlay"),
        layout: Some(layout),
        vertex: wgpu::VertexState {
            module: shader,
            entry_point: Some("vs_main"),
            buffers: &[],
            compilation_options: Default::default(),
        },
        primitive: wgpu::PrimitiveState::default(),
        depth_stencil: None,
        multisample: wgpu::MultisampleState::default(),
        fragment: Some(wgpu::FragmentState {
            module: shader,
            entry_point: Some(fragment_entry),
            targets: &[Some(wgpu::ColorTargetState {
                format: target_format,
                blend: Some(egui_blend_state()),
                write_mask: wgpu::ColorWrites::ALL,
            })],
            compilation_options: Default::default(),
        }),
        multiview_mask: None,
        cache: None,
    })
}

/// egui_wgpu 0.37's own blend state (renderer.rs): premultiplied colour over the destination,
/// destination alpha accumulating coverage. Matching it makes overlays compose like egui shapes.
fn egui_blend_state() -> wgpu::BlendState {
    wgpu::BlendState {
        color: wgpu::BlendComponent {
            src_factor: wgpu::BlendFactor::One,
            dst_factor: wgpu::BlendFactor::OneMinusSrcAlpha,
            operation: wgpu::BlendOperation::Add,
        },
        alpha: wgpu::BlendComponent {
            src_factor: wgpu::BlendFactor::OneMinusDstAlpha,
            dst_factor: wgpu::BlendFactor::One,
            operation: wgpu::BlendOperation::Add,
        },
    }
}

/// Interleaved texels (planar → Rg/R) with non-finite values replaced by 0: done here because
/// shader compilers may assume NaN never happens and fold away any test for it.
fn interleave(field: &FloatField) -> (wgpu::TextureFormat, Vec<f32>) {
    let n = field.cells();
    if field.channels == 2 {
        let texels = (0..n)
            .flat_map(|i| [field.value(0, i), field.value(1, i)])
            .collect();
        (wgpu::TextureFormat::Rg32Float, texels)
    } else {
        let texels = (0..n).map(|i| field.value(0, i)).collect();
        (wgpu::TextureFormat::R32Float, texels)
    }
}

/// One overlay in one frame.
struct OverlayCallback {
    overlay: OverlayPaint,
    /// Also the callback rect; kept unclamped here because egui clamps the viewport to the screen.
    rect: egui::Rect,
    /// This frame's uniform slot, chosen in `prepare` (`NO_SLOT` until then).
    slot: AtomicUsize,
}

impl egui_wgpu::CallbackTrait for OverlayCallback {
    fn prepare(
        &self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        screen_descriptor: &egui_wgpu::ScreenDescriptor,
        _egui_encoder: &mut wgpu::CommandEncoder,
        callback_resources: &mut egui_wgpu::CallbackResources,
    ) -> Vec<wgpu::CommandBuffer> {
        let Some(resources) = callback_resources.get_mut::<OverlayResources>() else {
            return Vec::new();
        };
        resources.begin_prepare();
        resources.ensure_field(device, queue, &self.overlay);
        let slot = resources.take_uniform_slot(device);
        let params = Params::new(&self.overlay, self.rect, screen_descriptor.pixels_per_point);
        queue.write_buffer(
            &resources.uniforms[slot].buffer,
            0,
            bytemuck::bytes_of(&params),
        );
        self.slot.store(slot, Ordering::Release);
        Vec::new()
    }

    fn finish_prepare(
        &self,
        _device: &wgpu::Device,
        _queue: &wgpu::Queue,
        _egui_encoder: &mut wgpu::CommandEncoder,
        callback_resources: &mut egui_wgpu::CallbackResources,
    ) -> Vec<wgpu::CommandBuffer> {
        if let Some(resources) = callback_resources.get_mut::<OverlayResources>() {
            resources.frame_open = false;
        }
        Vec::new()
    }

    fn paint(
        &self,
        _info: egui::PaintCallbackInfo,
        render_pass: &mut wgpu::RenderPass<'static>,
        callback_resources: &egui_wgpu::CallbackResources,
    ) {
        let Some(resources) = callback_resources.get::<OverlayResources>() else {
            return;
        };
        let Some(uniforms) = resources.uniforms.get(self.slot.load(Ordering::Acquire)) else {
            return;
        };
        let Some(gpu) = resources
            .fields
            .get(&self.overlay.key)
            .and_then(|f| f.gpu.as_ref())
        else {
            return;
        };
        render_pass.set_pipeline(&resources.pipeline);
        render_pass.set_bind_group(0, &uniforms.bind_group, &[]);
        render_pass.set_bind_group(1, &gpu.bind_group, &[]);
        render_pass.draw(0..3, 0..1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::imaging::flow_to_color;

    fn field(w: u32, h: u32, c: u8, data: Vec<f32>) -> FloatField {
        FloatField::new(w, h, c, data).expect("valid field")
    }

    #[test]
    fn new_rejects_bad_shapes() {
        let cases = [
            (0, 1, 1, 0, "at least 1×1"),
            (1, 0, 2, 0, "at least 1×1"),
            (8193, 1, 1, 8193, "texture limit"),
            (2, 2, 3, 12, "1 (scalar) or 2 (flow)"),
            (2, 2, 0, 0, "1 (scalar) or 2 (flow)"),
            (2, 2, 2, 7, "needs 8 values, got 7"),
        ];
        for (w, h, c, len, msg) in cases {
            let err = FloatField::new(w, h, c, vec![0.0; len]).unwrap_err();
            assert!(err.to_string().contains(msg), "{w}×{h}×{c}: {err}");
        }
        assert!(FloatField::new(8192, 1, 1, vec![0.0; 8192]).is_ok());
    }

    #[test]
    fn hand_built_bad_fields_do_not_panic() {
        // The fields are public, so `new` can be bypassed: short data reads as zeros.
        let bad = FloatField {
            width: 3,
            height: 2,
            channels: 2,
            data: vec![3.0, 0.0, 0.0, 4.0],
        };
        assert_eq!(
            bad.max_magnitude(),
            4.0,
            "Δx plane [3, 0, 0, 4, ·, ·], no Δy plane"
        );
        let img = to_rgba_image(&bad, OverlayStyle::FlowWheel { max_radius: 3.0 }, 1.0);
        assert_eq!(img.dimensions(), (3, 2));
        assert!(check_shape(bad.width, bad.height, bad.channels, bad.data.len()).is_err());
    }

    #[test]
    fn max_magnitude_ignores_non_finite() {
        // Planar: Δx = [3, NaN, inf, 0], Δy = [4, 1, 0, -2].
        let f = field(
            2,
            2,
            2,
            vec![3.0, f32::NAN, f32::INFINITY, 0.0, 4.0, 1.0, 0.0, -2.0],
        );
        assert_eq!(f.max_magnitude(), 5.0);
        let nan_only = field(1, 1, 1, vec![f32::NAN]);
        assert_eq!(nan_only.max_magnitude(), 0.0);
        let scalar = field(3, 1, 1, vec![-7.0, 2.0, f32::NEG_INFINITY]);
        assert_eq!(scalar.max_magnitude(), 7.0);
    }

    /// A flow with every direction and a spread of magnitudes, plus non-finite cells.
    fn test_flow(w: u32, h: u32) -> FloatField {
        let n = (w * h) as usize;
        let mut data = vec![0.0f32; 2 * n];
        for i in 0..n {
            let angle = i as f32 * 0.37;
            let mag = (i % 7) as f32 * 1.3;
            data[i] = mag * angle.cos();
            data[n + i] = mag * angle.sin();
        }
        data[5] = f32::NAN;
        data[n + 9] = f32::INFINITY;
        field(w, h, 2, data)
    }

    #[test]
    fn flow_wheel_matches_reference_exactly() {
        let f = test_flow(13, 9);
        let n = f.cells();
        let reference = flow_to_color(&f.data[..n], &f.data[n..], 9, 13);
        let style = OverlayStyle::FlowWheel {
            max_radius: f.max_magnitude(),
        };
        let ours = to_rgba_image(&f, style, 0.6);
        for (x, y, p) in ours.enumerate_pixels() {
            let r = reference.get_pixel(x, y);
            assert_eq!(&p.0[..3], &r.0, "cell ({x}, {y})");
            assert_eq!(p.0[3], 153, "alpha = round(0.6 · 255)");
        }
    }

    #[test]
    fn colormap_alpha_and_range() {
        let f = field(4, 1, 1, vec![-1.0, 0.0, 5.0, f32::NAN]);
        let style = OverlayStyle::Colormap {
            min: 0.0,
            max: 10.0,
            alpha_from_value: true,
        };
        let img = to_rgba_image(&f, style, 1.0);
        let px = |x| img.get_pixel(x, 0).0;
        assert_eq!(&px(0)[..3], &turbo(0.0), "below min clamps");
        assert_eq!(px(0)[3], 0);
        assert_eq!(&px(2)[..3], &turbo(0.5));
        assert_eq!(px(2)[3], 128);
        assert_eq!(px(3), px(1), "NaN reads as 0");
        // An empty range is a step at min rather than a division by zero.
        let step = OverlayStyle::Colormap {
            min: 0.0,
            max: 0.0,
            alpha_from_value: false,
        };
        let img = to_rgba_image(&f, step, 0.5);
        assert_eq!(
            &img.get_pixel(0, 0).0,
            &[turbo(0.0)[0], turbo(0.0)[1], turbo(0.0)[2], 128]
        );
        assert_eq!(&img.get_pixel(2, 0).0[..3], &turbo(1.0));
    }

    fn luminance([r, g, b]: [u8; 3]) -> f32 {
        0.2126 * r as f32 + 0.7152 * g as f32 + 0.0722 * b as f32
    }

    #[test]
    fn turbo_sanity() {
        // Turbo runs dark → blue → cyan/green → yellow → dark red. (The polynomial is rougher at
        // the very ends than the LUT: its t = 0 is a dark grey-brown, (35, 23, 27).)
        assert!(luminance(turbo(0.0)) < 40.0, "{:?}", turbo(0.0));
        let [r, g, b] = turbo(0.1);
        assert!(b > 200 && b > r && b > g, "{:?}", turbo(0.1));
        let [r, g, b] = turbo(1.0);
        assert!(r > 100 && g < 30 && b < 10, "{:?}", turbo(1.0));
        assert_eq!(turbo(-3.0), turbo(0.0));
        assert_eq!(turbo(7.0), turbo(1.0));
        assert_eq!(turbo(f32::NAN), turbo(0.0));
        // Unlike viridis, turbo's luminance is not monotone: it rises to a peak in the
        // green-yellow band, then falls towards the dark red end.
        let lum: Vec<f32> = (0..=100)
            .map(|i| luminance(turbo(i as f32 / 100.0)))
            .collect();
        let peak = (0..lum.len())
            .max_by(|&a, &b| lum[a].total_cmp(&lum[b]))
            .unwrap();
        assert!(
            (40..=70).contains(&peak),
            "peak at t = {}",
            peak as f32 / 100.0
        );
        assert!(
            lum[..=peak].windows(2).all(|w| w[1] >= w[0] - 1.0),
            "rising"
        );
        assert!(
            lum[peak..].windows(2).all(|w| w[1] <= w[0] + 1.0),
            "falling"
        );
    }

    #[test]
    fn paint_without_install_draws_nothing() {
        // No test in this binary calls `install`, so the flag is still down.
        let ctx = egui::Context::default();
        let painter = egui::Painter::new(ctx, egui::LayerId::background(), egui::Rect::EVERYTHING);
        let overlay = OverlayPaint {
            key: 0,
            field: Arc::new(field(1, 1, 1, vec![0.0])),
            style: OverlayStyle::FlowWheel { max_radius: 1.0 },
            opacity: 1.0,
            smooth: false,
        };
        let rect = egui::Rect::from_min_size(egui::Pos2::ZERO, egui::vec2(4.0, 4.0));
        assert!(!paint(&painter, rect, overlay));
    }

    #[test]
    fn params_layout_matches_wgsl() {
        assert_eq!(std::mem::size_of::<Params>(), 48);
        let overlay = OverlayPaint {
            key: 1,
            field: Arc::new(field(1, 1, 1, vec![0.0])),
            style: OverlayStyle::Colormap {
                min: f32::NAN,
                max: f32::INFINITY,
                alpha_from_value: true,
            },
            opacity: f32::NAN,
            smooth: true,
        };
        let rect = egui::Rect::from_min_size(egui::pos2(-10.0, 5.0), egui::vec2(20.0, 30.0));
        let p = Params::new(&overlay, rect, 2.0);
        assert_eq!(p.rect_min_px, [-20.0, 10.0], "unclamped, in pixels");
        assert_eq!(p.rect_size_px, [40.0, 60.0]);
        assert_eq!((p.mode, p.smooth_sampling, p.alpha_from_value), (1, 1, 1));
        assert_eq!((p.opacity, p.value_min, p.value_max), (0.0, 0.0, 0.0));
    }
}
