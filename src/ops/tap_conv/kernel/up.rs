//! The stride-2 transposed convolution as four tap convolutions, one per output phase.

use super::{tap_conv, Geometry, Isa, PackedTaps, Row};
use rayon::prelude::*;

/// The four output phases of a stride-2 `ConvTranspose2d(k 3, padding 1, output_padding 1)`,
/// as tap convolutions over the input padded by one zero row and column at the end.
///
/// Output row 2m takes kernel row 1 at input row m; row 2m+1 takes kernel row 2 at input row m
/// and kernel row 0 at input row m+1. Columns likewise.
#[derive(Clone, Debug)]
pub struct PackedUp {
    /// Phases in order (py, px) = (0,0), (0,1), (1,0), (1,1).
    phases: Vec<PackedTaps>,
}

impl PackedUp {
    /// `w` is the PyTorch weight `(cin, cout, 3, 3)`, flat; packed for the tiles of `isa`.
    pub fn new(w: &[f32], cin: usize, cout: usize, isa: Isa) -> Self {
        // (kernel index, input offset) per output parity.
        let per_parity: [&[(usize, usize)]; 2] = [&[(1, 0)], &[(2, 0), (0, 1)]];
        let mut phases = Vec::with_capacity(4);
        for py in 0..2 {
            for px in 0..2 {
                let mut kt = Vec::new();
                for ci in 0..cin {
                    for &(ky, dy) in per_parity[py] {
                        for &(kx, dx) in per_parity[px] {
                            kt.push((ci, ky, kx, dy, dx));
                        }
                    }
                }
                let rows = kt
                    .iter()
                    .map(|&(chan, _, _, dy, dx)| Row { chan, dy, dx })
                    .collect();
                let weight = |co, r: usize| {
                    let (ci, ky, kx, _, _) = kt[r];
                    w[((ci * cout + co) * 3 + ky) * 3 + kx]
                };
                phases.push(PackedTaps::new(cout, cin, rows, weight, isa));
            }
        }
        Self { phases }
    }

    /// One image: `x` is the input padded to `cin × (h+1) × (w+1)`, `out` is
    /// `cout × 2h × 2w`; `scratch` is reused across calls.
    pub fn forward(
        &self,
        x: &[f32],
        (h, w): (usize, usize),
        bias: &[f32],
        out: &mut [f32],
        scratch: &mut Vec<f32>,
    ) -> Result<(), String> {
        let isa = self.phases[0].isa;
        let cout = self.phases[0].cout;
        let g = Geometry {
            hp: h + 1,
            wp: w + 1,
            ho: h,
            wo: w,
        };
        let plane = h * w;
        if out.len() != cout * 4 * plane {
            return Err(format!(
                "output of {} values for {cout}×{}×{}",
                out.len(),
                2 * h,
                2 * w
            ));
        }
        // Every phase is written whole by `tap_conv` before the interleave reads it.
        if scratch.len() < 4 * cout * plane {
            *scratch = crate::ops::alloc::output_buffer(4 * cout * plane);
        }
        for (p, taps) in self.phases.iter().enumerate() {
            let dst = &mut scratch[p * cout * plane..(p + 1) * cout * plane];
            tap_conv(x, g, taps, bias, dst, isa)?;
        }
        let scratch = &scratch[..];
        out.par_chunks_mut(4 * plane)
            .enumerate()
            .for_each(|(co, oc)| {
                for (r, orow) in oc.chunks_exact_mut(2 * w).enumerate() {
                    let (m, py) = (r / 2, r % 2);
                    let even = &scratch[((2 * py) * cout + co) * plane + m * w..][..w];
                    let odd = &scratch[((2 * py + 1) * cout + co) * plane + m * w..][..w];
                    for ((pair, &e), &o) in orow.chunks_exact_mut(2).zip(even).zip(odd) {
                        pair[0] = e;
                        pair[1] = o;
                    }
                }
            });
        Ok(())
    }
}
