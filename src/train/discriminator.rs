//! A small spectral-normalised patch discriminator (Miyato et al. 2018) for the adversarial
//! and feature-matching losses. Its intermediate features stand in for the VGG perceptual
//! loss of the paper, which would need a downloaded network.
//!
//! Layers: `depth` blocks of [3×3 conv → LeakyReLU(0.2) → 2×2 average pool], widths doubling
//! from `width`, then a 3×3 conv to one logit per patch. On the CPU the convs take
//! [`crate::ops::conv_matmul::conv`], whose backward passes are fast.

use crate::weights::StateDict;
use candle_core::{DType, Device, Result, Tensor, Var};
use std::cell::RefCell;

#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DiscConfig {
    pub width: usize,
    pub depth: usize,
}

impl Default for DiscConfig {
    fn default() -> Self {
        Self {
            width: 32,
            depth: 3,
        }
    }
}

/// One spectral-normalised 3×3 conv: `W / σ(W)` with σ from one power iteration per forward
/// pass; `u` persists across passes (a buffer, not a parameter), as in PyTorch.
struct SnConv {
    weight: Var,
    bias: Var,
    u: RefCell<Tensor>,
}

impl SnConv {
    fn forward(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        let w = self.weight.as_tensor();
        let cout = w.dim(0)?;
        let wm = w.reshape((cout, ()))?;
        let wd = wm.detach();
        let normalise = |t: Tensor| -> Result<Tensor> {
            let n = (t.sqr()?.sum_all()?.sqrt()? + 1e-12)?;
            t.broadcast_div(&n)
        };
        let u = self.u.borrow().clone();
        let v = normalise(wd.t()?.matmul(&u)?)?;
        let u_new = normalise(wd.matmul(&v)?)?;
        // σ = uᵀ W v with u, v constants: the gradient flows through W only.
        let sigma = u_new.t()?.matmul(&wm.matmul(&v)?)?.reshape(())?;
        if train {
            *self.u.borrow_mut() = u_new;
        }
        let w_sn = w.broadcast_div(&sigma)?;
        if x.device().is_cpu() {
            // candle's conv input gradient is a slow direct transposed conv on the CPU.
            return crate::ops::conv_matmul::conv(x, &w_sn, self.bias.as_tensor(), 1);
        }
        let y = x.conv2d(&w_sn, 1, 1, 1, 1)?;
        y.broadcast_add(&self.bias.as_tensor().reshape((1, cout, 1, 1))?)
    }
}

/// The discriminator; `forward` returns the patch logits and the features of every block.
pub struct Discriminator {
    convs: Vec<SnConv>,
    names: Vec<String>,
}

impl Discriminator {
    /// Fresh weights (N(0, 0.02²)-ish He-scaled convs, zero biases) from `seed`.
    pub fn new(cfg: &DiscConfig, in_channels: usize, seed: u64, dev: &Device) -> Result<Self> {
        let mut rng = crate::util::rng::SplitMix64::new(seed);
        let mut convs = Vec::new();
        let mut names = Vec::new();
        let mut cin = in_channels;
        for i in 0..=cfg.depth {
            let cout = if i == cfg.depth { 1 } else { cfg.width << i };
            let shape = [cout, cin, 3, 3];
            let w = Tensor::from_vec(rng.he_normal(&shape), &shape[..], dev)?;
            let u: Vec<f32> = (0..cout).map(|_| rng.normal() as f32).collect();
            let u = Tensor::from_vec(u, (cout, 1), dev)?;
            let un = (&u / u.sqr()?.sum_all()?.sqrt()?.to_scalar::<f32>()? as f64)?;
            convs.push(SnConv {
                weight: Var::from_tensor(&w)?,
                bias: Var::zeros(cout, DType::F32, dev)?,
                u: RefCell::new(un),
            });
            names.push(format!("conv{i}"));
            cin = cout;
        }
        Ok(Self { convs, names })
    }

    /// Trainable parameters by name (`conv<i>.weight_orig`, `conv<i>.bias`).
    pub fn params(&self) -> Vec<(String, Var)> {
        let mut out = Vec::new();
        for (name, c) in self.names.iter().zip(&self.convs) {
            out.push((format!("{name}.weight_orig"), c.weight.clone()));
            out.push((format!("{name}.bias"), c.bias.clone()));
        }
        out
    }

    /// Parameters and power-iteration buffers (`conv<i>.weight_u`), for checkpoints.
    pub fn state_dict(&self) -> StateDict {
        let mut out: StateDict = self
            .params()
            .into_iter()
            .map(|(k, v)| (k, v.as_tensor().clone()))
            .collect();
        for (name, c) in self.names.iter().zip(&self.convs) {
            out.insert(format!("{name}.weight_u"), c.u.borrow().clone());
        }
        out
    }

    pub fn load_state_dict(&self, state: &StateDict) -> Result<()> {
        let get = |k: &str| {
            state
                .get(k)
                .ok_or_else(|| candle_core::Error::Msg(format!("discriminator state lacks `{k}`")))
        };
        for (name, c) in self.names.iter().zip(&self.convs) {
            for (key, var) in [("weight_orig", &c.weight), ("bias", &c.bias)] {
                let t = get(&format!("{name}.{key}"))?;
                if t.dims() != var.dims() {
                    candle_core::bail!(
                        "discriminator `{name}.{key}` has shape {:?}, expected {:?}",
                        t.dims(),
                        var.dims()
                    );
                }
                var.set(&t.to_device(var.device())?)?;
            }
            *c.u.borrow_mut() = get(&format!("{name}.weight_u"))?.to_device(c.weight.device())?;
        }
        Ok(())
    }

    /// `(logits (B, 1, h, w), block features)`; `train` advances the power iteration.
    pub fn forward(&self, x: &Tensor, train: bool) -> Result<(Tensor, Vec<Tensor>)> {
        let mut h = x.clone();
        let mut feats = Vec::new();
        let last = self.convs.len() - 1;
        for (i, c) in self.convs.iter().enumerate() {
            h = c.forward(&h, train)?;
            if i < last {
                h = crate::model::layers::leaky_relu(&h, 0.2)?.avg_pool2d(2)?;
                feats.push(h.clone());
            }
        }
        Ok((h, feats))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// After many power iterations σ is the top singular value, so the normalised weight has
    /// spectral norm 1: ‖W_sn x‖ ≤ ‖x‖ for the reshaped matrix, with near-equality somewhere.
    #[test]
    fn spectral_norm_converges_to_top_singular_value() -> Result<()> {
        let dev = Device::Cpu;
        let d = Discriminator::new(&DiscConfig { width: 4, depth: 1 }, 3, 7, &dev)?;
        let x = Tensor::randn(0f32, 1.0, (1, 3, 8, 8), &dev)?;
        for _ in 0..50 {
            d.forward(&x, true)?;
        }
        let c = &d.convs[0];
        let w = c.weight.as_tensor().reshape((4, 27))?;
        let u = c.u.borrow().clone();
        let v = w.t()?.matmul(&u)?;
        let sigma = v.sqr()?.sum_all()?.sqrt()?.to_scalar::<f32>()?;
        // σ must bound ‖W y‖ for random unit y.
        for s in 0..20u64 {
            let y = Tensor::randn(0f32, 1.0, (27, 1), &dev)?;
            let y = (&y / y.sqr()?.sum_all()?.sqrt()?.to_scalar::<f32>()? as f64)?;
            let n = w.matmul(&y)?.sqr()?.sum_all()?.sqrt()?.to_scalar::<f32>()?;
            assert!(n <= sigma * 1.001, "seed {s}: ‖Wy‖ = {n} > σ = {sigma}");
        }
        let (logits, feats) = d.forward(&x, false)?;
        assert_eq!(logits.dims(), &[1, 1, 4, 4]);
        assert_eq!(feats.len(), 1);
        Ok(())
    }
}
