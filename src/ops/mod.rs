//! GFLA's custom tensor ops, as candle ops with CPU kernels.
//!
//! The authors ship these as CUDA extensions; the formulas here follow those kernels exactly
//! (spec §6) and are checked against the reference tensors in `../shared/fixtures/gfla`.
//! Each op that carries gradients (`block_extractor`) implements `bwd`, so training runs through
//! the same code as inference. A CUDA kernel slots in as `cuda_fwd` under the `cuda` feature;
//! until then, CUDA tensors take the CPU kernels through a device round trip (see [`cpu_roundtrip`]).

pub mod affine_reg;
pub mod block_extractor;
pub mod conv_taps;
pub mod local_attn;
pub mod resample2d;

pub use affine_reg::affine_regularization;
pub use block_extractor::block_extractor;
pub use conv_taps::{tap_sum, up_tap_sum};
pub use local_attn::{local_attention, local_attn_reshape};
pub use resample2d::resample2d;

use candle_core::{backend::BackendStorage, CpuStorage, Layout, Result, Tensor};

/// A contiguous f32 view of a CPU storage (custom ops are only defined for f32).
pub(crate) fn f32_slice<'a>(s: &'a CpuStorage, l: &Layout, op: &str) -> Result<&'a [f32]> {
    let data = match s {
        CpuStorage::F32(v) => v.as_slice(),
        other => candle_core::bail!("{op}: expected f32 input, got {:?}", other.dtype()),
    };
    match l.contiguous_offsets() {
        Some((start, end)) => Ok(&data[start..end]),
        None => candle_core::bail!("{op}: input must be contiguous"),
    }
}

/// Runs `f` on CPU copies of the inputs when they live on another device and moves the result
/// back. This is the fallback for ops that have no device kernel yet: correct, not fast.
pub(crate) fn cpu_roundtrip<const N: usize>(
    inputs: [&Tensor; N],
    f: impl FnOnce([Tensor; N]) -> Result<Tensor>,
) -> Result<Tensor> {
    let device = inputs[0].device().clone();
    if device.is_cpu() {
        return f(inputs.map(|t| t.clone()));
    }
    let mut cpu = Vec::with_capacity(N);
    for t in inputs {
        cpu.push(t.to_device(&candle_core::Device::Cpu)?);
    }
    let cpu: [Tensor; N] = cpu.try_into().expect("length N");
    f(cpu)?.to_device(&device)
}
