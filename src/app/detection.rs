//! Finding the person in a newly opened photo, off the UI thread: the requests and answers of
//! the detection worker, and the job it runs. The BlazePose models are loaded lazily on the
//! worker thread at the first request and kept there, so opening the editor costs nothing
//! when detection is never needed, and the UI never waits for a load or a detection.

use super::doc::Doc;
use super::photo::Photo;
use super::worker::LatestWorker;
use crate::detect::{models, PoseDetector};
use crate::pose::{Pose, NUM_JOINTS};
use std::sync::Arc;
use std::time::Instant;

/// The editor's detection state: the worker, the request in flight, and what detection did for
/// the current photo. The editor's `detecting` actions drive it (`app/editor/detecting.rs`).
pub struct Detection {
    /// Finds the person in a photo; `None` when detection is off for the session.
    pub(super) worker: Option<LatestWorker<DetectRequest, DetectResponse>>,
    pub(super) next_id: u64,
    /// The detection whose answer is awaited; `None` when none is (or it was for a photo that
    /// has since been replaced).
    pub(super) sent: Option<SentDetection>,
    /// What detection did for the current photo (side panel and status bar).
    pub status: DetectStatus,
    /// Why the detector cannot load, once known: opening another photo does not try again
    /// (only the explicit "Detect person" does).
    pub(super) unavailable: Option<Unavailable>,
    /// A detection that finished after the user had already moved joints: offered, not applied.
    pub pending: Option<Detected>,
    /// The documents and labels on both sides of the applied detection's undo step, so that
    /// undoing it also returns to fitting the template (and redoing it, to posing).
    pub(super) step: Option<DetectionStep>,
}

impl Detection {
    /// `worker`: `None` turns detection off for the session.
    pub fn new(worker: Option<LatestWorker<DetectRequest, DetectResponse>>) -> Self {
        let mut d = Self {
            worker,
            next_id: 0,
            sent: None,
            status: DetectStatus::Off,
            unavailable: None,
            pending: None,
            step: None,
        };
        d.status = d.idle_status();
        d
    }

    /// The status with nothing detected yet: idle, or off for the session.
    pub fn idle_status(&self) -> DetectStatus {
        match self.worker {
            Some(_) => DetectStatus::Idle,
            None => DetectStatus::Off,
        }
    }
}

/// The two sides of an applied detection (see [`crate::app::Editor::undo`]).
#[derive(Clone, Debug)]
pub(super) struct DetectionStep {
    pub(super) before: Doc,
    pub(super) after: Doc,
    pub(super) origin_before: String,
    pub(super) origin_after: String,
}

/// A detection request in flight, and the document when it was sent: an answer that finds the
/// document changed does not replace the user's edits.
#[derive(Clone, Debug)]
pub(super) struct SentDetection {
    pub(super) id: u64,
    pub(super) photo_id: u64,
    pub(super) doc: Doc,
}

/// One "find the person in this photo".
pub struct DetectRequest {
    /// Counts requests, so an answer to a request that was replaced is recognised.
    pub id: u64,
    /// The photo's id, so an answer for a photo that is no longer open is ignored.
    pub photo_id: u64,
    pub photo: Arc<Photo>,
    /// Try loading the models again if an earlier load failed (the user asked explicitly, and
    /// may have fetched the models meanwhile). Automatic requests do not, so a missing model
    /// is looked for once per session, not on every photo.
    pub reload: bool,
}

/// The worker's answer to a [`DetectRequest`].
#[derive(Clone, Debug, PartialEq)]
pub struct DetectResponse {
    pub id: u64,
    pub photo_id: u64,
    pub outcome: DetectOutcome,
}

#[derive(Clone, Debug, PartialEq)]
pub enum DetectOutcome {
    /// A person, with the joints that were confident and inside the photo (boxed: the pose is
    /// most of this enum's size).
    Found(Box<Detected>),
    /// The detector ran and saw nobody.
    NoPerson,
    /// The detector could not be loaded; the same answer comes back until a `reload` request.
    Unavailable(Unavailable),
    /// The detector is there but failed on this photo.
    Failed(String),
}

/// A detected skeleton, reduced to what the editor needs.
#[derive(Clone, Debug, PartialEq)]
pub struct Detected {
    /// OpenPose-18 joints in photo pixels; `None` = not confident or outside the photo.
    pub pose: Pose,
    /// The person detector's score.
    pub score: f32,
    /// Wall-clock milliseconds of the detection (not counting the model load).
    pub millis: f64,
}

impl Detected {
    /// How the skeleton came about, for the side panel: "detected (15 of 18 joints, score 0.61)".
    pub fn origin(&self) -> String {
        format!(
            "detected ({} of {NUM_JOINTS} joints, score {:.2})",
            self.pose.num_present(),
            self.score
        )
    }
}

/// Why detection cannot run in this session.
#[derive(Clone, Debug, PartialEq)]
pub struct Unavailable {
    /// The model files were not found (as opposed to found but unreadable).
    pub missing: bool,
    /// The full error, which says where the models were looked for.
    pub message: String,
}

/// What the side panel and status bar say about detection for the current photo.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum DetectStatus {
    /// Detection is switched off for this session (`EditorOptions::detect`).
    Off,
    /// Nothing was asked for this photo (its skeleton came from a file or a project).
    #[default]
    Idle,
    Running,
    Found(String),
    NoPerson,
    Unavailable(Unavailable),
    Failed(String),
}

/// Said when the detector saw nobody (status bar and side panel).
pub const NO_PERSON: &str =
    "No person found by the detector; drag the template's joints onto the person";

/// The worker's job: loads the detector at the first request (again after a failed load when
/// a request says `reload`), then runs it on the photo inside `pool`, the compute threads the
/// model also uses, so one core stays free for the UI.
pub fn detector_job(
    pool: Arc<rayon::ThreadPool>,
) -> impl FnMut(DetectRequest) -> DetectResponse + Send + 'static {
    let mut loaded: Option<Result<PoseDetector, Unavailable>> = None;
    move |req: DetectRequest| {
        if req.reload && matches!(loaded, Some(Err(_))) {
            loaded = None;
        }
        let detector = loaded.get_or_insert_with(|| pool.install(load));
        let outcome = match detector {
            Err(u) => DetectOutcome::Unavailable(u.clone()),
            Ok(d) => pool.install(|| detect(d, &req.photo.image)),
        };
        DetectResponse {
            id: req.id,
            photo_id: req.photo_id,
            outcome,
        }
    }
}

/// Finds the models, then loads them; the two failures read differently to the user.
fn load() -> Result<PoseDetector, Unavailable> {
    let t = Instant::now();
    let paths = models::find().map_err(|e| Unavailable {
        missing: true,
        message: format!("{e:#}"),
    })?;
    let detector = PoseDetector::load(&paths).map_err(|e| Unavailable {
        missing: false,
        message: format!("{e:#}"),
    })?;
    tracing::info!(
        "loaded the pose detector in {:.0} ms",
        t.elapsed().as_secs_f64() * 1e3
    );
    Ok(detector)
}

fn detect(detector: &PoseDetector, image: &image::RgbImage) -> DetectOutcome {
    match detector.detect(image) {
        Ok(Some(d)) if d.pose.num_present() > 0 => DetectOutcome::Found(Box::new(Detected {
            millis: d.times.total_ms(),
            pose: d.pose,
            score: d.person.score,
        })),
        // A person with no joint confident enough to place is no help either.
        Ok(_) => DetectOutcome::NoPerson,
        Err(e) => DetectOutcome::Failed(format!("{e:#}")),
    }
}
