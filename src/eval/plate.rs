//! Judging background plates on synthetic scenes, where the true background is known: the
//! person's coverage (dilated) is the hole, the background drawn alone is the answer.

use image::{GrayImage, RgbImage};

use super::metrics::{psnr_masked, ssim, MetricError};
use crate::imaging::inpaint::dilate_mask;
use crate::synth::texture::Background;
use crate::synth::{render_picture, Articulation, Person, SynthConfig};
use crate::util::rng::SplitMix64;

/// A person-on-background picture with the hole a matte would give and the true plate.
#[derive(Clone, Debug)]
pub struct PlateScene {
    pub image: RgbImage,
    /// The background alone: what a perfect fill puts in the hole.
    pub truth: RgbImage,
    /// 255 where the person covers any part of a pixel, dilated by `dilate` px; 0 elsewhere.
    pub hole: GrayImage,
    /// Whether the background is the street-like textured kind (else a plain gradient).
    pub textured: bool,
}

impl PlateScene {
    /// Share of the frame in the hole.
    pub fn hole_fraction(&self) -> f64 {
        let n = self.hole.as_raw().iter().filter(|&&v| v > 127).count();
        n as f64 / self.hole.as_raw().len().max(1) as f64
    }
}

/// The scene of `seed` at `width`×`height` (each ≥ 32) with the hole dilated by `dilate` px.
pub fn plate_scene(seed: u64, width: usize, height: usize, dilate: u32) -> PlateScene {
    let cfg = SynthConfig { height, width };
    let mut rng = SplitMix64::new(seed ^ 0x0091_A7E5_CE7E);
    let person = Person::sample(&mut rng, &cfg);
    let pose = Articulation::sample(&mut rng, &cfg);
    let scene = render_picture(&person, &pose, &cfg);
    let cover = GrayImage::from_fn(width as u32, height as u32, |x, y| {
        let c = scene.person[y as usize * width + x as usize];
        image::Luma([if c > 0.0 { 255 } else { 0 }])
    });
    PlateScene {
        image: scene.image,
        truth: scene.background,
        hole: dilate_mask(&cover, dilate),
        textured: matches!(person.background, Background::Textured { .. }),
    }
}

/// How close a fill is to the truth where it filled.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FillScore {
    /// PSNR (dB) over the hole pixels.
    pub psnr: f64,
    /// SSIM over the hole's bounding box grown by 8 px (the rest of the box is exact in any
    /// fill, so this compares fills, it is not an absolute figure).
    pub ssim: f64,
    /// Detail kept: the fill's mean gradient magnitude inside the hole over the truth's (1 =
    /// as much texture and edge as the real background; a smeared fill is well below 1). PSNR
    /// rewards the smooth conditional mean when an edge or a noise grain cannot be placed
    /// exactly, so this is the number that tells a plate from a smudge. NaN when the truth
    /// is flat there.
    pub detail: f64,
}

/// Mean over the hole of |∂x| + |∂y| (forward differences, summed over channels).
fn gradient_energy(img: &RgbImage, hole: &GrayImage) -> f64 {
    let (w, h) = img.dimensions();
    let (mut sum, mut n) = (0f64, 0usize);
    for (x, y, m) in hole.enumerate_pixels() {
        if m[0] <= 127 || x + 1 >= w || y + 1 >= h {
            continue;
        }
        let (p, r, d) = (
            img.get_pixel(x, y),
            img.get_pixel(x + 1, y),
            img.get_pixel(x, y + 1),
        );
        sum += (0..3)
            .map(|k| (p[k] as f64 - r[k] as f64).abs() + (p[k] as f64 - d[k] as f64).abs())
            .sum::<f64>();
        n += 1;
    }
    sum / n.max(1) as f64
}

/// Scores `fill` against `truth` inside `hole` (pixels > 127).
pub fn score_fill(
    fill: &RgbImage,
    truth: &RgbImage,
    hole: &GrayImage,
) -> Result<FillScore, MetricError> {
    let psnr = psnr_masked(fill, truth, hole)?;
    let (w, h) = hole.dimensions();
    let (mut x0, mut y0, mut x1, mut y1) = (w, h, 0, 0);
    for (x, y, p) in hole.enumerate_pixels() {
        if p[0] > 127 {
            (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x), y1.max(y));
        }
    }
    let (x0, y0) = (x0.saturating_sub(8), y0.saturating_sub(8));
    let (x1, y1) = ((x1 + 9).min(w), (y1 + 9).min(h));
    let crop = |img: &RgbImage| image::imageops::crop_imm(img, x0, y0, x1 - x0, y1 - y0).to_image();
    let ssim = ssim(&crop(fill), &crop(truth))?;
    let truth_energy = gradient_energy(truth, hole);
    let detail = if truth_energy > 1e-9 {
        gradient_energy(fill, hole) / truth_energy
    } else {
        f64::NAN
    };
    Ok(FillScore { psnr, ssim, detail })
}
