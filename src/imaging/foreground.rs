//! The person's own colour at the soft edge of a matte, and how much of that edge is the person.
//!
//! A photo pixel on a matte's soft edge is a mix, `I = α·F + (1 − α)·B`, of the person's colour
//! `F` and the background behind it `B`. Moving the person with the photo's own colours carries
//! `B` along: a limb lifted off a white wall keeps a light outline of the wall wherever it goes.
//! Compositing wants `F`. With a background estimate (the plate, which fills the person's hole
//! from the rest of the photo) the mix can be undone: `F = (I − (1 − α)·B) / α`. That is exact
//! where the plate is right and α is large; where α is small it divides the plate's error by a
//! small number, so there `F` leans on the person's colour nearby instead: the α-weighted mean
//! of the photo over the surely-person pixels within a few pixels (a normalised box filter, the
//! cheap relative of the closed-form foreground estimate).
//!
//! The same mix read the other way gives α from the colours ([`colour_alpha`]): with the
//! person's colour nearby as `F` and the plate as `B`, `α = (I − B)·(F − B) / |F − B|²`, the
//! projection colour-sampling matting makes. The segmentation's soft edge is a blur of its
//! 256² mask, wider than the person's real edge: around the astronaut's hair it reaches ~10 px
//! into the backdrop at 0.1–0.4, and a moved head carried that band of backdrop with it, a
//! light halo wherever the backdrop behind the new place was darker.

use super::guided::box_mean;
use super::smoothstep;
use image::RgbImage;
use rayon::prelude::*;

/// At and above this α a pixel is the person's own colour.
const SOLID: f32 = 0.98;
/// Below `TRUST_FROM` the un-mixed colour is not trusted at all, from `TRUST_FULL` fully.
const TRUST_FROM: f32 = 0.1;
const TRUST_FULL: f32 = 0.5;
/// Pixels whose α is at least this seed the nearby person colour.
const SEED: f32 = 0.7;
/// [`colour_alpha`] trusts the colours' α where the person's colour and the background's lie
/// this far apart (8-bit RGB distance): not at all from the first, fully from the second.
const APART_FROM: f32 = 16.0;
const APART_FULL: f32 = 48.0;
/// [`colour_alpha`] lowers α on the outer part of the soft edge only: fully below the first,
/// not at all from the second, where the segmentation is sure enough that a plate's error
/// would do more harm than the blur it corrects.
const OUTER_FULL: f32 = 0.4;
const OUTER_TO: f32 = 0.7;

/// The person's colour around each pixel: `Σ wI / Σ w` over a (2·radius + 1)² box, `w = α` on
/// the sure pixels (α ≥ [`SEED`]). `None` where the box holds none.
struct NearPerson {
    wsum: Vec<f32>,
    sums: [Vec<f32>; 3],
}

impl NearPerson {
    fn new(photo: &RgbImage, alpha: &[f32], radius: usize) -> Self {
        let (w, h) = (photo.width() as usize, photo.height() as usize);
        let px = photo.as_raw();
        let weight: Vec<f32> = alpha
            .iter()
            .map(|&a| if a >= SEED { a } else { 0.0 })
            .collect();
        let wsum = box_mean(&weight, w, h, radius);
        let sums = [0, 1, 2].map(|c| {
            let wi: Vec<f32> = (0..w * h)
                .map(|i| weight[i] * px[3 * i + c] as f32)
                .collect();
            box_mean(&wi, w, h, radius)
        });
        Self { wsum, sums }
    }

    fn at(&self, i: usize) -> Option<[f32; 3]> {
        let n = self.wsum[i];
        (n > 1e-4).then(|| [0, 1, 2].map(|c| self.sums[c][i] / n))
    }
}

/// `photo`'s width; panics unless `alpha` has one value per pixel and `background`
/// the photo's size (callers check their layers' sizes first).
fn checked_width(photo: &RgbImage, alpha: &[f32], background: &RgbImage) -> usize {
    let (w, h) = (photo.width() as usize, photo.height() as usize);
    assert_eq!(alpha.len(), w * h, "alpha for a {w}×{h} photo");
    assert_eq!(background.dimensions(), photo.dimensions());
    w
}

/// The foreground colour of every pixel of `photo` under `alpha` (H·W, 0..1) with `background`
/// the scene behind the person (same size as the photo). Pixels at α ≥ 0.98 and at α = 0 keep
/// the photo's colour; the soft edge gets the estimate above. `radius` (pixels) is how far the
/// nearby person colour is looked for.
pub fn estimate_foreground(
    photo: &RgbImage,
    alpha: &[f32],
    background: &RgbImage,
    radius: usize,
) -> RgbImage {
    let w = checked_width(photo, alpha, background);
    let soft = |a: f32| a > 0.0 && a < SOLID;
    if !alpha.iter().any(|&a| soft(a)) {
        return photo.clone();
    }
    let near = NearPerson::new(photo, alpha, radius);
    let (px, bg) = (photo.as_raw(), background.as_raw());
    let mut out = photo.clone();
    out.par_chunks_mut(3 * w).enumerate().for_each(|(y, row)| {
        for x in 0..w {
            let i = y * w + x;
            let a = alpha[i];
            if !soft(a) {
                continue;
            }
            let trust = smoothstep(TRUST_FROM, TRUST_FULL, a);
            let person = near.at(i);
            for c in 0..3 {
                let k = 3 * i + c;
                let unmixed = ((px[k] as f32 - (1.0 - a) * bg[k] as f32) / a).clamp(0.0, 255.0);
                let f = match person {
                    Some(p) => trust * unmixed + (1.0 - trust) * p[c],
                    None => unmixed,
                };
                row[3 * x + c] = crate::imaging::to_u8(f);
            }
        }
    });
    out
}

/// `alpha` (H·W, 0..1) lowered on the outer part of its soft edge to what the colours say:
/// `(I − B)·(F − B) / |F − B|²` with `B` the `background` (the plate) and `F` the person's
/// colour within `radius` pixels. Where that is less than the matte's value, the pixel looks
/// more like the background than the matte claims and its α falls towards it — fully where
/// `F` and `B` are far apart and α is small, not at all where their colours are alike (the
/// colours cannot tell) or no sure person pixel is near (nothing to compare with). Never raises
/// α; pixels at 0 and from 0.7 up keep theirs.
pub fn colour_alpha(
    photo: &RgbImage,
    alpha: &[f32],
    background: &RgbImage,
    radius: usize,
) -> Vec<f32> {
    let w = checked_width(photo, alpha, background);
    let outer = |a: f32| a > 0.0 && a < OUTER_TO;
    if !alpha.iter().any(|&a| outer(a)) {
        return alpha.to_vec();
    }
    let near = NearPerson::new(photo, alpha, radius);
    let (px, bg) = (photo.as_raw(), background.as_raw());
    let mut out = alpha.to_vec();
    out.par_chunks_mut(w).enumerate().for_each(|(y, row)| {
        for (x, o) in row.iter_mut().enumerate() {
            let i = y * w + x;
            let a = alpha[i];
            if !outer(a) {
                continue;
            }
            let Some(f) = near.at(i) else { continue };
            let (mut dot, mut len2) = (0f32, 0f32);
            for c in 0..3 {
                let b = bg[3 * i + c] as f32;
                dot += (px[3 * i + c] as f32 - b) * (f[c] - b);
                len2 += (f[c] - b) * (f[c] - b);
            }
            let apart = smoothstep(APART_FROM, APART_FULL, len2.sqrt());
            if apart == 0.0 {
                continue;
            }
            let from_colour = (dot / len2).clamp(0.0, 1.0);
            let weight = apart * (1.0 - smoothstep(OUTER_FULL, OUTER_TO, a));
            *o = a - weight * (a - from_colour).max(0.0);
        }
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Rgb;

    /// A red disc over a striped background with an anti-aliased edge: the estimate recovers
    /// the red at every edge pixel, where the photo's colour is off by up to the stripes'.
    #[test]
    fn unmixes_a_soft_edge_against_the_background() {
        let (w, h) = (64u32, 48u32);
        let fg = [200.0f32, 30.0, 40.0];
        let background = RgbImage::from_fn(w, h, |x, _| {
            if (x / 4) % 2 == 0 {
                Rgb([250, 250, 250])
            } else {
                Rgb([20, 90, 20])
            }
        });
        // Coverage of a disc of radius 15 by 8×8 supersampling.
        let alpha: Vec<f32> = (0..w * h)
            .map(|i| {
                let (x, y) = ((i % w) as f32, (i / w) as f32);
                let mut n = 0;
                for sy in 0..8 {
                    for sx in 0..8 {
                        let (px, py) = (x + (sx as f32 + 0.5) / 8.0, y + (sy as f32 + 0.5) / 8.0);
                        if (px - 32.0).powi(2) + (py - 24.0).powi(2) < 225.0 {
                            n += 1;
                        }
                    }
                }
                n as f32 / 64.0
            })
            .collect();
        let photo = RgbImage::from_fn(w, h, |x, y| {
            let a = alpha[(y * w + x) as usize];
            let b = background.get_pixel(x, y).0;
            Rgb([0, 1, 2].map(|c| (a * fg[c] + (1.0 - a) * b[c] as f32).round() as u8))
        });
        let f = estimate_foreground(&photo, &alpha, &background, 3);
        let (mut worst_photo, mut worst_f, mut edge) = (0f32, 0f32, 0);
        for (i, &a) in alpha.iter().enumerate() {
            let (x, y) = (i as u32 % w, i as u32 / w);
            if a == 0.0 {
                assert_eq!(f.get_pixel(x, y), photo.get_pixel(x, y), "background kept");
                continue;
            }
            let err = |img: &RgbImage| {
                let p = img.get_pixel(x, y).0;
                (0..3)
                    .map(|c| (p[c] as f32 - fg[c]).abs())
                    .fold(0.0, f32::max)
            };
            if a < SOLID {
                edge += 1;
                worst_photo = worst_photo.max(err(&photo));
                worst_f = worst_f.max(err(&f));
            }
        }
        assert!(edge > 50, "{edge} edge pixels");
        assert!(worst_photo > 100.0, "the edge mixes: {worst_photo}");
        // 8-bit rounding divided by α: a few levels where α is small.
        assert!(worst_f <= 6.0, "foreground off by {worst_f} at the edge");
    }

    /// With a wrong background (the plate is a guess) and a faint α, the colour comes from the
    /// person nearby instead of exploding.
    #[test]
    fn faint_edges_take_the_colour_nearby() {
        let (w, h) = (16u32, 4u32);
        let alpha: Vec<f32> = (0..w * h)
            .map(|i| match i % w {
                0..=7 => 1.0,
                8 => 0.05,
                _ => 0.0,
            })
            .collect();
        let photo = RgbImage::from_fn(w, h, |x, _| {
            if x < 8 {
                Rgb([10, 200, 10])
            } else {
                Rgb([120, 120, 120])
            }
        });
        let wrong = RgbImage::from_pixel(w, h, Rgb([255, 0, 255]));
        let f = estimate_foreground(&photo, &alpha, &wrong, 2);
        for y in 0..h {
            assert_eq!(f.get_pixel(8, y).0, [10, 200, 10]);
            assert_eq!(f.get_pixel(3, y), photo.get_pixel(3, y));
            assert_eq!(f.get_pixel(12, y), photo.get_pixel(12, y));
        }
    }

    /// A dark head against a light backdrop whose matte's soft edge reaches 5 px past the
    /// head's real (hard) edge: the outer band over the backdrop falls to 0, the head keeps its
    /// α, a pixel that mixes a quarter of the head gets a quarter.
    #[test]
    fn a_blurred_matte_falls_to_the_colours_over_the_backdrop() {
        let (w, h) = (40u32, 8u32);
        let (head, backdrop) = ([90u8, 60, 40], [200u8, 195, 190]);
        let mix = |share: f32| {
            Rgb([0, 1, 2].map(|c| {
                (share * head[c] as f32 + (1.0 - share) * backdrop[c] as f32).round() as u8
            }))
        };
        // Head in columns 0..=21, a quarter of it at 24; the matte ramps from 1 at column 18
        // to 0 at column 27.
        let photo = RgbImage::from_fn(w, h, |x, _| match x {
            0..=21 => Rgb(head),
            24 => mix(0.25),
            _ => Rgb(backdrop),
        });
        let ramp = |x: u32| (1.0 - (x as f32 - 18.0) / 9.0).clamp(0.0, 1.0);
        let alpha: Vec<f32> = (0..w * h).map(|i| ramp(i % w)).collect();
        let plate = RgbImage::from_pixel(w, h, Rgb(backdrop));
        let out = colour_alpha(&photo, &alpha, &plate, 6);
        for y in 0..h as usize {
            let at = |x: usize| out[y * w as usize + x];
            for (x, &a) in alpha.iter().enumerate().take(22) {
                assert_eq!(at(x), a, "column {x} keeps its alpha");
            }
            // The matte's middle (0.4–0.7) falls only in part, more the fainter it is.
            assert!(at(22) < 0.6 * alpha[22], "column 22: {}", at(22));
            assert!(at(23) < 0.05, "column 23: {}", at(23));
            assert!((at(24) - 0.25).abs() < 0.01, "the quarter mix: {}", at(24));
            for (x, &a) in alpha.iter().enumerate().take(w as usize).skip(25) {
                assert!(at(x) < 0.02, "column {x}: {} (matte {a})", at(x));
            }
        }
        // A head the backdrop's colour: the colours cannot tell, the matte stays.
        let alike = RgbImage::from_fn(w, h, |x, _| {
            Rgb(if x < 22 { [195, 190, 185] } else { backdrop })
        });
        assert_eq!(colour_alpha(&alike, &alpha, &plate, 6)[..], alpha[..]);
    }
}
