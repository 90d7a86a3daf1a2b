//! Shared helpers for the fixture tests: where the fixtures are, loading them, comparing tensors.
#![allow(dead_code)]

use candle_core::{Device, Tensor};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The GFLA fixture folder: `$MARIONETTE_GFLA_FIXTURES`, else `../shared/fixtures/gfla`.
pub fn gfla_fixture_dir() -> PathBuf {
    match std::env::var_os("MARIONETTE_GFLA_FIXTURES") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/gfla"),
    }
}

/// Every `*.json` in `dir` (sorted), parsed, with its path. Panics with a clear message when the
/// folder is missing: the fixtures are part of the test suite, not optional.
pub fn fixture_jsons(dir: &Path) -> Vec<(PathBuf, serde_json::Value)> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("fixture folder {} unreadable: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            let v = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            (p, v)
        })
        .collect()
}

pub fn load_tensors(path: &Path) -> HashMap<String, Tensor> {
    load_tensors_on(path, &Device::Cpu)
}

/// The tensors of a safetensors file, on `device`.
pub fn load_tensors_on(path: &Path, device: &Device) -> HashMap<String, Tensor> {
    candle_core::safetensors::load(path, device)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The device the fixture parity tests run the models and ops on: `$MARIONETTE_TEST_DEVICE`
/// (`cpu`, `cuda` or `cuda:N`; a `--features cuda` build for CUDA), the CPU when unset. One
/// device per process: candle cannot mix tensors of two handles on the same GPU.
pub fn test_device() -> Device {
    static DEVICE: std::sync::OnceLock<Device> = std::sync::OnceLock::new();
    DEVICE
        .get_or_init(|| {
            let name = std::env::var("MARIONETTE_TEST_DEVICE").unwrap_or_default();
            if name.is_empty() {
                return Device::Cpu;
            }
            let dev = marionette::model::device::parse_device(&name)
                .unwrap_or_else(|e| panic!("MARIONETTE_TEST_DEVICE={name}: {e:#}"));
            println!("fixture tests on {dev:?}");
            dev
        })
        .clone()
}

/// Both on the CPU, so tensors of the test device compare with CPU-made ones.
fn on_cpu(a: &Tensor, b: &Tensor) -> (Tensor, Tensor) {
    let cpu = |t: &Tensor| t.to_device(&Device::Cpu).unwrap();
    (cpu(a), cpu(b))
}

pub fn max_abs_diff(a: &Tensor, b: &Tensor) -> f32 {
    assert_eq!(a.dims(), b.dims(), "shape mismatch");
    let (a, b) = on_cpu(a, b);
    (a - b)
        .unwrap()
        .abs()
        .unwrap()
        .flatten_all()
        .unwrap()
        .max(0)
        .unwrap()
        .to_scalar::<f32>()
        .unwrap()
}

/// Max abs diff and the fraction of elements that differ by more than `eps`.
pub fn diff_stats(a: &Tensor, b: &Tensor, eps: f32) -> (f32, f64) {
    let (a, b) = on_cpu(a, b);
    let d = (a - b)
        .unwrap()
        .abs()
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
    let max = d.iter().cloned().fold(0f32, f32::max);
    let over = d.iter().filter(|v| **v > eps).count() as f64 / d.len().max(1) as f64;
    (max, over)
}
