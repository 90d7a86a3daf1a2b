//! Dense backward flow fields on the pixel grid and the image warp they drive.
//!
//! Convention (the same as GFLA's flow, spec §5): the flow is stored for every **target** pixel
//! and points to the **source**: the target pixel centred at integer (x, y) takes its colour from
//! source position `(x + dx, y + dy)`. Pixel centres sit at integer coordinates, the origin at
//! the centre of the top-left pixel, so a zero flow is the identity.

use image::RgbImage;

/// A (2, H, W) flow field, planar: all Δx first, then all Δy (the tensor layout).
#[derive(Clone, Debug, PartialEq)]
pub struct FlowField {
    pub height: usize,
    pub width: usize,
    /// `2 · height · width` values: `data[y·w + x]` = Δx, `data[h·w + y·w + x]` = Δy.
    pub data: Vec<f32>,
}

impl FlowField {
    /// A (2, H, W) tensor of Δx, Δy planes (a network's flow for one picture).
    pub fn from_tensor(t: &candle_core::Tensor) -> candle_core::Result<Self> {
        let (_, height, width) = t.dims3()?;
        Ok(Self {
            height,
            width,
            data: t.flatten_all()?.to_vec1::<f32>()?,
        })
    }

    /// The zero (identity) flow.
    pub fn zeros(height: usize, width: usize) -> Self {
        Self {
            height,
            width,
            data: vec![0.0; 2 * height * width],
        }
    }

    pub fn get(&self, x: usize, y: usize) -> (f32, f32) {
        let p = y * self.width + x;
        (self.data[p], self.data[self.height * self.width + p])
    }

    /// The Jacobian determinant of the backward map `p ↦ p + flow(p)` at pixel (x, y), by
    /// central differences (one-sided at the border): how many source pixels of area one target
    /// pixel samples. 1 for a rigid motion; ≤ 0 where the map folds over.
    pub fn area_ratio(&self, x: usize, y: usize) -> f32 {
        let (w, h) = (self.width, self.height);
        let (x0, x1) = (x.saturating_sub(1), (x + 1).min(w.saturating_sub(1)));
        let (y0, y1) = (y.saturating_sub(1), (y + 1).min(h.saturating_sub(1)));
        let diff = |a: (f32, f32), b: (f32, f32), n: usize| {
            if n == 0 {
                (0.0, 0.0)
            } else {
                ((b.0 - a.0) / n as f32, (b.1 - a.1) / n as f32)
            }
        };
        let dx = diff(self.get(x0, y), self.get(x1, y), x1 - x0);
        let dy = diff(self.get(x, y0), self.get(x, y1), y1 - y0);
        (1.0 + dx.0) * (1.0 + dy.1) - dy.0 * dx.1
    }

    pub fn set(&mut self, x: usize, y: usize, dx: f32, dy: f32) {
        let p = y * self.width + x;
        let plane = self.height * self.width;
        self.data[p] = dx;
        self.data[plane + p] = dy;
    }

    /// The flow at a coarser level of `factor`× fewer pixels per side (feature maps at H/2^ℓ),
    /// expressed in that level's pixels: each coarse pixel averages its `factor × factor` block
    /// and divides by `factor`. Coarse pixel i covers fine pixels `[f·i, f·i + f)`, so its centre
    /// is fine coordinate `f·i + (f − 1)/2`; a flow constant over the block maps that centre to
    /// `f·i + (f − 1)/2 + d`, i.e. coarse `i + d/f`. Sizes must be divisible by `factor`.
    pub fn downsample(&self, factor: usize) -> Self {
        assert!(
            factor > 0 && self.height.is_multiple_of(factor) && self.width.is_multiple_of(factor)
        );
        let (h, w) = (self.height / factor, self.width / factor);
        let mut out = Self::zeros(h, w);
        let norm = 1.0 / (factor * factor * factor) as f32;
        for y in 0..h {
            for x in 0..w {
                let (mut sx, mut sy) = (0f32, 0f32);
                for yy in y * factor..(y + 1) * factor {
                    for xx in x * factor..(x + 1) * factor {
                        let (dx, dy) = self.get(xx, yy);
                        sx += dx;
                        sy += dy;
                    }
                }
                out.set(x, y, sx * norm, sy * norm);
            }
        }
        out
    }
}

/// Mean of each `factor × factor` block of an (H, W) map (masks to a feature level).
pub fn downsample_map(map: &[f32], height: usize, width: usize, factor: usize) -> Vec<f32> {
    assert!(factor > 0 && height.is_multiple_of(factor) && width.is_multiple_of(factor));
    assert_eq!(map.len(), height * width);
    let (h, w) = (height / factor, width / factor);
    let mut out = vec![0f32; h * w];
    let norm = 1.0 / (factor * factor) as f32;
    for y in 0..height {
        for x in 0..width {
            out[(y / factor) * w + x / factor] += map[y * width + x] * norm;
        }
    }
    out
}

/// Bilinear sample of an RGB image at (x, y) in pixel-centre coordinates, clamping to the
/// border (positions outside repeat the edge pixels).
pub fn sample_bilinear(img: &RgbImage, x: f32, y: f32) -> [f32; 3] {
    let (w, h) = (img.width() as i64, img.height() as i64);
    let x = x.clamp(0.0, (w - 1) as f32);
    let y = y.clamp(0.0, (h - 1) as f32);
    // Clamped to ≥ 0 (or NaN, which casts to 0 as its floor does): truncation is the floor,
    // without the libm call `floor` is on baseline x86-64.
    let (x0, y0) = (x as i64, y as i64);
    let (x1, y1) = ((x0 + 1).min(w - 1), (y0 + 1).min(h - 1));
    let (ax, ay) = (x - x0 as f32, y - y0 as f32);
    let raw = img.as_raw();
    let at = |xx: i64, yy: i64| 3 * (yy * w + xx) as usize;
    let (p00, p10, p01, p11) = (at(x0, y0), at(x1, y0), at(x0, y1), at(x1, y1));
    let mut out = [0f32; 3];
    for c in 0..3 {
        let top = raw[p00 + c] as f32 * (1.0 - ax) + raw[p10 + c] as f32 * ax;
        let bottom = raw[p01 + c] as f32 * (1.0 - ax) + raw[p11 + c] as f32 * ax;
        out[c] = top * (1.0 - ay) + bottom * ay;
    }
    out
}

/// Backward-warps `source` by `flow`: output pixel (x, y) = source at (x + dx, y + dy),
/// bilinear, border-clamped. The output has the flow's size.
pub fn warp_image(source: &RgbImage, flow: &FlowField) -> RgbImage {
    RgbImage::from_fn(flow.width as u32, flow.height as u32, |x, y| {
        let (dx, dy) = flow.get(x as usize, y as usize);
        let v = sample_bilinear(source, x as f32 + dx, y as f32 + dy);
        image::Rgb(v.map(crate::imaging::to_u8))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_flow_warp_is_identity_and_integer_shift_moves_pixels() {
        let img = RgbImage::from_fn(7, 5, |x, y| image::Rgb([x as u8 * 30, y as u8 * 40, 7]));
        assert_eq!(warp_image(&img, &FlowField::zeros(5, 7)), img);
        let mut shift = FlowField::zeros(5, 7);
        for y in 0..5 {
            for x in 0..7 {
                shift.set(x, y, 2.0, -1.0);
            }
        }
        let out = warp_image(&img, &shift);
        assert_eq!(out.get_pixel(1, 3), img.get_pixel(3, 2));
        // Past the right border the edge column repeats.
        assert_eq!(out.get_pixel(6, 3), img.get_pixel(6, 2));
    }

    #[test]
    fn downsample_divides_constant_flow_by_factor() {
        let mut f = FlowField::zeros(8, 8);
        for y in 0..8 {
            for x in 0..8 {
                f.set(x, y, 4.0, -8.0);
            }
        }
        let d = f.downsample(4);
        assert_eq!((d.height, d.width), (2, 2));
        assert_eq!(d.get(1, 0), (1.0, -2.0));
        let m = downsample_map(&[1.0; 16], 4, 4, 2);
        assert_eq!(m, vec![1.0; 4]);
    }
}
