//! Loading GFLA weights: the expected key list (derived from the model code itself), the
//! duplicated `conv1`/`model.2` keys, validation before anything runs, and random weights for
//! benchmarks and tests.

use super::{Gfla, GflaConfig};
use crate::weights::{self, StateDict, WeightsError};
use candle_core::{Device, Result, Tensor};
use std::collections::BTreeMap;
use std::path::Path;

/// `…jump{i}.model.2.*` and `…outconv.model.2.*` are the same tensors as `….conv1.*` (the
/// reference registers the conv twice). Returns the alias of a key, if it has one.
fn alias_of(key: &str) -> Option<String> {
    let (module, rest) = key.rsplit_once(".model.2.")?;
    let last = module.rsplit('.').next()?;
    let is_pad_conv =
        last == "outconv" || (last.starts_with("jump") && last[4..].parse::<u32>().is_ok());
    is_pad_conv.then(|| format!("{module}.conv1.{rest}"))
}

/// Every key (with its shape) of a GFLA state dict for `cfg`, the duplicated aliases included,
/// in the sorted order of the key lists.
pub fn expected_keys(cfg: &GflaConfig) -> Result<Vec<(String, Vec<usize>)>> {
    let mut keys = crate::model::keys::record_keys(|vb| Gfla::new(vb, cfg).map(|_| ()))?;
    let aliases: Vec<_> = keys
        .iter()
        .filter_map(|(k, s)| alias_of(k).map(|a| (a, s.clone())))
        .collect();
    keys.extend(aliases);
    keys.sort();
    keys.dedup();
    Ok(keys)
}

/// Fills a missing `conv1`/`model.2` twin from the other one, so that checkpoints holding only
/// one of each pair (e.g. re-exported ones) load.
pub fn fill_aliases(state: &mut StateDict) {
    let pairs: Vec<(String, String)> = state
        .keys()
        .filter_map(|k| alias_of(k).map(|a| (k.clone(), a)))
        .collect();
    for (model2, conv1) in pairs {
        if !state.contains_key(&conv1) {
            let t = state[&model2].clone();
            state.insert(conv1, t);
        }
    }
    let conv1_only: Vec<(String, String)> = state
        .keys()
        .filter_map(|k| {
            let (module, rest) = k.rsplit_once(".conv1.")?;
            let model2 = format!("{module}.model.2.{rest}");
            (alias_of(&model2).as_deref() == Some(k.as_str()) && !state.contains_key(&model2))
                .then(|| (k.clone(), model2))
        })
        .collect();
    for (conv1, model2) in conv1_only {
        let t = state[&conv1].clone();
        state.insert(model2, t);
    }
}

/// Checks a state dict against `cfg` (or against the config inferred from its shapes when `cfg`
/// is `None`; `sizes` then supplies the input size) and builds the model on `device`.
pub fn from_state_dict(
    mut state: StateDict,
    cfg: Option<&GflaConfig>,
    sizes: &GflaConfig,
    device: &Device,
    origin: &Path,
) -> std::result::Result<(Gfla, GflaConfig), WeightsError> {
    fill_aliases(&mut state);
    weights::build_with_config(
        state,
        cfg,
        device,
        origin,
        |shapes| GflaConfig::infer(shapes, sizes),
        expected_keys,
        Gfla::new,
    )
}

/// Loads a GFLA checkpoint (safetensors, zip or legacy `.pth`). Without `cfg`, the
/// configuration stored in the file by `marionette train` is used, else the one inferred from
/// the shapes (see [`from_state_dict`]).
pub fn load(
    path: &Path,
    cfg: Option<&GflaConfig>,
    sizes: &GflaConfig,
    device: &Device,
) -> std::result::Result<(Gfla, GflaConfig), WeightsError> {
    let stored = match cfg {
        Some(_) => None,
        None => stored_config(path)?,
    };
    let (state, _) = weights::load_state_dict(path)?;
    from_state_dict(state, cfg.or(stored.as_ref()), sizes, device, path)
}

/// Key of the safetensors metadata entry holding the configuration (JSON) of weights that
/// marionette trained: input size and options are not recoverable from tensor shapes.
pub const CONFIG_METADATA_KEY: &str = "marionette.gfla_config";

/// The configuration stored in a safetensors file's metadata, if any.
pub fn stored_config(path: &Path) -> std::result::Result<Option<GflaConfig>, WeightsError> {
    let meta = weights::safetensors_metadata(path)?;
    meta.get(CONFIG_METADATA_KEY)
        .map(|json| {
            serde_json::from_str::<GflaConfig>(json).map_err(|e| WeightsError::Model {
                path: path.into(),
                message: format!("unreadable `{CONFIG_METADATA_KEY}` metadata: {e}"),
            })
        })
        .transpose()
}

/// Saves a GFLA state dict with its configuration in the metadata (atomic).
pub fn save_with_config(
    state: &StateDict,
    cfg: &GflaConfig,
    path: &Path,
) -> std::result::Result<(), WeightsError> {
    let json = serde_json::to_string(cfg).map_err(|e| WeightsError::Model {
        path: path.into(),
        message: e.to_string(),
    })?;
    weights::save_safetensors_with_metadata(
        state,
        [(CONFIG_METADATA_KEY.to_string(), json)]
            .into_iter()
            .collect(),
        path,
    )
}

/// Deterministic random weights of the right shapes (He-normal convs, zero biases, identity
/// norms): what `bench` and `render` use when no checkpoint is given.
pub fn random_state_dict(cfg: &GflaConfig, seed: u64) -> Result<StateDict> {
    let mut rng = crate::util::rng::SplitMix64::new(seed);
    let mut state = BTreeMap::new();
    for (key, shape) in expected_keys(cfg)? {
        let n: usize = shape.iter().product();
        let is_weight = key.ends_with(".weight");
        let data: Vec<f32> = if shape.len() == 4 && is_weight {
            rng.he_normal(&shape)
        } else if is_weight {
            vec![1.0; n] // InstanceNorm scale
        } else {
            vec![0.0; n]
        };
        state.insert(key, Tensor::from_vec(data, shape, &Device::Cpu)?);
    }
    Ok(state)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_are_only_jump_and_outconv() {
        assert_eq!(
            alias_of("flow_net.jump2.model.2.weight").as_deref(),
            Some("flow_net.jump2.conv1.weight")
        );
        assert_eq!(
            alias_of("target.outconv.model.2.bias").as_deref(),
            Some("target.outconv.conv1.bias")
        );
        assert_eq!(alias_of("source.block0.model.2.weight"), None);
        assert_eq!(alias_of("flow_net.jumpy.model.2.weight"), None);
    }
}
