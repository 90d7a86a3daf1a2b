//! Bringing grid fields (a network level, the puppet's coarse grid) up to the photo: bilinear
//! between cell centres, edge-clamped, with the taps of each output column and row computed
//! once ([`Upsampler`]), so each field costs a few multiply-adds per photo pixel — on a
//! megapixel photo the per-pixel division and clamping of a point sampler cost more than the
//! composite itself.

use crate::imaging::FlowField;
use image::RgbImage;
use rayon::prelude::*;

/// Where a grid of network cells lies in the photo: cell (0, 0) covers the photo box whose
/// top-left corner is (`x0`, `y0`), each cell `cell_w × cell_h` photo pixels.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Placement {
    pub x0: f64,
    pub y0: f64,
    pub cell_w: f64,
    pub cell_h: f64,
    pub grid_w: usize,
    pub grid_h: usize,
}

impl Placement {
    /// A `grid_w × grid_h` grid spanning the photo box `(x0, y0, box_w, box_h)`.
    pub fn new(x0: f64, y0: f64, box_w: f64, box_h: f64, grid_w: usize, grid_h: usize) -> Self {
        Self {
            x0,
            y0,
            cell_w: box_w / grid_w.max(1) as f64,
            cell_h: box_h / grid_h.max(1) as f64,
            grid_w,
            grid_h,
        }
    }

    /// Grid coordinate (cell centres at integers) of photo column `x`.
    pub(super) fn grid_x(&self, x: usize) -> f64 {
        (x as f64 + 0.5 - self.x0) / self.cell_w - 0.5
    }

    /// Grid coordinate of photo row `y`.
    pub(super) fn grid_y(&self, y: usize) -> f64 {
        (y as f64 + 0.5 - self.y0) / self.cell_h - 0.5
    }

    /// Whether grid coordinate `g` lies in a grid of `n` cells (its box: half a cell beyond
    /// the outer centres).
    pub(super) fn inside(g: f64, n: usize) -> bool {
        n > 0 && g >= -0.5 && g <= n as f64 - 0.5
    }

    /// Grid coordinates of photo pixel (x, y).
    pub fn to_grid(&self, x: usize, y: usize) -> (f32, f32) {
        (self.grid_x(x) as f32, self.grid_y(y) as f32)
    }

    /// Whether photo pixel (x, y) lies in the grid's box.
    pub fn covers(&self, x: usize, y: usize) -> bool {
        Self::inside(self.grid_x(x), self.grid_w) && Self::inside(self.grid_y(y), self.grid_h)
    }
}

/// One output coordinate's taps along an axis: the two grid indices and the second's weight.
type Tap = Option<(usize, usize, f32)>;

/// The taps of `n_out` photo pixels along an axis whose grid of `n_grid` cells places pixel
/// `x` at grid coordinate `coord(x)` ([`Placement::grid_x`], [`Placement::grid_y`]); `None`
/// outside the grid's box.
fn axis_taps(n_out: usize, coord: impl Fn(usize) -> f64, n_grid: usize) -> Vec<Tap> {
    (0..n_out)
        .map(|x| {
            let g = coord(x);
            if !Placement::inside(g, n_grid) {
                return None;
            }
            let g = g.clamp(0.0, (n_grid - 1) as f64);
            let i0 = g.floor() as usize;
            Some((i0, (i0 + 1).min(n_grid - 1), (g - i0 as f64) as f32))
        })
        .collect()
}

/// Bilinear upsampling of fields on one grid to one photo size.
pub struct Upsampler {
    xs: Vec<Tap>,
    ys: Vec<Tap>,
    grid_w: usize,
    grid_h: usize,
    cell_w: f32,
    cell_h: f32,
}

impl Upsampler {
    /// For fields on the grid `at` places, to an `h × w` photo.
    pub fn new(at: &Placement, h: usize, w: usize) -> Self {
        Self {
            xs: axis_taps(w, |x| at.grid_x(x), at.grid_w),
            ys: axis_taps(h, |y| at.grid_y(y), at.grid_h),
            grid_w: at.grid_w,
            grid_h: at.grid_h,
            cell_w: at.cell_w as f32,
            cell_h: at.cell_h as f32,
        }
    }

    /// `channels` grid planes (row-major, one after another) at photo size, each scaled by
    /// its factor; `outside` beyond the grid's box. Separably: each grid row that an output
    /// row reads is interpolated along x once (a cell spans several photo rows), then each
    /// output row is one interpolation between two of those — the same arithmetic, in the same
    /// order, as interpolating every output pixel from its four cells.
    fn planes(&self, data: &[f32], scales: &[f32], outside: f32) -> Vec<Vec<f32>> {
        let (w, h) = (self.xs.len(), self.ys.len());
        let plane = self.grid_w * self.grid_h;
        let mut read = vec![false; self.grid_h];
        for &(j0, j1, _) in self.ys.iter().flatten() {
            (read[j0], read[j1]) = (true, true);
        }
        scales
            .iter()
            .enumerate()
            .map(|(c, &k)| {
                let m = &data[c * plane..(c + 1) * plane];
                let mut across = vec![0f32; self.grid_h * w];
                across.par_chunks_mut(w).enumerate().for_each(|(j, out)| {
                    if !read[j] {
                        return;
                    }
                    let r = &m[j * self.grid_w..(j + 1) * self.grid_w];
                    for (o, tap) in out.iter_mut().zip(&self.xs) {
                        if let Some((i0, i1, wx)) = *tap {
                            *o = r[i0] + (r[i1] - r[i0]) * wx;
                        }
                    }
                });
                let mut out = vec![outside; h * w];
                out.par_chunks_mut(w).enumerate().for_each(|(y, row)| {
                    let Some((j0, j1, wy)) = self.ys[y] else {
                        return;
                    };
                    let (top, bottom) = (&across[j0 * w..(j0 + 1) * w], &across[j1 * w..]);
                    for (((o, tap), t), b) in row.iter_mut().zip(&self.xs).zip(top).zip(bottom) {
                        if tap.is_some() {
                            *o = (t + (b - t) * wy) * k;
                        }
                    }
                });
                out
            })
            .collect()
    }

    /// A grid map at photo size; `outside` beyond the grid's box.
    pub fn map(&self, map: &[f32], outside: f32) -> Vec<f32> {
        assert_eq!(map.len(), self.grid_w * self.grid_h, "map size");
        self.planes(map, &[1.0], outside).remove(0)
    }

    /// A flow in grid cells, as photo pixels; zero beyond the grid's box.
    pub fn flow(&self, flow: &FlowField) -> FlowField {
        assert_eq!(
            (flow.height, flow.width),
            (self.grid_h, self.grid_w),
            "flow size"
        );
        let mut p = self.planes(&flow.data, &[self.cell_w, self.cell_h], 0.0);
        let dy = p.pop().expect("two planes");
        let mut data = p.pop().expect("two planes");
        data.extend(dy);
        FlowField {
            height: self.ys.len(),
            width: self.xs.len(),
            data,
        }
    }

    /// An image on the grid at photo size; black beyond the grid's box.
    pub fn image(&self, img: &RgbImage) -> RgbImage {
        let plane = self.grid_w * self.grid_h;
        assert_eq!(img.len(), 3 * plane, "image size");
        let raw = img.as_raw();
        let data: Vec<f32> = (0..3)
            .flat_map(|c| (0..plane).map(move |i| raw[3 * i + c] as f32))
            .collect();
        let p = self.planes(&data, &[1.0; 3], 0.0);
        let (w, h) = (self.xs.len(), self.ys.len());
        let mut out = RgbImage::new(w as u32, h as u32);
        out.par_chunks_mut(3 * w).enumerate().for_each(|(y, row)| {
            for (x, px) in row.chunks_exact_mut(3).enumerate() {
                for (c, v) in px.iter_mut().enumerate() {
                    *v = crate::imaging::to_u8(p[c][y * w + x]);
                }
            }
        });
        out
    }
}

/// A level's flow (cells) at photo resolution (pixels); zero outside the grid's box.
pub fn upsample_flow(flow: &FlowField, at: &Placement, h: usize, w: usize) -> FlowField {
    Upsampler::new(at, h, w).flow(flow)
}

/// A grid map at photo resolution; `outside` beyond the grid's box.
pub fn upsample_map(map: &[f32], at: &Placement, h: usize, w: usize, outside: f32) -> Vec<f32> {
    Upsampler::new(at, h, w).map(map, outside)
}

/// An image placed by `at`, at photo resolution (bilinear, edge-clamped; black outside).
pub fn upsample_image(img: &RgbImage, at: &Placement, h: usize, w: usize) -> RgbImage {
    Upsampler::new(at, h, w).image(img)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Cell centres land on the photo pixels they cover; a uniform level flow of one cell is
    /// `cell` photo pixels; outside the box the flow is zero.
    #[test]
    fn placement_and_flow_upsampling_are_exact_for_a_uniform_flow() {
        let at = Placement::new(10.0, 20.0, 40.0, 80.0, 4, 8); // 10×10-pixel cells
        assert_eq!(at.to_grid(14, 24), (-0.05, -0.05));
        assert_eq!(at.to_grid(15, 25), (0.05, 0.05));
        assert!(at.covers(10, 20) && at.covers(49, 99));
        assert!(!at.covers(9, 20) && !at.covers(50, 50) && !at.covers(30, 100));
        let mut f = FlowField::zeros(8, 4);
        for y in 0..8 {
            for x in 0..4 {
                f.set(x, y, 1.0, -0.5);
            }
        }
        let up = upsample_flow(&f, &at, 120, 70);
        assert_eq!(up.get(30, 60), (10.0, -5.0));
        assert_eq!(up.get(10, 20), (10.0, -5.0));
        assert_eq!(up.get(5, 60), (0.0, 0.0));
        // A linear ramp is reproduced between cell centres.
        let ramp: Vec<f32> = (0..32).map(|i| (i % 4) as f32).collect();
        let m = upsample_map(&ramp, &at, 120, 70, -1.0);
        assert!((m[60 * 70 + 20] - 0.55).abs() < 1e-6);
        assert_eq!(m[0], -1.0);
    }
}
