//! The run configuration, written as `config.json` into every run folder.

use super::adam::AdamParams;
use super::discriminator::DiscConfig;
use crate::model::gfla::GflaConfig;
use serde::{Deserialize, Serialize};

/// Loss weights (λ). GFLA's were ℓ1 5, correctness 5, regularisation 0.0025, perceptual 0.5,
/// style 500, adversarial 2; ours replace correctness by ground-truth EPE and the VGG terms by
/// discriminator feature matching, with a small adversarial weight since PSNR/SSIM are judged.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct LossWeights {
    pub flow_epe: f64,
    pub mask: f64,
    pub affine_reg: f64,
    pub l1: f64,
    /// ℓ1 again over the target person the source does not show (what a network invents;
    /// the compositor takes only those pixels from its image). 0 in the paper's recipe.
    #[serde(default)]
    pub l1_hidden: f64,
    pub feature_match: f64,
    pub adversarial: f64,
}

impl Default for LossWeights {
    fn default() -> Self {
        Self {
            flow_epe: 1.0,
            mask: 1.0,
            affine_reg: 0.0025,
            l1: 5.0,
            l1_hidden: 0.0,
            feature_match: 1.0,
            adversarial: 0.1,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// The generator being trained (its `input_hw` is also the synthetic image size).
    pub model: GflaConfig,
    pub disc: DiscConfig,
    /// Seeds the initial weights and the training pair sequence.
    pub seed: u64,
    pub batch_size: usize,
    /// Stage 1: the flow estimator alone, supervised by ground-truth flow and visibility.
    pub flow_steps: usize,
    /// Stage 2: end to end.
    pub steps: usize,
    /// Stage-2 steps trained on ℓ1 and the flow losses alone before the discriminator, feature
    /// matching and adversarial terms join (reconstruction first: it converges much faster, and
    /// each step is ~40 % cheaper without the discriminator's three passes).
    #[serde(default)]
    pub gan_warmup: usize,
    pub adam: AdamParams,
    pub adam_disc: AdamParams,
    pub loss: LossWeights,
    /// Window of the affine regularisation.
    pub affine_window: usize,
    pub checkpoint_every: usize,
    pub sample_every: usize,
    /// Pairs in each sample sheet.
    pub sample_pairs: usize,
    /// Generator weights to start from instead of random ones (same architecture, any input
    /// size). For a [`crate::model::gfla::GflaConfig::puppet_prior`] model the flow heads
    /// then start at zero, so the first step's flow is the puppet's.
    #[serde(default)]
    pub init: Option<std::path::PathBuf>,
}

impl TrainConfig {
    /// The default model's recipe (see the model card in the README).
    pub fn default_synth() -> Self {
        Self {
            model: GflaConfig::synth(),
            disc: DiscConfig::default(),
            seed: 1,
            batch_size: 8,
            flow_steps: 600,
            steps: 3000,
            gan_warmup: 0,
            adam: AdamParams::default(),
            adam_disc: AdamParams::default(),
            loss: LossWeights::default(),
            affine_window: 3,
            checkpoint_every: 100,
            sample_every: 250,
            sample_pairs: 4,
            init: None,
        }
    }

    /// A few-second configuration for tests: 32×32 images, narrow nets.
    pub fn tiny() -> Self {
        Self {
            model: GflaConfig::tiny(),
            disc: DiscConfig { width: 8, depth: 2 },
            batch_size: 2,
            flow_steps: 4,
            steps: 4,
            gan_warmup: 0,
            checkpoint_every: 4,
            sample_every: 0,
            sample_pairs: 2,
            ..Self::default_synth()
        }
    }

    /// The first step (counting both stages) with adversarial and feature-matching losses.
    pub fn gan_start(&self) -> usize {
        self.flow_steps + self.gan_warmup
    }

    pub fn validate(&self) -> anyhow::Result<()> {
        self.model.validate()?;
        anyhow::ensure!(self.batch_size >= 1, "batch_size must be at least 1");
        anyhow::ensure!(
            self.model.input_hw == self.model.annotation_hw,
            "training draws keypoints in the input frame: input_hw must equal annotation_hw"
        );
        anyhow::ensure!(self.disc.depth >= 1, "the discriminator needs depth ≥ 1");
        anyhow::ensure!(self.affine_window >= 2, "affine_window must be at least 2");
        Ok(())
    }
}
