//! Starting, cancelling and collecting the animation export (the dialog's state and the job
//! are in [`crate::app::anim_export`]).

use super::Editor;
use crate::animate::keyframes::FPS_RANGE;
use crate::animate::render::{export_frames, ExportSettings, Progress};
use crate::app::anim_export::{
    AnimExportChoice, AnimExportJob, ExportStage, MAX_EXPORT_FRAMES, MIN_SIDE,
};
use crate::app::job::{Finished, Job};
use crate::detect::PoseDetector;
use crate::imaging::animation::{AnimFormat, AnimOptions};
use anyhow::{Context, Result};
use std::path::Path;
use std::sync::Arc;

impl Editor {
    /// Frames the timeline has at `fps`.
    pub fn anim_frame_count(&self, fps: f32) -> usize {
        self.doc.timeline.frame_count(fps)
    }

    /// Opens the export dialog with the clip's frame rate and all its frames.
    pub fn open_anim_export(&mut self) {
        if self.photo.is_none() || self.doc.timeline.is_empty() {
            self.say("Add keyframes first (the timeline below the panes)".into());
            return;
        }
        let fps = self.doc.timeline.fps;
        let count = self.anim_frame_count(fps);
        // A GIF of a few hundred pixels is what a clip is shared as; smaller photos stay whole.
        let longest = self
            .photo
            .as_ref()
            .map_or(512, |p| p.image.width().max(p.image.height()));
        self.anim_export.dialog = Some(AnimExportChoice {
            format: AnimFormat::Gif,
            fps,
            first: 0,
            last: count.saturating_sub(1),
            longest_side: (longest > 512).then_some(512),
            dither: true,
        });
    }

    /// Starts writing the animation the dialog chose to `path` (its extension set to the
    /// format's) on a thread of its own; the timeline panel shows the progress and a cancel.
    pub fn start_anim_export(&mut self, path: &Path, choice: &AnimExportChoice) -> Result<()> {
        let photo = Arc::clone(self.photo.as_ref().context("no photo is open")?);
        anyhow::ensure!(
            self.anim_export.job.is_none(),
            "an animation is still being exported"
        );
        anyhow::ensure!(!self.doc.timeline.is_empty(), "there are no keyframes");
        anyhow::ensure!(
            choice.fps.is_finite() && FPS_RANGE.contains(&choice.fps),
            "frame rate {} is outside {}–{} fps",
            choice.fps,
            FPS_RANGE.start(),
            FPS_RANGE.end()
        );
        let count = self.anim_frame_count(choice.fps);
        anyhow::ensure!(
            choice.first <= choice.last && choice.last < count,
            "frames {}–{} are outside the clip's 1–{count}",
            choice.first + 1,
            choice.last + 1
        );
        let n = choice.last - choice.first + 1;
        anyhow::ensure!(
            n <= MAX_EXPORT_FRAMES,
            "{n} frames: at most {MAX_EXPORT_FRAMES} per export, choose a shorter range"
        );
        // Only the chosen frames' poses are computed: the range is applied here.
        let frames: Vec<_> = (choice.first..=choice.last)
            .filter_map(|i| self.doc.timeline.frame(i, choice.fps))
            .collect();
        let settings = ExportSettings {
            fps: choice.fps,
            range: None,
            max_side: choice.longest_side.map(|s| s.max(MIN_SIDE)),
            anim: AnimOptions {
                fps: choice.fps,
                dither: choice.dither,
                loop_forever: true,
            },
            measure_flicker: false,
            orders: (choice.first..=choice.last)
                .map(|i| self.doc.timeline.frame_order(i, choice.fps))
                .collect(),
        };
        let path = choice.output_path(path);
        let format = choice.format;
        let source = self.doc.source.clone();
        let out = path.clone();
        let job = Job::spawn(
            "marionette-anim-export",
            ExportStage::Starting,
            move |job| {
                let detector = PoseDetector::load_default()
                    .context("the pose detector cuts the person out of the photo")?;
                let progress = |p: Progress| job.report(ExportStage::Running(p));
                let cancelled = || job.cancelled();
                export_frames(
                    &photo.image,
                    &source,
                    &frames,
                    &out,
                    format,
                    &settings,
                    &detector,
                    &progress,
                    &cancelled,
                )
            },
        )
        .context("starting the animation export")?;
        self.anim_export.job = Some(AnimExportJob { path, format, job });
        self.say(format!("Exporting {n} frames as {}…", choice.format.name()));
        Ok(())
    }

    /// Asks the running export to stop; it leaves nothing behind (the writer removes its
    /// temporary files, and the output keeps what it had).
    pub fn cancel_anim_export(&mut self) {
        if let Some(job) = &self.anim_export.job {
            job.job.cancel();
        }
    }

    pub fn anim_exporting(&self) -> bool {
        self.anim_export.job.is_some()
    }

    /// Takes the export's outcome when it has one (every frame, from [`Editor::tick`]).
    pub fn collect_anim_export(&mut self) {
        let Some(job) = &self.anim_export.job else {
            return;
        };
        let outcome = match job.job.poll() {
            None => return,
            Some(Finished::Done(r)) => Ok(r),
            Some(Finished::Failed(e)) => Err(e),
            Some(Finished::Lost) => Err("the export stopped without a result".to_string()),
        };
        let (cancelled, path) = (job.cancelling(), job.path.clone());
        self.anim_export.job = None;
        match outcome {
            Ok(report) => self.say(format!(
                "Exported {} frames ({}×{}, {} rendered) to {} in {:.1} s",
                report.frames,
                report.size.0,
                report.size.1,
                report.rendered,
                path.display(),
                report.layers_seconds + report.frames_seconds
            )),
            Err(_) if cancelled => {
                self.say("Animation export cancelled; nothing was written".into())
            }
            Err(e) => self.report_error(anyhow::anyhow!("exporting the animation: {e}")),
        }
    }
}
