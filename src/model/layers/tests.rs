//! The layers against candle's reference ops and analytic cases.

use super::*;
use crate::ops::conv_check::max_diff;
use candle_core::{DType, Device, Var};

#[test]
fn reflection_pad_matches_definition() -> Result<()> {
    let x = Tensor::arange(0f32, 12.0, &Device::Cpu)?.reshape((1, 1, 3, 4))?;
    let y = reflection_pad2d(&x, 1)?;
    assert_eq!(y.dims(), &[1, 1, 5, 6]);
    let rows = y.squeeze(0)?.squeeze(0)?.to_vec2::<f32>()?;
    // Row 0 reflects row 1 (values 4..8), column 0 reflects column 1.
    assert_eq!(rows[0], vec![5.0, 4.0, 5.0, 6.0, 7.0, 6.0]);
    assert_eq!(rows[1], vec![1.0, 0.0, 1.0, 2.0, 3.0, 2.0]);
    assert_eq!(rows[4], vec![5.0, 4.0, 5.0, 6.0, 7.0, 6.0]);
    Ok(())
}

fn vb_of(tensors: Vec<(&str, Tensor)>) -> VarBuilder<'static> {
    let map = tensors
        .into_iter()
        .map(|(k, t)| (k.to_string(), t))
        .collect();
    VarBuilder::from_tensors(map, candle_core::DType::F32, &Device::Cpu)
}

/// Same values as candle's own convolutions (the reference semantics of PyTorch's).
#[test]
fn shift_conv_and_up_conv_equal_candle_convolutions() -> Result<()> {
    let dev = Device::Cpu;
    for (cin, cout, h, w, k, pad) in [(5, 4, 7, 6, 3, 1), (3, 2, 5, 9, 3, 0), (4, 3, 6, 6, 1, 0)] {
        let x = Tensor::randn(0f32, 1.0, (2, cin, h, w), &dev)?;
        let wt = Tensor::randn(0f32, 1.0, (cout, cin, k, k), &dev)?;
        let bias = Tensor::randn(0f32, 1.0, cout, &dev)?;
        let conv = ShiftConv::new(
            vb_of(vec![("weight", wt.clone()), ("bias", bias.clone())]),
            cin,
            cout,
            k,
            pad,
        )?;
        let want = x
            .conv2d(&wt, pad, 1, 1, 1)?
            .broadcast_add(&bias.reshape((1, cout, 1, 1))?)?;
        assert!(max_diff(&conv.forward(&x)?, &want) < 1e-4);
    }
    for (cin, cout, h, w) in [(5, 4, 3, 4), (2, 3, 1, 1), (3, 3, 6, 5)] {
        let x = Tensor::randn(0f32, 1.0, (2, cin, h, w), &dev)?;
        let wt = Tensor::randn(0f32, 1.0, (cin, cout, 3, 3), &dev)?;
        let bias = Tensor::randn(0f32, 1.0, cout, &dev)?;
        let up = UpConv::new(
            vb_of(vec![("weight", wt.clone()), ("bias", bias.clone())]),
            cin,
            cout,
        )?;
        let want = x
            .conv_transpose2d(&wt, 1, 1, 2, 1)?
            .broadcast_add(&bias.reshape((1, cout, 1, 1))?)?;
        let got = up.forward(&x)?;
        assert_eq!(got.dims(), &[2, cout, 2 * h, 2 * w]);
        assert!(max_diff(&got, &want) < 1e-4);
    }
    Ok(())
}

/// The reflection pad folded into the direct kernel's input equals padding first.
#[test]
fn reflect_padded_conv_equals_pad_then_conv() -> Result<()> {
    let dev = Device::Cpu;
    for (cin, cout, h, w, k, p) in [(3, 5, 6, 7, 3, 1), (4, 2, 9, 8, 7, 3), (2, 9, 4, 4, 7, 3)] {
        let x = Tensor::randn(0f32, 1.0, (1, cin, h, w), &dev)?;
        let wt = Tensor::randn(0f32, 1.0, (cout, cin, k, k), &dev)?;
        let bias = Tensor::randn(0f32, 1.0, cout, &dev)?;
        let conv = ShiftConv::new(vb_of(vec![("weight", wt), ("bias", bias)]), cin, cout, k, 0)?;
        let want = conv.forward(&reflection_pad2d(&x, p)?)?;
        let got = conv.forward_reflect(&x, p)?;
        assert_eq!(got.dims(), want.dims());
        assert!(
            max_diff(&got, &want) < 1e-4,
            "{cin}→{cout} {h}×{w} k{k} p{p}"
        );
    }
    Ok(())
}

/// The stride-2 convolutions (direct kernel over the input's phases where the CPU runs
/// it) equal candle's, for even and odd sizes and channel counts off the 8-wide tiles.
#[test]
fn stride_conv_equals_candle_convolution() -> Result<()> {
    let dev = Device::Cpu;
    for (cin, cout, h, w, k) in [(5, 4, 9, 6, 3), (3, 9, 8, 8, 4), (2, 17, 7, 11, 4)] {
        let x = Tensor::randn(0f32, 1.0, (2, cin, h, w), &dev)?;
        let wt = Tensor::randn(0f32, 1.0, (cout, cin, k, k), &dev)?;
        let bias = Tensor::randn(0f32, 1.0, cout, &dev)?;
        let conv = StrideConv::new(
            vb_of(vec![("weight", wt.clone()), ("bias", bias.clone())]),
            cin,
            cout,
            k,
            1,
        )?;
        let want = x
            .conv2d(&wt, 1, 2, 1, 1)?
            .broadcast_add(&bias.reshape((1, cout, 1, 1))?)?;
        let got = conv.forward(&x)?;
        assert_eq!(got.dims(), want.dims());
        assert!(max_diff(&got, &want) < 1e-4, "{cin}→{cout} {h}×{w} k{k}");
    }
    Ok(())
}

/// A tracked input takes the differentiable path (the direct kernels have no backward):
/// the gradient reaches the input and equals the one through candle's convolution.
#[test]
fn tracked_inputs_keep_their_gradients() -> Result<()> {
    let dev = Device::Cpu;
    // Even sizes: candle's own stride-2 backward mis-sizes odd ones.
    let x = candle_core::Var::randn(0f32, 1.0, (1, 3, 6, 8), &dev)?;
    let wt = Tensor::randn(0f32, 1.0, (4, 3, 3, 3), &dev)?;
    let bias = Tensor::zeros(4, candle_core::DType::F32, &dev)?;
    let vb = || vb_of(vec![("weight", wt.clone()), ("bias", bias.clone())]);
    type Layer = Box<dyn Fn(&Tensor) -> Result<Tensor>>;
    let layers: [Layer; 2] = [
        {
            let c = ShiftConv::new(vb(), 3, 4, 3, 1)?;
            Box::new(move |t| c.forward(t))
        },
        {
            let c = StrideConv::new(vb(), 3, 4, 3, 1)?;
            Box::new(move |t| c.forward(t))
        },
    ];
    for (i, layer) in layers.iter().enumerate() {
        let stride = i + 1;
        let g = layer(x.as_tensor())?.sqr()?.sum_all()?.backward()?;
        let got = g.get(x.as_tensor()).expect("gradient reaches the input");
        let want = x
            .as_tensor()
            .conv2d(&wt, 1, stride, 1, 1)?
            .sqr()?
            .sum_all()?
            .backward()?;
        let want = want.get(x.as_tensor()).expect("candle's gradient");
        assert!(max_diff(got, want) < 1e-4, "stride {stride}");
    }
    Ok(())
}

#[test]
fn instance_norm_normalises_each_channel() -> Result<()> {
    let dev = Device::Cpu;
    let x = Tensor::arange(0f32, 2.0 * 3.0 * 16.0, &dev)?
        .reshape((2, 3, 4, 4))?
        .sqr()?;
    let vb = VarBuilder::from_tensors(
        [
            ("weight".to_string(), Tensor::new(&[1f32, 2.0, 0.5], &dev)?),
            ("bias".to_string(), Tensor::new(&[0f32, 1.0, -1.0], &dev)?),
        ]
        .into_iter()
        .collect(),
        candle_core::DType::F32,
        &dev,
    );
    let y = InstanceNorm::new(vb, 3)?.forward(&x)?.reshape((2, 3, 16))?;
    let mean = y.mean(2)?.to_vec2::<f32>()?;
    let std = y
        .broadcast_sub(&y.mean_keepdim(2)?)?
        .sqr()?
        .mean(2)?
        .sqrt()?
        .to_vec2::<f32>()?;
    for b in 0..2 {
        for (c, (m, s)) in [(0f32, 1f32), (1.0, 2.0), (-1.0, 0.5)].iter().enumerate() {
            assert!((mean[b][c] - m).abs() < 1e-4, "mean {b},{c}");
            assert!((std[b][c] - s).abs() < 1e-3, "std {b},{c}: {}", std[b][c]);
        }
    }
    Ok(())
}

/// The fused op equals the composed layers (norm, then activation), values and gradients
/// of x, weight and bias, for every activation, affine and plain.
#[test]
fn fused_equals_composed_values_and_gradients() -> Result<()> {
    let dev = Device::Cpu;
    for act in [
        Activation::None,
        Activation::LeakyRelu(0.1),
        Activation::Relu,
    ] {
        for affine in [true, false] {
            let x = Var::randn(0.5f32, 2.0, (2, 3, 5, 4), &dev)?;
            let w = Var::randn(1f32, 0.3, 3, &dev)?;
            let b = Var::randn(0f32, 0.5, 3, &dev)?;
            let probe = Tensor::randn(0f32, 1.0, (2, 3, 5, 4), &dev)?;
            let norm = if affine {
                let map = [("weight", w.as_tensor()), ("bias", b.as_tensor())]
                    .into_iter()
                    .map(|(k, t)| (k.to_string(), t.clone()))
                    .collect();
                InstanceNorm::new(VarBuilder::from_tensors(map, DType::F32, &dev), 3)?
            } else {
                InstanceNorm::plain()
            };
            let composed = {
                let y = norm.forward(x.as_tensor())?;
                match act {
                    Activation::None => y,
                    Activation::LeakyRelu(s) => leaky_relu(&y, s)?,
                    Activation::Relu => y.relu()?,
                }
            };
            let params = affine.then(|| (w.as_tensor(), b.as_tensor()));
            let fused =
                crate::ops::instance_norm_act(x.as_tensor(), params, InstanceNorm::EPS, act)?;
            let d = (&fused - &composed)?.abs()?.max_all()?.to_scalar::<f32>()?;
            assert!(d < 1e-5, "{act:?} affine {affine}: forward differs by {d}");
            let g1 = (&fused * &probe)?.sum_all()?.backward()?;
            let g2 = (&composed * &probe)?.sum_all()?.backward()?;
            let vars: Vec<&Var> = if affine { vec![&x, &w, &b] } else { vec![&x] };
            for v in vars {
                let d = (g1.get(v).unwrap() - g2.get(v).unwrap())?
                    .abs()?
                    .max_all()?
                    .to_scalar::<f32>()?;
                assert!(d < 1e-4, "{act:?} affine {affine}: gradient differs by {d}");
            }
        }
    }
    Ok(())
}
