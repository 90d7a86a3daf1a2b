//! Direct CPU convolutions as candle ops (inference only): see `kernel/mod.rs` for the method.
//!
//! [`DirectConv`] is a stride-1 k×k `Conv2d` with zero padding, [`DirectUp`] the stride-2
//! `ConvTranspose2d(3, 2, 1, output_padding 1)`. Both hold their weights packed once, at
//! construction. They have no backward pass: the layers use them only when no gradient is
//! tracked (`Tensor::track_op`), and their candle-op path otherwise.

mod kernel;
pub mod train;
mod winograd;

use winograd::{Tile, Winograd};

pub use kernel::{available, split_phases, tap_conv, Geometry, Isa, PackedTaps, PackedUp, Row};

use crate::ops::alloc::output_buffer;
use candle_core::{CpuStorage, CustomOp1, Layout, Result, Shape, Tensor};
use rayon::prelude::*;
use std::sync::Arc;

/// What the border of a padded input holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PadMode {
    Zero,
    /// The edge pixel repeated (bilinear sampling clamped at the border).
    Replicate,
    /// Mirrored about the edge pixel, which is not repeated (PyTorch's `ReflectionPad2d`).
    Reflect,
}

/// How a convolution's input is padded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Padding {
    pub mode: PadMode,
    /// Top, bottom, left, right.
    pub sides: [usize; 4],
}

impl Padding {
    /// Zeros, `p` on every side (PyTorch's `padding=p`).
    pub fn zero(p: usize) -> Self {
        Self {
            mode: PadMode::Zero,
            sides: [p; 4],
        }
    }

    /// `ReflectionPad2d(p)`.
    pub fn reflect(p: usize) -> Self {
        Self {
            mode: PadMode::Reflect,
            sides: [p; 4],
        }
    }

    fn is_none(&self) -> bool {
        self.sides == [0; 4]
    }
}

/// The source index of padded position `i` along an axis of `n` values with `before` added in
/// front; `None` for a zero. Reflection needs `before, after < n` (checked by the caller).
fn pad_source(i: usize, before: usize, n: usize, mode: PadMode) -> Option<usize> {
    let j = i as isize - before as isize;
    let last = n as isize - 1;
    match mode {
        PadMode::Zero => (0..n as isize).contains(&j).then_some(j as usize),
        PadMode::Replicate => Some(j.clamp(0, last) as usize),
        PadMode::Reflect => Some(if j < 0 {
            -j
        } else if j > last {
            2 * last - j
        } else {
            j
        } as usize),
    }
}

/// Copies one image `c × h × w` into `dst` (`c × (top+h+bottom) × (left+w+right)`) with the
/// border `pad` asks for.
fn pad_image(src: &[f32], dims: (usize, usize, usize), pad: Padding, dst: &mut [f32]) {
    let (c, h, w) = dims;
    let [top, bottom, left, right] = pad.sides;
    let (hp, wp) = (top + h + bottom, left + w + right);
    let cols: Vec<Option<usize>> = (0..left)
        .chain(left + w..wp)
        .map(|x| pad_source(x, left, w, pad.mode))
        .collect();
    dst[..c * hp * wp]
        .par_chunks_mut(hp * wp)
        .zip(src.par_chunks(h * w))
        .for_each(|(d, s)| {
            for (y, drow) in d.chunks_exact_mut(wp).enumerate() {
                let Some(sy) = pad_source(y, top, h, pad.mode) else {
                    drow.fill(0.0);
                    continue;
                };
                let srow = &s[sy * w..(sy + 1) * w];
                drow[left..left + w].copy_from_slice(srow);
                let border = (0..left).chain(left + w..wp);
                for (x, sx) in border.zip(&cols) {
                    drow[x] = sx.map_or(0.0, |sx| srow[sx]);
                }
            }
        });
}

/// `Conv2d(cin, cout, k, stride, padding pad)` (stride 1 or 2, zero padding) with the
/// weights packed for [`tap_conv`] or for Winograd's algorithm.
#[derive(Debug)]
pub struct DirectConv {
    weights: Weights,
    isa: Isa,
    bias: Vec<f32>,
    cin: usize,
    cout: usize,
    k: usize,
    stride: usize,
    pad: Padding,
}

/// A layer's weights, held one way only: a 512-channel layer's are 9 MB for the direct kernel
/// and 38 MB in F(4×4)'s domain.
#[derive(Debug)]
enum Weights {
    /// Packed for [`tap_conv`].
    Direct(PackedTaps),
    /// Winograd's F(m×m, 3×3), for 3×3 stride-1 layers of at least [`WINOGRAD_FROM`]
    /// channels in and out.
    Winograd(Winograd),
}

impl DirectConv {
    /// `weight` is the PyTorch weight `(cout, cin, k, k)`, flat; packed for the tiles of
    /// [`crate::ops::simd::isa`].
    pub fn new(
        weight: &[f32],
        shape: (usize, usize, usize),
        stride: usize,
        pad: Padding,
        bias: Vec<f32>,
    ) -> Result<Arc<Self>> {
        let isa = crate::ops::simd::isa();
        Self::new_on(weight, shape, stride, pad, bias, isa)
    }

    /// As [`Self::new`], packed for (and run on) the tiles of `isa`: each tile's tests, and
    /// training's backward on the forward's set.
    pub fn new_on(
        weight: &[f32],
        (cout, cin, k): (usize, usize, usize),
        stride: usize,
        pad: Padding,
        bias: Vec<f32>,
        isa: Isa,
    ) -> Result<Arc<Self>> {
        if bias.len() != cout || weight.len() != cout * cin * k * k {
            candle_core::bail!(
                "direct-conv: {} weights and {} biases for {cout}×{cin}×{k}×{k}",
                weight.len(),
                bias.len()
            );
        }
        let tile = (stride == 1 && k == 3)
            .then(|| winograd_tile(cin, cout))
            .flatten();
        let weights = match (stride, tile) {
            (1, Some(tile)) => Weights::Winograd(Winograd::new(weight, cout, cin, tile, isa)),
            (1, None) => Weights::Direct(PackedTaps::conv(weight, cout, cin, k, isa)),
            (2, _) => Weights::Direct(PackedTaps::conv_stride2(weight, cout, cin, k, isa)),
            (s, _) => candle_core::bail!("direct-conv: stride {s} (1 or 2)"),
        };
        Ok(Arc::new(Self {
            weights,
            isa,
            bias,
            cin,
            cout,
            k,
            stride,
            pad,
        }))
    }

    pub fn forward(self: &Arc<Self>, x: &Tensor) -> Result<Tensor> {
        self.forward_padded(x, self.pad)
    }

    /// As [`Self::forward`] with `pad` in place of the layer's own padding (a reflection pad
    /// that the model applies before the convolution, folded into its input copy).
    pub fn forward_padded(self: &Arc<Self>, x: &Tensor, pad: Padding) -> Result<Tensor> {
        x.apply_op1_no_bwd(&ConvOp(self.clone(), pad))
    }
}

/// Layers with at least this many input and output channels take Winograd's algorithm when
/// 3×3 and stride 1: below it the transforms' memory passes cost more than the products
/// they save.
const WINOGRAD_FROM: usize = 256;

/// Which Winograd filtering a 3×3 stride-1 layer of `cin → cout` channels runs by, if any:
/// F(4×4, 3×3); `MARIONETTE_WINOGRAD=2` takes F(2×2, 3×3) and `=0` keeps every layer on the
/// direct kernel, to compare.
fn winograd_tile(cin: usize, cout: usize) -> Option<Tile> {
    static CHOICE: std::sync::OnceLock<Option<Tile>> = std::sync::OnceLock::new();
    let choice = *CHOICE.get_or_init(|| match std::env::var("MARIONETTE_WINOGRAD").as_deref() {
        Ok("0") => None,
        Ok("2") => Some(Tile::F2),
        _ => Some(Tile::F4),
    });
    choice.filter(|_| cin >= WINOGRAD_FROM && cout >= WINOGRAD_FROM)
}

/// Which Winograd filtering wide layers take, for `bench`'s report of the path that ran.
pub fn winograd_label() -> String {
    match winograd_tile(WINOGRAD_FROM, WINOGRAD_FROM) {
        Some(tile) => {
            let m = tile.m();
            format!("3×3 layers of ≥ {WINOGRAD_FROM} channels by Winograd F({m}×{m}, 3×3)")
        }
        None => "no Winograd (MARIONETTE_WINOGRAD=0)".to_string(),
    }
}

struct ConvOp(Arc<DirectConv>, Padding);

impl CustomOp1 for ConvOp {
    fn name(&self) -> &'static str {
        "direct-conv"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        run_conv(&self.0, self.1, s, l)
    }
}

/// `c` over the images of `s` (B, cin, H, W) with the border `pad`.
fn run_conv(
    c: &DirectConv,
    pad: Padding,
    s: &CpuStorage,
    l: &Layout,
) -> Result<(CpuStorage, Shape)> {
    let (b, cin, h, w) = l.shape().dims4()?;
    let (k, cout) = (c.k, c.cout);
    let [top, bottom, left, right] = pad.sides;
    let (hp, wp) = (top + h + bottom, left + w + right);
    if cin != c.cin || hp < k || wp < k || h * w == 0 {
        candle_core::bail!(
            "direct-conv: {cin}×{h}×{w} input for {}-channel k{k}",
            c.cin
        );
    }
    if pad.mode == PadMode::Reflect && (top.max(bottom) >= h || left.max(right) >= w) {
        candle_core::bail!(
            "direct-conv: reflection padding {:?} of a {h}×{w} map",
            pad.sides
        );
    }
    let x = crate::ops::f32_slice(s, l, "direct-conv")?;
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
    // Written whole by `tap_conv` (every tile of the first K chunk stores without
    // accumulating), `pad_image` and `split_phases` (every row, borders included).
    let mut out = output_buffer(b * cout * g.ho * g.wo);
    let padding = !pad.is_none();
    let mut padded = output_buffer(if padding { cin * hp * wp } else { 0 });
    let mut phases = output_buffer(if c.stride == 2 {
        4 * cin * g.hp * g.wp
    } else {
        0
    });
    for (img, o) in x
        .chunks_exact(cin * h * w)
        .zip(out.chunks_exact_mut(cout * g.ho * g.wo))
    {
        let mut src = img;
        if padding {
            pad_image(img, (cin, h, w), pad, &mut padded);
            src = &padded[..];
        }
        if c.stride == 2 {
            split_phases(src, cin, hp, wp, &mut phases);
            src = &phases[..];
        }
        match &c.weights {
            Weights::Winograd(wg) => wg.run(src, hp, wp, &c.bias, o, c.isa),
            Weights::Direct(packed) => tap_conv(src, g, packed, &c.bias, o, c.isa),
        }
        .map_err(candle_core::Error::msg)?;
    }
    Ok((CpuStorage::F32(out), Shape::from((b, cout, g.ho, g.wo))))
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
    /// `weight` is the PyTorch weight `(cin, cout, 3, 3)`, flat; packed for the tiles of
    /// [`crate::ops::simd::isa`].
    pub fn new(cin: usize, cout: usize, weight: &[f32], bias: Vec<f32>) -> Arc<Self> {
        Self::new_on(cin, cout, weight, bias, crate::ops::simd::isa())
    }

    /// As [`Self::new`], packed for (and run on) the tiles of `isa`.
    pub fn new_on(cin: usize, cout: usize, weight: &[f32], bias: Vec<f32>, isa: Isa) -> Arc<Self> {
        Arc::new(Self {
            packed: PackedUp::new(weight, cin, cout, isa),
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
        // Written whole by `PackedUp::forward` and `pad_image`, as in `ConvOp`.
        let mut out = output_buffer(b * u.cout * 4 * h * w);
        let mut padded = output_buffer(cin * (h + 1) * (w + 1));
        let mut scratch = Vec::new();
        for (img, o) in x
            .chunks_exact(cin * h * w)
            .zip(out.chunks_exact_mut(u.cout * 4 * h * w))
        {
            let pad = Padding {
                mode: PadMode::Zero,
                sides: [0, 1, 0, 1],
            };
            pad_image(img, (cin, h, w), pad, &mut padded);
            u.packed
                .forward(&padded, (h, w), &u.bias, o, &mut scratch)
                .map_err(candle_core::Error::msg)?;
        }
        Ok((CpuStorage::F32(out), Shape::from((b, u.cout, 2 * h, 2 * w))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::conv_check::max_diff;
    use candle_core::Device;

    /// Random (2, cin, h, w) input, weights of `wshape` and a bias of `cout`, all flat too.
    fn random(
        (cin, h, w): (usize, usize, usize),
        wshape: (usize, usize, usize, usize),
        cout: usize,
    ) -> Result<(Tensor, Tensor, Tensor)> {
        let dev = Device::Cpu;
        Ok((
            Tensor::randn(0f32, 1.0, (2, cin, h, w), &dev)?,
            Tensor::randn(0f32, 0.2, wshape, &dev)?,
            Tensor::randn(0f32, 1.0, cout, &dev)?,
        ))
    }

    /// A layer as wide as PoNA's takes Winograd's F(4×4, 3×3) (unless `MARIONETTE_WINOGRAD`
    /// says otherwise) and equals candle's `conv2d` on every tile: within 4e-5 of the
    /// outputs' largest magnitude (about ±45 here, from 2304 products per output). Measured:
    /// 1.2e-5 with F(4×4), whose transforms' entries up to 8 and down to ⅟24 round more, 7e-7
    /// with F(2×2) and 5e-7 on the direct kernel; a wrong transform would be off by whole
    /// units.
    #[test]
    fn wide_layers_take_winograd_and_match_candle() -> Result<()> {
        let (cin, cout, h, w) = (WINOGRAD_FROM, WINOGRAD_FROM, 10, 21);
        let (x, wt, b) = random((cin, h, w), (cout, cin, 3, 3), cout)?;
        let want = x
            .conv2d(&wt, 1, 1, 1, 1)?
            .broadcast_add(&b.reshape((1, cout, 1, 1))?)?;
        let scale = want.abs()?.flatten_all()?.max(0)?.to_scalar::<f32>()?;
        let flat = wt.flatten_all()?.to_vec1::<f32>()?;
        let chosen = winograd_tile(cin, cout);
        if std::env::var_os("MARIONETTE_WINOGRAD").is_none() {
            assert_eq!(chosen, Some(Tile::F4));
        }
        for isa in crate::ops::simd::testable() {
            let conv = DirectConv::new_on(
                &flat,
                (cout, cin, 3),
                1,
                Padding::zero(1),
                b.to_vec1()?,
                isa,
            )?;
            let tile = match &conv.weights {
                Weights::Winograd(wg) => Some(wg.tile()),
                Weights::Direct(_) => None,
            };
            assert_eq!(tile, chosen);
            let d = max_diff(&conv.forward(&x)?, &want);
            eprintln!("{isa:?} {chosen:?}: {d} of {scale}");
            assert!(d < 4e-5 * scale, "{isa:?} {chosen:?}: {d} of {scale}");
        }
        Ok(())
    }

    /// The candle ops on every tile this CPU runs equal candle's `conv2d` (stride 1 and 2,
    /// kernels 1, 3, 4, 7) and `conv_transpose2d`, with 1 to 4 output channels (the narrow
    /// tiles), partial and several blocks, and widths that leave every kind of tail.
    #[test]
    fn direct_ops_match_candle_on_every_tile() -> Result<()> {
        let isas = crate::ops::simd::testable();
        // (cin, cout, k, stride, pad, h, w)
        for (cin, cout, k, stride, pad, h, w) in [
            (5, 1, 3, 1, 1, 9, 27),
            (4, 2, 3, 1, 1, 6, 33),
            (6, 3, 3, 1, 1, 5, 50),
            (3, 4, 3, 1, 1, 7, 19),
            (7, 13, 3, 1, 1, 6, 35),
            (4, 9, 1, 1, 0, 3, 17),
            (3, 6, 7, 1, 3, 9, 23),
            (5, 7, 4, 2, 1, 10, 34),
            (4, 3, 3, 2, 1, 9, 27),
            (6, 11, 3, 2, 1, 8, 49),
        ] {
            let (x, wt, b) = random((cin, h, w), (cout, cin, k, k), cout)?;
            let want = x
                .conv2d(&wt, pad, stride, 1, 1)?
                .broadcast_add(&b.reshape((1, cout, 1, 1))?)?;
            let flat = wt.flatten_all()?.to_vec1::<f32>()?;
            for &isa in &isas {
                let conv = DirectConv::new_on(
                    &flat,
                    (cout, cin, k),
                    stride,
                    Padding::zero(pad),
                    b.to_vec1()?,
                    isa,
                )?;
                let got = conv.forward(&x)?;
                let case = format!("{isa:?} {cin}→{cout} k{k} s{stride} {h}×{w}");
                assert_eq!(got.dims(), want.dims(), "{case}");
                assert!(max_diff(&got, &want) < 1e-4, "{case}");
            }
        }
        for (cin, cout, h, w) in [(5, 3, 4, 13), (3, 2, 5, 9), (6, 7, 3, 21), (4, 14, 6, 5)] {
            let (x, wt, b) = random((cin, h, w), (cin, cout, 3, 3), cout)?;
            let want = x
                .conv_transpose2d(&wt, 1, 1, 2, 1)?
                .broadcast_add(&b.reshape((1, cout, 1, 1))?)?;
            let flat = wt.flatten_all()?.to_vec1::<f32>()?;
            for &isa in &isas {
                let up = DirectUp::new_on(cin, cout, &flat, b.to_vec1()?, isa);
                let got = up.forward(&x)?;
                let case = format!("{isa:?} up {cin}→{cout} {h}×{w}");
                assert_eq!(got.dims(), want.dims(), "{case}");
                assert!(max_diff(&got, &want) < 1e-4, "{case}");
            }
        }
        Ok(())
    }
}
