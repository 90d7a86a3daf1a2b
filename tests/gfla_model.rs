//! Whole GFLA models against the authors' outputs: every model fixture (a JSON with `config` and
//! `files.io`) in the fixture folder, with weights from every format present, every reference
//! tensor compared (outputs, hooks, intermediates, affine loss, flow colouring).

mod common;

use candle_core::{Device, Tensor};
use common::*;
use marionette::model::gfla::{self, GflaConfig};
use marionette::model::Tracer;
use marionette::{imaging, ops};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

struct ModelFixture {
    name: String,
    dir: PathBuf,
    json: Value,
    io: HashMap<String, Tensor>,
}

fn model_fixtures() -> Vec<ModelFixture> {
    let dir = gfla_fixture_dir();
    let found: Vec<_> = fixture_jsons(&dir)
        .into_iter()
        .filter(|(_, j)| j.get("config").is_some() && j["files"]["io"].is_string())
        .map(|(path, json)| ModelFixture {
            name: json["fixture"].as_str().unwrap_or("?").to_string(),
            io: load_tensors_on(
                &path.with_file_name(json["files"]["io"].as_str().unwrap()),
                &test_device(),
            ),
            dir: path.parent().unwrap().to_path_buf(),
            json,
        })
        .collect();
    assert!(!found.is_empty(), "no model fixtures in {}", dir.display());
    found
}

/// The config the fixture's JSON describes (read independently of the weights).
fn config_from_json(j: &Value) -> GflaConfig {
    let c = &j["config"];
    let u = |v: &Value| v.as_u64().unwrap() as usize;
    let hw = |v: &Value| (u(&v[0]), u(&v[1]));
    GflaConfig {
        image_nc: u(&c["image_nc"]),
        structure_nc: u(&c["structure_nc"]),
        output_nc: u(&c["output_nc"]),
        ngf: u(&c["ngf"]),
        img_f: u(&c["img_f"]),
        layers: u(&c["layers"]),
        num_blocks: u(&c["num_blocks"]),
        attn_layer: c["attn_layer"].as_array().unwrap().iter().map(u).collect(),
        kernel_size: c["kernel_size"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.parse().unwrap(), u(v)))
            .collect(),
        flow_ngf: u(&c["flow_net"]["ngf"]),
        flow_img_f: u(&c["flow_net"]["img_f"]),
        flow_layers: u(&c["flow_net"]["encoder_layer"]),
        attn_hidden: u(&c["attn_hidden_nc"]),
        input_hw: hw(&j["image_hw"]),
        annotation_hw: hw(&j["keypoints"]["frame_hw_of_keypoints(old_size)"]),
        reanchor_colors: false,
        puppet_prior: false,
    }
}

/// The weight files a fixture names that exist. Every format but safetensors is optional: an
/// entry that is `null` or names a missing file is skipped, and the test says so.
fn weight_files(f: &ModelFixture) -> Vec<(String, PathBuf)> {
    let files = f.json["files"].as_object().unwrap();
    files
        .iter()
        .filter(|(k, _)| k.starts_with("weights"))
        .filter_map(|(k, v)| {
            let Some(name) = v.as_str() else {
                println!("{}: no `{k}` file (null), skipped", f.name);
                return None;
            };
            let path = f.dir.join(name);
            if !path.exists() {
                println!("{}: `{k}` {} absent, skipped", f.name, path.display());
                return None;
            }
            Some((k.clone(), path))
        })
        .collect()
}

/// Tolerance by tensor name (fixture README).
fn tolerance(name: &str) -> Option<f32> {
    match name.split('.').next()? {
        "output" if name.starts_with("output.flow") => Some(5e-4),
        "output" | "hook" | "attn" => Some(1e-4),
        "inter" => Some(2e-4),
        _ => None,
    }
}

fn run_fixture(f: &ModelFixture, weights: &Path) -> BTreeMap<String, Tensor> {
    let expected_cfg = config_from_json(&f.json);
    let (model, cfg) = gfla::weights::load(weights, None, &expected_cfg, &test_device())
        .unwrap_or_else(|e| panic!("{}: {e}", weights.display()));
    assert_eq!(
        cfg.canonical(),
        expected_cfg.canonical(),
        "config inferred from {} differs from the JSON",
        weights.display()
    );
    let mut tracer = Tracer::on();
    let out = model
        .forward_traced(
            &f.io["input.source_image"],
            &f.io["input.source_pose"],
            &f.io["input.target_pose"],
            &mut tracer,
        )
        .unwrap();
    let mut got = tracer.into_map();
    got.insert("output.image".into(), out.image);
    for (j, (flow, mask)) in out.flows.into_iter().zip(out.masks).enumerate() {
        got.insert(format!("output.flow.{j}"), flow);
        got.insert(format!("output.mask.{j}"), mask);
    }
    got
}

#[test]
fn every_model_fixture_matches_reference() {
    for f in model_fixtures() {
        let files = weight_files(&f);
        assert!(
            files.iter().any(|(k, _)| k == "weights_safetensors"),
            "{}: no safetensors weights",
            f.name
        );
        // What every fixture must let us compare, whatever its size: the image and each
        // attention level's flow and mask (a one-level Market fixture has 3 of these).
        let levels = config_from_json(&f.json).attn_layer.len();
        let required: Vec<String> = std::iter::once("output.image".to_string())
            .chain(
                (0..levels).flat_map(|j| [format!("output.flow.{j}"), format!("output.mask.{j}")]),
            )
            .collect();
        for name in &required {
            assert!(
                f.io.contains_key(name),
                "{}: the fixture has no `{name}`",
                f.name
            );
        }
        let mut first: Option<BTreeMap<String, Tensor>> = None;
        for (kind, path) in files {
            let got = run_fixture(&f, &path);
            let mut compared = 0;
            for (name, want) in &f.io {
                let Some(tol) = tolerance(name) else { continue };
                let have = got
                    .get(name)
                    .unwrap_or_else(|| panic!("{}: model produced no `{name}`", f.name));
                let d = max_abs_diff(have, want);
                if kind == "weights_safetensors" {
                    println!("{} {name}: max abs diff {d:.3e}", f.name);
                }
                assert!(
                    d <= tol,
                    "{} ({kind}) {name}: max abs diff {d} > {tol}",
                    f.name
                );
                compared += 1;
            }
            assert!(
                compared >= required.len(),
                "{}: only {compared} tensors compared",
                f.name
            );
            // All weight formats must give bit-identical results.
            match &first {
                None => first = Some(got),
                Some(reference) => {
                    for (name, t) in reference {
                        assert_eq!(
                            max_abs_diff(t, &got[name]),
                            0.0,
                            "{} {kind}: {name} differs between formats",
                            f.name
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn affine_regularization_of_model_flows_matches_reference() {
    for f in model_fixtures() {
        let cfg = config_from_json(&f.json);
        let levels = cfg.levels_deepest_first();
        let mut total = 0f32;
        for (j, level) in levels.iter().enumerate() {
            let loss =
                ops::affine_regularization(&f.io[&format!("output.flow.{j}")], cfg.kernel(*level))
                    .unwrap()
                    .to_scalar::<f32>()
                    .unwrap();
            let want = f.io[&format!("loss.affine_regularization.{j}")]
                .flatten_all()
                .unwrap()
                .to_vec1::<f32>()
                .unwrap()[0];
            assert!(
                ((loss - want) / want).abs() <= 1e-4,
                "{} level {level}: {loss} vs {want}",
                f.name
            );
            total += loss;
        }
        let want = f.io["loss.affine_regularization.total"]
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap()[0];
        assert!(
            ((total - want) / want).abs() <= 1e-4,
            "{} total: {total} vs {want}",
            f.name
        );
    }
}

#[test]
fn flow_colouring_matches_reference() {
    for f in model_fixtures() {
        for j in 0.. {
            let Some(want) = f.io.get(&format!("vis.flow_color.{j}")) else {
                break;
            };
            let flow = &f.io[&format!("output.flow.{j}")];
            let img = imaging::flow_to_color(
                &flow
                    .get(0)
                    .unwrap()
                    .get(0)
                    .unwrap()
                    .flatten_all()
                    .unwrap()
                    .to_vec1()
                    .unwrap(),
                &flow
                    .get(0)
                    .unwrap()
                    .get(1)
                    .unwrap()
                    .flatten_all()
                    .unwrap()
                    .to_vec1()
                    .unwrap(),
                flow.dim(2).unwrap(),
                flow.dim(3).unwrap(),
            );
            // The reference stores uint8 levels as x/255·2 − 1.
            let (h, w) = (img.height() as usize, img.width() as usize);
            let mut data = vec![0f32; 3 * h * w];
            for (x, y, p) in img.enumerate_pixels() {
                for c in 0..3 {
                    data[c * h * w + y as usize * w + x as usize] = p[c] as f32 / 255.0 * 2.0 - 1.0;
                }
            }
            let got = Tensor::from_vec(data, (3, h, w), &Device::Cpu).unwrap();
            let (max, frac) = diff_stats(&got, want, 1e-6);
            println!(
                "{} flow colour {j}: max {max:e}, {:.2}% not exact",
                f.name,
                frac * 100.0
            );
            assert!(max <= 2.0 / 255.0 + 1e-6, "{} level {j}: {max}", f.name);
            assert!(
                frac <= 0.01,
                "{} level {j}: {:.2}% of values differ",
                f.name,
                frac * 100.0
            );
        }
    }
}

#[test]
fn cached_source_features_give_the_same_result() {
    for f in model_fixtures() {
        let cfg = config_from_json(&f.json);
        let path = f
            .dir
            .join(f.json["files"]["weights_safetensors"].as_str().unwrap());
        let (model, _) = gfla::weights::load(&path, None, &cfg, &test_device()).unwrap();
        let img = &f.io["input.source_image"];
        let full = model
            .forward(img, &f.io["input.source_pose"], &f.io["input.target_pose"])
            .unwrap();
        let feats = model.encode_source(img).unwrap();
        // Swap the poses: a different target, the same cached source features.
        let cached = model
            .forward_with_source(
                &feats,
                img,
                &f.io["input.source_pose"],
                &f.io["input.target_pose"],
                None,
                &mut Tracer::off(),
            )
            .unwrap();
        assert_eq!(max_abs_diff(&full.image, &cached.image), 0.0);
        let other = model
            .forward_with_source(
                &feats,
                img,
                &f.io["input.source_pose"],
                &f.io["input.source_pose"],
                None,
                &mut Tracer::off(),
            )
            .unwrap();
        assert!(
            max_abs_diff(&full.image, &other.image) > 1e-3,
            "the target pose must matter"
        );
        assert_eq!(full.attention.len(), cfg.attn_layer.len());
        for (tap, level) in full.attention.iter().zip(cfg.levels_deepest_first()) {
            assert_eq!(tap.level, level);
            assert_eq!(tap.attention.dim(1).unwrap(), cfg.kernel(level).pow(2));
            // Softmax over the k² window: coefficients sum to one everywhere.
            let sums = tap.attention.sum(1).unwrap();
            let ones = sums.ones_like().unwrap();
            assert!(max_abs_diff(&sums, &ones) < 1e-5);
        }
    }
}

/// The common `Generator` interface (config inferred from the checkpoint) gives the same outputs.
#[test]
fn generator_interface_reproduces_the_reference() {
    use marionette::model::{Generator, ModelKind};
    for f in model_fixtures() {
        for (_, path) in weight_files(&f) {
            let g = Generator::load(ModelKind::Gfla, Some(&path), None, &test_device()).unwrap();
            let out = g
                .generate(
                    &f.io["input.source_image"],
                    &f.io["input.source_pose"],
                    &f.io["input.target_pose"],
                    None,
                )
                .unwrap();
            assert!(
                max_abs_diff(&out.image, &f.io["output.image"]) <= 1e-4,
                "{}",
                path.display()
            );
            for (j, flow) in out.flows.iter().enumerate() {
                assert!(max_abs_diff(flow, &f.io[&format!("output.flow.{j}")]) <= 5e-4);
            }
            assert_eq!(out.levels, config_from_json(&f.json).levels_deepest_first());
            assert!(out.nonlocal_attention.is_empty());
        }
    }
}
