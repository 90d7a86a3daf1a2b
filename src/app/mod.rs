//! The desktop editor (`marionette` with no subcommand, or `marionette edit`): open a photo,
//! pose its skeleton, watch GFLA re-render the person, and inspect the flow, occlusion and
//! attention behind each pixel.
//!
//! * [`editor`] — the state and every action (open, edit, undo, requests, export, autosave);
//!   no drawing, so tests drive it directly.
//! * [`crate::pose::rig`] (below the app) — joints, the kinematic tree, forward kinematics,
//!   mirror, template.
//! * [`history`], [`view`] — undo/redo snapshots; photo ↔ screen transforms and hit-testing.
//! * [`worker`] — the latest-wins background thread; [`engine`] (the model, one crop and the
//!   cached source features per photo) and [`preview`] (the instant puppet warp) run on two,
//!   [`detection`] (finding the person in a newly opened photo) on a third.
//! * [`probe`] — where a result pixel sampled from, per attention level.
//! * [`overlay`] — float fields coloured by `shaders/overlay.wgsl` in egui_wgpu callbacks.
//! * [`project`], [`export`] — the session file and autosave; PNG exports.
//! * [`timeline`] — keyframes in the editor: selection, playhead, playback, kept preview
//!   frames; [`anim_export`] — the keyframes written as GIF / APNG / PNG frames on a thread.
//! * [`ui`] — the eframe app: menus, side panel, the two panes, the timeline, dialogs.

pub mod anim_export;
pub mod detection;
pub mod editor;
pub mod engine;
pub mod export;
pub mod history;
pub mod layers;
pub mod overlay;
pub mod preview;
pub mod probe;
pub mod project;
pub mod timeline;
pub mod ui;
pub mod view;
pub mod worker;

pub use editor::{Editor, EditorOptions};
pub use ui::MarionetteApp;

/// Opens the editor window (wgpu renderer) and runs until it is closed.
pub fn run(options: EditorOptions) -> anyhow::Result<()> {
    leave_a_core_for_the_ui();
    let native = eframe::NativeOptions {
        renderer: eframe::Renderer::Wgpu,
        viewport: eframe::egui::ViewportBuilder::default()
            .with_title("marionette")
            .with_inner_size([1280.0, 800.0])
            .with_min_inner_size([720.0, 480.0])
            .with_drag_and_drop(true),
        ..Default::default()
    };
    eframe::run_native(
        "marionette",
        native,
        Box::new(move |cc| Ok(Box::new(MarionetteApp::new(cc, options)))),
    )
    .map_err(|e| anyhow::anyhow!("could not open the editor window: {e}"))
}

/// candle computes on its own thread pools, sized from `CANDLE_NUM_THREADS` / `RAYON_NUM_THREADS`
/// (default: every core) and read once, at their first use. With every core busy — and
/// candle's barrier pool spin-waits — a software-rendered frame (lavapipe) waited for the model:
/// measured under Xvfb on 2 cores, frames came every ~210 ms while the model ran. Unless the
/// user chose, the model gets all cores but one. Called before any thread exists.
fn leave_a_core_for_the_ui() {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let threads = cores.saturating_sub(1).max(1).to_string();
    for var in ["CANDLE_NUM_THREADS", "RAYON_NUM_THREADS"] {
        if std::env::var_os(var).is_none() {
            std::env::set_var(var, &threads);
        }
    }
}
