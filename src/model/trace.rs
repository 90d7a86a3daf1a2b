//! Optional capture of intermediate tensors by name (the names the reference fixtures use, e.g.
//! `inter.source.block0`). Off by default, so the normal forward pass pays nothing.

use candle_core::Tensor;
use std::collections::BTreeMap;

#[derive(Debug, Default)]
pub struct Tracer {
    tensors: Option<BTreeMap<String, Tensor>>,
}

impl Tracer {
    /// A tracer that records nothing.
    pub fn off() -> Self {
        Self { tensors: None }
    }

    /// A tracer that keeps every recorded tensor.
    pub fn on() -> Self {
        Self {
            tensors: Some(BTreeMap::new()),
        }
    }

    /// Records `t` under the name built by `name` (only called when tracing is on).
    pub fn record(&mut self, name: impl FnOnce() -> String, t: &Tensor) {
        if let Some(map) = &mut self.tensors {
            map.insert(name(), t.clone());
        }
    }

    pub fn get(&self, name: &str) -> Option<&Tensor> {
        self.tensors.as_ref()?.get(name)
    }

    pub fn into_map(self) -> BTreeMap<String, Tensor> {
        self.tensors.unwrap_or_default()
    }
}
