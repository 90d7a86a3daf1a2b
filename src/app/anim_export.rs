//! Exporting the keyframes as an animation (File → Export animation…): the dialog's choices,
//! and the export itself on a thread of its own — the photo's full-resolution layers, then
//! every frame composited over them ([`crate::animate::render::export_frames`], what
//! `marionette animate` runs) — with its progress and a cancel the UI shows in the timeline
//! panel. No drawing here.

use super::editor::Editor;
use crate::animate::keyframes::FPS_RANGE;
use crate::animate::render::{export_frames, ExportReport, ExportSettings, Progress};
use crate::detect::PoseDetector;
use crate::imaging::animation::{AnimFormat, AnimOptions};
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, TryRecvError};
use std::sync::{Arc, Mutex};

/// Most frames one export renders: ten minutes at 16 fps, far beyond a clip made of keyframes,
/// and it bounds the memory the frames' poses take before rendering starts.
pub const MAX_EXPORT_FRAMES: usize = 10_000;
/// Smallest "longest side" offered (the exporter refuses less than 16 px).
pub const MIN_SIDE: u32 = 16;

/// What the export dialog asks. Frames are counted from 0 here and shown from 1.
#[derive(Clone, Debug, PartialEq)]
pub struct AnimExportChoice {
    pub format: AnimFormat,
    pub fps: f32,
    pub first: usize,
    pub last: usize,
    /// `None`: the photo's own resolution.
    pub longest_side: Option<u32>,
    /// GIF only: dithering (smooth gradients instead of bands).
    pub dither: bool,
}

impl AnimExportChoice {
    /// File-dialog filter and default name for the format.
    pub fn file_name(&self) -> &'static str {
        match self.format {
            AnimFormat::Gif => "animation.gif",
            AnimFormat::Apng => "animation.png",
            // No extension: a folder of frame_00000.png, …
            AnimFormat::PngSequence => "animation_frames",
        }
    }

    /// `path` with the extension the format is known by (a file dialog may return a name
    /// without one, or with another): a PNG sequence's folder has none.
    pub fn output_path(&self, path: &Path) -> PathBuf {
        let ext = path
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase());
        let mut out = path.to_path_buf();
        match (self.format, ext.as_deref()) {
            (AnimFormat::Gif, Some("gif")) | (AnimFormat::Apng, Some("png" | "apng")) => {}
            (AnimFormat::Gif, _) => {
                out.set_extension("gif");
            }
            (AnimFormat::Apng, _) => {
                out.set_extension("png");
            }
            (AnimFormat::PngSequence, Some(_)) => {
                out.set_extension("");
            }
            (AnimFormat::PngSequence, None) => {}
        }
        out
    }
}

/// Where a running export is, for the progress bar.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ExportStage {
    /// Loading the detector, before anything else.
    Starting,
    Running(Progress),
}

/// An export running on its own thread.
pub struct AnimExportJob {
    pub path: PathBuf,
    pub format: AnimFormat,
    stage: Arc<Mutex<ExportStage>>,
    cancel: Arc<AtomicBool>,
    result: Receiver<Result<ExportReport, String>>,
}

impl AnimExportJob {
    pub fn stage(&self) -> ExportStage {
        *self.stage.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// 0–1 for a progress bar: the layers count as the first tenth.
    pub fn fraction(&self) -> f32 {
        match self.stage() {
            ExportStage::Starting => 0.0,
            ExportStage::Running(Progress::Layers) => 0.05,
            ExportStage::Running(Progress::Frame { done, total }) => {
                0.1 + 0.9 * done as f32 / total.max(1) as f32
            }
        }
    }

    pub fn cancelling(&self) -> bool {
        self.cancel.load(Ordering::SeqCst)
    }
}

/// The dialog (when open) and the export (when running).
#[derive(Default)]
pub struct AnimExport {
    pub dialog: Option<AnimExportChoice>,
    pub job: Option<AnimExportJob>,
}

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
        let stage = Arc::new(Mutex::new(ExportStage::Starting));
        let cancel = Arc::new(AtomicBool::new(false));
        let (tx, result) = mpsc::channel();
        let (thread_stage, thread_cancel, out) =
            (Arc::clone(&stage), Arc::clone(&cancel), path.clone());
        std::thread::Builder::new()
            .name("marionette-anim-export".into())
            .spawn(move || {
                let run = || -> Result<ExportReport> {
                    let detector = PoseDetector::load_default()
                        .context("the pose detector cuts the person out of the photo")?;
                    let progress = |p: Progress| {
                        *thread_stage.lock().unwrap_or_else(|e| e.into_inner()) =
                            ExportStage::Running(p);
                    };
                    let cancelled = || thread_cancel.load(Ordering::SeqCst);
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
                };
                let _ = tx.send(run().map_err(|e| format!("{e:#}")));
            })
            .context("starting the animation export")?;
        self.anim_export.job = Some(AnimExportJob {
            path,
            format,
            stage,
            cancel,
            result,
        });
        self.say(format!("Exporting {n} frames as {}…", choice.format.name()));
        Ok(())
    }

    /// Asks the running export to stop; it leaves nothing behind (the writer removes its
    /// temporary files, and the output keeps what it had).
    pub fn cancel_anim_export(&mut self) {
        if let Some(job) = &self.anim_export.job {
            job.cancel.store(true, Ordering::SeqCst);
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
        let outcome = match job.result.try_recv() {
            Ok(r) => r,
            Err(TryRecvError::Empty) => return,
            Err(TryRecvError::Disconnected) => Err("the export stopped without a result".into()),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_paths_carry_the_formats_extension() {
        let choice = |format| AnimExportChoice {
            format,
            fps: 12.0,
            first: 0,
            last: 0,
            longest_side: None,
            dither: true,
        };
        let p = |s: &str| PathBuf::from(s);
        let gif = choice(AnimFormat::Gif);
        assert_eq!(gif.output_path(&p("/t/a.gif")), p("/t/a.gif"));
        assert_eq!(gif.output_path(&p("/t/a.GIF")), p("/t/a.GIF"));
        assert_eq!(gif.output_path(&p("/t/a")), p("/t/a.gif"));
        assert_eq!(gif.output_path(&p("/t/a.png")), p("/t/a.gif"));
        let apng = choice(AnimFormat::Apng);
        assert_eq!(apng.output_path(&p("/t/a.apng")), p("/t/a.apng"));
        assert_eq!(apng.output_path(&p("/t/a")), p("/t/a.png"));
        let seq = choice(AnimFormat::PngSequence);
        assert_eq!(seq.output_path(&p("/t/frames.png")), p("/t/frames"));
        assert_eq!(seq.output_path(&p("/t/frames")), p("/t/frames"));
        // What the path says and what was chosen agree.
        for c in [gif, apng, seq] {
            let out = c.output_path(&p(&format!("/t/{}", c.file_name())));
            assert_eq!(AnimFormat::from_path(&out).unwrap(), c.format, "{out:?}");
        }
    }
}
