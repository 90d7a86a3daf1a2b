//! Pose sequences from disk: the driver's motion that [`super::retarget`] maps onto the photo's
//! person.
//!
//! [`load_motion`] reads three kinds of input:
//!
//! * **A folder of OpenPose JSON files**, one per frame, as `openpose --write_json` writes them
//!   (`video_000000000012_keypoints.json`). When the folder holds `*_keypoints.json` files only
//!   those are read (OpenPose's `--write_images` renders often sit beside them); otherwise every
//!   `*.json`. Files are taken in *natural* order: digit runs compare as numbers, so `x_2` comes
//!   before `x_10` whether or not the numbers are zero-padded.
//! * **A folder of frames** (PNG/JPG) of another person: each is run through our pose detector
//!   ([`crate::detect::PoseDetector`], loaded once), with progress per frame and cancel polled
//!   between frames. A frame where no one is found is a frame with every joint missing. The
//!   detector returns its most confident person; there is no choice to track.
//! * **One JSON file with frames**: either `{"fps": 30, "frames": [doc, doc, ...]}` (`fps`
//!   optional) or a top-level array `[doc, doc, ...]`, where each `doc` is a whole OpenPose
//!   document as [`crate::pose::openpose`] reads it (`people[].pose_keypoints_2d`, COCO-18 or
//!   BODY_25, pixels or normalised with `canvas_width`/`canvas_height`).
//!
//! A folder with no usable files, or with both images and plain JSON (which one is the motion?),
//! is an error that says so. Hidden files (`.name`) and other extensions are ignored.
//!
//! **Which person.** Frame 0's first person (or that of the first frame with anyone in it) is
//! the driver. In every later frame the driver is the person whose joints lie nearest the
//! driver's last known pose (mean distance over the joints both show, else the distance between
//! the centroids of their joints), so someone walking in, even if OpenPose lists them first,
//! does not take over.
//!
//! **Unsure joints.** Joints with confidence below [`MIN_CONFIDENCE`] count as missing.
//!
//! **Bounds.** More than [`MAX_FRAMES`] frames, coordinates that are not finite (e.g. `1e300`,
//! which overflows f32) and oversized files are refused with errors naming the file.

use std::cmp::Ordering;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use serde_json::Value;

use crate::pose::{parse_openpose_value, Pose, PoseError, JOINT_NAMES};

/// Joints less confident than this are treated as missing. OpenPose's own renderer hides
/// keypoints below 0.05 and its confident joints mostly sit above 0.5; between the two are the
/// guesses that flicker from frame to frame (an occluded wrist jumping onto the other arm).
/// Dropping them lets gap filling interpolate the joint instead of retargeting the jump.
/// 0.3 keeps the joints OpenPose draws solidly while losing those guesses.
pub const MIN_CONFIDENCE: f32 = 0.3;

/// At most this many frames (almost an hour at 30 fps): more is certainly not a motion clip,
/// and would only exhaust memory.
pub const MAX_FRAMES: usize = 100_000;

/// One frame's JSON file as OpenPose writes it is a few kilobytes; this bounds a hostile one.
const MAX_FRAME_FILE_BYTES: u64 = 16 << 20;
/// A whole clip in one JSON file: [`MAX_FRAMES`] multi-person frames fit well within this.
const MAX_CLIP_FILE_BYTES: u64 = 1 << 30;

/// A driver's motion: one pose per frame (missing joints = `None`), in the driver's own pixels.
#[derive(Clone, Debug, PartialEq)]
pub struct MotionClip {
    pub frames: Vec<Pose>,
    /// Frames per second, when the source says (only the frames JSON can).
    pub fps: Option<f32>,
    /// `(width, height)` of the driver's frames: the first canvas a JSON gives, or the images'.
    pub frame_size: Option<(u32, u32)>,
    /// What it was read from, for messages.
    pub source: String,
}

/// Loading stopped because `cancel` said so.
#[derive(Debug, thiserror::Error)]
#[error("cancelled")]
pub struct Cancelled;

/// Reads a motion from `path` (a folder of OpenPose JSON or of images, or one frames JSON; see
/// the module docs). `progress(done, total)` is called after each frame; `cancel` is polled
/// between frames and stops the load with [`Cancelled`].
pub fn load_motion(
    path: &Path,
    progress: &dyn Fn(usize, usize),
    cancel: &dyn Fn() -> bool,
) -> Result<MotionClip> {
    let meta =
        std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
    let source = path.display().to_string();
    if meta.is_dir() {
        match classify_folder(path)? {
            FolderFrames::Json(files) => load_json_folder(&files, &source, progress, cancel),
            FolderFrames::Images(files) => load_image_folder(&files, &source, progress, cancel),
        }
    } else {
        let clip = load_frames_file(path)?;
        progress(clip.frames.len(), clip.frames.len());
        Ok(clip)
    }
}

/// What a motion folder holds, its files in natural order.
#[derive(Debug)]
enum FolderFrames {
    Json(Vec<PathBuf>),
    Images(Vec<PathBuf>),
}

/// Sorts the folder's files into per-frame JSON or images (see the module docs).
fn classify_folder(dir: &Path) -> Result<FolderFrames> {
    let (mut keypoints, mut json, mut images) = (Vec::new(), Vec::new(), Vec::new());
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))?;
    for entry in entries {
        let path = entry
            .with_context(|| format!("cannot list {}", dir.display()))?
            .path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if name.starts_with('.') || !path.is_file() {
            continue;
        }
        let lower = name.to_ascii_lowercase();
        if lower.ends_with("_keypoints.json") {
            keypoints.push(path);
        } else if lower.ends_with(".json") {
            json.push(path);
        } else if [".png", ".jpg", ".jpeg"].iter().any(|e| lower.ends_with(e)) {
            images.push(path);
        }
    }
    let (is_json, mut files) = if !keypoints.is_empty() {
        (true, keypoints)
    } else if !json.is_empty() && !images.is_empty() {
        bail!(
            "{} holds both JSON files ({}) and images ({}): put the pose files or the frames \
             in a folder of their own",
            dir.display(),
            json.len(),
            images.len()
        );
    } else if !json.is_empty() {
        (true, json)
    } else if !images.is_empty() {
        (false, images)
    } else {
        bail!(
            "{} holds no pose files (*_keypoints.json, *.json) or frames (PNG, JPG)",
            dir.display()
        );
    };
    check_frame_count(files.len(), &dir.display().to_string())?;
    files.sort_by(|a, b| natural_cmp(&file_name(a), &file_name(b)));
    Ok(if is_json {
        FolderFrames::Json(files)
    } else {
        FolderFrames::Images(files)
    })
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn check_frame_count(n: usize, source: &str) -> Result<()> {
    if n > MAX_FRAMES {
        bail!("{source}: {n} frames, more than the {MAX_FRAMES} a motion may have");
    }
    Ok(())
}

/// Natural order: runs of digits compare as numbers (`x_2` < `x_10`; `x_002` and `x_2` are
/// equal as numbers, then the plain text order breaks the tie), everything else by character.
pub fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (mut ra, mut rb) = (a, b);
    while let (Some(ca), Some(cb)) = (ra.chars().next(), rb.chars().next()) {
        let ord = if ca.is_ascii_digit() && cb.is_ascii_digit() {
            let (na, rest_a) =
                ra.split_at(ra.find(|c: char| !c.is_ascii_digit()).unwrap_or(ra.len()));
            let (nb, rest_b) =
                rb.split_at(rb.find(|c: char| !c.is_ascii_digit()).unwrap_or(rb.len()));
            (ra, rb) = (rest_a, rest_b);
            cmp_numbers(na, nb)
        } else {
            (ra, rb) = (&ra[ca.len_utf8()..], &rb[cb.len_utf8()..]);
            ca.cmp(&cb)
        };
        if ord != Ordering::Equal {
            return ord;
        }
    }
    // One ran out: the shorter rest comes first.
    ra.len().cmp(&rb.len()).then_with(|| a.cmp(b))
}

/// Two digit strings by value, of any length (no overflow): without leading zeros, the longer
/// is larger, equal lengths compare as text.
fn cmp_numbers(a: &str, b: &str) -> Ordering {
    let a = a.trim_start_matches('0');
    let b = b.trim_start_matches('0');
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// Reads a file as text after checking its size.
fn read_bounded(path: &Path, max_bytes: u64) -> Result<String> {
    let len = std::fs::metadata(path)
        .with_context(|| format!("cannot read {}", path.display()))?
        .len();
    if len > max_bytes {
        bail!(
            "{}: {len} bytes, more than the {max_bytes} a pose file may have",
            path.display()
        );
    }
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

/// One frame's people (confident joints only) and canvas.
struct FrameDoc {
    people: Vec<Pose>,
    canvas: Option<(u32, u32)>,
}

/// Every person of one OpenPose document. An empty `people` list (OpenPose found no one) is a
/// frame without people, not an error.
fn parse_frame(doc: &Value) -> Result<FrameDoc, PoseError> {
    let first = match parse_openpose_value(doc, 0) {
        Ok(first) => first,
        Err(PoseError::NoPerson { available: 0, .. }) => {
            return Ok(FrameDoc {
                people: Vec::new(),
                canvas: None,
            })
        }
        Err(e) => return Err(e),
    };
    let mut people = vec![confident(first.pose, 0)?];
    for person in 1..first.num_people {
        people.push(confident(parse_openpose_value(doc, person)?.pose, person)?);
    }
    Ok(FrameDoc {
        people,
        canvas: first.canvas,
    })
}

/// `pose` without its unsure joints; an error if a joint's coordinates are not finite.
fn confident(mut pose: Pose, person: usize) -> Result<Pose, PoseError> {
    for (j, joint) in pose.joints.iter_mut().enumerate() {
        let Some(p) = joint else { continue };
        if !(p.x.is_finite() && p.y.is_finite()) {
            return Err(PoseError::format(format!(
                "person {person}: {} has a coordinate that is not finite ({}, {})",
                JOINT_NAMES[j], p.x, p.y
            )));
        }
        if p.confidence.is_nan() || p.confidence < MIN_CONFIDENCE {
            *joint = None;
        }
    }
    Ok(pose)
}

/// Follows the driver from frame to frame (see the module docs).
#[derive(Default)]
struct Tracker {
    last: Option<Pose>,
}

impl Tracker {
    /// The driver among `people`, or an all-missing pose when nobody with a joint is there.
    fn pick(&mut self, people: Vec<Pose>) -> Pose {
        let mut candidates = people.into_iter().filter(|p| p.num_present() > 0);
        let chosen = match &self.last {
            None => candidates.next(),
            Some(last) => candidates.min_by(|a, b| {
                let da = pose_distance(last, a).unwrap_or(f32::INFINITY);
                let db = pose_distance(last, b).unwrap_or(f32::INFINITY);
                da.total_cmp(&db)
            }),
        };
        match chosen {
            Some(pose) => {
                self.last = Some(pose.clone());
                pose
            }
            None => Pose::missing(),
        }
    }
}

/// Mean distance over the joints both poses show; the centroids' distance when they share
/// none; `None` when either is empty.
fn pose_distance(a: &Pose, b: &Pose) -> Option<f32> {
    let shared: Vec<f32> = a
        .present()
        .filter_map(|(j, p)| b.get(j).map(|q| (p.x - q.x).hypot(p.y - q.y)))
        .collect();
    if !shared.is_empty() {
        return Some(shared.iter().sum::<f32>() / shared.len() as f32);
    }
    let (ca, cb) = (centroid(a)?, centroid(b)?);
    Some((ca[0] - cb[0]).hypot(ca[1] - cb[1]))
}

fn centroid(pose: &Pose) -> Option<[f32; 2]> {
    let n = pose.num_present();
    (n > 0).then(|| {
        let (sx, sy) = pose
            .present()
            .fold((0.0, 0.0), |(x, y), (_, p)| (x + p.x, y + p.y));
        [sx / n as f32, sy / n as f32]
    })
}

/// Per-frame OpenPose files, tracked into one clip.
fn load_json_folder(
    files: &[PathBuf],
    source: &str,
    progress: &dyn Fn(usize, usize),
    cancel: &dyn Fn() -> bool,
) -> Result<MotionClip> {
    let mut tracker = Tracker::default();
    load_frames(files, source, progress, cancel, |path, frame_size| {
        let text = read_bounded(path, MAX_FRAME_FILE_BYTES)?;
        let doc = serde_json::from_str(&text)
            .map_err(PoseError::Json)
            .and_then(|v| parse_frame(&v))
            .map_err(|e| e.in_file(path))?;
        *frame_size = frame_size.or(doc.canvas);
        Ok(tracker.pick(doc.people))
    })
}

/// The clip of a folder's per-frame `files`, in order, each read by `frame` (which may also
/// set the clip's frame size); the JSON and the image folders share the loop, its
/// cancelling between files and its progress reports.
fn load_frames(
    files: &[PathBuf],
    source: &str,
    progress: &dyn Fn(usize, usize),
    cancel: &dyn Fn() -> bool,
    mut frame: impl FnMut(&Path, &mut Option<(u32, u32)>) -> Result<Pose>,
) -> Result<MotionClip> {
    let (mut frames, mut frame_size) = (Vec::with_capacity(files.len()), None);
    for (i, path) in files.iter().enumerate() {
        if cancel() {
            return Err(Cancelled.into());
        }
        frames.push(frame(path, &mut frame_size)?);
        progress(i + 1, files.len());
    }
    Ok(MotionClip {
        frames,
        fps: None,
        frame_size,
        source: source.to_string(),
    })
}

/// One JSON file holding every frame (`{"fps", "frames"}` or a top-level array).
fn load_frames_file(path: &Path) -> Result<MotionClip> {
    let text = read_bounded(path, MAX_CLIP_FILE_BYTES)?;
    motion_from_json(&text, path)
}

/// A frames JSON (`{"fps", "frames"}` or a top-level array) already read; `path` names it in
/// errors and in [`MotionClip::source`].
pub fn motion_from_json(text: &str, path: &Path) -> Result<MotionClip> {
    let value: Value =
        serde_json::from_str(text).map_err(|e| anyhow!("{}: invalid JSON: {e}", path.display()))?;
    let in_file = |msg: String| anyhow!("{}: {msg}", path.display());
    let (fps, docs) = match &value {
        Value::Array(docs) => (None, docs),
        Value::Object(obj) if obj.contains_key("people") || obj.contains_key("openpose18") => {
            return Err(in_file(
                "this is a single pose, not a motion: give a folder of per-frame files or a \
                 JSON with `frames`"
                    .into(),
            ))
        }
        Value::Object(obj) => {
            let docs = obj.get("frames").and_then(Value::as_array).ok_or_else(|| {
                in_file("expected a `frames` array (or a top-level array of poses)".into())
            })?;
            (read_fps(obj.get("fps")).map_err(in_file)?, docs)
        }
        _ => {
            return Err(in_file(
                "expected an object with `frames` or an array".into(),
            ))
        }
    };
    let source = path.display().to_string();
    check_frame_count(docs.len(), &source)?;
    if docs.is_empty() {
        return Err(in_file("the motion has no frames".into()));
    }
    let mut tracker = Tracker::default();
    let (mut frames, mut frame_size) = (Vec::with_capacity(docs.len()), None);
    for (i, doc) in docs.iter().enumerate() {
        let doc = parse_frame(doc).map_err(|e| in_file(format!("frame {i}: {e}")))?;
        frame_size = frame_size.or(doc.canvas);
        frames.push(tracker.pick(doc.people));
    }
    Ok(MotionClip {
        frames,
        fps,
        frame_size,
        source,
    })
}

/// The optional `fps`: a positive finite number.
fn read_fps(value: Option<&Value>) -> Result<Option<f32>, String> {
    let Some(v) = value.filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    v.as_f64()
        .filter(|f| f.is_finite() && *f > 0.0 && *f <= 10_000.0)
        .map(|f| Some(f as f32))
        .ok_or_else(|| format!("`fps` is {v}, expected a positive number up to 10000"))
}

/// Frames through the detector, loaded once.
fn load_image_folder(
    files: &[PathBuf],
    source: &str,
    progress: &dyn Fn(usize, usize),
    cancel: &dyn Fn() -> bool,
) -> Result<MotionClip> {
    let detector = crate::detect::PoseDetector::load_default().with_context(|| {
        format!("{source} holds images; finding their poses needs the detector")
    })?;
    load_frames(files, source, progress, cancel, |path, frame_size| {
        let img = crate::imaging::open_photo(path)?;
        let size = img.dimensions();
        match *frame_size {
            None => *frame_size = Some(size),
            // Poses are in each frame's pixels: a frame of another size would jump.
            Some(first) if first != size => bail!(
                "{}: {}×{} pixels, but the first frame is {}×{}",
                path.display(),
                size.0,
                size.1,
                first.0,
                first.1
            ),
            Some(_) => {}
        }
        let found = detector
            .detect(&img)
            .with_context(|| format!("finding the person in {}", path.display()))?;
        Ok(match found {
            Some(det) => confident(det.pose, 0).map_err(|e| e.in_file(path))?,
            None => Pose::missing(),
        })
    })
}

#[cfg(test)]
#[path = "tests/motion.rs"]
mod tests;
