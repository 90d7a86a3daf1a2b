//! The PNG sequence: `frame_00000.png`, `frame_00001.png`, … written into a temporary sibling
//! folder and moved into the output folder by `finish`.

use super::TempPath;
use anyhow::{bail, Context, Result};
use image::RgbImage;
use std::path::{Path, PathBuf};

/// Five-digit names sort correctly up to here; a longer clip would need wider names.
const MAX_FRAMES: u32 = 100_000;

pub(super) struct SequenceWriter {
    /// The output folder (created by `finish` if absent).
    dir: PathBuf,
    /// `.<name>.partial-<pid>-<n>` beside it, removed on drop.
    tmp: TempPath,
    /// Frames written so far (counting repeats), i.e. the next frame's number.
    count: u32,
    /// The last frame and its file, to link instead of re-encoding when it is pushed again.
    last: Option<(RgbImage, PathBuf)>,
}

fn frame_name(i: u32) -> String {
    format!("frame_{i:05}.png")
}

impl SequenceWriter {
    pub(super) fn create(path: &Path) -> Result<SequenceWriter> {
        if path.exists() && !path.is_dir() {
            bail!(
                "{} exists and is not a folder; a PNG sequence needs a folder",
                path.display()
            );
        }
        // "." or "out/.." have no file name to derive the temporary folder's from.
        let dir = match path.file_name() {
            Some(_) => path.to_path_buf(),
            None => std::fs::canonicalize(path)
                .with_context(|| format!("{}: not a usable folder", path.display()))?,
        };
        let name = dir
            .file_name()
            .with_context(|| format!("{}: not a usable folder", path.display()))?
            .to_string_lossy()
            .into_owned();
        let tmp = TempPath::dir(super::unique_temp_dir(&dir, &name));
        std::fs::create_dir(&tmp.path)
            .with_context(|| format!("creating temporary folder {}", tmp.path.display()))?;
        Ok(SequenceWriter {
            dir,
            tmp,
            count: 0,
            last: None,
        })
    }

    pub(super) fn push(&mut self, frame: &RgbImage, repeat: u32) -> Result<()> {
        if self.count.saturating_add(repeat) > MAX_FRAMES {
            bail!(
                "{}: a PNG sequence holds at most {MAX_FRAMES} frames (5-digit names)",
                self.dir.display()
            );
        }
        let mut first = 0;
        let source = match &self.last {
            Some((img, file)) if img == frame => file.clone(),
            _ => {
                let file = self.tmp.path.join(frame_name(self.count));
                write_png(frame, &file)?;
                self.last = Some((frame.clone(), file.clone()));
                first = 1;
                file
            }
        };
        for i in first..repeat {
            link_or_copy(&source, &self.tmp.path.join(frame_name(self.count + i)))?;
        }
        self.count += repeat;
        Ok(())
    }

    /// Moves the frames into the output folder: same-named files there are replaced (by
    /// rename), other files are left alone. Not atomic as a whole — a failure midway leaves
    /// the frames moved so far — but no frame file is ever half-written.
    pub(super) fn finish(self) -> Result<Vec<PathBuf>> {
        std::fs::create_dir_all(&self.dir)
            .with_context(|| format!("creating folder {}", self.dir.display()))?;
        let mut done = Vec::with_capacity(self.count as usize);
        for i in 0..self.count {
            let name = frame_name(i);
            let to = self.dir.join(&name);
            std::fs::rename(self.tmp.path.join(&name), &to)
                .with_context(|| format!("moving frame to {}", to.display()))?;
            done.push(to);
        }
        Ok(done) // dropping `self.tmp` removes the now empty temporary folder
    }
}

/// One PNG, default compression (the png crate's balanced setting).
fn write_png(frame: &RgbImage, path: &Path) -> Result<()> {
    let file =
        std::fs::File::create(path).with_context(|| format!("writing {}", path.display()))?;
    let mut enc = png::Encoder::new(std::io::BufWriter::new(file), frame.width(), frame.height());
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    let mut w = enc.write_header()?;
    w.write_image_data(frame.as_raw())?;
    w.finish()
        .with_context(|| format!("writing {}", path.display()))
}

/// A held frame's further names: a hard link (no extra disk, no re-encoding), or a copy where
/// the file system has none (FAT, some network shares). Linked names share one file, so
/// editing one of them in place edits all; tools that save by writing a new file are unaffected.
fn link_or_copy(from: &Path, to: &Path) -> Result<()> {
    if std::fs::hard_link(from, to).is_ok() {
        return Ok(());
    }
    std::fs::copy(from, to)
        .map(|_| ())
        .with_context(|| format!("writing {}", to.display()))
}
