//! The editor's state and everything it does that is not drawing: opening photos, poses and
//! projects, edits with undo, talking to the workers, exports and the autosave. The panes and
//! panels of the UI (`app/ui/`, above this module) read and change this state; tests drive it
//! directly.
//!
//! This file holds the state and its construction; the actions are `impl Editor` blocks, one
//! file per concern: `opening.rs` (photos, projects, poses), `editing.rs` (undoable edits, drags,
//! undo/redo), `detecting.rs`, `requests.rs` (the model and preview workers, every frame),
//! `autosave.rs`, `export.rs` (result and full-resolution photo), `timeline.rs` (keyframes,
//! scrub, play) and `anim_export.rs`.

mod anim_export;
mod autosave;
mod detecting;
mod editing;
mod export;
mod opening;
mod requests;
mod timeline;

// The document's types and the sample helpers, where callers have long found them.
pub use super::doc::{Doc, Drag, Which};
pub use super::samples::{first_sample, samples, samples_dir, sidecar_pose, FIRST_SAMPLE};

use super::anim_export::AnimExport;
use super::detection::{self, DetectRequest, DetectResponse, Detection};
use super::engine::RenderResponse;
use super::engine::{Engine, ModelInfo, ModelSpec, RenderRequest, Rendered};
use super::history::History;
use super::job::Job;
use super::layers::LayerCache;
use super::photo::Photo;
use super::preview::{self, Preview, PreviewKey, PreviewRequest};
use super::probe::Probe;
use super::project::{self, Project, Settings};
use super::timeline::TimelineState;
use super::worker::LatestWorker;
use crate::animate::keyframes::Timeline;
use crate::composite::pipeline::{default_method, Method, DEFAULT_METHOD};
use crate::pose::rig::Rig;
use crate::pose::Pose;
use crate::puppet::{Layer, LimbOrder};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How the editor starts (from the command line, or from a test).
#[derive(Clone, Debug)]
pub struct EditorOptions {
    /// A photo to open.
    pub photo: Option<PathBuf>,
    /// A project to open (wins over `photo`).
    pub project: Option<PathBuf>,
    pub model: ModelSpec,
    /// Where the autosave lives; `None` disables autosave and recovery (tests).
    pub state_dir: Option<PathBuf>,
    /// Print frame-time statistics when the window closes (`marionette edit --frame-stats`).
    pub frame_stats: bool,
    /// Look for the person when a photo without a pose file opens (`--no-detect` turns it off;
    /// tests that need the template to stay put do too).
    pub detect: bool,
    /// Composite the preview over the photo's layers (matte + background plate; needs the
    /// detector's models). Off: the plain puppet warp (tests whose frames must not depend on
    /// the detector).
    pub composite: bool,
    /// The method the preview shows (its instant stage at once, a refined second stage when
    /// the edit is still); `None`: [`default_method`].
    pub method: Option<Method>,
}

impl Default for EditorOptions {
    fn default() -> Self {
        Self {
            photo: None,
            project: None,
            model: ModelSpec::default(),
            state_dir: None,
            frame_stats: false,
            detect: true,
            composite: true,
            method: None,
        }
    }
}

/// A message for the user: shown in the status bar, errors also in a dialog.
#[derive(Clone, Debug, PartialEq)]
pub struct Notice {
    pub text: String,
    pub error: bool,
}

/// Seconds between autosaves of a changed session.
const AUTOSAVE_EVERY: Duration = Duration::from_secs(3);
/// The puppet preview runs on a copy of the photo at most this many pixels per side.
const PREVIEW_MAX_SIDE: u32 = 512;

pub struct Editor {
    pub photo: Option<Arc<Photo>>,
    /// The photo shrunk for the puppet preview, and its scale (preview px per photo px).
    preview_photo: Option<(Arc<Photo>, f32)>,
    pub doc: Doc,
    history: History<Doc>,
    pub settings: Settings,
    /// Where the source skeleton came from (shown in the side panel).
    pub source_origin: String,

    pub model_spec: ModelSpec,
    /// The last spec that loaded; a failed load returns to it.
    good_spec: Option<ModelSpec>,
    pub model_info: Option<ModelInfo>,
    worker: LatestWorker<RenderRequest, RenderResponse>,
    preview_worker: LatestWorker<PreviewRequest, Preview>,
    /// The method the preview shows.
    method: Method,
    /// The preview's second stage (the refiner), when the method has one.
    refine_worker: Option<LatestWorker<PreviewRequest, Option<Preview>>>,
    /// The last instant request, refined once its preview is shown and no newer edit waits.
    to_refine: Option<PreviewRequest>,
    /// The preview photo's matte and plate; `None` when compositing is off.
    pub layers: Option<LayerCache>,
    /// What the preview was last asked (or shown from the timeline's frames).
    preview_sent: Option<PreviewKey>,
    /// The timeline's selection, playhead, playback and cached frames (the keyframes are in
    /// `doc`).
    pub timeline: TimelineState,
    /// The animation export's dialog and job.
    pub anim_export: AnimExport,
    /// A full-resolution export running on its own thread.
    export_job: Option<Job<PathBuf>>,
    /// Finding the person in a newly opened photo: the worker, the request in flight, and
    /// what it found.
    pub detection: Detection,
    next_id: u64,
    /// What was last sent: (photo id, source, target, model).
    sent: Option<(u64, Pose, Pose, ModelSpec)>,
    pub latest_request: u64,
    pub result: Option<Rendered>,
    pub preview: Option<Preview>,
    pub probe: Option<Probe>,
    /// Bumped when the probe changes (its GPU textures are keyed by it).
    pub probe_version: u64,
    /// Bumped when the result or preview changes, so the UI re-uploads textures.
    pub result_version: u64,
    pub preview_version: u64,
    /// Bumped when another photo opens (the UI re-fits its view and re-uploads the photo).
    pub photo_version: u64,

    pub drag: Option<Drag>,
    /// The joint last grabbed or clicked: its limb is the one the depth controls act on.
    pub selected: Option<usize>,
    pub notice: Option<Notice>,
    /// An error to show in a dialog until dismissed.
    pub error_dialog: Option<String>,
    /// An autosave found at start-up, offered back to the user.
    pub recovery: Option<Project>,

    state_dir: Option<PathBuf>,
    autosaved: Option<(Doc, Settings)>,
    last_autosave: Instant,
}

impl Editor {
    /// A new editor; `repaint` wakes the UI when a worker has a result.
    pub fn new(options: EditorOptions, repaint: impl Fn() + Send + Sync + Clone + 'static) -> Self {
        let pool = compute_pool();
        let job = detection::detector_job(Arc::clone(&pool));
        Self::with_detect_job(options, repaint, pool, job)
    }

    /// [`Editor::new`] with the detection worker running `detect` (tests answer with made-up
    /// detections, needing no model files).
    fn with_detect_job(
        options: EditorOptions,
        repaint: impl Fn() + Send + Sync + Clone + 'static,
        pool: Arc<rayon::ThreadPool>,
        detect: impl FnMut(DetectRequest) -> DetectResponse + Send + 'static,
    ) -> Self {
        let notify_model = repaint.clone();
        let notify_detect = repaint.clone();
        let mut engine = Engine::new();
        let model_pool = Arc::clone(&pool);
        let worker = LatestWorker::spawn(
            "marionette-model",
            move |req: RenderRequest| model_pool.install(|| engine.run(&req)),
            notify_model,
        );
        let layers = options
            .composite
            .then(|| LayerCache::spawn(Arc::clone(&pool), repaint.clone()));
        let method = options.method.unwrap_or_else(|| {
            default_method().unwrap_or_else(|e| {
                tracing::warn!("{e:#}; the preview shows {}", DEFAULT_METHOD.name());
                DEFAULT_METHOD
            })
        });
        let refine_worker = options
            .composite
            .then(|| preview::Refining::for_method(method))
            .flatten()
            .map(|mut stage| {
                let pool = Arc::clone(&pool);
                LatestWorker::spawn(
                    "marionette-refine",
                    move |req| pool.install(|| stage.run(req)),
                    repaint.clone(),
                )
            });
        let preview_worker = LatestWorker::spawn(
            "marionette-preview",
            move |req| pool.install(|| preview::run(req)),
            repaint,
        );
        let detect_worker = options
            .detect
            .then(|| LatestWorker::spawn("marionette-detect", detect, notify_detect));
        let template = Rig::template(1.0, 1.0);
        let mut editor = Self {
            photo: None,
            preview_photo: None,
            doc: Doc {
                source: template.clone(),
                target: template,
                timeline: Timeline::default(),
                order: LimbOrder::default(),
            },
            history: History::new(500),
            settings: Settings::default(),
            source_origin: String::new(),
            model_spec: options.model.clone(),
            good_spec: None,
            model_info: None,
            worker,
            preview_worker,
            method,
            refine_worker,
            to_refine: None,
            layers,
            preview_sent: None,
            timeline: TimelineState::default(),
            anim_export: AnimExport::default(),
            export_job: None,
            detection: Detection::new(detect_worker),
            next_id: 0,
            sent: None,
            latest_request: 0,
            result: None,
            preview: None,
            probe: None,
            probe_version: 0,
            result_version: 0,
            preview_version: 0,
            photo_version: 0,
            drag: None,
            selected: None,
            notice: None,
            error_dialog: None,
            recovery: None,
            state_dir: options.state_dir.clone(),
            autosaved: None,
            last_autosave: Instant::now(),
        };
        if let Some(dir) = &options.state_dir {
            let removed = project::remove_stale_autosave_temporaries(dir);
            if removed > 0 {
                tracing::info!("removed {removed} half-written autosave(s) of crashed sessions");
            }
            let path = project::autosave_path(dir);
            if path.is_file() {
                match Project::load(&path) {
                    Ok(p) => editor.recovery = Some(p),
                    Err(e) => tracing::warn!("ignoring an unreadable autosave: {e:#}"),
                }
            }
        }
        let opened = match (&options.project, &options.photo) {
            (Some(p), _) => editor.open_project(p),
            (None, Some(photo)) => editor.open_photo(photo),
            (None, None) => Ok(()),
        };
        if let Err(e) = opened {
            editor.report_error(e);
        }
        editor
    }

    // ----- messages ------------------------------------------------------------------------

    pub fn say(&mut self, text: String) {
        tracing::info!("{text}");
        self.notice = Some(Notice { text, error: false });
    }

    /// A problem that needs no dialog (the user can carry on): red in the status bar.
    fn warn(&mut self, text: String) {
        tracing::warn!("{text}");
        self.notice = Some(Notice { text, error: true });
    }

    pub fn report_error(&mut self, e: anyhow::Error) {
        let text = format!("{e:#}");
        tracing::warn!("{text}");
        self.notice = Some(Notice {
            text: text.clone(),
            error: true,
        });
        self.error_dialog = Some(text);
    }

    pub fn photo_wh(&self) -> Option<(f32, f32)> {
        self.photo
            .as_ref()
            .map(|p| (p.image.width() as f32, p.image.height() as f32))
    }
}

/// The threads the model and the preview compute on: all cores but one. The one left is the
/// UI's — on a small machine with a software renderer (lavapipe), drawing a frame needs a core
/// too, and a model using every core made frames wait for it.
fn compute_pool() -> Arc<rayon::ThreadPool> {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let threads = cores.saturating_sub(1).max(1);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("marionette-compute-{i}"))
        .start_handler(|_| crate::ops::cpu_mode::flush_denormals())
        .build()
        .or_else(|_| rayon::ThreadPoolBuilder::new().num_threads(1).build())
        .expect("a one-thread pool can always be built");
    Arc::new(pool)
}

/// What the depth controls call a limb's layer.
pub fn layer_name(layer: Option<Layer>) -> &'static str {
    match layer {
        None => "automatic depth",
        Some(Layer::Front) => "in front of the body",
        Some(Layer::Behind) => "behind the body",
    }
}

fn capitalized(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| p.display().to_string())
}

#[cfg(test)]
mod tests;
