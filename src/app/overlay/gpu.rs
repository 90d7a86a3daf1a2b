//! The GPU side: the pipeline `install` builds once per renderer, the field textures and
//! uniform slots it keeps in egui_wgpu's `callback_resources`, and one paint callback per
//! overlay.

use std::collections::HashMap;
use std::num::NonZeroU64;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Weak};

use eframe::egui;
use eframe::egui_wgpu::{self, wgpu};

use super::cpu::{clean_max_radius, clean_opacity, clean_range};
use super::{OverlayPaint, OverlayStyle};
use crate::app::field::{check_shape, FloatField};

/// Field textures kept on the GPU; least recently used ones beyond this are dropped (never one
/// drawn in the current frame).
const MAX_CACHED_FIELDS: usize = 16;

/// Proof that the overlay pipeline is installed in the renderer: [`install`] returns it and
/// only it paints, so whether overlays can be drawn is known where it is held (the app's
/// `gpu_overlays`), not in a global flag beside it.
#[derive(Clone, Copy, Debug)]
pub struct GpuOverlays(());

/// Creates the pipeline once and stores it in `render_state.renderer.write().callback_resources`.
/// Call from the eframe app's constructor when `cc.wgpu_render_state` is Some. Idempotent.
pub fn install(render_state: &egui_wgpu::RenderState) -> GpuOverlays {
    let mut renderer = render_state.renderer.write();
    if !renderer.callback_resources.contains::<OverlayResources>() {
        let resources = OverlayResources::new(&render_state.device, render_state.target_format);
        renderer.callback_resources.insert(resources);
    }
    GpuOverlays(())
}

impl GpuOverlays {
    /// Adds an egui_wgpu paint callback drawing `overlay` stretched over `rect`.
    ///
    /// The rect may extend past the screen or the clip rect: the field stays anchored to `rect`
    /// and is clipped, not squeezed.
    pub fn paint(self, painter: &egui::Painter, rect: egui::Rect, overlay: OverlayPaint) {
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
    }
}

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
            source: wgpu::ShaderSource::Wgsl(include_str!("../../../shaders/overlay.wgsl").into()),
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

    fn field(w: u32, h: u32, c: u8, data: Vec<f32>) -> FloatField {
        FloatField::new(w, h, c, data).expect("valid field")
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
