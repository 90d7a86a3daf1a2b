//! Direct CPU convolutions as candle ops (inference only): see [`kernel`] for the method.
//!
//! [`DirectConv`] is a stride-1 k×k `Conv2d` with zero padding, [`DirectUp`] the stride-2
//! `ConvTranspose2d(3, 2, 1, output_padding 1)`. Both hold their weights packed once, at
//! construction. They have no backward pass: the layers use them only when no gradient is
//! tracked (`Tensor::track_op`), and their candle-op path otherwise.

mod kernel;

pub use kernel::{available, split_phases, tap_conv, Geometry, Kernel, PackedTaps, PackedUp, Row};

use candle_core::{CpuStorage, CustomOp1, Layout, Result, Shape, Tensor};
use rayon::prelude::*;
use std::sync::Arc;

/// How a convolution's input is padded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Padding {
    /// Replicate the edge pixels (else zeros).
    pub replicate: bool,
    /// Top, bottom, left, right.
    pub sides: [usize; 4],
}

impl Padding {
    /// Zeros, `p` on every side (PyTorch's `padding=p`).
    pub fn zero(p: usize) -> Self {
        Self {
            replicate: false,
            sides: [p; 4],
        }
    }

    fn is_none(&self) -> bool {
        self.sides == [0; 4]
    }
}

/// Copies one image `c × h × w` into `dst` (`c × (top+h+bottom) × (left+w+right)`), borders
/// zero or replicated (only the borders are written besides the copy).
fn pad_image(src: &[f32], dims: (usize, usize, usize), pad: Padding, dst: &mut [f32]) {
    let (c, h, w) = dims;
    let [top, bottom, left, right] = pad.sides;
    let (hp, wp) = (top + h + bottom, left + w + right);
    dst[..c * hp * wp]
        .par_chunks_mut(hp * wp)
        .zip(src.par_chunks(h * w))
        .for_each(|(d, s)| {
            for (y, drow) in d.chunks_exact_mut(wp).enumerate() {
                let sy = y.saturating_sub(top).min(h - 1);
                if !pad.replicate && (y < top || y >= top + h) {
                    drow.fill(0.0);
                    continue;
                }
                let srow = &s[sy * w..(sy + 1) * w];
                let (l, r) = if pad.replicate {
                    (srow[0], srow[w - 1])
                } else {
                    (0.0, 0.0)
                };
                drow[..left].fill(l);
                drow[left..left + w].copy_from_slice(srow);
                drow[left + w..].fill(r);
            }
        });
}

/// `Conv2d(cin, cout, k, stride, padding pad)` (stride 1 or 2, zero padding) with the
/// weights packed for [`tap_conv`].
#[derive(Debug)]
pub struct DirectConv {
    packed: PackedTaps,
    bias: Vec<f32>,
    cin: usize,
    k: usize,
    stride: usize,
    pad: Padding,
}

impl DirectConv {
    /// `weight` is the PyTorch weight `(cout, cin, k, k)`, flat.
    pub fn new(
        weight: &[f32],
        (cout, cin, k): (usize, usize, usize),
        stride: usize,
        pad: Padding,
        bias: Vec<f32>,
    ) -> Result<Arc<Self>> {
        if bias.len() != cout || weight.len() != cout * cin * k * k {
            candle_core::bail!(
                "direct-conv: {} weights and {} biases for {cout}×{cin}×{k}×{k}",
                weight.len(),
                bias.len()
            );
        }
        let packed = match stride {
            1 => PackedTaps::conv(weight, cout, cin, k),
            2 => PackedTaps::conv_stride2(weight, cout, cin, k),
            s => candle_core::bail!("direct-conv: stride {s} (1 or 2)"),
        };
        Ok(Arc::new(Self {
            packed,
            bias,
            cin,
            k,
            stride,
            pad,
        }))
    }

    pub fn forward(self: &Arc<Self>, x: &Tensor) -> Result<Tensor> {
        x.apply_op1_no_bwd(&ConvOp(self.clone()))
    }
}

struct ConvOp(Arc<DirectConv>);

impl CustomOp1 for ConvOp {
    fn name(&self) -> &'static str {
        "direct-conv"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let c = &self.0;
        let (b, cin, h, w) = l.shape().dims4()?;
        let (k, cout) = (c.k, c.packed.cout());
        let [top, bottom, left, right] = c.pad.sides;
        let (hp, wp) = (top + h + bottom, left + w + right);
        if cin != c.cin || hp < k || wp < k || h * w == 0 {
            candle_core::bail!(
                "direct-conv: {cin}×{h}×{w} input for {}-channel k{k}",
                c.cin
            );
        }
        let x = crate::ops::f32_slice(s, l, self.name())?;
        // Stride 2 runs over the four phases of the padded input, each ⌈hp/2⌉ × ⌈wp/2⌉.
        let g = match c.stride {
            1 => Geometry {
                hp,
                wp,
                ho: hp - k + 1,
                wo: wp - k + 1,
            },
            _ => Geometry {
                hp: hp.div_ceil(2),
                wp: wp.div_ceil(2),
                ho: (hp - k) / 2 + 1,
                wo: (wp - k) / 2 + 1,
            },
        };
        let mut out = vec![0f32; b * cout * g.ho * g.wo];
        let padding = !c.pad.is_none();
        let mut padded = vec![0f32; if padding { cin * hp * wp } else { 0 }];
        let mut phases = vec![
            0f32;
            if c.stride == 2 {
                4 * cin * g.hp * g.wp
            } else {
                0
            }
        ];
        for (img, o) in x
            .chunks_exact(cin * h * w)
            .zip(out.chunks_exact_mut(cout * g.ho * g.wo))
        {
            let mut src = img;
            if padding {
                pad_image(img, (cin, h, w), c.pad, &mut padded);
                src = &padded[..];
            }
            if c.stride == 2 {
                split_phases(src, cin, hp, wp, &mut phases);
                src = &phases[..];
            }
            tap_conv(src, g, &c.packed, &c.bias, o, Kernel::Simd)
                .map_err(candle_core::Error::msg)?;
        }
        Ok((CpuStorage::F32(out), Shape::from((b, cout, g.ho, g.wo))))
    }
}

/// `ConvTranspose2d(cin, cout, 3, stride 2, padding 1, output_padding 1)`, packed.
#[derive(Debug)]
pub struct DirectUp {
    packed: PackedUp,
    bias: Vec<f32>,
    cin: usize,
    cout: usize,
}

impl DirectUp {
    /// `weight` is the PyTorch weight `(cin, cout, 3, 3)`, flat.
    pub fn new(cin: usize, cout: usize, weight: &[f32], bias: Vec<f32>) -> Arc<Self> {
        Arc::new(Self {
            packed: PackedUp::new(weight, cin, cout),
            bias,
            cin,
            cout,
        })
    }

    pub fn forward(self: &Arc<Self>, x: &Tensor) -> Result<Tensor> {
        x.apply_op1_no_bwd(&UpOp(self.clone()))
    }
}

struct UpOp(Arc<DirectUp>);

impl CustomOp1 for UpOp {
    fn name(&self) -> &'static str {
        "direct-up-conv"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let u = &self.0;
        let (b, cin, h, w) = l.shape().dims4()?;
        if cin != u.cin || h * w == 0 {
            candle_core::bail!(
                "direct-up-conv: {cin} channels for a {}-channel layer",
                u.cin
            );
        }
        let x = crate::ops::f32_slice(s, l, self.name())?;
        let mut out = vec![0f32; b * u.cout * 4 * h * w];
        let mut padded = vec![0f32; cin * (h + 1) * (w + 1)];
        let mut scratch = Vec::new();
        for (img, o) in x
            .chunks_exact(cin * h * w)
            .zip(out.chunks_exact_mut(u.cout * 4 * h * w))
        {
            let pad = Padding {
                replicate: false,
                sides: [0, 1, 0, 1],
            };
            pad_image(img, (cin, h, w), pad, &mut padded);
            u.packed
                .forward(&padded, h, w, &u.bias, o, &mut scratch, Kernel::Simd)
                .map_err(candle_core::Error::msg)?;
        }
        Ok((CpuStorage::F32(out), Shape::from((b, u.cout, 2 * h, 2 * w))))
    }
}
