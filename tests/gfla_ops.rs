//! Each custom op alone against the reference tensors of every ops fixture (a JSON whose
//! `fixture` is `ops`, tensors in the safetensors file of the same name).

mod common;

use candle_core::Tensor;
use candle_nn::VarBuilder;
use common::*;
use marionette::model::gfla::ExtractorAttn;
use marionette::ops::{self, resample2d::Resample2d};
use std::collections::HashMap;

/// `k3_smallflow` → 3: the kernel size is the number after `k` in the case name.
fn kernel_of(case: &str) -> usize {
    let tag = case
        .split_whitespace()
        .next()
        .unwrap()
        .rsplit('.')
        .next()
        .unwrap();
    let digits: String = tag
        .trim_start_matches('k')
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits
        .parse()
        .unwrap_or_else(|_| panic!("no kernel size in case `{case}`"))
}

/// `resample2d.k4_sigma2 (kernel_size=4, dilation=1, sigma=2)` → its `name=value` parameters.
fn params_of(case: &str) -> HashMap<String, f64> {
    let inside = case
        .split_once('(')
        .map(|(_, r)| r.trim_end_matches(')'))
        .unwrap_or("");
    inside
        .split(',')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().parse().unwrap()))
        .collect()
}

fn ops_fixtures() -> Vec<(Vec<String>, HashMap<String, Tensor>)> {
    let dir = gfla_fixture_dir();
    let found: Vec<_> = fixture_jsons(&dir)
        .into_iter()
        .filter(|(_, j)| j["fixture"] == "ops")
        .map(|(path, j)| {
            let cases = j["cases"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c.as_str().unwrap().to_string())
                .collect();
            (
                cases,
                load_tensors_on(&path.with_extension("safetensors"), &test_device()),
            )
        })
        .collect();
    assert!(!found.is_empty(), "no ops fixture in {}", dir.display());
    found
}

fn cases<'a>(cases: &'a [String], op: &str) -> Vec<&'a String> {
    cases
        .iter()
        .filter(|c| c.starts_with(&format!("{op}.")))
        .collect()
}

fn prefix(case: &str) -> &str {
    case.split_whitespace().next().unwrap()
}

#[test]
fn block_extractor_matches_reference() {
    for (all, t) in ops_fixtures() {
        let found = cases(&all, "block_extractor");
        assert!(!found.is_empty());
        for case in found {
            let p = prefix(case);
            let out = ops::block_extractor(
                &t[&format!("{p}.source")],
                &t[&format!("{p}.flow")],
                kernel_of(case),
            )
            .unwrap();
            let d = max_abs_diff(&out, &t[&format!("{p}.output")]);
            println!("{p}: max abs diff {d:e}");
            assert!(d <= 1e-5, "{p}: {d}");
        }
    }
}

#[test]
fn local_attn_reshape_is_exact() {
    for (all, t) in ops_fixtures() {
        for case in cases(&all, "local_attn_reshape") {
            let p = prefix(case);
            let out = ops::local_attn_reshape(&t[&format!("{p}.input")], kernel_of(case)).unwrap();
            assert_eq!(max_abs_diff(&out, &t[&format!("{p}.output")]), 0.0, "{p}");
        }
    }
}

#[test]
fn resample2d_matches_reference() {
    for (all, t) in ops_fixtures() {
        let found = cases(&all, "resample2d");
        assert!(!found.is_empty());
        for case in found {
            let p = prefix(case);
            let params = params_of(case);
            let op = Resample2d {
                kernel_size: params["kernel_size"] as usize,
                dilation: params["dilation"] as usize,
                sigma: params["sigma"] as f32,
            };
            let out =
                ops::resample2d(&t[&format!("{p}.input")], &t[&format!("{p}.flow")], op).unwrap();
            let d = max_abs_diff(&out, &t[&format!("{p}.output")]);
            println!("{p}: max abs diff {d:e}");
            assert!(d <= 1e-5, "{p}: {d}");
        }
    }
}

#[test]
fn extractor_attn_matches_reference() {
    for (all, t) in ops_fixtures() {
        let found = cases(&all, "extractor_attn");
        assert!(!found.is_empty());
        for case in found {
            let p = prefix(case);
            let weights: HashMap<String, Tensor> = t
                .iter()
                .filter_map(|(k, v)| {
                    k.strip_prefix(&format!("{p}."))
                        .map(|k| (k.to_string(), v.clone()))
                })
                .filter(|(k, _)| k.starts_with("fully_connect_layer."))
                .collect();
            let source = &t[&format!("{p}.source")];
            let hidden = weights["fully_connect_layer.0.weight"].dim(0).unwrap();
            let channels = source.dim(1).unwrap();
            let vb = VarBuilder::from_tensors(weights, candle_core::DType::F32, &test_device());
            let block = ExtractorAttn::new(vb, channels, kernel_of(case), hidden).unwrap();
            let out = block
                .forward(source, &t[&format!("{p}.target")], &t[&format!("{p}.flow")])
                .unwrap();
            let da = max_abs_diff(&out.attention, &t[&format!("{p}.attn")]);
            let dout = max_abs_diff(&out.features, &t[&format!("{p}.output")]);
            println!("{p}: attn {da:e}, output {dout:e}");
            assert!(da <= 1e-5 && dout <= 1e-5, "{p}: attn {da}, output {dout}");
        }
    }
}

#[test]
fn affine_regularization_matches_reference() {
    for (all, t) in ops_fixtures() {
        let found = cases(&all, "affine_regularization");
        assert!(!found.is_empty());
        for case in found {
            let p = prefix(case);
            let loss =
                ops::affine_regularization(&t[&format!("{p}.flow")], kernel_of(case)).unwrap();
            let got = loss.to_scalar::<f32>().unwrap();
            let want = t[&format!("{p}.loss")]
                .flatten_all()
                .unwrap()
                .to_vec1::<f32>()
                .unwrap()[0];
            let rel = ((got - want) / want).abs();
            println!("{p}: {got} vs {want} (relative {rel:e})");
            assert!(rel <= 1e-5, "{p}: {got} vs {want}");
        }
    }
}

/// Every custom op, forward and backward, on the test device (`$MARIONETTE_TEST_DEVICE`) against
/// the CPU kernels on the same inputs: the CUDA kernels' check, training's gradients included.
/// (On the CPU the two sides are the same kernels, so there it checks only determinism.)
#[test]
fn device_kernels_match_the_cpu_values_and_gradients() {
    use candle_core::{Device, Var};
    let dev = test_device();
    let cpu = Device::Cpu;
    type Op = Box<dyn Fn(&Tensor, &Tensor) -> candle_core::Result<Tensor>>;
    let randn = |shape: &[usize], scale: f64| {
        Tensor::randn(0f32, 1.0, shape, &cpu)
            .unwrap()
            .affine(scale, 0.0)
            .unwrap()
    };
    let cases: Vec<(&str, Op, Tensor, Tensor)> = vec![
        (
            "block_extractor k3",
            Box::new(|s, f| ops::block_extractor(s, f, 3)),
            randn(&[2, 5, 7, 6], 1.0),
            randn(&[2, 2, 4, 3], 2.5),
        ),
        (
            "block_extractor k5",
            Box::new(|s, f| ops::block_extractor(s, f, 5)),
            randn(&[1, 19, 9, 8], 1.0),
            randn(&[1, 2, 9, 8], 4.0),
        ),
        (
            "local_attention k3",
            Box::new(|a, p| ops::local_attention(a, p, 3)),
            randn(&[2, 9, 4, 3], 1.0),
            randn(&[2, 5, 12, 9], 1.0),
        ),
        (
            "tap_sum k3",
            Box::new(|y, b| ops::tap_sum(y, b, 3)),
            randn(&[2, 3, 9, 6, 7], 1.0),
            randn(&[3], 1.0),
        ),
        (
            "up_tap_sum",
            Box::new(ops::up_tap_sum),
            randn(&[2, 3, 9, 4, 5], 1.0),
            randn(&[3], 1.0),
        ),
        (
            "resample2d",
            Box::new(|i, f| ops::resample2d(i, f, Resample2d::default())),
            randn(&[2, 3, 8, 9], 1.0),
            randn(&[2, 2, 6, 7], 3.0),
        ),
    ];
    for (name, op, a, b) in cases {
        let on = |d: &Device| {
            let (va, vb) = (
                Var::from_tensor(&a.to_device(d).unwrap()).unwrap(),
                Var::from_tensor(&b.to_device(d).unwrap()).unwrap(),
            );
            let out = op(va.as_tensor(), vb.as_tensor()).unwrap();
            let weights = Tensor::arange(0f32, out.elem_count() as f32, &cpu)
                .unwrap()
                .reshape(out.shape())
                .unwrap()
                .affine(0.37, 0.0)
                .unwrap()
                .sin()
                .unwrap()
                .to_device(d)
                .unwrap();
            let loss = (&out * &weights).unwrap().sum_all().unwrap();
            // resample2d is forward-only (the loss never differentiates through it).
            let grads = (name != "resample2d").then(|| {
                let g = loss.backward().unwrap();
                [&va, &vb].map(|v| g.get(v).unwrap().clone())
            });
            (out, grads)
        };
        let (want, want_g) = on(&cpu);
        let (have, have_g) = on(&dev);
        let d = max_abs_diff(&have, &want);
        println!("{name} on {dev:?}: forward max abs diff {d:e}");
        assert!(d <= 1e-5, "{name}: forward differs by {d}");
        if let (Some(w), Some(h)) = (want_g, have_g) {
            for (i, (w, h)) in w.iter().zip(&h).enumerate() {
                let scale = w
                    .abs()
                    .unwrap()
                    .max_all()
                    .unwrap()
                    .to_scalar::<f32>()
                    .unwrap();
                let d = max_abs_diff(h, w);
                println!("{name}: gradient {i} max abs diff {d:e} (scale {scale:.2})");
                assert!(
                    d <= 1e-5 * (1.0 + scale),
                    "{name}: gradient {i} differs by {d}"
                );
            }
        }
    }
}
