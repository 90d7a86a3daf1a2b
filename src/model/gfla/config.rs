//! GFLA hyper-parameters: presets for the official checkpoints and inference from weight shapes.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Everything that shapes a GFLA pose generator (spec §1). Widths of the flow net and of the
/// attention hidden layer are hard-coded in the reference (32/256, 128); here they are config
/// values so that small test models and other checkpoints load too.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GflaConfig {
    /// Image channels (3).
    pub image_nc: usize,
    /// Pose heat-map channels (18).
    pub structure_nc: usize,
    /// Output channels (3).
    pub output_nc: usize,
    /// Base width of the source and target nets.
    pub ngf: usize,
    /// Width cap of the source and target nets.
    pub img_f: usize,
    /// Down-samplings of the source and target nets.
    pub layers: usize,
    /// Blocks per target decoder step: `num_blocks − 1` ResBlocks, then a ResBlockDecoder.
    pub num_blocks: usize,
    /// Attention levels ℓ (features at H/2^ℓ), in the order given by the checkpoint's options.
    pub attn_layer: Vec<usize>,
    /// Local attention kernel size per level.
    pub kernel_size: BTreeMap<usize, usize>,
    /// Flow net base width (32 in the release).
    pub flow_ngf: usize,
    /// Flow net width cap (256 in the release).
    pub flow_img_f: usize,
    /// Flow net encoder blocks (5 in the release).
    pub flow_layers: usize,
    /// Hidden width of the attention kernel predictor (128 in the release).
    pub attn_hidden: usize,
    /// Model input size (H, W); must be divisible by 2^flow_layers.
    pub input_hw: (usize, usize),
    /// Frame of the dataset's keypoint annotations (H, W): 256×176 for DeepFashion (spec §8.2).
    pub annotation_hw: (usize, usize),
    /// Give the output the source image's per-channel mean and spread (not in the paper; off
    /// for the official checkpoints). GFLA's first layer instance-normalises the source image,
    /// which discards exactly those six numbers: a DeepFashion model guesses them from its
    /// white backgrounds, but with arbitrary backgrounds and clothes nothing can. The network
    /// then predicts a standardised image and this step restores the colours it cannot know.
    #[serde(default)]
    pub reanchor_colors: bool,
    /// Each level's flow is the analytic puppet's plus the flow head's correction (not in the
    /// paper; off for the official checkpoints): see [`super::prior`]. The forward pass then
    /// needs the puppet prior of its poses.
    #[serde(default)]
    pub puppet_prior: bool,
}

/// A config that cannot describe a working network.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid GFLA config: {0}")]
    Invalid(String),
    #[error("cannot infer the GFLA config from the weights: {0}")]
    Infer(String),
}

impl GflaConfig {
    /// The DeepFashion release: 256×256, attention at levels 2 and 3 with kernels 5 and 3.
    pub fn fashion() -> Self {
        Self {
            image_nc: 3,
            structure_nc: 18,
            output_nc: 3,
            ngf: 64,
            img_f: 512,
            layers: 3,
            num_blocks: 2,
            attn_layer: vec![2, 3],
            kernel_size: [(2, 5), (3, 3)].into_iter().collect(),
            flow_ngf: 32,
            flow_img_f: 256,
            flow_layers: 5,
            attn_hidden: 128,
            input_hw: (256, 256),
            annotation_hw: (256, 176),
            reanchor_colors: false,
            puppet_prior: false,
        }
    }

    /// The Market-1501 release: 128×64, attention at level 2 with kernel 3.
    pub fn market() -> Self {
        Self {
            attn_layer: vec![2],
            kernel_size: [(2, 3)].into_iter().collect(),
            input_hw: (128, 64),
            annotation_hw: (128, 64),
            ..Self::fashion()
        }
    }

    /// marionette's own default model, trained on synthetic people (`marionette train`): the
    /// release architecture at half the widths and a 128×96 input, so that it trains on a
    /// CPU and renders interactively. Attention at levels 2 and 3 (32×24 and 16×12).
    pub fn synth() -> Self {
        Self {
            ngf: 32,
            img_f: 128,
            flow_ngf: 16,
            flow_img_f: 128,
            attn_hidden: 64,
            input_hw: (128, 96),
            annotation_hw: (128, 96),
            reanchor_colors: true,
            ..Self::fashion()
        }
    }

    /// The `synth` preset at test size (32×32 input, narrow nets): a model that builds and runs
    /// in milliseconds, for tests and [`crate::train::TrainConfig::tiny`].
    pub fn tiny() -> Self {
        let mut model = Self::synth();
        model.ngf = 8;
        model.img_f = 16;
        model.layers = 2;
        model.attn_layer = vec![2];
        model.kernel_size = [(2, 3)].into_iter().collect();
        model.flow_ngf = 8;
        model.flow_img_f = 16;
        model.flow_layers = 3;
        model.attn_hidden = 8;
        model.input_hw = (32, 32);
        model.annotation_hw = (32, 32);
        model
    }

    /// A preset by name (`fashion`, `market` or `synth`).
    pub fn preset(name: &str) -> Option<Self> {
        match name {
            "fashion" => Some(Self::fashion()),
            "market" => Some(Self::market()),
            "synth" => Some(Self::synth()),
            _ => None,
        }
    }

    /// Source/target width multiplier `min(2^j, img_f / ngf)`.
    pub fn mult(&self, j: usize) -> usize {
        (1usize << j.min(30)).min(self.img_f / self.ngf)
    }

    /// Flow net width at encoder depth j: `flow_ngf · min(2^j, flow_img_f / flow_ngf)`.
    pub fn flow_width(&self, j: usize) -> usize {
        self.flow_ngf * (1usize << j.min(30)).min(self.flow_img_f / self.flow_ngf)
    }

    /// Attention levels, deepest first — the order of the flow, mask and attention lists.
    pub fn levels_deepest_first(&self) -> Vec<usize> {
        let mut levels = self.attn_layer.clone();
        levels.sort_unstable_by(|a, b| b.cmp(a));
        levels.dedup();
        levels
    }

    /// Kernel size of level ℓ (validated to exist).
    pub fn kernel(&self, level: usize) -> usize {
        self.kernel_size.get(&level).copied().unwrap_or(0)
    }

    /// Input sizes must be divisible by this (the flow net halves the size `flow_layers` times).
    pub fn size_multiple(&self) -> usize {
        1 << self.flow_layers.max(self.layers)
    }

    /// The same architecture with the width caps reduced to the widths actually reached
    /// (`img_f` beyond `ngf·2^(layers−1)` changes nothing), so equal configs mean equal networks.
    pub fn canonical(&self) -> Self {
        let mut c = self.clone();
        c.img_f = self.ngf * self.mult(self.layers.saturating_sub(1));
        c.flow_img_f = self.flow_width(self.flow_layers.saturating_sub(1));
        c
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |m: String| Err(ConfigError::Invalid(m));
        if self.ngf == 0 || self.flow_ngf == 0 || self.attn_hidden == 0 {
            return bad("widths must be positive".into());
        }
        if self.img_f < self.ngf || self.flow_img_f < self.flow_ngf {
            return bad(format!(
                "width caps below base widths (ngf {} img_f {}, flow {} / {})",
                self.ngf, self.img_f, self.flow_ngf, self.flow_img_f
            ));
        }
        if self.layers < 1 || self.flow_layers < 2 || self.num_blocks < 1 {
            return bad(format!(
                "need layers ≥ 1, flow_layers ≥ 2, num_blocks ≥ 1 (got {}, {}, {})",
                self.layers, self.flow_layers, self.num_blocks
            ));
        }
        if self.attn_layer.is_empty() {
            return bad("at least one attention layer is needed".into());
        }
        for &l in &self.attn_layer {
            if l < 1 || l > self.layers || l + 1 > self.flow_layers {
                return bad(format!(
                    "attention level {l} outside 1..={} (and below the flow net's {} levels)",
                    self.layers, self.flow_layers
                ));
            }
            match self.kernel_size.get(&l) {
                Some(&k) if k >= 1 => {}
                _ => return bad(format!("no kernel size for attention level {l}")),
            }
        }
        let (h, w) = self.input_hw;
        let m = self.size_multiple();
        if h == 0 || w == 0 || h % m != 0 || w % m != 0 {
            return bad(format!(
                "input size {h}×{w} must be a positive multiple of {m}"
            ));
        }
        Ok(())
    }

    /// Reads the architecture from the weight shapes of a GFLA state dict (key → shape).
    /// `input_hw` and `annotation_hw` are not in the weights: they are taken from `sizes`.
    pub fn infer(
        shapes: &BTreeMap<String, Vec<usize>>,
        sizes: &GflaConfig,
    ) -> Result<Self, ConfigError> {
        let dim = |key: &str, i: usize| -> Result<usize, ConfigError> {
            shapes
                .get(key)
                .and_then(|s| s.get(i).copied())
                .ok_or_else(|| {
                    ConfigError::Infer(format!("key `{key}` is missing or has no dim {i}"))
                })
        };
        let count = |prefix: &str| {
            (0..)
                .take_while(|i| shapes.contains_key(&format!("{prefix}{i}.model.2.weight")))
                .count()
        };

        let ngf = dim("source.block0.model.2.weight", 0)?;
        let image_nc = dim("source.block0.model.2.weight", 1)?;
        let structure_nc = dim("target.block0.model.2.weight", 1)?;
        let layers = count("source.encoder") + 1;
        // Only min(2^j, img_f/ngf) for j < layers matters, so the deepest width pins img_f.
        let deepest = if layers >= 2 {
            dim(&format!("source.encoder{}.model.2.weight", layers - 2), 0)?
        } else {
            ngf
        };
        let output_nc = dim("target.outconv.model.2.weight", 0)
            .or_else(|_| dim("target.outconv.conv1.weight", 0))?;
        let num_blocks = (0..)
            .take_while(|j| {
                shapes.contains_key(&format!("target.decoder0.0.model.{j}.model.2.weight"))
            })
            .count()
            + 1;

        let flow_ngf = dim("flow_net.block0.model.2.weight", 0)?;
        let flow_layers = count("flow_net.encoder") + 1;
        if flow_layers < 2 {
            return Err(ConfigError::Infer(
                "the flow net needs at least one `flow_net.encoder*`".into(),
            ));
        }
        let flow_deepest = dim(
            &format!("flow_net.encoder{}.model.2.weight", flow_layers - 2),
            0,
        )?;

        let mut attn_layer = Vec::new();
        let mut kernel_size = BTreeMap::new();
        let mut attn_hidden = None;
        for i in 0..layers {
            let key = format!("target.attn{i}.fully_connect_layer.0.weight");
            if shapes.contains_key(&key) {
                let level = layers - i;
                attn_layer.push(level);
                kernel_size.insert(level, dim(&key, 2)?);
                attn_hidden.get_or_insert(dim(&key, 0)?);
            }
        }
        attn_layer.sort_unstable();
        let cfg = Self {
            image_nc,
            structure_nc,
            output_nc,
            ngf,
            img_f: deepest,
            layers,
            num_blocks,
            attn_layer,
            kernel_size,
            flow_ngf,
            flow_img_f: flow_deepest,
            flow_layers,
            attn_hidden: attn_hidden
                .ok_or_else(|| ConfigError::Infer("no `target.attn*` keys".into()))?,
            input_hw: sizes.input_hw,
            annotation_hw: sizes.annotation_hw,
            reanchor_colors: sizes.reanchor_colors,
            puppet_prior: sizes.puppet_prior,
        };
        cfg.validate()
            .map_err(|e| ConfigError::Infer(e.to_string()))?;
        Ok(cfg)
    }
}
