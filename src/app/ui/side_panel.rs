//! The side panel: mode, fitting help and detection, edit tools, depth order, joints, the
//! result view and its overlays with their legends, the model.

use super::menus::{detect_button, model_info};
use super::paint_overlay;
use crate::app::detection::{self, DetectStatus};
use crate::app::editor::Editor;
use crate::app::layers::LayersStatus;
use crate::app::overlay::{FloatField, GpuOverlays, OverlayPaint, OverlayStyle};
use crate::app::project::{Mode, ResultOverlay, ResultView};
use crate::pose::JOINT_NAMES;
use crate::puppet::{Layer, Limb};
use eframe::egui::{self, Color32, RichText, Vec2};
use std::sync::{Arc, OnceLock};

pub fn side_panel(ui: &mut egui::Ui, editor: &mut Editor, gpu: Option<GpuOverlays>) {
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
                fit_notice(ui, &editor.detection.status);
                ui.horizontal(|ui| {
                    if ui.button("Start posing").clicked() {
                        editor.set_mode(Mode::PoseTarget);
                    }
                    if editor.detection.status != DetectStatus::Off {
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
        overlay_controls(ui, editor, gpu);

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
    let Some(d) = &editor.detection.pending else {
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

fn overlay_controls(ui: &mut egui::Ui, editor: &mut Editor, gpu: Option<GpuOverlays>) {
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
    legend(ui, editor, gpu);
}

/// The scale of what is shown: the colour wheel with the largest displacement, or the
/// colormap bar of the mask / attention.
fn legend(ui: &mut egui::Ui, editor: &Editor, gpu: Option<GpuOverlays>) {
    let s = &editor.settings;
    let level = editor.result.as_ref().and_then(|r| {
        (!r.levels.is_empty()).then(|| &r.levels[s.overlay_level.min(r.levels.len() - 1)])
    });
    match (s.overlay, level) {
        (ResultOverlay::Flow, Some(l)) => {
            let (rect, _) = ui.allocate_exact_size(Vec2::splat(64.0), egui::Sense::hover());
            paint_overlay(
                gpu,
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
            colorbar(ui, gpu, 2 << 41);
            ui.label("0 = generated by the network, 1 = copied from the source");
        }
        _ => {}
    }
    if let Some(p) = &editor.probe {
        colorbar(ui, gpu, 3 << 41);
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

fn colorbar(ui: &mut egui::Ui, gpu: Option<GpuOverlays>, key: u64) {
    static BAR: OnceLock<Arc<FloatField>> = OnceLock::new();
    let field = BAR.get_or_init(|| {
        let data: Vec<f32> = (0..64).map(|i| i as f32 / 63.0).collect();
        Arc::new(FloatField::new(64, 1, 1, data).expect("a valid 64×1 field"))
    });
    let (rect, _) = ui.allocate_exact_size(Vec2::new(180.0, 12.0), egui::Sense::hover());
    paint_overlay(
        gpu,
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
