//! GFLA's custom tensor ops, as candle ops with CPU and CUDA kernels.
//!
//! The authors ship these as CUDA extensions; the formulas here follow those kernels exactly
//! (spec §6) and are checked against the reference tensors in `../shared/fixtures/gfla`.
//! Each op that carries gradients implements `bwd` with device kernels of its own (backward
//! ops with a `cpu_fwd` and a `cuda_fwd`), so training runs through the same code as inference
//! on either device. The CUDA kernels sit next to their CPU kernels (`<op>.cu`), compiled to
//! PTX by `build.rs` under the `cuda` feature (`cuda.rs` loads them).

pub mod affine_reg;
pub mod alloc;
pub mod block_extractor;
#[cfg(test)]
pub(crate) mod conv_check;
pub mod conv_matmul;
pub mod conv_taps;
pub mod cpu_mode;
#[cfg(feature = "cuda")]
pub(crate) mod cuda;
pub mod instance_norm;
pub mod local_attn;
pub mod patch_columns;
pub mod profile;
pub mod resample2d;
pub mod simd;
pub mod softmax;
pub mod tap_conv;

pub use affine_reg::affine_regularization;
pub use block_extractor::block_extractor;
pub use conv_taps::{tap_sum, up_tap_sum};
pub use instance_norm::{instance_norm_act, Activation};
pub use local_attn::{local_attention, local_attn_reshape};
pub use resample2d::resample2d;

use candle_core::{backend::BackendStorage, CpuStorage, Layout, Result};

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
