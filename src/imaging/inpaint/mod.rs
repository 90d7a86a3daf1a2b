//! Filling a hole in a photo: the background plate behind the person.
//!
//! * [`fill_patchmatch`] — exemplar-based completion (Wexler et al.'s EM with PatchMatch
//!   nearest-neighbour fields, coarse to fine; `patchmatch.rs`): texture and straight edges are
//!   continued from the rest of the photo, as Content-Aware Fill does.
//! * [`fill_diffusion`] — the membrane (Laplace) fill, coarse to fine (`diffusion.rs`): smooth,
//!   fast, the quick first plate and the baseline the exemplar fill is measured against.
//!
//! Both take a hole mask (pixels > 127 are filled), fill from pixels outside it only, and
//! return every pixel outside it bit-identical. The pyramid both work on is `pyramid.rs`.
//!
//! Why our own: the `inpaint` crate is Telea's fast marching only (it smears a person-sized
//! hole, see the compositing spec), and `texture-synthesis` (archived since 2023) synthesises
//! by per-pixel neighbourhood search, not a patch-voting completion, and was slower than our
//! budget (≤ 1.5 s for a 1-megapixel photo on 2 cores). A PatchMatch completion is a few
//! hundred lines, and owning it lets us poll cancellation and keep it deterministic.

mod diffusion;
mod patchmatch;
mod pyramid;

use image::{GrayImage, RgbImage};

use pyramid::Level;

/// Settings of [`fill_patchmatch`]; `Default` is the tuned speed/quality point.
#[derive(Clone, Debug, PartialEq)]
pub struct PatchMatchParams {
    /// Patch side at levels whose shorter side is ≥ 128 px (odd; 7).
    pub patch_size: usize,
    /// Patch side at the coarser levels (odd; 5).
    pub coarse_patch_size: usize,
    /// EM iterations (search + vote) at the finest level (2).
    pub em_iters_fine: usize,
    /// EM iterations at the coarsest level, interpolated linearly in between (10).
    pub em_iters_coarse: usize,
    /// PatchMatch passes (propagation + random search) per EM iteration (2).
    pub search_passes: usize,
    /// The same at the finest level, where the field arrives nearly converged from the level
    /// below and a pass costs four times as much (1).
    pub fine_search_passes: usize,
    /// The coarsest level's shorter side is at least this (24 px).
    pub min_level_side: usize,
    /// Seeds every random draw: the same inputs and seed give the same plate.
    pub seed: u64,
    /// Finish with each hole pixel copied from the centre of its own patch's match instead of
    /// the vote's weighted mean (false): sharp fine texture (a fleece's curls, a weave) that
    /// the vote averages flat where matches do not line up, at the price of seams between
    /// matches. For texture detail laid on a smooth fill, not for plates.
    pub sharp_finish: bool,
}

impl Default for PatchMatchParams {
    fn default() -> Self {
        Self {
            patch_size: 7,
            coarse_patch_size: 5,
            em_iters_fine: 2,
            em_iters_coarse: 10,
            search_passes: 2,
            fine_search_passes: 1,
            min_level_side: 24,
            seed: 0,
            sharp_finish: false,
        }
    }
}

/// Why a fill could not be made.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum InpaintError {
    #[error("the hole mask is {hole_width}×{hole_height} but the image is {width}×{height}")]
    SizeMismatch {
        width: u32,
        height: u32,
        hole_width: u32,
        hole_height: u32,
    },
    #[error("the hole covers the whole {width}×{height} image: there is nothing to fill it from")]
    NoSource { width: u32, height: u32 },
    #[error("cancelled")]
    Cancelled,
}

/// An error unless `mask` (a hole, or the wanted part of one) has `image`'s size.
fn same_size(image: &RgbImage, mask: &GrayImage) -> Result<(), InpaintError> {
    if image.dimensions() != mask.dimensions() {
        return Err(InpaintError::SizeMismatch {
            width: image.width(),
            height: image.height(),
            hole_width: mask.width(),
            hole_height: mask.height(),
        });
    }
    Ok(())
}

/// The hole as booleans, or `None` when it is empty (nothing to do).
fn hole_pixels(image: &RgbImage, hole: &GrayImage) -> Result<Option<Vec<bool>>, InpaintError> {
    same_size(image, hole)?;
    let mask: Vec<bool> = hole.as_raw().iter().map(|&v| v > 127).collect();
    let n = mask.iter().filter(|&&h| h).count();
    if n == 0 {
        return Ok(None);
    }
    if n == mask.len() {
        return Err(InpaintError::NoSource {
            width: image.width(),
            height: image.height(),
        });
    }
    Ok(Some(mask))
}

/// `image` with the hole pixels taken from `level` (rounded, clamped), the rest untouched.
fn write_hole(image: &RgbImage, level: &Level) -> RgbImage {
    let mut out = image.clone();
    for (i, p) in out.pixels_mut().enumerate() {
        if level.hole[i] {
            p.0 = level.rgb(i).map(crate::imaging::to_u8);
        }
    }
    out
}

/// Membrane sweeps at the coarsest level (solved to convergence there) and at each finer one
/// (started from the upsampled coarser solution, only the fine detail is left to relax).
const MEMBRANE_COARSE_SWEEPS: usize = 400;
const MEMBRANE_FINE_SWEEPS: usize = 30;
/// The diffusion pyramid goes down to a few pixels: the membrane has no patch to fit.
const MEMBRANE_MIN_SIDE: usize = 8;

/// The membrane fill of `hole` (pixels > 127) in `image`: smooth, fast, smears texture.
pub fn fill_diffusion(image: &RgbImage, hole: &GrayImage) -> Result<RgbImage, InpaintError> {
    let Some(mask) = hole_pixels(image, hole)? else {
        return Ok(image.clone());
    };
    let mut levels = pyramid::build(Level::from_image(image, &mask), MEMBRANE_MIN_SIDE);
    diffusion::fill(&mut levels, MEMBRANE_COARSE_SWEEPS, MEMBRANE_FINE_SWEEPS);
    Ok(write_hole(image, &levels[0]))
}

/// The exemplar (PatchMatch) completion of `hole` (pixels > 127) in `image`, from patches
/// wholly outside the hole. Deterministic for a given `params.seed`; `cancel` is polled between
/// passes (a few times per second on a megapixel) and ends the fill with
/// [`InpaintError::Cancelled`]. Where no patch fits outside the hole at some level (a hole
/// leaving only slivers), that level keeps the membrane fill.
pub fn fill_patchmatch(
    image: &RgbImage,
    hole: &GrayImage,
    params: &PatchMatchParams,
    cancel: &dyn Fn() -> bool,
) -> Result<RgbImage, InpaintError> {
    exemplar_fill(image, hole, None, params, cancel)
}

/// [`fill_patchmatch`] where only the hole pixels `wanted` marks (pixels > 127) are needed:
/// the rest of the hole is no source either, but is matched only where it borders them and
/// elsewhere keeps the smooth first guess. A texture fill whose sources are a few pixels of
/// one cloth (all else a hole) then costs what its small target costs, not the whole box.
pub fn fill_patchmatch_wanted(
    image: &RgbImage,
    hole: &GrayImage,
    wanted: &GrayImage,
    params: &PatchMatchParams,
) -> Result<RgbImage, InpaintError> {
    same_size(image, wanted)?;
    exemplar_fill(image, hole, Some(wanted), params, &|| false)
}

/// The exemplar completion both fills run: of the whole hole, or of its `wanted` part.
fn exemplar_fill(
    image: &RgbImage,
    hole: &GrayImage,
    wanted: Option<&GrayImage>,
    params: &PatchMatchParams,
    cancel: &dyn Fn() -> bool,
) -> Result<RgbImage, InpaintError> {
    let Some(mask) = hole_pixels(image, hole)? else {
        return Ok(image.clone());
    };
    let wanted = wanted.map(|wanted| {
        let raw = wanted.as_raw().iter();
        raw.zip(&mask).map(|(&w, &h)| w > 127 && h).collect()
    });
    let base = Level {
        wanted,
        ..Level::from_image(image, &mask)
    };
    let mut levels = pyramid::build(base, params.min_level_side);
    patchmatch::complete(&mut levels, params, cancel)?;
    Ok(write_hole(image, &levels[0]))
}

/// `mask` (pixels > 127) grown by `radius` pixels (a disc), as 0/255: the person's matte
/// dilated so its soft edge is filled too.
pub fn dilate_mask(mask: &GrayImage, radius: u32) -> GrayImage {
    let (w, h) = (mask.width() as usize, mask.height() as usize);
    let r = radius as usize;
    // Per row, the horizontal distance to the nearest set pixel (two sweeps); then a pixel is
    // set when some row within ±r has one within that row's half-chord of the disc.
    let far = usize::MAX / 2;
    let mut dh = vec![far; w * h];
    for (row, src) in dh.chunks_mut(w.max(1)).zip(mask.as_raw().chunks(w.max(1))) {
        let mut last = far;
        for (d, &m) in row.iter_mut().zip(src) {
            last = if m > 127 { 0 } else { last.saturating_add(1) };
            *d = last;
        }
        let mut next = far;
        for x in (0..w).rev() {
            next = if row[x] == 0 {
                0
            } else {
                next.saturating_add(1)
            };
            row[x] = row[x].min(next);
        }
    }
    let chord: Vec<usize> = (0..=r)
        .map(|d| (((r * r - d * d) as f64).sqrt()) as usize)
        .collect();
    let mut out = GrayImage::new(mask.width(), mask.height());
    for y in 0..h {
        for x in 0..w {
            let (y0, y1) = (y.saturating_sub(r), (y + r).min(h.saturating_sub(1)));
            let hit = (y0..=y1).any(|yy| dh[yy * w + x] <= chord[yy.abs_diff(y)]);
            if hit {
                out.as_mut()[y * w + x] = 255;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests;
