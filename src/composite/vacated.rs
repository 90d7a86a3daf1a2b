//! Where the plate shows: the place the source's person has left, grown over its soft edge.

use rayon::prelude::*;

/// The share of the source's matte a pixel must have lost to the moved person before the
/// vacated region grows from it (it saturates the ×4 gain).
const GROWS_FROM: f32 = 0.25;

/// The vacated share per pixel of an `h × w` window, from `left` (the source matte less the
/// moved person, ≥ 0): grown by `radius` (as far as the plate's hole reaches past the
/// matte), and steeply (×4), because a limb's faint outer edge (a shadow line, the last grey
/// of the matte) must go with the limb; outside the hole the plate is the photo itself, so
/// growing further would change nothing. Only what surely left grows (≥ [`GROWS_FROM`]): a
/// speck where the moved person's edge is a little fainter than the matte's (a shoe that
/// barely moved) grew into a square of plate showing through. The result is then blurred
/// over [`EDGE`] pixels either side: the grown region's outline is a hard, pixel-stepped
/// threshold, and where a moved figure's soft edge lies over it the photo behind that edge
/// switched to the plate along a jagged line.
pub(super) fn share(left: &[f32], h: usize, w: usize, radius: usize) -> Vec<f32> {
    let seeds: Vec<f32> = left
        .iter()
        .map(|&l| if l >= GROWS_FROM { l } else { 0.0 })
        .collect();
    let steep: Vec<f32> = max_filter(&seeds, h, w, radius)
        .into_par_iter()
        .zip(left)
        .map(|(grown, &l)| (grown.max(l) * 4.0).min(1.0))
        .collect();
    box_blur(&steep, h, w, EDGE)
}

/// How far (pixels) the vacated region's outline is softened either side.
const EDGE: usize = 2;

/// Mean over a (2r+1)² square (border-clipped: the mean of the pixels inside), separably.
fn box_blur(map: &[f32], h: usize, w: usize, r: usize) -> Vec<f32> {
    separably(map, h, w, r, running_mean_rows)
}

/// `filter_rows` (a filter of radius `r` along each row of `w` values) applied to the rows of
/// `map`, then to its columns as the rows of its transpose.
fn separably(
    map: &[f32],
    h: usize,
    w: usize,
    r: usize,
    filter_rows: fn(&[f32], usize, usize) -> Vec<f32>,
) -> Vec<f32> {
    if r == 0 {
        return map.to_vec();
    }
    let rows = filter_rows(map, w, r);
    let cols = filter_rows(&transpose(&rows, h, w), h, r);
    transpose(&cols, w, h)
}

/// Each row (of `w` values) of `map` replaced by its mean over [x − r, x + r] ∩ the row.
fn running_mean_rows(map: &[f32], w: usize, r: usize) -> Vec<f32> {
    let mut out = vec![0f32; map.len()];
    out.par_chunks_mut(w)
        .zip(map.par_chunks(w))
        .for_each(|(out, src)| {
            // Running sum in f64: a megapixel row of floats would drift in f32.
            let mut sum = 0f64;
            let (mut lo, mut hi) = (0usize, 0usize); // the window is src[lo..hi]
            for (x, o) in out.iter_mut().enumerate() {
                while hi < w && hi <= x + r {
                    sum += src[hi] as f64;
                    hi += 1;
                }
                while lo + r < x {
                    sum -= src[lo] as f64;
                    lo += 1;
                }
                *o = (sum / (hi - lo) as f64) as f32;
            }
        });
    out
}

/// Maximum over a (2r+1)² square (border-clipped; never below 0), separably: rows, then the
/// transposed rows. Each line takes a constant number of comparisons per pixel whatever `r`
/// (van Herk / Gil–Werman), where a direct scan takes 2r + 1: the vacated region of a
/// megapixel photo is grown by 10 pixels at every edit. (imageproc's dilation is for u8.)
pub(super) fn max_filter(map: &[f32], h: usize, w: usize, r: usize) -> Vec<f32> {
    separably(map, h, w, r, running_max_rows)
}

/// Each row (of `w` values) of `map` replaced by its running maximum over [x − r, x + r].
fn running_max_rows(map: &[f32], w: usize, r: usize) -> Vec<f32> {
    let k = 2 * r + 1;
    let mut out = vec![0f32; map.len()];
    out.par_chunks_mut(w).zip(map.par_chunks(w)).for_each_init(
        || (Vec::new(), Vec::new(), Vec::new()),
        |(padded, prefix, suffix), (out, src)| {
            // The row padded with r zeros each side: every window is then k long and spans at
            // most two blocks of k; it is the suffix maximum of the first block's part and the
            // prefix maximum of the second's.
            padded.clear();
            padded.resize(r, 0f32);
            padded.extend_from_slice(src);
            padded.resize(w + 2 * r, 0.0);
            prefix.clear();
            prefix.resize(padded.len(), 0.0);
            suffix.clear();
            suffix.resize(padded.len(), 0.0);
            for ((block, pre), suf) in padded
                .chunks(k)
                .zip(prefix.chunks_mut(k))
                .zip(suffix.chunks_mut(k))
            {
                let mut m = f32::NEG_INFINITY;
                for (v, p) in block.iter().zip(pre.iter_mut()) {
                    m = m.max(*v);
                    *p = m;
                }
                m = f32::NEG_INFINITY;
                for (v, s) in block.iter().zip(suf.iter_mut()).rev() {
                    m = m.max(*v);
                    *s = m;
                }
            }
            for (x, o) in out.iter_mut().enumerate() {
                *o = suffix[x].max(prefix[x + 2 * r]).max(0.0);
            }
        },
    );
    out
}

/// The `h × w` row-major `map` as `w × h`.
fn transpose(map: &[f32], h: usize, w: usize) -> Vec<f32> {
    let mut out = vec![0f32; map.len()];
    out.par_chunks_mut(h).enumerate().for_each(|(x, col)| {
        for (y, o) in col.iter_mut().enumerate() {
            *o = map[y * w + x];
        }
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The running-maximum filter equals the direct scan of every (2r+1)² square, border-clipped,
    /// for radii below, near and past the frame's size.
    #[test]
    fn max_filter_is_the_maximum_over_each_square() {
        let mut rng = crate::util::rng::SplitMix64::new(5);
        for (h, w) in [(1, 1), (7, 13), (30, 9), (64, 48)] {
            let map: Vec<f32> = (0..h * w)
                .map(|_| {
                    let v = rng.uniform() as f32;
                    // Mostly zeros with isolated peaks, as a vacated mask is.
                    if v < 0.8 {
                        0.0
                    } else {
                        v
                    }
                })
                .collect();
            for r in [0, 1, 2, 5, 10, 70] {
                let got = max_filter(&map, h, w, r);
                for y in 0..h {
                    for x in 0..w {
                        let mut want = 0f32;
                        for yy in y.saturating_sub(r)..=(y + r).min(h - 1) {
                            for xx in x.saturating_sub(r)..=(x + r).min(w - 1) {
                                want = want.max(map[yy * w + xx]);
                            }
                        }
                        assert_eq!(got[y * w + x], want, "{h}×{w}, r {r}, at ({x}, {y})");
                    }
                }
            }
        }
    }

    /// A limb that left grows its full share out to the radius, its outline fading over
    /// [`EDGE`] pixels either side; a faint speck left behind stays a speck.
    #[test]
    fn what_surely_left_grows_and_a_faint_speck_does_not() {
        let (h, w, r) = (40, 60, 6);
        let mut left = vec![0f32; h * w];
        for y in 10..30 {
            for x in 10..14 {
                left[y * w + x] = 1.0; // a vacated forearm
            }
        }
        left[20 * w + 45] = 0.1; // a speck: the person's edge a little fainter there
        let v = share(&left, h, w, r);
        let at = |x: usize, y: usize| v[y * w + x];
        let e = EDGE;
        assert!((at(13 + r - e, 20) - 1.0).abs() < 1e-6, "the grown band");
        let rim: Vec<f32> = (0..=2 * e).map(|k| at(13 + r - e + k, 20)).collect();
        assert!(
            rim.windows(2).all(|p| p[1] < p[0]),
            "its outline fades: {rim:?}"
        );
        assert_eq!(
            at(13 + r + e + 1, 20),
            0.0,
            "nothing past the radius and the fade"
        );
        let speck = 0.4 / ((2 * e + 1) * (2 * e + 1)) as f32;
        assert!(
            (at(45, 20) - speck).abs() < 1e-6,
            "the speck keeps its share, blurred"
        );
        let around = (0..h * w).filter(|&i| v[i] > 0.0 && (i % w) > 30).count();
        assert_eq!(around, (2 * e + 1) * (2 * e + 1), "the speck does not grow");
    }
}
