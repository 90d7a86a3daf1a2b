//! The refiner: a small U-Net that corrects the compositor's output where the compositor is
//! unsure (invented person, vacated background, the soft edge of the new outline).
//!
//! Input (B, [`IN_CHANNELS`], H, W) at the working size, H and W multiples of 8:
//! the composite (3, in [-1, 1]), the source photo's same crop (3), the composite's layers
//! (person alpha, vacated share, invented share, edge band: 4, in [0, 1]) and the target
//! skeleton's 18 heat-maps. Output (B, 4, H, W): a residual image (`2·tanh`, so any colour in
//! [-1, 1] can be reached from any other) and an alpha logit; [`Refiner::apply`] adds
//! `gate · σ(alpha) · residual` to the composite, with `gate` zero wherever the compositor is
//! exact, so those pixels stay bit-exact.
//!
//! Our own architecture (no published checkpoint), in the candle-transformers shape: a config,
//! `new(vb, &cfg)`, `forward`; keys `head`, `down.{i}`, `mid.{j}.conv{1,2}`, `up.{i}`, `out`.

use crate::model::layers::{leaky_relu, ShiftConv, StrideConv};
use candle_core::{Result, Tensor};
use candle_nn::{Module, VarBuilder};

/// Channels of the refiner's input: composite 3, source 3, layers 4, target heat-maps 18.
pub const IN_CHANNELS: usize = 3 + 3 + 4 + crate::pose::NUM_JOINTS;

/// The refiner's shape.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RefinerConfig {
    /// Channels at full, 1/2, 1/4 and 1/8 of the working size.
    pub widths: [usize; 4],
    /// Residual blocks at 1/8.
    pub res_blocks: usize,
    /// The working size (H, W) it was trained at: crops of real photos are resampled to it.
    pub working_hw: (usize, usize),
}

impl Default for RefinerConfig {
    fn default() -> Self {
        Self {
            widths: [16, 32, 64, 96],
            res_blocks: 2,
            working_hw: (256, 192),
        }
    }
}

impl RefinerConfig {
    /// Multiply-adds ×2 of one forward pass at `hw`, for the bench.
    pub fn flops(&self, hw: (usize, usize)) -> f64 {
        let w = self.widths;
        let px = |s: usize| (hw.0 / s * (hw.1 / s)) as f64;
        let conv = |cin: usize, cout: usize, s: usize| 2.0 * 9.0 * (cin * cout) as f64 * px(s);
        let mut f = conv(IN_CHANNELS, w[0], 1) + conv(w[0], 4, 1);
        for i in 0..3 {
            f += conv(w[i], w[i + 1], 1 << (i + 1));
            f += conv(w[i + 1] + w[i], w[i], 1 << i);
        }
        f + 2.0 * self.res_blocks as f64 * conv(w[3], w[3], 8)
    }
}

struct ResBlock {
    conv1: ShiftConv,
    conv2: ShiftConv,
}

impl Module for ResBlock {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let h = leaky_relu(&self.conv1.forward(x)?, 0.2)?;
        x + self.conv2.forward(&h)?
    }
}

/// The network.
pub struct Refiner {
    head: ShiftConv,
    down: Vec<StrideConv>,
    mid: Vec<ResBlock>,
    up: Vec<ShiftConv>,
    out: ShiftConv,
}

impl Refiner {
    pub fn new(vb: VarBuilder, cfg: &RefinerConfig) -> Result<Self> {
        let w = cfg.widths;
        let head = ShiftConv::new(vb.pp("head"), IN_CHANNELS, w[0], 3, 1)?;
        let down = (0..3)
            .map(|i| StrideConv::new(vb.pp(format!("down.{i}")), w[i], w[i + 1], 3, 1))
            .collect::<Result<_>>()?;
        let mid = (0..cfg.res_blocks)
            .map(|j| {
                let vb = vb.pp(format!("mid.{j}"));
                Ok(ResBlock {
                    conv1: ShiftConv::new(vb.pp("conv1"), w[3], w[3], 3, 1)?,
                    conv2: ShiftConv::new(vb.pp("conv2"), w[3], w[3], 3, 1)?,
                })
            })
            .collect::<Result<_>>()?;
        let up = (0..3)
            .map(|i| ShiftConv::new(vb.pp(format!("up.{i}")), w[i + 1] + w[i], w[i], 3, 1))
            .collect::<Result<_>>()?;
        let out = ShiftConv::new(vb.pp("out"), w[0], 4, 3, 1)?;
        Ok(Self {
            head,
            down,
            mid,
            up,
            out,
        })
    }

    /// The raw (B, 4, H, W) output: residual pre-activation (3) and alpha logit (1).
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (_, c, h, w) = x.dims4()?;
        if c != IN_CHANNELS || h % 8 != 0 || w % 8 != 0 || h == 0 || w == 0 {
            candle_core::bail!(
                "refiner input must be (B, {IN_CHANNELS}, H, W) with H, W positive multiples of 8, got ({c}, {h}, {w})"
            );
        }
        let mut skips = vec![leaky_relu(&self.head.forward(x)?, 0.2)?];
        for d in &self.down {
            let y = leaky_relu(&d.forward(skips.last().expect("head"))?, 0.2)?;
            skips.push(y);
        }
        let mut y = skips.pop().expect("deepest");
        for b in &self.mid {
            y = b.forward(&y)?;
        }
        for up in self.up.iter().rev() {
            let skip = skips.pop().expect("one skip per level");
            let y_up = upsample2x(&y)?;
            y = leaky_relu(&up.forward(&Tensor::cat(&[&y_up, &skip], 1)?)?, 0.2)?;
        }
        self.out.forward(&y)
    }

    /// The correction a raw output asks for, (B, 3, H, W) in [-1, 1] units:
    /// `σ(alpha) · 2·tanh(residual)`.
    pub fn correction(raw: &Tensor) -> Result<Tensor> {
        let residual = (raw.narrow(1, 0, 3)?.tanh()? * 2.0)?;
        let alpha = candle_nn::ops::sigmoid(&raw.narrow(1, 3, 1)?)?;
        residual.broadcast_mul(&alpha)
    }

    /// The refined composite (B, 3, H, W): `composite + gate · correction`, clamped to
    /// [-1, 1]; `gate` (B, 1, H, W) in [0, 1].
    pub fn apply(raw: &Tensor, composite: &Tensor, gate: &Tensor) -> Result<Tensor> {
        let delta = Self::correction(raw)?.broadcast_mul(gate)?;
        (composite + delta)?.clamp(-1f32, 1f32)
    }

    /// `forward` then [`Refiner::apply`], with the composite and gate read from the input.
    pub fn refine(&self, x: &Tensor, gate: &Tensor) -> Result<Tensor> {
        let raw = self.forward(x)?;
        Self::apply(&raw, &x.narrow(1, 0, 3)?, gate)
    }
}

/// Metadata entry of a refiner checkpoint holding its [`RefinerConfig`] as JSON.
pub const CONFIG_KEY: &str = "refiner_config";

/// Loads a refiner checkpoint (safetensors with its config in the metadata) onto `device`;
/// an error names every missing, unexpected or mis-shaped key.
pub fn load(
    path: &std::path::Path,
    device: &candle_core::Device,
) -> anyhow::Result<(Refiner, RefinerConfig)> {
    use anyhow::Context;
    let meta = crate::weights::safetensors_metadata(path)?;
    let cfg: RefinerConfig = match meta.get(CONFIG_KEY) {
        Some(text) => serde_json::from_str(text)
            .with_context(|| format!("{}: unreadable {CONFIG_KEY}", path.display()))?,
        None => anyhow::bail!(
            "{}: no `{CONFIG_KEY}` in its metadata: not a refiner checkpoint",
            path.display()
        ),
    };
    let (state, _) = crate::weights::load_state_dict(path)?;
    let expected = crate::model::keys::record_keys(|vb| Refiner::new(vb, &cfg).map(|_| ()))?;
    let model =
        crate::weights::build_checked(state, &expected, device, path, |vb| Refiner::new(vb, &cfg))?;
    Ok((model, cfg))
}

/// Nearest-neighbour 2× upsampling as a broadcast (its gradient is a plain sum on every
/// device; candle's `upsample_nearest2d` backward is a grouped convolution).
fn upsample2x(x: &Tensor) -> Result<Tensor> {
    let (b, c, h, w) = x.dims4()?;
    x.reshape((b, c, h, 1, w, 1))?
        .broadcast_as((b, c, h, 2, w, 2))?
        .reshape((b, c, 2 * h, 2 * w))
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device};
    use std::collections::HashMap;

    fn random_refiner(cfg: &RefinerConfig) -> Refiner {
        let keys =
            crate::model::keys::record_keys(|vb| Refiner::new(vb, cfg).map(|_| ())).expect("keys");
        let mut rng = crate::util::rng::SplitMix64::new(3);
        let map: HashMap<String, Tensor> = keys
            .into_iter()
            .map(|(k, shape)| {
                let data = rng.he_normal(&shape);
                (k, Tensor::from_vec(data, shape, &Device::Cpu).unwrap())
            })
            .collect();
        Refiner::new(VarBuilder::from_tensors(map, DType::F32, &Device::Cpu), cfg).unwrap()
    }

    #[test]
    fn gate_zero_keeps_the_composite_bit_exact() {
        let cfg = RefinerConfig::default();
        let r = random_refiner(&cfg);
        let x = Tensor::randn(0f32, 0.5, (1, IN_CHANNELS, 16, 24), &Device::Cpu).unwrap();
        let comp = x.narrow(1, 0, 3).unwrap().clamp(-1f32, 1f32).unwrap();
        let gate = Tensor::zeros((1, 1, 16, 24), DType::F32, &Device::Cpu).unwrap();
        let raw = r.forward(&x).unwrap();
        let y = Refiner::apply(&raw, &comp, &gate).unwrap();
        let a = comp.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let b = y.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        assert_eq!(a, b);
        // Where the gate is one the refiner moves pixels (random weights: surely some).
        let ones = gate.ones_like().unwrap();
        let z = Refiner::apply(&raw, &comp, &ones).unwrap();
        let moved = (z - &comp).unwrap().abs().unwrap().max_all().unwrap();
        assert!(moved.to_scalar::<f32>().unwrap() > 1e-3);
    }

    #[test]
    fn upsample2x_repeats_each_pixel_in_a_two_by_two_block() {
        let x = Tensor::arange(0f32, 6.0, &Device::Cpu)
            .unwrap()
            .reshape((1, 1, 2, 3))
            .unwrap();
        let y = upsample2x(&x).unwrap();
        let rows = y
            .squeeze(0)
            .unwrap()
            .squeeze(0)
            .unwrap()
            .to_vec2::<f32>()
            .unwrap();
        assert_eq!(rows[0], vec![0., 0., 1., 1., 2., 2.]);
        assert_eq!(rows[1], rows[0]);
        assert_eq!(rows[2], vec![3., 3., 4., 4., 5., 5.]);
        assert_eq!(rows[3], rows[2]);
    }

    #[test]
    fn rejects_sizes_that_do_not_divide_by_eight() {
        let r = random_refiner(&RefinerConfig::default());
        let x = Tensor::zeros((1, IN_CHANNELS, 20, 24), DType::F32, &Device::Cpu).unwrap();
        let err = r.forward(&x).unwrap_err().to_string();
        assert!(err.contains("multiples of 8"), "{err}");
    }

    #[test]
    fn flops_count_matches_a_hand_count_for_one_level() {
        // widths all 1, no res blocks, 8×8: every conv is 1×1 channels → 2·9·cin·cout·px.
        let cfg = RefinerConfig {
            widths: [1, 1, 1, 1],
            res_blocks: 0,
            working_hw: (8, 8),
        };
        let px = [64.0, 16.0, 4.0, 1.0];
        let hand = 18.0 * (IN_CHANNELS as f64 * px[0] + 4.0 * px[0])
            + 18.0 * (px[1] + px[2] + px[3])
            + 18.0 * 2.0 * (px[0] + px[1] + px[2]);
        assert_eq!(cfg.flops((8, 8)), hand);
    }
}
