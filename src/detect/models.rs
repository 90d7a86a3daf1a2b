//! Where the BlazePose models live, and how to get them.
//!
//! No model hub is reachable, but PyPI is: the `mediapipe==0.10.14` wheel ships both graphs
//! (Apache-2.0). [`fetch`] asks pip for that exact wheel (pip knows where PyPI is; we name no
//! URL), takes the two files out of it with the `zip` crate, checks their SHA-256 against the
//! values pinned here, and writes them atomically into the models folder. Nothing else of
//! mediapipe is used, and nothing is fetched at run time.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context};
use sha2::{Digest, Sha256};

/// The pip requirement whose wheel carries the models.
pub const WHEEL_REQUIREMENT: &str = "mediapipe==0.10.14";

/// Sub-folder of the models folder (see [`crate::model::shipped::model_dirs`]).
pub const SUBDIR: &str = "blazepose";

/// One model file: its name here, its path inside the wheel, its pinned SHA-256.
#[derive(Clone, Copy, Debug)]
pub struct ModelFile {
    pub name: &'static str,
    pub in_wheel: &'static str,
    pub sha256: &'static str,
}

pub const DETECTOR: ModelFile = ModelFile {
    name: "pose_detection.tflite",
    in_wheel: "mediapipe/modules/pose_detection/pose_detection.tflite",
    sha256: "9ba9dd3d42efaaba86b4ff0122b06f29c4122e756b329d89dca1e297fd8f866c",
};

pub const LANDMARK: ModelFile = ModelFile {
    name: "pose_landmark_full.tflite",
    in_wheel: "mediapipe/modules/pose_landmark/pose_landmark_full.tflite",
    sha256: "e9a5c5cb17f736fafd4c2ec1da3b3d331d6edbe8a0d32395855aeb2cdfd64b9f",
};

pub const FILES: [ModelFile; 2] = [DETECTOR, LANDMARK];

/// The command that fetches the models, for messages.
pub const FETCH_HINT: &str = "marionette fetch-models";

/// Paths of both model files.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelPaths {
    pub detector: PathBuf,
    pub landmark: PathBuf,
}

/// The folders searched for the models, in order.
pub fn search_dirs() -> Vec<PathBuf> {
    crate::model::shipped::model_dirs()
        .into_iter()
        .map(|d| d.join(SUBDIR))
        .collect()
}

/// Where [`fetch`] puts the models by default: `$MARIONETTE_MODELS/blazepose` when set, else
/// the source tree's `assets/models/blazepose` when it exists, else `./assets/models/blazepose`.
pub fn default_fetch_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("MARIONETTE_MODELS") {
        return PathBuf::from(d).join(SUBDIR);
    }
    let [source_tree, cwd] = crate::model::shipped::asset_dirs("models");
    if source_tree.parent().is_some_and(Path::is_dir) {
        source_tree.join(SUBDIR)
    } else {
        cwd.join(SUBDIR)
    }
}

/// The first folder holding both files, or an error saying where we looked and what to run.
pub fn find() -> anyhow::Result<ModelPaths> {
    let dirs = search_dirs();
    for d in &dirs {
        let paths = ModelPaths {
            detector: d.join(DETECTOR.name),
            landmark: d.join(LANDMARK.name),
        };
        if paths.detector.is_file() && paths.landmark.is_file() {
            return Ok(paths);
        }
    }
    let looked: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
    bail!(
        "pose detection models not found (looked in {}); run `{FETCH_HINT}` once to get them from \
         the {WHEEL_REQUIREMENT} wheel on PyPI (needs python3 with pip)",
        looked.join(", ")
    )
}

/// Lowercase hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// True when `dir` already holds both files with the pinned hashes.
pub fn verified(dir: &Path) -> bool {
    FILES
        .iter()
        .all(|f| std::fs::read(dir.join(f.name)).is_ok_and(|bytes| sha256_hex(&bytes) == f.sha256))
}

/// Downloads the wheel with pip into a temporary folder and installs the two models into
/// `dest`. Does nothing when `dest` already holds verified copies. `log` receives progress.
pub fn fetch(dest: &Path, mut log: impl FnMut(&str)) -> anyhow::Result<()> {
    if verified(dest) {
        log(&format!(
            "models already present and verified in {}",
            dest.display()
        ));
        return Ok(());
    }
    let tmp = tempdir_near(dest)?;
    let result = (|| {
        log(&format!(
            "downloading the {WHEEL_REQUIREMENT} wheel with pip…"
        ));
        let wheel = pip_download(&tmp)?;
        log(&format!("extracting and verifying {}", wheel.display()));
        install_from_wheel(&wheel, dest)?;
        log(&format!(
            "installed {} and {} into {}",
            DETECTOR.name,
            LANDMARK.name,
            dest.display()
        ));
        Ok(())
    })();
    let _ = std::fs::remove_dir_all(&tmp);
    result
}

/// A fresh folder beside `dest` (so the final rename stays on one file system).
fn tempdir_near(dest: &Path) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(dest).with_context(|| format!("creating {}", dest.display()))?;
    let tmp = dest.join(format!(".download-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    Ok(tmp)
}

/// `python -m pip download` of the exact wheel. The platform and Python tags are pinned so
/// that every machine gets the same file (the models inside are the same in every wheel;
/// their hashes are checked anyway).
fn pip_download(dir: &Path) -> anyhow::Result<PathBuf> {
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    let status = Command::new(&python)
        .args(["-m", "pip", "download", "--no-deps", "--only-binary=:all:"])
        .args([
            "--platform",
            "manylinux_2_17_x86_64",
            "--python-version",
            "3.11",
        ])
        .args([
            "--implementation",
            "cp",
            "--disable-pip-version-check",
            "--dest",
        ])
        .arg(dir)
        .arg(WHEEL_REQUIREMENT)
        .status()
        .with_context(|| {
            format!("running `{python} -m pip` (install Python 3 with pip, or set $PYTHON)")
        })?;
    if !status.success() {
        bail!("`{python} -m pip download {WHEEL_REQUIREMENT}` failed ({status})");
    }
    std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|e| e == "whl"))
        .with_context(|| {
            format!(
                "pip reported success but left no wheel in {}",
                dir.display()
            )
        })
}

/// Takes both model files out of a wheel (a zip), checks their hashes, and writes them into
/// `dest` atomically. Nothing is written unless both files check out.
pub fn install_from_wheel(wheel: &Path, dest: &Path) -> anyhow::Result<()> {
    let file =
        std::fs::File::open(wheel).with_context(|| format!("opening {}", wheel.display()))?;
    let mut zip = zip::ZipArchive::new(file)
        .with_context(|| format!("{} is not a wheel (zip) file", wheel.display()))?;
    let mut contents = Vec::new();
    for f in FILES {
        let mut entry = zip
            .by_name(f.in_wheel)
            .with_context(|| format!("{} has no {}", wheel.display(), f.in_wheel))?;
        let mut bytes = Vec::new();
        entry
            .read_to_end(&mut bytes)
            .with_context(|| format!("reading {} from the wheel", f.in_wheel))?;
        let got = sha256_hex(&bytes);
        if got != f.sha256 {
            bail!(
                "{} in {} has SHA-256 {got}, expected {} (a different or damaged wheel)",
                f.in_wheel,
                wheel.display(),
                f.sha256
            );
        }
        contents.push((f, bytes));
    }
    std::fs::create_dir_all(dest).with_context(|| format!("creating {}", dest.display()))?;
    for (f, bytes) in contents {
        let path = dest.join(f.name);
        let tmp = dest.join(format!("{}.tmp", f.name));
        std::fs::write(&tmp, &bytes).with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, &path).with_context(|| format!("renaming to {}", path.display()))?;
    }
    Ok(())
}
