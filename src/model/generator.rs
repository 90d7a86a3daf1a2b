//! One interface over the pose generators: photo + source and target skeletons in, image plus
//! whatever explanatory maps the model has out. `render`, `bench` (and the editor) use this and
//! never special-case a model.

use crate::model::gfla::{self, flops::forward_flops, AttentionTap, Gfla, GflaConfig};
use crate::model::pona::{self, Pona, PonaConfig};
use crate::pose::{self, Pose};
use anyhow::{Context, Result};
use candle_core::{Device, Tensor};
use std::path::Path;

/// The networks marionette runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModelKind {
    Gfla,
    Pona,
}

impl ModelKind {
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "gfla" => Ok(Self::Gfla),
            "pona" => Ok(Self::Pona),
            other => anyhow::bail!("unknown model `{other}` (use gfla or pona)"),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Gfla => "gfla",
            Self::Pona => "pona",
        }
    }
}

/// A loaded generator with its configuration.
#[derive(Clone, Debug)]
pub enum Generator {
    // Boxed: the models are large structs of layer handles; the enum stays a pointer.
    Gfla(Box<Gfla>),
    Pona(Box<Pona>),
}

/// The generated image and the model's explanation of it. Lists a model does not produce are
/// empty.
#[derive(Clone, Debug)]
pub struct Generated {
    /// (B, 3, H, W) in (−1, 1).
    pub image: Tensor,
    /// GFLA: per attention level (deepest first), the level ℓ (maps at 1/2^ℓ of the input).
    pub levels: Vec<usize>,
    /// GFLA: flow fields (B, 2, h, w), Δx and Δy in pixels of that level, target → source.
    pub flows: Vec<Tensor>,
    /// GFLA: occlusion masks (B, 1, h, w), 1 = taken from the source.
    pub masks: Vec<Tensor>,
    /// GFLA with a puppet prior: the prior the flows were added to, per level.
    pub prior: Option<Vec<Tensor>>,
    /// GFLA: local attention coefficients per level.
    pub local_attention: Vec<AttentionTap>,
    /// PoNA: per block, pose-guided attention (B, N, N) over the code grid.
    pub nonlocal_attention: Vec<Tensor>,
    /// PoNA: the code grid (h, w) the attention rows and columns index.
    pub grid_hw: Option<(usize, usize)>,
}

/// Source-only work cached across target poses (see [`Generator::encode_source`]).
#[derive(Clone, Debug)]
pub struct PreparedSource(Option<gfla::SourceFeatures>);

impl Generator {
    /// A model from a checkpoint (architecture from `preset` when given, else inferred from the
    /// weight shapes) or, with no checkpoint, random weights of the preset (default `fashion`).
    pub fn load(
        kind: ModelKind,
        weights: Option<&Path>,
        preset: Option<&str>,
        device: &Device,
    ) -> Result<Self> {
        let unknown = |p: &str| format!("unknown preset `{p}` (use fashion, market or synth)");
        let random = Path::new("<random weights>");
        match kind {
            ModelKind::Gfla => {
                let preset = preset
                    .map(|p| GflaConfig::preset(p).with_context(|| unknown(p)))
                    .transpose()?;
                let (state, origin) = match weights {
                    Some(path) => (crate::weights::load_state_dict(path)?.0, path),
                    None => {
                        let cfg = preset.clone().unwrap_or_else(GflaConfig::fashion);
                        (gfla::weights::random_state_dict(&cfg, 0)?, random)
                    }
                };
                let stored = match (&preset, weights) {
                    (None, Some(path)) => gfla::weights::stored_config(path)?,
                    _ => None,
                };
                let cfg = preset.or(stored).unwrap_or_else(|| infer_gfla(&state));
                Ok(Self::Gfla(Box::new(
                    gfla::weights::from_state_dict(state, Some(&cfg), &cfg, device, origin)?.0,
                )))
            }
            ModelKind::Pona => {
                let preset = preset
                    .map(|p| PonaConfig::preset(p).with_context(|| unknown(p)))
                    .transpose()?;
                let (state, origin) = match weights {
                    Some(path) => (crate::weights::load_state_dict(path)?.0, path),
                    None => {
                        let cfg = preset.clone().unwrap_or_else(PonaConfig::fashion);
                        (pona::weights::random_state_dict(&cfg, 0)?, random)
                    }
                };
                let cfg = preset.unwrap_or_else(|| infer_pona(&state));
                Ok(Self::Pona(Box::new(
                    pona::weights::from_state_dict(state, Some(&cfg), &cfg, device, origin)?.0,
                )))
            }
        }
    }

    pub fn kind(&self) -> ModelKind {
        match self {
            Self::Gfla(_) => ModelKind::Gfla,
            Self::Pona(_) => ModelKind::Pona,
        }
    }

    /// The model's input size (H, W).
    pub fn input_hw(&self) -> (usize, usize) {
        match self {
            Self::Gfla(m) => m.config().input_hw,
            Self::Pona(m) => m.config().input_hw,
        }
    }

    /// The frame (H, W) keypoints are given in, whose aspect the photo crop takes: GFLA's
    /// annotation frame (DeepFashion 256×176, stretched to the 256×256 input), PoNA's input.
    pub fn keypoint_frame_hw(&self) -> (usize, usize) {
        match self {
            Self::Gfla(m) => m.config().annotation_hw,
            Self::Pona(m) => m.config().input_hw,
        }
    }

    /// Resizes the model to another input size (both models are fully convolutional; GFLA needs
    /// multiples of 32). The keypoint frame becomes the input size.
    pub fn with_input_hw(self, hw: (usize, usize)) -> Result<Self> {
        Ok(match self {
            Self::Gfla(m) => {
                let mut cfg = m.config().clone();
                (cfg.input_hw, cfg.annotation_hw) = (hw, hw);
                cfg.validate()?;
                Self::Gfla(Box::new(m.with_config(cfg)))
            }
            Self::Pona(m) => {
                let mut cfg = m.config().clone();
                cfg.input_hw = hw;
                cfg.validate().map_err(anyhow::Error::msg)?;
                Self::Pona(Box::new(m.with_config(cfg)))
            }
        })
    }

    /// Pose heat-maps (B, 18, H, W) the way this model was trained, from poses in
    /// [`Self::keypoint_frame_hw`] pixels.
    pub fn encode_poses(&self, poses: &[Pose], device: &Device) -> Result<Tensor> {
        Ok(match self {
            Self::Gfla(m) => {
                pose::heatmap_tensor(poses, m.config().annotation_hw, m.config().input_hw, device)?
            }
            Self::Pona(m) => pona::encode_poses(poses, m.config(), device)?,
        })
    }

    /// The puppet prior of pose pairs (in [`Self::keypoint_frame_hw`] pixels) for a GFLA with
    /// [`gfla::GflaConfig::puppet_prior`]; `None` for every other model.
    pub fn encode_prior(
        &self,
        source: &[Pose],
        target: &[Pose],
        device: &Device,
    ) -> Result<Option<Vec<Tensor>>> {
        Ok(match self {
            Self::Gfla(m) if m.config().puppet_prior => Some(gfla::prior::puppet_prior(
                source,
                target,
                m.config(),
                device,
            )?),
            _ => None,
        })
    }

    /// Runs the model on an image (B, 3, H, W) in [−1, 1], heat-maps from
    /// [`Self::encode_poses`] and the prior from [`Self::encode_prior`].
    pub fn generate(
        &self,
        image: &Tensor,
        source_pose: &Tensor,
        target_pose: &Tensor,
        prior: Option<&[Tensor]>,
    ) -> Result<Generated> {
        let prepared = self.encode_source(image)?;
        self.forward_with_source(&prepared, image, source_pose, target_pose, prior)
    }

    /// What can be computed from the source image alone, once per photo: GFLA's source feature
    /// pyramid (about a third of a forward pass). PoNA mixes the poses in from its first layer,
    /// so it has nothing to cache.
    pub fn encode_source(&self, image: &Tensor) -> Result<PreparedSource> {
        crate::ops::cpu_mode::flush_denormals();
        Ok(match self {
            Self::Gfla(m) => PreparedSource(Some(m.encode_source(image)?)),
            Self::Pona(_) => PreparedSource(None),
        })
    }

    /// [`Self::generate`] with the source work of [`Self::encode_source`] done already (for
    /// the same `image`).
    pub fn forward_with_source(
        &self,
        prepared: &PreparedSource,
        image: &Tensor,
        source_pose: &Tensor,
        target_pose: &Tensor,
        prior: Option<&[Tensor]>,
    ) -> Result<Generated> {
        crate::ops::cpu_mode::flush_denormals();
        let mut out = Generated {
            image: image.clone(),
            levels: vec![],
            flows: vec![],
            masks: vec![],
            prior: prior.map(<[Tensor]>::to_vec),
            local_attention: vec![],
            nonlocal_attention: vec![],
            grid_hw: None,
        };
        match self {
            Self::Gfla(m) => {
                let o = match &prepared.0 {
                    Some(features) => m.forward_with_source(
                        features,
                        image,
                        source_pose,
                        target_pose,
                        prior,
                        &mut crate::model::trace::Tracer::off(),
                    )?,
                    None => m.forward_with_prior(image, source_pose, target_pose, prior)?,
                };
                out.image = o.image;
                out.levels = m.config().levels_deepest_first();
                (out.flows, out.masks, out.local_attention) = (o.flows, o.masks, o.attention);
            }
            Self::Pona(m) => {
                let o = m.forward(image, source_pose, target_pose)?;
                out.image = o.image;
                out.nonlocal_attention = o.attention;
                out.grid_hw = Some(o.grid_hw);
            }
        }
        Ok(out)
    }

    /// FLOPs of one batch-1 forward pass at the current input size.
    pub fn flops(&self) -> f64 {
        match self {
            Self::Gfla(m) => forward_flops(m.config(), m.config().input_hw).total(),
            Self::Pona(m) => pona::flops::forward_flops(m.config(), m.config().input_hw),
        }
    }

    /// A one-line description for logs and benchmarks.
    pub fn describe(&self) -> String {
        match self {
            Self::Gfla(m) => {
                let c = m.config();
                format!(
                    "GFLA {}×{}, ngf {} attn {:?} kernels {:?}",
                    c.input_hw.0, c.input_hw.1, c.ngf, c.attn_layer, c.kernel_size
                )
            }
            Self::Pona(m) => {
                let c = m.config();
                format!(
                    "PoNA {}×{}, ngf {} {:?} norm, {} blocks",
                    c.input_hw.0, c.input_hw.1, c.ngf, c.norm, c.n_blocks
                )
            }
        }
    }
}

/// The GFLA architecture from the weight shapes, with the input size of the matching release
/// (one attention level = Market 128×64, otherwise DeepFashion 256×256). When the shapes do not
/// describe GFLA, the fashion preset is returned so validation lists every missing/wrong key.
fn infer_gfla(state: &crate::weights::StateDict) -> GflaConfig {
    match GflaConfig::infer(&crate::weights::shapes(state), &GflaConfig::fashion()) {
        Ok(mut cfg) => {
            if cfg.attn_layer == [2] {
                let market = GflaConfig::market();
                (cfg.input_hw, cfg.annotation_hw) = (market.input_hw, market.annotation_hw);
            }
            cfg
        }
        Err(e) => {
            tracing::warn!("{e}; checking the checkpoint against the fashion preset");
            GflaConfig::fashion()
        }
    }
}

/// The PoNA architecture from the weight shapes (batch norm = the Market configuration,
/// instance norm = DeepFashion's, with that release's input size and heat-maps); the fashion
/// preset when the shapes do not describe PoNA, so validation lists the wrong keys.
fn infer_pona(state: &crate::weights::StateDict) -> PonaConfig {
    let shapes = crate::weights::shapes(state);
    let sizes = if shapes.contains_key("model.stream1_down.2.running_mean") {
        PonaConfig::market()
    } else {
        PonaConfig::fashion()
    };
    PonaConfig::infer(&shapes, &sizes).unwrap_or_else(|e| {
        tracing::warn!("{e}; checking the checkpoint against the fashion preset");
        PonaConfig::fashion()
    })
}
