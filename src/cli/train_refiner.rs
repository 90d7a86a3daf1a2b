//! `marionette train-refiner`: trains the refiner on the compositor's own output (see
//! [`crate::train::refiner`]).

use crate::train::refiner::{self, RefinerTrainConfig, Scores};
use anyhow::{Context, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct TrainRefinerArgs {
    /// Run folder: config.json, log.csv, val.csv, checkpoint/. An existing run resumes.
    #[arg(long)]
    pub run: PathBuf,
    /// Run configuration (JSON, as written by --print-config); the default recipe when omitted.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Override: optimiser steps.
    #[arg(long)]
    pub steps: Option<usize>,
    /// Override: scenes rendered into the training pool.
    #[arg(long)]
    pub pool: Option<usize>,
    /// Override: scenes per batch.
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Override: how the scenes are dressed: photo (garments and backdrops textured from
    /// photographs, the default) or drawn (procedural patterns only, as `eval`'s scenes).
    #[arg(long, value_enum)]
    pub look: Option<crate::synth::Look>,
    /// Override: start from these refiner weights (a fresh optimiser).
    #[arg(long)]
    pub init: Option<PathBuf>,
    /// Override: Adam's learning rate.
    #[arg(long)]
    pub lr: Option<f64>,
    /// Stop (with a checkpoint) after this many minutes of training, pool rendering included.
    #[arg(long)]
    pub minutes: Option<f64>,
    /// Render the pool at once but take the first step only once this file exists.
    #[arg(long)]
    pub start_after: Option<PathBuf>,
    /// Print the configuration as JSON and exit.
    #[arg(long)]
    pub print_config: bool,
    /// cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    pub device: String,
}

struct Bar(ProgressBar);

impl refiner::Progress for Bar {
    fn message(&mut self, text: &str) {
        self.0.println(text);
    }

    fn pool(&mut self, done: usize, total: usize) {
        self.0.set_length(total as u64);
        self.0.set_position(done as u64);
        self.0
            .set_message("rendering scenes through the compositor");
    }

    fn step(&mut self, step: usize, total: usize, s: &Scores) {
        if self.0.length() != Some(total as u64) {
            self.0.set_length(total as u64);
            self.0.reset_eta();
        }
        self.0.set_position(step as u64);
        self.0.set_message(format!(
            "L1 {:.4} (composite {:.4})",
            s.refined, s.composite
        ));
    }
}

pub fn run(args: &TrainRefinerArgs) -> Result<()> {
    let start = std::time::Instant::now();
    let mut cfg = match &args.config {
        Some(path) => serde_json::from_str::<RefinerTrainConfig>(
            &std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?,
        )
        .with_context(|| format!("{}: not a refiner training configuration", path.display()))?,
        None => RefinerTrainConfig::default(),
    };
    if let Some(v) = args.steps {
        cfg.steps = v;
    }
    if let Some(v) = args.pool {
        cfg.pool = v;
    }
    if let Some(v) = args.batch_size {
        cfg.batch_size = v;
    }
    if let Some(v) = args.look {
        cfg.look = v;
    }
    if let Some(v) = &args.init {
        cfg.init = Some(v.clone());
    }
    if let Some(v) = args.lr {
        anyhow::ensure!(
            v.is_finite() && v > 0.0,
            "--lr {v}: must be a positive number"
        );
        cfg.adam.lr = v;
    }
    if args.print_config {
        println!("{}", serde_json::to_string_pretty(&cfg)?);
        return Ok(());
    }
    let device = super::parse_device(&args.device)?;
    let deadline = match args.minutes {
        Some(m) if m.is_finite() && m > 0.0 => {
            Some(start + std::time::Duration::from_secs_f64(m * 60.0))
        }
        Some(m) => anyhow::bail!("--minutes {m}: must be a positive number"),
        None => None,
    };
    let bar = ProgressBar::new(0).with_style(
        ProgressStyle::with_template(
            "{elapsed_precise} [{bar:30}] {pos}/{len} ({eta} left) {msg}",
        )?
        .progress_chars("=> "),
    );
    let mut progress = Bar(bar);
    let schedule = refiner::Schedule {
        deadline,
        start_after: args.start_after.clone(),
    };
    let trainer = refiner::run(cfg, &args.run, &device, &schedule, &mut progress)?;
    progress.0.finish();
    println!(
        "trained {} steps; weights: {}",
        trainer.step,
        refiner::checkpoint_weights(&args.run).display()
    );
    Ok(())
}
