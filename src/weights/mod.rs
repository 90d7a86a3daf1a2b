//! Checkpoints: reading safetensors, zip `.pth` and legacy `.pth` state dicts into one map of
//! named tensors, and checking a state dict against the keys and shapes a model expects.

pub mod pickle;
pub mod pth;

pub use pth::{load_pth, load_pth_bytes, PthError};

use candle_core::{Device, Tensor};
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// Named tensors as stored in a checkpoint (PyTorch key → tensor).
pub type StateDict = BTreeMap<String, Tensor>;

/// The on-disk formats we read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WeightFormat {
    Safetensors,
    /// `torch.save` since PyTorch 1.6: a zip archive holding `data.pkl` and raw storages.
    PthZip,
    /// `torch.save` before 1.6 (the official GFLA checkpoints): pickles followed by raw storages.
    PthLegacy,
}

#[derive(Debug, thiserror::Error)]
// Causes are part of the messages rather than `source()` chains, so anyhow's `{:#}` prints
// each cause once.
pub enum WeightsError {
    #[error("cannot read checkpoint {path}: {error}")]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{path}: not a checkpoint marionette can read (expected safetensors, a zip .pth or a legacy .pth)")]
    UnknownFormat { path: PathBuf },
    #[error("{path}: invalid safetensors file: {message}")]
    Safetensors { path: PathBuf, message: String },
    #[error("{path}: {error}")]
    Pth { path: PathBuf, error: PthError },
    #[error("{path}: {report}")]
    Mismatch { path: PathBuf, report: KeyReport },
    #[error("{path}: {message}")]
    Model { path: PathBuf, message: String },
}

/// Sniffs the format from the first bytes (extensions lie; contents don't).
pub fn detect_format(bytes: &[u8]) -> Option<WeightFormat> {
    if bytes.starts_with(b"PK\x03\x04") {
        return Some(WeightFormat::PthZip);
    }
    // A pickle starts with PROTO (0x80) and a protocol number.
    if bytes.len() >= 2 && bytes[0] == 0x80 && (2..=5).contains(&bytes[1]) {
        return Some(WeightFormat::PthLegacy);
    }
    // safetensors: u64 header length, then a JSON object.
    if bytes.len() >= 9 {
        let n = u64::from_le_bytes(bytes[..8].try_into().ok()?);
        if n > 1 && n <= (bytes.len() - 8) as u64 && bytes[8] == b'{' {
            return Some(WeightFormat::Safetensors);
        }
    }
    None
}

/// Reads every tensor of a checkpoint (on the CPU, dtypes as stored) and strips a DataParallel
/// `module.` prefix.
pub fn load_state_dict(path: &Path) -> Result<(StateDict, WeightFormat), WeightsError> {
    let bytes = std::fs::read(path).map_err(|error| WeightsError::Io {
        path: path.into(),
        error,
    })?;
    load_state_dict_bytes(&bytes, path)
}

/// [`load_state_dict`] on a checkpoint already in memory (`path` names it in errors).
pub fn load_state_dict_bytes(
    bytes: &[u8],
    path: &Path,
) -> Result<(StateDict, WeightFormat), WeightsError> {
    let format =
        detect_format(bytes).ok_or_else(|| WeightsError::UnknownFormat { path: path.into() })?;
    let entries: Vec<(String, Tensor)> = match format {
        WeightFormat::Safetensors => candle_core::safetensors::load_buffer(bytes, &Device::Cpu)
            .map_err(|e| WeightsError::Safetensors {
                path: path.into(),
                message: e.to_string(),
            })?
            .into_iter()
            .collect(),
        WeightFormat::PthZip | WeightFormat::PthLegacy => {
            load_pth_bytes(bytes).map_err(|error| WeightsError::Pth {
                path: path.into(),
                error,
            })?
        }
    };
    Ok((strip_module_prefix(entries), format))
}

/// `module.x` → `x` when every key has the prefix (checkpoints saved from `DataParallel`).
fn strip_module_prefix(entries: Vec<(String, Tensor)>) -> StateDict {
    let all_prefixed = !entries.is_empty() && entries.iter().all(|(k, _)| k.starts_with("module."));
    entries
        .into_iter()
        .map(|(k, t)| {
            let k = if all_prefixed {
                k["module.".len()..].to_string()
            } else {
                k
            };
            (k, t)
        })
        .collect()
}

/// Every way a state dict can disagree with a model, collected so one error names them all.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct KeyReport {
    pub missing: Vec<(String, Vec<usize>)>,
    pub unexpected: Vec<(String, Vec<usize>)>,
    /// (key, expected shape, found shape)
    pub misshaped: Vec<(String, Vec<usize>, Vec<usize>)>,
}

impl KeyReport {
    pub fn is_empty(&self) -> bool {
        self.missing.is_empty() && self.unexpected.is_empty() && self.misshaped.is_empty()
    }
}

impl fmt::Display for KeyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "checkpoint does not match the model: {} missing, {} unexpected, {} mis-shaped key(s)",
            self.missing.len(),
            self.unexpected.len(),
            self.misshaped.len()
        )?;
        for (k, s) in &self.missing {
            write!(f, "\n  missing:     {k} {s:?}")?;
        }
        for (k, s) in &self.unexpected {
            write!(f, "\n  unexpected:  {k} {s:?}")?;
        }
        for (k, want, got) in &self.misshaped {
            write!(
                f,
                "\n  mis-shaped:  {k}: model expects {want:?}, checkpoint has {got:?}"
            )?;
        }
        Ok(())
    }
}

/// Compares the shapes of a state dict with the expected (key, shape) list.
pub fn check_keys(
    expected: &[(String, Vec<usize>)],
    actual: &BTreeMap<String, Vec<usize>>,
) -> KeyReport {
    let mut report = KeyReport::default();
    let wanted: BTreeMap<&str, &Vec<usize>> =
        expected.iter().map(|(k, s)| (k.as_str(), s)).collect();
    for (k, want) in &wanted {
        match actual.get(*k) {
            None => report.missing.push((k.to_string(), want.to_vec())),
            Some(got) if got != *want => {
                report
                    .misshaped
                    .push((k.to_string(), want.to_vec(), got.clone()))
            }
            Some(_) => {}
        }
    }
    for (k, s) in actual {
        if !wanted.contains_key(k.as_str()) {
            report.unexpected.push((k.clone(), s.clone()));
        }
    }
    report
}

/// Checks `state` against the `expected` keys and shapes (one error naming every missing,
/// unexpected and mis-shaped key) and only then builds a model from it on `device`, in f32.
pub fn build_checked<M>(
    state: StateDict,
    expected: &[(String, Vec<usize>)],
    device: &Device,
    origin: &Path,
    build: impl FnOnce(candle_nn::VarBuilder) -> candle_core::Result<M>,
) -> Result<M, WeightsError> {
    let report = check_keys(expected, &shapes(&state));
    if !report.is_empty() {
        return Err(WeightsError::Mismatch {
            path: origin.into(),
            report,
        });
    }
    let tensors: std::collections::HashMap<String, Tensor> = state.into_iter().collect();
    let vb = candle_nn::VarBuilder::from_tensors(tensors, candle_core::DType::F32, device);
    build(vb).map_err(|e| WeightsError::Model {
        path: origin.into(),
        message: e.to_string(),
    })
}

/// The model a checkpoint describes, with the config it is built with: `cfg`, or else the one
/// `infer` reads from the state dict's shapes; the state dict is then checked against the keys
/// that config expects ([`build_checked`]). GFLA and PoNA load through this.
pub fn build_with_config<C: Clone, M, E: fmt::Display>(
    state: StateDict,
    cfg: Option<&C>,
    device: &Device,
    origin: &Path,
    infer: impl FnOnce(&BTreeMap<String, Vec<usize>>) -> Result<C, E>,
    expected_keys: impl FnOnce(&C) -> candle_core::Result<Vec<(String, Vec<usize>)>>,
    build: impl FnOnce(candle_nn::VarBuilder, &C) -> candle_core::Result<M>,
) -> Result<(M, C), WeightsError> {
    let model_err = |message: String| WeightsError::Model {
        path: origin.into(),
        message,
    };
    let cfg = match cfg {
        Some(c) => c.clone(),
        None => infer(&shapes(&state)).map_err(|e| model_err(e.to_string()))?,
    };
    let expected = expected_keys(&cfg).map_err(|e| model_err(e.to_string()))?;
    let model = build_checked(state, &expected, device, origin, |vb| build(vb, &cfg))?;
    Ok((model, cfg))
}

/// Shapes of every tensor of a state dict.
pub fn shapes(state: &StateDict) -> BTreeMap<String, Vec<usize>> {
    state
        .iter()
        .map(|(k, t)| (k.clone(), t.dims().to_vec()))
        .collect()
}

/// Parses a key list (`key d0,d1,...` per line, as in `../shared/spec/gfla_keys_*.txt`).
pub fn parse_key_list(text: &str) -> Result<BTreeMap<String, Vec<usize>>, String> {
    let mut out = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, dims) = line
            .split_once(char::is_whitespace)
            .ok_or_else(|| format!("line {}: no shape", n + 1))?;
        // `64,3,4,4` (GFLA lists) or `[64,3,4,4]` / `[]` for a scalar (PoNA lists).
        let dims = dims
            .trim()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .trim();
        let shape = if dims.is_empty() || dims == "-" {
            vec![]
        } else {
            dims.split(',')
                .map(|d| {
                    d.trim()
                        .parse::<usize>()
                        .map_err(|e| format!("line {}: `{d}`: {e}", n + 1))
                })
                .collect::<Result<Vec<_>, _>>()?
        };
        out.insert(key.to_string(), shape);
    }
    Ok(out)
}

/// Writes tensors as safetensors atomically (temporary file in the same folder, then rename).
pub fn save_safetensors(state: &StateDict, path: &Path) -> Result<(), WeightsError> {
    save_safetensors_with_metadata(state, Default::default(), path)
}

/// The `__metadata__` map of a safetensors file (empty when it has none, or for `.pth`).
pub fn safetensors_metadata(
    path: &Path,
) -> Result<std::collections::HashMap<String, String>, WeightsError> {
    let bytes = std::fs::read(path).map_err(|error| WeightsError::Io {
        path: path.into(),
        error,
    })?;
    if detect_format(&bytes) != Some(WeightFormat::Safetensors) {
        return Ok(Default::default());
    }
    let (_, meta) =
        safetensors::SafeTensors::read_metadata(&bytes).map_err(|e| WeightsError::Safetensors {
            path: path.into(),
            message: e.to_string(),
        })?;
    Ok(meta.metadata().clone().unwrap_or_default())
}

/// [`save_safetensors`] with a `__metadata__` map (e.g. the model configuration).
pub fn save_safetensors_with_metadata(
    state: &StateDict,
    metadata: std::collections::HashMap<String, String>,
    path: &Path,
) -> Result<(), WeightsError> {
    let tmp = crate::util::fs::temp_path_for(path);
    let tensors: Vec<(&str, Tensor)> = state
        .iter()
        .map(|(k, t)| Ok((k.as_str(), t.contiguous()?)))
        .collect::<candle_core::Result<_>>()
        .map_err(|e| WeightsError::Model {
            path: path.into(),
            message: e.to_string(),
        })?;
    safetensors::serialize_to_file(tensors, Some(metadata), &tmp).map_err(|e| {
        WeightsError::Safetensors {
            path: path.into(),
            message: e.to_string(),
        }
    })?;
    std::fs::rename(&tmp, path).map_err(|error| WeightsError::Io {
        path: path.into(),
        error,
    })
}
