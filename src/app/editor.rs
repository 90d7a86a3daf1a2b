//! The editor's state and everything it does that is not drawing: opening photos, poses and
//! projects, edits with undo, talking to the workers, exports and the autosave. The panes and
//! panels in [`super::ui`] read and change this state; tests drive it directly.

use super::anim_export::AnimExport;
use super::detection::{
    self, DetectOutcome, DetectRequest, DetectResponse, DetectStatus, Detected, Unavailable,
};
use super::engine::RenderResponse;
use super::engine::{Engine, ModelChoice, ModelInfo, ModelSpec, Photo, RenderRequest, Rendered};
use super::history::History;
use super::layers::LayerCache;
use super::preview::{self, Preview, PreviewKey, PreviewRequest};
use super::probe::{self, Probe};
use super::project::{self, Mode, Project, Settings, PROJECT_VERSION};
use super::timeline::TimelineState;
use super::view::View;
use super::worker::LatestWorker;
use crate::animate::keyframes::Timeline;
use crate::pose::rig::{Point, Rig};
use crate::pose::{self, Pose};
use crate::puppet::{Layer, Limb, LimbOrder, PuppetConfig};
use anyhow::{Context, Result};
use eframe::egui;
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
        }
    }
}

/// The undoable part of the session: both skeletons, the target's depth order and the
/// keyframes.
#[derive(Clone, Debug, PartialEq)]
pub struct Doc {
    pub source: Rig,
    pub target: Rig,
    pub timeline: Timeline,
    /// Limbs the user put in front of / behind the body in the target pose.
    pub order: LimbOrder,
}

/// The two sides of an applied detection (see [`Editor::undo`]).
#[derive(Clone, Debug)]
struct DetectionStep {
    before: Doc,
    after: Doc,
    origin_before: String,
    origin_after: String,
}

/// Which skeleton a joint belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Which {
    Source,
    Target,
}

/// A joint being dragged.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Drag {
    pub which: Which,
    pub joint: usize,
    /// Shift held at the start: swing the limb (forward kinematics) instead of moving the joint.
    pub rotate: bool,
}

/// A message for the user: shown in the status bar, errors also in a dialog.
#[derive(Clone, Debug, PartialEq)]
pub struct Notice {
    pub text: String,
    pub error: bool,
}

/// A detection request in flight, and the document when it was sent: an answer that finds the
/// document changed does not replace the user's edits.
#[derive(Clone, Debug)]
struct SentDetection {
    id: u64,
    photo_id: u64,
    doc: Doc,
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
    export_job: Option<std::sync::mpsc::Receiver<Result<PathBuf, String>>>,
    /// Finds the person in a photo; `None` when detection is off for the session.
    detect_worker: Option<LatestWorker<DetectRequest, DetectResponse>>,
    next_detect_id: u64,
    /// The detection whose answer is awaited; `None` when none is (or it was for a photo that
    /// has since been replaced).
    detect_sent: Option<SentDetection>,
    /// What detection did for the current photo (side panel and status bar).
    pub detect_status: DetectStatus,
    /// Why the detector cannot load, once known: opening another photo does not try again
    /// (only the explicit "Detect person" does).
    detector_unavailable: Option<Unavailable>,
    /// A detection that finished after the user had already moved joints: offered, not applied.
    pub pending_detection: Option<Detected>,
    /// The documents and labels on both sides of the applied detection's undo step, so that
    /// undoing it also returns to fitting the template (and redoing it, to posing).
    detection_step: Option<DetectionStep>,
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
    pub photo_version: u64,

    pub view: View,
    /// Where the photo and result panes were drawn last frame (screen points).
    pub pane_rects: [egui::Rect; 2],
    /// The view is re-fitted to the pane on the next frame (after opening a photo).
    pub refit: bool,
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
    /// Milliseconds of the last frames' UI work (status bar).
    pub frame_ms: f32,
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
        let preview_worker = LatestWorker::spawn(
            "marionette-preview",
            move |req| pool.install(|| preview::run(req)),
            repaint,
        );
        let detect_worker = options
            .detect
            .then(|| LatestWorker::spawn("marionette-detect", detect, notify_detect));
        let detect_status = match detect_worker {
            Some(_) => DetectStatus::Idle,
            None => DetectStatus::Off,
        };
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
            layers,
            preview_sent: None,
            timeline: TimelineState::default(),
            anim_export: AnimExport::default(),
            export_job: None,
            detect_worker,
            next_detect_id: 0,
            detect_sent: None,
            detect_status,
            detector_unavailable: None,
            pending_detection: None,
            detection_step: None,
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
            view: View::default(),
            pane_rects: [egui::Rect::NOTHING; 2],
            refit: true,
            drag: None,
            selected: None,
            notice: None,
            error_dialog: None,
            recovery: None,
            state_dir: options.state_dir.clone(),
            autosaved: None,
            last_autosave: Instant::now(),
            frame_ms: 0.0,
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

    // ----- opening -------------------------------------------------------------------------

    /// Opens a photo; its source skeleton comes from a pose file beside it
    /// (`<stem>_source.json`, `<stem>_pose.json` or `<stem>.json`), else the template is placed,
    /// the editor switches to fitting it, and the detector looks for the person in the
    /// background (its skeleton replaces the template when it arrives). A failure leaves the
    /// current session untouched.
    pub fn open_photo(&mut self, path: &Path) -> Result<()> {
        let image = crate::imaging::open_photo(path)?;
        let (w, h) = (image.width() as f32, image.height() as f32);
        let sidecar = sidecar_pose(path);
        let (source, origin, mode) = match &sidecar {
            Some(p) => match pose::read_openpose(p, 0) {
                Ok(pose) if pose.num_present() > 0 => (
                    Rig::from_pose(&pose, (w, h)),
                    format!("read from {}", file_name(p)),
                    Mode::PoseTarget,
                ),
                Ok(_) | Err(_) => (
                    Rig::template(w, h),
                    format!("template ({} was unusable)", file_name(p)),
                    Mode::FitSource,
                ),
            },
            None => (
                Rig::template(w, h),
                "template (no pose file beside the photo)".into(),
                Mode::FitSource,
            ),
        };
        self.set_photo(image, Some(path.to_path_buf()));
        // Keyframes are poses of one person in one photo: a new photo starts a new clip.
        self.doc = Doc {
            target: source.clone(),
            source,
            timeline: Timeline::default(),
            order: LimbOrder::default(),
        };
        self.history.clear();
        self.settings.mode = mode;
        self.source_origin = origin;
        self.say(format!("Opened {}", file_name(path)));
        if mode == Mode::FitSource {
            self.start_detection(false);
        }
        Ok(())
    }

    fn set_photo(&mut self, image: image::RgbImage, path: Option<PathBuf>) {
        let id = self.photo.as_ref().map_or(1, |p| p.id + 1);
        let (w, h) = image.dimensions();
        let s = (PREVIEW_MAX_SIDE as f32 / w.max(h) as f32).min(1.0);
        let small = if s < 1.0 {
            let (sw, sh) = (
                ((w as f32 * s).round() as u32).max(1),
                ((h as f32 * s).round() as u32).max(1),
            );
            image::imageops::resize(&image, sw, sh, image::imageops::FilterType::Triangle)
        } else {
            image.clone()
        };
        let sx = small.width() as f32 / w as f32;
        self.preview_photo = Some((
            Arc::new(Photo {
                id,
                path: None,
                image: small,
            }),
            sx,
        ));
        self.photo = Some(Arc::new(Photo { id, path, image }));
        self.photo_version += 1;
        self.result = None;
        self.preview = None;
        self.probe = None;
        self.sent = None;
        self.preview_sent = None;
        if let Some(l) = &mut self.layers {
            l.clear();
        }
        self.timeline = TimelineState::default();
        self.detect_sent = None;
        self.pending_detection = None;
        self.detection_step = None;
        self.detect_status = self.idle_detect_status();
        self.refit = true;
        self.result_version += 1;
        self.preview_version += 1;
    }

    /// Opens a session file.
    pub fn open_project(&mut self, path: &Path) -> Result<()> {
        let p = Project::load(path)?;
        self.apply_project(p)
            .with_context(|| format!("opening the project {}", path.display()))?;
        self.say(format!("Opened project {}", file_name(path)));
        Ok(())
    }

    fn apply_project(&mut self, p: Project) -> Result<()> {
        let photo = p
            .photo
            .as_ref()
            .context("the project names no photo")?
            .clone();
        let image = crate::imaging::open_photo(&photo)?;
        self.set_photo(image, Some(photo));
        self.doc = Doc {
            source: p.source,
            target: p.target,
            timeline: p.timeline,
            order: p.order,
        };
        self.history.clear();
        self.settings = p.settings;
        self.model_spec = p.model;
        self.source_origin = "from the project".into();
        Ok(())
    }

    /// The session as a project.
    pub fn project(&self) -> Project {
        Project {
            version: PROJECT_VERSION,
            photo: self.photo.as_ref().and_then(|p| p.path.clone()),
            source: self.doc.source.clone(),
            target: self.doc.target.clone(),
            timeline: self.doc.timeline.clone(),
            order: self.doc.order,
            model: self.model_spec.clone(),
            settings: self.settings.clone(),
        }
    }

    pub fn save_project(&mut self, path: &Path) -> Result<()> {
        self.project().save(path)?;
        self.say(format!("Saved project {}", path.display()));
        Ok(())
    }

    /// Restores the autosave offered at start-up.
    pub fn accept_recovery(&mut self) {
        if let Some(p) = self.recovery.take() {
            if let Err(e) = self.apply_project(p) {
                self.report_error(e.context("restoring the autosaved session"));
            } else {
                self.say("Restored the autosaved session".into());
            }
        }
    }

    pub fn discard_recovery(&mut self) {
        self.recovery = None;
        self.remove_autosave();
    }

    /// Reads an OpenPose file into the source or target skeleton (undoable).
    pub fn load_pose(&mut self, which: Which, path: &Path) -> Result<()> {
        let pose = pose::read_openpose(path, 0)
            .with_context(|| format!("reading the pose {}", path.display()))?;
        if pose.num_present() == 0 {
            anyhow::bail!("{}: the pose has no joints", path.display());
        }
        let wh = self.photo_wh().unwrap_or((1.0, 1.0));
        let skeleton = Rig::from_pose(&pose, wh);
        self.edit(|doc| match which {
            Which::Source => doc.source = skeleton,
            Which::Target => doc.target = skeleton,
        });
        self.say(format!("Loaded {} pose {}", which.name(), path.display()));
        Ok(())
    }

    /// Writes the source or target skeleton as OpenPose JSON (photo pixels), atomically.
    pub fn save_pose(&mut self, which: Which, path: &Path) -> Result<()> {
        let canvas = self
            .photo
            .as_ref()
            .map(|p| (p.image.width(), p.image.height()));
        pose::write_openpose(path, &self.skeleton(which).to_pose(), canvas)
            .with_context(|| format!("saving the pose {}", path.display()))?;
        self.say(format!("Saved {} pose {}", which.name(), path.display()));
        Ok(())
    }

    /// Writes the result (at the model's frame size) and, with `overlays`, its flow and mask
    /// images beside it. Returns the files written.
    pub fn export_result(&mut self, path: &Path, overlays: bool) -> Result<Vec<PathBuf>> {
        let result = self
            .result
            .as_ref()
            .context("there is no result to export yet")?;
        let files = super::export::export(result, path, overlays)?;
        self.say(format!("Exported {}", path.display()));
        Ok(files)
    }

    /// Writes the re-posed photo at the photo's full resolution (its own matte and plate,
    /// the composited puppet edit), on a thread of its own: a megapixel photo takes a second
    /// or two, and the UI goes on meanwhile. The status bar says when it is written.
    pub fn export_photo(&mut self, path: &Path) -> Result<()> {
        let photo = Arc::clone(self.photo.as_ref().context("no photo is open")?);
        anyhow::ensure!(
            self.export_job.is_none(),
            "an export is still being written"
        );
        let (source, target) = (self.doc.source.to_pose(), self.doc.target.to_pose());
        let cfg = PuppetConfig {
            order: self.doc.order,
            ..Default::default()
        };
        let path = path.to_path_buf();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("marionette-export".into())
            .spawn(move || {
                let run = || -> Result<PathBuf> {
                    let layers = super::layers::build_full(&photo.image, &source)
                        .context("building the photo's matte and plate")?;
                    let out = crate::composite::composite_puppet(&layers, &source, &target, &cfg)?;
                    crate::imaging::save_image_atomic(&out.image, &path)?;
                    Ok(path)
                };
                let _ = tx.send(run().map_err(|e| format!("{e:#}")));
            })
            .context("starting the export")?;
        self.export_job = Some(rx);
        self.say("Exporting the re-posed photo at full resolution…".into());
        Ok(())
    }

    /// Whether a full-resolution export is being written.
    pub fn exporting(&self) -> bool {
        self.export_job.is_some()
    }

    fn collect_export(&mut self) {
        let Some(rx) = &self.export_job else { return };
        match rx.try_recv() {
            Ok(Ok(path)) => {
                self.export_job = None;
                self.say(format!("Exported {}", path.display()));
            }
            Ok(Err(e)) => {
                self.export_job = None;
                self.report_error(anyhow::anyhow!("exporting the re-posed photo: {e}"));
            }
            Err(std::sync::mpsc::TryRecvError::Empty) => {}
            Err(std::sync::mpsc::TryRecvError::Disconnected) => {
                self.export_job = None;
                self.report_error(anyhow::anyhow!("the export stopped without a result"));
            }
        }
    }

    // ----- editing -------------------------------------------------------------------------

    pub fn skeleton(&self, which: Which) -> &Rig {
        match which {
            Which::Source => &self.doc.source,
            Which::Target => &self.doc.target,
        }
    }

    /// The skeleton the mouse edits in the current mode.
    pub fn editable(&self) -> Which {
        match self.settings.mode {
            Mode::FitSource => Which::Source,
            Mode::PoseTarget => Which::Target,
        }
    }

    /// Applies a one-shot edit with an undo record.
    pub fn edit(&mut self, f: impl FnOnce(&mut Doc)) {
        let before = self.doc.clone();
        f(&mut self.doc);
        self.follow_source();
        if self.doc != before {
            self.history.record(before);
        }
    }

    /// While fitting, the target is the source (the model then reconstructs the photo, which
    /// shows how good the fit is).
    fn follow_source(&mut self) {
        if self.settings.mode == Mode::FitSource {
            self.doc.target = self.doc.source.clone();
        }
    }

    /// Opens an edit made of many small changes (a dragged number): one undo record before
    /// all of them, made directly on `doc`; [`Editor::end_edit`] drops the record again if
    /// nothing changed.
    pub fn begin_edit(&mut self) {
        self.history.record(self.doc.clone());
    }

    pub fn end_edit(&mut self) {
        self.history.discard_if_unchanged(&self.doc);
    }

    pub fn begin_drag(&mut self, which: Which, joint: usize, rotate: bool) {
        self.begin_edit();
        self.selected = Some(joint);
        self.drag = Some(Drag {
            which,
            joint,
            rotate,
        });
    }

    /// Moves the dragged joint toward `to` (photo pixels).
    pub fn drag_to(&mut self, to: Point) {
        let Some(d) = self.drag else { return };
        let lock = self.settings.lock_lengths;
        let s = match d.which {
            Which::Source => &mut self.doc.source,
            Which::Target => &mut self.doc.target,
        };
        if d.rotate {
            s.rotate_limb(d.joint, to);
        } else {
            s.drag(d.joint, to, lock);
        }
        self.follow_source();
    }

    pub fn end_drag(&mut self) {
        if self.drag.take().is_some() {
            self.end_edit();
        }
    }

    /// Selects a joint (a click on it): its limb gets the depth controls.
    pub fn select_joint(&mut self, joint: usize) {
        self.selected = (joint < pose::NUM_JOINTS).then_some(joint);
    }

    /// The limb of the selected joint; `None` for the neck and face or when nothing is.
    pub fn selected_limb(&self) -> Option<Limb> {
        self.selected.and_then(Limb::of_joint)
    }

    /// Puts `limb` in front of or behind the body in the target pose (`None`: the automatic
    /// choice from the skeleton); one undo step. Stops playback: the user takes over.
    pub fn set_limb_layer(&mut self, limb: Limb, layer: Option<Layer>) {
        if self.doc.order.get(limb) == layer {
            return;
        }
        self.pause();
        self.edit(|d| d.order.set(limb, layer));
        self.say(format!(
            "{}: {}",
            capitalized(limb.name()),
            layer_name(layer)
        ));
    }

    /// The `D` key: the selected limb goes automatic → front → behind → automatic.
    pub fn cycle_selected_layer(&mut self) {
        let Some(limb) = self.selected_limb() else {
            self.say("Click a joint of an arm or leg to set its depth order".into());
            return;
        };
        let next = match self.doc.order.get(limb) {
            None => Some(Layer::Front),
            Some(Layer::Front) => Some(Layer::Behind),
            Some(Layer::Behind) => None,
        };
        self.set_limb_layer(limb, next);
    }

    pub fn toggle_joint(&mut self, which: Which, joint: usize) {
        self.edit(|doc| {
            let s = match which {
                Which::Source => &mut doc.source,
                Which::Target => &mut doc.target,
            };
            s.visible[joint] = !s.visible[joint];
        });
    }

    pub fn mirror(&mut self) {
        let which = self.editable();
        self.edit(|doc| match which {
            Which::Source => doc.source = doc.source.mirrored(),
            Which::Target => {
                doc.target = doc.target.mirrored();
                // The arm put behind now does what the other arm did: so does its setting.
                doc.order = doc.order.mirrored();
            }
        });
    }

    /// The target back to the source pose, every limb's depth back to automatic: a fresh start.
    pub fn reset_target(&mut self) {
        self.edit(|doc| {
            doc.target = doc.source.clone();
            doc.order = LimbOrder::default();
        });
    }

    /// Switches between fitting the source and posing the target (not an edit of the poses).
    pub fn set_mode(&mut self, mode: Mode) {
        let was = self.settings.mode;
        self.settings.mode = mode;
        let fitted = " (fitted by hand)";
        if was == Mode::FitSource
            && mode == Mode::PoseTarget
            && !self.source_origin.ends_with(fitted)
        {
            self.source_origin.push_str(fitted);
        }
    }

    pub fn undo(&mut self) {
        self.end_drag();
        if let Some(prev) = self.history.undo(self.doc.clone()) {
            self.doc = prev;
            self.follow_detection_step();
        }
    }

    pub fn redo(&mut self) {
        self.end_drag();
        if let Some(next) = self.history.redo(self.doc.clone()) {
            self.doc = next;
            self.follow_detection_step();
        }
    }

    /// After an undo or redo that lands on either side of the applied detection: the mode and
    /// the source label that go with that side.
    fn follow_detection_step(&mut self) {
        let Some(step) = &self.detection_step else {
            return;
        };
        if self.doc == step.before {
            self.settings.mode = Mode::FitSource;
            self.source_origin = step.origin_before.clone();
        } else if self.doc == step.after {
            self.settings.mode = Mode::PoseTarget;
            self.source_origin = step.origin_after.clone();
        }
    }

    pub fn can_undo(&self) -> bool {
        self.history.can_undo()
    }

    pub fn can_redo(&self) -> bool {
        self.history.can_redo()
    }

    /// Probes the result at a photo point (click on the result).
    pub fn probe_at(&mut self, p: Point) {
        self.probe = self.result.as_ref().and_then(|r| probe::probe(r, p));
        self.probe_version += 1;
        if self.probe.is_none() {
            self.say(
                "Click inside the model's crop (the framed area) to see where it sampled".into(),
            );
        }
    }

    pub fn choose_model(&mut self, choice: ModelChoice) {
        self.model_spec.choice = choice;
    }

    pub fn choose_device(&mut self, device: &str) {
        self.model_spec.device = device.to_string();
    }

    // ----- detection -----------------------------------------------------------------------

    /// "Detect person": looks for the person in the current photo again (after opening a
    /// project, or to redo a fit). Retries loading the models if that failed before. The
    /// answer replaces both skeletons as one undoable edit.
    pub fn detect_person(&mut self) {
        if self.photo.is_none() {
            self.say("Open a photo first".into());
            return;
        }
        if self.detect_worker.is_none() {
            self.say("Pose detection is turned off in this session".into());
            return;
        }
        self.pending_detection = None;
        self.start_detection(true);
    }

    /// Whether a detection for the current photo is running (status bar spinner).
    pub fn detecting(&self) -> bool {
        self.detect_sent.is_some()
    }

    /// Whether "Detect person" can be offered: detection is on, a photo is open and no
    /// detection is running.
    pub fn can_detect(&self) -> bool {
        self.detect_worker.is_some() && self.photo.is_some() && !self.detecting()
    }

    /// Applies the detection that was held back because the user had already moved joints.
    pub fn use_pending_detection(&mut self) {
        if let Some(d) = self.pending_detection.take() {
            self.apply_detected(d);
        }
    }

    pub fn dismiss_pending_detection(&mut self) {
        self.pending_detection = None;
    }

    fn idle_detect_status(&self) -> DetectStatus {
        match self.detect_worker {
            Some(_) => DetectStatus::Idle,
            None => DetectStatus::Off,
        }
    }

    /// Sends the current photo to the detector. Without `reload`, a detector already known not
    /// to load is not asked again: the status just says why.
    fn start_detection(&mut self, reload: bool) {
        let (Some(worker), Some(photo)) = (&self.detect_worker, &self.photo) else {
            return;
        };
        if !reload {
            if let Some(u) = &self.detector_unavailable {
                self.detect_status = DetectStatus::Unavailable(u.clone());
                return;
            }
        }
        self.next_detect_id += 1;
        let sent = SentDetection {
            id: self.next_detect_id,
            photo_id: photo.id,
            doc: self.doc.clone(),
        };
        worker.submit(DetectRequest {
            id: sent.id,
            photo_id: sent.photo_id,
            photo: Arc::clone(photo),
            reload,
        });
        self.detect_sent = Some(sent);
        self.detect_status = DetectStatus::Running;
    }

    fn collect_detections(&mut self) {
        while let Some(resp) = self.detect_worker.as_ref().and_then(|w| w.try_recv()) {
            self.on_detection(resp);
        }
    }

    /// Takes the detector's answer, unless it is stale: for a photo no longer open, or for a
    /// request that a newer one replaced.
    fn on_detection(&mut self, resp: DetectResponse) {
        let current_photo = self.photo.as_ref().map(|p| p.id);
        let awaited = self.detect_sent.as_ref().is_some_and(|s| {
            s.id == resp.id && s.photo_id == resp.photo_id && current_photo == Some(resp.photo_id)
        });
        if !awaited {
            return;
        }
        let Some(sent) = self.detect_sent.take() else {
            return;
        };
        match resp.outcome {
            DetectOutcome::Found(d) if self.doc == sent.doc => self.apply_detected(*d),
            DetectOutcome::Found(d) => self.hold_detection(*d),
            DetectOutcome::NoPerson => {
                self.detect_status = DetectStatus::NoPerson;
                self.say(detection::NO_PERSON.into());
            }
            DetectOutcome::Unavailable(u) => {
                self.detector_unavailable = Some(u.clone());
                self.warn(unavailable_message(&u));
                self.detect_status = DetectStatus::Unavailable(u);
            }
            DetectOutcome::Failed(message) => {
                self.warn(format!("Pose detection failed: {message}"));
                self.detect_status = DetectStatus::Failed(message);
            }
        }
    }

    /// Replaces both skeletons with the detected one as one undoable edit, and starts posing.
    /// Joints the detector was not sure of stay hidden, placed where the template fitted to
    /// the others puts them, so the user can show and move them.
    fn apply_detected(&mut self, d: Detected) {
        let Some(wh) = self.photo_wh() else { return };
        let skeleton = Rig::from_pose(&d.pose, wh);
        let before = self.doc.clone();
        self.doc = Doc {
            target: skeleton.clone(),
            source: skeleton,
            timeline: before.timeline.clone(),
            order: before.order,
        };
        if self.doc != before {
            self.history.record(before.clone());
        }
        self.detection_step = Some(DetectionStep {
            before,
            after: self.doc.clone(),
            origin_before: self.source_origin.clone(),
            origin_after: d.origin(),
        });
        self.settings.mode = Mode::PoseTarget;
        self.source_origin = d.origin();
        self.detect_status = DetectStatus::Found(d.origin());
        self.pending_detection = None;
        self.say(found_message(&d, self.settings.show_hidden));
    }

    /// A detection that arrived after the user moved joints: their work stays, the detection is
    /// offered in the side panel.
    fn hold_detection(&mut self, d: Detected) {
        self.detect_status = DetectStatus::Found(d.origin());
        self.say(
            "The detector found the person, but you had already moved joints: your skeleton \
             is kept (\"Use detected skeleton\" in the side panel replaces it)"
                .into(),
        );
        self.pending_detection = Some(d);
    }

    // ----- per frame -----------------------------------------------------------------------

    /// Sends requests for changed poses and collects finished results. Never blocks.
    pub fn tick(&mut self) {
        self.tick_timeline(Instant::now());
        self.send_if_changed();
        self.collect();
        self.collect_detections();
        self.collect_anim_export();
        self.autosave_if_due();
    }

    fn send_if_changed(&mut self) {
        let Some(photo) = &self.photo else { return };
        let (source, target) = (self.doc.source.to_pose(), self.doc.target.to_pose());
        let now = (photo.id, source, target, self.model_spec.clone());
        if self.sent.as_ref() != Some(&now) {
            self.next_id += 1;
            self.worker.submit(RenderRequest {
                id: self.next_id,
                model: now.3.clone(),
                photo: Arc::clone(photo),
                source: now.1.clone(),
                target: now.2.clone(),
            });
            self.latest_request = self.next_id;
        }
        // The preview follows every edit too, and once more when the layers arrive; a frame
        // of the clip computed before is shown at once instead.
        if let Some((small, s)) = self.preview_photo.clone() {
            let (src, tgt) = (now.1.scaled(s, s), now.2.scaled(s, s));
            let layers = self.layers.as_mut().and_then(|l| l.get(&small, &src));
            let key = (small.id, src, tgt, layers.is_some(), self.doc.order);
            if self.preview_sent.as_ref() != Some(&key) && !self.show_cached_frame(&key) {
                self.preview_worker.submit(PreviewRequest {
                    id: self.latest_request,
                    photo: small,
                    source: key.1.clone(),
                    target: key.2.clone(),
                    order: key.4,
                    layers,
                });
                self.preview_asked(&key);
            }
            self.preview_sent = Some(key);
        }
        self.sent = Some(now);
    }

    fn collect(&mut self) {
        while let Some(resp) = self.worker.try_recv() {
            match resp {
                Ok(r) => {
                    if self.photo.as_ref().is_some_and(|p| p.id == r.photo_id) {
                        self.good_spec = Some(self.model_spec.clone());
                        let known = self.model_info.as_ref().map(|m| &m.fallback);
                        if let Some(why) = &r.model.fallback {
                            if known != Some(&r.model.fallback) {
                                self.say(format!("GPU unavailable: {why}"));
                            }
                        }
                        self.model_info = Some(r.model.clone());
                        // Keep the probe on the same point as the result changes.
                        let point = self.probe.as_ref().map(|p| p.point);
                        self.result = Some(r);
                        self.result_version += 1;
                        if let Some(p) = point {
                            self.probe = self.result.as_ref().and_then(|r| probe::probe(r, p));
                            self.probe_version += 1;
                        }
                    }
                }
                Err(f) => {
                    self.model_info = f.model.clone().or(self.model_info.take());
                    // A checkpoint that failed to load: go back to the one that worked.
                    if let Some(good) = self.good_spec.clone() {
                        if good != self.model_spec {
                            self.model_spec = good;
                        }
                    }
                    self.report_error(anyhow::anyhow!(f.message));
                }
            }
        }
        let photo_id = self.preview_photo.as_ref().map(|(p, _)| p.id);
        if let Some(l) = &mut self.layers {
            if l.collect(photo_id) {
                // New layers: the next tick sends the preview again, composited.
                self.preview_sent = None;
            }
        }
        self.collect_export();
        while let Some(p) = self.preview_worker.try_recv() {
            if self.photo.as_ref().is_some_and(|ph| ph.id == p.photo_id) {
                self.timeline.frames.offer(&p);
                // A frame shown from the timeline's cache is newer than what the worker was
                // still finishing.
                if self
                    .preview
                    .as_ref()
                    .is_none_or(|shown| p.request >= shown.request)
                {
                    self.preview = Some(p);
                    self.preview_version += 1;
                }
            }
        }
    }

    /// Whether the model is working on (or has queued) a request.
    pub fn busy(&self) -> bool {
        self.worker.is_busy()
    }

    /// Whether the result on screen belongs to the current poses.
    pub fn result_is_current(&self) -> bool {
        self.result
            .as_ref()
            .is_some_and(|r| r.request == self.latest_request)
    }

    /// Whether the preview on screen belongs to the current poses (and nothing newer is being
    /// composited).
    pub fn preview_is_current(&self) -> bool {
        self.preview
            .as_ref()
            .is_some_and(|p| p.request == self.latest_request)
            && !self.preview_worker.is_busy()
    }

    /// Requests dropped unrun because newer edits replaced them.
    pub fn dropped_requests(&self) -> u64 {
        self.worker.dropped()
    }

    fn autosave_if_due(&mut self) {
        let Some(dir) = &self.state_dir else { return };
        if self.photo.is_none() || self.recovery.is_some() {
            return; // nothing to save, or the user has not yet answered the recovery offer
        }
        if self.last_autosave.elapsed() < AUTOSAVE_EVERY {
            return;
        }
        let now = (self.doc.clone(), self.settings.clone());
        if self.autosaved.as_ref() == Some(&now) {
            return;
        }
        self.last_autosave = Instant::now();
        let path = project::autosave_path(dir);
        let saved = std::fs::create_dir_all(dir)
            .context("creating the state folder")
            .and_then(|_| self.project().save(&path));
        match saved {
            Ok(()) => self.autosaved = Some(now),
            Err(e) => tracing::warn!("autosave failed: {e:#}"),
        }
    }

    /// Saves now if anything changed (used by tests and before risky operations).
    pub fn autosave_now(&mut self) {
        self.last_autosave = Instant::now() - AUTOSAVE_EVERY;
        self.autosave_if_due();
    }

    /// A clean exit: the autosave is no longer needed.
    pub fn remove_autosave(&self) {
        if let Some(dir) = &self.state_dir {
            let _ = std::fs::remove_file(project::autosave_path(dir));
        }
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

    /// The egui context's repaint as a `Send` closure.
    pub fn repaint_fn(ctx: &egui::Context) -> impl Fn() + Send + Sync + Clone + 'static {
        let ctx = ctx.clone();
        move || ctx.request_repaint()
    }
}

impl Which {
    pub fn name(self) -> &'static str {
        match self {
            Which::Source => "source",
            Which::Target => "target",
        }
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

/// A pose file beside the photo, by naming convention.
pub fn sidecar_pose(photo: &Path) -> Option<PathBuf> {
    let stem = photo.file_stem()?.to_string_lossy().into_owned();
    ["_source.json", "_pose.json", ".json"]
        .iter()
        .map(|suffix| photo.with_file_name(format!("{stem}{suffix}")))
        .find(|p| p.is_file())
}

/// The status line after a detection is applied.
fn found_message(d: &Detected, show_hidden: bool) -> String {
    let present = d.pose.num_present();
    let hidden = pose::NUM_JOINTS - present;
    let hidden = match (hidden, show_hidden) {
        (0, _) => String::new(),
        (n, true) => format!(", {n} hidden (drawn hollow: right-click one to show it)"),
        (n, false) => format!(", {n} hidden (tick \"Show hidden joints\" to place them)"),
    };
    format!(
        "Found the person in {:.0} ms: {present} joints placed{hidden}. Ctrl+Z undoes it.",
        d.millis
    )
}

/// The status line when the detector cannot load.
fn unavailable_message(u: &Unavailable) -> String {
    if u.missing {
        format!(
            "Pose detection is not installed: run `{}` once, then Edit > Detect person",
            crate::detect::models::FETCH_HINT
        )
    } else {
        format!("Pose detection could not load: {}", u.message)
    }
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

/// The bundled samples folder (beside the shipped models).
pub fn samples_dir() -> Option<PathBuf> {
    crate::model::shipped::asset_dirs("samples")
        .into_iter()
        .find(|d| d.is_dir())
}

/// The sample the editor opens on when started without a photo or project.
pub const FIRST_SAMPLE: &str = "cameraman.png";

/// The bundled photo the editor opens on when started without one (`None` when the samples
/// folder is not beside the binary).
pub fn first_sample() -> Option<PathBuf> {
    samples_dir()
        .map(|d| d.join(FIRST_SAMPLE))
        .filter(|p| p.is_file())
}

/// The bundled samples: (label, photo path).
pub fn samples() -> Vec<(String, PathBuf)> {
    let Some(dir) = samples_dir() else {
        return vec![];
    };
    [
        ("Cameraman (a real photo, three-quarter body)", FIRST_SAMPLE),
        (
            "Synthetic person (what the bundled model knows)",
            "synth_person.png",
        ),
        ("Astronaut (a real photo, half body)", "astronaut.png"),
    ]
    .into_iter()
    .map(|(label, f)| (label.to_string(), dir.join(f)))
    .filter(|(_, p)| p.is_file())
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pose::Joint;
    use std::time::Duration;

    /// An editor with detection on whose worker answers "no person" at once; the tests hand
    /// the editor the answers they need through `on_detection`, so no model files are needed.
    fn editor() -> Editor {
        editor_with_job(|req| DetectResponse {
            id: req.id,
            photo_id: req.photo_id,
            outcome: DetectOutcome::NoPerson,
        })
    }

    fn editor_with_job(
        job: impl FnMut(DetectRequest) -> DetectResponse + Send + 'static,
    ) -> Editor {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        let options = EditorOptions {
            composite: false,
            ..Default::default()
        };
        Editor::with_detect_job(options, || {}, Arc::new(pool), job)
    }

    /// A `w`x`h` photo with no pose file, in `dir`.
    fn photo(dir: &Path, name: &str, w: u32, h: u32) -> PathBuf {
        let path = dir.join(name);
        image::RgbImage::new(w, h).save(&path).unwrap();
        path
    }

    /// A person found a little left of the template, with the ears and the left ankle not
    /// confident: 15 of 18 joints.
    fn detected(w: f32, h: f32) -> Detected {
        let t = Rig::template(w, h);
        let mut pose = Pose::missing();
        for j in 0..pose::NUM_JOINTS {
            let [x, y] = t.points[j];
            pose.set(j, Some(Joint::new(x - 12.0, y + 5.0, 0.9)));
        }
        for j in [16, 17, 13] {
            pose.set(j, None);
        }
        Detected {
            pose,
            score: 0.61,
            millis: 80.0,
        }
    }

    /// The answer to the request in flight.
    fn answer(e: &Editor, outcome: DetectOutcome) -> DetectResponse {
        let sent = e.detect_sent.as_ref().expect("a detection in flight");
        DetectResponse {
            id: sent.id,
            photo_id: sent.photo_id,
            outcome,
        }
    }

    fn notice(e: &Editor) -> String {
        e.notice
            .as_ref()
            .map(|n| n.text.clone())
            .unwrap_or_default()
    }

    #[test]
    fn detection_replaces_the_template_as_one_undo_step() {
        let dir = tempfile::tempdir().unwrap();
        let mut e = editor();
        e.open_photo(&photo(dir.path(), "a.png", 200, 300)).unwrap();
        let template = Rig::template(200.0, 300.0);
        assert_eq!(e.doc.source, template);
        assert_eq!(e.settings.mode, Mode::FitSource);
        assert!(e.detecting());
        assert_eq!(e.detect_status, DetectStatus::Running);

        let d = detected(200.0, 300.0);
        e.on_detection(answer(&e, DetectOutcome::Found(Box::new(d.clone()))));
        let expect = Rig::from_pose(&d.pose, (200.0, 300.0));
        assert_eq!(e.doc.source, expect);
        assert_eq!(e.doc.target, expect);
        assert_eq!(e.settings.mode, Mode::PoseTarget);
        assert!(!e.detecting());
        assert_eq!(e.source_origin, "detected (15 of 18 joints, score 0.61)");
        // Joints the detector was not sure of stay, hidden, for the user to show and place.
        assert!(!e.doc.source.visible[16] && !e.doc.source.visible[13]);
        assert!(e.doc.source.visible[0]);
        assert!(notice(&e).contains("Found the person"), "{}", notice(&e));
        assert!(notice(&e).contains("3 hidden"), "{}", notice(&e));

        let template_origin = "template (no pose file beside the photo)";
        e.undo();
        assert_eq!(e.doc.source, template);
        assert_eq!(e.doc.target, template);
        assert!(!e.can_undo(), "the detection was one step");
        // Back to fitting the template, labelled as such.
        assert_eq!(e.settings.mode, Mode::FitSource);
        assert_eq!(e.source_origin, template_origin);
        e.redo();
        assert_eq!(e.doc.source, expect);
        assert_eq!(e.settings.mode, Mode::PoseTarget);
        assert_eq!(e.source_origin, "detected (15 of 18 joints, score 0.61)");
    }

    #[test]
    fn stale_detections_are_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let mut e = editor();
        e.open_photo(&photo(dir.path(), "a.png", 200, 300)).unwrap();
        let for_a = answer(&e, DetectOutcome::Found(Box::new(detected(200.0, 300.0))));
        e.open_photo(&photo(dir.path(), "b.png", 300, 200)).unwrap();
        let template_b = Rig::template(300.0, 200.0);

        // Photo a's answer arrives after b was opened: ignored, b's detection still awaited.
        e.on_detection(for_a.clone());
        assert_eq!(e.doc.source, template_b);
        assert_eq!(e.settings.mode, Mode::FitSource);
        assert!(e.detecting());
        // Even with b's photo id, an answer to an older request is not the one awaited.
        e.on_detection(DetectResponse {
            photo_id: e.photo.as_ref().unwrap().id,
            ..for_a
        });
        assert_eq!(e.doc.source, template_b);
        assert!(e.detecting());

        // "Detect person" twice: only the second answer counts.
        e.detect_person();
        let first = answer(&e, DetectOutcome::NoPerson);
        e.detect_person();
        e.on_detection(first);
        assert!(e.detecting());
        assert_eq!(e.detect_status, DetectStatus::Running);

        let d = detected(300.0, 200.0);
        e.on_detection(answer(&e, DetectOutcome::Found(Box::new(d.clone()))));
        assert_eq!(e.doc.source, Rig::from_pose(&d.pose, (300.0, 200.0)));
        assert!(!e.detecting());
    }

    #[test]
    fn detection_after_a_hand_edit_is_offered_not_applied() {
        let dir = tempfile::tempdir().unwrap();
        let mut e = editor();
        e.open_photo(&photo(dir.path(), "a.png", 200, 300)).unwrap();
        let d = detected(200.0, 300.0);
        let reply = answer(&e, DetectOutcome::Found(Box::new(d.clone())));
        // The user drags a wrist while the detector runs.
        e.begin_drag(Which::Source, 4, false);
        e.drag_to([20.0, 30.0]);
        e.end_drag();
        let edited = e.doc.clone();
        e.on_detection(reply);
        assert_eq!(e.doc, edited, "the user's work is not replaced");
        assert_eq!(e.settings.mode, Mode::FitSource);
        assert_eq!(e.pending_detection.as_ref(), Some(&d));
        assert!(
            notice(&e).contains("already moved joints"),
            "{}",
            notice(&e)
        );

        // Taken up from the side panel: applied as one more undo step.
        e.use_pending_detection();
        assert_eq!(e.doc.source, Rig::from_pose(&d.pose, (200.0, 300.0)));
        assert_eq!(e.settings.mode, Mode::PoseTarget);
        assert!(e.pending_detection.is_none());
        e.undo();
        assert_eq!(e.doc, edited);
        e.undo();
        assert_eq!(e.doc.source, Rig::template(200.0, 300.0));
    }

    #[test]
    fn no_person_keeps_the_template_and_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let mut e = editor();
        e.open_photo(&photo(dir.path(), "a.png", 200, 300)).unwrap();
        let before = e.doc.clone();
        e.on_detection(answer(&e, DetectOutcome::NoPerson));
        assert_eq!(e.doc, before);
        assert_eq!(e.settings.mode, Mode::FitSource);
        assert_eq!(e.detect_status, DetectStatus::NoPerson);
        assert_eq!(
            notice(&e),
            "No person found by the detector; drag the template's joints onto the person"
        );
        assert!(!e.can_undo());
        assert!(!e.detecting());
    }

    #[test]
    fn a_missing_detector_is_looked_for_once_until_asked() {
        let dir = tempfile::tempdir().unwrap();
        let mut e = editor();
        e.open_photo(&photo(dir.path(), "a.png", 200, 300)).unwrap();
        let missing = Unavailable {
            missing: true,
            message: "pose detection models not found".into(),
        };
        e.on_detection(answer(&e, DetectOutcome::Unavailable(missing.clone())));
        assert_eq!(e.detect_status, DetectStatus::Unavailable(missing.clone()));
        let n = e.notice.clone().unwrap();
        assert!(
            n.error && n.text.contains("marionette fetch-models"),
            "{n:?}"
        );
        assert!(
            e.error_dialog.is_none(),
            "no dialog for a missing optional part"
        );
        assert_eq!(e.doc.source, Rig::template(200.0, 300.0));

        // The next photo does not ask again, but says why nothing happens.
        e.open_photo(&photo(dir.path(), "b.png", 200, 300)).unwrap();
        assert!(!e.detecting());
        assert_eq!(e.detect_status, DetectStatus::Unavailable(missing));
        // Asking explicitly tries again (the models may have been fetched meanwhile).
        e.detect_person();
        assert!(e.detecting());
    }

    #[test]
    fn a_photo_with_a_pose_file_or_detection_off_starts_no_detection() {
        let dir = tempfile::tempdir().unwrap();
        let path = photo(dir.path(), "posed.png", 200, 300);
        let pose = Rig::template(200.0, 300.0).to_pose();
        pose::write_openpose(dir.path().join("posed_pose.json"), &pose, Some((200, 300))).unwrap();
        let mut e = editor();
        e.open_photo(&path).unwrap();
        assert_eq!(e.settings.mode, Mode::PoseTarget);
        assert!(!e.detecting());
        assert_eq!(e.detect_status, DetectStatus::Idle);

        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        let options = EditorOptions {
            detect: false,
            ..Default::default()
        };
        let mut off = Editor::with_detect_job(
            options,
            || {},
            Arc::new(pool),
            |_| unreachable!("detection is off"),
        );
        off.open_photo(&photo(dir.path(), "plain.png", 200, 300))
            .unwrap();
        assert!(!off.detecting());
        assert_eq!(off.detect_status, DetectStatus::Off);
        off.detect_person();
        assert!(!off.detecting());
        assert!(!off.can_detect());
    }

    /// The worker's answer travels back through `tick`'s collection, with the request's ids.
    #[test]
    fn the_workers_answer_is_collected() {
        let dir = tempfile::tempdir().unwrap();
        let mut e = editor_with_job(|req| {
            let (w, h) = req.photo.image.dimensions();
            DetectResponse {
                id: req.id,
                photo_id: req.photo_id,
                outcome: DetectOutcome::Found(Box::new(detected(w as f32, h as f32))),
            }
        });
        e.open_photo(&photo(dir.path(), "a.png", 200, 300)).unwrap();
        let t0 = Instant::now();
        while e.detecting() {
            assert!(t0.elapsed() < Duration::from_secs(10), "no answer came");
            std::thread::sleep(Duration::from_millis(5));
            e.collect_detections();
        }
        assert_eq!(e.settings.mode, Mode::PoseTarget);
        assert!(e.source_origin.starts_with("detected (15 of 18 joints"));
    }

    /// With compositing on and the shipped detector: the cameraman opens with his skeleton from
    /// a pose file, the layers are built off the UI thread, and the preview becomes the whole
    /// photo re-posed over the plate — the photo itself while nothing moved, changed around
    /// the arm (and only there) once the right wrist is raised.
    #[test]
    fn the_preview_is_composited_over_the_photos_layers() {
        let Some(sample) = first_sample() else {
            eprintln!("SKIPPED the_preview_is_composited_over_the_photos_layers: no samples");
            return;
        };
        let detector = match crate::detect::PoseDetector::load_default() {
            Ok(d) => d,
            Err(e) => {
                eprintln!("SKIPPED the_preview_is_composited_over_the_photos_layers: {e:#}");
                return;
            }
        };
        let dir = tempfile::tempdir().unwrap();
        let photo = dir.path().join("cameraman.png");
        std::fs::copy(&sample, &photo).unwrap();
        let img = crate::imaging::open_photo(&photo).unwrap();
        let pose = detector
            .detect(&img)
            .unwrap()
            .expect("the cameraman is found")
            .pose;
        pose::write_openpose(dir.path().join("cameraman_source.json"), &pose, None).unwrap();

        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        let options = EditorOptions {
            detect: false,
            ..Default::default()
        };
        let mut e = Editor::with_detect_job(options, || {}, Arc::new(pool), |_| unreachable!());
        e.open_photo(&photo).unwrap();
        assert_eq!(e.settings.mode, Mode::PoseTarget);
        let wait_composited = |e: &mut Editor, after: u64| {
            let t0 = Instant::now();
            loop {
                e.tick();
                if e.preview
                    .as_ref()
                    .is_some_and(|p| p.composited && p.request >= after)
                {
                    break;
                }
                assert!(
                    t0.elapsed() < Duration::from_secs(120),
                    "no composited preview"
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        };
        wait_composited(&mut e, 0);
        assert!(matches!(
            e.layers.as_ref().unwrap().status,
            crate::app::layers::LayersStatus::Ready { .. }
        ));
        let small = e.preview_photo.as_ref().unwrap().0.image.clone();
        let same = &e.preview.as_ref().unwrap().image;
        let db = crate::eval::metrics::psnr(same, &small).unwrap();
        assert!(
            db >= 40.0,
            "nothing moved, yet the preview differs: {db:.1} dB"
        );

        // Raise the right wrist by a third of the photo: the preview changes near the arm only.
        let (w, h) = (img.width() as f32, img.height() as f32);
        let wrist = e.doc.target.points[pose::skeleton::R_WRIST];
        e.doc.target.points[pose::skeleton::R_WRIST] = [wrist[0], wrist[1] - h / 3.0];
        let before = e.latest_request;
        e.tick();
        assert!(e.latest_request > before);
        let latest = e.latest_request;
        wait_composited(&mut e, latest);
        let moved = &e.preview.as_ref().unwrap().image;
        let s = small.width() as f32 / w;
        let diff: Vec<bool> = moved
            .pixels()
            .zip(small.pixels())
            .map(|(a, b)| a.0.iter().zip(b.0).any(|(x, y)| x.abs_diff(y) > 16))
            .collect();
        let (sw, sh) = (small.width() as usize, small.height() as usize);
        let near_arm = |x: usize, y: usize| {
            let (px, py) = (x as f32 / s, y as f32 / s);
            let shoulder = e.doc.target.points[pose::skeleton::R_SHOULDER];
            // Within the box spanning the arm's old and new places, grown by 20 % of the photo.
            let xs = [
                shoulder[0],
                wrist[0],
                e.doc.target.points[pose::skeleton::R_WRIST][0],
            ];
            let ys = [
                shoulder[1],
                wrist[1],
                e.doc.target.points[pose::skeleton::R_WRIST][1],
            ];
            let m = 0.2 * w.max(h);
            let lo = |v: &[f32; 3]| v.iter().copied().fold(f32::INFINITY, f32::min) - m;
            let hi = |v: &[f32; 3]| v.iter().copied().fold(f32::NEG_INFINITY, f32::max) + m;
            px >= lo(&xs) && px <= hi(&xs) && py >= lo(&ys) && py <= hi(&ys)
        };
        let (mut inside, mut outside) = (0, 0);
        for y in 0..sh {
            for x in 0..sw {
                if diff[y * sw + x] {
                    if near_arm(x, y) {
                        inside += 1;
                    } else {
                        outside += 1;
                    }
                }
            }
        }
        assert!(
            inside > 200,
            "the arm did not move: {inside} pixels changed"
        );
        assert_eq!(outside, 0, "pixels changed away from the arm");

        // The export is the full-resolution composite, written off the UI thread.
        let out = dir.path().join("reposed.png");
        e.export_photo(&out).unwrap();
        assert!(e.exporting());
        assert!(
            e.export_photo(&out).is_err(),
            "a second export while one runs"
        );
        let t0 = Instant::now();
        while e.exporting() {
            e.tick();
            assert!(
                t0.elapsed() < Duration::from_secs(120),
                "the export did not finish"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(notice(&e).starts_with("Exported"), "{}", notice(&e));
        let written = image::open(&out).unwrap().to_rgb8();
        assert_eq!(written.dimensions(), img.dimensions());
        let far = written.get_pixel(img.width() - 5, img.height() - 5);
        assert_eq!(far, img.get_pixel(img.width() - 5, img.height() - 5));
    }

    /// The depth toggle of issue 28 end to end: the right forearm brought across the chest is
    /// drawn over it by default; "Behind" (one undo step) changes the preview there, the
    /// project keeps the choice, and the reopened project previews the same picture.
    #[test]
    fn depth_toggle_changes_the_preview_and_survives_the_project() {
        use crate::pose::skeleton::*;
        let dir = tempfile::tempdir().unwrap();
        // A textured photo: wherever the warp samples differently, the preview differs.
        let path = dir.path().join("texture.png");
        image::RgbImage::from_fn(240, 320, |x, y| {
            image::Rgb([
                (x * 7 % 251) as u8,
                (y * 5 % 241) as u8,
                ((x ^ y) * 3) as u8,
            ])
        })
        .save(&path)
        .unwrap();
        let options = EditorOptions {
            detect: false,
            composite: false,
            ..Default::default()
        };
        let new_editor = || {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(2)
                .build()
                .unwrap();
            Editor::with_detect_job(options.clone(), || {}, Arc::new(pool), |_| unreachable!())
        };
        let preview_of = |e: &mut Editor| -> image::RgbImage {
            let t0 = Instant::now();
            loop {
                e.tick();
                let target = e
                    .preview_photo
                    .as_ref()
                    .map(|(_, s)| e.doc.target.to_pose().scaled(*s, *s));
                if e.preview
                    .as_ref()
                    .is_some_and(|p| p.order == e.doc.order && Some(&p.target) == target.as_ref())
                {
                    return e.preview.as_ref().unwrap().image.clone();
                }
                assert!(t0.elapsed() < Duration::from_secs(60), "no preview came");
                std::thread::sleep(Duration::from_millis(5));
            }
        };

        let mut e = new_editor();
        e.open_photo(&path).unwrap();
        e.set_mode(Mode::PoseTarget);
        // Elbow in at the waist, the wrist across the chest by the left shoulder's x.
        let pt = e.doc.target.points;
        let elbow = [
            (pt[R_SHOULDER][0] + pt[NECK][0]) / 2.0,
            (pt[R_SHOULDER][1] + pt[R_HIP][1]) / 2.0,
        ];
        let reach = pt[R_ELBOW][1] - pt[R_SHOULDER][1];
        let wrist = [pt[L_SHOULDER][0], elbow[1] - 0.2 * reach];
        e.edit(|d| {
            d.target.points[R_ELBOW] = elbow;
            d.target.points[R_WRIST] = wrist;
        });
        let auto = preview_of(&mut e);

        e.select_joint(R_WRIST);
        e.set_limb_layer(Limb::RightArm, Some(Layer::Behind));
        let behind = preview_of(&mut e);
        // Where the forearm crosses the chest the two pictures differ (and only a part of
        // the photo: everything away from the forearm is the same).
        let changed = auto
            .pixels()
            .zip(behind.pixels())
            .filter(|(a, b)| a != b)
            .count();
        let all = (auto.width() * auto.height()) as usize;
        assert!(
            changed > 100 && changed < all / 5,
            "{changed} of {all} pixels changed"
        );
        // One undo step each way.
        e.undo();
        assert!(e.doc.order.is_auto());
        e.redo();
        assert_eq!(e.doc.order.right_arm, Some(Layer::Behind));

        let project = dir.path().join("depth.json");
        e.save_project(&project).unwrap();
        let text = std::fs::read_to_string(&project).unwrap();
        assert!(text.contains("\"right_arm\": \"behind\""), "{text}");
        let mut back = new_editor();
        back.open_project(&project).unwrap();
        assert_eq!(back.doc.order, e.doc.order);
        assert_eq!(preview_of(&mut back), behind);
        // Back to automatic: the first picture again.
        back.set_limb_layer(Limb::RightArm, None);
        assert_eq!(preview_of(&mut back), auto);
    }
}
