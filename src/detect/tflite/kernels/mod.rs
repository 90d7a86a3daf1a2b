//! CPU kernels for the TFLite ops, as candle custom ops on NHWC f32 tensors.
//!
//! Why our own: TFLite graphs are NHWC while candle's convolutions are NCHW, and candle's
//! grouped convolution (its depthwise route) is about 10x slower than a direct loop. Here a
//! convolution is one GEMM on the NHWC rows (the `gemm` crate candle itself uses, with the
//! bias pre-loaded into the output and the activation applied in the same pass), and the
//! depthwise convolution is a direct loop vectorised over channels, compiled for AVX2+FMA
//! and picked at run time when the CPU has them.

pub mod conv;
pub mod depthwise;
pub mod elementwise;
pub mod sparse_pointwise;
pub mod spatial;

use candle_core::Layout;

use super::schema::{Activation, Padding, Window};

pub(crate) use crate::ops::f32_slice;

/// `(n, h, w, c)` of a rank-4 NHWC layout.
pub(crate) fn nhwc(l: &Layout, op: &str) -> candle_core::Result<(usize, usize, usize, usize)> {
    l.shape()
        .dims4()
        .map_err(|_| candle_core::Error::Msg(format!("{op}: expected NHWC, got {:?}", l.shape())))
}

/// Output size and leading padding of one spatial axis, as TFLite computes them: SAME gives
/// `ceil(in / stride)` and puts the odd padding pixel after (bottom/right), VALID uses only
/// full windows.
pub fn out_size(
    input: usize,
    kernel: usize,
    stride: usize,
    dilation: usize,
    padding: Padding,
) -> Option<(usize, usize)> {
    let span = (kernel.checked_sub(1)?).checked_mul(dilation)? + 1;
    match padding {
        Padding::Same => {
            let out = input.div_ceil(stride);
            let total = ((out.checked_sub(1)?) * stride + span).saturating_sub(input);
            Some((out, total / 2))
        }
        Padding::Valid => Some(((input.checked_sub(span)?) / stride + 1, 0)),
    }
}

/// Output `(h, w)` and leading padding `(top, left)` of a `kernel`-sized window op (convolution,
/// depthwise convolution, pooling) on an `h x w` input; `None` when the input is too small.
pub fn geometry(
    window: &Window,
    kernel: (usize, usize),
    h: usize,
    w: usize,
) -> Option<((usize, usize), (usize, usize))> {
    let (oh, pt) = out_size(
        h,
        kernel.0,
        window.stride.0,
        window.dilation.0,
        window.padding,
    )?;
    let (ow, pl) = out_size(
        w,
        kernel.1,
        window.stride.1,
        window.dilation.1,
        window.padding,
    )?;
    Some(((oh, ow), (pt, pl)))
}

/// The bias of `n` outputs (`unit` names them in the error), zeros when the op has none.
pub fn bias_or_zeros(bias: Option<&[f32]>, n: usize, unit: &str) -> Result<Vec<f32>, String> {
    match bias {
        Some(b) if b.len() == n => Ok(b.to_vec()),
        Some(b) => Err(format!("bias of length {} for {n} {unit}", b.len())),
        None => Ok(vec![0.0; n]),
    }
}

/// Applies a fused activation in place.
pub fn activate(values: &mut [f32], activation: Activation) {
    match activation {
        Activation::None => {}
        Activation::Relu => values.iter_mut().for_each(|v| *v = v.max(0.0)),
        Activation::Relu6 => values.iter_mut().for_each(|v| *v = v.clamp(0.0, 6.0)),
    }
}
