//! Data-movement ops on NHWC tensors: PAD, MAX_POOL_2D, RESIZE_BILINEAR, DEPTH_TO_SPACE.

use candle_core::{CpuStorage, CustomOp1, Layout, Result, Shape};
use rayon::prelude::*;

use super::{activate, f32_slice, geometry, nhwc};
use crate::detect::tflite::schema::{Activation, Window};

/// Zero padding of any rank: `pads[d] = (before, after)`.
#[derive(Clone, Debug)]
pub struct Pad(pub Vec<(usize, usize)>);

impl Pad {
    pub fn out_shape(&self, shape: &[usize]) -> Option<Vec<usize>> {
        (shape.len() == self.0.len()).then(|| {
            shape
                .iter()
                .zip(&self.0)
                .map(|(d, (a, b))| d + a + b)
                .collect()
        })
    }
}

impl CustomOp1 for Pad {
    fn name(&self) -> &'static str {
        "tflite-pad"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = f32_slice(s, l, self.name())?;
        let dims = l.shape().dims();
        let Some(out_dims) = self.out_shape(dims) else {
            candle_core::bail!("pad: {} paddings for rank {}", self.0.len(), dims.len());
        };
        let mut out = vec![0f32; out_dims.iter().product()];
        // Everything after the last padded dimension is copied as one contiguous run.
        let Some(d) = self.0.iter().rposition(|&(a, b)| a > 0 || b > 0) else {
            out.copy_from_slice(x);
            return Ok((CpuStorage::F32(out), Shape::from(out_dims)));
        };
        let inner: usize = dims[d + 1..].iter().product();
        let run = dims[d] * inner;
        let mut index = vec![0usize; d];
        for src in x.chunks_exact(run) {
            let mut dst = 0;
            for k in 0..d {
                dst = dst * out_dims[k] + index[k] + self.0[k].0;
            }
            dst = (dst * out_dims[d] + self.0[d].0) * inner;
            out[dst..dst + run].copy_from_slice(src);
            // Next row: an odometer over the leading dimensions.
            for k in (0..d).rev() {
                index[k] += 1;
                if index[k] < dims[k] {
                    break;
                }
                index[k] = 0;
            }
        }
        Ok((CpuStorage::F32(out), Shape::from(out_dims)))
    }
}

/// Max pooling; positions in SAME padding are ignored (they do not count as zeros).
#[derive(Clone, Copy, Debug)]
pub struct MaxPool {
    pub filter: (usize, usize),
    pub window: Window,
    pub activation: Activation,
}

impl MaxPool {
    /// Output `(h, w)` and leading padding `(top, left)`.
    pub fn geometry(&self, h: usize, w: usize) -> Option<((usize, usize), (usize, usize))> {
        geometry(&self.window, self.filter, h, w)
    }
}

impl CustomOp1 for MaxPool {
    fn name(&self) -> &'static str {
        "tflite-max-pool"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let (n, h, w, c) = nhwc(l, self.name())?;
        let x = f32_slice(s, l, self.name())?;
        let Some(((oh, ow), (pt, pl))) = self.geometry(h, w) else {
            candle_core::bail!("max pool: a {h}x{w} input is smaller than the window");
        };
        let (sh, sw) = self.window.stride;
        let mut out = vec![f32::NEG_INFINITY; n * oh * ow * c];
        for (pixel, acc) in out.chunks_exact_mut(c).enumerate() {
            let (b, oy, ox) = (pixel / (oh * ow), (pixel / ow) % oh, pixel % ow);
            for ky in 0..self.filter.0 {
                let Some(iy) = (oy * sh + ky).checked_sub(pt).filter(|&y| y < h) else {
                    continue;
                };
                for kx in 0..self.filter.1 {
                    let Some(ix) = (ox * sw + kx).checked_sub(pl).filter(|&x| x < w) else {
                        continue;
                    };
                    let src = &x[((b * h + iy) * w + ix) * c..][..c];
                    acc.iter_mut().zip(src).for_each(|(a, &v)| *a = a.max(v));
                }
            }
        }
        activate(&mut out, self.activation);
        Ok((CpuStorage::F32(out), Shape::from((n, oh, ow, c))))
    }
}

/// Bilinear resize to `(out_h, out_w)`, TensorFlow's conventions (half-pixel centres or the
/// legacy top-left alignment; `align_corners` maps corner pixel centres onto each other).
#[derive(Clone, Copy, Debug)]
pub struct ResizeBilinear {
    pub size: (usize, usize),
    pub align_corners: bool,
    pub half_pixel_centers: bool,
}

/// For each output index along one axis: `(lower, upper, weight of upper)`.
fn axis_taps(
    input: usize,
    output: usize,
    align_corners: bool,
    half_pixel: bool,
) -> Vec<(usize, usize, f32)> {
    let scale = if align_corners && output > 1 {
        (input - 1) as f32 / (output - 1) as f32
    } else {
        input as f32 / output as f32
    };
    (0..output)
        .map(|o| {
            let pos = if half_pixel {
                (o as f32 + 0.5) * scale - 0.5
            } else {
                o as f32 * scale
            };
            let floor = pos.floor();
            // TFLite clamps the taps, not the position: left of the first centre both taps
            // are pixel 0, so the (then negative) weight does not matter.
            let lower = (floor.max(0.0) as usize).min(input - 1);
            let upper = (pos.ceil().max(0.0) as usize).min(input - 1);
            (lower, upper, pos - floor)
        })
        .collect()
}

impl CustomOp1 for ResizeBilinear {
    fn name(&self) -> &'static str {
        "tflite-resize-bilinear"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let (n, h, w, c) = nhwc(l, self.name())?;
        let x = f32_slice(s, l, self.name())?;
        let (oh, ow) = self.size;
        if h == 0 || w == 0 || oh == 0 || ow == 0 {
            candle_core::bail!("resize: {h}x{w} to {oh}x{ow}");
        }
        let ys = axis_taps(h, oh, self.align_corners, self.half_pixel_centers);
        let xs = axis_taps(w, ow, self.align_corners, self.half_pixel_centers);
        let mut out = vec![0f32; n * oh * ow * c];
        // One output row per task: the segmentation head resizes 128x128 and 256x256 maps,
        // which took whole milliseconds on one core.
        out.par_chunks_mut(ow * c)
            .enumerate()
            .for_each(|(row, dst_row)| {
                let (b, oy) = (row / oh, row % oh);
                let (y0, y1, fy) = ys[oy];
                let img = &x[b * h * w * c..(b + 1) * h * w * c];
                let at = |y: usize, x: usize| &img[(y * w + x) * c..][..c];
                for (dst, &(x0, x1, fx)) in dst_row.chunks_exact_mut(c).zip(&xs) {
                    let (a, bb, cc, d) = (at(y0, x0), at(y0, x1), at(y1, x0), at(y1, x1));
                    for i in 0..c {
                        let top = a[i] + (bb[i] - a[i]) * fx;
                        let bottom = cc[i] + (d[i] - cc[i]) * fx;
                        dst[i] = top + (bottom - top) * fy;
                    }
                }
            });
        Ok((CpuStorage::F32(out), Shape::from((n, oh, ow, c))))
    }
}

/// DEPTH_TO_SPACE in TensorFlow's channel order: input channel `(by * block + bx) * c + ci`
/// moves to output pixel `(y * block + by, x * block + bx)`, channel `ci`.
#[derive(Clone, Copy, Debug)]
pub struct DepthToSpace(pub usize);

impl CustomOp1 for DepthToSpace {
    fn name(&self) -> &'static str {
        "tflite-depth-to-space"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let (n, h, w, c) = nhwc(l, self.name())?;
        let x = f32_slice(s, l, self.name())?;
        let b = self.0;
        if b == 0 || c % (b * b) != 0 {
            candle_core::bail!("depth to space: {c} channels are not a multiple of {b}x{b}");
        }
        let co = c / (b * b);
        let (oh, ow) = (h * b, w * b);
        let mut out = vec![0f32; n * oh * ow * co];
        for (pixel, src) in x.chunks_exact(c).enumerate() {
            let (bi, y, xx) = (pixel / (h * w), (pixel / w) % h, pixel % w);
            for by in 0..b {
                for bx in 0..b {
                    let dst = ((bi * oh + y * b + by) * ow + xx * b + bx) * co;
                    let from = (by * b + bx) * co;
                    out[dst..dst + co].copy_from_slice(&src[from..from + co]);
                }
            }
        }
        Ok((CpuStorage::F32(out), Shape::from((n, oh, ow, co))))
    }
}
