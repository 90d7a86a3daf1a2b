//! Issue 28's texture figure as the issue words it: the local contrast of what a composite
//! invented against that of the same garment where the photo shows it. The garment of a pixel
//! is the synthetic figure's part there (torso, upper arm, thigh, …: each wears one cloth);
//! both sides count only pixels whose 3×3 window lies inside one part, and invented pixels
//! only where their window is all invented, so an outline against the background, another
//! garment or the moved person beside the fill is not taken for texture (with them, a flat
//! membrane fill scored 0.87).
//!
//! The other texture figure (`texture` in the table, [`super::compare`]) divides by the
//! truth's contrast at the very pixels that were hidden, outlines between garments and limbs
//! included; this one asks whether invented cloth has its garment's grain.

use super::metrics::local_std;
use crate::composite::Composited;
use crate::synth::SynthScene;
use image::RgbImage;

/// A part needs this many interior pixels on each side (invented, shown) to be compared.
const MIN_PIXELS: usize = 16;

/// Whether `keep` holds at every pixel of the 3×3 window around pixel `i` of a `w × h` frame
/// (false on the frame's border, where the window is cut).
fn whole_window(i: usize, w: usize, h: usize, keep: impl Fn(usize) -> bool) -> bool {
    let (x, y) = (i % w, i / w);
    x > 0
        && y > 0
        && x + 1 < w
        && y + 1 < h
        && (y - 1..=y + 1).all(|yy| (x - 1..=x + 1).all(|xx| keep(yy * w + xx)))
}

/// Pooled over scenes and parts, each part weighted by its invented pixels.
#[derive(Clone, Default)]
pub struct GarmentTexture {
    invented: f64,
    shown: f64,
}

impl GarmentTexture {
    /// Adds one edit: `c` the composite, `truth` the true target image of `scene`.
    pub fn add(&mut self, c: &Composited, truth: &RgbImage, scene: &SynthScene) {
        let (w, h) = (truth.width() as usize, truth.height() as usize);
        let parts = &scene.target_parts;
        // Per part: summed local std and count, of the composite's invented pixels and of the
        // truth's shown ones.
        let mut inv = vec![(0f64, 0usize); 256];
        let mut shown = vec![(0f64, 0usize); 256];
        for (i, &part) in parts.iter().enumerate() {
            let k = part as usize;
            if part == u8::MAX || !whole_window(i, w, h, |j| parts[j] == part) {
                continue;
            }
            let (x, y) = ((i % w) as u32, (i / w) as u32);
            if whole_window(i, w, h, |j| c.invented[j] > 0.5) {
                inv[k].0 += local_std(&c.image, x, y);
                inv[k].1 += 1;
            } else if scene.pair.person_shown(i) == Some(true) {
                shown[k].0 += local_std(truth, x, y);
                shown[k].1 += 1;
            }
        }
        for (a, b) in inv.iter().zip(&shown) {
            if a.1 >= MIN_PIXELS && b.1 >= MIN_PIXELS {
                self.invented += a.0;
                self.shown += a.1 as f64 * b.0 / b.1 as f64;
            }
        }
    }

    /// The invented pixels' mean local contrast over their garments' shown one (1: as
    /// textured as the garment; `None` when nothing was compared).
    pub fn ratio(&self) -> Option<f64> {
        (self.shown > 0.0).then(|| self.invented / self.shown)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::{render_scene, SynthConfig};

    fn composited(image: RgbImage, invented: Vec<f32>) -> Composited {
        let n = invented.len();
        Composited {
            image,
            person: vec![1.0; n],
            vacated: vec![0.0; n],
            invented,
            moved: vec![0.0; n],
        }
    }

    #[test]
    fn a_flat_fill_scores_zero_and_the_truth_itself_about_one() {
        let scene = render_scene(
            7,
            &SynthConfig {
                height: 256,
                width: 192,
            },
        );
        let truth = &scene.pair.target;
        let (w, h) = (truth.width() as usize, truth.height() as usize);
        // "Invent" every other band of 6 rows of the torso (so both sides sample all of it):
        // once as the truth itself, once flat.
        let torso = crate::synth::figure::part::TORSO as u8;
        let invented: Vec<f32> = (0..w * h)
            .map(|i| {
                let take = scene.target_parts[i] == torso && (i / w / 6) % 2 == 0;
                if take {
                    1.0
                } else {
                    0.0
                }
            })
            .collect();
        let mut same = GarmentTexture::default();
        same.add(&composited(truth.clone(), invented.clone()), truth, &scene);
        let r = same.ratio().expect("the torso shows in this scene");
        // Bands of a part against the bands between them: the same cloth.
        assert!((r - 1.0).abs() < 0.25, "ratio {r}");
        let mut flat_img = truth.clone();
        for (i, p) in flat_img.pixels_mut().enumerate() {
            if scene.target_parts[i] == torso {
                *p = image::Rgb([120, 80, 60]);
            }
        }
        let mut flat = GarmentTexture::default();
        flat.add(&composited(flat_img, invented), truth, &scene);
        assert!(flat.ratio().is_some_and(|r| r < 1e-3), "{:?}", flat.ratio());
        assert_eq!(GarmentTexture::default().ratio(), None);
    }
}
