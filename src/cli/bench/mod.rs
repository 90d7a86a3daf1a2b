//! `marionette bench`: times one of our pipelines (median of N) and prints it as the final line
//! `<name>_ms <median>`. One file per benchmark; `args.rs` the arguments they share and
//! `timing.rs` the timing loop, so no benchmark imports the dispatcher here.

mod args;
pub mod composite;
mod detect;
pub mod edit;
pub mod inpaint;
mod model;
mod ops;
mod timing;

use anyhow::Result;
pub use args::BenchArgs;

/// Runs the benchmark `args` asks for: `--edit`, or by `--model`.
pub fn run(args: &BenchArgs) -> Result<()> {
    if args.model == "blazepose" {
        return detect::run(args);
    }
    if args.model == "inpaint" {
        return inpaint::run(args);
    }
    if args.model == "composite" {
        return composite::run(args);
    }
    if args.model == "conv" {
        return ops::run_conv_shapes(args.runs);
    }
    if args.edit {
        return edit::run(args);
    }
    model::run(args)
}
