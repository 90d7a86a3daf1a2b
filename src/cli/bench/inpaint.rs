//! `marionette bench --model inpaint`: times the two background fills on a megapixel scene,
//! PatchMatch (the plate) and diffusion (the quick first fill), median of N each, with their
//! PSNR / SSIM inside the hole when the true background is known (synthetic scenes). Last
//! line `inpaint_ms <median PatchMatch ms>`.

use anyhow::{Context, Result};
use image::{GrayImage, Luma, RgbImage};

use super::args::BenchArgs;
use super::timing::time;
use crate::eval::plate::{plate_scene, score_fill};
use crate::imaging::inpaint::{fill_diffusion, fill_patchmatch, PatchMatchParams};
use crate::imaging::open_photo;

/// The default scene: about a megapixel, portrait like the pose fixtures.
const DEFAULT_HW: (usize, usize) = (1152, 896);
/// Matte dilation relative to the shorter side (3 px at 192, as in `tests/inpaint.rs`).
const DILATE_PER_PX: f64 = 3.0 / 192.0;

/// What is filled: the photo, the hole, and the true plate when known.
struct Scene {
    label: String,
    image: RgbImage,
    hole: GrayImage,
    truth: Option<RgbImage>,
}

/// A centred upright ellipse covering about a fifth of the frame: a person-sized hole.
fn ellipse_hole(w: u32, h: u32) -> GrayImage {
    let (cx, cy, ax, ay) = (
        w as f32 / 2.0,
        h as f32 * 0.55,
        w as f32 * 0.18,
        h as f32 * 0.38,
    );
    GrayImage::from_fn(w, h, |x, y| {
        let d = ((x as f32 + 0.5 - cx) / ax).powi(2) + ((y as f32 + 0.5 - cy) / ay).powi(2);
        Luma([if d < 1.0 { 255 } else { 0 }])
    })
}

fn scene(args: &BenchArgs) -> Result<Scene> {
    if let Some(path) = &args.image {
        let mut image = open_photo(path)?;
        if let Some((h, w)) = args.size {
            image = image::imageops::resize(
                &image,
                w as u32,
                h as u32,
                image::imageops::FilterType::Triangle,
            );
        }
        let hole = ellipse_hole(image.width(), image.height());
        return Ok(Scene {
            label: format!("{} with a centred elliptic hole", path.display()),
            image,
            hole,
            truth: None,
        });
    }
    let (h, w) = args.size.unwrap_or(DEFAULT_HW);
    anyhow::ensure!(
        h >= 32 && w >= 32,
        "--size: a synthetic scene needs at least 32x32"
    );
    let dilate = (w.min(h) as f64 * DILATE_PER_PX).round().max(1.0) as u32;
    // The first seed with a textured background: the case an exemplar fill exists for.
    let (seed, s) = (0u64..)
        .map(|seed| (seed, plate_scene(seed, w, h, dilate)))
        .find(|(_, s)| s.textured)
        .context("no textured synthetic scene")?;
    Ok(Scene {
        label: format!("synthetic scene {seed} (textured background, matte dilated {dilate} px)"),
        image: s.image,
        hole: s.hole,
        truth: Some(s.truth),
    })
}

pub fn run(args: &BenchArgs) -> Result<()> {
    let s = scene(args)?;
    let (w, h) = s.image.dimensions();
    let holes = s.hole.as_raw().iter().filter(|&&v| v > 127).count();
    println!("{}", s.label);
    println!(
        "{w}×{h} = {:.2} MP, hole {:.1}% of the frame, {} CPU threads, median of {}",
        (w * h) as f64 / 1e6,
        100.0 * holes as f64 / (w * h) as f64,
        rayon::current_num_threads(),
        args.runs.max(1)
    );
    let params = PatchMatchParams::default();
    let (diff_ms, diff) = time(args.warmup, args.runs, || {
        Ok(fill_diffusion(&s.image, &s.hole)?)
    })?;
    let (pm_ms, pm) = time(args.warmup, args.runs, || {
        Ok(fill_patchmatch(&s.image, &s.hole, &params, &|| false)?)
    })?;
    for (name, ms, fill) in [("diffusion", diff_ms, &diff), ("patchmatch", pm_ms, &pm)] {
        let quality = match &s.truth {
            Some(truth) => {
                let q = score_fill(fill, truth, &s.hole)?;
                format!(
                    "  PSNR {:.2} dB, SSIM {:.4} inside the hole",
                    q.psnr, q.ssim
                )
            }
            None => String::new(),
        };
        println!("{name:<10} {ms:8.1} ms{quality}");
    }
    println!("inpaint_ms {pm_ms:.1}");
    Ok(())
}
