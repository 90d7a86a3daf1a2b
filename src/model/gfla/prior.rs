//! The puppet prior of marionette's own preset ([`GflaConfig::puppet_prior`]; not in the paper,
//! off for the official checkpoints).
//!
//! A flow estimator trained from scratch must learn where each limb went from heat-maps; the
//! analytic puppet ([`crate::puppet`]) already knows, up to the body's real shape. With the prior,
//! each level's flow is the puppet's flow brought to that level plus the network's *correction*
//! (its flow head, initialised at zero): the network starts where the puppet is and only has to
//! learn what the puppet gets wrong. The correction is also what the compositor adds to the
//! photo-resolution puppet flow ([`crate::composite::composite_network`]), so the coarse grid never
//! blurs the limbs' edges.

use super::GflaConfig;
use crate::imaging::FlowField;
use crate::pose::Pose;
use crate::puppet::{puppet_warp, PuppetConfig, PuppetWarp};
use candle_core::{Device, Result, Tensor};
use rayon::prelude::*;

/// The puppet's flow averaged over `f × f` blocks, in level pixels (÷ f). Pixels weigh by the
/// puppet figure's coverage, so a cell on a limb's edge takes the limb's motion and not a mix
/// with the (meaningless) flow beside the figure; cells off the figure take the plain mean.
pub fn level_flow(warp: &PuppetWarp, f: usize) -> FlowField {
    let (h, w) = (warp.flow.height, warp.flow.width);
    let (lh, lw) = (h / f, w / f);
    let mut out = FlowField::zeros(lh, lw);
    for gy in 0..lh {
        for gx in 0..lw {
            let (mut s, mut sw, mut m) = ([0f32; 2], 0f32, [0f32; 2]);
            for y in gy * f..(gy + 1) * f {
                for x in gx * f..(gx + 1) * f {
                    let (dx, dy) = warp.flow.get(x, y);
                    let p = warp.person[y * w + x];
                    s = [s[0] + p * dx, s[1] + p * dy];
                    sw += p;
                    m = [m[0] + dx, m[1] + dy];
                }
            }
            let v = if sw > 1e-3 {
                [s[0] / sw, s[1] / sw]
            } else {
                let n = (f * f) as f32;
                [m[0] / n, m[1] / n]
            };
            out.set(gx, gy, v[0] / f as f32, v[1] / f as f32);
        }
    }
    out
}

/// The puppet warps of a batch at the model's input size, from poses in the annotation frame.
pub fn input_warps(source: &[Pose], target: &[Pose], cfg: &GflaConfig) -> Vec<PuppetWarp> {
    let (h, w) = cfg.input_hw;
    let (ah, aw) = cfg.annotation_hw;
    let (sx, sy) = (w as f32 / aw as f32, h as f32 / ah as f32);
    let to_input = |p: &Pose| p.map_points(|x, y| (x * sx, y * sy));
    let pcfg = PuppetConfig::default();
    source
        .par_iter()
        .zip(target)
        .map(|(s, t)| puppet_warp(&to_input(s), &to_input(t), h, w, &pcfg))
        .collect()
}

/// The input-resolution prior flow is multiplied by this where it joins the flow net's input
/// (pixels of a 256-pixel frame to values of a few units, like the other input channels).
pub const INPUT_SCALE: f64 = 1.0 / 32.0;

/// One pair's prior: per attention level, deepest first, the puppet's flow in that level's
/// pixels ([`level_flow`]), then level 0: the flow itself at the input size (the flow net sees
/// it as two more input channels, scaled by [`INPUT_SCALE`]).
pub fn level_flows(warp: &PuppetWarp, cfg: &GflaConfig) -> Vec<FlowField> {
    let mut levels: Vec<FlowField> = cfg
        .levels_deepest_first()
        .into_iter()
        .map(|level| level_flow(warp, 1 << level))
        .collect();
    levels.push(warp.flow.clone());
    levels
}

/// A batch's prior tensors, (B, 2, h, w) per level, from each pair's [`level_flows`].
pub fn stack(pairs: &[Vec<FlowField>], cfg: &GflaConfig, dev: &Device) -> Result<Vec<Tensor>> {
    let (h, w) = cfg.input_hw;
    let mut levels = cfg.levels_deepest_first();
    levels.push(0);
    levels
        .into_iter()
        .enumerate()
        .map(|(li, level)| {
            let (lh, lw) = (h >> level, w >> level);
            let mut data = Vec::with_capacity(pairs.len() * 2 * lh * lw);
            for flows in pairs {
                data.extend_from_slice(&flows[li].data);
            }
            Tensor::from_vec(data, (pairs.len(), 2, lh, lw), dev)
        })
        .collect()
}

/// The prior of a batch of pose pairs: [`input_warps`], [`level_flows`], [`stack`].
pub fn puppet_prior(
    source: &[Pose],
    target: &[Pose],
    cfg: &GflaConfig,
    dev: &Device,
) -> Result<Vec<Tensor>> {
    if source.len() != target.len() {
        candle_core::bail!(
            "{} source poses for {} target poses",
            source.len(),
            target.len()
        );
    }
    let levels: Vec<_> = input_warps(source, target, cfg)
        .iter()
        .map(|warp| level_flows(warp, cfg))
        .collect();
    stack(&levels, cfg, dev)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A cell half on the figure takes the figure's flow; a cell off it the plain mean.
    #[test]
    fn level_flow_weighs_by_the_figure() {
        let (h, w) = (4, 4);
        let mut flow = FlowField::zeros(h, w);
        let mut person = vec![0f32; h * w];
        for y in 0..h {
            for x in 0..w {
                if x < 1 {
                    flow.set(x, y, 8.0, -4.0);
                    person[y * w + x] = 1.0;
                } else {
                    flow.set(x, y, 2.0, 2.0);
                }
            }
        }
        let warp = PuppetWarp {
            flow,
            mask: vec![1.0; h * w],
            core: person.clone(),
            person,
            turned: false,
        };
        let l = level_flow(&warp, 2);
        assert_eq!(l.get(0, 0), (4.0, -2.0)); // the figure's (8, −4), halved
        assert_eq!(l.get(1, 1), (1.0, 1.0)); // off the figure: the mean (2, 2), halved
    }
}

#[cfg(test)]
mod model_tests {
    use super::*;
    use crate::model::gfla::{weights, Gfla};
    use crate::pose::Joint;
    use candle_nn::VarBuilder;

    fn pose(dx: f32) -> Pose {
        let mut p = Pose::missing();
        // A stick figure: neck, shoulders, elbows, wrists, hips, knees, ankles.
        let pts = [
            (1, 16.0, 8.0),
            (2, 11.0, 9.0),
            (3, 9.0, 14.0),
            (4, 8.0 + dx, 19.0),
            (5, 21.0, 9.0),
            (6, 23.0, 14.0),
            (7, 24.0, 19.0),
            (8, 13.0, 18.0),
            (9, 13.0, 24.0),
            (10, 13.0, 30.0),
            (11, 19.0, 18.0),
            (12, 19.0, 24.0),
            (13, 19.0, 30.0),
        ];
        for (j, x, y) in pts {
            p.set(j, Some(Joint::new(x, y, 1.0)));
        }
        p
    }

    /// With its flow heads at zero a puppet-prior model's flows are the prior; a model needs a
    /// prior exactly when its config says so.
    #[test]
    fn zero_heads_give_the_prior_and_the_prior_is_checked() -> Result<()> {
        let dev = Device::Cpu;
        let mut cfg = GflaConfig::tiny();
        cfg.puppet_prior = true;
        let mut state = weights::random_state_dict(&cfg, 3).map_err(candle_core::Error::wrap)?;
        for (k, v) in state.iter_mut() {
            if k.starts_with("flow_net.output") {
                *v = v.zeros_like()?;
            }
        }
        let vb =
            VarBuilder::from_tensors(state.into_iter().collect(), candle_core::DType::F32, &dev);
        let model = Gfla::new(vb, &cfg)?;
        let (s, t) = (pose(0.0), pose(6.0));
        let (h, w) = cfg.input_hw;
        let image = Tensor::zeros((1, 3, h, w), candle_core::DType::F32, &dev)?;
        let hm =
            |p: &Pose| crate::pose::heatmap_tensor(std::slice::from_ref(p), (h, w), (h, w), &dev);
        let (bs, bt) = (hm(&s)?, hm(&t)?);
        let prior = puppet_prior(&[s], &[t], &cfg, &dev)?;
        let out = model.forward_with_prior(&image, &bs, &bt, Some(&prior))?;
        for (f, p) in out.flows.iter().zip(&prior) {
            let d = (f - p)?.abs()?.max_all()?.to_scalar::<f32>()?;
            assert!(d < 1e-6, "flow departs from the prior by {d}");
        }
        // The moved wrist shows in the prior: some cell moves.
        assert_eq!(prior.len(), out.flows.len() + 1);
        assert_eq!(prior[prior.len() - 1].dims(), [1, 2, h, w]);
        let most = prior[prior.len() - 2]
            .abs()?
            .max_all()?
            .to_scalar::<f32>()?;
        assert!(most > 0.1, "the prior does not move: {most}");
        assert!(model.forward(&image, &bs, &bt).is_err());
        cfg.puppet_prior = false;
        let plain = model.clone().with_config(cfg);
        assert!(plain
            .forward_with_prior(&image, &bs, &bt, Some(&prior))
            .is_err());
        Ok(())
    }
}
