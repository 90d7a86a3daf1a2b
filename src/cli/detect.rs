//! `marionette detect PHOTO`: finds the person's skeleton (BlazePose) and writes it as
//! OpenPose JSON and/or a drawing; `marionette fetch-models` gets the two BlazePose models.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;

use crate::detect::{models, Detection, PoseDetector};
use crate::imaging::draw::{draw_segment, draw_skeleton};
use crate::pose::{self, JOINT_NAMES};

#[derive(Args, Debug)]
pub struct DetectArgs {
    /// The photo (PNG or JPEG).
    pub photo: PathBuf,
    /// Write the 18-joint skeleton as OpenPose JSON (photo pixels; missing joints are 0,0,0).
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write the photo with the skeleton, the 33 BlazePose points and the ROI drawn on it.
    #[arg(long)]
    pub overlay: Option<PathBuf>,
    /// Heat-map refinement window: 9 matches `mp.solutions.pose`, 7 MediaPipe's graph file.
    #[arg(long, default_value_t = crate::detect::landmarks::REFINE_KERNEL)]
    pub kernel: usize,
}

#[derive(Args, Debug)]
pub struct FetchModelsArgs {
    /// Folder to install into (default: `$MARIONETTE_MODELS/blazepose`, else the source
    /// tree's `assets/models/blazepose`).
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

pub fn run_fetch(args: &FetchModelsArgs) -> Result<()> {
    let dir = args.dir.clone().unwrap_or_else(models::default_fetch_dir);
    models::fetch(&dir, |msg| eprintln!("{msg}"))
}

pub fn run(args: &DetectArgs) -> Result<()> {
    if !(1..=15).contains(&args.kernel) || args.kernel.is_multiple_of(2) {
        anyhow::bail!("--kernel must be odd, 1..=15 (got {})", args.kernel);
    }
    let img = crate::imaging::open_photo(&args.photo)?;
    let mut detector = PoseDetector::load_default()?;
    detector.refine_kernel = args.kernel;
    let found = detector
        .detect(&img)
        .with_context(|| format!("detecting the person in {}", args.photo.display()))?;
    let Some(det) = found else {
        anyhow::bail!(
            "no person found in {} (the detector needs a score of at least {})",
            args.photo.display(),
            crate::detect::decode::MIN_DETECTION_SCORE
        );
    };
    report(&det);
    let canvas = Some(img.dimensions());
    if let Some(path) = &args.json {
        pose::write_openpose(path, &det.pose, canvas)?;
        eprintln!("wrote {}", path.display());
    }
    if let Some(path) = &args.overlay {
        let mut drawing = img.clone();
        draw_detection(&mut drawing, &det);
        crate::imaging::save_image_atomic(&drawing, path)?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}

/// One line per joint on stdout, then the timings.
fn report(det: &Detection) {
    println!(
        "person: score {:.3}, pose flag {:.3}, {} of 18 joints confident",
        det.person.score,
        det.pose_flag,
        det.pose.num_present()
    );
    for (j, name) in JOINT_NAMES.iter().enumerate() {
        match det.pose.get(j) {
            Some(p) => println!("  {name:<10} {:8.1} {:8.1}  {:.2}", p.x, p.y, p.confidence),
            None => println!("  {name:<10}        -        -"),
        }
    }
    let t = &det.times;
    println!(
        "time: {:.1} ms (detector {:.1}, landmarks {:.1}, crops and decoding {:.1})",
        t.total_ms(),
        t.detector_ms,
        t.landmark_ms,
        t.total_ms() - t.detector_ms - t.landmark_ms
    );
}

/// The ROI square (white), the 33 landmarks (grey dots) and the OpenPose skeleton on top.
pub fn draw_detection(img: &mut image::RgbImage, det: &Detection) {
    let corners =
        [(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)].map(|(u, v)| det.roi.to_image(u, v));
    let thickness = (img.width().max(img.height()) as f32 / 256.0).max(1.5);
    for i in 0..4 {
        draw_segment(
            img,
            corners[i],
            corners[(i + 1) % 4],
            thickness * 0.5,
            [255, 255, 255],
        );
    }
    for lm in &det.landmarks {
        draw_segment(
            img,
            (lm.x, lm.y),
            (lm.x, lm.y),
            thickness * 1.2,
            [200, 200, 200],
        );
    }
    draw_skeleton(img, &det.pose, thickness);
}
