//! The keys a model loads, derived from the model code itself: building a model against a
//! VarBuilder backend that records every (name, shape) request yields exactly the checkpoint
//! keys it needs, so key lists can never drift from the code.

use candle_core::{DType, Device, Result, Shape, Tensor};
use candle_nn::var_builder::SimpleBackend;
use candle_nn::{Init, VarBuilder};
use std::sync::{Arc, Mutex};

/// (key, shape) pairs in the order they were requested.
pub type KeyShapes = Vec<(String, Vec<usize>)>;

#[derive(Default, Clone)]
struct ShapeRecorder {
    seen: Arc<Mutex<KeyShapes>>,
}

impl SimpleBackend for ShapeRecorder {
    fn get(&self, s: Shape, name: &str, _: Init, dtype: DType, dev: &Device) -> Result<Tensor> {
        self.seen
            .lock()
            .expect("recorder lock")
            .push((name.to_string(), s.dims().to_vec()));
        // A broadcast scalar: right shape, no memory. Models may do cheap tensor maths on
        // their weights at construction, which works on such views.
        Tensor::zeros((), dtype, dev)?.broadcast_as(s)
    }

    fn get_unchecked(&self, name: &str, _: DType, _: &Device) -> Result<Tensor> {
        candle_core::bail!("shape recorder: `{name}` requested without a shape")
    }

    fn contains_tensor(&self, _: &str) -> bool {
        true
    }
}

/// Every (key, shape) that `build` asks its VarBuilder for, sorted, duplicates removed.
pub fn record_keys(build: impl FnOnce(VarBuilder) -> Result<()>) -> Result<KeyShapes> {
    let rec = ShapeRecorder::default();
    build(VarBuilder::from_backend(
        Box::new(rec.clone()),
        DType::F32,
        Device::Cpu,
    ))?;
    let mut keys = rec.seen.lock().expect("recorder lock").clone();
    keys.sort();
    keys.dedup();
    Ok(keys)
}
