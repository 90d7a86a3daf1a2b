//! `marionette detect PHOTO`: finds the person's skeleton (BlazePose) and writes it as
//! OpenPose JSON and/or a drawing, and the person's matte; `marionette fetch-models` gets the
//! two BlazePose models.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args;

use crate::detect::{models, Detection, MatteRefine, PoseDetector};
use crate::imaging::draw::{draw_segment, draw_skeleton};
use crate::imaging::{GuidedParams, Matte};
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
    /// Write the person's matte: a grey PNG at the photo's size (white = the person).
    #[arg(long)]
    pub matte: Option<PathBuf>,
    /// Take the person from this skeleton (OpenPose JSON, photo pixels) instead of detecting
    /// them: the landmark model runs on the crop it gives. Only `--matte` is written.
    #[arg(long, requires = "matte", conflicts_with_all = ["json", "overlay"])]
    pub source_pose: Option<PathBuf>,
    /// Keep the matte as the upsampled 256x256 mask (no edge refinement with the photo).
    #[arg(long)]
    pub no_refine: bool,
    /// Edge refinement window radius in photo pixels (default: from the person's scale).
    #[arg(long, requires = "refine_eps", conflicts_with = "no_refine")]
    pub refine_radius: Option<usize>,
    /// Edge refinement ε (guide intensities in [0, 1]; smaller follows weaker edges).
    #[arg(long, requires = "refine_radius")]
    pub refine_eps: Option<f32>,
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
    detector.refine_matte = match (args.no_refine, args.refine_radius, args.refine_eps) {
        (true, _, _) => MatteRefine::Off,
        (false, Some(radius), Some(eps)) => {
            if radius == 0 || radius > 256 || !(eps > 0.0 && eps.is_finite()) {
                anyhow::bail!("--refine-radius must be 1..=256 and --refine-eps positive");
            }
            MatteRefine::With(GuidedParams { radius, eps })
        }
        _ => MatteRefine::Auto,
    };
    if let Some(pose_path) = &args.source_pose {
        let pose = pose::read_openpose(pose_path, 0)?;
        let t = Instant::now();
        let matte = detector.matte_for_pose(&img, &pose).with_context(|| {
            format!(
                "the matte of {} for the skeleton in {}",
                args.photo.display(),
                pose_path.display()
            )
        })?;
        println!(
            "matte for the skeleton in {}: {:.1} ms, {:.1} % of the photo",
            pose_path.display(),
            t.elapsed().as_secs_f64() * 1e3,
            100.0 * matte.coverage(0.5)
        );
        let path = args
            .matte
            .as_deref()
            .context("--source-pose needs --matte")?;
        return save_matte(&matte, path);
    }
    // Without `--matte` the graph without the segmentation head runs (faster).
    let found: Option<(Detection, Option<Matte>)> = if args.matte.is_some() {
        detector
            .detect_with_matte(&img)
            .map(|f| f.map(|(d, m)| (d, Some(m))))
    } else {
        detector.detect(&img).map(|f| f.map(|d| (d, None)))
    }
    .with_context(|| format!("detecting the person in {}", args.photo.display()))?;
    let Some((det, matte)) = found else {
        anyhow::bail!(
            "no person found in {} (the detector needs a score of at least {})",
            args.photo.display(),
            crate::detect::decode::MIN_DETECTION_SCORE
        );
    };
    report(&det);
    if let (Some(path), Some(matte)) = (&args.matte, &matte) {
        save_matte(matte, path)?;
    }
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

fn save_matte(matte: &Matte, path: &Path) -> Result<()> {
    crate::imaging::save_image_atomic(&matte.to_image(), path)?;
    eprintln!("wrote {}", path.display());
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
        "time: {:.1} ms (detector {:.1}, landmarks {:.1}, matte {:.1}, crops and decoding {:.1})",
        t.total_ms(),
        t.detector_ms,
        t.landmark_ms,
        t.matte_ms,
        t.total_ms() - t.detector_ms - t.landmark_ms - t.matte_ms
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
