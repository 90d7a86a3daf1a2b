//! The eframe application: the panels and panes around an [`Editor`].

pub mod anim_export;
pub mod menus;
pub mod panes;
pub mod shortcuts;
pub mod side_panel;
pub mod stats;
pub mod status;
pub mod textures;
pub mod timeline;

use super::editor::{Editor, EditorOptions};
use super::overlay::{self, GpuOverlays, OverlayPaint};
use eframe::egui;
use std::time::Instant;

pub struct MarionetteApp {
    pub editor: Editor,
    /// The panes' zoom and pan, and where they were drawn (view-only, not the session's).
    pub panes: panes::Panes,
    /// Milliseconds of the last frames' UI work (status bar).
    pub frame_ms: f32,
    textures: textures::Textures,
    /// The wgpu overlay pipeline, when installed (`None` on other backends: no overlays).
    pub gpu_overlays: Option<GpuOverlays>,
    stats: Option<stats::FrameStats>,
}

impl MarionetteApp {
    pub fn new(cc: &eframe::CreationContext<'_>, options: EditorOptions) -> Self {
        let gpu_overlays = cc.wgpu_render_state.as_ref().map(overlay::install);
        let stats = options.frame_stats.then(stats::FrameStats::default);
        let editor = Editor::new(options, repaint_fn(&cc.egui_ctx));
        Self {
            editor,
            panes: Default::default(),
            frame_ms: 0.0,
            textures: Default::default(),
            gpu_overlays,
            stats,
        }
    }
}

impl eframe::App for MarionetteApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        let t0 = Instant::now();
        let ctx = ui.ctx().clone();
        shortcuts::dropped_files(&ctx, &mut self.editor);
        shortcuts::shortcuts(&ctx, &mut self.editor, &mut self.panes);
        timeline::shortcuts(&ctx, &mut self.editor);
        self.editor.tick();
        self.textures.update(&ctx, &self.editor);

        egui::Panel::top("menu").show(ui, |ui| {
            menus::menu_bar(ui, &mut self.editor, &mut self.panes)
        });
        egui::Panel::bottom("status")
            .show(ui, |ui| status::status_bar(ui, &self.editor, self.frame_ms));
        egui::Panel::bottom("timeline").show(ui, |ui| timeline::panel(ui, &mut self.editor));
        egui::Panel::left("tools")
            .default_size(270.0)
            .show(ui, |ui| {
                side_panel::side_panel(ui, &mut self.editor, self.gpu_overlays)
            });
        egui::CentralPanel::default_margins().show(ui, |ui| {
            panes::panes(
                ui,
                &mut self.editor,
                &mut self.panes,
                &self.textures,
                self.gpu_overlays,
            )
        });
        status::dialogs(&ctx, &mut self.editor);
        anim_export::dialog(&ctx, &mut self.editor);
        // Edits made this frame go out now rather than next frame.
        self.editor.tick();
        if self.editor.busy() || self.editor.detecting() || self.editor.anim_exporting() {
            // Keep the spinners turning; results also wake us through the workers' repaint.
            ctx.request_repaint_after(std::time::Duration::from_millis(100));
        }
        let fps = self.editor.doc.timeline.fps;
        if let Some(next) = self.editor.timeline.until_next_frame(fps, Instant::now()) {
            ctx.request_repaint_after(next);
        }
        let ms = t0.elapsed().as_secs_f32() * 1e3;
        self.frame_ms = 0.9 * self.frame_ms + 0.1 * ms;
        if let Some(stats) = &mut self.stats {
            stats.record(ms, self.editor.busy());
            // Measuring: draw frames back to back, so intervals show what the UI can do rather
            // than how often input arrives.
            ctx.request_repaint();
        }
    }

    fn on_exit(&mut self) {
        self.editor.remove_autosave();
        if let Some(stats) = &self.stats {
            eprint!("{}", stats.summary());
        }
    }
}

/// The egui context's repaint as a `Send` closure: the workers wake the UI with it.
fn repaint_fn(ctx: &egui::Context) -> impl Fn() + Send + Sync + Clone + 'static {
    let ctx = ctx.clone();
    move || ctx.request_repaint()
}

/// Draws `overlay` with the wgpu pipeline when it is installed; other backends draw none.
fn paint_overlay(
    gpu: Option<GpuOverlays>,
    painter: &egui::Painter,
    rect: egui::Rect,
    overlay: OverlayPaint,
) {
    if let Some(gpu) = gpu {
        gpu.paint(painter, rect, overlay);
    }
}
