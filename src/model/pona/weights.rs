//! Loading PoNA weights: expected keys derived from the model code, validation before anything
//! runs, random weights for benchmarks.

use super::{Pona, PonaConfig};
use crate::weights::{self, StateDict, WeightsError};
use candle_core::{DType, Device, Result, Tensor};
use std::path::Path;

/// Every key (with its shape) of a PoNA state dict for `cfg`, sorted.
pub fn expected_keys(cfg: &PonaConfig) -> Result<Vec<(String, Vec<usize>)>> {
    crate::model::keys::record_keys(|vb| Pona::new(vb, cfg).map(|_| ()))
}

/// Checks a state dict against `cfg` (or the config inferred from its shapes, with input size
/// and heat-map kind from `sizes`) and builds the model on `device`.
pub fn from_state_dict(
    state: StateDict,
    cfg: Option<&PonaConfig>,
    sizes: &PonaConfig,
    device: &Device,
    origin: &Path,
) -> std::result::Result<(Pona, PonaConfig), WeightsError> {
    weights::build_with_config(
        state,
        cfg,
        device,
        origin,
        |shapes| PonaConfig::infer(shapes, sizes),
        expected_keys,
        Pona::new,
    )
}

/// Loads a PoNA checkpoint (safetensors, zip or legacy `.pth`).
pub fn load(
    path: &Path,
    cfg: Option<&PonaConfig>,
    sizes: &PonaConfig,
    device: &Device,
) -> std::result::Result<(Pona, PonaConfig), WeightsError> {
    let (state, _) = weights::load_state_dict(path)?;
    from_state_dict(state, cfg, sizes, device, path)
}

/// Deterministic random weights of the right shapes (He-normal convs, zero biases, identity
/// batch norms, small attention gains).
pub fn random_state_dict(cfg: &PonaConfig, seed: u64) -> Result<StateDict> {
    let mut rng = crate::util::rng::SplitMix64::new(seed);
    let mut state = StateDict::new();
    for (key, shape) in expected_keys(cfg)? {
        let n: usize = shape.iter().product();
        let leaf = key.rsplit('.').next().unwrap_or("");
        let tensor = match leaf {
            "num_batches_tracked" => Tensor::zeros((), DType::I64, &Device::Cpu)?,
            "running_var" => Tensor::ones(n, DType::F32, &Device::Cpu)?,
            "gamma" | "beta" => Tensor::full(0.1f32, n, &Device::Cpu)?,
            "weight" if shape.len() == 4 => {
                Tensor::from_vec(rng.he_normal(&shape), shape.as_slice(), &Device::Cpu)?
            }
            "weight" => Tensor::ones(n, DType::F32, &Device::Cpu)?,
            _ => Tensor::zeros(n, DType::F32, &Device::Cpu)?,
        };
        state.insert(key, tensor.reshape(shape.as_slice())?);
    }
    Ok(state)
}
