//! The `bench` subcommand's arguments, in a file of their own: every benchmark reads them and
//! the dispatcher in `mod.rs` calls every benchmark, so beside either they would make a loop.

use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Which network: gfla, pona, blazepose (the pose detector: both of its networks), or
    /// inpaint (the background plate fills, PatchMatch and diffusion, on a 1-megapixel scene),
    /// composite (the layered renderer per photo and per edit, on a 1-megapixel photo), conv
    /// (each convolution shape of GFLA alone, ours against candle's, in GFLOP/s).
    #[arg(long, default_value = "gfla", value_parser = ["gfla", "pona", "blazepose", "inpaint", "composite", "conv"])]
    pub model: String,
    /// Architecture preset for random weights (a checkpoint brings its own architecture).
    #[arg(long, default_value = "fashion", value_parser = ["fashion", "market"])]
    pub config: String,
    /// Checkpoint to time; random weights of the preset's shapes when omitted.
    #[arg(long)]
    pub weights: Option<PathBuf>,
    /// Input size HxW (default: the model's; inpaint: 1152x896, composite: 1024x1024, about a
    /// megapixel).
    #[arg(long, value_parser = crate::cli::parse_hw)]
    pub size: Option<(usize, usize)>,
    /// Timed runs.
    #[arg(long, default_value_t = 5)]
    pub runs: usize,
    /// Untimed warm-up runs.
    #[arg(long, default_value_t = 1)]
    pub warmup: usize,
    /// cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// blazepose: the photo to detect in (default: the astronaut sample). inpaint: a photo to
    /// fill a person-sized ellipse in (default: a synthetic scene, whose true plate is known).
    #[arg(long)]
    pub image: Option<PathBuf>,
    /// blazepose: a Python with `ai-edge-litert`, to time MediaPipe's own runtime in the
    /// same run (`tests/reference/litert_bench.py`). gfla/pona: a Python with torch, to time
    /// our PyTorch peer (`tests/reference/torch_peer.py`) on the CPU with the same weights
    /// and thread count; skipped with a message when torch is absent.
    #[arg(long)]
    pub reference_python: Option<PathBuf>,
    /// gfla/pona: after the timed runs, profile as many more and print the time per op type
    /// (next to PyTorch's with `--reference-python`).
    #[arg(long)]
    pub ops: bool,
    /// Time the editor's per-edit path instead (model with cached source features, result and
    /// explanation maps read back): the bundled model or `--weights`, on `--image` (with its
    /// pose file, found as the editor finds it) or the astronaut sample; last line
    /// `edit_ms <median>`.
    #[arg(long, conflicts_with_all = ["size"])]
    pub edit: bool,
}
