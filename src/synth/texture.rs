//! Surface textures (functions of part-local coordinates) and static backgrounds.
//!
//! Texture coordinates are in *figure units*: the standing figure is 1.0 tall, so a period of
//! 0.05 is about 6 px on a 128 px figure. Patterns are evaluated point-wise; the renderer's
//! supersampling anti-aliases them.

use super::photo::{bank, BANK_SIZE};
use super::util::{fbm, mix, random_color, rf, scale, value_noise, weighted, Rgb};
use crate::util::rng::SplitMix64;

/// The pattern of a [`Texture`].
#[derive(Clone, Debug, PartialEq)]
pub enum Pattern {
    Solid,
    /// A linear blend from `c1` to `c2` along direction `angle` over `length` figure units.
    Gradient {
        angle: f32,
        length: f32,
    },
    /// Stripes along direction `angle` (0 = horizontal bands), `duty` = share of `c2`.
    Stripes {
        angle: f32,
        period: f32,
        duty: f32,
    },
    Checks {
        angle: f32,
        period: f32,
    },
    /// Dots of colour `c2` on a square lattice.
    Dots {
        period: f32,
        radius: f32,
    },
    /// Smooth value noise between `c1` and `c2`.
    Noise {
        scale: f32,
        seed: u32,
    },
    /// A photograph of the bank ([`super::photo`]): `span` figure units per photo width,
    /// turned by `angle`, shifted by `offset` photo pixels; `colour` > 0 keeps that share of
    /// the photo's own colours, otherwise its luminance (contrast × `gain`) shades `c1`.
    Photo {
        index: u8,
        span: f32,
        angle: f32,
        offset: (f32, f32),
        gain: f32,
        colour: f32,
    },
}

/// A two-colour pattern.
#[derive(Clone, Debug, PartialEq)]
pub struct Texture {
    pub pattern: Pattern,
    pub c1: Rgb,
    pub c2: Rgb,
}

impl Texture {
    pub fn solid(c: Rgb) -> Self {
        Self {
            pattern: Pattern::Solid,
            c1: c,
            c2: c,
        }
    }

    /// A random garment texture around base colour `c1`.
    pub fn sample(rng: &mut SplitMix64) -> Self {
        let c1 = random_color(rng);
        let c2 = if rf(rng, 0.0, 1.0) < 0.5 {
            random_color(rng)
        } else {
            // A shade of the same colour.
            let s = rf(rng, 0.45, 0.8);
            if c1.iter().sum::<f32>() > 300.0 {
                scale(c1, s)
            } else {
                mix(c1, [255.0; 3], 1.0 - s)
            }
        };
        let angle = [
            0.0,
            std::f32::consts::FRAC_PI_2,
            std::f32::consts::FRAC_PI_4,
            -std::f32::consts::FRAC_PI_4,
        ][(rng.next_u64() % 4) as usize];
        let pattern = match weighted(rng, &[3.0, 1.0, 2.0, 1.0, 1.0, 1.0]) {
            0 => Pattern::Solid,
            1 => Pattern::Gradient {
                angle: rf(rng, -3.2, 3.2),
                length: rf(rng, 0.2, 0.6),
            },
            2 => Pattern::Stripes {
                angle,
                period: rf(rng, 0.03, 0.16),
                duty: rf(rng, 0.2, 0.6),
            },
            3 => Pattern::Checks {
                angle: if rf(rng, 0.0, 1.0) < 0.7 { 0.0 } else { angle },
                period: rf(rng, 0.04, 0.16),
            },
            4 => Pattern::Dots {
                period: rf(rng, 0.03, 0.1),
                radius: rf(rng, 0.15, 0.35),
            },
            _ => Pattern::Noise {
                scale: rf(rng, 0.03, 0.15),
                seed: rng.next_u64() as u32,
            },
        };
        Self { pattern, c1, c2 }
    }

    /// A garment texture cut from the photo bank ([`super::photo`]) around base colour `c1`.
    pub fn photo(rng: &mut SplitMix64, c1: Rgb) -> Self {
        let index = (rng.next_u64() % BANK_SIZE as u64) as u8;
        let colour = if rf(rng, 0.0, 1.0) < 0.35 {
            rf(rng, 0.4, 0.9)
        } else {
            0.0
        };
        Self {
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

    /// The colour at texture coordinates (x, y), in figure units.
    pub fn eval(&self, x: f32, y: f32) -> Rgb {
        let rot = |a: f32| {
            let (s, c) = a.sin_cos();
            (c * x + s * y, -s * x + c * y)
        };
        match self.pattern {
            Pattern::Solid => self.c1,
            Pattern::Gradient { angle, length } => {
                let (_, t) = rot(angle);
                mix(self.c1, self.c2, (t / length * 0.5 + 0.5).clamp(0.0, 1.0))
            }
            Pattern::Stripes {
                angle,
                period,
                duty,
            } => {
                let (_, t) = rot(angle);
                if (t / period).rem_euclid(1.0) < duty {
                    self.c2
                } else {
                    self.c1
                }
            }
            Pattern::Checks { angle, period } => {
                let (a, b) = rot(angle);
                let k = (a / period).floor() as i64 + (b / period).floor() as i64;
                if k.rem_euclid(2) == 0 {
                    self.c1
                } else {
                    self.c2
                }
            }
            Pattern::Dots { period, radius } => {
                let fx = (x / period).rem_euclid(1.0) - 0.5;
                let fy = (y / period).rem_euclid(1.0) - 0.5;
                if fx * fx + fy * fy < radius * radius {
                    self.c2
                } else {
                    self.c1
                }
            }
            Pattern::Noise { scale, seed } => mix(
                self.c1,
                self.c2,
                fbm(seed, x / scale, y / scale).clamp(0.0, 1.0),
            ),
            Pattern::Photo {
                index,
                span,
                angle,
                offset,
                gain,
                colour,
            } => {
                let img = &bank()[index as usize % BANK_SIZE];
                let (u, v) = rot(angle);
                let k = img.width as f32 / span;
                let (u, v) = (u * k + offset.0, v * k + offset.1);
                if colour > 0.0 && !img.grey {
                    // The photo's own colours, pulled towards the garment's.
                    mix(img.sample(u, v), self.c1, 1.0 - colour)
                } else {
                    // The photo's grain on the garment's colour, a second colour in its shadows.
                    let d = (img.detail(u, v) - 1.0) * gain;
                    let base = mix(self.c1, self.c2, (-d).clamp(0.0, 1.0) * 0.5);
                    base.map(|v| (v * (1.0 + d)).clamp(0.0, 255.0))
                }
            }
        }
    }
}

/// A "print" on the front of a shirt: a few coloured blobs (discs and boxes) in the torso's
/// texture coordinates.
#[derive(Clone, Debug, PartialEq)]
pub struct Print {
    /// (centre x, centre y, radius, colour, is a box).
    pub blobs: Vec<(f32, f32, f32, Rgb, bool)>,
}

impl Print {
    /// Blobs inside the box `[x0, x1] × [y0, y1]` of texture space.
    pub fn sample(rng: &mut SplitMix64, x0: f32, x1: f32, y0: f32, y1: f32) -> Self {
        let n = 2 + (rng.next_u64() % 7) as usize;
        let palette = [random_color(rng), random_color(rng), random_color(rng)];
        let blobs = (0..n)
            .map(|i| {
                let r = rf(rng, 0.01, 0.04);
                (
                    rf(rng, x0 + r, x1 - r),
                    rf(rng, y0 + r, y1 - r),
                    r,
                    palette[i % 3],
                    rf(rng, 0.0, 1.0) < 0.4,
                )
            })
            .collect();
        Self { blobs }
    }

    pub fn eval(&self, x: f32, y: f32) -> Option<Rgb> {
        self.blobs.iter().rev().find_map(|&(cx, cy, r, c, square)| {
            let (dx, dy) = (x - cx, y - cy);
            let inside = if square {
                dx.abs() < r && dy.abs() < r
            } else {
                dx * dx + dy * dy < r * r
            };
            inside.then_some(c)
        })
    }
}

/// A static backdrop, a function of the position as fractions of the image (x, y in [0, 1]).
#[derive(Clone, Debug, PartialEq)]
pub enum Background {
    /// Near-white or light grey with a faint vertical gradient (DeepFashion-like).
    Plain { top: Rgb, bottom: Rgb },
    /// A street-like scene (Market-like): a gradient, noise, a floor band and rectangles.
    Textured {
        top: Rgb,
        bottom: Rgb,
        noise_seed: u32,
        noise_scale: f32,
        noise_amp: f32,
        /// Floor starts at this height fraction, with its colour.
        floor: Option<(f32, Rgb)>,
        /// (x0, y0, x1, y1, colour), painted in order.
        rects: Vec<(f32, f32, f32, f32, Rgb)>,
    },
    /// A window of a photograph of the bank ([`super::photo`]): `origin` and `size` in photo
    /// pixels, mirrored left-right or not, a grey photo tinted by `tint`.
    Photo {
        index: u8,
        origin: (f32, f32),
        size: (f32, f32),
        mirror: bool,
        tint: Option<Rgb>,
    },
}

impl Background {
    pub fn sample(rng: &mut SplitMix64) -> Self {
        if rf(rng, 0.0, 1.0) < 0.5 {
            let base = rf(rng, 175.0, 250.0);
            let tint = [rf(rng, -8.0, 8.0), rf(rng, -8.0, 8.0), rf(rng, -8.0, 8.0)];
            let top = [base + tint[0], base + tint[1], base + tint[2]].map(|c| c.clamp(0.0, 255.0));
            let d = rf(rng, -20.0, 10.0);
            let bottom = top.map(|c| (c + d).clamp(0.0, 255.0));
            Background::Plain { top, bottom }
        } else {
            let top = random_color(rng);
            let bottom = mix(top, random_color(rng), rf(rng, 0.2, 0.8));
            let floor = (rf(rng, 0.0, 1.0) < 0.6).then(|| (rf(rng, 0.55, 0.85), random_color(rng)));
            let n = (rng.next_u64() % 6) as usize;
            let rects = (0..n)
                .map(|_| {
                    let (x0, y0) = (rf(rng, -0.2, 1.0), rf(rng, -0.2, 1.0));
                    let (w, h) = (rf(rng, 0.05, 0.6), rf(rng, 0.03, 0.6));
                    (x0, y0, x0 + w, y0 + h, random_color(rng))
                })
                .collect();
            Background::Textured {
                top,
                bottom,
                noise_seed: rng.next_u64() as u32,
                noise_scale: rf(rng, 0.02, 0.2),
                noise_amp: rf(rng, 5.0, 40.0),
                floor,
                rects,
            }
        }
    }

    /// A backdrop cut from the photo bank: a random window, zoomed and maybe mirrored, grey
    /// photos tinted. `aspect` = scene width / height, so the window keeps the photo's
    /// proportions.
    pub fn photo(rng: &mut SplitMix64, aspect: f32) -> Self {
        let index = (rng.next_u64() % BANK_SIZE as u64) as u8;
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
            mirror: rf(rng, 0.0, 1.0) < 0.5,
            tint: img.grey.then(|| random_color(rng)),
        }
    }

    pub fn eval(&self, x: f32, y: f32) -> Rgb {
        match self {
            Background::Plain { top, bottom } => mix(*top, *bottom, y.clamp(0.0, 1.0)),
            Background::Textured {
                top,
                bottom,
                noise_seed,
                noise_scale,
                noise_amp,
                floor,
                rects,
            } => {
                let mut c = mix(*top, *bottom, y.clamp(0.0, 1.0));
                if let Some((fy, fc)) = floor {
                    if y > *fy {
                        c = mix(*fc, c, 0.25);
                    }
                }
                for &(x0, y0, x1, y1, rc) in rects {
                    if x >= x0 && x < x1 && y >= y0 && y < y1 {
                        c = rc;
                    }
                }
                let n = value_noise(*noise_seed, x / noise_scale, y / noise_scale) - 0.5;
                c.map(|v| (v + n * noise_amp).clamp(0.0, 255.0))
            }
            Background::Photo {
                index,
                origin,
                size,
                mirror,
                tint,
            } => {
                let img = &bank()[*index as usize % BANK_SIZE];
                let x = if *mirror { 1.0 - x } else { x };
                let c = img.sample(origin.0 + x * size.0, origin.1 + y * size.1);
                match tint {
                    Some(t) => t.map(|v| (v * img.detail_of(c)).clamp(0.0, 255.0)),
                    None => c,
                }
            }
        }
    }
}
