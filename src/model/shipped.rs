//! The weights marionette ships: `assets/models/gfla_synth.safetensors`, trained by
//! `marionette train` on synthetic people (model card in the README).

use std::path::PathBuf;

/// File name of the default GFLA weights inside the models folder.
pub const DEFAULT_GFLA: &str = "gfla_synth.safetensors";

/// Folders searched for shipped weights, in order: `$MARIONETTE_MODELS`, the source tree the
/// binary was built from, and `assets/models` under the working directory.
pub fn model_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(d) = std::env::var_os("MARIONETTE_MODELS") {
        dirs.push(PathBuf::from(d));
    }
    dirs.extend(asset_dirs("models"));
    dirs
}

/// `assets/<sub>` of the source tree the binary was built from, then under the working
/// directory: where bundled files (models, samples) are looked for.
pub fn asset_dirs(sub: &str) -> [PathBuf; 2] {
    [
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("assets")
            .join(sub),
        PathBuf::from("assets").join(sub),
    ]
}

/// The default GFLA weights, or an error listing where they were looked for.
pub fn default_gfla_weights() -> anyhow::Result<PathBuf> {
    let dirs = model_dirs();
    dirs.iter()
        .map(|d| d.join(DEFAULT_GFLA))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            let looked: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
            anyhow::anyhow!(
                "no default weights `{DEFAULT_GFLA}` found (looked in {}); pass --weights or set MARIONETTE_MODELS",
                looked.join(", ")
            )
        })
}

/// File name of the shipped refiner inside the models folder.
pub const DEFAULT_REFINER: &str = "refiner.safetensors";

/// The shipped refiner's weights, where one is found.
pub fn default_refiner_weights() -> Option<PathBuf> {
    model_dirs()
        .into_iter()
        .map(|d| d.join(DEFAULT_REFINER))
        .find(|p| p.is_file())
}
