//! Checkpoint validation: the official key lists, errors that name every bad key, tolerated
//! variations (`module.` prefix, one half of a duplicated pair), unreadable files.

mod common;

use candle_core::{DType, Device, Tensor};
use common::*;
use marionette::model::gfla::{self, GflaConfig};
use marionette::weights::{self, parse_key_list, StateDict, WeightsError};
use std::path::{Path, PathBuf};

fn spec_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/spec")
}

/// Every `gfla_keys_<preset>.txt` generator key list (not the `_netD` discriminator lists).
fn official_key_lists() -> Vec<(String, PathBuf)> {
    let mut lists: Vec<_> = std::fs::read_dir(spec_dir())
        .expect("../shared/spec")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter_map(|p| {
            let name = p.file_name()?.to_str()?.to_string();
            let preset = name
                .strip_prefix("gfla_keys_")?
                .strip_suffix(".txt")?
                .to_string();
            (!preset.contains("netD")).then_some((preset, p))
        })
        .collect();
    lists.sort();
    assert!(
        lists.len() >= 2,
        "expected the fashion and market key lists"
    );
    lists
}

#[test]
fn official_key_lists_match_presets_and_load_with_random_weights() {
    for (preset, path) in official_key_lists() {
        let shapes = parse_key_list(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let cfg = GflaConfig::preset(&preset).unwrap_or_else(|| panic!("no preset `{preset}`"));
        // The model code asks for exactly the official keys and shapes …
        let expected: std::collections::BTreeMap<_, _> = gfla::weights::expected_keys(&cfg)
            .unwrap()
            .into_iter()
            .collect();
        assert_eq!(
            expected,
            shapes,
            "{preset}: model keys differ from {}",
            path.display()
        );
        // … the architecture read back from the shapes is the preset …
        let inferred = GflaConfig::infer(&shapes, &cfg).unwrap();
        assert_eq!(inferred.canonical(), cfg.canonical(), "{preset}");
        // … and random weights of those shapes pass validation and build the model.
        let state: StateDict = shapes
            .iter()
            .map(|(k, s)| {
                (
                    k.clone(),
                    Tensor::zeros(s.as_slice(), DType::F32, &Device::Cpu).unwrap(),
                )
            })
            .collect();
        let params: usize = shapes
            .iter()
            .filter(|(k, _)| !k.contains(".conv1."))
            .map(|(_, s)| s.iter().product::<usize>())
            .sum();
        println!("{preset}: {} keys, {params} parameters", shapes.len());
        gfla::weights::from_state_dict(state, None, &cfg, &Device::Cpu, &path).unwrap();
    }
}

#[test]
fn official_parameter_counts_match_the_spec() {
    // Spec §1: parameters excluding the duplicated conv1 aliases.
    for (preset, want) in [("fashion", 14_047_395usize), ("market", 12_926_471)] {
        let cfg = GflaConfig::preset(preset).unwrap();
        let n: usize = gfla::weights::expected_keys(&cfg)
            .unwrap()
            .iter()
            .filter(|(k, _)| !k.contains(".conv1."))
            .map(|(_, s)| s.iter().product::<usize>())
            .sum();
        assert_eq!(n, want, "{preset}");
    }
}

fn fixture_weights() -> Vec<PathBuf> {
    let dir = gfla_fixture_dir();
    let mut v: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with("_weights.safetensors"))
        .collect();
    v.sort();
    assert!(!v.is_empty());
    v
}

fn inferred(state: &StateDict) -> GflaConfig {
    GflaConfig::infer(&weights::shapes(state), &GflaConfig::fashion()).unwrap()
}

#[test]
fn renamed_and_misshaped_keys_are_all_named_in_one_error() {
    for path in fixture_weights() {
        let (mut state, _) = weights::load_state_dict(&path).unwrap();
        let cfg = inferred(&state);
        let renamed = "source.block0.model.5.weight";
        let t = state.remove(renamed).unwrap();
        state.insert("source.block0.model.5.weights".into(), t);
        let misshaped = "flow_net.encoder1.model.2.bias";
        let t = state[misshaped].narrow(0, 0, 1).unwrap();
        state.insert(misshaped.into(), t);
        let err = gfla::weights::from_state_dict(state, Some(&cfg), &cfg, &Device::Cpu, &path)
            .unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, WeightsError::Mismatch { .. }), "{msg}");
        assert!(msg.contains(&format!("missing:     {renamed}")), "{msg}");
        assert!(
            msg.contains("unexpected:  source.block0.model.5.weights"),
            "{msg}"
        );
        assert!(msg.contains(&format!("mis-shaped:  {misshaped}")), "{msg}");
        assert!(
            msg.contains("1 missing, 1 unexpected, 1 mis-shaped"),
            "{msg}"
        );
    }
}

#[test]
fn checkpoint_of_another_architecture_is_rejected_with_the_keys() {
    // A market-shaped checkpoint loaded as the fashion preset: a shape error, not a crash.
    let path = fixture_weights().into_iter().next().unwrap();
    let (state, _) = weights::load_state_dict(&path).unwrap();
    let cfg = GflaConfig::market();
    let err =
        gfla::weights::from_state_dict(state, Some(&cfg), &cfg, &Device::Cpu, &path).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("mis-shaped:  source.block0.model.2.weight: model expects [64, 3, 4, 4]"),
        "{msg}"
    );
}

fn save(state: &StateDict, path: &Path) {
    weights::save_safetensors(state, path).unwrap();
}

fn output_image(path: &Path, io: &std::collections::HashMap<String, Tensor>) -> Tensor {
    let (state, _) = weights::load_state_dict(path).unwrap();
    let cfg = inferred(&state);
    let (model, _) = gfla::weights::from_state_dict(state, None, &cfg, &Device::Cpu, path).unwrap();
    let b = 1;
    let take = |n: &str| io[n].narrow(0, 0, b).unwrap();
    model
        .forward(
            &take("input.source_image"),
            &take("input.source_pose"),
            &take("input.target_pose"),
        )
        .unwrap()
        .image
}

#[test]
fn module_prefix_and_single_alias_are_tolerated() {
    let dir = tempfile::tempdir().unwrap();
    for path in fixture_weights() {
        let io = load_tensors(&PathBuf::from(
            path.to_string_lossy()
                .replace("_weights.safetensors", "_io.safetensors"),
        ));
        let (state, _) = weights::load_state_dict(&path).unwrap();
        let reference = output_image(&path, &io);

        let prefixed: StateDict = state
            .iter()
            .map(|(k, t)| (format!("module.{k}"), t.clone()))
            .collect();
        let p1 = dir.path().join("prefixed.safetensors");
        save(&prefixed, &p1);
        assert_eq!(max_abs_diff(&output_image(&p1, &io), &reference), 0.0);

        // Only `conv1` for some modules, only `model.2` for the others.
        let halves: StateDict = state
            .iter()
            .filter(|(k, _)| {
                let twin = k.split_once(".conv1.").map(|(m, _)| (m, true)).or_else(|| {
                    k.split_once(".model.2.")
                        .filter(|(m, _)| {
                            m.ends_with("outconv")
                                || m.rsplit('.').next().unwrap().starts_with("jump")
                        })
                        .map(|(m, _)| (m, false))
                });
                match twin {
                    None => true,
                    Some((module, is_conv1)) => {
                        is_conv1 == (module.ends_with("jump0") || module.ends_with("outconv"))
                    }
                }
            })
            .map(|(k, t)| (k.clone(), t.clone()))
            .collect();
        assert!(halves.len() < state.len());
        let p2 = dir.path().join("halves.safetensors");
        save(&halves, &p2);
        assert_eq!(max_abs_diff(&output_image(&p2, &io), &reference), 0.0);
    }
}

#[test]
fn unreadable_checkpoints_give_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("garbage.pth");
    std::fs::write(&garbage, b"this is not a checkpoint at all").unwrap();
    let err = weights::load_state_dict(&garbage).unwrap_err().to_string();
    assert!(
        err.contains("not a checkpoint") && err.contains("garbage.pth"),
        "{err}"
    );

    let missing = dir.path().join("nope.safetensors");
    let err = weights::load_state_dict(&missing).unwrap_err().to_string();
    assert!(
        err.contains("cannot read checkpoint") && err.contains("nope.safetensors"),
        "{err}"
    );

    let bytes = std::fs::read(&fixture_weights()[0]).unwrap();
    let truncated = dir.path().join("truncated.safetensors");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let err = weights::load_state_dict(&truncated)
        .unwrap_err()
        .to_string();
    assert!(err.contains("truncated.safetensors"), "{err}");
}
