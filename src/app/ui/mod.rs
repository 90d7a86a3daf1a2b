//! The eframe application: the panels and panes around an [`Editor`].

pub mod anim_export;
pub mod panels;
pub mod panes;
pub mod stats;
pub mod textures;
pub mod timeline;

use super::editor::{Editor, EditorOptions};
use eframe::egui;
use std::time::Instant;

pub struct MarionetteApp {
    pub editor: Editor,
    textures: textures::Textures,
    /// Whether the wgpu overlay pipeline is installed (false on other backends).
    pub gpu_overlays: bool,
    stats: Option<stats::FrameStats>,
}

impl MarionetteApp {
    pub fn new(cc: &eframe::CreationContext<'_>, options: EditorOptions) -> Self {
        let gpu_overlays = match &cc.wgpu_render_state {
            Some(rs) => {
                super::overlay::install(rs);
                true
            }
            None => false,
        };
        let stats = options.frame_stats.then(stats::FrameStats::default);
        let editor = Editor::new(options, Editor::repaint_fn(&cc.egui_ctx));
        Self {
            editor,
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
        panels::dropped_files(&ctx, &mut self.editor);
        panels::shortcuts(&ctx, &mut self.editor);
        timeline::shortcuts(&ctx, &mut self.editor);
        self.editor.tick();
        self.textures.update(&ctx, &self.editor);

        egui::Panel::top("menu").show(ui, |ui| panels::menu_bar(ui, &mut self.editor));
        egui::Panel::bottom("status").show(ui, |ui| panels::status_bar(ui, &self.editor));
        egui::Panel::bottom("timeline").show(ui, |ui| timeline::panel(ui, &mut self.editor));
        egui::Panel::left("tools")
            .default_size(270.0)
            .show(ui, |ui| panels::side_panel(ui, &mut self.editor));
        egui::CentralPanel::default_margins()
            .show(ui, |ui| panes::panes(ui, &mut self.editor, &self.textures));
        panels::dialogs(&ctx, &mut self.editor);
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
        self.editor.frame_ms = 0.9 * self.editor.frame_ms + 0.1 * ms;
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
