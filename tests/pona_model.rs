//! PoNA against the authors' outputs: every fixture in `../shared/fixtures/pona` (or
//! `$MARIONETTE_PONA_FIXTURES`), discovered from its JSON, with weights from every format
//! present; every reference tensor compared; official key lists validated.

mod common;

use candle_core::{DType, Device, Tensor};
use common::*;
use marionette::model::pona::{self, HeatmapKind, PonaConfig, PonaNorm};
use marionette::model::Tracer;
use marionette::pose::{Joint, Pose, NUM_JOINTS};
use marionette::weights::{self, parse_key_list, StateDict};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

fn pona_fixture_dir() -> PathBuf {
    match std::env::var_os("MARIONETTE_PONA_FIXTURES") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/pona"),
    }
}

struct Fixture {
    name: String,
    dir: PathBuf,
    json: Value,
    io: HashMap<String, Tensor>,
}

fn fixtures() -> Vec<Fixture> {
    let dir = pona_fixture_dir();
    let found: Vec<_> = fixture_jsons(&dir)
        .into_iter()
        .filter(|(_, j)| j.get("config").is_some() && j.get("files").is_some())
        .map(|(path, json)| {
            let name = json["fixture"].as_str().unwrap().to_string();
            let io = load_tensors_on(
                &path.with_file_name(format!("{name}_io.safetensors")),
                &test_device(),
            );
            Fixture {
                name,
                dir: path.parent().unwrap().to_path_buf(),
                json,
                io,
            }
        })
        .collect();
    assert!(!found.is_empty(), "no PoNA fixtures in {}", dir.display());
    found
}

/// The config the fixture's JSON describes.
fn config_from_json(j: &Value) -> PonaConfig {
    let c = &j["config"];
    let u = |v: &Value| v.as_u64().unwrap() as usize;
    PonaConfig {
        ngf: u(&c["ngf"]),
        norm: match c["norm"].as_str().unwrap() {
            "batch" => PonaNorm::Batch,
            "instance" => PonaNorm::Instance,
            other => panic!("unknown norm {other}"),
        },
        n_blocks: u(&c["n_blocks"]),
        image_nc: u(&c["image_channels"]),
        pose_nc: u(&c["heatmap_channels_per_pose"]),
        qk_channels: u(&c["qk_channels_C_div_8"]),
        fusion_qk_channels: u(&c["fusion_qk_channels_2C_div_8"]),
        input_hw: (u(&c["H"]), u(&c["W"])),
        heatmap: match j["heatmaps"]["kind"].as_str().unwrap() {
            "onehot" => HeatmapKind::OneHot,
            "gaussian" => HeatmapKind::Gaussian,
            other => panic!("unknown heat-map kind {other}"),
        },
    }
}

/// Weight files named in the JSON's `files` that exist, by extension; a named file that is
/// absent is skipped, and the test says so.
fn weight_files(f: &Fixture) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = f.json["files"]
        .as_object()
        .unwrap()
        .keys()
        .filter(|k| k.contains("_weights."))
        .map(|k| f.dir.join(k))
        .filter(|p| {
            let there = p.exists();
            if !there {
                println!("{}: {} absent, skipped", f.name, p.display());
            }
            there
        })
        .collect();
    v.sort();
    v
}

/// Tolerance of a tensor given the reference (fixture README).
fn tolerance(name: &str, reference: &Tensor) -> f32 {
    if name == "output.image" || name.ends_with(".attn") || name.ends_with(".fusion_attn") {
        1e-4
    } else {
        let max = reference
            .abs()
            .unwrap()
            .flatten_all()
            .unwrap()
            .max(0)
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        5e-5 * max.max(1.0)
    }
}

fn poses_from_keypoints(t: &Tensor) -> Vec<Pose> {
    let kp = t.to_dtype(DType::I64).unwrap().to_vec3::<i64>().unwrap();
    kp.iter()
        .map(|joints| {
            let mut p = Pose::missing();
            for (j, yx) in joints.iter().enumerate().take(NUM_JOINTS) {
                if yx[0] >= 0 && yx[1] >= 0 {
                    p.set(j, Some(Joint::new(yx[1] as f32, yx[0] as f32, 1.0)));
                }
            }
            p
        })
        .collect()
}

#[test]
fn heatmaps_from_keypoints_equal_the_fixture_inputs() {
    for f in fixtures() {
        let cfg = config_from_json(&f.json);
        for (kp, hm) in [
            ("input.cond_keypoints", "input.cond_heatmap"),
            ("input.target_keypoints", "input.target_heatmap"),
        ] {
            let poses = poses_from_keypoints(&f.io[kp]);
            let ours = pona::encode_poses(&poses, &cfg, &test_device()).unwrap();
            let d = max_abs_diff(&ours, &f.io[hm]);
            let tol = if cfg.heatmap == HeatmapKind::OneHot {
                0.0
            } else {
                1e-6
            };
            assert!(d <= tol, "{} {hm}: {d}", f.name);
        }
    }
}

#[test]
fn every_fixture_matches_reference_with_every_weight_format() {
    for f in fixtures() {
        let cfg = config_from_json(&f.json);
        let files = weight_files(&f);
        assert!(
            files
                .iter()
                .any(|p| p.extension().is_some_and(|e| e == "safetensors")),
            "{}: expected safetensors weights (other formats are optional)",
            f.name
        );
        let mut first: Option<Tensor> = None;
        for path in files {
            let (model, inferred) = pona::weights::load(&path, None, &cfg, &test_device())
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert_eq!(
                inferred,
                cfg,
                "{}: config inferred from the weights",
                path.display()
            );
            let mut tracer = Tracer::on();
            let out = model
                .forward_traced(
                    &f.io["input.cond_image"],
                    &f.io["input.cond_heatmap"],
                    &f.io["input.target_heatmap"],
                    &mut tracer,
                )
                .unwrap();
            let mut got = tracer.into_map();
            got.insert("output.image".into(), out.image.clone());
            for (b, a) in out.attention.iter().enumerate() {
                assert_eq!(max_abs_diff(a, &got[&format!("block{b}.attn")]), 0.0);
            }
            let mut compared = 0;
            for (name, want) in &f.io {
                if name.starts_with("input.") || want.dtype() != DType::F32 {
                    continue;
                }
                let have = got
                    .get(name)
                    .unwrap_or_else(|| panic!("{}: no `{name}`", f.name));
                let (d, tol) = (max_abs_diff(have, want), tolerance(name, want));
                if path.extension().is_some_and(|e| e == "safetensors") {
                    println!(
                        "{} {name}: max abs diff {d:.2e} (tolerance {tol:.1e})",
                        f.name
                    );
                }
                assert!(d <= tol, "{} {name}: {d} > {tol}", f.name);
                compared += 1;
            }
            // Every float tensor the fixture holds, whatever their number: derived from the
            // fixture, not a fixed count.
            let stored =
                f.io.iter()
                    .filter(|(n, t)| !n.starts_with("input.") && t.dtype() == DType::F32)
                    .count();
            assert!(
                compared == stored && f.io.contains_key("output.image"),
                "{}: {compared} of {stored} tensors compared",
                f.name
            );
            // uint8 output: truncation, ±1 at integer boundaries.
            let ours = ((&out.image + 1.0).unwrap() / 2.0)
                .unwrap()
                .affine(255.0, 0.0)
                .unwrap()
                .clamp(0f32, 255f32)
                .unwrap()
                .floor()
                .unwrap();
            let want = f.io["output.image_u8"]
                .to_dtype(DType::F32)
                .unwrap()
                .permute((0, 3, 1, 2))
                .unwrap();
            assert!(
                max_abs_diff(&ours, &want) <= 1.0,
                "{}: uint8 output",
                f.name
            );
            match &first {
                None => first = Some(out.image),
                Some(img) => assert_eq!(
                    max_abs_diff(img, &out.image),
                    0.0,
                    "{}: formats differ",
                    f.name
                ),
            }
        }
    }
}

/// The JSON's worked visualiser example: the top-3 source cells of one attention row.
#[test]
fn attention_rows_index_source_cells_like_the_reference() {
    for f in fixtures() {
        let ex = &f.json["viz_example"];
        let (Some(i), Some(b)) = (ex["row_index_i"].as_u64(), ex["sample"].as_u64()) else {
            continue;
        };
        let w = f.json["config"]["code_w"].as_u64().unwrap() as usize;
        for k in 0.. {
            let Some(want) = ex[format!("block{k}_top3_source_cells")].as_array() else {
                break;
            };
            let row = f.io[&format!("block{k}.attn")]
                .get(b as usize)
                .unwrap()
                .get(i as usize)
                .unwrap()
                .to_vec1::<f32>()
                .unwrap();
            let mut order: Vec<usize> = (0..row.len()).collect();
            order.sort_by(|&a, &c| row[c].total_cmp(&row[a]));
            for (rank, cell) in want.iter().enumerate() {
                let (y, x, p) = (
                    cell[0].as_u64().unwrap() as usize,
                    cell[1].as_u64().unwrap() as usize,
                    cell[2].as_f64().unwrap(),
                );
                assert_eq!(order[rank], y * w + x, "{} block {k} rank {rank}", f.name);
                assert!((row[order[rank]] as f64 - p).abs() < 1e-5);
            }
        }
    }
}

fn spec_key_lists() -> Vec<(String, BTreeMap<String, Vec<usize>>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/spec");
    let mut lists: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter_map(|p| {
            let name = p.file_name()?.to_str()?.to_string();
            let preset = name
                .strip_prefix("pona_keys_")?
                .strip_suffix(".txt")?
                .to_string();
            Some((
                preset,
                parse_key_list(&std::fs::read_to_string(&p).unwrap()).unwrap(),
            ))
        })
        .collect();
    lists.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(lists.len() >= 2);
    lists
}

#[test]
fn official_key_lists_match_presets_and_parameter_counts() {
    // Spec §8: trainable parameters and buffer elements at ngf = 64.
    let counts: HashMap<&str, (usize, usize)> = [
        ("market", (34_330_444, 2_184)),
        ("fashion", (34_329_356, 0)),
    ]
    .into();
    for (preset, shapes) in spec_key_lists() {
        let cfg = PonaConfig::preset(&preset).unwrap();
        let expected: BTreeMap<_, _> = pona::weights::expected_keys(&cfg)
            .unwrap()
            .into_iter()
            .collect();
        assert_eq!(expected, shapes, "{preset}");
        assert_eq!(PonaConfig::infer(&shapes, &cfg).unwrap(), cfg, "{preset}");
        let is_buffer = |k: &str| k.contains("running_") || k.ends_with("num_batches_tracked");
        let params: usize = shapes
            .iter()
            .filter(|(k, _)| !is_buffer(k))
            .map(|(_, s)| s.iter().product::<usize>())
            .sum();
        let buffers: usize = shapes
            .iter()
            .filter(|(k, _)| is_buffer(k))
            .map(|(_, s)| s.iter().product::<usize>())
            .sum();
        assert_eq!((params, buffers), counts[preset.as_str()], "{preset}");
        // Zeros of those shapes pass validation and build the model.
        let state: StateDict = shapes
            .iter()
            .map(|(k, s)| {
                let dtype = if k.ends_with("num_batches_tracked") {
                    DType::I64
                } else {
                    DType::F32
                };
                (
                    k.clone(),
                    Tensor::zeros(s.as_slice(), dtype, &Device::Cpu).unwrap(),
                )
            })
            .collect();
        pona::weights::from_state_dict(state, None, &cfg, &Device::Cpu, Path::new(&preset))
            .unwrap();
    }
}

#[test]
fn wrong_keys_are_named() {
    let f = &fixtures()[0];
    let path = weight_files(f)
        .into_iter()
        .find(|p| p.extension().is_some_and(|e| e == "safetensors"))
        .unwrap();
    let (mut state, _) = weights::load_state_dict(&path).unwrap();
    let cfg = config_from_json(&f.json);
    let t = state.remove("model.att.1.gamma").unwrap();
    state.insert("model.att.1.gama".into(), t);
    let err = pona::weights::from_state_dict(state, Some(&cfg), &cfg, &Device::Cpu, &path)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("missing:     model.att.1.gamma")
            && err.contains("unexpected:  model.att.1.gama"),
        "{err}"
    );
}

/// The common `Generator` interface (config inferred from the checkpoint) gives the same image.
#[test]
fn generator_interface_reproduces_the_reference() {
    use marionette::model::{Generator, ModelKind};
    for f in fixtures() {
        for path in weight_files(&f) {
            let g = Generator::load(ModelKind::Pona, Some(&path), None, &test_device()).unwrap();
            let out = g
                .generate(
                    &f.io["input.cond_image"],
                    &f.io["input.cond_heatmap"],
                    &f.io["input.target_heatmap"],
                    None,
                )
                .unwrap();
            assert!(
                max_abs_diff(&out.image, &f.io["output.image"]) <= 1e-4,
                "{}",
                path.display()
            );
            assert_eq!(out.nonlocal_attention.len(), 3);
            assert!(out.flows.is_empty() && out.local_attention.is_empty());
        }
    }
}
