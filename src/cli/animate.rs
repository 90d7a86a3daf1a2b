//! `marionette animate`: the person of a photo moved through keyframes or a driver's pose
//! sequence, every frame through the default pipeline (the composite at the photo's size, or
//! `--max-side`), written as a GIF, an APNG or a folder of PNGs.

use crate::animate::interp::interpolate;
use crate::animate::keyframes::{Timeline, FPS_RANGE};
use crate::animate::motion::{load_motion, MotionClip};
use crate::animate::render::{export_frames, ExportSettings, Progress};
use crate::animate::retarget::{retarget, RetargetOptions, Transfer};
use crate::detect::PoseDetector;
use crate::imaging::animation::{AnimFormat, AnimOptions};
use crate::pose::rig::Rig;
use anyhow::{Context, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

#[derive(Args, Debug)]
pub struct AnimateArgs {
    /// The photo.
    #[arg(long)]
    pub image: PathBuf,
    /// The skeleton of the person in the photo (OpenPose JSON); found by the pose detector when
    /// omitted.
    #[arg(long)]
    pub source_pose: Option<PathBuf>,
    /// Which person of a multi-person source pose file.
    #[arg(long, default_value_t = 0)]
    pub person: usize,
    /// Keyframes: a keyframes JSON or an editor project with keyframes.
    #[arg(long, required_unless_present = "poses", conflicts_with = "poses")]
    pub keyframes: Option<PathBuf>,
    /// A driver's motion: a folder of OpenPose `*_keypoints.json`, a JSON with frames, or a
    /// folder of PNG/JPG frames (detected frame by frame).
    #[arg(long)]
    pub poses: Option<PathBuf>,
    /// Output frame rate (default: the keyframes' own, or the driver's, or 12).
    #[arg(long)]
    pub fps: Option<f32>,
    /// The driver's frame rate when its files do not say (default: one driver frame per
    /// output frame).
    #[arg(long)]
    pub driver_fps: Option<f32>,
    /// Output: `*.gif`, `*.png` (APNG), or a folder (ending in `/`) for a PNG sequence.
    #[arg(long)]
    pub out: PathBuf,
    /// Frames to write, `FIRST:LAST` (1-based, inclusive).
    #[arg(long, value_parser = parse_range)]
    pub range: Option<(usize, usize)>,
    /// Scale the photo so its longer side is this many pixels (default: its own size).
    #[arg(long)]
    pub max_side: Option<u32>,
    /// GIF: no Floyd–Steinberg dithering (flat colours, smaller files).
    #[arg(long)]
    pub no_dither: bool,
    /// Play once instead of looping.
    #[arg(long)]
    pub once: bool,
    /// Driver: jitter smoothing, σ in driver frames of the centred local-linear filter (0 = off).
    #[arg(long, default_value_t = 1.5)]
    pub smooth: f32,
    /// Driver: the longest run of frames a missing joint is filled over from its neighbours.
    #[arg(long, default_value_t = 10)]
    pub max_gap: usize,
    /// Driver: `pose` = the person takes the driver's bone directions; `motion` = the person
    /// keeps their posture in the photo and turns each bone as the driver's turns (for a
    /// driver seen from another side than the person).
    #[arg(long, value_enum, default_value_t = Transfer::Pose)]
    pub transfer: Transfer,
    /// Driver: keep the person in place (the driver's root motion is not applied; it never is
    /// to a person whose hips the photo does not show).
    #[arg(long)]
    pub no_root_motion: bool,
    /// Print the frame-to-frame change figures (static region, person, still part of it).
    #[arg(long)]
    pub stats: bool,
}

/// `FIRST:LAST`, 1-based inclusive, → 0-based inclusive.
fn parse_range(s: &str) -> Result<(usize, usize), String> {
    let (a, b) = s
        .split_once(':')
        .ok_or_else(|| format!("`{s}`: expected FIRST:LAST, e.g. 1:24"))?;
    let parse = |v: &str| v.trim().parse::<usize>().map_err(|e| format!("`{s}`: {e}"));
    let (a, b) = (parse(a)?, parse(b)?);
    if a == 0 || b < a {
        return Err(format!("`{s}`: frames count from 1 and LAST ≥ FIRST"));
    }
    Ok((a - 1, b - 1))
}

pub fn run(args: &AnimateArgs) -> Result<()> {
    let format = AnimFormat::from_path(&args.out)?;
    let photo = crate::imaging::open_photo(&args.image)?;
    let wh = (photo.width() as f32, photo.height() as f32);
    let detector = PoseDetector::load_default()
        .context("the pose detector cuts the person out of the photo for every frame")?;
    let source = match &args.source_pose {
        Some(path) => {
            let pose = crate::pose::read_openpose(path, args.person)
                .with_context(|| format!("reading the source pose {}", path.display()))?;
            Rig::from_pose(&pose, wh)
        }
        None => {
            let found = detector
                .detect(&photo)?
                .with_context(|| format!("{}: no person found", args.image.display()))?;
            println!(
                "found the person: {} of 18 joints",
                found.pose.num_present()
            );
            Rig::from_pose(&found.pose, wh)
        }
    };
    // Depth orders come with the keyframes; a driving video's frames are all automatic.
    let (frames, orders, fps) = match (&args.keyframes, &args.poses) {
        (Some(path), _) => {
            let timeline = Timeline::load(path)?;
            let fps = args.fps.unwrap_or(timeline.fps);
            check_fps(fps)?;
            (timeline.frames(fps), timeline.frame_orders(fps), fps)
        }
        (None, Some(path)) => {
            let (frames, fps) = driven_frames(args, path, &source)?;
            (frames, Vec::new(), fps)
        }
        (None, None) => anyhow::bail!("give --keyframes or --poses"),
    };
    let settings = ExportSettings {
        fps,
        range: args.range,
        max_side: args.max_side,
        anim: AnimOptions {
            fps,
            dither: !args.no_dither,
            loop_forever: !args.once,
        },
        measure_flicker: args.stats,
        orders,
    };
    let bar = ProgressBar::new(frames.len() as u64).with_style(ProgressStyle::with_template(
        "{spinner} {msg} [{bar:30}] {pos}/{len} frames, {elapsed} (eta {eta})",
    )?);
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    let progress = |p: Progress| match p {
        Progress::Layers => bar.set_message("matte and background plate"),
        Progress::Frame { done, total } => {
            bar.set_message("frames");
            bar.set_length(total as u64);
            bar.set_position(done as u64);
        }
    };
    // Ctrl+C cancels between frames: the writer then removes its temporary files and whatever
    // was under the output's name before stays (a second Ctrl+C still ends the process).
    let cancelled = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&cancelled);
    let _ = ctrlc::set_handler(move || {
        if flag.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
    });
    let report = export_frames(
        &photo,
        &source,
        &frames,
        &args.out,
        format,
        &settings,
        &detector,
        &progress,
        &|| cancelled.load(Ordering::SeqCst),
    )?;
    bar.finish_and_clear();
    println!(
        "wrote {} ({}, {} frames at {fps} fps, {}×{}; {} rendered, the rest held)",
        args.out.display(),
        format.name(),
        report.frames,
        report.size.0,
        report.size.1,
        report.rendered
    );
    println!(
        "time: layers {:.2} s, frames {:.2} s ({:.2} frames/s)",
        report.layers_seconds,
        report.frames_seconds,
        report.frames_per_second()
    );
    if let Some(f) = &report.flicker {
        println!(
            "flicker over {} frame pairs (mean |Δ| of 0–255 values): static {:.4} (max {}), person {:.3}, still part of the person {:.4} (worst pair {:.4})",
            f.pairs, f.static_mean, f.static_max, f.person_mean, f.still_mean, f.still_worst
        );
    }
    Ok(())
}

fn check_fps(fps: f32) -> Result<()> {
    anyhow::ensure!(
        FPS_RANGE.contains(&fps),
        "--fps {fps} is outside {}–{}",
        FPS_RANGE.start(),
        FPS_RANGE.end()
    );
    Ok(())
}

/// The driver's motion retargeted onto the person and resampled to the output frame rate.
fn driven_frames(
    args: &AnimateArgs,
    path: &std::path::Path,
    source: &Rig,
) -> Result<(Vec<Rig>, f32)> {
    let bar = ProgressBar::new_spinner().with_message(format!("reading {}", path.display()));
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    let clip: MotionClip = load_motion(
        path,
        &|done, total| bar.set_message(format!("detecting the driver: frame {done}/{total}")),
        &|| false,
    )?;
    bar.finish_and_clear();
    let opts = RetargetOptions {
        smooth_sigma: args.smooth,
        max_gap: args.max_gap,
        root_motion: !args.no_root_motion,
        transfer: args.transfer,
    };
    let driven = retarget(&clip, source, &opts);
    anyhow::ensure!(!driven.is_empty(), "{}: no frames", path.display());
    let driver_fps = args.driver_fps.or(clip.fps);
    let fps = args.fps.or(driver_fps).unwrap_or(12.0);
    check_fps(fps)?;
    let driver_fps = driver_fps.unwrap_or(fps);
    println!(
        "driver: {} frames from {} at {driver_fps} fps",
        driven.len(),
        clip.source
    );
    Ok((resample(&driven, driver_fps, fps), fps))
}

/// Frames at `fps` from frames at `from_fps`, interpolated in the kinematic tree between the
/// two nearest driver frames.
fn resample(frames: &[Rig], from_fps: f32, fps: f32) -> Vec<Rig> {
    if (from_fps - fps).abs() < 1e-6 || frames.len() < 2 {
        return frames.to_vec();
    }
    let duration = (frames.len() - 1) as f32 / from_fps;
    let n = (duration * fps + 1e-3).floor() as usize + 1;
    (0..n)
        .map(|i| {
            let pos = i as f32 * from_fps / fps;
            let k = (pos.floor() as usize).min(frames.len() - 1);
            let next = (k + 1).min(frames.len() - 1);
            interpolate(&frames[k], &frames[next], pos - k as f32)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_one_based_and_inclusive() {
        assert_eq!(parse_range("1:24"), Ok((0, 23)));
        assert!(parse_range("0:3").is_err());
        assert!(parse_range("5:2").is_err());
        assert!(parse_range("5").is_err());
    }

    #[test]
    fn resampling_keeps_the_ends_and_the_duration() {
        let a = Rig::template(100.0, 100.0);
        let mut b = a.clone();
        b.rotate_limb(4, [0.0, 0.0]);
        let frames = vec![a.clone(), b.clone(), a.clone()];
        // 3 frames at 2 fps = 1 s; at 6 fps that is 7 frames, the middle one the driver's.
        let out = resample(&frames, 2.0, 6.0);
        assert_eq!(out.len(), 7);
        assert_eq!(out[0], a);
        assert_eq!(out[3], b);
        assert_eq!(out[6], a);
    }
}
