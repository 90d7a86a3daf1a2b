//! The bundled sample photos and the pose files found beside a photo: used by the editor and
//! by the CLI (`edit`, `bench`), so they need no GUI.

use std::path::{Path, PathBuf};

/// A pose file beside the photo, by naming convention.
pub fn sidecar_pose(photo: &Path) -> Option<PathBuf> {
    let stem = photo.file_stem()?.to_string_lossy().into_owned();
    ["_source.json", "_pose.json", ".json"]
        .iter()
        .map(|suffix| photo.with_file_name(format!("{stem}{suffix}")))
        .find(|p| p.is_file())
}

/// The bundled samples folder (beside the shipped models).
pub fn samples_dir() -> Option<PathBuf> {
    crate::model::shipped::asset_dirs("samples")
        .into_iter()
        .find(|d| d.is_dir())
}

/// The sample the editor opens on when started without a photo or project.
pub const FIRST_SAMPLE: &str = "cameraman.png";

/// The bundled photo the editor opens on when started without one (`None` when the samples
/// folder is not beside the binary).
pub fn first_sample() -> Option<PathBuf> {
    samples_dir()
        .map(|d| d.join(FIRST_SAMPLE))
        .filter(|p| p.is_file())
}

/// The bundled samples: (label, photo path).
pub fn samples() -> Vec<(String, PathBuf)> {
    let Some(dir) = samples_dir() else {
        return vec![];
    };
    [
        ("Cameraman (a real photo, three-quarter body)", FIRST_SAMPLE),
        (
            "Synthetic person (what the bundled model knows)",
            "synth_person.png",
        ),
        ("Astronaut (a real photo, half body)", "astronaut.png"),
    ]
    .into_iter()
    .map(|(label, f)| (label.to_string(), dir.join(f)))
    .filter(|(_, p)| p.is_file())
    .collect()
}
