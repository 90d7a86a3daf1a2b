//! Bringing a network's invented colours to the photo's (see [`match_colours`]).

use super::{sample_map, PhotoLayers};
use crate::imaging::flow_field::sample_bilinear;
use crate::imaging::FlowField;
use image::RgbImage;
use rayon::prelude::*;

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
