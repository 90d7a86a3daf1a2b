//! A network's explanation maps as files, named and coloured one way for every front end
//! (`render --flow/--mask`, the editor's result export): per attention level, the backward
//! flow in the reference colour wheel and the occlusion mask in grey (white = copied from the
//! source), each upscaled with nearest neighbours to the keypoint frame so cells stay visible.
//! The finest level is written at the path given, the others beside it with a `_level<N>`
//! suffix (`flow.png`, `flow_level3.png`).

use crate::imaging::{flow_to_color, save_image_atomic};
use anyhow::Result;
use candle_core::Tensor;
use image::imageops::FilterType;
use image::{DynamicImage, GrayImage, RgbImage};
use std::path::{Path, PathBuf};

/// One level's flow (Δx then Δy planes, level cells) and occlusion mask, row-major h × w.
pub struct LevelMap<'a> {
    pub level: usize,
    pub height: usize,
    pub width: usize,
    pub flow: &'a [f32],
    pub mask: &'a [f32],
}

/// Owned per-level arrays of a forward pass (deepest level first), read from its tensors.
pub struct LevelArrays {
    pub level: usize,
    pub height: usize,
    pub width: usize,
    pub flow: Vec<f32>,
    pub mask: Vec<f32>,
}

impl LevelArrays {
    /// Batch item 0 of each level's flow (B, 2, h, w) and mask (B, 1, h, w).
    pub fn from_tensors(flows: &[Tensor], masks: &[Tensor], levels: &[usize]) -> Result<Vec<Self>> {
        flows
            .iter()
            .zip(masks)
            .zip(levels)
            .map(|((f, m), &level)| {
                let (_, _, h, w) = f.dims4()?;
                Ok(Self {
                    level,
                    height: h,
                    width: w,
                    flow: f.get(0)?.flatten_all()?.to_vec1::<f32>()?,
                    mask: m.get(0)?.flatten_all()?.to_vec1::<f32>()?,
                })
            })
            .collect()
    }

    pub fn view(&self) -> LevelMap<'_> {
        LevelMap {
            level: self.level,
            height: self.height,
            width: self.width,
            flow: &self.flow,
            mask: &self.mask,
        }
    }
}

/// The flow of one level in the colour wheel, at `frame_wh`.
pub fn flow_image(map: &LevelMap<'_>, (w, h): (u32, u32)) -> RgbImage {
    let (dx, dy) = map.flow.split_at(map.height * map.width);
    let img = flow_to_color(dx, dy, map.height, map.width);
    DynamicImage::from(img)
        .resize_exact(w, h, FilterType::Nearest)
        .to_rgb8()
}

/// The mask of one level in grey, at `frame_wh`.
pub fn mask_image(map: &LevelMap<'_>, (w, h): (u32, u32)) -> GrayImage {
    let (mw, mh) = (map.width, map.height);
    let img = GrayImage::from_fn(mw as u32, mh as u32, |x, y| {
        image::Luma([
            (map.mask[y as usize * mw + x as usize].clamp(0.0, 1.0) * 255.0).round() as u8,
        ])
    });
    DynamicImage::ImageLuma8(img)
        .resize_exact(w, h, FilterType::Nearest)
        .to_luma8()
}

/// Writes the flows to `flow` and the masks to `mask` (each optional), the finest level (the
/// last of `levels`) at the path, the others with a `_level<N>` suffix; atomically. Returns
/// the files in the order written.
pub fn save_maps(
    flow: Option<&Path>,
    mask: Option<&Path>,
    levels: &[LevelMap<'_>],
    frame_wh: (u32, u32),
) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for (path, what) in [(flow, "flow"), (mask, "mask")] {
        let Some(path) = path else { continue };
        for (i, map) in levels.iter().enumerate() {
            let file = level_path(path, map.level, i + 1 == levels.len());
            match what {
                "flow" => save_image_atomic(&flow_image(map, frame_wh), &file)?,
                _ => save_image_atomic(&mask_image(map, frame_wh), &file)?,
            }
            files.push(file);
        }
    }
    Ok(files)
}

/// `flow.png` for the finest level, `flow_level3.png` for the others.
pub fn level_path(path: &Path, level: usize, finest: bool) -> PathBuf {
    if finest {
        return path.to_path_buf();
    }
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let ext = path
        .extension()
        .map(|e| format!(".{}", e.to_string_lossy()))
        .unwrap_or_default();
    path.with_file_name(format!("{stem}_level{level}{ext}"))
}
