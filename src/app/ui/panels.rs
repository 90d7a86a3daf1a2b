//! Menus, the side panel (mode, edit tools, overlays with legends, model), the status bar, the
//! dialogs and the keyboard shortcuts.

use crate::app::detection::{self, DetectStatus};
use crate::app::editor::{samples, Editor, Which};
use crate::app::engine::ModelChoice;
use crate::app::layers::LayersStatus;
use crate::app::overlay::{self, FloatField, OverlayPaint, OverlayStyle};
use crate::app::project::{Mode, ResultOverlay, ResultView};
use crate::pose::JOINT_NAMES;
use crate::puppet::{Layer, Limb};
use eframe::egui::{self, Color32, Key, KeyboardShortcut, Modifiers, RichText, Vec2};
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

const IMAGE_EXTENSIONS: [&str; 6] = ["png", "jpg", "jpeg", "PNG", "JPG", "JPEG"];

/// Keyboard shortcuts; checked before the panels so they work wherever the focus is.
pub fn shortcuts(ctx: &egui::Context, editor: &mut Editor) {
    let redo = ctx.input_mut(|i| {
        i.consume_shortcut(&KeyboardShortcut::new(
            Modifiers::COMMAND | Modifiers::SHIFT,
            Key::Z,
        )) || i.consume_shortcut(&KeyboardShortcut::new(Modifiers::COMMAND, Key::Y))
    });
    if redo {
        editor.redo();
    }
    if ctx.input_mut(|i| i.consume_shortcut(&KeyboardShortcut::new(Modifiers::COMMAND, Key::Z))) {
        editor.undo();
    }
    if ctx.input_mut(|i| i.consume_shortcut(&KeyboardShortcut::new(Modifiers::COMMAND, Key::Q))) {
        ctx.send_viewport_cmd(egui::ViewportCommand::Close);
    }
    if ctx.egui_wants_keyboard_input() {
        return; // typing in a text field
    }
    let (fit, mirror, reset, tab, depth) = ctx.input_mut(|i| {
        (
            i.consume_key(Modifiers::NONE, Key::F),
            i.consume_key(Modifiers::NONE, Key::M),
            i.consume_key(Modifiers::NONE, Key::R),
            i.consume_key(Modifiers::NONE, Key::Tab),
            i.consume_key(Modifiers::NONE, Key::D),
        )
    });
    if depth {
        editor.cycle_selected_layer();
    }
    if fit {
        editor.refit = true;
    }
    if mirror {
        editor.mirror();
    }
    if reset {
        editor.reset_target();
    }
    if tab {
        let next = match editor.settings.mode {
            Mode::FitSource => Mode::PoseTarget,
            Mode::PoseTarget => Mode::FitSource,
        };
        editor.set_mode(next);
    }
}

/// Files dropped on the window: photos open, `.json` opens as a project or, failing that, as
/// the target pose.
pub fn dropped_files(ctx: &egui::Context, editor: &mut Editor) {
    let files: Vec<PathBuf> = ctx.input(|i| {
        i.raw
            .dropped_files
            .iter()
            .map(|f| f.path().to_path_buf())
            .collect()
    });
    if let Some(path) = files.last() {
        open_any(editor, path);
    }
}

fn open_any(editor: &mut Editor, path: &std::path::Path) {
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

pub fn menu_bar(ui: &mut egui::Ui, editor: &mut Editor) {
    egui::MenuBar::new().ui(ui, |ui| {
        ui.menu_button("File", |ui| file_menu(ui, editor));
        ui.menu_button("Edit", |ui| edit_menu(ui, editor));
        ui.menu_button("View", |ui| {
            if ui.button("Fit to window (F)").clicked() {
                editor.refit = true;
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
fn detect_button(ui: &mut egui::Ui, editor: &mut Editor) -> bool {
    let clicked = ui
        .add_enabled(editor.can_detect(), egui::Button::new("Detect person"))
        .on_hover_text("Find the person in the photo and place both skeletons on them")
        .on_disabled_hover_text(match editor.detect_status {
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

fn model_info(ui: &mut egui::Ui, editor: &Editor) {
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

pub fn side_panel(ui: &mut egui::Ui, editor: &mut Editor) {
    egui::ScrollArea::vertical().show(ui, |ui| {
        ui.heading("Mode");
        ui.horizontal(|ui| {
            let m = editor.settings.mode;
            if ui
                .selectable_label(m == Mode::FitSource, "Fit source")
                .clicked()
            {
                editor.set_mode(Mode::FitSource);
            }
            if ui
                .selectable_label(m == Mode::PoseTarget, "Pose target")
                .clicked()
            {
                editor.set_mode(Mode::PoseTarget);
            }
        });
        match editor.settings.mode {
            Mode::FitSource => {
                fit_notice(ui, &editor.detect_status);
                ui.horizontal(|ui| {
                    if ui.button("Start posing").clicked() {
                        editor.set_mode(Mode::PoseTarget);
                    }
                    if editor.detect_status != DetectStatus::Off {
                        detect_button(ui, editor);
                    }
                });
            }
            Mode::PoseTarget => {
                ui.label("Posing the target skeleton. Drag joints on either pane.");
            }
        }
        pending_detection(ui, editor);
        ui.label(
            RichText::new(format!("Source skeleton: {}", editor.source_origin))
                .small()
                .weak(),
        );

        ui.separator();
        ui.heading("Edit");
        ui.horizontal(|ui| {
            if ui
                .add_enabled(editor.can_undo(), egui::Button::new("Undo"))
                .clicked()
            {
                editor.undo();
            }
            if ui
                .add_enabled(editor.can_redo(), egui::Button::new("Redo"))
                .clicked()
            {
                editor.redo();
            }
        });
        ui.horizontal(|ui| {
            if ui.button("Mirror").clicked() {
                editor.mirror();
            }
            if ui.button("Reset to source").clicked() {
                editor.reset_target();
            }
        });
        ui.checkbox(&mut editor.settings.lock_lengths, "Lock limb lengths");
        ui.checkbox(&mut editor.settings.show_hidden, "Show hidden joints");
        depth_controls(ui, editor);
        joints_grid(ui, editor);

        ui.separator();
        ui.heading("Result");
        result_view_controls(ui, editor);

        ui.separator();
        ui.heading("Overlays");
        overlay_controls(ui, editor);

        ui.separator();
        ui.heading("Model");
        model_info(ui, editor);
    });
}

/// How to fit the source skeleton, and what the detector did (or why it did nothing).
fn fit_notice(ui: &mut egui::Ui, status: &DetectStatus) {
    const HOW: &str = "(right-click hides joints that are not visible in the photo). The Network \
                       result view shows the model's reconstruction, a check of the fit.";
    let (text, detail) = match status {
        DetectStatus::Off => (
            format!(
                "Fitting the source skeleton: no pose detector is installed, so drag each joint \
                 onto the person {HOW}"
            ),
            None,
        ),
        DetectStatus::Running => (
            format!(
                "Finding the person in the photo... Meanwhile you can drag each joint onto the \
                 person yourself {HOW}"
            ),
            None,
        ),
        DetectStatus::NoPerson => (format!("{} {HOW}", detection::NO_PERSON), None),
        DetectStatus::Unavailable(u) if u.missing => (
            format!(
                "Pose detection is not installed: run `{}` once, then Detect person. Until then, \
                 drag each joint onto the person {HOW}",
                crate::detect::models::FETCH_HINT
            ),
            Some(u.message.as_str()),
        ),
        DetectStatus::Unavailable(u) => (
            format!(
                "Pose detection could not load its models (`{}` fetches them again), so drag \
                 each joint onto the person {HOW}",
                crate::detect::models::FETCH_HINT
            ),
            Some(u.message.as_str()),
        ),
        DetectStatus::Failed(message) => (
            format!(
                "Pose detection failed on this photo, so drag each joint onto the person {HOW}"
            ),
            Some(message.as_str()),
        ),
        DetectStatus::Idle | DetectStatus::Found(_) => (
            format!("Fitting the source skeleton: drag each joint onto the person {HOW}"),
            None,
        ),
    };
    ui.label(RichText::new(text).color(Color32::from_rgb(255, 210, 120)));
    if let Some(detail) = detail {
        ui.label(RichText::new(detail).small().weak());
    }
}

/// A detection held back because the user had already moved joints: offered, with a way out.
fn pending_detection(ui: &mut egui::Ui, editor: &mut Editor) {
    let Some(d) = &editor.pending_detection else {
        return;
    };
    ui.label(
        RichText::new(format!(
            "The detector found the person ({} of {} joints, score {:.2}) after you had moved \
             joints; your skeleton was kept.",
            d.pose.num_present(),
            crate::pose::NUM_JOINTS,
            d.score
        ))
        .color(Color32::from_rgb(255, 210, 120)),
    );
    ui.horizontal(|ui| {
        if ui.button("Use detected skeleton").clicked() {
            editor.use_pending_detection();
        }
        if ui.button("Dismiss").clicked() {
            editor.dismiss_pending_detection();
        }
    });
}

/// Front / Auto / Behind for the selected joint's limb (`D` cycles them), and which other
/// limbs are placed by hand.
fn depth_controls(ui: &mut egui::Ui, editor: &mut Editor) {
    // The order is the target's: while fitting, the target is the source.
    if editor.settings.mode != Mode::PoseTarget {
        return;
    }
    let Some(limb) = editor.selected_limb() else {
        ui.label(
            RichText::new(
                "Depth: click an arm or leg joint to put it in front of or behind the body",
            )
            .small()
            .weak(),
        );
        return;
    };
    let now = editor.doc.order.get(limb);
    // Label and buttons on two rows: one row would widen the panel (and shift the panes under
    // a joint being dragged, since a drag selects the joint).
    ui.label(format!("Depth of the {}:", limb.name()));
    ui.horizontal(|ui| {
        for (layer, text, tip) in [
            (
                Some(Layer::Front),
                "Front",
                "Drawn over the body where it crosses it",
            ),
            (
                None,
                "Auto",
                "From the skeleton: in front when the person faces the camera",
            ),
            (
                Some(Layer::Behind),
                "Behind",
                "Hidden by the body where it crosses it",
            ),
        ] {
            if ui
                .selectable_label(now == layer, text)
                .on_hover_text(format!("{tip} (D cycles)"))
                .clicked()
            {
                editor.set_limb_layer(limb, layer);
            }
        }
    });
    let others: Vec<String> = Limb::ALL
        .into_iter()
        .filter(|&l| l != limb)
        .filter_map(|l| {
            editor.doc.order.get(l).map(|layer| {
                let side = if layer == Layer::Front {
                    "front"
                } else {
                    "behind"
                };
                format!("{} {side}", l.name())
            })
        })
        .collect();
    if !others.is_empty() {
        ui.label(
            RichText::new(format!("Also set: {}", others.join(", ")))
                .small()
                .weak(),
        );
    }
}

/// Visibility of each joint of the edited skeleton (missing joints are real in the data).
fn joints_grid(ui: &mut egui::Ui, editor: &mut Editor) {
    let which = editor.editable();
    egui::CollapsingHeader::new(format!("Joints ({})", which.name()))
        .default_open(false)
        .show(ui, |ui| {
            egui::Grid::new("joints").num_columns(2).show(ui, |ui| {
                for (j, name) in JOINT_NAMES.iter().enumerate() {
                    let mut on = editor.skeleton(which).visible[j];
                    if ui.checkbox(&mut on, *name).changed() {
                        editor.toggle_joint(which, j);
                    }
                    if j % 2 == 1 {
                        ui.end_row();
                    }
                }
            });
        });
}

/// Re-posed photo / network output / original, and what the layers are doing.
fn result_view_controls(ui: &mut egui::Ui, editor: &mut Editor) {
    let s = &mut editor.settings;
    ui.horizontal(|ui| {
        ui.radio_value(&mut s.result_view, ResultView::Photo, "Re-posed")
            .on_hover_text(
                "The whole photo: the moved person over the background plate (B: before)",
            );
        ui.radio_value(&mut s.result_view, ResultView::Network, "Network")
            .on_hover_text("The network's own output in its crop");
        ui.radio_value(&mut s.result_view, ResultView::Original, "Before")
            .on_hover_text("The photo as it was");
    });
    let text = match editor.layers.as_ref().map(|l| &l.status) {
        None => "Compositing off (--no-composite): plain warp".to_string(),
        Some(LayersStatus::Idle) => String::new(),
        Some(LayersStatus::Building) => "Cutting out the person and filling the background…".into(),
        Some(LayersStatus::Ready { millis }) => {
            format!("Matte and background plate ready ({millis:.0} ms)")
        }
        Some(LayersStatus::Failed(e)) => format!("No composite (plain warp): {e}"),
    };
    if !text.is_empty() {
        ui.label(RichText::new(text).small().weak());
    }
}

fn overlay_controls(ui: &mut egui::Ui, editor: &mut Editor) {
    let s = &mut editor.settings;
    ui.horizontal(|ui| {
        ui.radio_value(&mut s.overlay, ResultOverlay::None, "None");
        ui.radio_value(&mut s.overlay, ResultOverlay::Flow, "Flow");
        ui.radio_value(&mut s.overlay, ResultOverlay::Mask, "Occlusion");
    });
    let levels: Vec<usize> = editor
        .result
        .as_ref()
        .map(|r| r.levels.iter().map(|l| l.level).collect())
        .unwrap_or_default();
    if levels.len() > 1 {
        egui::ComboBox::from_label("level")
            .selected_text(format!(
                "1/{}",
                1usize << levels[s.overlay_level.min(levels.len() - 1)]
            ))
            .show_ui(ui, |ui| {
                for (i, l) in levels.iter().enumerate() {
                    ui.selectable_value(&mut s.overlay_level, i, format!("1/{}", 1usize << l));
                }
            });
    }
    ui.add(egui::Slider::new(&mut s.overlay_opacity, 0.0..=1.0).text("opacity"));
    ui.checkbox(&mut s.flow_arrows, "Flow arrows");
    ui.add(egui::Slider::new(&mut s.attention_opacity, 0.0..=1.0).text("attention"));
    legend(ui, editor);
}

/// The scale of what is shown: the colour wheel with the largest displacement, or the
/// colormap bar of the mask / attention.
fn legend(ui: &mut egui::Ui, editor: &Editor) {
    let s = &editor.settings;
    let level = editor.result.as_ref().and_then(|r| {
        (!r.levels.is_empty()).then(|| &r.levels[s.overlay_level.min(r.levels.len() - 1)])
    });
    match (s.overlay, level) {
        (ResultOverlay::Flow, Some(l)) => {
            let (rect, _) = ui.allocate_exact_size(Vec2::splat(64.0), egui::Sense::hover());
            overlay::paint(
                ui.painter(),
                rect,
                OverlayPaint {
                    key: 1 << 41,
                    field: wheel_field(),
                    style: OverlayStyle::FlowWheel { max_radius: 32.0 },
                    opacity: 1.0,
                    smooth: true,
                },
            );
            let cell = 1usize << l.level;
            let max = l.flow.max_magnitude();
            ui.label(format!(
                "hue = direction, saturation = length; rim = {max:.1} cells = {:.0} input px (level 1/{cell})",
                max * cell as f32
            ));
        }
        (ResultOverlay::Mask, Some(_)) => {
            colorbar(ui, 2 << 41);
            ui.label("0 = generated by the network, 1 = copied from the source");
        }
        _ => {}
    }
    if let Some(p) = &editor.probe {
        colorbar(ui, 3 << 41);
        let peaks: Vec<String> = p
            .levels
            .iter()
            .map(|l| format!("level {}: peak {:.2}", l.level, l.peak))
            .collect();
        ui.label(format!(
            "attention weight, 0 to peak ({})",
            peaks.join(", ")
        ));
    }
}

fn colorbar(ui: &mut egui::Ui, key: u64) {
    static BAR: OnceLock<Arc<FloatField>> = OnceLock::new();
    let field = BAR.get_or_init(|| {
        let data: Vec<f32> = (0..64).map(|i| i as f32 / 63.0).collect();
        Arc::new(FloatField::new(64, 1, 1, data).expect("a valid 64×1 field"))
    });
    let (rect, _) = ui.allocate_exact_size(Vec2::new(180.0, 12.0), egui::Sense::hover());
    overlay::paint(
        ui.painter(),
        rect,
        OverlayPaint {
            key,
            field: field.clone(),
            style: OverlayStyle::Colormap {
                min: 0.0,
                max: 1.0,
                alpha_from_value: false,
            },
            opacity: 1.0,
            smooth: true,
        },
    );
}

/// A 64×64 field whose vectors point away from the centre: drawn with the flow style it is
/// the colour wheel itself.
fn wheel_field() -> Arc<FloatField> {
    static WHEEL: OnceLock<Arc<FloatField>> = OnceLock::new();
    WHEEL
        .get_or_init(|| {
            let n = 64usize;
            let c = (n as f32 - 1.0) / 2.0;
            let mut data = vec![0f32; 2 * n * n];
            for y in 0..n {
                for x in 0..n {
                    data[y * n + x] = x as f32 - c;
                    data[n * n + y * n + x] = y as f32 - c;
                }
            }
            Arc::new(FloatField::new(n as u32, n as u32, 2, data).expect("a valid 64×64 field"))
        })
        .clone()
}

pub fn status_bar(ui: &mut egui::Ui, editor: &Editor) {
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
            ui.label(format!("frame {:.1} ms", editor.frame_ms));
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
                ui.label(format!("preview {:.0} ms", p.millis));
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
