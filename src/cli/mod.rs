//! The `marionette` command line: argument parsing and one module per subcommand.

pub mod animate;
pub mod bench;
pub mod detect;
pub mod edit;
pub mod eval;
pub mod inpaint;
pub mod render;
pub mod synth;
pub mod train;
pub mod train_refiner;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    name = "marionette",
    version,
    about = "Pose a person in a photo; GFLA re-renders them."
)]
pub struct Cli {
    /// With no subcommand, the editor opens.
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Open the desktop editor (the default): drag a skeleton, watch the person move.
    Edit(edit::EditArgs),
    /// Find the person's skeleton in a photo (BlazePose) and write it as OpenPose JSON.
    Detect(detect::DetectArgs),
    /// Get the pose detection models from the pinned mediapipe wheel on PyPI (via pip).
    FetchModels(detect::FetchModelsArgs),
    /// Re-render the person of a photo in a target pose.
    Render(render::RenderArgs),
    /// Animate the person of a photo: keyframes or a driver's poses → GIF, APNG or PNG frames.
    Animate(animate::AnimateArgs),
    /// Fill a hole in a photo (the background behind a person): PatchMatch or diffusion.
    Inpaint(inpaint::InpaintArgs),
    /// Time GFLA, PoNA, the BlazePose detector or the background fills (median of N).
    Bench(bench::BenchArgs),
    /// Write synthetic people pairs with ground-truth flow and visibility.
    Synth(synth::SynthArgs),
    /// Train GFLA on synthetic people (resumable).
    Train(train::TrainArgs),
    /// Train the refiner on the compositor's own output (resumable).
    TrainRefiner(train_refiner::TrainRefinerArgs),
    /// Compare copy-source, the puppet warp and a trained GFLA on held-out synthetic pairs.
    Eval(eval::EvalArgs),
}

/// Parses the command line, runs the subcommand, and reports errors with their full context.
pub fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_env("MARIONETTE_LOG"))
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match cli.command.unwrap_or(Command::Edit(Default::default())) {
        Command::Edit(args) => edit::run(&args),
        Command::Detect(args) => detect::run(&args),
        Command::FetchModels(args) => detect::run_fetch(&args),
        Command::Render(args) => render::run(&args),
        Command::Animate(args) => animate::run(&args),
        Command::Inpaint(args) => inpaint::run(&args),
        Command::Bench(args) => bench::run(&args),
        Command::Synth(args) => synth::run(&args),
        Command::Train(args) => train::run(&args),
        Command::TrainRefiner(args) => train_refiner::run(&args),
        Command::Eval(args) => eval::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

// Lives with the model (the editor's engine needs it too, and the app must not import the CLI).
pub use crate::model::device::{device_name, parse_device};

/// `HxW`, e.g. `256x256`.
pub fn parse_hw(s: &str) -> Result<(usize, usize), String> {
    let (h, w) = s
        .split_once(['x', 'X', '×'])
        .ok_or_else(|| format!("`{s}`: expected HxW, e.g. 256x256"))?;
    let parse = |v: &str| v.trim().parse::<usize>().map_err(|e| format!("`{s}`: {e}"));
    let (h, w) = (parse(h)?, parse(w)?);
    if h == 0 || w == 0 || h > 8192 || w > 8192 {
        return Err(format!("`{s}`: sizes must be within 1..=8192"));
    }
    Ok((h, w))
}
