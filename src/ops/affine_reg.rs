//! GFLA's affine regularisation of a flow field (spec §9.4).
//!
//! For every valid k×k window and each flow channel, fit an affine function of (row, col) by
//! least squares and take the squared residual `‖(I − P) g‖²`, `P = A(AᵀA)⁻¹Aᵀ`. Because `I − P`
//! annihilates affine functions, adding the pixel grid to the flow (as the reference does to
//! form absolute positions) cannot change the residual, so we apply `I − P` to the flow itself:
//! one k²-channel convolution, differentiable through candle.

use candle_core::{DType, Result, Tensor};

/// `I − A(AᵀA)⁻¹Aᵀ` for the k×k window positions, A = [row, col, 1]; row-major (k², k²).
fn residual_projector(k: usize) -> Vec<f64> {
    let n = k * k;
    let a: Vec<[f64; 3]> = (0..n)
        .map(|p| [(p / k) as f64, (p % k) as f64, 1.0])
        .collect();
    let mut ata = [[0f64; 3]; 3];
    for row in &a {
        for i in 0..3 {
            for j in 0..3 {
                ata[i][j] += row[i] * row[j];
            }
        }
    }
    let inv = invert3(ata);
    let mut m = vec![0f64; n * n];
    for p in 0..n {
        for q in 0..n {
            let mut proj = 0.0;
            for i in 0..3 {
                for j in 0..3 {
                    proj += a[p][i] * inv[i][j] * a[q][j];
                }
            }
            m[p * n + q] = if p == q { 1.0 } else { 0.0 } - proj;
        }
    }
    m
}

/// Inverse of a 3×3 matrix by the adjugate: `inv[i][j] = cofactor(j, i) / det`.
fn invert3(m: [[f64; 3]; 3]) -> [[f64; 3]; 3] {
    let minor = |r: usize, c: usize| {
        let rs: Vec<usize> = (0..3).filter(|&x| x != r).collect();
        let cs: Vec<usize> = (0..3).filter(|&x| x != c).collect();
        m[rs[0]][cs[0]] * m[rs[1]][cs[1]] - m[rs[0]][cs[1]] * m[rs[1]][cs[0]]
    };
    let cofactor =
        |r: usize, c: usize| if (r + c).is_multiple_of(2) { 1.0 } else { -1.0 } * minor(r, c);
    let det: f64 = (0..3).map(|c| m[0][c] * cofactor(0, c)).sum();
    let mut inv = [[0f64; 3]; 3];
    for (i, row) in inv.iter_mut().enumerate() {
        for (j, v) in row.iter_mut().enumerate() {
            *v = cofactor(j, i) / det;
        }
    }
    inv
}

/// Affine regularisation loss of one flow `(B, 2, h, w)` with window size `k` (≥ 2, ≤ h, w):
/// `Σ_channels mean_{b, windows} ‖(I − P) g_window‖²`, a scalar tensor.
pub fn affine_regularization(flow: &Tensor, k: usize) -> Result<Tensor> {
    let (b, two, h, w) = flow.dims4()?;
    if two != 2 || k < 2 || k > h || k > w {
        candle_core::bail!(
            "affine_regularization: flow {:?} with window {k}",
            flow.shape()
        );
    }
    let n = k * k;
    let proj: Vec<f32> = residual_projector(k)
        .into_iter()
        .map(|v| v as f32)
        .collect();
    let kernel = Tensor::from_vec(proj, (n, 1, k, k), flow.device())?.to_dtype(flow.dtype())?;
    let residual = flow
        .reshape((b * 2, 1, h, w))?
        .conv2d(&kernel, 0, 1, 1, 1)?; // (2B, k², h−k+1, w−k+1)
    let windows = (h - k + 1) * (w - k + 1);
    // mean over (batch, windows) per channel, summed over the two channels.
    residual
        .to_dtype(DType::F32)?
        .sqr()?
        .sum_all()?
        .affine(1.0 / (b * windows) as f64, 0.0)
}
