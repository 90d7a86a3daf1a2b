//! `marionette edit [PHOTO]` (also `marionette` alone): the desktop editor.

use crate::app::engine::{ModelChoice, ModelSpec};
use crate::app::{project, EditorOptions};
use anyhow::Result;
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct EditArgs {
    /// A photo to open (a pose file beside it, `<stem>_source.json`, gives its skeleton).
    /// Without a photo or project: the bundled cameraman photo, its skeleton found by the
    /// detector.
    pub photo: Option<PathBuf>,
    /// A saved session to open instead.
    #[arg(long, conflicts_with = "photo")]
    pub project: Option<PathBuf>,
    /// Generator checkpoint (.safetensors or .pth, GFLA or PoNA); default: the bundled GFLA.
    #[arg(long)]
    pub weights: Option<PathBuf>,
    /// cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// Neither autosave nor offer to restore a previous session.
    #[arg(long)]
    pub no_autosave: bool,
    /// Do not look for the person in photos opened without a pose file (the template is placed
    /// instead).
    #[arg(long)]
    pub no_detect: bool,
    /// Show the plain puppet warp, not composited over the photo's matte and background plate.
    #[arg(long)]
    pub no_composite: bool,
    /// Redraw continuously and, on exit, print frame-time statistics (split by whether the model
    /// was busy).
    #[arg(long)]
    pub frame_stats: bool,
}

impl Default for EditArgs {
    /// `marionette` with no arguments.
    fn default() -> Self {
        Self {
            photo: None,
            project: None,
            weights: None,
            device: "cpu".into(),
            no_autosave: false,
            no_detect: false,
            no_composite: false,
            frame_stats: false,
        }
    }
}

pub fn run(args: &EditArgs) -> Result<()> {
    // Fail on a bad device before a window opens.
    super::parse_device(&args.device)?;
    let options = EditorOptions {
        photo: match (&args.photo, &args.project) {
            (None, None) => crate::app::samples::first_sample(),
            _ => args.photo.clone(),
        },
        project: args.project.clone(),
        model: ModelSpec {
            choice: args
                .weights
                .clone()
                .map_or(ModelChoice::Bundled, ModelChoice::File),
            device: args.device.clone(),
        },
        state_dir: if args.no_autosave {
            None
        } else {
            project::default_state_dir()
        },
        frame_stats: args.frame_stats,
        detect: !args.no_detect,
        composite: !args.no_composite,
        method: None,
    };
    open_editor(options)
}

#[cfg(feature = "gui")]
fn open_editor(options: EditorOptions) -> Result<()> {
    crate::app::run(options)
}

/// A build without the `gui` feature (the fuzz targets' build) has no window to open.
#[cfg(not(feature = "gui"))]
fn open_editor(_options: EditorOptions) -> Result<()> {
    anyhow::bail!("this build of marionette has no editor (built without the `gui` feature)")
}
