//! PoNA hyper-parameters: presets of the two released configurations and inference from weight
//! shapes (spec §1, §4, §8).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The `--norm` option: which normalisation the encoders and decoder use (blocks always use
/// parameter-free instance norm).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PonaNorm {
    /// BatchNorm (eval: running statistics); encoder/decoder convs have no bias. Market-1501.
    Batch,
    /// Parameter-free InstanceNorm; encoder/decoder convs have biases. DeepFashion.
    Instance,
}

/// How keypoints become the 18 pose channels the model was trained on (spec §3.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum HeatmapKind {
    /// σ = 6 Gaussians (Market-1501).
    Gaussian,
    /// A single 1.0 at the joint's pixel (DeepFashion's uint8-truncated Gaussians).
    OneHot,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PonaConfig {
    /// Base width F (`ngf`); the code has C = 4F channels.
    pub ngf: usize,
    pub norm: PonaNorm,
    /// PoNA blocks (3 in the release).
    pub n_blocks: usize,
    pub image_nc: usize,
    /// Channels of one pose (18); the pose encoder sees two poses.
    pub pose_nc: usize,
    /// Pose-guided attention query/key width, `floor(C/8)`.
    pub qk_channels: usize,
    /// Fusion self-attention query/key width, `floor(2C/8)`.
    pub fusion_qk_channels: usize,
    /// Input image size (H, W); also the keypoint frame.
    pub input_hw: (usize, usize),
    pub heatmap: HeatmapKind,
}

impl PonaConfig {
    /// The DeepFashion release: 256×176, instance norm, one-hot heat-maps.
    pub fn fashion() -> Self {
        Self::with_width(64, PonaNorm::Instance, (256, 176), HeatmapKind::OneHot)
    }

    /// The Market-1501 configuration of the released code (`--norm batch`), 128×64, Gaussian
    /// heat-maps. No official Market checkpoint exists (spec §0).
    pub fn market() -> Self {
        Self::with_width(64, PonaNorm::Batch, (128, 64), HeatmapKind::Gaussian)
    }

    fn with_width(
        ngf: usize,
        norm: PonaNorm,
        input_hw: (usize, usize),
        heatmap: HeatmapKind,
    ) -> Self {
        let c = 4 * ngf;
        Self {
            ngf,
            norm,
            n_blocks: 3,
            image_nc: 3,
            pose_nc: 18,
            qk_channels: c / 8,
            fusion_qk_channels: 2 * c / 8,
            input_hw,
            heatmap,
        }
    }

    pub fn preset(name: &str) -> Option<Self> {
        match name {
            "fashion" => Some(Self::fashion()),
            "market" => Some(Self::market()),
            _ => None,
        }
    }

    /// Code channels C = 4F.
    pub fn code_channels(&self) -> usize {
        4 * self.ngf
    }

    /// Whether the encoder/decoder convs carry biases (instance norm only).
    pub fn conv_bias(&self) -> bool {
        self.norm == PonaNorm::Instance
    }

    /// Code grid (h, w) for an input (H, W): two stride-2 convs, `ceil(ceil(n/2)/2)`.
    pub fn code_hw(hw: (usize, usize)) -> (usize, usize) {
        let down = |n: usize| n.div_ceil(2).div_ceil(2);
        (down(hw.0), down(hw.1))
    }

    pub fn validate(&self) -> Result<(), String> {
        if self.ngf == 0 || self.qk_channels == 0 || self.fusion_qk_channels == 0 {
            return Err(format!("PoNA widths must be positive: {self:?}"));
        }
        if self.n_blocks == 0 {
            return Err("PoNA needs at least one block".into());
        }
        let (h, w) = self.input_hw;
        // Reflection padding by 3 needs at least 4 pixels; the attention is N² in memory.
        if h < 4 || w < 4 || h > 1024 || w > 1024 {
            return Err(format!("PoNA input size {h}×{w} outside 4..=1024"));
        }
        Ok(())
    }

    /// The architecture from a PoNA state dict's shapes; `sizes` supplies the input size and
    /// heat-map kind (not in the weights).
    pub fn infer(
        shapes: &BTreeMap<String, Vec<usize>>,
        sizes: &PonaConfig,
    ) -> Result<Self, String> {
        let dim = |key: &str, i: usize| -> Result<usize, String> {
            shapes
                .get(key)
                .and_then(|s| s.get(i).copied())
                .ok_or_else(|| format!("cannot infer the PoNA config: key `{key}` is missing"))
        };
        let n_blocks = (0..)
            .take_while(|b| shapes.contains_key(&format!("model.att.{b}.gamma")))
            .count();
        let norm = if shapes.contains_key("model.stream1_down.2.running_mean") {
            PonaNorm::Batch
        } else {
            PonaNorm::Instance
        };
        let cfg = Self {
            ngf: dim("model.stream1_down.1.weight", 0)?,
            norm,
            n_blocks,
            image_nc: dim("model.stream1_down.1.weight", 1)?,
            pose_nc: dim("model.stream2_down.1.weight", 1)? / 2,
            qk_channels: dim("model.att.0.query_conv.weight", 0)?,
            fusion_qk_channels: dim("model.att.0.att2.query_conv.weight", 0)?,
            input_hw: sizes.input_hw,
            heatmap: sizes.heatmap,
        };
        cfg.validate()?;
        Ok(cfg)
    }
}
