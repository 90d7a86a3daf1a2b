//! The desktop editor (`marionette` with no subcommand, or `marionette edit`): open a photo,
//! pose its skeleton, watch GFLA re-render the person, and inspect the flow, occlusion and
//! attention behind each pixel.
//!
//! * [`editor`] — the state and every action, one file per concern (opening, editing,
//!   detecting, requests, autosave, export, timeline, anim_export); no drawing and no GUI
//!   types, so tests drive it directly. [`doc`] — the undoable document (both skeletons, depth
//!   order, keyframes), below the editor and the timeline so neither imports the other.
//! * [`crate::pose::rig`] (below the app) — joints, the kinematic tree, forward kinematics,
//!   mirror, template.
//! * [`history`], [`view`] — undo/redo snapshots; photo ↔ screen transforms and hit-testing.
//! * [`worker`] — the latest-wins background thread; [`engine`] (the model, one crop and the
//!   cached source features per photo) and [`preview`] (the instant puppet warp) run on two,
//!   [`detection`] (finding the person in a newly opened photo) on a third; [`photo`] is what
//!   they are handed. [`job`] — one thread per export, with progress and cancel.
//! * [`probe`] — where a result pixel sampled from, per attention level.
//! * [`field`] — float images (flow, masks, attention); [`overlay`] colours them, on the CPU
//!   and with `shaders/overlay.wgsl` in egui_wgpu callbacks.
//! * [`project`], [`export`] — the session file and autosave; PNG exports. [`samples`] — the
//!   bundled photos and pose files found beside a photo (also used by the CLI).
//! * [`timeline`] — the timeline's state: selection, playhead, playback, kept preview frames;
//!   [`anim_export`] — the animation export's dialog choices and running job.
//! * [`ui`] — the eframe app: menus, side panel, status bar, shortcuts, the two panes, the
//!   timeline, dialogs; with the view-only state (zoom, pan, pane rects, frame time).
//!
//! Without the `gui` cargo feature, [`ui`], [`view`], the GPU overlays and [`run`] are left
//! out: the rest (the editor's state included) needs no window.

pub mod anim_export;
pub mod detection;
pub mod doc;
pub mod editor;
pub mod engine;
pub mod export;
pub mod field;
pub mod history;
pub mod job;
pub mod layers;
pub mod overlay;
pub mod photo;
pub mod preview;
pub mod probe;
pub mod project;
pub mod samples;
pub mod timeline;
#[cfg(feature = "gui")]
pub mod ui;
#[cfg(feature = "gui")]
pub mod view;
pub mod worker;

pub use editor::{Editor, EditorOptions};
#[cfg(feature = "gui")]
pub use ui::MarionetteApp;

/// Opens the editor window (wgpu renderer) and runs until it is closed.
#[cfg(feature = "gui")]
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
#[cfg(feature = "gui")]
fn leave_a_core_for_the_ui() {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let threads = cores.saturating_sub(1).max(1).to_string();
    for var in ["CANDLE_NUM_THREADS", "RAYON_NUM_THREADS"] {
        if std::env::var_os(var).is_none() {
            std::env::set_var(var, &threads);
        }
    }
}
