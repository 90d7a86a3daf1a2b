//! The session as a small JSON file: photo path, both skeletons, the keyframes, the model and
//! the view settings. The same format is the crash-recovery autosave.

use super::engine::ModelSpec;
use crate::animate::keyframes::Timeline;
use crate::pose::rig::Rig;
use crate::puppet::LimbOrder;
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

pub const PROJECT_VERSION: u32 = 1;

/// Which skeleton the mouse edits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Mode {
    /// Fitting the source skeleton onto the person in the photo (the target follows it).
    FitSource,
    /// Posing the target skeleton.
    #[default]
    PoseTarget,
}

/// Which overlay is shown on the result.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum ResultOverlay {
    #[default]
    None,
    Flow,
    Mask,
}

/// What the result pane shows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum ResultView {
    /// The whole photo re-posed: the moved person composited over the background plate.
    #[default]
    Photo,
    /// The network's own output, in its crop, over the dimmed photo.
    Network,
    /// The photo as it was (before).
    Original,
}

/// View settings saved with the session.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    pub mode: Mode,
    pub result_view: ResultView,
    pub overlay: ResultOverlay,
    pub overlay_opacity: f32,
    /// Which attention level's flow/mask is shown (index into the model's levels, deepest
    /// first); clamped to what the model has.
    pub overlay_level: usize,
    /// Flow drawn as arrows on a grid over the result.
    pub flow_arrows: bool,
    pub attention_opacity: f32,
    /// Plain drags keep bone lengths.
    pub lock_lengths: bool,
    /// Hidden (missing) joints drawn hollow and grabbable.
    pub show_hidden: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            mode: Mode::PoseTarget,
            result_view: ResultView::Photo,
            overlay: ResultOverlay::None,
            overlay_opacity: 0.7,
            overlay_level: 1,
            flow_arrows: false,
            attention_opacity: 0.8,
            lock_lengths: false,
            show_hidden: true,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Project {
    pub version: u32,
    /// The photo; `None` for the bundled sample when it was opened from memory.
    pub photo: Option<PathBuf>,
    pub source: Rig,
    pub target: Rig,
    /// The keyframes (none in projects written before the editor had them).
    #[serde(default)]
    pub timeline: Timeline,
    /// The target's depth order (limbs put in front of / behind the body); absent when every
    /// limb is automatic, as in projects written before it existed.
    #[serde(default, skip_serializing_if = "LimbOrder::is_auto")]
    pub order: LimbOrder,
    #[serde(default)]
    pub model: ModelSpec,
    #[serde(default)]
    pub settings: Settings,
}

impl Project {
    /// Writes the project atomically. The photo path is stored relative to the project's
    /// folder when it lies inside it, so a folder of photo + project can be moved together.
    pub fn save(&self, path: &Path) -> Result<()> {
        let mut stored = self.clone();
        if let (Some(photo), Some(dir)) = (&self.photo, path.parent()) {
            let dir = absolute(dir);
            if let Ok(rel) = absolute(photo).strip_prefix(&dir) {
                stored.photo = Some(rel.to_path_buf());
            }
        }
        let text = serde_json::to_string_pretty(&stored)?;
        crate::util::fs::write_atomic(path, text.as_bytes())
            .with_context(|| format!("saving the project {}", path.display()))
    }

    /// Reads and checks a project; relative photo paths are resolved against its folder.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the project {}", path.display()))?;
        Self::from_json(&text, path)
    }

    /// [`Project::load`] on text already read: `path` names it in errors and is where a
    /// relative photo path is resolved from.
    pub fn from_json(text: &str, path: &Path) -> Result<Self> {
        let mut p: Project = serde_json::from_str(text)
            .with_context(|| format!("{}: not a marionette project", path.display()))?;
        if p.version > PROJECT_VERSION {
            anyhow::bail!(
                "{}: project version {} is newer than this marionette understands ({PROJECT_VERSION})",
                path.display(),
                p.version
            );
        }
        if !p.source.is_finite() || !p.target.is_finite() {
            anyhow::bail!("{}: a skeleton has non-finite coordinates", path.display());
        }
        p.timeline
            .validate()
            .with_context(|| format!("{}: bad keyframes", path.display()))?;
        if let (Some(photo), Some(dir)) = (&p.photo, path.parent()) {
            if photo.is_relative() {
                p.photo = Some(dir.join(photo));
            }
        }
        Ok(p)
    }
}

fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

/// Where the autosave lives: `$MARIONETTE_STATE_DIR`, else `$XDG_STATE_HOME/marionette`, else
/// `~/.local/state/marionette`.
pub fn default_state_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("MARIONETTE_STATE_DIR") {
        return Some(PathBuf::from(d));
    }
    if let Some(d) = std::env::var_os("XDG_STATE_HOME") {
        return Some(PathBuf::from(d).join("marionette"));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state/marionette"))
}

/// The crash-recovery file in `state_dir`.
pub fn autosave_path(state_dir: &Path) -> PathBuf {
    state_dir.join("autosave.json")
}

/// Removes the temporary files of autosaves whose process died mid-write (a crash or a kill
/// between writing `.autosave.json.<pid>.tmp` and renaming it; see
/// [`crate::util::fs::temp_path_for`]), so they do not pile up in the state folder. A file of
/// a process that is still running (another editor) is left alone. Returns how many went.
pub fn remove_stale_autosave_temporaries(state_dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(state_dir) else {
        return 0;
    };
    let prefix = ".autosave.json.";
    entries
        .filter_map(|e| e.ok())
        .filter(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let Some(pid) = name
                .strip_prefix(prefix)
                .and_then(|rest| rest.strip_suffix(".tmp"))
                .and_then(|pid| pid.parse::<u32>().ok())
            else {
                return false;
            };
            pid != std::process::id() && !process_alive(pid)
        })
        .filter(|e| std::fs::remove_file(e.path()).is_ok())
        .count()
}

/// Whether process `pid` exists (Linux: its `/proc` entry; elsewhere assumed alive, so
/// nothing is removed that might still be written).
fn process_alive(pid: u32) -> bool {
    if cfg!(target_os = "linux") {
        Path::new("/proc").join(pid.to_string()).exists()
    } else {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_keeps_everything_and_relativises_the_photo() {
        let dir = tempfile::tempdir().unwrap();
        let photo = dir.path().join("me.png");
        let mut target = Rig::template(300.0, 400.0);
        target.rotate_limb(3, [10.0, 10.0]);
        target.visible[7] = false;
        let p = Project {
            version: PROJECT_VERSION,
            photo: Some(photo.clone()),
            source: Rig::template(300.0, 400.0),
            target,
            timeline: Timeline::default(),
            order: LimbOrder {
                right_arm: Some(crate::puppet::Layer::Behind),
                ..Default::default()
            },
            model: ModelSpec::default(),
            settings: Settings {
                overlay: ResultOverlay::Flow,
                lock_lengths: true,
                ..Default::default()
            },
        };
        let file = dir.path().join("session.json");
        p.save(&file).unwrap();
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(text.contains("\"photo\": \"me.png\""), "{text}");
        assert!(text.contains("\"right_arm\": \"behind\""), "{text}");
        let back = Project::load(&file).unwrap();
        assert_eq!(back.photo.as_deref(), Some(photo.as_path()));
        assert_eq!(
            Project {
                photo: p.photo.clone(),
                ..back
            },
            p
        );
    }

    /// Keyframes travel in the project; a project written before they existed still opens
    /// (with none), and bad keyframes are refused with the reason.
    #[test]
    fn keyframes_round_trip_and_old_projects_load() {
        use crate::animate::keyframes::{Easing, Keyframe};
        let dir = tempfile::tempdir().unwrap();
        let rest = Rig::template(300.0, 400.0);
        let mut raised = rest.clone();
        raised.rotate_limb(3, [10.0, 10.0]);
        raised.visible[16] = false;
        let timeline = Timeline {
            keyframes: vec![
                Keyframe {
                    duration: 0.75,
                    easing: Easing::EaseOut,
                    ..Keyframe::new(rest.clone())
                },
                Keyframe::new(raised),
            ],
            fps: 24.0,
        };
        let p = Project {
            version: PROJECT_VERSION,
            photo: None,
            source: rest.clone(),
            target: rest,
            timeline: timeline.clone(),
            order: LimbOrder::default(),
            model: ModelSpec::default(),
            settings: Settings::default(),
        };
        let file = dir.path().join("clip.json");
        p.save(&file).unwrap();
        let back = Project::load(&file).unwrap();
        assert_eq!(back.timeline, timeline);
        assert_eq!(back, p);

        // The same project as the editor wrote it before keyframes: no `timeline` key.
        let mut old = serde_json::to_value(&p).unwrap();
        old.as_object_mut().unwrap().remove("timeline");
        std::fs::write(&file, old.to_string()).unwrap();
        let back = Project::load(&file).unwrap();
        assert!(back.timeline.is_empty());
        assert!(back.order.is_auto());
        assert_eq!(back.source, p.source);

        let mut bad = p.clone();
        bad.timeline.keyframes[0].duration = -2.0;
        bad.save(&file).unwrap();
        let e = format!("{:#}", Project::load(&file).unwrap_err());
        assert!(e.contains("bad keyframes") && e.contains("duration"), "{e}");
    }

    #[test]
    fn bad_projects_are_refused_with_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("p.json");
        std::fs::write(&file, "{\"version\": 1}").unwrap();
        let e = format!("{:#}", Project::load(&file).unwrap_err());
        assert!(
            e.contains("not a marionette project") && e.contains("source"),
            "{e}"
        );
        let mut p = Project {
            version: 99,
            photo: None,
            source: Rig::template(10.0, 10.0),
            target: Rig::template(10.0, 10.0),
            timeline: Timeline::default(),
            order: LimbOrder::default(),
            model: ModelSpec::default(),
            settings: Settings::default(),
        };
        p.save(&file).unwrap();
        assert!(format!("{:#}", Project::load(&file).unwrap_err()).contains("newer"));
        p.version = 1;
        p.target.points[3][0] = f32::NAN;
        // serde_json writes NaN as null, which does not parse back as a number.
        p.save(&file).unwrap();
        assert!(Project::load(&file).is_err());
    }
}
