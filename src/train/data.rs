//! Training batches: synthetic pairs drawn on the fly, turned into the model's inputs and the
//! ground truth of every attention level.
//!
//! Seeds are the split: training draws pair seeds below [`HELD_OUT_SEEDS`], evaluation draws
//! at and above it, so no evaluation pair is ever seen in training.

use crate::imaging::flow_field::downsample_map;
use crate::model::gfla::GflaConfig;
use crate::pose::{heatmap_tensor, Pose};
use crate::synth::{render_pair, SynthConfig, SynthPair};
use candle_core::{Device, Result, Tensor};
use rayon::prelude::*;

/// First seed of the held-out (evaluation) range.
pub const HELD_OUT_SEEDS: u64 = 1 << 40;
/// First seed of the range used for the sample sheets written during training.
pub const PREVIEW_SEEDS: u64 = 1 << 39;

/// One batch on the training device.
pub struct Batch {
    /// (B, 3, H, W) in [−1, 1].
    pub source: Tensor,
    pub target: Tensor,
    /// (B, 18, H, W) GFLA heat-maps.
    pub source_pose: Tensor,
    pub target_pose: Tensor,
    /// Per attention level, deepest first: (B, 2, h, w) flow in that level's pixels.
    pub flows: Vec<Tensor>,
    /// Per attention level, deepest first: (B, 1, h, w) visibility in [0, 1].
    pub visibility: Vec<Tensor>,
    /// Per attention level, deepest first: (B, 1, h, w) target-person coverage.
    pub person: Vec<Tensor>,
}

/// The pair seed of item `i` of training step `step` (deterministic; below the held-out range).
pub fn train_seed(run_seed: u64, step: usize, batch: usize, i: usize) -> u64 {
    let n = (step * batch + i) as u64;
    (run_seed.wrapping_mul(0x9E37_79B9) ^ n.wrapping_mul(0xD1B5_4A32_D192_ED03)) % PREVIEW_SEEDS
}

/// Renders the pairs of `seeds` in parallel at the model's input size.
pub fn render_pairs(seeds: &[u64], cfg: &GflaConfig) -> Vec<SynthPair> {
    let (height, width) = cfg.input_hw;
    let sc = SynthConfig { height, width };
    seeds.par_iter().map(|&s| render_pair(s, &sc)).collect()
}

fn image_planes(img: &image::RgbImage, out: &mut Vec<f32>) {
    let (w, h) = img.dimensions();
    let plane = (w * h) as usize;
    let base = out.len();
    out.resize(base + 3 * plane, 0.0);
    for (i, p) in img.pixels().enumerate() {
        for c in 0..3 {
            out[base + c * plane + i] = p[c] as f32 / 127.5 - 1.0;
        }
    }
}

impl Batch {
    /// Tensors for `pairs` (all at `cfg.input_hw`), ground truth at `cfg`'s attention levels.
    pub fn from_pairs(pairs: &[SynthPair], cfg: &GflaConfig, dev: &Device) -> Result<Self> {
        let (h, w) = cfg.input_hw;
        let b = pairs.len();
        let (mut src, mut tgt) = (Vec::new(), Vec::new());
        for p in pairs {
            if (p.source.height() as usize, p.source.width() as usize) != (h, w) {
                candle_core::bail!("synthetic pair is not {h}×{w}");
            }
            image_planes(&p.source, &mut src);
            image_planes(&p.target, &mut tgt);
        }
        let poses = |f: fn(&SynthPair) -> &Pose| pairs.iter().map(f).cloned().collect::<Vec<_>>();
        let (mut flows, mut visibility, mut person) = (Vec::new(), Vec::new(), Vec::new());
        for level in cfg.levels_deepest_first() {
            let f = 1usize << level;
            let (lh, lw) = (h / f, w / f);
            let mut fl = Vec::with_capacity(b * 2 * lh * lw);
            let (mut vis, mut per) = (Vec::new(), Vec::new());
            for p in pairs {
                fl.extend(p.flow.downsample(f).data);
                vis.extend(downsample_map(&p.visibility, h, w, f));
                per.extend(downsample_map(&p.person, h, w, f));
            }
            flows.push(Tensor::from_vec(fl, (b, 2, lh, lw), dev)?);
            visibility.push(Tensor::from_vec(vis, (b, 1, lh, lw), dev)?);
            person.push(Tensor::from_vec(per, (b, 1, lh, lw), dev)?);
        }
        Ok(Self {
            source: Tensor::from_vec(src, (b, 3, h, w), dev)?,
            target: Tensor::from_vec(tgt, (b, 3, h, w), dev)?,
            source_pose: heatmap_tensor(&poses(|p| &p.source_pose), (h, w), (h, w), dev)?,
            target_pose: heatmap_tensor(&poses(|p| &p.target_pose), (h, w), (h, w), dev)?,
            flows,
            visibility,
            person,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn training_seeds_never_reach_the_held_out_range() {
        for run in [0u64, 1, 42, u64::MAX] {
            for step in [0usize, 1, 999_999] {
                for i in 0..8 {
                    assert!(train_seed(run, step, 8, i) < PREVIEW_SEEDS);
                }
            }
        }
        assert_ne!(train_seed(1, 0, 8, 0), train_seed(1, 0, 8, 1));
    }
}
