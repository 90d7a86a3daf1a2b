//! Photo textures: crops of CC0 / public-domain photographs (`assets/textures/`, licences in
//! its `LICENSE.md`) for garments and backdrops, so that the refiner's training scenes have the
//! grain, shading and clutter of photographs rather than only flat procedural patterns.
//!
//! A scene gets them through [`Look::Photo`] ([`super::render_scene_look`]); the draws come from
//! their own random stream, so the drawn look of a seed (what `eval` and every existing test
//! see) is unchanged. The images are compiled in: training must not depend on files beside the
//! binary.

use super::figure::Person;
use super::texture::{Background, Pattern, Texture};
use super::util::{coin, mix, random_color, rf, Rgb};
use crate::util::rng::SplitMix64;
use std::sync::OnceLock;

/// How a synthetic scene is dressed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Look {
    /// Procedural patterns and backdrops only (what `eval` and the GFLA training use).
    #[default]
    Drawn,
    /// Most garments and backdrops textured from photographs.
    Photo,
}

impl std::str::FromStr for Look {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> anyhow::Result<Self> {
        match s {
            "drawn" => Ok(Look::Drawn),
            "photo" => Ok(Look::Photo),
            _ => anyhow::bail!("unknown look {s:?}: drawn or photo"),
        }
    }
}

/// One decoded photo of the bank, linear in 0..=255 per channel.
pub struct PhotoImage {
    pub name: &'static str,
    pub width: usize,
    pub height: usize,
    /// RGB, row-major; a greyscale source has three equal channels.
    rgb: Vec<Rgb>,
    /// Mean luminance, to turn the photo into a relative detail layer.
    mean_luma: f32,
    pub grey: bool,
}

const FILES: [(&str, &[u8]); 6] = [
    ("coffee", include_bytes!("../../assets/textures/coffee.jpg")),
    (
        "chelsea",
        include_bytes!("../../assets/textures/chelsea.jpg"),
    ),
    ("rocket", include_bytes!("../../assets/textures/rocket.jpg")),
    ("brick", include_bytes!("../../assets/textures/brick.jpg")),
    ("grass", include_bytes!("../../assets/textures/grass.jpg")),
    ("gravel", include_bytes!("../../assets/textures/gravel.jpg")),
];

/// The bank, decoded once.
pub fn bank() -> &'static [PhotoImage] {
    static BANK: OnceLock<Vec<PhotoImage>> = OnceLock::new();
    BANK.get_or_init(|| {
        FILES
            .iter()
            .map(|&(name, bytes)| {
                // The files are ours and compiled in; a decode failure is a broken build.
                let img = image::load_from_memory(bytes)
                    .unwrap_or_else(|e| panic!("texture {name} in assets/textures: {e}"));
                let grey = img.color().channel_count() < 3;
                let img = img.to_rgb8();
                let rgb: Vec<Rgb> = img.pixels().map(|p| p.0.map(f32::from)).collect();
                let mean_luma = rgb.iter().map(|&c| luma(c)).sum::<f32>() / rgb.len() as f32;
                PhotoImage {
                    name,
                    width: img.width() as usize,
                    height: img.height() as usize,
                    rgb,
                    mean_luma: mean_luma.max(1.0),
                    grey,
                }
            })
            .collect()
    })
}

fn luma(c: Rgb) -> f32 {
    0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2]
}

impl PhotoImage {
    /// Bilinear sample at pixel coordinates (u, v), mirrored past the borders so that a
    /// texture tiles without seams.
    pub fn sample(&self, u: f32, v: f32) -> Rgb {
        let mirror = |t: f32, n: usize| {
            let period = 2.0 * (n as f32 - 1.0);
            let t = t.rem_euclid(period);
            if t > n as f32 - 1.0 {
                period - t
            } else {
                t
            }
        };
        let (u, v) = (mirror(u, self.width), mirror(v, self.height));
        let (x0, y0) = (u.floor() as usize, v.floor() as usize);
        let (x1, y1) = ((x0 + 1).min(self.width - 1), (y0 + 1).min(self.height - 1));
        let (fx, fy) = (u - x0 as f32, v - y0 as f32);
        let at = |x: usize, y: usize| self.rgb[y * self.width + x];
        let top = mix(at(x0, y0), at(x1, y0), fx);
        let bottom = mix(at(x0, y1), at(x1, y1), fx);
        mix(top, bottom, fy)
    }

    /// The photo's luminance at (u, v) relative to its mean (1 = average).
    pub fn detail(&self, u: f32, v: f32) -> f32 {
        self.detail_of(self.sample(u, v))
    }

    fn detail_of(&self, c: Rgb) -> f32 {
        luma(c) / self.mean_luma
    }
}

/// The colour of a [`Pattern::Photo`] texture at texture coordinates (x, y).
pub(super) fn eval_texture(pattern: &Pattern, c1: Rgb, c2: Rgb, x: f32, y: f32) -> Option<Rgb> {
    let Pattern::Photo {
        index,
        span,
        angle,
        offset,
        gain,
        colour,
    } = *pattern
    else {
        return None;
    };
    let img = &bank()[index as usize % FILES.len()];
    let (s, c) = angle.sin_cos();
    let k = img.width as f32 / span;
    let (u, v) = (
        (c * x + s * y) * k + offset.0,
        (-s * x + c * y) * k + offset.1,
    );
    Some(if colour > 0.0 && !img.grey {
        // The photo's own colours, pulled towards the garment's.
        mix(img.sample(u, v), c1, 1.0 - colour)
    } else {
        // The photo's grain on the garment's colour, with a second colour in its shadows.
        let d = (img.detail(u, v) - 1.0) * gain;
        let base = mix(c1, c2, (-d).clamp(0.0, 1.0) * 0.5);
        base.map(|v| (v * (1.0 + d)).clamp(0.0, 255.0))
    })
}

/// A garment texture from the bank around base colour `c1`.
pub fn sample_texture(rng: &mut SplitMix64, c1: Rgb) -> Texture {
    let index = (rng.next_u64() % FILES.len() as u64) as u8;
    let colour = if coin(rng, 0.35) {
        rf(rng, 0.4, 0.9)
    } else {
        0.0
    };
    Texture {
        pattern: Pattern::Photo {
            index,
            span: rf(rng, 0.2, 0.9),
            angle: rf(rng, -3.2, 3.2),
            offset: (rf(rng, 0.0, 400.0), rf(rng, 0.0, 400.0)),
            gain: rf(rng, 0.5, 1.6),
            colour,
        },
        c1,
        c2: random_color(rng),
    }
}

/// A backdrop cut from the bank: a random window, zoomed and maybe mirrored, grey photos
/// tinted. `aspect` = scene width / height, so the window keeps the photo's proportions.
pub fn sample_background(rng: &mut SplitMix64, aspect: f32) -> Background {
    let index = (rng.next_u64() % FILES.len() as u64) as u8;
    let img = &bank()[index as usize];
    let (w, h) = (img.width as f32, img.height as f32);
    // Window height in photo pixels: 35–100 % of what fits.
    let fit = h.min(w / aspect);
    let win_h = fit * rf(rng, 0.35, 1.0);
    let win_w = win_h * aspect;
    Background::Photo {
        index,
        origin: (rf(rng, 0.0, w - win_w), rf(rng, 0.0, h - win_h)),
        size: (win_w, win_h),
        mirror: coin(rng, 0.5),
        tint: img.grey.then(|| random_color(rng)),
    }
}

/// The colour of a [`Background::Photo`] at (x, y) in fractions of the image.
pub(super) fn eval_background(bg: &Background, x: f32, y: f32) -> Option<Rgb> {
    let Background::Photo {
        index,
        origin,
        size,
        mirror,
        tint,
    } = bg
    else {
        return None;
    };
    let img = &bank()[*index as usize % FILES.len()];
    let x = if *mirror { 1.0 - x } else { x };
    let c = img.sample(origin.0 + x * size.0, origin.1 + y * size.1);
    Some(match tint {
        Some(t) => t.map(|v| (v * img.detail_of(c)).clamp(0.0, 255.0)),
        None => c,
    })
}

/// Re-dresses `person` with photo textures: each garment and the backdrop with a good chance,
/// so that drawn patterns stay in the mix.
pub fn apply(person: &mut Person, rng: &mut SplitMix64, aspect: f32) {
    if coin(rng, 0.7) {
        person.shirt = sample_texture(rng, person.shirt.c1);
    }
    if coin(rng, 0.7) {
        person.trousers = sample_texture(rng, person.trousers.c1);
    }
    if coin(rng, 0.8) {
        person.background = sample_background(rng, aspect);
    }
    person.light = rf(rng, -0.3, 0.3);
}
