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
            (cases, load_tensors(&path.with_extension("safetensors")))
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
            let vb = VarBuilder::from_tensors(
                weights,
                candle_core::DType::F32,
                &candle_core::Device::Cpu,
            );
            let block = ExtractorAttn::new(channels, kernel_of(case), hidden, vb).unwrap();
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
