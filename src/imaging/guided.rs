//! The guided filter (He, Sun, Tang: *Guided Image Filtering*, ECCV 2010 / TPAMI 2013) with a
//! grey guide: edge-aware smoothing of an alpha map that makes its edges follow the guide
//! photo's. Used to refine a matte upsampled from a coarse mask, whose edges are otherwise the
//! blur of the bilinear upsampling.
//!
//! Per window ω_k of radius r: q = a_k·I + b_k with a_k = cov(I, p) / (var(I) + ε) and
//! b_k = mean(p) − a_k·mean(I); every pixel averages the (a, b) of the windows covering it.
//! All means are box filters by running sums (O(1) per pixel whatever r), rows in parallel.

use image::RgbImage;
use rayon::prelude::*;

/// Radius (pixels) and regularisation ε (in units of the guide's [0, 1] intensity squared).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GuidedParams {
    pub radius: usize,
    pub eps: f32,
}

impl GuidedParams {
    /// The parameters for a matte upsampled by `scale` photo pixels per mask pixel: the
    /// window is one mask pixel (the width of the upsampling's blur and staircase), and
    /// ε = 1e-3 lets intensity steps of ~0.03 (8 grey levels) and up steer the edge while
    /// flatter texture stays smooth. Chosen by looking at the mattes of the shared fixture
    /// photos (README, *Person matte*): twice that radius left a grey halo over flat
    /// background (where the filter only averages) and pulled textured background in;
    /// ε = 1e-4 looked the same as 1e-3.
    pub fn for_upsampling(scale: f32) -> Self {
        let radius = scale.ceil();
        let radius = if radius.is_finite() { radius } else { 2.0 };
        GuidedParams {
            radius: radius.clamp(2.0, 32.0) as usize,
            eps: 1e-3,
        }
    }
}

/// Alpha below this is background for finding the region worth filtering.
const SUPPORT: f32 = 1.0 / 512.0;
/// Rows per parallel band of the vertical box pass.
const BAND_ROWS: usize = 32;

/// `p` (row-major, the photo's size) filtered with the photo's luma as the guide. Only the
/// bounding box of `p > 1/512` grown by 3r is computed: beyond 2r from it the filter's output
/// is exactly 0 (every window there has p = 0), and the extra r keeps the windows that reach
/// into it unclipped. Outside that box `p` is returned as it was. Results are clamped to
/// [0, 1].
///
/// With a wide window the coefficients a, b are smooth (box means over r), so from radius 8
/// on they are computed on a grid r/4 times coarser and interpolated back (the fast guided
/// filter, He & Sun 2015); the output keeps the full-resolution guide's edges.
pub fn guided_filter_gray(photo: &RgbImage, p: &[f32], params: GuidedParams) -> Vec<f32> {
    filter(photo, p, params, (params.radius / 4).max(1))
}

/// [`guided_filter_gray`] with the coefficients on a grid `step` times coarser.
fn filter(photo: &RgbImage, p: &[f32], params: GuidedParams, step: usize) -> Vec<f32> {
    let (w, h) = (photo.width() as usize, photo.height() as usize);
    assert_eq!(p.len(), w * h, "the guide and the input have the same size");
    let mut out = p.to_vec();
    let r = params.radius;
    let Some((x0, y0, x1, y1)) = support_box(p, w, h) else {
        return out;
    };
    let grow = 3 * r;
    let (x0, y0) = (x0.saturating_sub(grow), y0.saturating_sub(grow));
    let (x1, y1) = ((x1 + grow + 1).min(w), (y1 + grow + 1).min(h));
    let (rw, rh) = (x1 - x0, y1 - y0);

    // The region's guide (BT.601 luma in [0, 1]) and input.
    let mut guide = vec![0f32; rw * rh];
    let mut input = vec![0f32; rw * rh];
    guide
        .par_chunks_mut(rw)
        .zip(input.par_chunks_mut(rw))
        .enumerate()
        .for_each(|(j, (g_row, p_row))| {
            let y = y0 + j;
            let rgb = &photo.as_raw()[(y * w + x0) * 3..(y * w + x1) * 3];
            for (g, px) in g_row.iter_mut().zip(rgb.chunks_exact(3)) {
                let (r8, g8, b8) = (px[0] as f32, px[1] as f32, px[2] as f32);
                *g = (0.299 * r8 + 0.587 * g8 + 0.114 * b8) / 255.0;
            }
            p_row.copy_from_slice(&p[y * w + x0..y * w + x1]);
        });

    let (cw, ch) = (rw.div_ceil(step), rh.div_ceil(step));
    let coarse = (step > 1).then(|| {
        (
            downsample(&guide, rw, rh, step),
            downsample(&input, rw, rh, step),
        )
    });
    let (coarse_guide, coarse_input) = match &coarse {
        Some((g, i)) => (g.as_slice(), i.as_slice()),
        None => (guide.as_slice(), input.as_slice()),
    };
    let coarse_r = (r as f32 / step as f32).round().max(1.0) as usize;
    let (mean_a, mean_b) = coefficients(coarse_guide, coarse_input, (cw, ch), coarse_r, params.eps);
    out.par_chunks_mut(w)
        .skip(y0)
        .take(rh)
        .enumerate()
        .for_each(|(j, row)| {
            let (cy0, cy1, fy) = coarse_tap(j, step, ch);
            for i in 0..rw {
                let (cx0, cx1, fx) = coarse_tap(i, step, cw);
                let lerp = |m: &[f32]| {
                    let top = m[cy0 * cw + cx0] * (1.0 - fx) + m[cy0 * cw + cx1] * fx;
                    let bottom = m[cy1 * cw + cx0] * (1.0 - fx) + m[cy1 * cw + cx1] * fx;
                    top * (1.0 - fy) + bottom * fy
                };
                let k = j * rw + i;
                row[x0 + i] = (lerp(&mean_a) * guide[k] + lerp(&mean_b)).clamp(0.0, 1.0);
            }
        });
    out
}

/// The box-mean coefficients `(mean a, mean b)` of the guided filter on a `w x h` plane.
fn coefficients(
    guide: &[f32],
    input: &[f32],
    (w, h): (usize, usize),
    r: usize,
    eps: f32,
) -> (Vec<f32>, Vec<f32>) {
    let product =
        |a: &[f32], b: &[f32]| -> Vec<f32> { a.par_iter().zip(b).map(|(x, y)| x * y).collect() };
    let mean_i = box_mean(guide, w, h, r);
    let mean_p = box_mean(input, w, h, r);
    let mean_ii = box_mean(&product(guide, guide), w, h, r);
    let mean_ip = box_mean(&product(guide, input), w, h, r);
    let (a, b): (Vec<f32>, Vec<f32>) = (0..w * h)
        .into_par_iter()
        .map(|k| {
            let var = (mean_ii[k] - mean_i[k] * mean_i[k]).max(0.0);
            let cov = mean_ip[k] - mean_i[k] * mean_p[k];
            let a = cov / (var + eps);
            (a, mean_p[k] - a * mean_i[k])
        })
        .unzip();
    (box_mean(&a, w, h, r), box_mean(&b, w, h, r))
}

/// Means of `step x step` blocks (partial blocks at the right and bottom edges).
fn downsample(src: &[f32], w: usize, h: usize, step: usize) -> Vec<f32> {
    let (cw, ch) = (w.div_ceil(step), h.div_ceil(step));
    let mut out = vec![0f32; cw * ch];
    out.par_chunks_mut(cw).enumerate().for_each(|(cy, row)| {
        let ys = cy * step..((cy + 1) * step).min(h);
        for (cx, v) in row.iter_mut().enumerate() {
            let xs = cx * step..((cx + 1) * step).min(w);
            let mut sum = 0f32;
            for y in ys.clone() {
                sum += src[y * w + xs.start..y * w + xs.end].iter().sum::<f32>();
            }
            *v = sum / (ys.len() * xs.len()) as f32;
        }
    });
    out
}

/// The two coarse cells around fine index `i` (block centres at `(c + 0.5) * step`) and the
/// weight of the second, clamped at the grid's ends.
#[inline]
fn coarse_tap(i: usize, step: usize, n: usize) -> (usize, usize, f32) {
    let pos = ((i as f32 + 0.5) / step as f32 - 0.5).max(0.0);
    let c0 = (pos.floor() as usize).min(n - 1);
    let c1 = (c0 + 1).min(n - 1);
    (c0, c1, pos - c0 as f32)
}

/// Inclusive bounding box `(x0, y0, x1, y1)` of the values above [`SUPPORT`].
fn support_box(p: &[f32], w: usize, h: usize) -> Option<(usize, usize, usize, usize)> {
    let rows: Vec<Option<(usize, usize)>> = p
        .par_chunks(w)
        .map(|row| {
            let first = row.iter().position(|&v| v > SUPPORT)?;
            let last = row.iter().rposition(|&v| v > SUPPORT)?;
            Some((first, last))
        })
        .collect();
    let y0 = rows.iter().position(Option::is_some)?;
    let y1 = rows.iter().rposition(Option::is_some)?;
    let (x0, x1) = rows[y0..=y1]
        .iter()
        .flatten()
        .fold((w, 0), |(lo, hi), &(a, b)| (lo.min(a), hi.max(b)));
    debug_assert!(y1 < h);
    Some((x0, y0, x1, y1))
}

/// [`box_mean`] of each channel of `img`: three row-major planes, 0..255 as floats.
pub fn box_mean_rgb(img: &RgbImage, r: usize) -> [Vec<f32>; 3] {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let raw = img.as_raw();
    [0, 1, 2].map(|c| {
        let plane: Vec<f32> = (0..w * h).map(|i| raw[3 * i + c] as f32).collect();
        box_mean(&plane, w, h, r)
    })
}

/// Mean over the `(2r+1)²` window clipped to the `w x h` plane (a window at the border
/// averages only the pixels it covers): a horizontal then a vertical running sum, in f64 so
/// that adding and removing thousands of values leaves no drift.
pub fn box_mean(src: &[f32], w: usize, h: usize, r: usize) -> Vec<f32> {
    assert_eq!(src.len(), w * h);
    if w == 0 || h == 0 {
        return Vec::new();
    }
    let mut horiz = vec![0f32; w * h];
    horiz
        .par_chunks_mut(w)
        .zip(src.par_chunks(w))
        .for_each(|(dst, row)| {
            let mut acc: f64 = row[..=r.min(w - 1)].iter().map(|&v| f64::from(v)).sum();
            for (x, d) in dst.iter_mut().enumerate() {
                let lo = x.saturating_sub(r);
                let hi = (x + r).min(w - 1);
                *d = (acc / (hi - lo + 1) as f64) as f32;
                if x + r + 1 < w {
                    acc += f64::from(row[x + r + 1]);
                }
                if x >= r {
                    acc -= f64::from(row[x - r]);
                }
            }
        });
    let mut out = vec![0f32; w * h];
    out.par_chunks_mut(w * BAND_ROWS)
        .enumerate()
        .for_each(|(band, dst)| {
            let y_start = band * BAND_ROWS;
            let mut acc = vec![0f64; w];
            for y in y_start.saturating_sub(r)..=(y_start + r).min(h - 1) {
                for (a, &v) in acc.iter_mut().zip(&horiz[y * w..(y + 1) * w]) {
                    *a += f64::from(v);
                }
            }
            for (j, d_row) in dst.chunks_mut(w).enumerate() {
                let y = y_start + j;
                let count = ((y + r).min(h - 1) - y.saturating_sub(r) + 1) as f64;
                for (d, &a) in d_row.iter_mut().zip(&acc) {
                    *d = (a / count) as f32;
                }
                if y + r + 1 < h {
                    let add = &horiz[(y + r + 1) * w..(y + r + 2) * w];
                    acc.iter_mut()
                        .zip(add)
                        .for_each(|(a, &v)| *a += f64::from(v));
                }
                if y >= r {
                    let sub = &horiz[(y - r) * w..(y - r + 1) * w];
                    acc.iter_mut()
                        .zip(sub)
                        .for_each(|(a, &v)| *a -= f64::from(v));
                }
            }
        });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The window mean by brute force.
    fn naive_box(src: &[f32], w: usize, h: usize, r: usize) -> Vec<f32> {
        let mut out = vec![0f32; w * h];
        for y in 0..h {
            for x in 0..w {
                let (mut s, mut n) = (0f64, 0);
                for yy in y.saturating_sub(r)..=(y + r).min(h - 1) {
                    for xx in x.saturating_sub(r)..=(x + r).min(w - 1) {
                        s += src[yy * w + xx] as f64;
                        n += 1;
                    }
                }
                out[y * w + x] = (s / n as f64) as f32;
            }
        }
        out
    }

    #[test]
    fn box_mean_matches_brute_force_at_borders_and_bands() {
        // 70 rows: several bands and a partial one; radius wider than the plane too.
        let (w, h) = (13, 70);
        let src: Vec<f32> = (0..w * h)
            .map(|i| ((i * 2654435761usize) >> 7) as f32 % 17.0 / 17.0)
            .collect();
        for r in [0, 1, 3, 20] {
            let got = box_mean(&src, w, h, r);
            let want = naive_box(&src, w, h, r);
            let err = got
                .iter()
                .zip(&want)
                .fold(0f32, |m, (a, b)| m.max((a - b).abs()));
            assert!(err < 1e-6, "r {r}: max error {err}");
        }
    }

    #[test]
    fn edges_follow_the_guide() {
        // Guide: dark left half, bright right half (edge between x = 9 and 10). Input: a
        // blurred step centred on the same edge (what a bilinear upsample gives). The filter
        // sharpens it: on each side of the guide's edge alpha moves away from 0.5.
        let (w, h) = (20u32, 8u32);
        let photo = RgbImage::from_fn(w, h, |x, _| {
            image::Rgb(if x < 10 {
                [20, 20, 20]
            } else {
                [220, 220, 220]
            })
        });
        let blurred: Vec<f32> = (0..w * h)
            .map(|i| {
                let x = (i % w) as f32 + 0.5;
                (0.5 + (x - 10.0) / 8.0).clamp(0.0, 1.0)
            })
            .collect();
        let out = guided_filter_gray(
            &photo,
            &blurred,
            GuidedParams {
                radius: 3,
                eps: 1e-3,
            },
        );
        let row = &out[4 * w as usize..5 * w as usize];
        let before = &blurred[4 * w as usize..5 * w as usize];
        // The input steps 1/8 per pixel; across the guide's edge the output jumps (0.46
        // measured), on each side it moves away from the edge's value.
        assert!(row[10] - row[9] > 0.4, "{row:?}");
        assert!(row[8] < before[8] && row[11] > before[11], "{row:?}");
        // Far from the edge the values stay near the input's.
        assert!(row[0] < 0.01 && row[19] > 0.99, "{row:?}");
    }

    #[test]
    fn the_coarse_grid_stays_close_to_the_exact_filter() {
        // A soft disc (an upsampled mask) on a photo with a sharper disc edge and texture.
        let (w, h) = (160u32, 120u32);
        let photo = RgbImage::from_fn(w, h, |x, y| {
            let d = ((x as f32 - 80.0).powi(2) + (y as f32 - 60.0).powi(2)).sqrt();
            let v = if d < 40.0 { 200 } else { 40 } + ((x * 7 + y * 13) % 11) as u8;
            image::Rgb([v, v, v])
        });
        let p: Vec<f32> = (0..w * h)
            .map(|i| {
                let (x, y) = ((i % w) as f32, (i / w) as f32);
                let d = ((x - 80.0).powi(2) + (y - 60.0).powi(2)).sqrt();
                (0.5 - (d - 41.0) / 12.0).clamp(0.0, 1.0)
            })
            .collect();
        let params = GuidedParams {
            radius: 8,
            eps: 1e-3,
        };
        let exact8 = filter(&photo, &p, params, 1);
        let fast = guided_filter_gray(&photo, &p, params);
        assert_ne!(fast, exact8, "radius 8 takes the coarse grid");
        let err = fast
            .iter()
            .zip(&exact8)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        let mean_err = fast
            .iter()
            .zip(&exact8)
            .map(|(a, b)| (a - b).abs())
            .sum::<f32>()
            / fast.len() as f32;
        assert!(mean_err < 0.01 && err < 0.15, "mean {mean_err}, max {err}");
        // And it is still a refinement: sharper across the photo's edge than the input.
        let at = |v: &[f32], x: usize| v[60 * w as usize + x];
        assert!(at(&fast, 118) - at(&fast, 122) > at(&p, 118) - at(&p, 122));
    }

    #[test]
    fn all_background_stays_untouched() {
        let photo = RgbImage::from_pixel(5, 4, image::Rgb([9, 9, 9]));
        let p = vec![0.001; 20];
        assert_eq!(
            guided_filter_gray(&photo, &p, GuidedParams::for_upsampling(1.0)),
            p
        );
    }
}
