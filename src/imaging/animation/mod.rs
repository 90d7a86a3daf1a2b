//! Writers for animated output: a PNG sequence, an animated GIF and an APNG, fed frame by frame
//! by the animation exporter.
//!
//! * Nothing appears under the final name until [`AnimWriter::finish`] succeeds: frames go to
//!   temporary files beside the output (same folder, so the last step is a rename), and dropping
//!   the writer unfinished — cancel, error, panic — removes them, leaving what was there before.
//! * A held pose is pushed once with a repeat count: one GIF/APNG frame with a longer delay, one
//!   PNG written and hard-linked under the following names.
//! * GIF and APNG need the whole clip before writing (one palette for all frames; the frame count
//!   in `acTL`), so their frames are buffered raw in a temporary file (`FrameStore`), not in
//!   memory: a 1-megapixel clip of 200 frames is 600 MB.
//!
//! The encoders are `gif.rs` (palette, dithering, frame diffing), `apng.rs` and `sequence.rs`.

mod apng;
mod gif;
mod sequence;
#[cfg(test)]
mod tests;

use anyhow::{bail, Context, Result};
use image::RgbImage;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

/// Largest accepted frame side: far beyond any export, and it keeps one frame under 1 GB
/// (GIF's own limit is 65535).
pub const MAX_SIDE: u32 = 16_384;
/// Highest accepted frame rate; GIF cannot show more than 100 (its delays are centiseconds).
pub const MAX_FPS: f32 = 1000.0;

/// The kind of animated output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AnimFormat {
    /// `frame_00000.png`, `frame_00001.png`, … in a folder.
    PngSequence,
    /// An animated GIF (256 colours, one palette for the clip).
    Gif,
    /// An animated PNG (lossless; plays as a still image where APNG is unsupported).
    Apng,
}

impl AnimFormat {
    /// From the output path: `*.gif` → GIF, `*.png`/`*.apng` → APNG, a path ending in `/`, an
    /// existing folder or no extension → PNG sequence; anything else is an error naming the path
    /// and the accepted forms.
    pub fn from_path(path: &Path) -> Result<AnimFormat> {
        let text = path.as_os_str().to_string_lossy();
        if text.ends_with('/') || text.ends_with(std::path::MAIN_SEPARATOR) || path.is_dir() {
            return Ok(AnimFormat::PngSequence);
        }
        let ext = path
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase());
        match ext.as_deref() {
            None => Ok(AnimFormat::PngSequence),
            Some("gif") => Ok(AnimFormat::Gif),
            Some("png" | "apng") => Ok(AnimFormat::Apng),
            Some(other) => bail!(
                "{}: unknown animation format '.{other}' (use .gif, .png or .apng for an \
                 animated file, or a folder — a path ending in '/' or without an extension — \
                 for a PNG sequence)",
                path.display()
            ),
        }
    }

    /// A name for messages and dialogs.
    pub fn name(self) -> &'static str {
        match self {
            AnimFormat::PngSequence => "PNG sequence",
            AnimFormat::Gif => "GIF",
            AnimFormat::Apng => "APNG",
        }
    }
}

/// How the clip is played and encoded.
#[derive(Clone, Debug)]
pub struct AnimOptions {
    /// Frames per second (> 0, ≤ [`MAX_FPS`]); fractional rates such as 29.97 are kept exactly.
    /// GIF above 50 fps gets delays under 2 cs, which browsers slow down to 10 cs.
    pub fps: f32,
    /// GIF only: Floyd–Steinberg dithering (smooth gradients instead of bands).
    pub dither: bool,
    /// GIF/APNG: loop forever (otherwise play once).
    pub loop_forever: bool,
}

impl Default for AnimOptions {
    fn default() -> Self {
        AnimOptions {
            fps: 12.0,
            dither: true,
            loop_forever: true,
        }
    }
}

/// Writes an animation frame by frame (all frames the same size, RGB). Nothing appears under
/// the output path until [`finish`](AnimWriter::finish) succeeds; dropping the writer without
/// it (cancel, error, panic) removes every temporary file it made and leaves whatever was at
/// the path before untouched.
pub struct AnimWriter {
    path: PathBuf,
    format: AnimFormat,
    width: u32,
    height: u32,
    opts: AnimOptions,
    pushed: u32,
    sink: Sink,
}

enum Sink {
    Sequence(sequence::SequenceWriter),
    /// GIF or APNG: frames buffered until `finish`.
    Buffered(FrameStore),
}

impl AnimWriter {
    /// Checks the size and options and opens the temporary storage beside `path`.
    pub fn create(
        path: &Path,
        format: AnimFormat,
        width: u32,
        height: u32,
        opts: &AnimOptions,
    ) -> Result<AnimWriter> {
        if width == 0 || height == 0 || width > MAX_SIDE || height > MAX_SIDE {
            bail!(
                "{}: frame size {width}×{height} is outside 1..={MAX_SIDE} pixels per side",
                path.display()
            );
        }
        if !opts.fps.is_finite() || opts.fps <= 0.0 || opts.fps > MAX_FPS {
            bail!(
                "{}: frame rate {} fps is not a number in (0, {MAX_FPS}]",
                path.display(),
                opts.fps
            );
        }
        let sink = match format {
            AnimFormat::PngSequence => Sink::Sequence(sequence::SequenceWriter::create(path)?),
            AnimFormat::Gif | AnimFormat::Apng => {
                if path.is_dir() {
                    bail!(
                        "{} is a folder; a {} needs a file name",
                        path.display(),
                        format.name()
                    );
                }
                Sink::Buffered(FrameStore::create(path, width, height)?)
            }
        };
        Ok(AnimWriter {
            path: path.to_path_buf(),
            format,
            width,
            height,
            opts: opts.clone(),
            pushed: 0,
            sink,
        })
    }

    /// Adds a frame shown for `repeat` (≥ 1) frame periods. A held pose is pushed once with its
    /// repeat count rather than re-encoded: GIF/APNG write one frame with `repeat`× the delay,
    /// the PNG sequence writes the file once and hard-links the next `repeat − 1` names to it
    /// (copies where the file system has no hard links). A frame identical to the previous one
    /// is folded into it the same way.
    pub fn push(&mut self, frame: &RgbImage, repeat: u32) -> Result<()> {
        if frame.dimensions() != (self.width, self.height) {
            bail!(
                "{}: frame {} is {}×{}, the animation is {}×{}",
                self.path.display(),
                self.pushed,
                frame.width(),
                frame.height(),
                self.width,
                self.height
            );
        }
        if repeat == 0 {
            bail!(
                "{}: a frame must be shown at least once (repeat 0)",
                self.path.display()
            );
        }
        let total = self
            .pushed
            .checked_add(repeat)
            .with_context(|| format!("{}: too many frames", self.path.display()))?;
        match &mut self.sink {
            Sink::Sequence(s) => s.push(frame, repeat)?,
            Sink::Buffered(s) => s.push(frame, repeat)?,
        }
        self.pushed = total;
        Ok(())
    }

    /// Frames pushed so far, counting repeats (the clip's length in frame periods).
    pub fn frames_pushed(&self) -> u32 {
        self.pushed
    }

    /// Encodes what was buffered and moves it under the final name(s); returns the files now
    /// there. On error, the temporary files are removed and the old output is left as it was.
    pub fn finish(self) -> Result<Vec<PathBuf>> {
        if self.pushed == 0 {
            bail!("{}: no frames to write", self.path.display());
        }
        match self.sink {
            Sink::Sequence(s) => s.finish(),
            Sink::Buffered(mut store) => {
                let tmp = TempPath::file(unique_temp_file(&self.path, "tmp"));
                let file = File::create(&tmp.path)
                    .with_context(|| format!("writing {}", tmp.path.display()))?;
                let mut out = BufWriter::with_capacity(1 << 20, file);
                match self.format {
                    AnimFormat::Gif => gif::encode(&mut store, &self.opts, &mut out),
                    _ => apng::encode(&mut store, &self.opts, &mut out),
                }
                .with_context(|| format!("encoding {}", self.path.display()))?;
                out.into_inner()
                    .map_err(|e| e.into_error())
                    .and_then(|f| f.sync_all())
                    .with_context(|| format!("writing {}", tmp.path.display()))?;
                drop(store); // the raw frames are no longer needed, free the disk first
                std::fs::rename(&tmp.path, &self.path)
                    .with_context(|| format!("renaming to {}", self.path.display()))?;
                tmp.keep();
                Ok(vec![self.path])
            }
        }
    }
}

/// A temporary file or folder that is deleted when dropped, unless [`keep`](TempPath::keep)
/// was called (it has been renamed into place).
struct TempPath {
    path: PathBuf,
    dir: bool,
}

impl TempPath {
    fn file(path: PathBuf) -> TempPath {
        TempPath { path, dir: false }
    }

    fn dir(path: PathBuf) -> TempPath {
        TempPath { path, dir: true }
    }

    fn keep(self) {
        std::mem::forget(self);
    }
}

impl Drop for TempPath {
    fn drop(&mut self) {
        // Errors are ignored: this runs on cancel and unwinding, where there is no one to tell.
        let _ = if self.dir {
            std::fs::remove_dir_all(&self.path)
        } else {
            std::fs::remove_file(&self.path)
        };
    }
}

/// A counter making temporary names unique per writer: two exports may run at once in one
/// process, where the pid alone (as in [`crate::util::fs::temp_path_for`]) would collide.
static NEXT_TEMP: AtomicU32 = AtomicU32::new(0);

/// `.<name>.<pid>.<n>.<ext>` beside `path` (same folder, so the final rename is atomic).
fn unique_temp_file(path: &Path, ext: &str) -> PathBuf {
    let n = NEXT_TEMP.fetch_add(1, Ordering::Relaxed);
    crate::util::fs::temp_path_for(path).with_extension(format!("{n}.{ext}"))
}

/// `.<name>.partial-<pid>-<n>` beside the folder `dir`.
fn unique_temp_dir(dir: &Path, name: &str) -> PathBuf {
    let n = NEXT_TEMP.fetch_add(1, Ordering::Relaxed);
    dir.with_file_name(format!(".{name}.partial-{}-{n}", std::process::id()))
}

/// Frames kept until `finish` in a raw temporary file (RGB, row-major, back to back), with how
/// many periods each is shown. The last frame is also kept in memory to fold repeats of it.
struct FrameStore {
    // Field order matters: the file is closed before its TempPath deletes it (Windows).
    writer: BufWriter<File>,
    file: TempPath,
    width: u32,
    height: u32,
    runs: Vec<u32>,
    last: Option<RgbImage>,
}

impl FrameStore {
    fn create(near: &Path, width: u32, height: u32) -> Result<FrameStore> {
        let file = TempPath::file(unique_temp_file(near, "frames"));
        let f = File::create(&file.path)
            .with_context(|| format!("creating temporary file {}", file.path.display()))?;
        Ok(FrameStore {
            writer: BufWriter::with_capacity(1 << 20, f),
            file,
            width,
            height,
            runs: Vec::new(),
            last: None,
        })
    }

    fn push(&mut self, frame: &RgbImage, repeat: u32) -> Result<()> {
        if let (Some(last), Some(run)) = (&self.last, self.runs.last_mut()) {
            if last == frame {
                *run = run.saturating_add(repeat);
                return Ok(());
            }
        }
        self.writer
            .write_all(frame.as_raw())
            .with_context(|| format!("writing {}", self.file.path.display()))?;
        self.runs.push(repeat);
        match &mut self.last {
            Some(last) => last.copy_from_slice(frame.as_raw()),
            None => self.last = Some(frame.clone()),
        }
        Ok(())
    }

    /// How long each stored frame is shown, in frame periods.
    fn runs(&self) -> &[u32] {
        &self.runs
    }

    /// Reads the stored frames back, in order (may be called more than once).
    fn frames(&mut self) -> Result<impl Iterator<Item = Result<RgbImage>> + '_> {
        let path = &self.file.path;
        self.writer
            .flush()
            .with_context(|| format!("writing {}", path.display()))?;
        let mut reader = BufReader::with_capacity(
            1 << 20,
            File::open(path).with_context(|| format!("reading {}", path.display()))?,
        );
        let (w, h) = (self.width, self.height);
        Ok((0..self.runs.len()).map(move |_| {
            let mut buf = vec![0u8; w as usize * h as usize * 3];
            reader
                .read_exact(&mut buf)
                .with_context(|| format!("reading {}", path.display()))?;
            Ok(RgbImage::from_raw(w, h, buf).expect("buffer sized for the frame"))
        }))
    }
}

/// A sub-rectangle of a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Rect {
    x: u32,
    y: u32,
    w: u32,
    h: u32,
}

impl Rect {
    fn full(img: &RgbImage) -> Rect {
        Rect {
            x: 0,
            y: 0,
            w: img.width(),
            h: img.height(),
        }
    }
}

/// The bounding box of the pixels that differ between two frames of the same size (`None` when
/// they are identical): only it is re-encoded, the rest of the previous frame stays on screen.
fn changed_rect(prev: &RgbImage, cur: &RgbImage) -> Option<Rect> {
    let w = cur.width() as usize;
    let row = w * 3;
    let rows = || prev.as_raw().chunks(row).zip(cur.as_raw().chunks(row));
    let y0 = rows().position(|(a, b)| a != b)?;
    let y1 = cur.height() as usize - 1 - rows().rev().position(|(a, b)| a != b)?;
    let (mut x0, mut x1) = (w, 0);
    for (a, b) in rows().take(y1 + 1).skip(y0) {
        let first = (0..w).find(|&x| a[x * 3..x * 3 + 3] != b[x * 3..x * 3 + 3]);
        if let Some(first) = first {
            x0 = x0.min(first);
            let last = (first..w)
                .rev()
                .find(|&x| a[x * 3..x * 3 + 3] != b[x * 3..x * 3 + 3]);
            x1 = x1.max(last.unwrap_or(first));
        }
    }
    Some(Rect {
        x: x0 as u32,
        y: y0 as u32,
        w: (x1 - x0 + 1) as u32,
        h: (y1 - y0 + 1) as u32,
    })
}

/// The frame rate as an exact fraction `num / den`: the first continued-fraction convergent
/// within 1e-6 of it, so a typed 29.97 (stored as the f32 29.969999…) becomes 2997/100 and
/// 12 becomes 12/1 — GIF timing is then computed in integers and APNG delays are exact.
fn fps_ratio(fps: f32) -> (u64, u64) {
    ratio_near(fps as f64, 1e-6, 1_000_000)
}

/// The first convergent of `x` (> 0) within relative tolerance `tol`, or the last one whose
/// numerator and denominator are both ≤ `max` (`tol` 0: the best such approximation).
fn ratio_near(x: f64, tol: f64, max: u64) -> (u64, u64) {
    let (mut h0, mut h1, mut k0, mut k1) = (0u64, 1u64, 1u64, 0u64);
    let mut best = ((x.round() as u64).clamp(1, max), 1);
    let mut r = x;
    for _ in 0..64 {
        let a = r.floor();
        if a > max as f64 {
            break;
        }
        let (h, k) = (a as u64 * h1 + h0, a as u64 * k1 + k0);
        if h > max || k > max {
            break;
        }
        if h > 0 {
            best = (h, k);
            if (h as f64 / k as f64 - x).abs() <= tol * x {
                break;
            }
        }
        let frac = r - a;
        if frac < 1e-12 {
            break;
        }
        r = 1.0 / frac;
        (h0, h1, k0, k1) = (h1, h, k1, k);
    }
    best
}
