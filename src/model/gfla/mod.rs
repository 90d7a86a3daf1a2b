//! GFLA — "Deep Image Spatial Transformation for Person Image Generation" (Ren et al., CVPR 2020).
//!
//! [`Gfla`] = source encoder + global flow field estimator + local neural texture renderer, with
//! parameter names equal to the authors' `PoseGenerator` state dict (spec: `../shared/spec/gfla.md`).

mod blocks;
mod config;
pub mod flops;
mod nets;
pub mod prior;
pub mod weights;

pub use blocks::{AttnOutput, ExtractorAttn};
pub use config::{ConfigError, GflaConfig};
pub use nets::{AttentionTap, FlowNet, SourceFeatures, SourceNet, TargetNet};

use crate::model::Tracer;
use candle_core::{Result, Tensor};
use candle_nn::VarBuilder;

/// The GFLA pose generator.
#[derive(Clone, Debug)]
pub struct Gfla {
    cfg: GflaConfig,
    source: SourceNet,
    flow_net: FlowNet,
    target: TargetNet,
}

/// Everything one forward pass produces. All lists are ordered deepest attention level first.
#[derive(Clone, Debug)]
pub struct GflaOutput {
    /// (B, 3, H, W) in (−1, 1).
    pub image: Tensor,
    /// Per level (B, 2, h, w): Δx, Δy in pixels of that level's feature map, target → source.
    pub flows: Vec<Tensor>,
    /// Per level (B, 1, h, w): 1 = take attended source features, 0 = keep target features.
    pub masks: Vec<Tensor>,
    /// Per level: the local attention coefficients.
    pub attention: Vec<AttentionTap>,
}

impl Gfla {
    pub fn new(vb: VarBuilder, cfg: &GflaConfig) -> Result<Self> {
        cfg.validate().map_err(candle_core::Error::wrap)?;
        Ok(Self {
            cfg: cfg.clone(),
            source: SourceNet::new(vb.pp("source"), cfg)?,
            flow_net: FlowNet::new(vb.pp("flow_net"), cfg)?,
            target: TargetNet::new(vb.pp("target"), cfg)?,
        })
    }

    pub fn config(&self) -> &GflaConfig {
        &self.cfg
    }

    /// The same weights under another config of the same architecture (e.g. another input
    /// size); the caller has validated it.
    pub fn with_config(mut self, cfg: GflaConfig) -> Self {
        self.cfg = cfg;
        self
    }

    pub fn source_net(&self) -> &SourceNet {
        &self.source
    }

    pub fn flow_net(&self) -> &FlowNet {
        &self.flow_net
    }

    pub fn target_net(&self) -> &TargetNet {
        &self.target
    }

    /// Encodes the source image (B, 3, H, W) in [−1, 1]; reusable across target poses.
    pub fn encode_source(&self, image: &Tensor) -> Result<SourceFeatures> {
        self.source.forward(image, &mut Tracer::off())
    }

    /// Full forward pass: source image, source and target pose heat-maps (B, 18, H, W).
    pub fn forward(
        &self,
        image: &Tensor,
        source_pose: &Tensor,
        target_pose: &Tensor,
    ) -> Result<GflaOutput> {
        self.forward_traced(image, source_pose, target_pose, &mut Tracer::off())
    }

    /// [`Self::forward`] with the puppet prior of the poses ([`prior::puppet_prior`]), which a
    /// model with [`GflaConfig::puppet_prior`] needs and any other refuses.
    pub fn forward_with_prior(
        &self,
        image: &Tensor,
        source_pose: &Tensor,
        target_pose: &Tensor,
        prior: Option<&[Tensor]>,
    ) -> Result<GflaOutput> {
        let source = self.source.forward(image, &mut Tracer::off())?;
        self.forward_with_source(
            &source,
            image,
            source_pose,
            target_pose,
            prior,
            &mut Tracer::off(),
        )
    }

    /// Forward pass that records intermediates into `tracer` (names as in the fixtures).
    pub fn forward_traced(
        &self,
        image: &Tensor,
        source_pose: &Tensor,
        target_pose: &Tensor,
        tracer: &mut Tracer,
    ) -> Result<GflaOutput> {
        let source = self.source.forward(image, tracer)?;
        self.forward_with_source(&source, image, source_pose, target_pose, None, tracer)
    }

    /// Forward pass with cached source features (only the flow and target nets run).
    pub fn forward_with_source(
        &self,
        source: &SourceFeatures,
        source_image: &Tensor,
        source_pose: &Tensor,
        target_pose: &Tensor,
        prior: Option<&[Tensor]>,
        tracer: &mut Tracer,
    ) -> Result<GflaOutput> {
        self.check_inputs(source_image, source_pose, target_pose)?;
        self.check_prior(prior)?;
        let (flows, masks) =
            self.flow_net
                .forward(source_image, source_pose, target_pose, prior, tracer)?;
        let (mut image, attention) =
            self.target
                .forward(target_pose, source, &flows, &masks, tracer)?;
        if self.cfg.reanchor_colors {
            image = reanchor_colors(&image, source_image)?;
        }
        Ok(GflaOutput {
            image,
            flows,
            masks,
            attention,
        })
    }

    /// A prior where the config has one, none where it has not.
    pub fn check_prior(&self, prior: Option<&[Tensor]>) -> Result<()> {
        match (self.cfg.puppet_prior, prior) {
            (true, None) => candle_core::bail!(
                "this GFLA adds its flow to the puppet's (puppet_prior): pass the puppet prior"
            ),
            (false, Some(_)) => {
                candle_core::bail!("this GFLA has no puppet prior (puppet_prior is off)")
            }
            _ => Ok(()),
        }
    }

    fn check_inputs(&self, image: &Tensor, sp: &Tensor, tp: &Tensor) -> Result<()> {
        let (b, c, h, w) = image.dims4()?;
        let m = self.cfg.size_multiple();
        if c != self.cfg.image_nc || h % m != 0 || w % m != 0 || h == 0 || w == 0 {
            candle_core::bail!(
                "GFLA input must be (B, {}, H, W) with H, W multiples of {m}; got {:?}",
                self.cfg.image_nc,
                image.shape()
            );
        }
        for (name, p) in [("source", sp), ("target", tp)] {
            if p.dims() != [b, self.cfg.structure_nc, h, w] {
                candle_core::bail!(
                    "{name} pose must be ({b}, {}, {h}, {w}); got {:?}",
                    self.cfg.structure_nc,
                    p.shape()
                );
            }
        }
        Ok(())
    }
}

/// Per sample and channel, maps `image` (B, C, H, W) to the mean and standard deviation of
/// `source` (see [`GflaConfig::reanchor_colors`]). Differentiable; the output's own spread is
/// floored so a flat output is not blown up.
pub fn reanchor_colors(image: &Tensor, source: &Tensor) -> Result<Tensor> {
    let stats = |t: &Tensor| -> Result<(Tensor, Tensor)> {
        let (b, c, h, w) = t.dims4()?;
        let flat = t.reshape((b, c, h * w))?;
        let mean = flat.mean_keepdim(2)?;
        let std = flat.broadcast_sub(&mean)?.sqr()?.mean_keepdim(2)?.sqrt()?;
        Ok((mean, std))
    };
    let (b, c, h, w) = image.dims4()?;
    let (mo, so) = stats(image)?;
    let (ms, ss) = stats(source)?;
    let scale = ss.broadcast_div(&(so + 1e-2)?)?;
    image
        .reshape((b, c, h * w))?
        .broadcast_sub(&mo)?
        .broadcast_mul(&scale)?
        .broadcast_add(&ms)?
        .reshape((b, c, h, w))
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, D};

    #[test]
    fn reanchored_output_has_the_source_channel_statistics() -> Result<()> {
        let dev = Device::Cpu;
        let image = Tensor::randn(0f32, 0.3, (2, 3, 8, 6), &dev)?;
        let source = (Tensor::randn(0f32, 1.0, (2, 3, 8, 6), &dev)? * 0.5)?
            .broadcast_add(&Tensor::new(&[0.5f32, -0.2, 0.1], &dev)?.reshape((1, 3, 1, 1))?)?;
        let out = reanchor_colors(&image, &source)?;
        type Rows = Vec<Vec<f32>>;
        let stats = |t: &Tensor| -> Result<(Rows, Rows)> {
            let f = t.flatten_from(2)?;
            let m = f.mean_keepdim(D::Minus1)?;
            let s = f.broadcast_sub(&m)?.sqr()?.mean(D::Minus1)?.sqrt()?;
            Ok((m.squeeze(2)?.to_vec2()?, s.to_vec2()?))
        };
        let ((mo, so), (ms, ss)) = (stats(&out)?, stats(&source)?);
        for b in 0..2 {
            for c in 0..3 {
                assert!((mo[b][c] - ms[b][c]).abs() < 1e-5);
                // The spread matches up to the floor added to the output's own spread.
                assert!(
                    (so[b][c] / ss[b][c] - 1.0).abs() < 0.05,
                    "{} vs {}",
                    so[b][c],
                    ss[b][c]
                );
            }
        }
        Ok(())
    }
}
