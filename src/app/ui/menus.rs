//! The menu bar: File (open, samples, projects, poses, exports), Edit, View, Model, Help.

use crate::app::detection::DetectStatus;
use crate::app::editor::{samples, Editor, Which};
use crate::app::engine::ModelChoice;
use crate::app::ui::panes::Panes;
use eframe::egui::{self, RichText};

const IMAGE_EXTENSIONS: [&str; 6] = ["png", "jpg", "jpeg", "PNG", "JPG", "JPEG"];

pub fn menu_bar(ui: &mut egui::Ui, editor: &mut Editor, panes: &mut Panes) {
    egui::MenuBar::new().ui(ui, |ui| {
        ui.menu_button("File", |ui| file_menu(ui, editor));
        ui.menu_button("Edit", |ui| edit_menu(ui, editor));
        ui.menu_button("View", |ui| {
            if ui.button("Fit to window (F)").clicked() {
                panes.refit = true;
                ui.close();
            }
            if ui.button("Clear attention probe").clicked() {
                editor.probe = None;
                ui.close();
            }
        });
        ui.menu_button("Model", |ui| model_menu(ui, editor));
        ui.menu_button("Help", |ui| {
            ui.label(HELP);
        });
    });
}

const HELP: &str = "Drag a joint to move it · Shift-drag swings the limb below its parent\n\
Right-click a joint to hide/show it · Wheel zooms · Middle- or Space-drag pans · F fits\n\
Click the result to see where it sampled from · Ctrl+Z / Ctrl+Shift+Z (Ctrl+Y) undo/redo\n\
M mirrors the pose · R resets the target to the source · Tab switches fit/pose mode · Ctrl+Q quits\n\
D puts the selected joint's arm or leg in front of the body, behind it, or back to automatic\n\
K adds the target as a keyframe · P plays/pauses the keyframes · the timeline's slider scrubs";

fn file_menu(ui: &mut egui::Ui, editor: &mut Editor) {
    if ui.button("Open photo…").clicked() {
        ui.close();
        if let Some(p) = rfd::FileDialog::new()
            .add_filter("images", &IMAGE_EXTENSIONS)
            .pick_file()
        {
            open_any(editor, &p);
        }
    }
    ui.menu_button("Open sample", |ui| {
        let list = samples();
        if list.is_empty() {
            ui.label("No samples found (assets/samples)");
        }
        for (label, path) in list {
            if ui.button(label).clicked() {
                ui.close();
                open_any(editor, &path);
            }
        }
    });
    ui.separator();
    if ui.button("Open project…").clicked() {
        ui.close();
        if let Some(p) = json_dialog().pick_file() {
            if let Err(e) = editor.open_project(&p) {
                editor.report_error(e);
            }
        }
    }
    let has_photo = editor.photo.is_some();
    if ui
        .add_enabled(has_photo, egui::Button::new("Save project…"))
        .clicked()
    {
        ui.close();
        if let Some(p) = json_dialog().set_file_name("session.json").save_file() {
            if let Err(e) = editor.save_project(&p) {
                editor.report_error(e);
            }
        }
    }
    ui.separator();
    for which in [Which::Target, Which::Source] {
        if ui
            .add_enabled(
                has_photo,
                egui::Button::new(format!("Load {} pose…", which.name())),
            )
            .clicked()
        {
            ui.close();
            if let Some(p) = json_dialog().pick_file() {
                if let Err(e) = editor.load_pose(which, &p) {
                    editor.report_error(e);
                }
            }
        }
        if ui
            .add_enabled(
                has_photo,
                egui::Button::new(format!("Save {} pose…", which.name())),
            )
            .clicked()
        {
            ui.close();
            let name = format!("{}_pose.json", which.name());
            if let Some(p) = json_dialog().set_file_name(name).save_file() {
                if let Err(e) = editor.save_pose(which, &p) {
                    editor.report_error(e);
                }
            }
        }
    }
    ui.separator();
    if ui
        .add_enabled(
            editor.photo.is_some() && !editor.exporting(),
            egui::Button::new("Export re-posed photo (full resolution)…"),
        )
        .clicked()
    {
        ui.close();
        if let Some(p) = rfd::FileDialog::new()
            .add_filter("PNG", &["png"])
            .set_file_name("reposed.png")
            .save_file()
        {
            if let Err(e) = editor.export_photo(&p) {
                editor.report_error(e);
            }
        }
    }
    if ui
        .add_enabled(
            editor.photo.is_some() && !editor.doc.timeline.is_empty() && !editor.anim_exporting(),
            egui::Button::new("Export animation…"),
        )
        .on_disabled_hover_text("Add keyframes first (the timeline below the panes)")
        .clicked()
    {
        ui.close();
        editor.open_anim_export();
    }
    let has_result = editor.result.is_some();
    for (label, overlays) in [
        ("Export network output PNG…", false),
        ("Export network output + overlays…", true),
    ] {
        if ui
            .add_enabled(has_result, egui::Button::new(label))
            .clicked()
        {
            ui.close();
            if let Some(p) = rfd::FileDialog::new()
                .add_filter("PNG", &["png"])
                .set_file_name("result.png")
                .save_file()
            {
                if let Err(e) = editor.export_result(&p, overlays) {
                    editor.report_error(e);
                }
            }
        }
    }
    ui.separator();
    if ui.button("Quit (Ctrl+Q)").clicked() {
        ui.ctx().send_viewport_cmd(egui::ViewportCommand::Close);
    }
}

fn json_dialog() -> rfd::FileDialog {
    rfd::FileDialog::new().add_filter("JSON", &["json"])
}

fn edit_menu(ui: &mut egui::Ui, editor: &mut Editor) {
    if ui
        .add_enabled(editor.can_undo(), egui::Button::new("Undo (Ctrl+Z)"))
        .clicked()
    {
        editor.undo();
    }
    if ui
        .add_enabled(editor.can_redo(), egui::Button::new("Redo (Ctrl+Shift+Z)"))
        .clicked()
    {
        editor.redo();
    }
    ui.separator();
    if ui.button("Mirror left/right (M)").clicked() {
        editor.mirror();
        ui.close();
    }
    if ui.button("Reset target to source (R)").clicked() {
        editor.reset_target();
        ui.close();
    }
    ui.separator();
    if detect_button(ui, editor) {
        ui.close();
    }
}

/// "Detect person", enabled while it can run; returns whether it was clicked.
pub(super) fn detect_button(ui: &mut egui::Ui, editor: &mut Editor) -> bool {
    let clicked = ui
        .add_enabled(editor.can_detect(), egui::Button::new("Detect person"))
        .on_hover_text("Find the person in the photo and place both skeletons on them")
        .on_disabled_hover_text(match editor.detection.status {
            DetectStatus::Off => "Pose detection is turned off (--no-detect)",
            DetectStatus::Running => "Finding the person...",
            _ => "Open a photo first",
        })
        .clicked();
    if clicked {
        editor.detect_person();
    }
    clicked
}

fn model_menu(ui: &mut egui::Ui, editor: &mut Editor) {
    let bundled = editor.model_spec.choice == ModelChoice::Bundled;
    if ui
        .radio(bundled, "Bundled GFLA (trained on synthetic people)")
        .clicked()
    {
        editor.choose_model(ModelChoice::Bundled);
        ui.close();
    }
    if ui.button("Open checkpoint… (.safetensors, .pth)").clicked() {
        ui.close();
        if let Some(p) = rfd::FileDialog::new()
            .add_filter("checkpoints", &["safetensors", "pth", "pt"])
            .pick_file()
        {
            editor.choose_model(ModelChoice::File(p));
        }
    }
    ui.separator();
    ui.label("Device");
    let cpu = editor.model_spec.device == "cpu";
    if ui.radio(cpu, "CPU").clicked() {
        editor.choose_device("cpu");
    }
    let cuda_built = cfg!(feature = "cuda");
    if ui
        .add_enabled(cuda_built, egui::RadioButton::new(!cpu, "CUDA"))
        .on_disabled_hover_text("built without the `cuda` feature")
        .clicked()
    {
        editor.choose_device("cuda");
    }
    ui.separator();
    model_info(ui, editor);
}

pub(super) fn model_info(ui: &mut egui::Ui, editor: &Editor) {
    match &editor.model_info {
        Some(m) => {
            ui.label(RichText::new(&m.name).strong());
            ui.label(&m.description);
            ui.label(format!(
                "input {}×{} · keypoint frame {}×{} · {}",
                m.input_hw.0, m.input_hw.1, m.frame_hw.0, m.frame_hw.1, m.device
            ));
            if let Some(why) = &m.fallback {
                ui.label(
                    RichText::new(format!("GPU unavailable: {why}"))
                        .color(ui.visuals().warn_fg_color),
                );
            }
        }
        None => {
            ui.label("No model loaded yet (it loads with the first photo)");
        }
    }
}

/// Opens a photo, or a `.json` as a project or, failing that, as the target pose (File > Open
/// photo, a sample, a dropped file).
pub(super) fn open_any(editor: &mut Editor, path: &std::path::Path) {
    let is_json = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"));
    let result = if is_json {
        editor
            .open_project(path)
            .or_else(|_| editor.load_pose(Which::Target, path))
    } else {
        editor.open_photo(path)
    };
    if let Err(e) = result {
        editor.report_error(e);
    }
}
