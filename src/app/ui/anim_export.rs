//! The animation export's dialog (format, frame rate, frame range, size, dithering; then a file
//! dialog) and its progress bar with a cancel, drawn in the timeline panel.

use crate::animate::keyframes::FPS_RANGE;
use crate::animate::render::Progress;
use crate::app::anim_export::{AnimExportChoice, ExportStage, MIN_SIDE};
use crate::app::editor::Editor;
use crate::imaging::animation::{AnimFormat, MAX_SIDE};
use eframe::egui::{self, RichText};

const FORMATS: [AnimFormat; 3] = [AnimFormat::Gif, AnimFormat::Apng, AnimFormat::PngSequence];

/// The export dialog, while open.
pub fn dialog(ctx: &egui::Context, editor: &mut Editor) {
    let Some(mut choice) = editor.anim_export.dialog.clone() else {
        return;
    };
    let mut action = None;
    let r = egui::Modal::new(egui::Id::unique("marionette.anim_export")).show(ctx, |ui| {
        ui.heading("Export animation");
        choices(ui, editor, &mut choice);
        ui.add_space(6.0);
        ui.horizontal(|ui| {
            if ui.button("Export…").clicked() {
                action = Some(true);
            }
            if ui.button("Cancel").clicked() {
                action = Some(false);
            }
        });
    });
    if r.should_close() && action.is_none() {
        action = Some(false);
    }
    match action {
        None => editor.anim_export.dialog = Some(choice),
        Some(false) => editor.anim_export.dialog = None,
        Some(true) => {
            editor.anim_export.dialog = None;
            let (label, exts): (&str, &[&str]) = match choice.format {
                AnimFormat::Gif => ("GIF", &["gif"]),
                AnimFormat::Apng => ("APNG", &["png", "apng"]),
                AnimFormat::PngSequence => ("folder of PNG frames", &[]),
            };
            let mut files = rfd::FileDialog::new().set_file_name(choice.file_name());
            if !exts.is_empty() {
                files = files.add_filter(label, exts);
            }
            // No path: the user closed the file dialog (or none could open); nothing to do.
            if let Some(path) = files.save_file() {
                if let Err(e) = editor.start_anim_export(&path, &choice) {
                    editor.report_error(e);
                }
            }
        }
    }
}

/// The dialog's fields, kept consistent: the range follows the frame rate.
fn choices(ui: &mut egui::Ui, editor: &Editor, c: &mut AnimExportChoice) {
    egui::Grid::new("marionette.anim_export.grid")
        .num_columns(2)
        .spacing([12.0, 6.0])
        .show(ui, |ui| {
            ui.label("Format");
            egui::ComboBox::from_id_salt("marionette.anim_export.format")
                .selected_text(c.format.name())
                .show_ui(ui, |ui| {
                    for f in FORMATS {
                        ui.selectable_value(&mut c.format, f, f.name());
                    }
                });
            ui.end_row();

            ui.label("Frame rate");
            let old_count = editor.anim_frame_count(c.fps);
            ui.add(
                egui::DragValue::new(&mut c.fps)
                    .range(FPS_RANGE)
                    .speed(0.1)
                    .max_decimals(2)
                    .suffix(" fps"),
            );
            let count = editor.anim_frame_count(c.fps).max(1);
            if count != old_count {
                // The whole clip stays the whole clip at the new rate; a part keeps its times.
                let k = count as f32 / old_count.max(1) as f32;
                let whole = c.first == 0 && c.last + 1 >= old_count;
                c.first = ((c.first as f32 * k).round() as usize).min(count - 1);
                c.last = if whole {
                    count - 1
                } else {
                    ((c.last as f32 * k).round() as usize).min(count - 1)
                };
            }
            ui.end_row();

            ui.label("Frames");
            ui.horizontal(|ui| {
                let (mut first, mut last) = (c.first + 1, c.last + 1);
                ui.add(egui::DragValue::new(&mut first).range(1..=count));
                ui.label("to");
                ui.add(egui::DragValue::new(&mut last).range(1..=count));
                ui.label(format!("of {count}"));
                c.first = first.clamp(1, count) - 1;
                c.last = (last.clamp(1, count) - 1).max(c.first);
            });
            ui.end_row();

            ui.label("Size");
            ui.horizontal(|ui| {
                let (w, h) = editor
                    .photo
                    .as_ref()
                    .map_or((0, 0), |p| p.image.dimensions());
                let full = c.longest_side.is_none();
                if ui
                    .radio(full, format!("Full ({w}×{h})"))
                    .on_hover_text("The photo's own resolution")
                    .clicked()
                {
                    c.longest_side = None;
                }
                if ui.radio(!full, "Longest side").clicked() && full {
                    c.longest_side = Some(w.max(h).clamp(MIN_SIDE, 512));
                }
                let mut side = c.longest_side.unwrap_or(512);
                let r = ui.add_enabled(
                    !full,
                    egui::DragValue::new(&mut side)
                        .range(MIN_SIDE..=MAX_SIDE)
                        .suffix(" px"),
                );
                if r.changed() {
                    c.longest_side = Some(side);
                }
            });
            ui.end_row();

            ui.label("Dither");
            ui.add_enabled(
                c.format == AnimFormat::Gif,
                egui::Checkbox::new(&mut c.dither, "smooth gradients (GIF's 256 colours)"),
            );
            ui.end_row();
        });
    let n = c.last - c.first + 1;
    ui.label(
        RichText::new(format!(
            "{n} frames, {:.2} s; the photo's matte and background plate are built first",
            n as f32 / c.fps
        ))
        .weak(),
    );
}

/// The running export: what it does, how far it is, and a cancel.
pub fn progress(ui: &mut egui::Ui, editor: &mut Editor) {
    let Some(job) = &editor.anim_export.job else {
        return;
    };
    let (fraction, cancelling) = (job.fraction(), job.cancelling());
    let text = match job.stage() {
        _ if cancelling => "cancelling…".to_string(),
        ExportStage::Starting => "loading the pose detector…".into(),
        ExportStage::Running(Progress::Layers) => "matte and background plate…".into(),
        ExportStage::Running(Progress::Frame { done, total }) => format!("frame {done} of {total}"),
    };
    let name = job
        .path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let label = format!("Exporting {} {name}", job.format.name());
    let mut cancel = false;
    ui.horizontal(|ui| {
        ui.label(label);
        ui.add(
            egui::ProgressBar::new(fraction)
                .desired_width(320.0)
                .text(text),
        );
        cancel = ui
            .add_enabled(!cancelling, egui::Button::new("Cancel export"))
            .clicked();
    });
    if cancel {
        editor.cancel_anim_export();
    }
}
