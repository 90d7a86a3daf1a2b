//! Checks shared by the tests of the differentiable convolutions (`conv_matmul`, and
//! `tap_conv`'s training conv): a module of its own, depending on candle only, so the two
//! kernels' tests do not import each other.

use candle_core::{Device, Result, Tensor, Var};

/// The largest absolute difference of two tensors of one shape.
pub fn max_diff(a: &Tensor, b: &Tensor) -> f32 {
    (a - b)
        .and_then(|d| d.abs()?.flatten_all()?.max(0)?.to_scalar::<f32>())
        .unwrap()
}

/// Asserts that `conv(x, w, bias)` equals candle's `conv2d` (stride `stride`, padding `p`)
/// plus the bias for random (2, cin, h, w) inputs and (cout, cin, k, k) weights: values
/// within 1e-4 and, when `grads`, the gradients of x, w and bias within 1e-3 under a
/// random weighting of the output (not symmetric, so a flipped kernel would show).
pub fn against_candle(
    conv: impl Fn(&Tensor, &Tensor, &Tensor) -> Result<Tensor>,
    (cin, cout, h, w, k, p): (usize, usize, usize, usize, usize, usize),
    stride: usize,
    grads: bool,
) -> Result<()> {
    let dev = Device::Cpu;
    let x = Var::randn(0f32, 1.0, (2, cin, h, w), &dev)?;
    let wt = Var::randn(0f32, 1.0, (cout, cin, k, k), &dev)?;
    let b = Var::randn(0f32, 1.0, cout, &dev)?;
    let got = conv(&x, &wt, &b)?;
    let want = x
        .conv2d(&wt, p, stride, 1, 1)?
        .broadcast_add(&b.reshape((1, cout, 1, 1))?)?;
    let case = format!("{cin}→{cout} {h}×{w} k{k} p{p} stride {stride}");
    assert_eq!(got.dims(), want.dims(), "{case}");
    assert!(max_diff(&got, &want) < 1e-4, "{case}");
    if grads {
        let r = Tensor::randn(0f32, 1.0, got.dims(), &dev)?;
        let gg = (&got * &r)?.sum_all()?.backward()?;
        let gw = (&want * &r)?.sum_all()?.backward()?;
        for v in [&x, &wt, &b] {
            let (a, e) = (gg.get(v).unwrap(), gw.get(v).unwrap());
            assert!(max_diff(a, e) < 1e-3, "{case}: gradient {:?}", v.dims());
        }
    }
    Ok(())
}
