//! Keyboard shortcuts and files dropped on the window: input that works wherever the focus is,
//! checked before the panels draw.

use super::menus::open_any;
use crate::app::editor::Editor;
use crate::app::project::Mode;
use crate::app::ui::panes::Panes;
use eframe::egui::{self, Key, KeyboardShortcut, Modifiers};
use std::path::PathBuf;

/// Keyboard shortcuts; checked before the panels so they work wherever the focus is.
pub fn shortcuts(ctx: &egui::Context, editor: &mut Editor, panes: &mut Panes) {
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
        panes.refit = true;
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
