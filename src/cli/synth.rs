//! `marionette synth`: writes synthetic training pairs with their ground truth, and a sheet.

use crate::imaging::{flow_to_color, save_image_atomic};
use crate::synth::{contact_sheet, render_scene_look, Look, SynthConfig};
use anyhow::{Context, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct SynthArgs {
    /// Number of pairs.
    #[arg(long, default_value_t = 16)]
    pub count: usize,
    /// Image size HxW.
    #[arg(long, default_value = "256x256", value_parser = super::parse_hw)]
    pub size: (usize, usize),
    /// First pair seed (pair i uses seed + i).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Output folder.
    #[arg(long)]
    pub out: PathBuf,
    /// Instead of pairs, one person's motion clip of `--count` frames, named as OpenPose names
    /// a video's frames: `clip_<12 digits>.png` and `clip_<12 digits>_keypoints.json`.
    #[arg(long, value_enum)]
    pub motion: Option<crate::synth::motion::Motion>,
    /// drawn (procedural patterns, as `eval` and GFLA's training) or photo (garments and
    /// backdrops textured from photographs, as the refiner's training).
    #[arg(long, value_enum, default_value = "drawn")]
    pub look: Look,
}

/// Per pair `NNNNNN_`: source.png, target.png, source.json / target.json (OpenPose), flow.png
/// (colour wheel), flow.bin (f32 little-endian, planar Δx then Δy, H×W each), visibility.png;
/// plus sheet.png of the first 16 pairs.
pub fn run(args: &SynthArgs) -> Result<()> {
    anyhow::ensure!(args.count <= 1_000_000, "--count {} is absurd", args.count);
    let (height, width) = args.size;
    anyhow::ensure!(height >= 32 && width >= 32, "--size must be at least 32x32");
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let cfg = SynthConfig { height, width };
    if let Some(motion) = args.motion {
        return write_clip(args, motion, &cfg);
    }
    let bar = ProgressBar::new(args.count as u64).with_style(ProgressStyle::with_template(
        "{elapsed_precise} [{bar:30}] {pos}/{len} pairs ({per_sec})",
    )?);
    let t0 = std::time::Instant::now();
    let mut sheet_pairs = Vec::new();
    for chunk_start in (0..args.count).step_by(64) {
        let n = 64.min(args.count - chunk_start);
        let pairs: Vec<_> = (0..n)
            .into_par_iter()
            .map(|i| render_scene_look(args.seed + (chunk_start + i) as u64, &cfg, args.look).pair)
            .collect();
        for (i, p) in pairs.iter().enumerate() {
            let stem = args.out.join(format!("{:06}", chunk_start + i));
            let name = |s: &str| PathBuf::from(format!("{}_{s}", stem.display()));
            save_image_atomic(&p.source, &name("source.png"))?;
            save_image_atomic(&p.target, &name("target.png"))?;
            for (pose, file) in [
                (&p.source_pose, "source.json"),
                (&p.target_pose, "target.json"),
            ] {
                crate::pose::write_openpose(name(file), pose, Some((width as u32, height as u32)))
                    .with_context(|| format!("writing {}", name(file).display()))?;
            }
            let plane = height * width;
            let colour = flow_to_color(&p.flow.data[..plane], &p.flow.data[plane..], height, width);
            save_image_atomic(&colour, &name("flow.png"))?;
            let bytes: Vec<u8> = p.flow.data.iter().flat_map(|v| v.to_le_bytes()).collect();
            crate::util::fs::write_atomic(&name("flow.bin"), &bytes)?;
            let vis = image::GrayImage::from_fn(width as u32, height as u32, |x, y| {
                image::Luma([(p.visibility[y as usize * width + x as usize] * 255.0).round() as u8])
            });
            save_image_atomic(
                &image::DynamicImage::ImageLuma8(vis).to_rgb8(),
                &name("visibility.png"),
            )?;
            bar.inc(1);
        }
        for p in pairs {
            if sheet_pairs.len() < 16 {
                sheet_pairs.push(p);
            }
        }
    }
    bar.finish();
    save_image_atomic(&contact_sheet(&sheet_pairs), &args.out.join("sheet.png"))?;
    println!(
        "{} pairs in {:.1} s ({:.1} pairs/s including PNG writing) -> {}",
        args.count,
        t0.elapsed().as_secs_f64(),
        args.count as f64 / t0.elapsed().as_secs_f64(),
        args.out.display()
    );
    Ok(())
}

/// `--motion`: the clip's frames and their keypoints.
fn write_clip(
    args: &SynthArgs,
    motion: crate::synth::motion::Motion,
    cfg: &SynthConfig,
) -> Result<()> {
    anyhow::ensure!(
        args.count <= 10_000,
        "--count {} frames is absurd",
        args.count
    );
    let clip = crate::synth::motion::render_clip(motion, args.count, args.seed, cfg);
    let canvas = Some((cfg.width as u32, cfg.height as u32));
    for (i, (img, pose)) in clip.iter().enumerate() {
        let stem = args.out.join(format!("clip_{i:012}"));
        save_image_atomic(img, &stem.with_extension("png"))?;
        let json = PathBuf::from(format!("{}_keypoints.json", stem.display()));
        crate::pose::write_openpose(&json, pose, canvas)
            .with_context(|| format!("writing {}", json.display()))?;
    }
    println!(
        "{} frames of {motion:?} -> {}",
        clip.len(),
        args.out.display()
    );
    Ok(())
}
