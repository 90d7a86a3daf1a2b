//! Exporting a result: the image at the model's keypoint-frame size (as `marionette render
//! --raw` writes it) and, on request, each level's flow and occlusion mask beside it, named
//! and coloured as `render --flow/--mask` writes them ([`crate::composite::pipeline::maps`]).

use super::engine::Rendered;
use crate::composite::pipeline::{frame_image, maps};
use crate::imaging::save_image_atomic;
use anyhow::Result;
use std::path::{Path, PathBuf};

/// Writes `result` to `path` (+ `<stem>_flow.png`, `<stem>_mask.png` for the finest level and
/// `<stem>_flow_level<ℓ>.png`, `<stem>_mask_level<ℓ>.png` for the others, with `overlays`).
/// Every file is written atomically. Returns the files in the order written.
pub fn export(result: &Rendered, path: &Path, overlays: bool) -> Result<Vec<PathBuf>> {
    let (fh, fw) = result.model.frame_hw;
    save_image_atomic(&frame_image(&result.image, (fh, fw)), path)?;
    let mut files = vec![path.to_path_buf()];
    if !overlays {
        return Ok(files);
    }
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "result".into());
    let beside = |what: &str| path.with_file_name(format!("{stem}_{what}.png"));
    let levels: Vec<maps::LevelMap<'_>> = result
        .levels
        .iter()
        .map(|l| maps::LevelMap {
            level: l.level,
            height: l.flow.height as usize,
            width: l.flow.width as usize,
            flow: &l.flow.data,
            mask: &l.mask.data,
        })
        .collect();
    files.extend(maps::save_maps(
        Some(&beside("flow")),
        Some(&beside("mask")),
        &levels,
        (fw as u32, fh as u32),
    )?);
    Ok(files)
}
