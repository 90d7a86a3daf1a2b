//! Training batches: synthetic pairs drawn on the fly, turned into the model's inputs and the
//! ground truth of every attention level.
//!
//! Seeds are the split: training draws pair seeds below [`HELD_OUT_SEEDS`], evaluation draws
//! at and above it, so no evaluation pair is ever seen in training.

use crate::imaging::flow_field::downsample_map;
use crate::model::gfla::{prior, GflaConfig, GflaOutput};
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
    /// Per attention level, deepest first: (B, 1, h, w) weight of each cell in the flow loss:
    /// the target person's coverage (with a puppet prior: the coverage of target person the
    /// source shows, see [`prior_targets`]).
    pub person: Vec<Tensor>,
    /// The puppet prior of a [`GflaConfig::puppet_prior`] model ([`crate::model::gfla::prior`]).
    pub prior: Option<Vec<Tensor>>,
    /// (B, 1, H, W): 1 on target person the source does not show (person coverage > 0.5,
    /// visibility < 0.5).
    pub hidden: Tensor,
}

/// Flow targets of a puppet-prior model at one level (cell size `f`), in level pixels: the
/// prior plus the mean of (true − puppet flow) over the cell's target-person pixels the source
/// shows, and as loss weight their share of the cell. A plain block mean of the true flow would
/// mix a limb's motion with the background's (zero) and the neighbouring part's across every
/// edge; the compositor adds the correction to the photo-resolution puppet flow, where only
/// the figure's own error is wanted. Cells with none of those pixels keep the prior (zero
/// correction), held there by the loss's floor weight.
pub fn prior_targets(
    pair: &SynthPair,
    warp: &crate::puppet::PuppetWarp,
    prior: &crate::imaging::FlowField,
    f: usize,
) -> (Vec<f32>, Vec<f32>) {
    let (h, w) = (pair.flow.height, pair.flow.width);
    let (lh, lw) = (h / f, w / f);
    let plane = lh * lw;
    let mut flow = prior.data.clone();
    let mut weight = vec![0f32; plane];
    for gy in 0..lh {
        for gx in 0..lw {
            let (mut s, mut n) = ([0f32; 2], 0usize);
            for y in gy * f..(gy + 1) * f {
                for x in gx * f..(gx + 1) * f {
                    let i = y * w + x;
                    if pair.person_shown(i) == Some(true) {
                        let ((tx, ty), (px, py)) = (pair.flow.get(x, y), warp.flow.get(x, y));
                        s = [s[0] + tx - px, s[1] + ty - py];
                        n += 1;
                    }
                }
            }
            if n > 0 {
                let c = gy * lw + gx;
                let k = (n * f) as f32;
                flow[c] += s[0] / k;
                flow[plane + c] += s[1] / k;
                weight[c] = n as f32 / (f * f) as f32;
            }
        }
    }
    (flow, weight)
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
    /// The model's forward pass on this batch (with its puppet prior, if it has one).
    pub fn generate(&self, model: &crate::model::gfla::Gfla) -> Result<GflaOutput> {
        model.forward_with_prior(
            &self.source,
            &self.source_pose,
            &self.target_pose,
            self.prior.as_deref(),
        )
    }

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
        // With a puppet prior: per pair its warp and its flow at every level (the model's
        // input and the base of the flow targets).
        let priors: Option<Vec<_>> = cfg.puppet_prior.then(|| {
            prior::input_warps(&poses(|p| &p.source_pose), &poses(|p| &p.target_pose), cfg)
                .into_iter()
                .map(|warp| {
                    let levels = prior::level_flows(&warp, cfg);
                    (warp, levels)
                })
                .collect()
        });
        let (mut flows, mut visibility, mut person) = (Vec::new(), Vec::new(), Vec::new());
        for (li, level) in cfg.levels_deepest_first().into_iter().enumerate() {
            let f = 1usize << level;
            let (lh, lw) = (h / f, w / f);
            let mut fl = Vec::with_capacity(b * 2 * lh * lw);
            let (mut vis, mut per) = (Vec::new(), Vec::new());
            for (i, p) in pairs.iter().enumerate() {
                match &priors {
                    Some(priors) => {
                        let (warp, levels) = &priors[i];
                        let (t, wt) = prior_targets(p, warp, &levels[li], f);
                        fl.extend(t);
                        per.extend(wt);
                    }
                    None => {
                        fl.extend(p.flow.downsample(f).data);
                        per.extend(downsample_map(&p.person, h, w, f));
                    }
                }
                vis.extend(downsample_map(&p.visibility, h, w, f));
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
            hidden: Tensor::from_vec(
                pairs
                    .iter()
                    .flat_map(|p| {
                        (0..h * w).map(|i| f32::from(u8::from(p.person_shown(i) == Some(false))))
                    })
                    .collect::<Vec<_>>(),
                (b, 1, h, w),
                dev,
            )?,
            prior: match &priors {
                Some(p) => {
                    let levels: Vec<_> = p.iter().map(|(_, levels)| levels.clone()).collect();
                    Some(prior::stack(&levels, cfg, dev)?)
                }
                None => None,
            },
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

#[cfg(test)]
mod prior_tests {
    use super::*;
    use crate::model::gfla::prior;

    /// Against a puppet whose flow is the truth minus (1.5, −2) px everywhere, the correction
    /// target is (1.5, −2) px in every cell with shown person (in level pixels: ÷ f), weighted
    /// by their share; cells without keep the prior at weight 0.
    #[test]
    fn prior_targets_are_the_mean_correction_over_shown_person() {
        let mut cfg = crate::train::TrainConfig::tiny().model;
        cfg.puppet_prior = true;
        let pair = render_pairs(&[11], &cfg).remove(0);
        let (h, w) = cfg.input_hw;
        let mut warp = prior::input_warps(
            std::slice::from_ref(&pair.source_pose),
            std::slice::from_ref(&pair.target_pose),
            &cfg,
        )
        .remove(0);
        for y in 0..h {
            for x in 0..w {
                let (dx, dy) = pair.flow.get(x, y);
                warp.flow.set(x, y, dx - 1.5, dy + 2.0);
            }
        }
        let f = 4;
        let pf = prior::level_flow(&warp, f);
        let (t, wt) = prior_targets(&pair, &warp, &pf, f);
        let plane = (h / f) * (w / f);
        let (mut with, mut without) = (0, 0);
        for c in 0..plane {
            let (cx, cy) = (t[c] - pf.data[c], t[plane + c] - pf.data[plane + c]);
            if wt[c] > 0.0 {
                with += 1;
                assert!((cx - 1.5 / 4.0).abs() < 1e-5 && (cy + 0.5).abs() < 1e-5);
                assert!(wt[c] <= 1.0);
            } else {
                without += 1;
                assert_eq!((cx, cy), (0.0, 0.0));
            }
        }
        assert!(
            with > 0 && without > 0,
            "{with} cells with shown person, {without} without"
        );
        // The batch carries the prior for the model and these targets for the loss.
        let b = Batch::from_pairs(&[pair], &cfg, &Device::Cpu).unwrap();
        let priors = b.prior.expect("a puppet-prior batch has the prior");
        assert_eq!(priors.len(), cfg.levels_deepest_first().len() + 1);
    }
}
