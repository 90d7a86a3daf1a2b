//! 3×3 stride-1 convolutions by Winograd's minimal filtering F(2×2, 3×3) (Lavin & Gray, "Fast
//! Algorithms for Convolutional Neural Networks", 2016), for layers with many channels.
//!
//! Each 2×2 block of outputs is `Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A` of the 4×4 input tile `d` under
//! it: per tile and channel pair 16 multiplications instead of 36. Summed over input
//! channels, the 16 element-wise products become 16 matrix products `U_k (cout × cin) ·
//! V_k (cin × tiles)`, which run on the direct kernel's register tiles as 1×1 convolutions
//! over a one-row "image" of tiles (so `MARIONETTE_SIMD` picks their instruction set too).
//! The transforms are additions only. PoNA's blocks are 3×3 convolutions of 256 and 512
//! channels on a 64×44 grid, 180 of its 211 GFLOP of convolutions, where the direct kernel ran
//! at about 75 % of this CPU's peak and PyTorch's oneDNN at over 90 %: 2.25× fewer
//! multiply-adds is what closes that gap. f32 stays accurate here: F(2×2, 3×3)'s transforms
//! have entries 0, ±1 and ±½, and the result differs from the direct sum by rounding only
//! (checked against it in the tests).

use super::kernel::{tap_conv, Geometry, Isa, PackedTaps};
use crate::ops::alloc::output_buffer;
use rayon::prelude::*;

/// Winograd-domain elements per tile (4 × 4).
const T16: usize = 16;

/// About how many tiles the matrix products take at a time (see [`Winograd::run`]).
const CHUNK_TILES: usize = 128;

/// A 3×3 stride-1 convolution's weights in the Winograd domain, packed as 16 1×1
/// convolutions (`cout × cin` each) for the direct kernel of one instruction set.
#[derive(Debug)]
pub struct Winograd {
    u: Vec<PackedTaps>,
    cin: usize,
    cout: usize,
}

impl Winograd {
    /// From the PyTorch weight `(cout, cin, 3, 3)`, flat.
    pub fn new(weight: &[f32], cout: usize, cin: usize, isa: Isa) -> Self {
        debug_assert_eq!(weight.len(), cout * cin * 9);
        // U = G g Gᵀ per (co, ci), G = [[1, 0, 0], [½, ½, ½], [½, −½, ½], [0, 0, 1]].
        let mut u = vec![0f32; T16 * cout * cin];
        u.par_chunks_mut(cin).enumerate().for_each(|(kco, row)| {
            let (k, co) = (kco / cout, kco % cout);
            let (ky, kx) = (k / 4, k % 4);
            for (ci, v) in row.iter_mut().enumerate() {
                let g = &weight[(co * cin + ci) * 9..(co * cin + ci) * 9 + 9];
                // (G g) row ky, then that row times Gᵀ column kx.
                let gr = |r: usize| -> [f32; 3] {
                    let at = |y: usize, x: usize| g[y * 3 + x];
                    std::array::from_fn(|x| match r {
                        0 => at(0, x),
                        1 => 0.5 * (at(0, x) + at(1, x) + at(2, x)),
                        2 => 0.5 * (at(0, x) - at(1, x) + at(2, x)),
                        _ => at(2, x),
                    })
                };
                let t = gr(ky);
                *v = match kx {
                    0 => t[0],
                    1 => 0.5 * (t[0] + t[1] + t[2]),
                    2 => 0.5 * (t[0] - t[1] + t[2]),
                    _ => t[2],
                };
            }
        });
        let u = (0..T16)
            .map(|k| {
                let w = &u[k * cout * cin..(k + 1) * cout * cin];
                PackedTaps::conv(w, cout, cin, 1, isa)
            })
            .collect();
        Self { u, cin, cout }
    }

    /// `out (cout, ho, wo) = conv3×3(src (cin, hp, wp)) + bias`, `ho = hp − 2`, `wo = wp − 2`
    /// (the input already padded).
    ///
    /// A few rows of tiles at a time (about [`CHUNK_TILES`] tiles): their sixteen V_k
    /// (cin × n), the sixteen products M_k = U_k · V_k (cout × n) and their output transform,
    /// so that V and M (1.4 MB each at 512 channels) stay in cache between the three steps;
    /// whole-layer V and M (23 MB each) went to memory and back.
    pub fn run(
        &self,
        src: &[f32],
        hp: usize,
        wp: usize,
        bias: &[f32],
        out: &mut [f32],
        isa: Isa,
    ) -> Result<(), String> {
        let (cin, cout) = (self.cin, self.cout);
        if hp < 3 || wp < 3 || src.len() != cin * hp * wp {
            return Err(format!(
                "winograd: {} values for {cin}×{hp}×{wp}",
                src.len()
            ));
        }
        let (ho, wo) = (hp - 2, wp - 2);
        if out.len() != cout * ho * wo || bias.len() != cout {
            return Err(format!(
                "winograd: output of {} for {cout}×{ho}×{wo}",
                out.len()
            ));
        }
        let (th, tw) = (ho.div_ceil(2), wo.div_ceil(2));
        let rows_per_chunk = (CHUNK_TILES / tw).max(1);
        let chunk = rows_per_chunk * tw;
        let zero = vec![0f32; cout];
        // Written whole for each chunk's n columns by the input transform and the products.
        let mut v = output_buffer(T16 * cin * chunk);
        let mut m = output_buffer(T16 * cout * chunk);
        let out_ptr = SendPtr(out.as_mut_ptr());
        for ty0 in (0..th).step_by(rows_per_chunk) {
            let rows = ty0..(ty0 + rows_per_chunk).min(th);
            let n = rows.len() * tw;
            let (v, m) = (&mut v[..T16 * cin * n], &mut m[..T16 * cout * n]);
            self.input_transform(src, hp, wp, rows.clone(), tw, v);
            // M_k = U_k · V_k: a 1×1 convolution over a one-row image of n tiles.
            let g = Geometry {
                hp: 1,
                wp: n,
                ho: 1,
                wo: n,
            };
            for (k, mk) in m.chunks_exact_mut(cout * n).enumerate() {
                let vk = &v[k * cin * n..(k + 1) * cin * n];
                tap_conv(vk, g, &self.u[k], &zero, mk, isa)?;
            }
            // Y = Aᵀ M A plus the bias, per output channel: Aᵀ's rows on the columns of the
            // sixteen runs of a tile row, then on its rows.
            (0..cout).into_par_iter().for_each_init(
                || vec![0f32; 8 * tw],
                |cbuf, co| {
                    for (i, ty) in rows.clone().enumerate() {
                        let base = co * n + i * tw;
                        let run = |k: usize| &m[k * cout * n + base..k * cout * n + base + tw];
                        // cbuf[(r·4 + q)·tw + tx]: Aᵀ's row r on column q of tile tx.
                        for q in 0..4 {
                            let (m0, m1, m2, m3) = (run(q), run(4 + q), run(8 + q), run(12 + q));
                            let (top, bottom) = cbuf.split_at_mut(4 * tw);
                            let c0 = &mut top[q * tw..(q + 1) * tw];
                            let c1 = &mut bottom[q * tw..(q + 1) * tw];
                            for tx in 0..tw {
                                c0[tx] = m0[tx] + m1[tx] + m2[tx];
                                c1[tx] = m1[tx] - m2[tx] - m3[tx];
                            }
                        }
                        for r in 0..2 {
                            let y = 2 * ty + r;
                            if y >= ho {
                                continue;
                            }
                            let at = |q: usize| &cbuf[(r * 4 + q) * tw..(r * 4 + q + 1) * tw];
                            let (c0, c1, c2, c3) = (at(0), at(1), at(2), at(3));
                            // SAFETY: row y of channel co is written by this task only, and
                            // lies inside `out` (co < cout, y < ho).
                            let row = unsafe { out_ptr.run((co * ho + y) * wo, wo) };
                            let b = bias[co];
                            for tx in 0..tw {
                                let x = 2 * tx;
                                row[x] = c0[tx] + c1[tx] + c2[tx] + b;
                                if x + 1 < wo {
                                    row[x + 1] = c1[tx] - c2[tx] - c3[tx] + b;
                                }
                            }
                        }
                    }
                },
            );
        }
        Ok(())
    }

    /// V = Bᵀ d B for tile rows `rows` into `v` (16 matrices of cin × n, n their tiles), per
    /// channel: Bᵀ's rows on each of a tile row's four input rows across all its tiles (h),
    /// then on the columns of h, written as sixteen contiguous runs. The loops over a row's
    /// tiles vectorise.
    fn input_transform(
        &self,
        src: &[f32],
        hp: usize,
        wp: usize,
        rows: std::ops::Range<usize>,
        tw: usize,
        v: &mut [f32],
    ) {
        let cin = self.cin;
        let n = rows.len() * tw;
        let plane = hp * wp;
        let span = 2 * tw + 2; // input columns a row of tiles reads (one past `wp` when odd)
        let vp = SendPtr(v.as_mut_ptr());
        (0..cin).into_par_iter().for_each_init(
            || (vec![0f32; span], vec![0f32; 16 * tw]),
            |(line, h), c| {
                let x = &src[c * plane..(c + 1) * plane];
                for (i, ty) in rows.clone().enumerate() {
                    // h[(r·4 + q)·tw + tx]: Bᵀ's row q on input row 2ty + r of tile tx.
                    for r in 0..4 {
                        let y = 2 * ty + r;
                        line.fill(0.0);
                        if y < hp {
                            line[..wp].copy_from_slice(&x[y * wp..(y + 1) * wp]);
                        }
                        let hr = &mut h[r * 4 * tw..(r + 1) * 4 * tw];
                        let (h0, rest) = hr.split_at_mut(tw);
                        let (h1, rest) = rest.split_at_mut(tw);
                        let (h2, h3) = rest.split_at_mut(tw);
                        for tx in 0..tw {
                            let d = &line[2 * tx..2 * tx + 4];
                            h0[tx] = d[0] - d[2];
                            h1[tx] = d[1] + d[2];
                            h2[tx] = d[2] - d[1];
                            h3[tx] = d[1] - d[3];
                        }
                    }
                    for q in 0..4 {
                        let at = |r: usize| &h[(r * 4 + q) * tw..(r * 4 + q + 1) * tw];
                        let (a0, a1, a2, a3) = (at(0), at(1), at(2), at(3));
                        let base = c * n + i * tw;
                        // SAFETY: the runs (k, c, i) are written by this channel's task only,
                        // and each lies inside v (k·cin·n + c·n + i·tw + tw ≤ 16·cin·n).
                        let run = |k: usize| unsafe { vp.run(k * cin * n + base, tw) };
                        let (v0, v1, v2, v3) = (run(q), run(4 + q), run(8 + q), run(12 + q));
                        for tx in 0..tw {
                            v0[tx] = a0[tx] - a2[tx];
                            v1[tx] = a1[tx] + a2[tx];
                            v2[tx] = a2[tx] - a1[tx];
                            v3[tx] = a1[tx] - a3[tx];
                        }
                    }
                }
            },
        );
    }
}

/// A raw pointer shared by the transform's tasks, which write disjoint elements.
#[derive(Clone, Copy)]
struct SendPtr(*mut f32);
// SAFETY: only used for writes to disjoint indices (see the one use).
unsafe impl Send for SendPtr {}
unsafe impl Sync for SendPtr {}

impl SendPtr {
    /// The `n` values from `i` on, as a slice.
    ///
    /// # Safety
    /// `i + n` is inside the buffer and no other task touches those values meanwhile.
    #[allow(clippy::mut_from_ref)]
    unsafe fn run<'a>(self, i: usize, n: usize) -> &'a mut [f32] {
        std::slice::from_raw_parts_mut(self.0.add(i), n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lcg(n: usize, seed: u64) -> Vec<f32> {
        let mut s = seed;
        (0..n)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
            })
            .collect()
    }

    /// Against the 3×3 convolution's definition (f64 sums), on every instruction set's
    /// tiles: odd and even output sizes (a last row or column of tiles half outside), channel
    /// counts off the tiles' blocks, and one tile only. The output starts as NaN: every value
    /// must be written. Winograd's transforms round differently from the direct sum; the
    /// difference stays at f32 rounding of sums of ~cin terms.
    #[test]
    fn winograd_matches_the_definition() {
        for isa in crate::ops::simd::testable() {
            for &(cin, cout, hp, wp) in &[
                (5, 7, 9, 12),
                (16, 6, 10, 11),
                (3, 13, 4, 4),
                (40, 9, 3, 3),
                (130, 20, 8, 19),
                (3, 5, 40, 70),
            ] {
                let x = lcg(cin * hp * wp, 3);
                let w = lcg(cout * cin * 9, 4);
                let bias: Vec<f32> = (0..cout).map(|c| c as f32 * 0.25).collect();
                let (ho, wo) = (hp - 2, wp - 2);
                let mut out = vec![f32::NAN; cout * ho * wo];
                let wg = Winograd::new(&w, cout, cin, isa);
                wg.run(&x, hp, wp, &bias, &mut out, isa).unwrap();
                for co in 0..cout {
                    for y in 0..ho {
                        for xx in 0..wo {
                            let mut s = bias[co] as f64;
                            for ci in 0..cin {
                                for ky in 0..3 {
                                    for kx in 0..3 {
                                        s += w[((co * cin + ci) * 3 + ky) * 3 + kx] as f64
                                            * x[(ci * hp + y + ky) * wp + xx + kx] as f64;
                                    }
                                }
                            }
                            let got = out[(co * ho + y) * wo + xx];
                            let tol = 1e-5 * (cin as f64 * 9.0).sqrt() * 4.0;
                            assert!(
                                (got as f64 - s).abs() <= tol,
                                "{isa:?} {cin}→{cout} {hp}×{wp} at ({co}, {y}, {xx}): {got} vs {s}"
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn wrong_sizes_are_errors() {
        let isa = crate::ops::simd::isa();
        let wg = Winograd::new(&[0.0; 2 * 3 * 9], 2, 3, isa);
        let mut out = vec![0.0; 2 * 2 * 2];
        assert!(wg
            .run(&[0.0; 3 * 4 * 4], 4, 4, &[0.0; 2], &mut out, isa)
            .is_ok());
        assert!(wg
            .run(&[0.0; 3 * 4 * 5], 4, 4, &[0.0; 2], &mut out, isa)
            .is_err());
        assert!(wg
            .run(&[0.0; 3 * 2 * 2], 2, 2, &[0.0; 2], &mut out, isa)
            .is_err());
        assert!(wg
            .run(&[0.0; 3 * 4 * 4], 4, 4, &[0.0; 1], &mut out, isa)
            .is_err());
    }
}
