//! Exporting the keyframes as an animation (File → Export animation…): the dialog's choices,
//! and the export itself on a thread of its own — the photo's full-resolution layers, then
//! every frame composited over them ([`crate::animate::render::export_frames`], what
//! `marionette animate` runs) — with its progress and a cancel the UI shows in the timeline
//! panel. No drawing here.

use super::job::Job;
use crate::animate::render::{ExportReport, Progress};
use crate::imaging::animation::AnimFormat;
use std::path::{Path, PathBuf};

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
    pub(super) job: Job<ExportReport, ExportStage>,
}

impl AnimExportJob {
    pub fn stage(&self) -> ExportStage {
        self.job.progress()
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
        self.job.cancelling()
    }
}

/// The dialog (when open) and the export (when running).
#[derive(Default)]
pub struct AnimExport {
    pub dialog: Option<AnimExportChoice>,
    pub job: Option<AnimExportJob>,
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
