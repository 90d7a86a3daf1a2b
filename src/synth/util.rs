//! Small helpers shared by the renderer: 2-D vectors, random draws, hashing and value noise.

use crate::util::rng::SplitMix64;

/// An RGB colour with channels in 0..=255 (as floats, so averaging and shading stay exact).
pub type Rgb = [f32; 3];

#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct V2 {
    pub x: f32,
    pub y: f32,
}

impl V2 {
    pub const fn new(x: f32, y: f32) -> Self {
        Self { x, y }
    }

    /// The unit vector at angle `a` measured from straight down (+y) towards +x.
    pub fn from_down(a: f32) -> Self {
        Self::new(a.sin(), a.cos())
    }

    pub fn dot(self, o: V2) -> f32 {
        self.x * o.x + self.y * o.y
    }

    pub fn len(self) -> f32 {
        self.dot(self).sqrt()
    }

    /// The vector turned a quarter turn so that `down.right() == +x`: (x, y) → (y, −x).
    pub fn right(self) -> V2 {
        V2::new(self.y, -self.x)
    }
}

impl std::ops::Add for V2 {
    type Output = V2;
    fn add(self, o: V2) -> V2 {
        V2::new(self.x + o.x, self.y + o.y)
    }
}

impl std::ops::Sub for V2 {
    type Output = V2;
    fn sub(self, o: V2) -> V2 {
        V2::new(self.x - o.x, self.y - o.y)
    }
}

impl std::ops::Mul<f32> for V2 {
    type Output = V2;
    fn mul(self, s: f32) -> V2 {
        V2::new(self.x * s, self.y * s)
    }
}

/// Uniform in `[lo, hi)`.
pub fn rf(rng: &mut SplitMix64, lo: f32, hi: f32) -> f32 {
    lo + (hi - lo) * rng.uniform() as f32
}

/// True with probability `p`.
pub fn coin(rng: &mut SplitMix64, p: f32) -> bool {
    (rng.uniform() as f32) < p
}

/// ±1 with equal probability.
pub fn sign(rng: &mut SplitMix64) -> f32 {
    if coin(rng, 0.5) {
        1.0
    } else {
        -1.0
    }
}

/// One of `items`, uniformly.
pub fn pick<T: Copy>(rng: &mut SplitMix64, items: &[T]) -> T {
    items[(rng.next_u64() % items.len() as u64) as usize]
}

/// Index drawn with the given (unnormalised) weights.
pub fn weighted(rng: &mut SplitMix64, weights: &[f32]) -> usize {
    let total: f32 = weights.iter().sum();
    let mut r = rf(rng, 0.0, total);
    for (i, &w) in weights.iter().enumerate() {
        if r < w {
            return i;
        }
        r -= w;
    }
    weights.len() - 1
}

pub fn mix(a: Rgb, b: Rgb, t: f32) -> Rgb {
    [
        a[0] + (b[0] - a[0]) * t,
        a[1] + (b[1] - a[1]) * t,
        a[2] + (b[2] - a[2]) * t,
    ]
}

pub fn scale(c: Rgb, s: f32) -> Rgb {
    [c[0] * s, c[1] * s, c[2] * s]
}

/// A random saturated-or-not garment colour.
pub fn random_color(rng: &mut SplitMix64) -> Rgb {
    let h = rf(rng, 0.0, 6.0);
    let s = if coin(rng, 0.3) {
        rf(rng, 0.0, 0.15)
    } else {
        rf(rng, 0.3, 0.9)
    };
    let v = rf(rng, 0.15, 0.95);
    hsv(h, s, v)
}

/// HSV → RGB with `h` in [0, 6), `s` and `v` in [0, 1].
pub fn hsv(h: f32, s: f32, v: f32) -> Rgb {
    let c = v * s;
    let x = c * (1.0 - ((h % 2.0) - 1.0).abs());
    let (r, g, b) = match h as u32 {
        0 => (c, x, 0.0),
        1 => (x, c, 0.0),
        2 => (0.0, c, x),
        3 => (0.0, x, c),
        4 => (x, 0.0, c),
        _ => (c, 0.0, x),
    };
    let m = v - c;
    [(r + m) * 255.0, (g + m) * 255.0, (b + m) * 255.0]
}

/// A hash of a lattice point to [0, 1).
pub fn hash2(seed: u32, x: i32, y: i32) -> f32 {
    let mut h = seed
        .wrapping_mul(0x9E37_79B9)
        .wrapping_add((x as u32).wrapping_mul(0x85EB_CA6B))
        .wrapping_add((y as u32).wrapping_mul(0xC2B2_AE35));
    h ^= h >> 15;
    h = h.wrapping_mul(0x2C1B_3C6D);
    h ^= h >> 12;
    h = h.wrapping_mul(0x297A_2D39);
    h ^= h >> 15;
    (h >> 8) as f32 / (1u32 << 24) as f32
}

/// Smooth value noise in [0, 1] with unit lattice spacing.
pub fn value_noise(seed: u32, x: f32, y: f32) -> f32 {
    let (fx, fy) = (x.floor(), y.floor());
    let (ix, iy) = (fx as i32, fy as i32);
    let (tx, ty) = (x - fx, y - fy);
    let (sx, sy) = (tx * tx * (3.0 - 2.0 * tx), ty * ty * (3.0 - 2.0 * ty));
    let a = hash2(seed, ix, iy);
    let b = hash2(seed, ix + 1, iy);
    let c = hash2(seed, ix, iy + 1);
    let d = hash2(seed, ix + 1, iy + 1);
    let top = a + (b - a) * sx;
    let bottom = c + (d - c) * sx;
    top + (bottom - top) * sy
}

/// Two octaves of value noise, in [0, 1].
pub fn fbm(seed: u32, x: f32, y: f32) -> f32 {
    (value_noise(seed, x, y) * 2.0 + value_noise(seed ^ 0x5bd1, x * 2.03, y * 2.03)) / 3.0
}
