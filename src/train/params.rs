//! Trainable parameters by checkpoint key name: what training the generator and training the
//! refiner share (fresh values, the model rebuilt on the current values, loading a state dict).

use crate::model::keys::KeyShapes;
use crate::weights::StateDict;
use anyhow::{Context, Result};
use candle_core::{DType, Device, Tensor, Var};
use candle_nn::VarBuilder;
use std::collections::{BTreeMap, HashMap};

pub struct Params {
    vars: BTreeMap<String, Var>,
}

impl Params {
    /// Fresh values for `keys` on `dev`: convolutions N(0, 1/fan_in) (He-normal scaled by
    /// 1/√2, the variance of PyTorch's default init family) except those `zero` names, which
    /// start at 0; other `*.weight` tensors (norm scales) 1; biases 0. Draws follow the keys' order.
    pub fn init(
        keys: KeyShapes,
        seed: u64,
        dev: &Device,
        zero: impl Fn(&str) -> bool,
    ) -> Result<Self> {
        let mut rng = crate::util::rng::SplitMix64::new(seed);
        let mut vars = BTreeMap::new();
        for (key, shape) in keys {
            let n: usize = shape.iter().product();
            let data: Vec<f32> = if shape.len() == 4 {
                if zero(&key) {
                    vec![0.0; n]
                } else {
                    rng.he_normal(&shape)
                        .into_iter()
                        .map(|v| v * std::f32::consts::FRAC_1_SQRT_2)
                        .collect()
                }
            } else if key.ends_with(".weight") {
                vec![1.0; n]
            } else {
                vec![0.0; n]
            };
            let t = Tensor::from_vec(data, shape, dev)?;
            vars.insert(key, Var::from_tensor(&t)?);
        }
        Ok(Self { vars })
    }

    /// A builder over the current values, for building the model afresh each step (layers
    /// pre-arrange their weights at construction: copies that would not see later updates).
    pub fn var_builder(&self) -> VarBuilder<'static> {
        let map: HashMap<String, Tensor> = self
            .vars
            .iter()
            .map(|(k, v)| (k.clone(), v.as_tensor().clone()))
            .collect();
        let dev = self
            .vars
            .values()
            .next()
            .map(|v| v.device().clone())
            .unwrap_or(Device::Cpu);
        VarBuilder::from_tensors(map, DType::F32, &dev)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &Var)> {
        self.vars.iter()
    }

    pub fn named(&self) -> Vec<(String, Var)> {
        self.vars
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// Detached copies of the values on the CPU.
    pub fn cpu_state(&self) -> Result<StateDict> {
        self.vars
            .iter()
            .map(|(k, v)| Ok((k.clone(), v.as_tensor().detach().to_device(&Device::Cpu)?)))
            .collect()
    }

    /// Sets every parameter from `state` (converted to f32 on the parameters' device); an error
    /// names the first missing or mis-shaped key as `what` holds it.
    pub fn load_state_dict(&self, state: &StateDict, what: &str) -> Result<()> {
        for (k, v) in &self.vars {
            let t = state
                .get(k)
                .with_context(|| format!("{what} lacks `{k}`"))?;
            anyhow::ensure!(
                t.dims() == v.dims(),
                "{what} `{k}` has shape {:?}, expected {:?}",
                t.dims(),
                v.dims()
            );
            v.set(&t.to_dtype(DType::F32)?.to_device(v.device())?)?;
        }
        Ok(())
    }
}
