//! A network's edit composited into the photo.
//!
//! GFLA sees a crop of the photo at its own small input size (128×96 for the shipped model) and
//! returns, per attention level, a backward flow and an occlusion mask, and an image in which
//! the parts the source never showed are invented. [`composite_network`] brings the finest
//! level's flow and mask and the image up to photo resolution (bilinear) and composites them
//! like the puppet's edit:
//!
//! * the person's **edges** come from the photo-resolution matte warped by the upsampled flow,
//!   not from the coarse grid (a 1/4-level cell of the shipped model is ~10 photo pixels on a
//!   1-megapixel photo);
//! * **ownership** (which target pixels the person occupies) comes from the skeletons, not
//!   from the network: the puppet's ownership test ([`crate::puppet::ownership`]: a limb's old
//!   place is not person any more, no ghost limb; what did not move stays) and the core of the
//!   target figure (within the parts' radii, where the network invents what the source hid).
//!   Away from the network's crop nothing moves (zero flow).
//! * where the mask says the source does not show a target pixel of the figure, the pixel is the
//!   network's, colour-matched to the warped photo (gain and offset per channel over the pixels
//!   both agree are visible person).
//!
//! PoNA has no flow or occlusion output; its edit has nothing to composite here (its image alone
//! is the raw output).

use super::upsample::Upsampler;
use super::{composite_with, sample_map, Composited, Invented, PhotoLayers};
use crate::imaging::flow_field::sample_bilinear;
use crate::imaging::FlowField;
use crate::pose::Pose;
use crate::puppet::PuppetConfig;
use anyhow::{ensure, Result};
use candle_core::Tensor;
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

/// One network edit, as the network returned it.
pub struct NetworkEdit<'a> {
    /// The generated image, at the network's input size.
    pub image: &'a RgbImage,
    /// Where `image` lies in the photo.
    pub image_at: Placement,
    /// The finest level's backward flow, in that level's cells.
    pub flow: &'a FlowField,
    /// The same level's occlusion mask (1 = the source shows the point), row-major.
    pub mask: &'a [f32],
    /// Where the level's grid lies in the photo.
    pub level_at: Placement,
    /// A puppet-prior model's part of `flow`: flow − the puppet's ([`crate::model::gfla::prior`]).
    /// With it the edit is the puppet's, corrected and painted by the network.
    pub correction: Option<&'a FlowField>,
}

/// What a GFLA forward pass says about one picture, as plain arrays: its image, and its finest
/// attention level's flow (in that level's cells) and occlusion mask.
pub struct NetworkOutputs {
    pub image: RgbImage,
    pub flow: FlowField,
    pub mask: Vec<f32>,
    /// The flow's correction of the puppet prior, for a model with one.
    pub correction: Option<FlowField>,
}

impl NetworkOutputs {
    /// Batch item `i` of a forward pass's image (B, 3, H, W) and per-level flows (B, 2, h, w)
    /// and masks (B, 1, h, w), deepest level first, and the puppet prior it was given.
    pub fn finest(
        image: &Tensor,
        flows: &[Tensor],
        masks: &[Tensor],
        prior: Option<&[Tensor]>,
        i: usize,
    ) -> Result<Self> {
        let (Some(flow), Some(mask)) = (flows.last(), masks.last()) else {
            anyhow::bail!("the model has no flow output");
        };
        // The prior's flows are per level like `flows`, then one at the input size.
        let correction = match prior.and_then(|p| p.get(flows.len() - 1)) {
            Some(p) => Some(FlowField::from_tensor(&(flow.get(i)? - p.get(i)?)?)?),
            None => None,
        };
        Ok(Self {
            image: crate::imaging::tensor_to_image(&image.get(i)?)?,
            flow: FlowField::from_tensor(&flow.get(i)?)?,
            mask: mask.get(i)?.flatten_all()?.to_vec1::<f32>()?,
            correction,
        })
    }

    /// The edit, with the network's input covering the photo box `(x0, y0, box_w, box_h)`.
    pub fn placed(&self, x0: f64, y0: f64, box_w: f64, box_h: f64) -> NetworkEdit<'_> {
        let (iw, ih) = (self.image.width() as usize, self.image.height() as usize);
        NetworkEdit {
            image: &self.image,
            image_at: Placement::new(x0, y0, box_w, box_h, iw, ih),
            flow: &self.flow,
            mask: &self.mask,
            level_at: Placement::new(x0, y0, box_w, box_h, self.flow.width, self.flow.height),
            correction: self.correction.as_ref(),
        }
    }
}

/// The network's edit from `source` to `target` (photo pixels), composited over `layers`.
/// `cfg` shapes the skeletons' figure and ownership.
pub fn composite_network(
    layers: &PhotoLayers,
    source: &Pose,
    target: &Pose,
    edit: &NetworkEdit<'_>,
    cfg: &PuppetConfig,
) -> Result<Composited> {
    let (h, w) = layers.size();
    let at = &edit.level_at;
    ensure!(
        edit.flow.height == at.grid_h
            && edit.flow.width == at.grid_w
            && edit.mask.len() == at.grid_h * at.grid_w,
        "network level of {}×{} flow, {} mask values for a {}×{} grid",
        edit.flow.height,
        edit.flow.width,
        edit.mask.len(),
        at.grid_h,
        at.grid_w
    );
    ensure!(
        edit.image.dimensions() == (edit.image_at.grid_w as u32, edit.image_at.grid_h as u32),
        "network image of {:?} for a {}×{} grid",
        edit.image.dimensions(),
        edit.image_at.grid_w,
        edit.image_at.grid_h
    );
    if let Some(correction) = edit.correction {
        let guide = super::puppet::Guide {
            correction,
            level_at: edit.level_at,
            image: edit.image,
            image_at: edit.image_at,
        };
        return super::puppet::composite_guided(layers, source, target, cfg, Some(&guide));
    }
    let level = Upsampler::new(at, h, w);
    let flow = level.flow(edit.flow);
    let visible = level.map(edit.mask, 1.0);
    // Which target pixels the moved figure shows: the skeletons' answer.
    let owned = super::puppet::owned_figure(h, w, source, target, cfg);
    let mut image = Upsampler::new(&edit.image_at, h, w).image(edit.image);
    match_colours(&mut image, layers, &flow, &visible, &owned);
    composite_with(
        layers,
        &flow,
        &owned,
        Some(Invented {
            image: &image,
            visible: &visible,
        }),
    )
}

/// Brings the network's colours to the photo's: per channel, the gain and offset that match
/// the mean and spread of `image` to those of the warped photo over the pixels that are person
/// and visible in the source (gain clamped to 0.5–2; nothing changes with fewer than 64 such
/// pixels), and a grey photo (no visible person sample with channels more than 2 apart) gets
/// grey pixels. The network was trained on other photos (synthetic people, for the shipped
/// one): its invented pixels are right in shape and shading more than in absolute colour.
pub(super) fn match_colours(
    image: &mut RgbImage,
    layers: &PhotoLayers,
    flow: &FlowField,
    visible: &[f32],
    owned: &[f32],
) {
    let (h, w) = layers.size();
    // Per channel: Σnet, Σnet², Σphoto, Σphoto²; rows in parallel, added in row order; and
    // the largest channel spread of a photo sample (a grey photo has none).
    type Sums = ([[f64; 4]; 3], usize, f32);
    let row_sums = |y: usize| -> Sums {
        let (mut sums, mut n, mut spread) = ([[0f64; 4]; 3], 0, 0f32);
        for x in 0..w {
            let i = y * w + x;
            if owned[i] < 0.5 || visible[i] < 0.5 {
                continue;
            }
            let (dx, dy) = flow.get(x, y);
            let (sx, sy) = (x as f32 + dx, y as f32 + dy);
            if sample_map(&layers.matte, h, w, sx, sy) < 0.5 {
                continue;
            }
            let p = sample_bilinear(&layers.photo, sx, sy);
            spread = spread.max(p[0].max(p[1]).max(p[2]) - p[0].min(p[1]).min(p[2]));
            let q = image.get_pixel(x as u32, y as u32).0;
            for c in 0..3 {
                let (a, b) = (q[c] as f64, p[c] as f64);
                sums[c][0] += a;
                sums[c][1] += a * a;
                sums[c][2] += b;
                sums[c][3] += b * b;
            }
            n += 1;
        }
        (sums, n, spread)
    };
    let rows: Vec<Sums> = (0..h).into_par_iter().map(row_sums).collect();
    let (mut sums, mut n, mut spread) = ([[0f64; 4]; 3], 0usize, 0f32);
    for (s, k, d) in rows {
        for c in 0..3 {
            for j in 0..4 {
                sums[c][j] += s[c][j];
            }
        }
        n += k;
        spread = spread.max(d);
    }
    if n < 64 {
        return;
    }
    let nf = n as f64;
    let fit = sums.map(|s| {
        let (mn, mp) = (s[0] / nf, s[2] / nf);
        let sn = (s[1] / nf - mn * mn).max(0.0).sqrt();
        let sp = (s[3] / nf - mp * mp).max(0.0).sqrt();
        let gain = if sn > 1.0 {
            (sp / sn).clamp(0.5, 2.0)
        } else {
            1.0
        };
        (gain, mp - gain * mn)
    });
    // A grey photo gets grey invented pixels: the network learned colour from colour pictures.
    let grey = spread <= 2.0;
    image.par_chunks_mut(3).for_each(|px| {
        let v = [0, 1, 2].map(|c| fit[c].0 * px[c] as f64 + fit[c].1);
        let v = if grey {
            [(v[0] + v[1] + v[2]) / 3.0; 3]
        } else {
            v
        };
        for c in 0..3 {
            px[c] = v[c].round().clamp(0.0, 255.0) as u8;
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::composite::upsample::{upsample_flow, upsample_map};

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

    /// Over a grey photo the network's colours become grey; over a colour photo they keep
    /// their hue, brought to the photo's mean and spread.
    #[test]
    fn colour_match_keeps_grey_photos_grey() {
        let (w, h) = (16u32, 16u32);
        let net = RgbImage::from_fn(w, h, |x, y| image::Rgb([(x * 15) as u8, (y * 9) as u8, 90]));
        let ones = vec![1.0; (w * h) as usize];
        let flow = FlowField::zeros(h as usize, w as usize);
        let grey = RgbImage::from_fn(w, h, |x, y| {
            let v = (40 + x * 5 + y * 3) as u8;
            image::Rgb([v, v, v])
        });
        let layers = PhotoLayers::new(grey.clone(), ones.clone(), grey).unwrap();
        let mut out = net.clone();
        match_colours(&mut out, &layers, &flow, &ones, &ones);
        assert!(out.pixels().all(|p| p[0] == p[1] && p[1] == p[2]));
        let colour = RgbImage::from_fn(w, h, |x, y| {
            image::Rgb([(50 + x * 4) as u8, (90 + y * 2) as u8, 30])
        });
        let layers = PhotoLayers::new(colour.clone(), ones.clone(), colour).unwrap();
        let mut out = net;
        match_colours(&mut out, &layers, &flow, &ones, &ones);
        assert!(out.pixels().any(|p| p[0] != p[1]));
    }
}
