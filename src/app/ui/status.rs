//! The status bar (spinners, the last message, timings) and the error and recovery dialogs.

use crate::app::editor::Editor;
use eframe::egui::{self, Color32, RichText};

pub fn status_bar(ui: &mut egui::Ui, editor: &Editor, frame_ms: f32) {
    ui.horizontal(|ui| {
        if editor.detecting() {
            ui.add(egui::Spinner::new().size(14.0));
            ui.label("Finding the person...");
        }
        if editor.busy() {
            ui.add(egui::Spinner::new().size(14.0));
            ui.label("rendering");
        }
        if editor.exporting() {
            ui.add(egui::Spinner::new().size(14.0));
            ui.label("exporting");
        }
        if let Some(n) = &editor.notice {
            let color = if n.error {
                Color32::from_rgb(255, 120, 100)
            } else {
                ui.visuals().text_color()
            };
            ui.label(RichText::new(&n.text).color(color));
        }
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            ui.label(format!("frame {:.1} ms", frame_ms));
            if let Some(r) = &editor.result {
                ui.label(format!(
                    "model {:.0} ms{}",
                    r.millis,
                    if r.source_reused {
                        " (cached source)"
                    } else {
                        ""
                    }
                ));
            }
            if let Some(p) = &editor.preview {
                let stage = if p.refined { "refined" } else { "preview" };
                ui.label(format!("{stage} {:.0} ms", p.millis));
            }
            if editor.refining() {
                ui.spinner();
                ui.label("refining");
            }
            ui.label(format!("dropped {}", editor.dropped_requests()));
        });
    });
}

/// Error and recovery dialogs.
pub fn dialogs(ctx: &egui::Context, editor: &mut Editor) {
    if editor.recovery.is_some() {
        egui::Modal::new(egui::Id::unique("marionette.recovery")).show(ctx, |ui| {
            ui.heading("Restore the previous session?");
            ui.label("marionette did not close cleanly last time; an autosave is available.");
            ui.horizontal(|ui| {
                if ui.button("Restore").clicked() {
                    editor.accept_recovery();
                }
                if ui.button("Discard").clicked() {
                    editor.discard_recovery();
                }
            });
        });
    } else if let Some(text) = editor.error_dialog.clone() {
        let r = egui::Modal::new(egui::Id::unique("marionette.error")).show(ctx, |ui| {
            ui.heading("Something went wrong");
            ui.label(text);
            ui.label(RichText::new("Nothing was changed.").weak());
            ui.button("OK").clicked()
        });
        if r.inner || r.should_close() {
            editor.error_dialog = None;
        }
    }
}
