//! Which still pixels are the same cloth as the person a moved limb uncovered: the exemplar
//! fill of the hidden person ([`super::hidden`]) copies patches only from those, so the coat
//! behind a forearm gets the coat's grain, not the face's or a strap's.
//!
//! The cloth is read from a ring of shown pixels around the hidden ones (what bordered the
//! limb that left) as a small palette: its most common colour, then the most common of what
//! is left once that colour is taken out, while what is left is a good share of the ring
//! (not medians: the per-channel median of two colours may be neither). A plain
//! coat gives one colour; a striped or checked shirt gives each of its colours, so its
//! patches keep their stripes (with one reference colour only one stripe's pixels passed,
//! and the fill of a striped shirt came out in one flat colour: the eval's texture figure
//! for invented cloth was 0.54 of the truth's local contrast).

use image::{GrayImage, Rgb, RgbImage};

/// Chromaticity distance (of r, g, b over their sum) past which a pixel is not the same cloth
/// as a palette colour: skin beside a beige fleece is ~0.08 away, the fleece's own light and
/// shade within ~0.02; shading changes brightness, not chromaticity.
const SAME_CLOTH_CHROMA: f32 = 0.05;
/// Brightness ratios to a palette colour's outside which a pixel is not that colour either (a
/// dark beard or strap on a light coat), however close in chromaticity.
const SAME_CLOTH_BRIGHTNESS: (f32, f32) = (0.55, 1.8);

/// How far around the hidden pixels (pixels) the cloth that was hidden is sampled.
const CLOTH_RING: usize = 4;

/// A colour the palette keeps must be at least this share of the ring: a stripe of a shirt
/// is (half of it, for even stripes), a strap or a button crossing the ring is not.
const MIN_COLOUR_SHARE: f32 = 0.25;

/// At most this many colours in the palette.
const MAX_COLOURS: usize = 3;

/// A colour as the cloth test sees it: chromaticity and brightness (r + g + b).
#[derive(Clone, Copy, Debug)]
struct Shade {
    chroma: [f32; 3],
    brightness: f32,
}

impl Shade {
    fn of(p: &Rgb<u8>) -> Self {
        let c = p.0.map(f32::from);
        let brightness = c.iter().sum::<f32>().max(1.0);
        Self {
            chroma: c.map(|v| v / brightness),
            brightness,
        }
    }

    /// Whether `self` is the same cloth as the palette colour `reference`.
    fn matches(&self, reference: &Shade) -> bool {
        let d2: f32 = (0..3)
            .map(|k| (self.chroma[k] - reference.chroma[k]).powi(2))
            .sum();
        let ratio = self.brightness / reference.brightness;
        let (lo, hi) = SAME_CLOTH_BRIGHTNESS;
        d2 <= SAME_CLOTH_CHROMA * SAME_CLOTH_CHROMA && (lo..=hi).contains(&ratio)
    }

    /// Per-channel medians (chromaticity and brightness each).
    fn median(shades: &[Shade]) -> Shade {
        let median = |f: &dyn Fn(&Shade) -> f32| {
            let mut v: Vec<f32> = shades.iter().map(f).collect();
            let k = v.len() / 2;
            *v.select_nth_unstable_by(k, f32::total_cmp).1
        };
        Shade {
            chroma: std::array::from_fn(|k| median(&|s| s.chroma[k])),
            brightness: median(&|s| s.brightness),
        }
    }
}

/// Ring pixels tried as a colour's seed, and ring pixels counted for each (evenly spaced
/// samples: the ring of a large hole has thousands of pixels).
const MODE_CANDIDATES: usize = 64;
const MODE_SAMPLE: usize = 512;

/// The most common colour of `shades` (none for none): of evenly spaced candidates, the one
/// the most of an evenly spaced sample matches, then the median of all it matches. Not the
/// median of them all: the per-channel median of a red-and-cream stripe is a pink no pixel has.
fn mode(shades: &[Shade]) -> Option<Shade> {
    let spaced = |n: usize| {
        let step = shades.len().div_ceil(n).max(1);
        shades.iter().step_by(step)
    };
    let seed = spaced(MODE_CANDIDATES)
        .max_by_key(|c| spaced(MODE_SAMPLE).filter(|s| s.matches(c)).count())?;
    let like: Vec<Shade> = shades.iter().filter(|s| s.matches(seed)).copied().collect();
    Some(Shade::median(&like))
}

/// The ring's cloth colours (see the module doc); empty for an empty ring.
fn palette(ring: &[Shade]) -> Vec<Shade> {
    let mut colours = Vec::new();
    let mut rest = ring.to_vec();
    while colours.len() < MAX_COLOURS
        && (colours.is_empty() || rest.len() as f32 >= MIN_COLOUR_SHARE * ring.len() as f32)
    {
        let Some(colour) = mode(&rest) else { break };
        let before = rest.len();
        rest.retain(|s| !s.matches(&colour));
        if rest.len() == before {
            break;
        }
        colours.push(colour);
    }
    colours
}

/// `hole` (255 = not a source) with the pixels of another cloth than the one around the
/// hidden person closed too: the palette of the source pixels within [`CLOTH_RING`] of a
/// pixel `needed` selects. Without such a ring (the hole borders no shown person) `hole` is
/// returned as it is.
pub(super) fn same_cloth(
    image: &RgbImage,
    hole: &GrayImage,
    needed: impl Fn(usize) -> bool,
) -> GrayImage {
    let (w, h) = (image.width() as usize, image.height() as usize);
    let needed: Vec<f32> = (0..w * h).map(|i| f32::from(u8::from(needed(i)))).collect();
    let near = super::vacated::max_filter(&needed, h, w, CLOTH_RING);
    let ring: Vec<Shade> = (0..w * h)
        .filter(|&i| near[i] > 0.0 && hole.as_raw()[i] <= 127)
        .map(|i| Shade::of(image.get_pixel((i % w) as u32, (i / w) as u32)))
        .collect();
    let colours = palette(&ring);
    let mut out = hole.clone();
    if colours.is_empty() {
        return out;
    }
    for (p, q) in image.pixels().zip(out.pixels_mut()) {
        let s = Shade::of(p);
        if !colours.iter().any(|c| s.matches(c)) {
            q.0[0] = 255;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Luma;

    /// A 40×40 cloth of `stripe` colours in vertical stripes 4 pixels wide, with a hole (the
    /// hidden person) in the middle and a `strap` column of another colour.
    fn striped(stripes: &[[u8; 3]], strap: [u8; 3]) -> (RgbImage, GrayImage) {
        let img = RgbImage::from_fn(40, 40, |x, _| {
            if x == 30 {
                Rgb(strap)
            } else {
                Rgb(stripes[(x as usize / 4) % stripes.len()])
            }
        });
        let hole = GrayImage::from_fn(40, 40, |x, y| {
            Luma([if (14..26).contains(&x) && (14..26).contains(&y) {
                255
            } else {
                0
            }])
        });
        (img, hole)
    }

    fn kept(out: &GrayImage, img: &RgbImage, colour: [u8; 3]) -> usize {
        img.pixels()
            .zip(out.pixels())
            .filter(|(p, q)| p.0 == colour && q.0[0] <= 127)
            .count()
    }

    #[test]
    fn every_stripe_of_a_striped_cloth_is_a_source_and_a_strap_is_not() {
        let (red, cream, strap) = ([170, 40, 50], [235, 225, 200], [20, 20, 30]);
        let (img, hole) = striped(&[red, cream], strap);
        let needed = |i: usize| hole.as_raw()[i] > 127;
        let out = same_cloth(&img, &hole, needed);
        // Both stripes stay sources everywhere outside the hole; the strap (one column of 40:
        // not in the ring) is closed.
        let outside = |c: [u8; 3]| {
            img.pixels()
                .zip(hole.pixels())
                .filter(|(p, q)| p.0 == c && q.0[0] <= 127)
                .count()
        };
        assert_eq!(kept(&out, &img, red), outside(red));
        assert_eq!(kept(&out, &img, cream), outside(cream));
        assert_eq!(kept(&out, &img, strap), 0);
    }

    #[test]
    fn a_colour_that_is_a_small_share_of_the_ring_is_not_the_cloth() {
        let (coat, skin) = ([60, 60, 70], [200, 150, 120]);
        // A coat ring with a few skin pixels (a hand's edge): the skin stays closed.
        let (mut img, hole) = striped(&[coat], coat);
        for y in 10..13 {
            for x in 12..16 {
                img.put_pixel(x, y, Rgb(skin));
            }
        }
        img.put_pixel(5, 35, Rgb(skin));
        let out = same_cloth(&img, &hole, |i| hole.as_raw()[i] > 127);
        assert_eq!(kept(&out, &img, skin), 0);
        assert!(kept(&out, &img, coat) > 1000);
        // Shading of the coat passes: a darker and a lighter shade of the same chromaticity.
        let ring = [coat, [40, 40, 47], [80, 80, 93]].map(|c| Shade::of(&Rgb(c)));
        let colours = palette(&ring);
        assert_eq!(colours.len(), 1);
        assert!(ring.iter().all(|s| s.matches(&colours[0])));
    }

    #[test]
    fn no_ring_leaves_the_hole_as_it_is() {
        let (img, hole) = striped(&[[100, 100, 100]], [0, 0, 0]);
        let out = same_cloth(&img, &hole, |_| false);
        assert_eq!(out.as_raw(), hole.as_raw());
    }
}
