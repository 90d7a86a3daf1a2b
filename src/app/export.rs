//! Exporting a result: the image at the model's keypoint-frame size (as `marionette render`
//! writes it) and, on request, each level's flow (reference colour wheel) and occlusion mask
//! (the editor's colormap) beside it, upscaled with nearest neighbours so cells stay visible.

use super::engine::Rendered;
use super::overlay::{self, OverlayStyle};
use crate::imaging::{flow_to_color, save_image_atomic};
use anyhow::Result;
use image::imageops::FilterType;
use std::path::{Path, PathBuf};

/// Writes `result` to `path` (+ `<stem>_flow_level<ℓ>.png`, `<stem>_mask_level<ℓ>.png` with
/// `overlays`). Every file is written atomically. Returns the files in the order written.
pub fn export(result: &Rendered, path: &Path, overlays: bool) -> Result<Vec<PathBuf>> {
    let (fh, fw) = result.model.frame_hw;
    let (fw, fh) = (fw as u32, fh as u32);
    let image = image::imageops::resize(&result.image, fw, fh, FilterType::CatmullRom);
    save_image_atomic(&image, path)?;
    let mut files = vec![path.to_path_buf()];
    if !overlays {
        return Ok(files);
    }
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "result".into());
    for maps in &result.levels {
        let (w, h) = (maps.flow.width as usize, maps.flow.height as usize);
        let (dx, dy) = maps.flow.data.split_at(w * h);
        let flow = image::DynamicImage::ImageRgb8(flow_to_color(dx, dy, h, w)).resize_exact(
            fw,
            fh,
            FilterType::Nearest,
        );
        let file = path.with_file_name(format!("{stem}_flow_level{}.png", maps.level));
        save_image_atomic(&flow, &file)?;
        files.push(file);
        let style = OverlayStyle::Colormap {
            min: 0.0,
            max: 1.0,
            alpha_from_value: false,
        };
        let mask = image::DynamicImage::ImageRgba8(overlay::to_rgba_image(&maps.mask, style, 1.0))
            .resize_exact(fw, fh, FilterType::Nearest)
            .to_rgb8();
        let file = path.with_file_name(format!("{stem}_mask_level{}.png", maps.level));
        save_image_atomic(&mask, &file)?;
        files.push(file);
    }
    Ok(files)
}
