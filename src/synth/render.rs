//! Rasterisation (supersampled part-id buffer), colouring, and the ground-truth flow and
//! visibility of a pair.

use image::RgbImage;

use super::figure::Person;
use super::geometry::Figure;
use super::util::{Rgb, V2};
use crate::imaging::FlowField;

/// Subsamples per pixel side. Odd, so the middle subsample sits on the pixel centre.
pub const SS: usize = 3;
const NONE: u8 = u8::MAX;

/// The front-most part and its raw local coordinates at every subsample.
pub struct Raster {
    pub width: usize,
    pub height: usize,
    pub ids: Vec<u8>,
    pub raw: Vec<(f32, f32)>,
}

impl Raster {
    fn sub_width(&self) -> usize {
        self.width * SS
    }

    /// The subsample at the centre of pixel (x, y).
    pub fn centre(&self, x: usize, y: usize) -> usize {
        (y * SS + SS / 2) * self.sub_width() + x * SS + SS / 2
    }
}

/// Per pixel, the part at its centre subsample (`u8::MAX` where none: background).
pub fn part_ids(r: &Raster) -> Vec<u8> {
    (0..r.height)
        .flat_map(|y| (0..r.width).map(move |x| (x, y)))
        .map(|(x, y)| r.ids[r.centre(x, y)])
        .collect()
}

/// Image position of subsample index `g` along one axis.
#[inline]
fn sub_pos(g: usize) -> f32 {
    (g as f32 + 0.5) / SS as f32 - 0.5
}

/// Painter's algorithm over the subsample grid, back to front, each part only over its bbox.
pub fn rasterize(fig: &Figure, width: usize, height: usize) -> Raster {
    let (sw, sh) = (width * SS, height * SS);
    let mut r = Raster {
        width,
        height,
        ids: vec![NONE; sw * sh],
        raw: vec![(0.0, 0.0); sw * sh],
    };
    let to_sub = |v: f32, n: usize| ((v + 0.5) * SS as f32 - 0.5).clamp(0.0, n as f32);
    for &id in &fig.order {
        let geom = &fig.parts[id];
        let (x0, y0, x1, y1) = geom.bbox();
        let (gx0, gx1) = (
            to_sub(x0, sw).ceil() as usize,
            to_sub(x1, sw).floor() as usize + 1,
        );
        let (gy0, gy1) = (
            to_sub(y0, sh).ceil() as usize,
            to_sub(y1, sh).floor() as usize + 1,
        );
        for gy in gy0..gy1.min(sh) {
            let y = sub_pos(gy);
            let row = gy * sw;
            for gx in gx0..gx1.min(sw) {
                if let Some(raw) = geom.hit(V2::new(sub_pos(gx), y)) {
                    r.ids[row + gx] = id as u8;
                    r.raw[row + gx] = raw;
                }
            }
        }
    }
    r
}

/// The background averaged over each pixel's subsamples (static between the two images).
pub fn background(person: &Person, width: usize, height: usize) -> Vec<Rgb> {
    let (fw, fh) = (width as f32, height as f32);
    let mut out = Vec::with_capacity(width * height);
    for y in 0..height {
        for x in 0..width {
            let mut acc = [0f32; 3];
            for j in 0..SS {
                for i in 0..SS {
                    let px = x as f32 + (i as f32 + 0.5) / SS as f32 - 0.5;
                    let py = y as f32 + (j as f32 + 0.5) / SS as f32 - 0.5;
                    let c = person.background.eval((px + 0.5) / fw, (py + 0.5) / fh);
                    for k in 0..3 {
                        acc[k] += c[k];
                    }
                }
            }
            out.push(acc.map(|v| v / (SS * SS) as f32));
        }
    }
    out
}

/// The anti-aliased image and the person's coverage (0..1) per pixel.
pub fn colorize(r: &Raster, fig: &Figure, person: &Person, bg: &[Rgb]) -> (RgbImage, Vec<f32>) {
    let (w, h) = (r.width, r.height);
    let sw = r.sub_width();
    let mut img = RgbImage::new(w as u32, h as u32);
    let mut cover = vec![0f32; w * h];
    let n = (SS * SS) as f32;
    for y in 0..h {
        for x in 0..w {
            let b = bg[y * w + x];
            let mut acc = [0f32; 3];
            let mut hits = 0usize;
            for j in 0..SS {
                let row = (y * SS + j) * sw + x * SS;
                for i in 0..SS {
                    let id = r.ids[row + i];
                    let c = if id == NONE {
                        b
                    } else {
                        hits += 1;
                        let g = &fig.parts[id as usize];
                        let (a, bb) = g.surface(r.raw[row + i]);
                        person.shade(id as usize, a, bb)
                    };
                    for k in 0..3 {
                        acc[k] += c[k];
                    }
                }
            }
            cover[y * w + x] = hits as f32 / n;
            img.put_pixel(
                x as u32,
                y as u32,
                image::Rgb(acc.map(|v| crate::imaging::to_u8(v / n))),
            );
        }
    }
    (img, cover)
}

/// Backward flow target → source and the visibility in the source of every target pixel.
pub fn flow_and_visibility(
    src: &Figure,
    src_raster: &Raster,
    tgt: &Figure,
    tgt_raster: &Raster,
) -> (FlowField, Vec<f32>) {
    let (w, h) = (tgt_raster.width, tgt_raster.height);
    let mut flow = FlowField::zeros(h, w);
    let mut vis = vec![1f32; w * h];
    for y in 0..h {
        for x in 0..w {
            let g = tgt_raster.centre(x, y);
            let id = tgt_raster.ids[g];
            if id == NONE {
                if src_raster.ids[src_raster.centre(x, y)] != NONE {
                    vis[y * w + x] = 0.0;
                }
                continue;
            }
            let id = id as usize;
            let (a, b) = tgt.parts[id].surface(tgt_raster.raw[g]);
            let (q, seen) = src.visible(id, a, b);
            // Relative to the round-tripped target position (equal to the pixel centre up to
            // float rounding), so identical poses give exactly zero flow.
            let (p, _) = tgt.parts[id].place(a, b);
            flow.set(x, y, q.x - p.x, q.y - p.y);
            if !seen {
                vis[y * w + x] = 0.0;
            }
        }
    }
    (flow, vis)
}
