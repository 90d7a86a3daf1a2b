//! `marionette train`: trains GFLA on synthetic people (see [`crate::train`]).

use crate::train::{self, StepLosses, TrainConfig};
use anyhow::{Context, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct TrainArgs {
    /// Run folder: config.json, log.csv, samples/, checkpoint/. An existing run resumes.
    #[arg(long)]
    pub run: PathBuf,
    /// Run configuration (JSON, as written by --print-config); the default model's recipe when
    /// omitted.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Start from the tiny test configuration instead (seconds per step on a CPU).
    #[arg(long, conflicts_with = "config")]
    pub tiny: bool,
    /// Override: stage-1 (flow) steps.
    #[arg(long)]
    pub flow_steps: Option<usize>,
    /// Override: stage-2 (end-to-end) steps.
    #[arg(long)]
    pub steps: Option<usize>,
    /// Override: pairs per batch.
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Print the configuration as JSON and exit.
    #[arg(long)]
    pub print_config: bool,
    /// cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    pub device: String,
}

struct Bar(ProgressBar);

impl train::Progress for Bar {
    fn start(&mut self, done: usize, total: usize) {
        self.0.set_length(total as u64);
        self.0.set_position(done as u64);
        self.0.reset_eta();
    }

    fn step(&mut self, step: usize, stage: u8, losses: &StepLosses) {
        self.0.set_position(step as u64);
        self.0
            .set_message(format!("stage {stage} | {}", losses.summary()));
    }

    fn message(&mut self, text: &str) {
        self.0.println(text);
    }
}

pub fn run(args: &TrainArgs) -> Result<()> {
    let mut cfg = match (&args.config, args.tiny) {
        (Some(path), _) => serde_json::from_str::<TrainConfig>(
            &std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?,
        )
        .with_context(|| format!("{}: not a training configuration", path.display()))?,
        (None, true) => TrainConfig::tiny(),
        (None, false) => TrainConfig::default_synth(),
    };
    if let Some(v) = args.flow_steps {
        cfg.flow_steps = v;
    }
    if let Some(v) = args.steps {
        cfg.steps = v;
    }
    if let Some(v) = args.batch_size {
        cfg.batch_size = v;
    }
    cfg.validate()?;
    if args.print_config {
        println!("{}", serde_json::to_string_pretty(&cfg)?);
        return Ok(());
    }
    let device = super::parse_device(&args.device)?;
    let bar = ProgressBar::new(0).with_style(
        ProgressStyle::with_template(
            "{elapsed_precise} [{bar:30}] {pos}/{len} ({eta} left) {msg}",
        )?
        .progress_chars("=> "),
    );
    let mut progress = Bar(bar);
    let trainer = train::run(cfg, &args.run, &device, &mut progress)?;
    progress.0.finish();
    println!(
        "trained {} steps; weights: {}",
        trainer.step,
        train::checkpoint_weights(&args.run).display()
    );
    Ok(())
}
