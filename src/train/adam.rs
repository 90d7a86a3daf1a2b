//! Adam (Kingma & Ba) over named parameters, with its state exposed so that checkpoints can
//! resume training exactly (candle-nn's optimisers keep their moments private).

use crate::weights::StateDict;
use candle_core::{backprop::GradStore, Result, Tensor, Var};

/// Adam hyper-parameters. GFLA trains with Adam at β = (0, 0.999) for the generator; we keep
/// β₁ configurable (0.5 is the usual GAN choice and what our runs use).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AdamParams {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
}

impl Default for AdamParams {
    fn default() -> Self {
        Self {
            lr: 2e-4,
            beta1: 0.5,
            beta2: 0.999,
            eps: 1e-8,
        }
    }
}

/// The optimiser: per parameter a (first, second) moment pair and its own update count.
///
/// Counts are per parameter because training runs in stages: the flow net trains alone first,
/// and the other parameters must start with a fresh bias correction when they join (with a
/// shared count, their first update would be ~1/√(1 − β₂) ≈ 30× too large).
pub struct Adam {
    params: Vec<(String, Var)>,
    first: Vec<Tensor>,
    second: Vec<Tensor>,
    counts: Vec<usize>,
    pub hp: AdamParams,
}

impl Adam {
    pub fn new(params: Vec<(String, Var)>, hp: AdamParams) -> Result<Self> {
        let zeros = |v: &Var| v.as_tensor().zeros_like();
        Ok(Self {
            first: params
                .iter()
                .map(|(_, v)| zeros(v))
                .collect::<Result<_>>()?,
            second: params
                .iter()
                .map(|(_, v)| zeros(v))
                .collect::<Result<_>>()?,
            counts: vec![0; params.len()],
            params,
            hp,
        })
    }

    /// One update from `grads`; parameters without a gradient (unused in this loss) keep
    /// their value and moments.
    pub fn step(&mut self, grads: &GradStore) -> Result<()> {
        let AdamParams {
            lr,
            beta1,
            beta2,
            eps,
        } = self.hp;
        for (i, (_, var)) in self.params.iter().enumerate() {
            let Some(g) = grads.get(var.as_tensor()) else {
                continue;
            };
            // candle leaves the gradients of leaf variables attached to the forward graph; a
            // moment built from them would keep every step's activations alive.
            let g = &g.detach();
            self.counts[i] += 1;
            let t = self.counts[i].min(i32::MAX as usize) as i32;
            let (c1, c2) = (1.0 - beta1.powi(t), 1.0 - beta2.powi(t));
            let m = ((&self.first[i] * beta1)? + (g * (1.0 - beta1))?)?;
            let v = ((&self.second[i] * beta2)? + (g.sqr()? * (1.0 - beta2))?)?;
            let update = ((&m / c1)? / ((&v / c2)?.sqrt()? + eps)?)?;
            var.set(&(var.as_tensor() - (update * lr)?)?)?;
            self.first[i] = m;
            self.second[i] = v;
        }
        Ok(())
    }

    /// The moments as `m.<name>` / `v.<name>` tensors and the update counts as `t.<name>`
    /// (f64 scalars: exact far beyond any run length).
    pub fn state_dict(&self) -> Result<StateDict> {
        let mut out = StateDict::new();
        for (i, (name, var)) in self.params.iter().enumerate() {
            out.insert(format!("m.{name}"), self.first[i].clone());
            out.insert(format!("v.{name}"), self.second[i].clone());
            out.insert(
                format!("t.{name}"),
                Tensor::new(self.counts[i] as f64, var.device())?,
            );
        }
        Ok(out)
    }

    /// Restores moments saved by [`Adam::state_dict`]; every parameter must have both, with
    /// its own shape.
    pub fn load_state_dict(&mut self, state: &StateDict) -> Result<()> {
        for (i, (name, var)) in self.params.iter().enumerate() {
            for (prefix, slot) in [("m", &mut self.first[i]), ("v", &mut self.second[i])] {
                let key = format!("{prefix}.{name}");
                let t = state.get(&key).ok_or_else(|| {
                    candle_core::Error::Msg(format!("optimiser state lacks `{key}`"))
                })?;
                if t.dims() != var.dims() {
                    candle_core::bail!(
                        "optimiser state `{key}` has shape {:?}, the parameter {:?}",
                        t.dims(),
                        var.dims()
                    );
                }
                *slot = t.to_device(var.device())?;
            }
            let key = format!("t.{name}");
            let t = state
                .get(&key)
                .ok_or_else(|| candle_core::Error::Msg(format!("optimiser state lacks `{key}`")))?;
            self.counts[i] = t.to_dtype(candle_core::DType::F64)?.to_scalar::<f64>()? as usize;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    /// Adam's first step moves every coordinate by exactly lr against its gradient's sign
    /// (m̂ / √v̂ = g / |g|), and a quadratic is minimised.
    #[test]
    fn first_step_is_lr_times_sign_and_quadratic_converges() -> Result<()> {
        let x = Var::new(&[3f32, -2.0], &Device::Cpu)?;
        let hp = AdamParams {
            lr: 0.1,
            ..Default::default()
        };
        let mut opt = Adam::new(vec![("x".into(), x.clone())], hp)?;
        let loss = x.as_tensor().sqr()?.sum_all()?;
        opt.step(&loss.backward()?)?;
        let v = x.as_tensor().to_vec1::<f32>()?;
        assert!(
            (v[0] - 2.9).abs() < 1e-5 && (v[1] + 1.9).abs() < 1e-5,
            "{v:?}"
        );
        // Moments must not hold the step's graph (else memory grows every step).
        assert!(!opt.first[0].track_op() && !opt.second[0].track_op());
        for _ in 0..300 {
            let loss = x.as_tensor().sqr()?.sum_all()?;
            opt.step(&loss.backward()?)?;
        }
        let v = x.as_tensor().to_vec1::<f32>()?;
        assert!(v.iter().all(|a| a.abs() < 0.05), "{v:?}");
        // The state round-trips.
        let saved = opt.state_dict()?;
        let mut other = Adam::new(vec![("x".into(), x.clone())], hp)?;
        other.load_state_dict(&saved)?;
        assert_eq!(other.counts, vec![301]);
        assert_eq!(
            other.first[0].to_vec1::<f32>()?,
            opt.first[0].to_vec1::<f32>()?
        );
        Ok(())
    }
}
