//! The local attention block's patches in column form, for inference on the CPU.
//!
//! [`super::block_extractor()`] lays the k×k patches out as an image (B, C, h·k, w·k), which the
//! kernel predictor then has to permute into one row per cell: at GFLA's 64×64 level with k = 5
//! that permute alone moved 2 × 100 MB per pass (~90 ms of ~500). Here the same bilinear samples
//! (the same taps, the same arithmetic, so the same values) are written once as
//! (B, C·k², h·w): row (c, i, j), one column per cell. That is directly the right operand of the
//! kernel predictor's matrix product, and [`pooled_columns`] reads it with unit stride.
//! No gradients: training keeps the image layout and its differentiable ops.

use super::block_extractor::{compute_taps, Dims};
use candle_core::{CpuStorage, CustomOp2, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

struct Columns {
    k: usize,
}

impl CustomOp2 for Columns {
    fn name(&self) -> &'static str {
        "patch-columns"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let d = Dims::from_shapes(l1.shape(), l2.shape(), self.k)?;
        let source = super::f32_slice(s1, l1, self.name())?;
        let flow = super::f32_slice(s2, l2, self.name())?;
        let (k, cells) = (d.k, d.hf * d.wf);
        let wo = d.wf * k;
        let src_plane = d.hs * d.ws;
        // Every column value is written by the tap loop below.
        let mut out = super::alloc::output_buffer(d.b * d.c * k * k * cells);
        for b in 0..d.b {
            let taps = compute_taps(&d, &flow[b * 2 * cells..(b + 1) * 2 * cells]);
            // Taps reordered to (i, j, cell), the order the columns are written in.
            let taps: Vec<_> = (0..k * k * cells)
                .map(|n| {
                    let (ij, cell) = (n / cells, n % cells);
                    let (yo, xo) = ((cell / d.wf) * k + ij / k, (cell % d.wf) * k + ij % k);
                    taps[yo * wo + xo]
                })
                .collect();
            out[b * d.c * k * k * cells..(b + 1) * d.c * k * k * cells]
                .par_chunks_mut(k * k * cells)
                .enumerate()
                .for_each(|(c, o)| {
                    let s = &source[(b * d.c + c) * src_plane..(b * d.c + c + 1) * src_plane];
                    for (o, t) in o.iter_mut().zip(&taps) {
                        let mut v = t.w[0] * s[t.idx[0] as usize];
                        v += t.w[1] * s[t.idx[1] as usize];
                        v += t.w[2] * s[t.idx[2] as usize];
                        v += t.w[3] * s[t.idx[3] as usize];
                        *o = v;
                    }
                });
        }
        Ok((CpuStorage::F32(out), Shape::from((d.b, d.c * k * k, cells))))
    }
}

/// `patch_columns(source (B,C,Hs,Ws), flow (B,2,h,w), k) -> (B, C·k², h·w)`: the values of
/// `block_extractor(source, flow, k)` with patch element (i, j) of cell n at row c·k² + i·k + j,
/// column n. CPU only, no gradient.
pub fn patch_columns(source: &Tensor, flow: &Tensor, k: usize) -> Result<Tensor> {
    let _p = super::profile::scope("sampling");
    source
        .contiguous()?
        .apply_op2_no_bwd(&flow.contiguous()?, &Columns { k })
}

struct Pooled {
    k: usize,
}

impl CustomOp2 for Pooled {
    fn name(&self) -> &'static str {
        "pooled-columns"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (b, kk, h, w) = l1.shape().dims4()?;
        let (b2, ckk, cells) = l2.shape().dims3()?;
        if kk != self.k * self.k || b2 != b || cells != h * w || ckk % kk != 0 {
            candle_core::bail!(
                "pooled-columns: attention {:?} and columns {:?} for k = {}",
                l1.shape(),
                l2.shape(),
                self.k
            );
        }
        let c = ckk / kk;
        let attn = super::f32_slice(s1, l1, self.name())?;
        let cols = super::f32_slice(s2, l2, self.name())?;
        let scale = 1.0 / kk as f32;
        // Each row is written by its first product (t == 0) before any accumulation.
        let mut out = super::alloc::output_buffer(b * c * cells);
        out.par_chunks_mut(cells).enumerate().for_each(|(bc, o)| {
            let a = &attn[(bc / c) * kk * cells..][..kk * cells];
            let p = &cols[bc * kk * cells..][..kk * cells];
            // Same order as the fused image-layout op: the k² products summed, then scaled.
            for (t, (ar, pr)) in a.chunks_exact(cells).zip(p.chunks_exact(cells)).enumerate() {
                if t == 0 {
                    o.iter_mut()
                        .zip(ar.iter().zip(pr))
                        .for_each(|(o, (a, p))| *o = a * p);
                } else {
                    o.iter_mut()
                        .zip(ar.iter().zip(pr))
                        .for_each(|(o, (a, p))| *o += a * p);
                }
            }
            o.iter_mut().for_each(|v| *v *= scale);
        });
        Ok((CpuStorage::F32(out), Shape::from((b, c, h, w))))
    }
}

/// The attention-weighted pool from columns: `attn` (B, k², h, w), `columns` (B, C·k², h·w)
/// from [`patch_columns`]; (B, C, h, w), the same values as
/// `local_attention(attn, block_extractor(..), k)`. CPU only, no gradient.
pub fn pooled_columns(attn: &Tensor, columns: &Tensor, k: usize) -> Result<Tensor> {
    let _p = super::profile::scope("sampling");
    attn.contiguous()?
        .apply_op2_no_bwd(&columns.contiguous()?, &Pooled { k })
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    /// Same values as the image-layout ops, for odd and even k and flows reaching past the
    /// border (clamped taps).
    #[test]
    fn columns_match_block_extractor_and_local_attention() -> Result<()> {
        let dev = Device::Cpu;
        for (k, (b, c, h, w)) in [(3, (2, 3, 5, 7)), (2, (1, 4, 6, 4)), (5, (1, 2, 8, 9))] {
            let src = Tensor::randn(0f32, 1.0, (b, c, h, w), &dev)?;
            let flow = Tensor::randn(0f32, 3.0, (b, 2, h, w), &dev)?;
            let img = super::super::block_extractor(&src, &flow, k)?;
            let cols = patch_columns(&src, &flow, k)?;
            // Image (b, c, y·k + i, x·k + j) → column (b, c·k² + i·k + j, y·w + x).
            let want = img
                .reshape((b, c, h, k, w, k))?
                .permute((0, 1, 3, 5, 2, 4))?
                .reshape((b, c * k * k, h * w))?;
            assert_eq!((&cols - &want)?.abs()?.max_all()?.to_scalar::<f32>()?, 0.0);
            let attn =
                candle_nn::ops::softmax(&Tensor::randn(0f32, 1.0, (b, k * k, h, w), &dev)?, 1)?;
            let pooled = pooled_columns(&attn, &cols, k)?;
            let want = super::super::local_attention(&attn, &img, k)?;
            let d = (&pooled - &want)?.abs()?.max_all()?.to_scalar::<f32>()?;
            assert!(d < 1e-6, "k = {k}: {d}");
        }
        Ok(())
    }
}
