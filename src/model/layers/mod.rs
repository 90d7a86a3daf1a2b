//! Layers the authors' networks are built from, in the exact form candle-nn lacks: InstanceNorm
//! (affine or not, never with running statistics), eval-mode BatchNorm, LeakyReLU, reflection
//! padding, and fast matrix-product convolutions ([`ShiftConv`], [`UpConv`]).

use crate::ops::profile;
use crate::ops::tap_conv::{self, DirectConv, DirectUp};
pub use crate::ops::Activation;
use candle_core::{Result, Tensor, D};
use candle_nn::{Module, VarBuilder};
use std::sync::Arc;

/// `InstanceNorm2d(track_running_stats=False)`: per sample and channel, mean and biased
/// variance over H×W, identical in training and evaluation; optionally affine.
#[derive(Clone, Debug)]
pub struct InstanceNorm {
    /// (weight, bias) when affine.
    affine: Option<(Tensor, Tensor)>,
    eps: f64,
}

impl InstanceNorm {
    pub const EPS: f64 = 1e-5;

    /// Affine instance norm (`weight`, `bias`).
    pub fn new(vb: VarBuilder, channels: usize) -> Result<Self> {
        Ok(Self {
            affine: Some((vb.get(channels, "weight")?, vb.get(channels, "bias")?)),
            eps: Self::EPS,
        })
    }

    /// Parameter-free instance norm (`affine=False`).
    pub fn plain() -> Self {
        Self {
            affine: None,
            eps: Self::EPS,
        }
    }

    /// `act(self.forward(x))`; on CUDA one fused kernel ([`crate::ops::instance_norm`]).
    pub fn forward_act(&self, x: &Tensor, act: Activation) -> Result<Tensor> {
        let _p = profile::scope("norm+act");
        // The fused op on CUDA (unless asked not to) and on the CPU: two passes over the map
        // forward and three backward, where the composed ops below make ~9 and ~15.
        if crate::ops::instance_norm::fused_on(x.device()) || x.device().is_cpu() {
            let affine = self.affine.as_ref().map(|(w, b)| (w, b));
            return crate::ops::instance_norm_act(x, affine, self.eps, act);
        }
        let y = self.forward(x)?;
        match act {
            Activation::None => Ok(y),
            Activation::LeakyRelu(slope) => leaky_relu(&y, slope),
            Activation::Relu => y.relu(),
        }
    }
}

impl Module for InstanceNorm {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let _p = profile::scope("norm+act");
        let (b, c, h, w) = x.dims4()?;
        let x3 = x.reshape((b, c, h * w))?;
        let mean = x3.mean_keepdim(D::Minus1)?;
        let centred = x3.broadcast_sub(&mean)?;
        let var = centred.sqr()?.mean_keepdim(D::Minus1)?;
        let normed = centred.broadcast_div(&(var + self.eps)?.sqrt()?)?;
        let normed = match &self.affine {
            Some((weight, bias)) => normed
                .broadcast_mul(&weight.reshape((1, c, 1))?)?
                .broadcast_add(&bias.reshape((1, c, 1))?)?,
            None => normed,
        };
        normed.reshape((b, c, h, w))
    }
}

/// `BatchNorm2d` in evaluation mode: `(x − running_mean) / sqrt(running_var + eps) · weight +
/// bias`, folded into one per-channel scale and shift. `num_batches_tracked` is part of the
/// checkpoint (so it is expected and consumed) but unused.
#[derive(Clone, Debug)]
pub struct BatchNormEval {
    scale: Tensor,
    shift: Tensor,
}

impl BatchNormEval {
    pub const EPS: f64 = 1e-5;

    pub fn new(vb: VarBuilder, channels: usize) -> Result<Self> {
        let weight = vb.get(channels, "weight")?;
        let bias = vb.get(channels, "bias")?;
        let mean = vb.get(channels, "running_mean")?;
        let var = vb.get(channels, "running_var")?;
        vb.get((), "num_batches_tracked")?;
        let scale = (weight / (var + Self::EPS)?.sqrt()?)?;
        let shift = (bias - (&mean * &scale)?)?;
        Ok(Self {
            scale: scale.reshape((1, channels, 1, 1))?,
            shift: shift.reshape((1, channels, 1, 1))?,
        })
    }
}

impl Module for BatchNormEval {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let _p = profile::scope("norm+act");
        x.broadcast_mul(&self.scale)?.broadcast_add(&self.shift)
    }
}

/// LeakyReLU with the given slope in (0, 1): `max(x, slope·x)`, the same values as PyTorch's
/// `where(x > 0, x, slope·x)` in two passes instead of four.
pub fn leaky_relu(x: &Tensor, slope: f64) -> Result<Tensor> {
    let _p = profile::scope("norm+act");
    x.maximum(&x.affine(slope, 0.0)?)
}

/// Reflection padding by `p` on both spatial axes (PyTorch `ReflectionPad2d(p)`).
pub fn reflection_pad2d(x: &Tensor, p: usize) -> Result<Tensor> {
    let _p = profile::scope("copies");
    if p == 0 {
        return Ok(x.clone());
    }
    let (_, _, h, w) = x.dims4()?;
    if p >= h || p >= w {
        candle_core::bail!("reflection padding {p} needs a map larger than {h}×{w}");
    }
    // Copies of the border rows/columns concatenated around the map: much cheaper than a
    // gather (index_select) over every element.
    let mirror = |x: &Tensor, dim: usize, n: usize| -> Result<Tensor> {
        let before: Vec<Tensor> = (1..=p)
            .rev()
            .map(|i| x.narrow(dim, i, 1))
            .collect::<Result<_>>()?;
        let after: Vec<Tensor> = (1..=p)
            .map(|i| x.narrow(dim, n - 1 - i, 1))
            .collect::<Result<_>>()?;
        let parts: Vec<&Tensor> = before
            .iter()
            .chain(std::iter::once(x))
            .chain(after.iter())
            .collect();
        Tensor::cat(&parts, dim)
    };
    mirror(&mirror(x, 3, w)?, 2, h)
}

/// A stride-1 k×k convolution with zero padding, computed as one matrix product
/// `W (cout·k², cin) × X (cin, H·W)` followed by k² shifted adds.
///
/// candle's CPU conv builds a k²-times larger im2col copy first; this form skips that copy and
/// gives the matrix product a cache-friendly shape: 1.5× to 8× faster at GFLA's shapes
/// (worst for candle with few output channels, e.g. the 64→3 image head). Built from candle
/// ops only, so it is differentiable and runs on every device.
#[derive(Clone, Debug)]
pub struct ShiftConv {
    /// (cout·k², cin), rows ordered (out channel, ky, kx).
    weight: Tensor,
    /// The PyTorch (cout, cin, k, k) weight: the direct kernel's trainable form takes it, and
    /// on a GPU candle's convolution (there launches dominate, and padding + matrix product +
    /// tap sum is twice as many as im2col + GEMM).
    torch_weight: Tensor,
    bias: Tensor,
    k: usize,
    pad: usize,
    /// On a CPU with a SIMD tile (AVX-512, AVX2+FMA, NEON) and fixed weights, the direct kernel (used when no gradient is
    /// tracked): no tap planes, 2–3× faster at GFLA's shapes.
    direct: Option<Arc<DirectConv>>,
}

impl ShiftConv {
    /// Loads a PyTorch `Conv2d(cin, cout, k, stride=1, padding=pad)` (`weight`, `bias`).
    pub fn new(vb: VarBuilder, cin: usize, cout: usize, k: usize, pad: usize) -> Result<Self> {
        Self::with_bias(vb, cin, cout, k, pad, true)
    }

    /// As [`ShiftConv::new`]; without a `bias` key when `bias` is false (`bias=False` convs).
    pub fn with_bias(
        vb: VarBuilder,
        cin: usize,
        cout: usize,
        k: usize,
        pad: usize,
        bias: bool,
    ) -> Result<Self> {
        let (w, bias) = conv_params(&vb, cin, cout, k, bias)?;
        let direct = direct_conv(&w, &bias, 1, pad)?;
        Ok(Self {
            weight: crate::ops::conv_matmul::weight_rows(&w)?,
            torch_weight: w,
            bias,
            k,
            pad,
            direct,
        })
    }

    /// `forward(ReflectionPad2d(p)(x))`: on the direct path the reflection is folded into the
    /// kernel's padded input copy instead of being built from candle slices first.
    pub fn forward_reflect(&self, x: &Tensor, p: usize) -> Result<Tensor> {
        if let Some(direct) = self
            .direct
            .as_ref()
            .filter(|_| !x.track_op() && self.pad == 0)
        {
            let _p = profile::scope("conv");
            return direct.forward_padded(&x.contiguous()?, tap_conv::Padding::reflect(p));
        }
        self.forward(&reflection_pad2d(x, p)?)
    }

    /// The differentiable form: the direct kernel with its backward where it runs
    /// ([`crate::ops::conv_matmul::direct_trains`]); the matrix product and tap sum elsewhere
    /// (with the rows packed at construction).
    fn forward_matmul(&self, x: &Tensor) -> Result<Tensor> {
        if crate::ops::conv_matmul::direct_trains(x, self.k, self.pad) {
            return tap_conv::train::conv2d(x, &self.torch_weight, &self.bias, self.pad);
        }
        crate::ops::conv_matmul::conv_rows(x, &self.weight, &self.bias, self.k, self.pad)
    }
}

impl Module for ShiftConv {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let _p = profile::scope("conv");
        if self.torch_weight.device().is_cuda() && gpu_im2col() {
            let cout = self.bias.dim(0)?;
            return x
                .conv2d(&self.torch_weight, self.pad, 1, 1, 1)?
                .broadcast_add(&self.bias.reshape((1, cout, 1, 1))?);
        }
        if let Some(direct) = self.direct.as_ref().filter(|_| !x.track_op()) {
            return direct.forward(&x.contiguous()?);
        }
        self.forward_matmul(x)
    }
}

/// Whether GPU convolutions take candle's im2col + GEMM (the default) rather than the CPU's
/// matrix-product-and-tap-sum form; `MARIONETTE_SHIFTCONV=1` picks the latter, to compare.
fn gpu_im2col() -> bool {
    static SHIFT: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    !*SHIFT.get_or_init(|| std::env::var("MARIONETTE_SHIFTCONV").is_ok_and(|v| v == "1"))
}

/// The direct CPU kernel for a `Conv2d` weight, where [`direct_ok`].
fn direct_conv(
    w: &Tensor,
    bias: &Tensor,
    stride: usize,
    pad: usize,
) -> Result<Option<Arc<DirectConv>>> {
    if !direct_ok(w, bias) {
        return Ok(None);
    }
    let (cout, cin, k, _) = w.dims4()?;
    let flat = w.flatten_all()?.to_vec1::<f32>()?;
    let pad = tap_conv::Padding::zero(pad);
    DirectConv::new(&flat, (cout, cin, k), stride, pad, bias.to_vec1()?).map(Some)
}

/// A stride-2 k×k `Conv2d` with zero padding (the encoders' down-sampling convs): on the CPU
/// the direct kernel over the input's four phases, or, when tracking gradients, a
/// differentiable stride-1 conv over the same phases ([`crate::ops::conv_matmul::conv_stride2`]:
/// candle's input gradient is a slow direct transposed conv); candle's convolution on a GPU.
#[derive(Clone, Debug)]
pub struct StrideConv {
    conv: candle_nn::Conv2d,
    /// The bias, zeros for `bias=False` convs (the matrix-product form always adds one).
    bias: Tensor,
    direct: Option<Arc<DirectConv>>,
}

impl StrideConv {
    /// Loads `Conv2d(cin, cout, k, stride=2, padding=pad)` (`weight`, `bias`).
    pub fn new(vb: VarBuilder, cin: usize, cout: usize, k: usize, pad: usize) -> Result<Self> {
        Self::with_bias(vb, cin, cout, k, pad, true)
    }

    /// As [`StrideConv::new`]; without a `bias` key when `bias` is false.
    pub fn with_bias(
        vb: VarBuilder,
        cin: usize,
        cout: usize,
        k: usize,
        pad: usize,
        bias: bool,
    ) -> Result<Self> {
        let (w, b) = conv_params(&vb, cin, cout, k, bias)?;
        let cfg = candle_nn::Conv2dConfig {
            padding: pad,
            stride: 2,
            ..Default::default()
        };
        Ok(Self {
            direct: direct_conv(&w, &b, 2, pad)?,
            conv: candle_nn::Conv2d::new(w, bias.then_some(b.clone()), cfg),
            bias: b,
        })
    }
}

impl Module for StrideConv {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let _p = profile::scope("conv");
        if let Some(direct) = self.direct.as_ref().filter(|_| !x.track_op()) {
            return direct.forward(&x.contiguous()?);
        }
        let c = &self.conv;
        if x.device().is_cpu() && x.track_op() {
            let pad = c.config().padding;
            return crate::ops::conv_matmul::conv_stride2(x, c.weight(), &self.bias, pad);
        }
        candle_nn::Module::forward(c, x)
    }
}

/// Whether a layer takes the direct CPU kernel: fixed (not trained) f32 weights on a CPU that
/// runs it. `MARIONETTE_TAP_CONV=0` keeps the matrix-product path, to compare.
pub(crate) fn direct_ok(w: &Tensor, bias: &Tensor) -> bool {
    w.device().is_cpu()
        && w.dtype() == candle_core::DType::F32
        && !w.is_variable()
        && !bias.is_variable()
        && tap_conv::available()
}

/// A PyTorch `Conv2d(cin, cout, k)`'s (cout, cin, k, k) `weight` and its bias
/// ([`optional_bias`]): what [`ShiftConv`] and [`StrideConv`] load.
fn conv_params(
    vb: &VarBuilder,
    cin: usize,
    cout: usize,
    k: usize,
    bias: bool,
) -> Result<(Tensor, Tensor)> {
    let w = vb.get((cout, cin, k, k), "weight")?;
    let bias = optional_bias(vb, cout, bias, &w)?;
    Ok((w, bias))
}

/// The `bias` parameter, or zeros (not a checkpoint key) for convs built with `bias=False`.
fn optional_bias(vb: &VarBuilder, cout: usize, bias: bool, like: &Tensor) -> Result<Tensor> {
    if bias {
        vb.get(cout, "bias")
    } else {
        Tensor::zeros(cout, like.dtype(), like.device())
    }
}

/// PyTorch `ConvTranspose2d(cin, cout, 3, stride 2, padding 1, output_padding 1)` (doubles H
/// and W), computed as one matrix product over all nine taps and a four-phase interleave.
///
/// Output row 2m takes kernel row 1 at input row m; row 2m+1 takes kernel row 2 at input row m
/// and kernel row 0 at input row m+1 (zero past the edge); columns likewise. candle's CPU
/// transposed conv is a direct loop at 6–12 GFLOP/s; this runs at matrix-product speed.
#[derive(Clone, Debug)]
pub struct UpConv {
    /// (cout·9, cin), rows ordered (out channel, ky, kx).
    weight: Tensor,
    bias: Tensor,
    /// As [`ShiftConv`]'s: the four-phase direct kernel when no gradient is tracked.
    direct: Option<Arc<DirectUp>>,
}

impl UpConv {
    /// Loads the PyTorch weight, stored (cin, cout, 3, 3), and bias.
    pub fn new(vb: VarBuilder, cin: usize, cout: usize) -> Result<Self> {
        Self::with_bias(vb, cin, cout, true)
    }

    /// As [`UpConv::new`]; without a `bias` key when `bias` is false.
    pub fn with_bias(vb: VarBuilder, cin: usize, cout: usize, bias: bool) -> Result<Self> {
        let w = vb.get((cin, cout, 3, 3), "weight")?;
        let bias = optional_bias(&vb, cout, bias, &w)?;
        let direct = if direct_ok(&w, &bias) {
            let flat = w.flatten_all()?.to_vec1::<f32>()?;
            Some(DirectUp::new(cin, cout, &flat, bias.to_vec1()?))
        } else {
            None
        };
        Ok(Self {
            weight: w.permute((1, 2, 3, 0))?.reshape((cout * 9, cin))?,
            bias,
            direct,
        })
    }
}

impl Module for UpConv {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let _p = profile::scope("conv");
        if let Some(direct) = self.direct.as_ref().filter(|_| !x.track_op()) {
            return direct.forward(&x.contiguous()?);
        }
        let (b, cin, h, w) = x.dims4()?;
        let cout = self.bias.dim(0)?;
        let xp = x.pad_with_zeros(2, 0, 1)?.pad_with_zeros(3, 0, 1)?;
        let y = self
            .weight
            .broadcast_matmul(&xp.reshape((b, cin, (h + 1) * (w + 1)))?)?
            .reshape((b, cout, 9, h + 1, w + 1))?;
        crate::ops::up_tap_sum(&y, &self.bias)
    }
}

#[cfg(test)]
mod tests;
