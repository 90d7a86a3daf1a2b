//! 3×3 stride-1 convolutions by Winograd's minimal filtering F(m×m, 3×3) (Lavin & Gray, "Fast
//! Algorithms for Convolutional Neural Networks", 2016), for layers with many channels.
//!
//! Each m×m block of outputs is `Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A` of the α×α input tile `d` under
//! it (α = m + 2): per tile and channel pair α² multiplications instead of 9m². Summed over
//! input channels, the α² element-wise products become α² matrix products `U_k (cout × cin) ·
//! V_k (cin × tiles)`, which run on the direct kernel's register tiles as 1×1 convolutions
//! over a one-row "image" of tiles (so `MARIONETTE_SIMD` picks their instruction set too).
//! The transforms are a few additions and small-integer multiples. PoNA's blocks are 3×3
//! convolutions of 256 and 512 channels on a 64×44 grid, 180 of its 211 GFLOP of
//! convolutions, where the direct kernel already ran at about 85 % of this CPU's peak: fewer
//! multiply-adds is the only way left to go faster — 2.25× fewer with F(2×2, 3×3), 4× with
//! F(4×4, 3×3), the default. f32 stays accurate enough: F(4×4)'s transforms reach ±8 and ⅟24,
//! so its results differ from the direct sum by a few more roundings than F(2×2)'s (both
//! checked against the definition in the tests, and a layer as wide as PoNA's against
//! candle's `conv2d`; the authors' PoNA fixtures are too narrow to take this path).

use super::kernel::{tap_conv, Geometry, Isa, PackedTaps};
use crate::ops::alloc::output_buffer;
use rayon::prelude::*;

/// Which of Winograd's filterings: the output block's side m.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tile {
    /// F(2×2, 3×3): 4×4 input tiles, 16 products.
    F2,
    /// F(4×4, 3×3): 6×6 input tiles, 36 products.
    F4,
}

/// Bᵀ, G and Aᵀ of F(2×2, 3×3) (interpolation points 0, ±1, ∞).
const BT2: [[f32; 4]; 4] = [
    [1.0, 0.0, -1.0, 0.0],
    [0.0, 1.0, 1.0, 0.0],
    [0.0, -1.0, 1.0, 0.0],
    [0.0, 1.0, 0.0, -1.0],
];
const G2: [[f64; 3]; 4] = [
    [1.0, 0.0, 0.0],
    [0.5, 0.5, 0.5],
    [0.5, -0.5, 0.5],
    [0.0, 0.0, 1.0],
];
const AT2: [[f32; 4]; 2] = [[1.0, 1.0, 1.0, 0.0], [0.0, 1.0, -1.0, -1.0]];

/// Bᵀ, G and Aᵀ of F(4×4, 3×3) (points 0, ±1, ±2, ∞).
const BT4: [[f32; 6]; 6] = [
    [4.0, 0.0, -5.0, 0.0, 1.0, 0.0],
    [0.0, -4.0, -4.0, 1.0, 1.0, 0.0],
    [0.0, 4.0, -4.0, -1.0, 1.0, 0.0],
    [0.0, -2.0, -1.0, 2.0, 1.0, 0.0],
    [0.0, 2.0, -1.0, -2.0, 1.0, 0.0],
    [0.0, 4.0, 0.0, -5.0, 0.0, 1.0],
];
const G4: [[f64; 3]; 6] = [
    [1.0 / 4.0, 0.0, 0.0],
    [-1.0 / 6.0, -1.0 / 6.0, -1.0 / 6.0],
    [-1.0 / 6.0, 1.0 / 6.0, -1.0 / 6.0],
    [1.0 / 24.0, 1.0 / 12.0, 1.0 / 6.0],
    [1.0 / 24.0, -1.0 / 12.0, 1.0 / 6.0],
    [0.0, 0.0, 1.0],
];
const AT4: [[f32; 6]; 4] = [
    [1.0, 1.0, 1.0, 1.0, 1.0, 0.0],
    [0.0, 1.0, -1.0, 2.0, -2.0, 0.0],
    [0.0, 1.0, 1.0, 4.0, 4.0, 0.0],
    [0.0, 1.0, -1.0, 8.0, -8.0, 1.0],
];

impl Tile {
    /// The output block's side m.
    pub fn m(self) -> usize {
        match self {
            Tile::F2 => 2,
            Tile::F4 => 4,
        }
    }

    /// The input tile's side α = m + 2.
    fn alpha(self) -> usize {
        self.m() + 2
    }

    /// Row `q` of Bᵀ (α entries).
    fn bt(self, q: usize) -> &'static [f32] {
        match self {
            Tile::F2 => &BT2[q],
            Tile::F4 => &BT4[q],
        }
    }

    /// Row `p` of G (3 entries).
    fn g(self, p: usize) -> &'static [f64; 3] {
        match self {
            Tile::F2 => &G2[p],
            Tile::F4 => &G4[p],
        }
    }

    /// Row `r` of Aᵀ (α entries).
    fn at(self, r: usize) -> &'static [f32] {
        match self {
            Tile::F2 => &AT2[r],
            Tile::F4 => &AT4[r],
        }
    }
}

/// About how many Winograd-domain values per channel the matrix products take at a time:
/// α² × the chunk's tiles (see [`Winograd::run`]).
const CHUNK_VALUES: usize = 8192;

/// A 3×3 stride-1 convolution's weights in the Winograd domain, packed as α² 1×1
/// convolutions (`cout × cin` each) for the direct kernel of one instruction set.
#[derive(Debug)]
pub struct Winograd {
    tile: Tile,
    u: Vec<PackedTaps>,
    cin: usize,
    cout: usize,
}

/// `dst = Σ_j coeffs[j] · src(j)`, skipping zero coefficients: one of the transforms' rows
/// applied across a run of tiles (the loops vectorise over the tiles).
fn combine<'a>(dst: &mut [f32], coeffs: &[f32], src: impl Fn(usize) -> &'a [f32]) {
    let mut first = true;
    for (j, &c) in coeffs.iter().enumerate() {
        if c == 0.0 {
            continue;
        }
        let s = &src(j)[..dst.len()];
        if first {
            dst.iter_mut().zip(s).for_each(|(d, &s)| *d = c * s);
            first = false;
        } else {
            dst.iter_mut().zip(s).for_each(|(d, &s)| *d += c * s);
        }
    }
    if first {
        dst.fill(0.0);
    }
}

impl Winograd {
    /// Which filtering the weights were transformed for.
    #[cfg(test)]
    pub fn tile(&self) -> Tile {
        self.tile
    }

    /// From the PyTorch weight `(cout, cin, 3, 3)`, flat: `U = G g Gᵀ` per channel pair,
    /// in f64 so that G's sixths and twenty-fourths round once.
    pub fn new(weight: &[f32], cout: usize, cin: usize, tile: Tile, isa: Isa) -> Self {
        debug_assert_eq!(weight.len(), cout * cin * 9);
        let a = tile.alpha();
        let mut u = vec![0f32; a * a * cout * cin];
        u.par_chunks_mut(cin).enumerate().for_each(|(kco, row)| {
            let (k, co) = (kco / cout, kco % cout);
            let (gp, gq) = (tile.g(k / a), tile.g(k % a));
            for (ci, v) in row.iter_mut().enumerate() {
                let g = &weight[(co * cin + ci) * 9..(co * cin + ci) * 9 + 9];
                let mut s = 0f64;
                for y in 0..3 {
                    for x in 0..3 {
                        s += gp[y] * g[y * 3 + x] as f64 * gq[x];
                    }
                }
                *v = s as f32;
            }
        });
        let u = u
            .chunks_exact(cout * cin)
            .map(|w| PackedTaps::conv(w, cout, cin, 1, isa))
            .collect();
        Self { tile, u, cin, cout }
    }

    /// `out (cout, ho, wo) = conv3×3(src (cin, hp, wp)) + bias`, `ho = hp − 2`, `wo = wp − 2`
    /// (the input already padded).
    ///
    /// Rows of tiles in chunks of about [`CHUNK_VALUES`] / α² tiles: their α² V_k (cin × n),
    /// the products M_k = U_k · V_k (cout × n), and their output transform. On PoNA's 64×44
    /// grid a chunk is the whole layer (176 tiles of F(4×4)): the products ran slower over
    /// smaller chunks (PoNA's convolutions 910, 760 and 625 ms at 55, 110 and 176 tiles,
    /// AVX2) than the transforms' trips through memory cost at the larger ones.
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
        let (m, a) = (self.tile.m(), self.tile.alpha());
        let (th, tw) = (ho.div_ceil(m), wo.div_ceil(m));
        let rows_per_chunk = (CHUNK_VALUES / (a * a) / tw).clamp(1, th);
        let chunk = rows_per_chunk * tw;
        let zero = vec![0f32; cout];
        // Written whole for each chunk's n columns by the input transform and the products.
        let mut v = output_buffer(a * a * cin * chunk);
        let mut mm = output_buffer(a * a * cout * chunk);
        let out_ptr = SendPtr(out.as_mut_ptr());
        for ty0 in (0..th).step_by(rows_per_chunk) {
            let rows = ty0..(ty0 + rows_per_chunk).min(th);
            let n = rows.len() * tw;
            let (v, mm) = (&mut v[..a * a * cin * n], &mut mm[..a * a * cout * n]);
            self.input_transform(src, hp, wp, rows.clone(), tw, v);
            // M_k = U_k · V_k: a 1×1 convolution over a one-row image of n tiles.
            let g = Geometry {
                hp: 1,
                wp: n,
                ho: 1,
                wo: n,
            };
            for (k, mk) in mm.chunks_exact_mut(cout * n).enumerate() {
                let vk = &v[k * cin * n..(k + 1) * cin * n];
                tap_conv(vk, g, &self.u[k], &zero, mk, isa)?;
            }
            let mm = &*mm;
            // Y = Aᵀ M A plus the bias, per output channel: Aᵀ's rows along each row of M
            // (s), then down the columns of s, scattered into the output's rows.
            (0..cout).into_par_iter().for_each_init(
                || (vec![0f32; a * m * n], vec![0f32; n]),
                |(s, y), co| {
                    let run = |k: usize| &mm[(k * cout + co) * n..(k * cout + co + 1) * n];
                    for p in 0..a {
                        for c in 0..m {
                            let dst = &mut s[(p * m + c) * n..(p * m + c + 1) * n];
                            combine(dst, self.tile.at(c), |q| run(p * a + q));
                        }
                    }
                    let b = bias[co];
                    for r in 0..m {
                        for c in 0..m {
                            combine(y, self.tile.at(r), |p| &s[(p * m + c) * n..]);
                            for (i, ty) in rows.clone().enumerate() {
                                let oy = m * ty + r;
                                if oy >= ho {
                                    continue;
                                }
                                // SAFETY: row oy of channel co is written by this task
                                // only, and lies inside `out` (co < cout, oy < ho).
                                let row = unsafe { out_ptr.run((co * ho + oy) * wo, wo) };
                                let yi = &y[i * tw..(i + 1) * tw];
                                for (o, &val) in row.iter_mut().skip(c).step_by(m).zip(yi) {
                                    *o = val + b;
                                }
                            }
                        }
                    }
                },
            );
        }
        Ok(())
    }

    /// V = Bᵀ d B for tile rows `rows` into `v` (α² matrices of cin × n, n their tiles), per
    /// channel: for each of a tile's α input rows, its α columns gathered across the chunk's
    /// tiles (d) and Bᵀ's rows applied along them (h); then Bᵀ's rows down h's columns,
    /// written as α² contiguous runs of n.
    fn input_transform(
        &self,
        src: &[f32],
        hp: usize,
        wp: usize,
        rows: std::ops::Range<usize>,
        tw: usize,
        v: &mut [f32],
    ) {
        let (cin, m, a) = (self.cin, self.tile.m(), self.tile.alpha());
        let n = rows.len() * tw;
        let plane = hp * wp;
        let span = m * tw + 2; // input columns a row of tiles reads (past `wp` at the end)
        let vp = SendPtr(v.as_mut_ptr());
        (0..cin).into_par_iter().for_each_init(
            || (vec![0f32; span], vec![0f32; a * n], vec![0f32; a * a * n]),
            |(line, d, h), c| {
                let x = &src[c * plane..(c + 1) * plane];
                for r in 0..a {
                    // d[j·n + i·tw + tx]: column j of input row m·ty + r of tile (ty, tx).
                    for (i, ty) in rows.clone().enumerate() {
                        let y = m * ty + r;
                        line.fill(0.0);
                        if y < hp {
                            line[..wp].copy_from_slice(&x[y * wp..(y + 1) * wp]);
                        }
                        for j in 0..a {
                            let dj = &mut d[j * n + i * tw..j * n + (i + 1) * tw];
                            for (o, &val) in dj.iter_mut().zip(line[j..].iter().step_by(m)) {
                                *o = val;
                            }
                        }
                    }
                    for q in 0..a {
                        let dst = &mut h[(r * a + q) * n..(r * a + q + 1) * n];
                        combine(dst, self.tile.bt(q), |j| &d[j * n..]);
                    }
                }
                for p in 0..a {
                    for q in 0..a {
                        let k = p * a + q;
                        // SAFETY: run (k, c) is written by this channel's task only, and lies
                        // inside v (k·cin·n + c·n + n ≤ α²·cin·n).
                        let dst = unsafe { vp.run((k * cin + c) * n, n) };
                        combine(dst, self.tile.bt(p), |r| &h[(r * a + q) * n..]);
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
    use super::super::kernel::tests::lcg;
    use super::*;

    /// Against the 3×3 convolution's definition (f64 sums), on every instruction set's
    /// tiles: odd and even output sizes (a last row or column of tiles half outside), channel
    /// counts off the tiles' blocks, and one tile only. The output starts as NaN: every value
    /// must be written. Winograd's transforms round differently from the direct sum; the
    /// difference stays at f32 rounding of sums of ~cin terms (F(4×4)'s larger transform
    /// entries round a few times more). A wrong transform entry is off by O(1).
    #[test]
    fn winograd_matches_the_definition() {
        for (isa, tile) in crate::ops::simd::testable()
            .into_iter()
            .flat_map(|isa| [(isa, Tile::F2), (isa, Tile::F4)])
        {
            for &(cin, cout, hp, wp) in &[
                (5, 7, 9, 12),
                (16, 6, 10, 11),
                (3, 13, 4, 4),
                (40, 9, 3, 3),
                (130, 20, 8, 19),
                (3, 5, 40, 70),
                (2, 3, 7, 46),
            ] {
                let x = lcg(cin * hp * wp, 3);
                let w = lcg(cout * cin * 9, 4);
                let bias: Vec<f32> = (0..cout).map(|c| c as f32 * 0.25).collect();
                let (ho, wo) = (hp - 2, wp - 2);
                let mut out = vec![f32::NAN; cout * ho * wo];
                let wg = Winograd::new(&w, cout, cin, tile, isa);
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
                            let grows = if tile == Tile::F4 { 8.0 } else { 1.0 };
                            let tol = 1e-5 * (cin as f64 * 9.0).sqrt() * 4.0 * grows;
                            assert!(
                                (got as f64 - s).abs() <= tol,
                                "{isa:?} {tile:?} {cin}→{cout} {hp}×{wp} at ({co}, {y}, {xx}): {got} vs {s}"
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
        let wg = Winograd::new(&[0.0; 2 * 3 * 9], 2, 3, Tile::F4, isa);
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
