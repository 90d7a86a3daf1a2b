//! The GFLA/PATN pose heat-map encoder (spec §8.3): one Gaussian bump per joint, σ = 6 pixels
//! at every resolution, bit-for-bit what the reference `cords_to_map` produces.
//!
//! The reference evaluates `exp(-n / 72)` in float64 for the *integer* squared distance
//! `n = (r - yi)² + (c - xi)²` and stores float32. Because `n` is an integer, the value depends
//! only on `n`; and every `n` past ~7490 underflows to 0.0 in float32. So we tabulate the
//! float32 values once and each pixel is a table lookup — exact (same f64 `exp`, same cast)
//! and fast. Factorising the 2-D Gaussian into two 1-D ones would be quicker still, but the
//! product of two rounded exponentials is not the rounded exponential of the sum.

use std::sync::OnceLock;

use candle_core::{Device, Tensor};

use super::{Pose, NUM_JOINTS};

/// Standard deviation of each joint's Gaussian, in pixels of the model-size map.
pub const HEATMAP_SIGMA: f64 = 6.0;

/// `exp(-n / (2σ²))` as f32 for `n = 0, 1, …` up to (excluding) the first `n` whose value is
/// 0.0 in f32; all larger `n` are 0.0 too (exp is decreasing and the f32 cast is monotone).
fn gaussian_table() -> &'static [f32] {
    static TABLE: OnceLock<Vec<f32>> = OnceLock::new();
    TABLE.get_or_init(|| {
        // The reference divides the negated integer by `2 * sigma ** 2` = 72, in f64.
        let denom = 2.0 * HEATMAP_SIGMA * HEATMAP_SIGMA;
        let mut table = Vec::with_capacity(8192);
        loop {
            let v = (-(table.len() as f64) / denom).exp() as f32;
            if v == 0.0 {
                break table;
            }
            table.push(v);
        }
    })
}

/// The integer peak position `(yi, xi)` of a joint at pixel `(x, y)` in a `frame_hw` frame,
/// on an `out_hw` map: scale in f64 as `y / frame_h · H` (that operation order, as the
/// reference does), then truncate toward zero. `None` when the result is not finite (a
/// zero-sized frame or non-finite coordinates), which yields an all-zero channel.
fn peak_position(
    x: f32,
    y: f32,
    frame_hw: (usize, usize),
    out_hw: (usize, usize),
) -> Option<(i64, i64)> {
    let ys = f64::from(y) / frame_hw.0 as f64 * out_hw.0 as f64;
    let xs = f64::from(x) / frame_hw.1 as f64 * out_hw.1 as f64;
    // `as i64` truncates toward zero like Python's int() (and saturates far outside).
    (ys.is_finite() && xs.is_finite()).then_some((ys as i64, xs as i64))
}

/// Writes one `h × w` channel with the peak at integer `(yi, xi)` (possibly off the map: the
/// tail still shows, as in the reference). Only pixels within the table's radius are touched.
fn write_channel(yi: i64, xi: i64, w: usize, out: &mut [f32]) {
    let table = gaussian_table();
    // Every n >= limit maps to 0.0.
    let limit = table.len() as i64;
    out.fill(0.0);
    for (r, row) in out.chunks_exact_mut(w).enumerate() {
        let dr = (r as i64).saturating_sub(yi);
        let dr2 = dr.saturating_mul(dr);
        if dr2 >= limit {
            continue;
        }
        // Columns with dc² <= limit - 1 - dr2 are non-zero candidates.
        let reach = (limit - 1 - dr2).isqrt();
        let lo = xi.saturating_sub(reach).max(0);
        let hi = xi.saturating_add(reach).min(w as i64 - 1);
        for c in lo..=hi {
            let dc = c - xi;
            row[c as usize] = table[(dr2 + dc * dc) as usize];
        }
    }
}

/// Encodes `pose` (pixels of a `frame_hw` = (height, width) frame) as 18 heat-maps of size
/// `out_hw` = (H, W): a `18·H·W` vector, channel-major then row-major. Channel `j` is
/// `exp(−((r − yi)² + (c − xi)²) / (2·6²))` with `(yi, xi)` the joint scaled to the map and
/// truncated toward zero; missing joints give all-zero channels. Exactly the reference's
/// `cords_to_map(cords, img_size=out_hw, old_size=frame_hw)` at test time (no augmentation).
pub fn heatmaps(pose: &Pose, frame_hw: (usize, usize), out_hw: (usize, usize)) -> Vec<f32> {
    let mut out = vec![0.0; NUM_JOINTS * out_hw.0 * out_hw.1];
    heatmaps_into(pose, frame_hw, out_hw, &mut out);
    out
}

/// [`heatmaps`] into a caller-provided buffer of exactly `18·H·W` values (panics otherwise).
pub fn heatmaps_into(
    pose: &Pose,
    frame_hw: (usize, usize),
    out_hw: (usize, usize),
    out: &mut [f32],
) {
    let plane = out_hw.0 * out_hw.1;
    assert_eq!(
        out.len(),
        NUM_JOINTS * plane,
        "heat-map buffer must hold 18·H·W values"
    );
    if plane == 0 {
        return;
    }
    for (joint, channel) in pose.joints.iter().zip(out.chunks_exact_mut(plane)) {
        match joint.and_then(|p| peak_position(p.x, p.y, frame_hw, out_hw)) {
            Some((yi, xi)) => write_channel(yi, xi, out_hw.1, channel),
            None => channel.fill(0.0),
        }
    }
}

/// Heat-maps of a batch of poses as a `(B, 18, H, W)` f32 tensor on `device` (the `BP1`/`BP2`
/// inputs of GFLA). All poses share the frame size `frame_hw`.
pub fn heatmap_tensor(
    poses: &[Pose],
    frame_hw: (usize, usize),
    out_hw: (usize, usize),
    device: &Device,
) -> candle_core::Result<Tensor> {
    let per_pose = NUM_JOINTS * out_hw.0 * out_hw.1;
    let mut data = vec![0.0f32; poses.len() * per_pose];
    if per_pose > 0 {
        for (pose, chunk) in poses.iter().zip(data.chunks_exact_mut(per_pose)) {
            heatmaps_into(pose, frame_hw, out_hw, chunk);
        }
    }
    Tensor::from_vec(data, (poses.len(), NUM_JOINTS, out_hw.0, out_hw.1), device)
}

/// The bump drawn at each joint by [`heatmap_tensor_unscaled`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bump {
    /// `exp(−d² / (2·6²))`, as [`heatmaps`] draws it.
    Gaussian,
    /// A single 1.0 at the joint's pixel: DeepFashion's Pose-Transfer/PoNA maps, which wrote the
    /// Gaussian into a uint8 array so every value below 1 truncated to 0.
    OneHot,
}

/// Heat-maps `(B, 18, H, W)` for keypoints already in the map's own pixel frame, truncated to
/// integers with no rescaling — the Pose-Transfer/PoNA data scripts. (GFLA's encoder rescales
/// from the annotation frame first, and its float64 rescaling can move a peak by one pixel even
/// when both frames are equal, e.g. 15 / 44 · 44 = 14.999…; each model gets its own rule.)
pub fn heatmap_tensor_unscaled(
    poses: &[Pose],
    hw: (usize, usize),
    bump: Bump,
    device: &Device,
) -> candle_core::Result<Tensor> {
    let (h, w) = hw;
    let plane = h * w;
    let mut data = vec![0.0f32; poses.len() * NUM_JOINTS * plane];
    if plane > 0 {
        for (pose, maps) in poses.iter().zip(data.chunks_exact_mut(NUM_JOINTS * plane)) {
            for (joint, channel) in pose.joints.iter().zip(maps.chunks_exact_mut(plane)) {
                let Some(j) = joint.filter(|j| j.x.is_finite() && j.y.is_finite()) else {
                    continue;
                };
                let (yi, xi) = (j.y as i64, j.x as i64);
                match bump {
                    Bump::Gaussian => write_channel(yi, xi, w, channel),
                    Bump::OneHot if (0..h as i64).contains(&yi) && (0..w as i64).contains(&xi) => {
                        channel[yi as usize * w + xi as usize] = 1.0;
                    }
                    Bump::OneHot => {}
                }
            }
        }
    }
    Tensor::from_vec(data, (poses.len(), NUM_JOINTS, h, w), device)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_ends_where_f32_underflows() {
        let t = gaussian_table();
        assert_eq!(t[0], 1.0);
        assert!(*t.last().unwrap() > 0.0);
        assert_eq!((-(t.len() as f64) / 72.0).exp() as f32, 0.0);
    }
}
