//! A 1x1 convolution with mostly-zero weights, skipping the zeros.
//!
//! BlazePose's detector was pruned: 38 of its 1x1 convolutions keep a quarter of their
//! weights (stored sparse, expanded by DENSIFY). A dense GEMM would multiply by the zeros;
//! here each output channel keeps its list of non-zero `(input, weight)` pairs. NHWC pixels
//! are taken in blocks of `BLOCK`: the block is transposed to channel-major, so that one
//! non-zero weight is a multiply-add over `BLOCK` contiguous pixels (four AVX registers), and
//! the result is transposed back.

use rayon::prelude::*;

use super::activate;
use crate::detect::tflite::schema::Activation;

/// Pixels per block: the accumulator stays in registers and the weight is loaded once per
/// `BLOCK` multiply-adds.
const BLOCK: usize = 32;

/// Weights sparser than this (fraction of non-zeros) take the sparse path.
pub const MAX_DENSITY: f32 = 0.5;

#[derive(Clone, Debug)]
pub struct SparsePointwise {
    /// `row_start[o]..row_start[o + 1]` index the non-zeros of output channel `o`.
    row_start: Vec<usize>,
    inputs: Vec<u32>,
    values: Vec<f32>,
    bias: Vec<f32>,
    in_channels: usize,
    activation: Activation,
}

impl SparsePointwise {
    /// From `[co, ci]` weights; `None` when they are too dense to gain anything.
    pub fn new(
        weights: &[f32],
        co: usize,
        ci: usize,
        bias: Vec<f32>,
        activation: Activation,
    ) -> Option<Self> {
        let nonzeros = weights.iter().filter(|&&w| w != 0.0).count();
        if weights.len() != co * ci || nonzeros as f32 > MAX_DENSITY * weights.len() as f32 {
            return None;
        }
        let mut row_start = Vec::with_capacity(co + 1);
        let (mut inputs, mut values) = (Vec::with_capacity(nonzeros), Vec::with_capacity(nonzeros));
        row_start.push(0);
        for row in weights.chunks_exact(ci) {
            for (i, &w) in row.iter().enumerate().filter(|(_, &w)| w != 0.0) {
                inputs.push(i as u32);
                values.push(w);
            }
            row_start.push(inputs.len());
        }
        Some(Self {
            row_start,
            inputs,
            values,
            bias,
            in_channels: ci,
            activation,
        })
    }

    /// `out[m, co] = act(bias + x[m, ci] . W^T)` for `m` NHWC pixels.
    pub fn run(&self, x: &[f32], m: usize) -> Vec<f32> {
        let (ci, co) = (self.in_channels, self.bias.len());
        let mut out = vec![0f32; m * co];
        out.par_chunks_mut(BLOCK * co)
            .zip(x.par_chunks(BLOCK * ci))
            .for_each_init(
                || (vec![0f32; ci * BLOCK], vec![0f32; co * BLOCK]),
                |(xt, ot), (out_block, x_block)| {
                    self.block(x_block, out_block, xt, ot);
                },
            );
        activate(&mut out, self.activation);
        out
    }

    /// One block of up to `BLOCK` pixels, through channel-major scratch buffers.
    fn block(&self, x: &[f32], out: &mut [f32], xt: &mut [f32], ot: &mut [f32]) {
        let (ci, co) = (self.in_channels, self.bias.len());
        let pixels = x.len() / ci;
        if pixels < BLOCK {
            xt.fill(0.0);
        }
        for (p, px) in x.chunks_exact(ci).enumerate() {
            for (i, &v) in px.iter().enumerate() {
                xt[i * BLOCK + p] = v;
            }
        }
        self.multiply(xt, ot);
        for (p, px) in out.chunks_exact_mut(co).enumerate().take(pixels) {
            for (o, v) in px.iter_mut().enumerate() {
                *v = ot[o * BLOCK + p];
            }
        }
    }

    fn multiply(&self, xt: &[f32], ot: &mut [f32]) {
        #[cfg(target_arch = "x86_64")]
        if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            // SAFETY: the CPU was just checked to have AVX2 and FMA.
            return unsafe { self.multiply_avx2(xt, ot) };
        }
        self.multiply_body::<false>(xt, ot)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    fn multiply_avx2(&self, xt: &[f32], ot: &mut [f32]) {
        self.multiply_body::<true>(xt, ot)
    }

    /// `ot[o][p] = bias[o] + sum over non-zeros (i, w) of row o: w * xt[i][p]`.
    #[inline(always)]
    fn multiply_body<const FMA: bool>(&self, xt: &[f32], ot: &mut [f32]) {
        for (o, acc_out) in ot.chunks_exact_mut(BLOCK).enumerate() {
            let mut acc = [self.bias[o]; BLOCK];
            let span = self.row_start[o]..self.row_start[o + 1];
            for (&i, &w) in self.inputs[span.clone()].iter().zip(&self.values[span]) {
                let xs: &[f32; BLOCK] = xt[i as usize * BLOCK..][..BLOCK]
                    .try_into()
                    .expect("BLOCK values");
                for p in 0..BLOCK {
                    acc[p] = if FMA {
                        xs[p].mul_add(w, acc[p])
                    } else {
                        acc[p] + xs[p] * w
                    };
                }
            }
            acc_out.copy_from_slice(&acc);
        }
    }
}
