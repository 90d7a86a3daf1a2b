//! Frames through the same default pipeline as a still: the photo's layers (matte + plate) once,
//! then every frame's pose composited over them ([`crate::composite::composite_puppet`], what
//! `render` and the editor's export use), into an animated-image writer.
//!
//! A run of equal poses (a held keyframe, a driver standing still) is rendered once and written
//! once with a longer delay; the writer never publishes a half-written file, and a cancel
//! leaves nothing behind.

use super::temporal::{Flicker, FlickerMeter};
use crate::composite::pipeline::{Edit, Renderer};
use crate::composite::{build_layers, Composited, PhotoLayers};
use crate::detect::PoseDetector;
use crate::imaging::animation::{AnimFormat, AnimOptions, AnimWriter};
use crate::pose::rig::Rig;
use crate::puppet::{LimbOrder, PuppetConfig};
use anyhow::{Context, Result};
use image::RgbImage;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// What an export is asked for (the editor's dialog and `marionette animate` share it).
#[derive(Clone, Debug)]
pub struct ExportSettings {
    /// Frames per second of the output (also `anim.fps`).
    pub fps: f32,
    /// First and last frame (inclusive) of the frames given; `None` = all.
    pub range: Option<(usize, usize)>,
    /// The photo is scaled so its longer side is this before anything is rendered (`None` =
    /// the photo's own resolution).
    pub max_side: Option<u32>,
    pub anim: AnimOptions,
    /// Measure frame-to-frame change ([`Flicker`]) while rendering.
    pub measure_flicker: bool,
    /// The depth order of each frame given to [`export_frames`] (indexed before `range`
    /// selects; [`crate::animate::keyframes::Timeline::frame_orders`]). Frames past its end
    /// (all of them when it is empty) leave every limb automatic.
    pub orders: Vec<LimbOrder>,
}

impl Default for ExportSettings {
    fn default() -> Self {
        Self {
            fps: 12.0,
            range: None,
            max_side: None,
            anim: AnimOptions::default(),
            measure_flicker: false,
            orders: Vec::new(),
        }
    }
}

/// Where an export is.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Progress {
    /// Cutting the person out and filling the background plate (once).
    Layers,
    /// `done` of `total` frames written.
    Frame { done: usize, total: usize },
}

/// What an export did.
#[derive(Clone, Debug)]
pub struct ExportReport {
    /// Frames in the output (counting held ones).
    pub frames: usize,
    /// Frames actually rendered (one per run of equal poses).
    pub rendered: usize,
    pub size: (u32, u32),
    pub layers_seconds: f64,
    /// Rendering and encoding, after the layers.
    pub frames_seconds: f64,
    pub files: Vec<PathBuf>,
    pub flicker: Option<Flicker>,
}

impl ExportReport {
    /// Output frames per second of wall time, layers excluded.
    pub fn frames_per_second(&self) -> f64 {
        self.frames as f64 / self.frames_seconds.max(1e-9)
    }
}

/// The photo and skeletons at the export's size: the photo resized (Lanczos) when `max_side` is
/// smaller than its longer side, the rigs scaled with it.
pub fn at_size(
    photo: &RgbImage,
    source: &Rig,
    frames: &[Rig],
    max_side: Option<u32>,
) -> Result<(RgbImage, Rig, Vec<Rig>)> {
    let (w, h) = photo.dimensions();
    let longer = w.max(h);
    let Some(side) = max_side.filter(|&s| s < longer) else {
        return Ok((photo.clone(), source.clone(), frames.to_vec()));
    };
    anyhow::ensure!(side >= 16, "an output of {side} px a side is too small");
    let k = side as f32 / longer as f32;
    let (nw, nh) = (
        ((w as f32 * k).round() as u32).max(1),
        ((h as f32 * k).round() as u32).max(1),
    );
    let small = image::imageops::resize(photo, nw, nh, image::imageops::FilterType::Lanczos3);
    let (sx, sy) = (nw as f32 / w as f32, nh as f32 / h as f32);
    let scale = |r: &Rig| Rig {
        points: r.points.map(|[x, y]| [x * sx, y * sy]),
        visible: r.visible,
    };
    Ok((small, scale(source), frames.iter().map(scale).collect()))
}

/// Renders `frames` (the target rig of each output frame) of the person whose skeleton in
/// `photo` is `source`, and writes them to `path` as `format`.
#[allow(clippy::too_many_arguments)]
pub fn export_frames(
    photo: &RgbImage,
    source: &Rig,
    frames: &[Rig],
    path: &Path,
    format: AnimFormat,
    settings: &ExportSettings,
    detector: &PoseDetector,
    progress: &dyn Fn(Progress),
    cancel: &dyn Fn() -> bool,
) -> Result<ExportReport> {
    let frames = select(frames, settings.range)?;
    let (photo, source, frames) = at_size(photo, source, frames, settings.max_side)?;
    progress(Progress::Layers);
    let t0 = Instant::now();
    let layers = build_layers(detector, &photo, &source.to_pose(), cancel)
        .context("building the photo's matte and background plate")?;
    let layers_seconds = t0.elapsed().as_secs_f64();
    write_frames(
        &layers, &source, &frames, path, format, settings, progress, cancel,
    )
    .map(|report| ExportReport {
        layers_seconds,
        ..report
    })
}

/// [`export_frames`] over layers already built at the frames' size.
#[allow(clippy::too_many_arguments)]
pub fn write_frames(
    layers: &PhotoLayers,
    source: &Rig,
    frames: &[Rig],
    path: &Path,
    format: AnimFormat,
    settings: &ExportSettings,
    progress: &dyn Fn(Progress),
    cancel: &dyn Fn() -> bool,
) -> Result<ExportReport> {
    anyhow::ensure!(!frames.is_empty(), "no frames to export");
    let (w, h) = layers.photo.dimensions();
    let anim = AnimOptions {
        fps: settings.fps,
        ..settings.anim.clone()
    };
    let t0 = Instant::now();
    // Every frame by the default method, as the editor and `render` draw it.
    let mut renderer = Renderer::default_shipped()?;
    let mut writer = AnimWriter::create(path, format, w, h, &anim)?;
    let source_pose = source.to_pose();
    let mut meter = settings.measure_flicker.then(FlickerMeter::default);
    let total = frames.len();
    // `frames` are what `range` selected: frame i is frame first + i of the orders.
    let first = settings.range.map_or(0, |(a, _)| a);
    let order = |i: usize| settings.orders.get(first + i).copied().unwrap_or_default();
    let (mut done, mut rendered) = (0usize, 0usize);
    progress(Progress::Frame { done, total });
    for run in runs(frames, &order) {
        if cancel() {
            anyhow::bail!("cancelled");
        }
        let target = &frames[run.start];
        // A textured fill per frame would change its patches from frame to frame (see
        // `PuppetConfig::textured_fill`); the grain of the one fill per photo under the arms
        // (`PuppetConfig::photo_detail`) stays where it is on the body.
        let cfg = PuppetConfig {
            order: order(run.start),
            textured_fill: false,
            photo_detail: true,
            ..Default::default()
        };
        let target_pose = target.to_pose();
        let edit = Edit {
            source: &source_pose,
            target: &target_pose,
            puppet: &cfg,
        };
        let out: Composited = renderer
            .render(&layers.photo, Some(layers), &edit)
            .and_then(|e| e.composited.context("no layered result"))
            .with_context(|| format!("rendering frame {}", run.start + 1))?;
        rendered += 1;
        if let Some(m) = meter.as_mut() {
            m.push(&out, target);
        }
        writer.push(&out.image, run.len() as u32)?;
        done += run.len();
        progress(Progress::Frame { done, total });
    }
    if cancel() {
        anyhow::bail!("cancelled");
    }
    let files = writer.finish()?;
    Ok(ExportReport {
        frames: total,
        rendered,
        size: (w, h),
        layers_seconds: 0.0,
        frames_seconds: t0.elapsed().as_secs_f64(),
        files,
        flicker: meter.map(|m| m.figures),
    })
}

/// The frames `range` (inclusive, clamped) selects.
fn select(frames: &[Rig], range: Option<(usize, usize)>) -> Result<&[Rig]> {
    let Some((a, b)) = range else {
        return Ok(frames);
    };
    anyhow::ensure!(
        a <= b && a < frames.len(),
        "frame range {}–{} is outside the clip's 1–{}",
        a + 1,
        b + 1,
        frames.len()
    );
    Ok(&frames[a..=b.min(frames.len() - 1)])
}

/// Runs of consecutive equal poses with equal depth orders, as index ranges.
fn runs(frames: &[Rig], order: &dyn Fn(usize) -> LimbOrder) -> Vec<std::ops::Range<usize>> {
    let mut out: Vec<std::ops::Range<usize>> = Vec::new();
    for (i, f) in frames.iter().enumerate() {
        match out.last_mut() {
            Some(r) if frames[r.start] == *f && order(r.start) == order(i) => r.end = i + 1,
            _ => out.push(i..i + 1),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn held_poses_form_one_run() {
        let a = Rig::template(100.0, 100.0);
        let mut b = a.clone();
        b.points[4][0] += 1.0;
        let frames = vec![a.clone(), a.clone(), b.clone(), a.clone(), a];
        let auto = |_| LimbOrder::default();
        assert_eq!(runs(&frames, &auto), vec![0..2, 2..3, 3..5]);
        // The same pose with another depth order is another picture.
        let behind_from_4 = |i| LimbOrder {
            left_arm: (i >= 4).then_some(crate::puppet::Layer::Behind),
            ..Default::default()
        };
        assert_eq!(runs(&frames, &behind_from_4), vec![0..2, 2..3, 3..4, 4..5]);
        assert_eq!(select(&frames, Some((1, 9))).unwrap().len(), 4);
        assert!(select(&frames, Some((5, 6))).is_err());
    }

    #[test]
    fn sizes_scale_the_photo_and_the_rigs_together() {
        let photo = RgbImage::new(400, 200);
        let rig = Rig::template(400.0, 200.0);
        let (small, s, f) = at_size(&photo, &rig, std::slice::from_ref(&rig), Some(100)).unwrap();
        assert_eq!(small.dimensions(), (100, 50));
        assert_eq!(
            s.points[1],
            [rig.points[1][0] / 4.0, rig.points[1][1] / 4.0]
        );
        assert_eq!(f[0], s);
        // Larger than the photo: its own size.
        assert_eq!(
            at_size(&photo, &rig, &[], Some(1000))
                .unwrap()
                .0
                .dimensions(),
            (400, 200)
        );
    }
}
