//! `marionette eval`: copy-source, the puppet warp, a trained GFLA and both composited into the
//! photo, on held-out synthetic scenes at any size.

use crate::eval::compare::{evaluate, table, EvalPlan};
use crate::imaging::save_image_atomic;
use crate::model::gfla::{weights as gfla_weights, GflaConfig};
use crate::train::data::HELD_OUT_SEEDS;
use anyhow::{Context, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct EvalArgs {
    /// GFLA weights to evaluate (default: the shipped model).
    #[arg(long)]
    pub weights: Option<PathBuf>,
    /// Held-out pairs to evaluate.
    #[arg(long, default_value_t = 500)]
    pub count: usize,
    /// First seed; seeds below the held-out range were used for training and are refused.
    #[arg(long, default_value_t = HELD_OUT_SEEDS)]
    pub first_seed: u64,
    /// Output folder for report.json and sheet.png.
    #[arg(long)]
    pub out: PathBuf,
    /// Pairs per forward pass.
    #[arg(long, default_value_t = 8)]
    pub batch: usize,
    /// Rows of the example sheet.
    #[arg(long, default_value_t = 8)]
    pub sheet_rows: usize,
    /// cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// Frame size HxW of the scenes (a whole multiple of the model's input, e.g. 256x192 for
    /// the shipped 128×96 model); the model sees them box-filtered down to its input, its
    /// outputs are brought up. Default: the model's input size.
    #[arg(long, value_parser = super::parse_hw)]
    pub size: Option<(usize, usize)>,
    /// Refiner weights for the `refined` row (default: the shipped refiner, when there is one).
    #[arg(long)]
    pub refiner: Option<PathBuf>,
    /// How the scenes are dressed: drawn (procedural patterns, the tables in the README) or
    /// photo (garments and backdrops textured from photographs, as the refiner trains on).
    #[arg(long, value_enum, default_value = "drawn")]
    pub look: crate::synth::Look,
}

pub fn run(args: &EvalArgs) -> Result<()> {
    anyhow::ensure!(
        args.first_seed >= HELD_OUT_SEEDS,
        "--first-seed {} is in the training range; held-out seeds start at {HELD_OUT_SEEDS}",
        args.first_seed
    );
    anyhow::ensure!(
        (1..=100_000).contains(&args.count),
        "--count must be 1..=100000"
    );
    let device = super::parse_device(&args.device)?;
    let path = match &args.weights {
        Some(p) => p.clone(),
        None => crate::model::shipped::default_gfla_weights()?,
    };
    let (model, _) = gfla_weights::load(&path, None, &GflaConfig::synth(), &device)
        .with_context(|| format!("loading {}", path.display()))?;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let bar = ProgressBar::new(args.count as u64).with_style(ProgressStyle::with_template(
        "{elapsed_precise} [{bar:30}] {pos}/{len} pairs ({eta} left)",
    )?);
    let plan = EvalPlan {
        count: args.count,
        first_seed: args.first_seed,
        batch: args.batch,
        sheet_rows: args.sheet_rows,
        size_hw: args.size,
        look: args.look,
    };
    let refiner_path = args
        .refiner
        .clone()
        .or_else(crate::model::shipped::default_refiner_weights);
    let refiner = match &refiner_path {
        Some(p) => Some(
            crate::model::refiner::load(p, &device)
                .with_context(|| format!("loading the refiner {}", p.display()))?,
        ),
        None => None,
    };
    let (report, sheet) = evaluate(&model, &plan, refiner.as_ref(), &device, |done| {
        bar.set_position(done as u64)
    })?;
    bar.finish_and_clear();
    print!("{}", table(&report));
    crate::util::fs::write_atomic(
        &args.out.join("report.json"),
        serde_json::to_string_pretty(&report)?.as_bytes(),
    )?;
    save_image_atomic(&sheet, &args.out.join("sheet.png"))?;
    println!("wrote {}", args.out.join("report.json").display());
    Ok(())
}
