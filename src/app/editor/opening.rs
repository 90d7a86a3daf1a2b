//! Opening photos, poses and projects, and saving them: what replaces the session's document.

use super::{file_name, sidecar_pose, Doc, Editor, Which, PREVIEW_MAX_SIDE};
use crate::animate::keyframes::Timeline;
use crate::app::photo::Photo;
use crate::app::project::{Mode, Project, PROJECT_VERSION};
use crate::app::timeline::TimelineState;
use crate::pose;
use crate::pose::rig::Rig;
use crate::puppet::LimbOrder;
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};
use std::sync::Arc;

impl Editor {
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

    pub(super) fn set_photo(&mut self, image: image::RgbImage, path: Option<PathBuf>) {
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
        self.detection.sent = None;
        self.detection.pending = None;
        self.detection.step = None;
        self.detection.status = self.detection.idle_status();
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

    pub(super) fn apply_project(&mut self, p: Project) -> Result<()> {
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
}
