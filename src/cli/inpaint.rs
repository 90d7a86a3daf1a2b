//! `marionette inpaint`: fills a hole in a photo (the background plate behind a person) with
//! the exemplar (PatchMatch) completion or the quick membrane fill, and saves it atomically.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use crate::imaging::inpaint::{fill_diffusion, fill_patchmatch, PatchMatchParams};
use crate::imaging::{open_photo, save_image_atomic};

#[derive(Args, Debug)]
pub struct InpaintArgs {
    /// The photo.
    #[arg(long)]
    pub image: PathBuf,
    /// The hole: an image of the photo's size, pixels brighter than 127 are filled.
    #[arg(long)]
    pub hole: PathBuf,
    /// Where to write the filled photo (.png or .jpg).
    #[arg(long)]
    pub out: PathBuf,
    /// patchmatch (exemplar completion) or diffusion (the quick smooth membrane fill).
    #[arg(long, default_value = "patchmatch", value_parser = ["patchmatch", "diffusion"])]
    pub method: String,
    /// Seed of PatchMatch's random search (the same seed gives the same plate).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

pub fn run(args: &InpaintArgs) -> Result<()> {
    let image = open_photo(&args.image)?;
    let hole = image::DynamicImage::ImageRgb8(
        open_photo(&args.hole)
            .with_context(|| format!("reading the hole mask {}", args.hole.display()))?,
    )
    .to_luma8();
    let spinner = ProgressBar::new_spinner().with_style(
        ProgressStyle::with_template("{spinner} {msg} {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    spinner.set_message(format!("filling with {}", args.method));
    spinner.enable_steady_tick(Duration::from_millis(100));
    let start = Instant::now();
    let filled = match args.method.as_str() {
        "diffusion" => fill_diffusion(&image, &hole),
        _ => {
            let params = PatchMatchParams {
                seed: args.seed,
                ..Default::default()
            };
            fill_patchmatch(&image, &hole, &params, &|| false)
        }
    };
    spinner.finish_and_clear();
    let filled = filled.with_context(|| {
        format!(
            "filling {} inside {}",
            args.image.display(),
            args.hole.display()
        )
    })?;
    let ms = start.elapsed().as_secs_f64() * 1e3;
    save_image_atomic(&filled, &args.out)?;
    let n = hole.as_raw().iter().filter(|&&v| v > 127).count();
    println!(
        "wrote {} ({}×{}, {} hole pixels = {:.1}%, {} in {ms:.0} ms)",
        args.out.display(),
        image.width(),
        image.height(),
        n,
        100.0 * n as f64 / hole.as_raw().len().max(1) as f64,
        args.method
    );
    Ok(())
}
