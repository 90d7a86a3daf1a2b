//! GFLA's building blocks, pre-activation style (norm → act → conv), spec §2.
//! Field names mirror the PyTorch `nn.Sequential` indices they are loaded from.

use crate::model::layers::{leaky_relu, reflection_pad2d, InstanceNorm};
use crate::ops;
use candle_core::{Result, Tensor};
use candle_nn::{
    conv2d, conv_transpose2d, Conv2d, Conv2dConfig, ConvTranspose2d, ConvTranspose2dConfig,
    Module, VarBuilder,
};

/// LeakyReLU slope used everywhere in GFLA.
pub const SLOPE: f64 = 0.1;

fn act(x: &Tensor) -> Result<Tensor> {
    leaky_relu(x, SLOPE)
}

pub(crate) fn conv(cin: usize, cout: usize, k: usize, stride: usize, pad: usize, vb: VarBuilder) -> Result<Conv2d> {
    let cfg = Conv2dConfig { padding: pad, stride, ..Default::default() };
    conv2d(cin, cout, k, cfg, vb)
}

/// ConvTranspose 3/s2/p1/output_padding 1: exactly doubles H and W.
fn conv_t_up(cin: usize, cout: usize, vb: VarBuilder) -> Result<ConvTranspose2d> {
    let cfg = ConvTranspose2dConfig { padding: 1, output_padding: 1, stride: 2, dilation: 1 };
    conv_transpose2d(cin, cout, 3, cfg, vb)
}

/// `IN → act → conv4/s2/p1 → IN → act → conv3/s1/p1`; halves the size.
#[derive(Clone, Debug)]
pub struct EncoderBlock {
    norm0: InstanceNorm,
    conv2: Conv2d,
    norm3: InstanceNorm,
    conv5: Conv2d,
}

impl EncoderBlock {
    pub fn new(cin: usize, cout: usize, vb: VarBuilder) -> Result<Self> {
        let vb = vb.pp("model");
        Ok(Self {
            norm0: InstanceNorm::new(cin, vb.pp("0"))?,
            conv2: conv(cin, cout, 4, 2, 1, vb.pp("2"))?,
            norm3: InstanceNorm::new(cout, vb.pp("3"))?,
            conv5: conv(cout, cout, 3, 1, 1, vb.pp("5"))?,
        })
    }

    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let x = self.conv2.forward(&act(&self.norm0.forward(x)?)?)?;
        self.conv5.forward(&act(&self.norm3.forward(&x)?)?)
    }
}

/// Identity-skip residual block: `x + (IN → act → conv3 → IN → act → conv3)(x)`.
#[derive(Clone, Debug)]
pub struct ResBlock {
    norm0: InstanceNorm,
    conv2: Conv2d,
    norm3: InstanceNorm,
    conv5: Conv2d,
}

impl ResBlock {
    pub fn new(c: usize, vb: VarBuilder) -> Result<Self> {
        let vb = vb.pp("model");
        Ok(Self {
            norm0: InstanceNorm::new(c, vb.pp("0"))?,
            conv2: conv(c, c, 3, 1, 1, vb.pp("2"))?,
            norm3: InstanceNorm::new(c, vb.pp("3"))?,
            conv5: conv(c, c, 3, 1, 1, vb.pp("5"))?,
        })
    }

    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let y = self.conv2.forward(&act(&self.norm0.forward(x)?)?)?;
        let y = self.conv5.forward(&act(&self.norm3.forward(&y)?)?)?;
        y + x
    }
}

/// Up-sampling residual block: `(IN → act → conv3 (cin→h) → IN → act → convT (h→cout))(x)
/// + convT (cin→cout)(x)`; the shortcut sees the raw input. Doubles the size.
#[derive(Clone, Debug)]
pub struct ResBlockDecoder {
    norm0: InstanceNorm,
    conv2: Conv2d,
    norm3: InstanceNorm,
    conv5: ConvTranspose2d,
    shortcut: ConvTranspose2d,
}

impl ResBlockDecoder {
    pub fn new(cin: usize, cout: usize, hidden: usize, vb: VarBuilder) -> Result<Self> {
        let m = vb.pp("model");
        Ok(Self {
            norm0: InstanceNorm::new(cin, m.pp("0"))?,
            conv2: conv(cin, hidden, 3, 1, 1, m.pp("2"))?,
            norm3: InstanceNorm::new(hidden, m.pp("3"))?,
            conv5: conv_t_up(hidden, cout, m.pp("5"))?,
            shortcut: conv_t_up(cin, cout, vb.pp("shortcut").pp("0"))?,
        })
    }

    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let y = self.conv2.forward(&act(&self.norm0.forward(x)?)?)?;
        let y = self.conv5.forward(&act(&self.norm3.forward(&y)?)?)?;
        y + self.shortcut.forward(x)?
    }
}

/// `act → reflection-pad 1 → conv3/p0` with no norm: the flow net's skip connection (`Jump`) and,
/// followed by tanh, the image head (`Output`). The conv is stored twice in checkpoints
/// (`conv1` and `model.2`, same tensor); we load `model.2`.
#[derive(Clone, Debug)]
pub struct PadConv {
    conv: Conv2d,
}

impl PadConv {
    pub fn new(cin: usize, cout: usize, vb: VarBuilder) -> Result<Self> {
        Ok(Self { conv: conv(cin, cout, 3, 1, 0, vb.pp("model").pp("2"))? })
    }

    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.conv.forward(&reflection_pad2d(&act(x)?, 1)?)
    }
}

/// Local attention (`ExtractorAttn`, spec §5.4): for every target position, a softmax kernel
/// over the k×k source patch at the flowed position, predicted from the target and source
/// patches.
#[derive(Clone, Debug)]
pub struct ExtractorAttn {
    fc0: Conv2d,
    fc2: Conv2d,
    k: usize,
}

/// What the attention block computes: the attended source features and the coefficients.
pub struct AttnOutput {
    /// (B, C, h, w): softmax-weighted mean of the source patch, scaled by 1/k² as the
    /// reference's average pool does.
    pub features: Tensor,
    /// (B, k², h, w): softmax coefficients; channel n weights patch offset
    /// (n div k − k div 2, n mod k − k div 2).
    pub attention: Tensor,
}

impl ExtractorAttn {
    pub fn new(channels: usize, k: usize, hidden: usize, vb: VarBuilder) -> Result<Self> {
        let vb = vb.pp("fully_connect_layer");
        Ok(Self {
            fc0: conv(2 * channels, hidden, k, k, 0, vb.pp("0"))?,
            fc2: conv(hidden, k * k, 1, 1, 0, vb.pp("2"))?,
            k,
        })
    }

    pub fn kernel_size(&self) -> usize {
        self.k
    }

    pub fn forward(&self, source: &Tensor, target: &Tensor, flow: &Tensor) -> Result<AttnOutput> {
        let source_patches = ops::block_extractor(source, flow, self.k)?;
        let target_patches = ops::block_extractor(target, &flow.zeros_like()?, self.k)?;
        // Target patches first, then source: the order the kernel predictor was trained with.
        let pair = Tensor::cat(&[&target_patches, &source_patches], 1)?;
        let logits = self.fc2.forward(&act(&self.fc0.forward(&pair)?)?)?;
        let attention = candle_nn::ops::softmax(&logits, 1)?;
        let features = ops::local_attention(&attention, &source_patches, self.k)?;
        Ok(AttnOutput { features, attention })
    }
}
