use super::*;

/// `n` pseudo-random values in [−1, 1) from `seed` (a 64-bit LCG's high bits): the same
/// inputs on every machine and instruction set. Also the Winograd tests' inputs.
pub(in crate::ops::tap_conv) fn lcg(n: usize, seed: u64) -> Vec<f32> {
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

/// Straight from the definition.
fn naive(x: &[f32], g: Geometry, w: &[f32], cout: usize, cin: usize, k: usize) -> Vec<f32> {
    let mut out = vec![0f32; cout * g.ho * g.wo];
    for co in 0..cout {
        for y in 0..g.ho {
            for xx in 0..g.wo {
                let mut s = 0f64;
                for ci in 0..cin {
                    for ky in 0..k {
                        for kx in 0..k {
                            s += w[((co * cin + ci) * k + ky) * k + kx] as f64
                                * x[(ci * g.hp + y + ky) * g.wp + xx + kx] as f64;
                        }
                    }
                }
                out[(co * g.ho + y) * g.wo + xx] = s as f32 + co as f32 * 0.25;
            }
        }
    }
    out
}

fn kernels() -> Vec<Isa> {
    crate::ops::simd::testable()
}

/// Every tail case: channels not a multiple of 8 or 4 (AVX2's half blocks), widths below, at
/// and past 8, 12, 16, 24 and 32, the narrow tile's, and rows taken in chunks (the tiles'
/// accumulating epilogue). The output starts as NaN: every value must be written.
#[test]
fn tap_conv_matches_the_definition() {
    let isas = kernels();
    for (cout, cin, k, hp, wp) in [
        (3, 5, 3, 7, 9),
        (8, 4, 3, 10, 18),
        (17, 6, 3, 5, 35),
        (9, 3, 7, 12, 41),
        (16, 7, 1, 3, 33),
        (2, 2, 3, 3, 3),
        // The narrow 4 × 64 tile: a full tile, one past it, a tail between 32 and 64.
        (4, 3, 3, 3, 66),
        (3, 6, 3, 5, 75),
        (1, 4, 3, 4, 50),
        // AVX2's 6 × 16: a partial block, a full one, one past it, two; each vector count
        // with and without a partial last vector.
        (5, 3, 3, 4, 18),
        (7, 2, 3, 3, 27),
        (6, 3, 1, 2, 8),
        (12, 2, 3, 4, 11),
        (13, 3, 3, 3, 7),
        // AVX2's 3 × 24: a full tile, one vector past it, three and two vectors, the last
        // partial.
        (3, 4, 3, 4, 26),
        (2, 3, 3, 3, 29),
        (3, 2, 3, 3, 20),
        (1, 3, 3, 3, 12),
        // NEON's 8 × 12: whole tiles, and the tails above.
        (8, 3, 3, 5, 50),
        // Over 1200 rows: chunks of 256, the later ones added to the output.
        (9, 140, 3, 4, 29),
        (2, 140, 3, 3, 30),
    ] {
        let g = Geometry {
            hp,
            wp,
            ho: hp - k + 1,
            wo: wp - k + 1,
        };
        let x = lcg(cin * hp * wp, 1);
        let w = lcg(cout * cin * k * k, 2);
        let bias: Vec<f32> = (0..cout).map(|c| c as f32 * 0.25).collect();
        let want = naive(&x, g, &w, cout, cin, k);
        for &kernel in &isas {
            let packed = PackedTaps::conv(&w, cout, cin, k, kernel);
            let mut out = vec![f32::NAN; cout * g.ho * g.wo];
            tap_conv(&x, g, &packed, &bias, &mut out, kernel).unwrap();
            let err = out
                .iter()
                .zip(&want)
                .map(|(a, b)| (a - b).abs())
                .fold(0f32, f32::max);
            assert!(err < 1e-4, "{kernel:?} {cout}×{cin} k{k} {hp}×{wp}: {err}");
        }
    }
}

#[test]
fn taps_outside_the_input_are_refused() {
    let packed = PackedTaps::conv(&[0.0; 9], 1, 1, 3, Isa::Portable);
    let g = Geometry {
        hp: 4,
        wp: 4,
        ho: 3,
        wo: 2,
    };
    let mut out = vec![0.0; 6];
    let err = tap_conv(&[0.0; 16], g, &packed, &[0.0], &mut out, Isa::Portable);
    assert!(err.unwrap_err().contains("need more than"));
}

/// The transposed convolution against its scatter definition.
#[test]
fn up_phases_match_the_transposed_convolution() {
    let isas = kernels();
    for (cin, cout, h, w) in [(3, 5, 4, 6), (9, 2, 1, 1), (4, 11, 5, 19)] {
        let x = lcg(cin * h * w, 3);
        let wt = lcg(cin * cout * 9, 4);
        let bias: Vec<f32> = (0..cout).map(|c| c as f32 - 1.0).collect();
        // Scatter form: input (m, n) with kernel (ky, kx) lands on (2m - 1 + ky, 2n - 1 + kx).
        let (ho, wo) = (2 * h, 2 * w);
        let mut want = vec![0f32; cout * ho * wo];
        for co in 0..cout {
            want[co * ho * wo..(co + 1) * ho * wo].fill(bias[co]);
            for ci in 0..cin {
                for m in 0..h {
                    for n in 0..w {
                        for ky in 0..3 {
                            for kx in 0..3 {
                                let (oy, ox) = (2 * m + ky, 2 * n + kx);
                                if oy == 0 || ox == 0 || oy > ho || ox > wo {
                                    continue;
                                }
                                want[(co * ho + oy - 1) * wo + ox - 1] += x[(ci * h + m) * w + n]
                                    * wt[((ci * cout + co) * 3 + ky) * 3 + kx];
                            }
                        }
                    }
                }
            }
        }
        let mut xp = vec![0f32; cin * (h + 1) * (w + 1)];
        for ci in 0..cin {
            for m in 0..h {
                let src = &x[(ci * h + m) * w..][..w];
                xp[(ci * (h + 1) + m) * (w + 1)..][..w].copy_from_slice(src);
            }
        }
        for &kernel in &isas {
            let up = PackedUp::new(&wt, cin, cout, kernel);
            let mut out = vec![f32::NAN; cout * ho * wo];
            up.forward(&xp, (h, w), &bias, &mut out, &mut Vec::new())
                .unwrap();
            let err = out
                .iter()
                .zip(&want)
                .map(|(a, b)| (a - b).abs())
                .fold(0f32, f32::max);
            assert!(err < 1e-4, "{kernel:?} {cin}→{cout} {h}×{w}: {err}");
        }
    }
}
