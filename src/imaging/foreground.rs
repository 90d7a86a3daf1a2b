//! The person's own colour at the soft edge of a matte.
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
    let (w, h) = (photo.width() as usize, photo.height() as usize);
    assert_eq!(alpha.len(), w * h, "alpha for a {w}×{h} photo");
    assert_eq!(background.dimensions(), photo.dimensions());
    let soft = |a: f32| a > 0.0 && a < SOLID;
    if !alpha.iter().any(|&a| soft(a)) {
        return photo.clone();
    }
    // The person's colour nearby: Σ wI / Σ w over a box, w = α on sure pixels.
    let px = photo.as_raw();
    let weight: Vec<f32> = alpha
        .iter()
        .map(|&a| if a >= SEED { a } else { 0.0 })
        .collect();
    let wsum = box_mean(&weight, w, h, radius);
    let near: Vec<Vec<f32>> = (0..3)
        .map(|c| {
            let wi: Vec<f32> = (0..w * h)
                .map(|i| weight[i] * px[3 * i + c] as f32)
                .collect();
            box_mean(&wi, w, h, radius)
        })
        .collect();
    let bg = background.as_raw();
    let mut out = photo.clone();
    out.par_chunks_mut(3 * w).enumerate().for_each(|(y, row)| {
        for x in 0..w {
            let i = y * w + x;
            let a = alpha[i];
            if !soft(a) {
                continue;
            }
            let trust = smoothstep(TRUST_FROM, TRUST_FULL, a);
            for c in 0..3 {
                let k = 3 * i + c;
                let unmixed = ((px[k] as f32 - (1.0 - a) * bg[k] as f32) / a).clamp(0.0, 255.0);
                let f = if wsum[i] > 1e-4 {
                    trust * unmixed + (1.0 - trust) * near[c][i] / wsum[i]
                } else {
                    unmixed
                };
                row[3 * x + c] = crate::imaging::to_u8(f);
            }
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
}
