//! The person the source does not show, for the puppet's composite.
//!
//! Ownership ([`crate::puppet::ownership`]) says which target pixels the moved figure really
//! shows. Where it does not, and the point sampled is on the person, a part has left: what was
//! behind it is either background (the plate) or more of the person (a forearm lifted off the
//! chest uncovers the coat). Two tests say "person":
//!
//! * the pixel is inside the target figure (within a part's radius): the chest the forearm no
//!   longer covers, the thigh the other one hid;
//! * the pixel is enclosed by person: the target alpha of the pixels around it, spread into
//!   the region by a membrane (harmonic) fill, is mostly person. A forearm's old place across
//!   the coat is bordered by coat; an arm's old place against the sky by sky. This also covers
//!   a body whose parts the skeleton lacks (hips not found: no torso part below the chest).
//!
//! Hidden person pixels take the person's colours spread from the pixels the figure surely
//! shows (membrane fill again: the shading continues smoothly), plus the detail of an exemplar
//! completion (PatchMatch) whose patches come only from the person that did not move: the
//! shirt behind a forearm that moved away gets the shirt's own weave and folds, never the
//! background's, nor the moved forearm's. Where the still person around is too thin for
//! patches, or when asked for no texture, the membrane fill alone: smooth, but body, not
//! background. On photos past the coarse grid, stills and animations take the detail at the
//! photo's resolution from one fill per photo of the body under the arms
//! ([`person_under_arms`]), sampled where each hidden pixel samples the photo: the grain
//! stays on its place of the body from edit to edit and frame to frame.

use super::cloth::same_cloth;
use super::{sample_map, PhotoLayers};
use crate::imaging::flow_field::sample_bilinear;
use crate::imaging::inpaint::{fill_diffusion, fill_patchmatch_wanted, PatchMatchParams};
use crate::imaging::FlowField;
use crate::pose::Pose;
use crate::puppet::{arm_cover, Extremities, PuppetConfig, PuppetWarp};
use anyhow::{anyhow, Result};
use image::{GrayImage, Luma, Rgb, RgbImage};
use rayon::prelude::*;

/// The spread alpha above which a vacated pixel starts to count as enclosed by the person
/// (fully from 0.3 above it). Measured on `marionette eval --count 60 --size 256x192`: from 0.35
/// the synthetic scenes lose 0.24 dB to the figure test alone (arms leaving the body's side
/// are half bordered by it); from 0.6, 0.05 dB, and a forearm lifted off the cameraman's coat
/// still leaves coat.
const ENCLOSED_FROM: f32 = 0.6;

/// Hidden shares below this are none (soft edges of the ownership).
const MIN_HIDDEN: f32 = 0.05;

/// Per target pixel (H·W), how much it is person the source does not show (0..1).
pub(super) fn hidden_person(
    layers: &PhotoLayers,
    warp: &PuppetWarp,
    owned: &[f32],
) -> Result<Vec<f32>> {
    let (h, w) = layers.size();
    let flow = &warp.flow;
    let mut sampled = vec![0f32; h * w];
    sampled.par_chunks_mut(w).enumerate().for_each(|(y, row)| {
        for (x, v) in row.iter_mut().enumerate() {
            let (dx, dy) = flow.get(x, y);
            *v = sample_map(&layers.matte, h, w, x as f32 + dx, y as f32 + dy);
        }
    });
    let enclosed = enclosed_by_person(&sampled, owned, h, w)?;
    let hidden = (0..h * w)
        .map(|i| {
            // Within the parts' radii only: the figure's soft outer band is background as
            // often as not.
            let core = ((warp.core[i] - 0.9) * 10.0).clamp(0.0, 1.0);
            let inside = core.max(enclosed[i]);
            // Past a wrist or ankle the figure only *may* reach (a hand is shorter than the
            // part's reach, a fist shorter still): what the moved part does not own there is
            // the background behind it, not more person.
            let reach = (warp.person[i] - warp.core[i]).max(0.0);
            let hid = inside * (1.0 - reach) * (1.0 - owned[i]) * sampled[i];
            if hid < MIN_HIDDEN {
                0.0
            } else {
                hid
            }
        })
        .collect();
    Ok(hidden)
}

/// For the pixels a part has left (not owned, sampling the person), how surely the person
/// surrounds them: the target alpha (`sampled · owned`) of every other pixel, membrane-filled
/// into them, mapped through a smoothstep from [`ENCLOSED_FROM`]. 0 elsewhere.
fn enclosed_by_person(sampled: &[f32], owned: &[f32], h: usize, w: usize) -> Result<Vec<f32>> {
    let left = |i: usize| owned[i] < 0.5 && sampled[i] > 0.5;
    if !(0..h * w).any(left) {
        return Ok(vec![0.0; h * w]);
    }
    let alpha = RgbImage::from_fn(w as u32, h as u32, |x, y| {
        let i = y as usize * w + x as usize;
        let a = crate::imaging::to_u8(sampled[i] * owned[i] * 255.0);
        Rgb([a, a, a])
    });
    let hole = GrayImage::from_fn(w as u32, h as u32, |x, y| {
        Luma([if left(y as usize * w + x as usize) {
            255
        } else {
            0
        }])
    });
    let spread =
        fill_around(&alpha, &hole, left).map_err(|e| anyhow!("spreading the matte: {e}"))?;
    Ok((0..h * w)
        .map(|i| {
            if !left(i) {
                return 0.0;
            }
            let v = spread.as_raw()[3 * i] as f32 / 255.0;
            let t = ((v - ENCLOSED_FROM) / 0.3).clamp(0.0, 1.0);
            t * t * (3.0 - 2.0 * t)
        })
        .collect())
}

/// The hidden person's pixels from the pixels the moved figure surely shows (owned, on the
/// warped matte, not hidden): with `textured`, the exemplar fill from the part of them that
/// did not move (see the module doc); otherwise, or where that finds too few, the membrane
/// fill of their colours.
pub(super) fn person_fill(
    layers: &PhotoLayers,
    flow: &FlowField,
    owned: &[f32],
    hidden: &[f32],
    textured: bool,
) -> Result<RgbImage> {
    let (h, w) = layers.size();
    let known = Known::of(layers, (0, 0), flow, owned, hidden);
    let needed = |i: usize| hidden[i] > 0.0;
    let smooth = fill_around(&known.seeds, &known.unknown, needed)
        .map_err(|e| anyhow!("filling the hidden person: {e}"))?;
    let texture = textured
        .then(|| known.textured(&smooth, needed, detail_radius(h, w)))
        .flatten();
    Ok(texture.unwrap_or(smooth))
}

/// The hidden person's detail at the photo's resolution, over a window (at `origin`, the size
/// of `fill`) whose fill was made on the puppet's coarse grid and brought up bilinearly: there
/// a grid cell is several pixels, and a fill from cells is smooth where the cloth is not (a
/// fleece's curls). Each hidden pixel takes the detail of `under` (the photo with the person
/// under the arms filled in, [`person_under_arms`]) where it samples the photo: the body an
/// arm uncovers shows the grain that the one fill per photo gave that place of the body, in
/// every edit alike.
pub(super) fn full_resolution_detail(
    layers: &PhotoLayers,
    origin: (usize, usize),
    flow: &FlowField,
    owned: &[f32],
    hidden: &[f32],
    fill: &RgbImage,
    under: &RgbImage,
) -> RgbImage {
    let (h, w) = layers.size();
    let mut texture = Known::of(layers, origin, flow, owned, hidden).seeds;
    let fw = flow.width;
    for (i, px) in texture.pixels_mut().enumerate() {
        if hidden[i] > 0.0 {
            let (x, y) = (i % fw, i / fw);
            let (dx, dy) = flow.get(x, y);
            let (sx, sy) = ((origin.0 + x) as f32 + dx, (origin.1 + y) as f32 + dy);
            *px = Rgb(sample_bilinear(under, sx, sy).map(crate::imaging::to_u8));
        }
    }
    with_detail(fill, &texture, |i| hidden[i] > 0.0, detail_radius(h, w))
}

/// The photo of `layers` with the person under the arms of the figure `source` (photo pixels;
/// within the arms' parts, hands measured from the matte) filled by the exemplar fill from the
/// rest of the person of the same cloth as around them: the coat behind crossed forearms, once
/// per photo and skeleton. Unchanged where too little of that cloth shows for patches.
pub(super) fn person_under_arms(layers: &PhotoLayers, source: &Pose) -> RgbImage {
    let (h, w) = layers.size();
    let cfg = PuppetConfig {
        extremities: Some(Extremities::from_matte(source, &layers.matte, h, w)),
        ..PuppetConfig::default()
    };
    let arms = arm_cover(source, h, w, &cfg);
    let needed = |i: usize| arms[i] && layers.matte[i] > 0.5;
    let hole = GrayImage::from_fn(w as u32, h as u32, |x, y| {
        let i = y as usize * w + x as usize;
        Luma([if arms[i] || layers.matte[i] <= 0.5 {
            255
        } else {
            0
        }])
    });
    let photo = layers.foreground();
    let hole = same_cloth(photo, &hole, needed);
    textured_around(photo, &hole, needed).unwrap_or_else(|| photo.clone())
}

/// What the moved figure surely shows, over a frame of `flow`'s size placed at `origin` in the
/// photo: its colours (`seeds`), the rest (`unknown`), and the rest plus what moved
/// (`unknown_still`: texture comes from the person that did not move, where there is enough
/// of it).
struct Known {
    seeds: RgbImage,
    unknown: GrayImage,
    unknown_still: GrayImage,
}

impl Known {
    fn of(
        layers: &PhotoLayers,
        origin: (usize, usize),
        flow: &FlowField,
        owned: &[f32],
        hidden: &[f32],
    ) -> Self {
        let (ph, pw) = layers.size();
        let (w, h) = (flow.width, flow.height);
        let mut seeds = RgbImage::new(w as u32, h as u32);
        let mut unknown = GrayImage::new(w as u32, h as u32);
        // What a moved limb uncovers belongs to the body that stayed (the hip a hand left, the
        // coat behind a lifted forearm): texture comes only from the person that did not move,
        // never from the moved limb itself (whose patches would paint a second hand).
        let mut unknown_still = GrayImage::new(w as u32, h as u32);
        for y in 0..h {
            for x in 0..w {
                let i = y * w + x;
                let (dx, dy) = flow.get(x, y);
                let sx = (origin.0 + x) as f32 + dx;
                let sy = (origin.1 + y) as f32 + dy;
                let sure = hidden[i] == 0.0
                    && owned[i] > 0.5
                    && sample_map(&layers.matte, ph, pw, sx, sy) > 0.5;
                if sure {
                    let c = sample_bilinear(layers.foreground(), sx, sy);
                    seeds.put_pixel(x as u32, y as u32, Rgb(c.map(crate::imaging::to_u8)));
                    if dx.hypot(dy) >= STILL {
                        unknown_still.put_pixel(x as u32, y as u32, Luma([255]));
                    }
                } else {
                    unknown.put_pixel(x as u32, y as u32, Luma([255]));
                    unknown_still.put_pixel(x as u32, y as u32, Luma([255]));
                }
            }
        }
        Self {
            seeds,
            unknown,
            unknown_still,
        }
    }

    /// `fill` with the detail (high-pass of `radius`) of the exemplar fill of the `needed`
    /// pixels, its patches from the still pixels of the same cloth — or, where too few are
    /// still (the whole figure moved: a new pose, not one limb), from all its shown pixels of
    /// that cloth, which moved with it; `None` where even those are too few.
    fn textured(
        &self,
        fill: &RgbImage,
        needed: impl Fn(usize) -> bool + Copy,
        radius: usize,
    ) -> Option<RgbImage> {
        let still = same_cloth(&self.seeds, &self.unknown_still, needed);
        let texture = textured_around(&self.seeds, &still, needed).or_else(|| {
            let shown = same_cloth(&self.seeds, &self.unknown, needed);
            textured_around(&self.seeds, &shown, needed)
        })?;
        Some(with_detail(fill, &texture, needed, radius))
    }
}

/// Radius of the box blur that splits the exemplar fill into shading and detail, for a photo
/// of `h × w`: 2 pixels at the working size of synthetic scenes, growing with the photo (a
/// fleece's curls on a 1080-pixel photo are ten pixels across; a 2-pixel high-pass of them is
/// flat).
fn detail_radius(h: usize, w: usize) -> usize {
    (w.max(h) / 200).max(2)
}

/// The detail's largest step per channel (grey levels). The exemplar fill copies only the
/// hidden cloth's own colours ([`same_cloth`]), so a stripe's edge is detail to keep, not a
/// strap's to cut: 24 halved the contrast of the synthetic clothes' stripes (invented cloth
/// 0.65 of the truth's local contrast on `eval --count 100 --size 256x192`, 0.71 at 48, for
/// 0.02 dB of person PSNR); on the real photos' fills the two look the same.
const DETAIL_CLAMP: f32 = 48.0;

/// `smooth` (the membrane fill: the shading continued from around the hole) plus the detail
/// of `texture` (the exemplar fill minus its own box blur, clamped) at the pixels `at`
/// selects. The exemplar fill alone copies whole patches, which may be of another garment's
/// colour (a strap across a suit); its detail on the membrane's shading gives the folds and
/// weave of the cloth without copying blocks of the wrong colour.
fn with_detail(
    smooth: &RgbImage,
    texture: &RgbImage,
    at: impl Fn(usize) -> bool,
    radius: usize,
) -> RgbImage {
    let raw = texture.as_raw();
    let blurred = crate::imaging::guided::box_mean_rgb(texture, radius);
    let mut out = smooth.clone();
    for (i, px) in out.pixels_mut().enumerate() {
        if !at(i) {
            continue;
        }
        for c in 0..3 {
            let detail = (raw[3 * i + c] as f32 - blurred[c][i]).clamp(-DETAIL_CLAMP, DETAIL_CLAMP);
            px.0[c] = crate::imaging::to_u8(px.0[c] as f32 + detail);
        }
    }
    out
}

/// The box around the pixels `needed` selects, grown by a margin of an eighth of the frame's
/// larger side (at least 8 pixels), so it holds their surroundings: `(x0, y0, x1, y1)`,
/// inclusive; `None` when nothing is needed.
fn box_around(w: usize, h: usize, needed: impl Fn(usize) -> bool) -> Option<[usize; 4]> {
    let (mut x0, mut y0, mut x1, mut y1) = (w, h, 0, 0);
    for i in (0..w * h).filter(|&i| needed(i)) {
        let (x, y) = (i % w, i / w);
        (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x), y1.max(y));
    }
    if x0 > x1 {
        return None;
    }
    let m = (w.max(h) / 8).max(8);
    Some([
        x0.saturating_sub(m),
        y0.saturating_sub(m),
        (x1 + m).min(w - 1),
        (y1 + m).min(h - 1),
    ])
}

/// The exemplar fill for texture runs per edit and only its detail is kept (the shading is
/// the membrane's), so it needs far fewer iterations than a background plate.
const TEXTURE_FILL: PatchMatchParams = PatchMatchParams {
    patch_size: 7,
    coarse_patch_size: 5,
    em_iters_fine: 1,
    em_iters_coarse: 3,
    search_passes: 1,
    fine_search_passes: 1,
    min_level_side: 24,
    seed: 0,
    sharp_finish: true,
};

/// Flows shorter than this (pixels) count as a part that did not move.
const STILL: f32 = 0.5;

/// Shown person pixels a patch source needs in the box (a few patches' worth), else the
/// exemplar fill is not tried.
const MIN_TEXTURE_SOURCE: usize = 400;

/// The exemplar (PatchMatch) completion of `hole` inside the box around the `needed` pixels,
/// with `image` outside `hole` as the only source; `None` when the box has too few known
/// pixels for patches (or no patch fits at all).
fn textured_around(
    image: &RgbImage,
    hole: &GrayImage,
    needed: impl Fn(usize) -> bool,
) -> Option<RgbImage> {
    let (w, h) = (image.width() as usize, image.height() as usize);
    let [x0, y0, x1, y1] = box_around(w, h, &needed)?;
    let (cw, ch) = ((x1 - x0 + 1) as u32, (y1 - y0 + 1) as u32);
    let crop = image::imageops::crop_imm(image, x0 as u32, y0 as u32, cw, ch).to_image();
    let crop_hole = image::imageops::crop_imm(hole, x0 as u32, y0 as u32, cw, ch).to_image();
    let known = crop_hole.as_raw().iter().filter(|&&v| v <= 127).count();
    if known < MIN_TEXTURE_SOURCE {
        return None;
    }
    let wanted = GrayImage::from_fn(cw, ch, |x, y| {
        let i = (y0 + y as usize) * w + x0 + x as usize;
        Luma([if needed(i) { 255 } else { 0 }])
    });
    let filled = fill_patchmatch_wanted(&crop, &crop_hole, &wanted, &TEXTURE_FILL).ok()?;
    let mut out = image.clone();
    image::imageops::replace(&mut out, &filled, x0 as i64, y0 as i64);
    Some(out)
}

/// The membrane fill of `hole` in `image`, solved only in the box around the pixels `needed`
/// selects ([`box_around`]): those are the only values read, and a limb's old place is a small
/// part of a frame. Outside the box the output is `image`.
fn fill_around(
    image: &RgbImage,
    hole: &GrayImage,
    needed: impl Fn(usize) -> bool,
) -> Result<RgbImage, crate::imaging::inpaint::InpaintError> {
    let (w, h) = (image.width() as usize, image.height() as usize);
    let Some([x0, y0, x1, y1]) = box_around(w, h, needed) else {
        return Ok(image.clone());
    };
    let (cw, ch) = ((x1 - x0 + 1) as u32, (y1 - y0 + 1) as u32);
    let crop = image::imageops::crop_imm(image, x0 as u32, y0 as u32, cw, ch).to_image();
    let crop_hole = image::imageops::crop_imm(hole, x0 as u32, y0 as u32, cw, ch).to_image();
    let filled = match fill_diffusion(&crop, &crop_hole) {
        // Nothing known in the box (a hole larger than the margin): the whole frame then.
        Err(crate::imaging::inpaint::InpaintError::NoSource { .. }) => {
            return fill_diffusion(image, hole)
        }
        other => other?,
    };
    let mut out = image.clone();
    image::imageops::replace(&mut out, &filled, x0 as i64, y0 as i64);
    Ok(out)
}
