//! Photo textures: crops of CC0 / public-domain photographs (`assets/textures/`, licences in
//! its `LICENSE.md`) for garments and backdrops, so that the refiner's training scenes have the
//! grain, shading and clutter of photographs rather than only flat procedural patterns.
//!
//! This file holds the bank (decoded once) and how a scene is dressed ([`Look`]); the textures
//! and backdrops cut from it are [`super::texture`]'s, a person re-dressed is
//! [`super::figure::Person::photo_look`]'s. A scene gets them through [`Look::Photo`]
//! ([`super::render_scene_look`]); the draws come from their own random stream, so the drawn
//! look of a seed (what `eval` and every existing test see) is unchanged. The images are
//! compiled in: training must not depend on files beside the binary.

use super::util::{mix, Rgb};
use std::sync::OnceLock;

/// How a synthetic scene is dressed.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    serde::Serialize,
    serde::Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Look {
    /// Procedural patterns and backdrops only (what `eval` and the GFLA training use).
    #[default]
    Drawn,
    /// Most garments and backdrops textured from photographs.
    Photo,
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

/// How many photos the bank holds.
pub const BANK_SIZE: usize = 6;

const FILES: [(&str, &[u8]); BANK_SIZE] = [
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

    /// A colour's luminance relative to the photo's mean.
    pub fn detail_of(&self, c: Rgb) -> f32 {
        luma(c) / self.mean_luma
    }
}
