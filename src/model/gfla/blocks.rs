//! GFLA's building blocks, pre-activation style (norm → act → conv), spec §2.
//! Field names mirror the PyTorch `nn.Sequential` indices they are loaded from.

use crate::model::layers::direct_ok;
use crate::model::layers::{leaky_relu, Activation, InstanceNorm, ShiftConv, StrideConv, UpConv};
use crate::ops::{self, profile, tap_conv};
use candle_core::{Result, Tensor, D};
use candle_nn::{Module, VarBuilder};

/// LeakyReLU slope used everywhere in GFLA.
pub const SLOPE: f64 = 0.1;

fn act(x: &Tensor) -> Result<Tensor> {
    leaky_relu(x, SLOPE)
}

/// Every norm in GFLA is followed by this activation.
const ACT: Activation = Activation::LeakyRelu(SLOPE);

/// The strided 4×4 down-sampling conv of the encoder blocks.
fn conv_down(vb: VarBuilder, cin: usize, cout: usize) -> Result<StrideConv> {
    StrideConv::new(vb, cin, cout, 4, 1)
}

/// A 3×3, stride 1, padding 1 convolution.
pub(crate) fn conv3(vb: VarBuilder, cin: usize, cout: usize) -> Result<ShiftConv> {
    ShiftConv::new(vb, cin, cout, 3, 1)
}

/// `IN → act → conv4/s2/p1 → IN → act → conv3/s1/p1`; halves the size.
#[derive(Clone, Debug)]
pub struct EncoderBlock {
    norm0: InstanceNorm,
    conv2: StrideConv,
    norm3: InstanceNorm,
    conv5: ShiftConv,
}

impl EncoderBlock {
    pub fn new(vb: VarBuilder, cin: usize, cout: usize) -> Result<Self> {
        let vb = vb.pp("model");
        Ok(Self {
            norm0: InstanceNorm::new(vb.pp("0"), cin)?,
            conv2: conv_down(vb.pp("2"), cin, cout)?,
            norm3: InstanceNorm::new(vb.pp("3"), cout)?,
            conv5: conv3(vb.pp("5"), cout, cout)?,
        })
    }
}

impl Module for EncoderBlock {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let x = self.norm0.forward_act(x, ACT)?;
        let x = self.conv2.forward(&x)?;
        self.conv5.forward(&self.norm3.forward_act(&x, ACT)?)
    }
}

/// Identity-skip residual block: `x + (IN → act → conv3 → IN → act → conv3)(x)`.
#[derive(Clone, Debug)]
pub struct ResBlock {
    norm0: InstanceNorm,
    conv2: ShiftConv,
    norm3: InstanceNorm,
    conv5: ShiftConv,
}

impl ResBlock {
    pub fn new(vb: VarBuilder, c: usize) -> Result<Self> {
        let vb = vb.pp("model");
        Ok(Self {
            norm0: InstanceNorm::new(vb.pp("0"), c)?,
            conv2: conv3(vb.pp("2"), c, c)?,
            norm3: InstanceNorm::new(vb.pp("3"), c)?,
            conv5: conv3(vb.pp("5"), c, c)?,
        })
    }
}

impl Module for ResBlock {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let y = self.conv2.forward(&self.norm0.forward_act(x, ACT)?)?;
        let y = self.conv5.forward(&self.norm3.forward_act(&y, ACT)?)?;
        y + x
    }
}

/// Up-sampling residual block: `(IN → act → conv3 (cin→h) → IN → act → convT (h→cout))(x)
/// + convT (cin→cout)(x)`; the shortcut sees the raw input. Doubles the size.
#[derive(Clone, Debug)]
pub struct ResBlockDecoder {
    norm0: InstanceNorm,
    conv2: ShiftConv,
    norm3: InstanceNorm,
    conv5: UpConv,
    shortcut: UpConv,
}

impl ResBlockDecoder {
    pub fn new(vb: VarBuilder, cin: usize, cout: usize, hidden: usize) -> Result<Self> {
        let m = vb.pp("model");
        Ok(Self {
            norm0: InstanceNorm::new(m.pp("0"), cin)?,
            conv2: conv3(m.pp("2"), cin, hidden)?,
            norm3: InstanceNorm::new(m.pp("3"), hidden)?,
            conv5: UpConv::new(m.pp("5"), hidden, cout)?,
            shortcut: UpConv::new(vb.pp("shortcut").pp("0"), cin, cout)?,
        })
    }
}

impl Module for ResBlockDecoder {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let y = self.conv2.forward(&self.norm0.forward_act(x, ACT)?)?;
        let y = self.conv5.forward(&self.norm3.forward_act(&y, ACT)?)?;
        y + self.shortcut.forward(x)?
    }
}

/// `act → reflection-pad 1 → conv3/p0` with no norm: the flow net's skip connection (`Jump`) and,
/// followed by tanh, the image head (`Output`). The conv is stored twice in checkpoints
/// (`conv1` and `model.2`, same tensor); we load `model.2`.
#[derive(Clone, Debug)]
pub struct PadConv {
    conv: ShiftConv,
}

impl PadConv {
    pub fn new(vb: VarBuilder, cin: usize, cout: usize) -> Result<Self> {
        Ok(Self {
            conv: ShiftConv::new(vb.pp("model").pp("2"), cin, cout, 3, 0)?,
        })
    }
}

impl Module for PadConv {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.conv.forward_reflect(&act(x)?, 1)
    }
}

/// Local attention (`ExtractorAttn`, spec §5.4): for every target position, a softmax kernel
/// over the k×k source patch at the flowed position, predicted from the target and source
/// patches.
#[derive(Clone, Debug)]
pub struct ExtractorAttn {
    /// `fully_connect_layer.0` (a k×k, stride-k conv over the 2C patch channels) split into
    /// its target and source halves, as (C·k², hidden) matrices.
    fc0_target: Tensor,
    fc0_source: Tensor,
    fc0_bias: Tensor,
    /// `fully_connect_layer.2` (1×1 conv, hidden → k²) as a (hidden, k²) matrix.
    fc2: Tensor,
    fc2_bias: Tensor,
    k: usize,
    /// The CPU inference form, where the direct convolution runs (see [`ColumnsAttn`]).
    columns: Option<ColumnsAttn>,
}

/// The kernel predictor without patch images: the target half of `fully_connect_layer.0` is
/// a k×k convolution of the target map itself (zero flow samples whole pixels, clamped at the
/// border: replicate padding), and the source half one matrix product with the patch columns
/// ([`ops::patch_columns`]), everything channel-major so nothing is permuted.
#[derive(Clone, Debug)]
struct ColumnsAttn {
    target_conv: std::sync::Arc<tap_conv::DirectConv>,
    /// (hidden, C·k²) and (k², hidden); bias (k², 1).
    fc0_source: Tensor,
    fc2: Tensor,
    fc2_bias: Tensor,
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
    pub fn new(vb: VarBuilder, channels: usize, k: usize, hidden: usize) -> Result<Self> {
        let vb = vb.pp("fully_connect_layer");
        let w0 = vb.pp("0").get((hidden, 2 * channels, k, k), "weight")?;
        let w2 = vb.pp("2").get((k * k, hidden, 1, 1), "weight")?;
        let fc0_bias = vb.pp("0").get(hidden, "bias")?;
        let fc2_bias = vb.pp("2").get(k * k, "bias")?;
        let columns = if direct_ok(&w0, &fc0_bias) && direct_ok(&w2, &fc2_bias) {
            let target = w0.narrow(1, 0, channels)?.flatten_all()?.to_vec1::<f32>()?;
            let pad = tap_conv::Padding {
                mode: tap_conv::PadMode::Replicate,
                sides: [k / 2, k - 1 - k / 2, k / 2, k - 1 - k / 2],
            };
            let dims = (hidden, channels, k);
            Some(ColumnsAttn {
                target_conv: tap_conv::DirectConv::new(&target, dims, 1, pad, fc0_bias.to_vec1()?)?,
                fc0_source: w0
                    .narrow(1, channels, channels)?
                    .reshape((hidden, channels * k * k))?
                    .contiguous()?,
                fc2: w2.reshape((k * k, hidden))?,
                fc2_bias: fc2_bias.reshape((k * k, 1))?,
            })
        } else {
            None
        };
        let half = |start: usize| -> Result<Tensor> {
            w0.narrow(1, start, channels)?
                .reshape((hidden, channels * k * k))?
                .t()?
                .contiguous()
        };
        Ok(Self {
            fc0_target: half(0)?,
            fc0_source: half(channels)?,
            fc0_bias,
            fc2: w2.reshape((k * k, hidden))?.t()?.contiguous()?,
            fc2_bias,
            k,
            columns,
        })
    }

    pub fn kernel_size(&self) -> usize {
        self.k
    }

    /// (B, C, h·k, w·k) patches → (B·h·w, C·k²) rows, one per cell, in the (c, i, j) order of
    /// the conv weight. A k×k conv with stride k over the patches is then a matrix product.
    fn patch_rows(patches: &Tensor, k: usize) -> Result<Tensor> {
        let (b, c, hk, wk) = patches.dims4()?;
        let (h, w) = (hk / k, wk / k);
        patches
            .reshape((b, c, h, k, w, k))?
            .permute((0, 2, 4, 1, 3, 5))?
            .reshape((b * h * w, c * k * k))
    }

    pub fn forward(&self, source: &Tensor, target: &Tensor, flow: &Tensor) -> Result<AttnOutput> {
        if let Some(cols) = &self.columns {
            if ![source, target, flow].iter().any(|t| t.track_op()) {
                return self.forward_columns(cols, source, target, flow);
            }
        }
        let k = self.k;
        let (b, _, h, w) = target.dims4()?;
        let source_patches = ops::block_extractor(source, flow, k)?;
        let target_patches = ops::block_extractor(target, &flow.zeros_like()?, k)?;
        // The reference concatenates (target patches, source patches) and convolves; the split
        // weight halves give the same sum without the concatenated copy.
        let (target_rows, source_rows) = {
            let _p = profile::scope("copies");
            (
                Self::patch_rows(&target_patches, k)?,
                Self::patch_rows(&source_patches, k)?,
            )
        };
        let hidden = {
            let _p = profile::scope("matmul");
            (target_rows.matmul(&self.fc0_target)? + source_rows.matmul(&self.fc0_source)?)?
                .broadcast_add(&self.fc0_bias)?
        };
        let hidden = act(&hidden)?;
        let logits = {
            let _p = profile::scope("matmul");
            hidden.matmul(&self.fc2)?.broadcast_add(&self.fc2_bias)?
        };
        let attention = {
            let _p = profile::scope("softmax");
            candle_nn::ops::softmax(&logits, D::Minus1)?
                .reshape((b, h, w, k * k))?
                .permute((0, 3, 1, 2))?
                .contiguous()?
        };
        let features = ops::local_attention(&attention, &source_patches, k)?;
        Ok(AttnOutput {
            features,
            attention,
        })
    }

    /// [`Self::forward`] in column form (CPU inference): the same values up to summation order.
    fn forward_columns(
        &self,
        cols: &ColumnsAttn,
        source: &Tensor,
        target: &Tensor,
        flow: &Tensor,
    ) -> Result<AttnOutput> {
        let k = self.k;
        let (b, _, h, w) = target.dims4()?;
        let columns = ops::patch_columns::patch_columns(source, flow, k)?;
        let hidden = {
            let _p = profile::scope("conv");
            cols.target_conv.forward(&target.contiguous()?)?
        };
        let hidden = {
            let _p = profile::scope("matmul");
            let hs = cols.fc0_source.broadcast_matmul(&columns)?;
            (hidden.reshape(hs.shape())? + hs)?
        };
        let hidden = act(&hidden)?;
        let logits = {
            let _p = profile::scope("matmul");
            cols.fc2
                .broadcast_matmul(&hidden)?
                .broadcast_add(&cols.fc2_bias)?
        };
        let attention = {
            let _p = profile::scope("softmax");
            candle_nn::ops::softmax(&logits, 1)?.reshape((b, k * k, h, w))?
        };
        let features = ops::patch_columns::pooled_columns(&attention, &columns, k)?;
        Ok(AttnOutput {
            features,
            attention,
        })
    }
}
