//! The timeline panel, above the status bar: the keyframes as chips with their buttons, the
//! selected keyframe's duration and easing, the frame rate, play/pause and the scrub slider;
//! and the K / P shortcuts.

use crate::animate::keyframes::{Easing, FPS_RANGE};
use crate::app::editor::Editor;
use crate::app::timeline::MAX_DURATION;
use eframe::egui::{self, Key, Modifiers, RichText};

/// K adds a keyframe, P plays or pauses (Space already pans the panes).
pub fn shortcuts(ctx: &egui::Context, editor: &mut Editor) {
    if ctx.egui_wants_keyboard_input() {
        return; // typing in a text field
    }
    let (add, play) = ctx.input_mut(|i| {
        (
            i.consume_key(Modifiers::NONE, Key::K),
            i.consume_key(Modifiers::NONE, Key::P),
        )
    });
    if add {
        editor.add_keyframe();
    }
    if play {
        editor.toggle_play();
    }
}

pub fn panel(ui: &mut egui::Ui, editor: &mut Editor) {
    ui.add_space(2.0);
    let enabled = editor.can_animate();
    ui.add_enabled_ui(enabled, |ui| {
        keyframes_row(ui, editor);
        selected_row(ui, editor);
        playback_row(ui, editor);
    });
    super::anim_export::progress(ui, editor);
    ui.add_space(2.0);
}

/// The chips (click selects and poses the target as the keyframe) and the keyframe buttons.
fn keyframes_row(ui: &mut egui::Ui, editor: &mut Editor) {
    ui.horizontal(|ui| {
        ui.label(RichText::new("Keyframes").strong());
        let n = editor.doc.timeline.keyframes.len();
        if n == 0 {
            let hint = if editor.can_animate() {
                "none yet: pose the target, then Add keyframe (K)"
            } else {
                "start posing to animate the target"
            };
            ui.label(RichText::new(hint).weak());
        }
        egui::ScrollArea::horizontal()
            .id_salt("marionette.keyframe_chips")
            .max_width((ui.available_width() - 470.0).max(80.0))
            .show(ui, |ui| {
                ui.horizontal(|ui| {
                    for i in 0..n {
                        let t = editor.doc.timeline.time_of(i);
                        let chip = ui
                            .selectable_label(editor.timeline.selected == Some(i), chip_label(i))
                            .on_hover_text(format!(
                                "Keyframe {} at {t:.2} s: click to select it and pose the \
                                 target as it",
                                i + 1
                            ));
                        if chip.clicked() {
                            editor.select_keyframe(i);
                        }
                    }
                });
            });
        ui.separator();
        if ui
            .button("Add keyframe (K)")
            .on_hover_text("The current target as a new keyframe after the selected one")
            .clicked()
        {
            editor.add_keyframe();
        }
        let selected = editor.timeline.selected.filter(|&i| i < n);
        ui.add_enabled_ui(selected.is_some(), |ui| {
            if ui
                .button("Update")
                .on_hover_text("Replace the selected keyframe's pose with the current target")
                .clicked()
            {
                editor.update_keyframe();
            }
            if ui.button("Duplicate").clicked() {
                editor.duplicate_keyframe();
            }
            if ui.button("Delete").clicked() {
                editor.delete_keyframe();
            }
            let first = selected == Some(0);
            let last = selected == n.checked_sub(1);
            if ui
                .add_enabled(!first, egui::Button::new("« Earlier"))
                .on_hover_text("Move the selected keyframe earlier")
                .clicked()
            {
                editor.move_keyframe(false);
            }
            if ui
                .add_enabled(!last, egui::Button::new("Later »"))
                .on_hover_text("Move the selected keyframe later")
                .clicked()
            {
                editor.move_keyframe(true);
            }
        });
        ui.separator();
        if ui
            .add_enabled(
                n > 0 && !editor.anim_exporting(),
                egui::Button::new("Export animation…"),
            )
            .on_hover_text("Write the keyframes' frames as a GIF, an APNG or PNG frames")
            .clicked()
        {
            editor.open_anim_export();
        }
    });
}

/// "#1", "#2", …: the chips' text (and how tests find them).
pub fn chip_label(i: usize) -> String {
    format!("#{}", i + 1)
}

/// The selected keyframe's duration and easing, and the clip's frame rate.
fn selected_row(ui: &mut egui::Ui, editor: &mut Editor) {
    ui.horizontal(|ui| {
        let selected = editor
            .timeline
            .selected
            .and_then(|i| editor.doc.timeline.keyframes.get(i).map(|k| (i, k.clone())));
        match selected {
            Some((i, k)) => {
                ui.label(format!("Keyframe {}:", i + 1));
                let label = ui.label("Duration");
                let mut d = k.duration;
                let r = ui
                    .add(
                        egui::DragValue::new(&mut d)
                            .range(0.0..=MAX_DURATION)
                            .speed(0.01)
                            .max_decimals(2)
                            .suffix(" s"),
                    )
                    .labelled_by(label.id)
                    .on_hover_text(
                        "Seconds from this keyframe to the next (the last keyframe's is kept \
                         for when it moves)",
                    );
                // A drag through many values is one undo step.
                if r.drag_started() {
                    editor.begin_edit();
                }
                if r.changed() {
                    editor.set_keyframe_duration(i, d, r.dragged());
                }
                if r.drag_stopped() {
                    editor.end_edit();
                }
                ui.label("Easing");
                egui::ComboBox::from_id_salt("marionette.easing")
                    .selected_text(k.easing.name())
                    .show_ui(ui, |ui| {
                        for e in Easing::ALL {
                            if ui.selectable_label(k.easing == e, e.name()).clicked() {
                                editor.set_keyframe_easing(i, e);
                            }
                        }
                    })
                    .response
                    .on_hover_text("How the segment to the next keyframe moves");
            }
            None => {
                ui.label(RichText::new("No keyframe selected").weak());
            }
        }
        ui.separator();
        let label = ui.label("Frame rate");
        let mut fps = editor.doc.timeline.fps;
        let r = ui
            .add(
                egui::DragValue::new(&mut fps)
                    .range(FPS_RANGE)
                    .speed(0.1)
                    .max_decimals(1)
                    .suffix(" fps"),
            )
            .labelled_by(label.id)
            .on_hover_text("Frames per second of playback and export");
        if r.drag_started() {
            editor.begin_edit();
        }
        if r.changed() {
            editor.set_timeline_fps(fps, r.dragged());
        }
        if r.drag_stopped() {
            editor.end_edit();
        }
    });
}

/// Play/pause, loop, the scrub slider (whole frames) and where the playhead is.
fn playback_row(ui: &mut egui::Ui, editor: &mut Editor) {
    ui.horizontal(|ui| {
        let timeline = &editor.doc.timeline;
        let fps = timeline.fps;
        let count = timeline.frame_count(fps);
        let playable = timeline.keyframes.len() >= 2 && count >= 2;
        let text = if editor.timeline.playing() {
            "Pause (P)"
        } else {
            "Play (P)"
        };
        if ui
            .add_enabled(playable, egui::Button::new(text))
            .on_disabled_hover_text("Add two keyframes to play")
            .clicked()
        {
            editor.toggle_play();
        }
        ui.checkbox(&mut editor.timeline.looping, "Loop");
        // + 0.0: the sum of no segments is −0.0, which would print as "-0.00".
        let duration = editor.doc.timeline.duration() + 0.0;
        let label = ui.label("Time");
        let mut t = editor.timeline.playhead.min(duration);
        let readout = match count {
            0 => "no frames yet".to_string(),
            _ => format!(
                "frame {} of {count} · {t:.2} s of {duration:.2} s",
                ((t * fps).round() as usize + 1).min(count)
            ),
        };
        ui.spacing_mut().slider_width = (ui.available_width() - 230.0).max(80.0);
        // The keyframes' marks go under the slider: a placeholder now, filled once its rect is
        // known.
        let marks = ui.painter().add(egui::Shape::Noop);
        let r = ui
            .add_enabled(
                playable,
                egui::Slider::new(&mut t, 0.0..=duration.max(1e-3))
                    .step_by(1.0 / fps as f64)
                    // Clamping would also round the value shown to a step each frame, and a
                    // keyframe between two frames (selected, so shown exactly) would be
                    // "changed" into the frame beside it.
                    .clamping(egui::SliderClamping::Never)
                    .show_value(false),
            )
            .labelled_by(label.id)
            .on_hover_text("Scrub: shows the clip at that frame (no undo step)");
        if r.changed() {
            editor.scrub_to(t);
        }
        ui.painter()
            .set(marks, keyframe_marks(ui, editor, r.rect, duration));
        ui.label(readout);
    });
}

/// A tick on the slider at each keyframe's time (the selected one in the selection colour), at
/// the positions egui's slider gives those values: its rail inset by the handle's radius.
fn keyframe_marks(ui: &egui::Ui, editor: &Editor, rect: egui::Rect, duration: f32) -> egui::Shape {
    if duration <= 0.0 {
        return egui::Shape::Noop;
    }
    let inset = rect.height() / 2.5;
    let (x0, x1) = (rect.left() + inset, rect.right() - inset);
    let timeline = &editor.doc.timeline;
    let shapes = (0..timeline.keyframes.len())
        .map(|i| {
            let x = x0 + (x1 - x0) * (timeline.time_of(i) / duration).clamp(0.0, 1.0);
            let color = if editor.timeline.selected == Some(i) {
                ui.visuals().selection.bg_fill
            } else {
                ui.visuals().weak_text_color()
            };
            egui::Shape::line_segment(
                [egui::pos2(x, rect.top()), egui::pos2(x, rect.bottom())],
                egui::Stroke::new(2.0, color),
            )
        })
        .collect();
    egui::Shape::Vec(shapes)
}
