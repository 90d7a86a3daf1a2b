//! The overlay shader, rendered headless through egui_kittest's wgpu renderer (lavapipe on
//! machines without a GPU), compared pixel by pixel with the CPU references:
//! `imaging::flow_to_color` for the flow wheel and `overlay::turbo` for the colormap.
#![cfg(feature = "gui")] // the real window and the wgpu overlays

use std::sync::Arc;

use eframe::egui::{self, pos2, vec2, Color32, Rect};
use egui_kittest::Harness;
use image::RgbaImage;
use marionette::app::overlay::{self, FloatField, OverlayPaint, OverlayStyle};
use marionette::imaging::flow_to_color;

/// Per-channel tolerance against the CPU bytes (f32 maths on the GPU vs f64 on the CPU).
const TOLERANCE: i32 = 3;

/// An opaque, non-grey background so blending mistakes show in every channel.
const BACKGROUND: Color32 = Color32::from_rgb(40, 80, 120);

/// Paints a background, then each overlay over its rect, every frame.
struct OverlayApp {
    gpu: overlay::GpuOverlays,
    overlays: Vec<(Rect, OverlayPaint)>,
}

impl OverlayApp {
    fn new(cc: &eframe::CreationContext<'_>, overlays: Vec<(Rect, OverlayPaint)>) -> Self {
        let render_state = cc
            .wgpu_render_state
            .as_ref()
            .expect("kittest's wgpu renderer provides a render state");
        overlay::install(render_state);
        let gpu = overlay::install(render_state); // idempotent
        Self { gpu, overlays }
    }
}

impl eframe::App for OverlayApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        let painter = ui.painter();
        painter.rect_filled(painter.clip_rect(), 0.0, BACKGROUND);
        for (rect, paint) in &self.overlays {
            self.gpu.paint(painter, *rect, paint.clone());
        }
    }
}

fn harness(
    size: egui::Vec2,
    pixels_per_point: f32,
    overlays: Vec<(Rect, OverlayPaint)>,
) -> Harness<'static, OverlayApp> {
    let mut harness = Harness::builder()
        .with_size(size)
        .with_pixels_per_point(pixels_per_point)
        .wgpu()
        .build_eframe(|cc| OverlayApp::new(cc, overlays));
    harness.run();
    harness
}

fn render(size: egui::Vec2, overlays: Vec<(Rect, OverlayPaint)>) -> RgbaImage {
    harness(size, 1.0, overlays)
        .render()
        .expect("headless wgpu render")
}

/// An 8×8 flow covering all directions, magnitudes from 0 up, and one non-finite cell.
fn flow_field() -> FloatField {
    let (w, h) = (8usize, 8usize);
    let n = w * h;
    let mut data = vec![0.0f32; 2 * n];
    for i in 0..n {
        let angle = i as f32 * std::f32::consts::TAU / 23.0;
        let magnitude = (i % 9) as f32 * 0.75;
        data[i] = magnitude * angle.cos();
        data[n + i] = magnitude * angle.sin();
    }
    data[n + 10] = f32::NAN;
    FloatField::new(w as u32, h as u32, 2, data).expect("valid flow")
}

/// An 8×8 scalar ramp 0..63, row-major.
fn ramp_field() -> FloatField {
    FloatField::new(8, 8, 1, (0..64).map(|v| v as f32).collect()).expect("valid ramp")
}

fn flow_overlay(key: u64, field: &Arc<FloatField>, opacity: f32) -> OverlayPaint {
    OverlayPaint {
        key,
        field: field.clone(),
        style: OverlayStyle::FlowWheel {
            max_radius: field.max_magnitude(),
        },
        opacity,
        smooth: false,
    }
}

fn ramp_overlay(key: u64, field: &Arc<FloatField>, smooth: bool) -> OverlayPaint {
    OverlayPaint {
        key,
        field: field.clone(),
        style: OverlayStyle::Colormap {
            min: 0.0,
            max: 63.0,
            alpha_from_value: false,
        },
        opacity: 1.0,
        smooth,
    }
}

/// Reference flow colours of `field` (straight from `imaging::flow_to_color`).
fn reference_flow(field: &FloatField) -> image::RgbImage {
    let n = (field.width * field.height) as usize;
    flow_to_color(
        &field.data[..n],
        &field.data[n..],
        field.height as usize,
        field.width as usize,
    )
}

/// The pixel at the centre of cell (cx, cy) of a `cells`-cell-wide field stretched over `rect`
/// (may lie off the image).
fn cell_centre_px(rect: Rect, cells: (u32, u32), cx: u32, cy: u32) -> egui::Pos2 {
    let cell = vec2(
        rect.width() / cells.0 as f32,
        rect.height() / cells.1 as f32,
    );
    let p = rect.min + vec2((cx as f32 + 0.5) * cell.x, (cy as f32 + 0.5) * cell.y);
    p.floor()
}

/// [`cell_centre_px`] for a cell known to be on screen.
fn cell_centre(rect: Rect, cells: (u32, u32), cx: u32, cy: u32) -> (u32, u32) {
    let p = cell_centre_px(rect, cells, cx, cy);
    assert!(p.x >= 0.0 && p.y >= 0.0, "cell ({cx}, {cy}) is off screen");
    (p.x as u32, p.y as u32)
}

#[track_caller]
fn assert_close(got: [u8; 4], want: [u8; 3], what: &str) {
    for c in 0..3 {
        let diff = (got[c] as i32 - want[c] as i32).abs();
        assert!(diff <= TOLERANCE, "{what}: got {got:?}, want {want:?}");
    }
}

/// Straight-alpha `colour` over the opaque background, as egui's premultiplied blend does it.
fn over_background(colour: [u8; 4]) -> [u8; 3] {
    let a = colour[3] as f32 / 255.0;
    let bg = BACKGROUND.to_array();
    std::array::from_fn(|c| (colour[c] as f32 * a + bg[c] as f32 * (1.0 - a)).round() as u8)
}

#[track_caller]
fn assert_flow_cells(img: &RgbaImage, rect: Rect, field: &FloatField, what: &str) {
    let reference = reference_flow(field);
    for cy in 0..field.height {
        for cx in 0..field.width {
            let p = cell_centre_px(rect, (field.width, field.height), cx, cy);
            let on_screen = (0.0..img.width() as f32).contains(&p.x)
                && (0.0..img.height() as f32).contains(&p.y);
            if !on_screen {
                continue;
            }
            let (x, y) = (p.x as u32, p.y as u32);
            let want = reference.get_pixel(cx, cy).0;
            assert_close(
                img.get_pixel(x, y).0,
                want,
                &format!("{what} cell ({cx}, {cy})"),
            );
        }
    }
}

#[test]
fn flow_wheel_matches_reference_at_cell_centres() {
    let field = Arc::new(flow_field());
    let rect = Rect::from_min_size(pos2(16.0, 16.0), vec2(96.0, 96.0));
    let img = render(
        vec2(128.0, 128.0),
        vec![(rect, flow_overlay(1, &field, 1.0))],
    );
    assert_flow_cells(&img, rect, &field, "flow");
    // Outside the rect the background is untouched.
    assert_eq!(img.get_pixel(8, 8).0, BACKGROUND.to_array());
    assert_eq!(img.get_pixel(120, 120).0, BACKGROUND.to_array());
}

#[test]
fn colormap_matches_turbo_at_cell_centres() {
    let field = Arc::new(ramp_field());
    let rect = Rect::from_min_size(pos2(8.0, 8.0), vec2(80.0, 80.0));
    let img = render(
        vec2(96.0, 96.0),
        vec![(rect, ramp_overlay(7, &field, false))],
    );
    for cy in 0..8 {
        for cx in 0..8 {
            let (x, y) = cell_centre(rect, (8, 8), cx, cy);
            let want = overlay::turbo((cy * 8 + cx) as f32 / 63.0);
            assert_close(img.get_pixel(x, y).0, want, &format!("cell ({cx}, {cy})"));
        }
    }
}

#[test]
fn opacity_and_value_alpha_blend_over_background() {
    let flow = Arc::new(flow_field());
    let ramp = Arc::new(ramp_field());
    let flow_rect = Rect::from_min_size(pos2(0.0, 0.0), vec2(64.0, 64.0));
    let heat_rect = Rect::from_min_size(pos2(64.0, 0.0), vec2(64.0, 64.0));
    let heat_style = OverlayStyle::Colormap {
        min: 0.0,
        max: 63.0,
        alpha_from_value: true,
    };
    let heat = OverlayPaint {
        style: heat_style,
        opacity: 0.8,
        ..ramp_overlay(2, &ramp, false)
    };
    let img = render(
        vec2(128.0, 64.0),
        vec![(flow_rect, flow_overlay(1, &flow, 0.5)), (heat_rect, heat)],
    );

    let flow_cpu = overlay::to_rgba_image(
        &flow,
        OverlayStyle::FlowWheel {
            max_radius: flow.max_magnitude(),
        },
        0.5,
    );
    let heat_cpu = overlay::to_rgba_image(&ramp, heat_style, 0.8);
    for cy in 0..8 {
        for cx in 0..8 {
            let (x, y) = cell_centre(flow_rect, (8, 8), cx, cy);
            let want = over_background(flow_cpu.get_pixel(cx, cy).0);
            assert_close(img.get_pixel(x, y).0, want, &format!("flow ({cx}, {cy})"));
            let (x, y) = cell_centre(heat_rect, (8, 8), cx, cy);
            let want = over_background(heat_cpu.get_pixel(cx, cy).0);
            assert_close(img.get_pixel(x, y).0, want, &format!("heat ({cx}, {cy})"));
        }
    }
    // Value 0 fades out completely.
    assert_eq!(img.get_pixel(68, 4).0, BACKGROUND.to_array());
}

#[test]
fn overlays_in_one_frame_keep_their_own_uniforms() {
    let flow = Arc::new(flow_field());
    let ramp = Arc::new(ramp_field());
    let a = Rect::from_min_size(pos2(0.0, 0.0), vec2(64.0, 64.0));
    let b = Rect::from_min_size(pos2(64.0, 0.0), vec2(64.0, 64.0));
    // The same field (same key) twice with different opacities shares a texture, not uniforms.
    let c = Rect::from_min_size(pos2(0.0, 64.0), vec2(64.0, 64.0));
    let img = render(
        vec2(128.0, 128.0),
        vec![
            (a, flow_overlay(10, &flow, 1.0)),
            (b, ramp_overlay(20, &ramp, false)),
            (c, flow_overlay(10, &flow, 0.5)),
        ],
    );
    assert_flow_cells(&img, a, &flow, "flow");
    let half = overlay::to_rgba_image(
        &flow,
        OverlayStyle::FlowWheel {
            max_radius: flow.max_magnitude(),
        },
        0.5,
    );
    for cy in 0..8 {
        for cx in 0..8 {
            let (x, y) = cell_centre(b, (8, 8), cx, cy);
            let want = overlay::turbo((cy * 8 + cx) as f32 / 63.0);
            assert_close(img.get_pixel(x, y).0, want, &format!("ramp ({cx}, {cy})"));
            let (x, y) = cell_centre(c, (8, 8), cx, cy);
            let want = over_background(half.get_pixel(cx, cy).0);
            assert_close(img.get_pixel(x, y).0, want, &format!("half ({cx}, {cy})"));
        }
    }
}

#[test]
fn more_fields_than_the_cache_holds_all_draw_in_one_frame() {
    // 20 distinct keys exceed the 16-entry cache: eviction must spare this frame's fields.
    let overlays: Vec<(Rect, OverlayPaint)> = (0..20u32)
        .map(|i| {
            let field = Arc::new(FloatField::new(1, 1, 1, vec![i as f32]).expect("1×1"));
            let rect = Rect::from_min_size(
                pos2((i % 5) as f32 * 8.0, (i / 5) as f32 * 8.0),
                vec2(8.0, 8.0),
            );
            let paint = OverlayPaint {
                style: OverlayStyle::Colormap {
                    min: 0.0,
                    max: 19.0,
                    alpha_from_value: false,
                },
                ..ramp_overlay(100 + i as u64, &field, false)
            };
            (rect, paint)
        })
        .collect();
    let img = render(vec2(40.0, 32.0), overlays);
    for i in 0..20u32 {
        let (x, y) = ((i % 5) * 8 + 4, (i / 5) * 8 + 4);
        let want = overlay::turbo(i as f32 / 19.0);
        assert_close(img.get_pixel(x, y).0, want, &format!("field {i}"));
    }
}

#[test]
fn new_content_under_same_key_reuploads_and_offscreen_rects_stay_anchored() {
    let flow = Arc::new(flow_field());
    // Half the rect lies left of the window: egui clamps the viewport, the field must not squeeze.
    let rect = Rect::from_min_size(pos2(-48.0, 8.0), vec2(96.0, 96.0));
    let mut harness = harness(
        vec2(64.0, 112.0),
        1.0,
        vec![(rect, flow_overlay(5, &flow, 1.0))],
    );
    let img = harness.render().expect("first frame");
    assert_flow_cells(&img, rect, &flow, "clipped flow");

    // Same key, new Arc with other content (the ramp): the texture must be replaced.
    let ramp = Arc::new(ramp_field());
    harness.state_mut().overlays = vec![(rect, ramp_overlay(5, &ramp, false))];
    harness.run();
    let img = harness.render().expect("second frame");
    for cy in 0..8 {
        for cx in 4..8 {
            let (x, y) = cell_centre(rect, (8, 8), cx, cy);
            let want = overlay::turbo((cy * 8 + cx) as f32 / 63.0);
            assert_close(img.get_pixel(x, y).0, want, &format!("ramp ({cx}, {cy})"));
        }
    }
}

#[test]
fn smooth_sampling_interpolates_between_cell_centres() {
    let ramp = Arc::new(ramp_field());
    // 11 px cells put a pixel centre exactly on each cell centre (5.5 px in).
    let rect = Rect::from_min_size(pos2(0.0, 0.0), vec2(88.0, 88.0));
    let img = render(vec2(88.0, 88.0), vec![(rect, ramp_overlay(3, &ramp, true))]);
    for cx in 0..8u32 {
        let (x, y) = (cx * 11 + 5, 2 * 11 + 5);
        let want = overlay::turbo((16 + cx) as f32 / 63.0);
        assert_close(img.get_pixel(x, y).0, want, &format!("centre {cx}"));
    }
    // The last pixel of cell 3 (centre 10.5 px in) lies 5/11 of the way to cell 4.
    let value = 16.0 + 3.0 + 5.0 / 11.0;
    let want = overlay::turbo(value / 63.0);
    assert_close(
        img.get_pixel(3 * 11 + 10, 2 * 11 + 5).0,
        want,
        "between cells 3 and 4",
    );
}

#[test]
fn fractional_pixels_per_point_maps_cells_in_physical_pixels() {
    let flow = Arc::new(flow_field());
    // 64 points at 1.5 ppp: 96 px, 12 px a cell, starting at 12 px.
    let rect = Rect::from_min_size(pos2(8.0, 8.0), vec2(64.0, 64.0));
    let img = harness(
        vec2(80.0, 80.0),
        1.5,
        vec![(rect, flow_overlay(1, &flow, 1.0))],
    )
    .render()
    .expect("render at 1.5 ppp");
    assert_eq!(img.dimensions(), (120, 120));
    let rect_px = Rect::from_min_size(pos2(12.0, 12.0), vec2(96.0, 96.0));
    assert_flow_cells(&img, rect_px, &flow, "1.5 ppp");
}
