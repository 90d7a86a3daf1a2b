//! The refiner as every front end uses it: loading (clear errors naming keys), the refined
//! method through the one render path, and its promise that the compositor's exact pixels stay
//! exact (identity edits, everything outside the gate).

use candle_core::{Device, Tensor};
use marionette::composite::pipeline::{Edit, Method, RefinerRunner, Renderer};
use marionette::composite::refine::{edge_band, gate};
use marionette::composite::{composite_puppet, PhotoLayers};
use marionette::model::refiner::{self, Refiner, RefinerConfig};
use marionette::puppet::PuppetConfig;
use marionette::synth::{render_scene, SynthConfig};
use marionette::train::refiner::save_weights;
use marionette::weights::StateDict;

fn small() -> RefinerConfig {
    RefinerConfig {
        widths: [8, 8, 8, 8],
        res_blocks: 1,
        working_hw: (64, 48),
    }
}

/// Seeded He-normal weights, zero biases except the output's: its confidence bias opens the
/// alpha (σ(3) ≈ 0.95) and its residual biases ask for a visible change, so the refined method
/// moves pixels on every run. (Unseeded N(0, 0.3) weights blew up through the layers and, on
/// some draws, saturated the alpha at 0: a refiner that changed nothing.)
fn random_state(cfg: &RefinerConfig) -> StateDict {
    let keys =
        marionette::model::keys::record_keys(|vb| Refiner::new(vb, cfg).map(|_| ())).unwrap();
    let mut rng = marionette::util::rng::SplitMix64::new(21);
    keys.into_iter()
        .map(|(k, shape)| {
            let data = if k == "out.bias" {
                vec![0.4, -0.4, 0.4, 3.0]
            } else if k.ends_with(".weight") {
                rng.he_normal(&shape)
            } else {
                vec![0.0; shape.iter().product()]
            };
            (k, Tensor::from_vec(data, shape, &Device::Cpu).unwrap())
        })
        .collect()
}

fn saved(cfg: &RefinerConfig, edit: impl FnOnce(&mut StateDict)) -> tempfile::TempPath {
    let mut state = random_state(cfg);
    edit(&mut state);
    let file = tempfile::Builder::new()
        .suffix(".safetensors")
        .tempfile()
        .unwrap()
        .into_temp_path();
    save_weights(&state, cfg, &file).unwrap();
    file
}

#[test]
fn a_checkpoint_with_a_missing_or_misshaped_key_is_refused_by_name() {
    let cfg = small();
    let missing = saved(&cfg, |s| {
        s.remove("mid.0.conv2.weight");
    });
    let e = format!("{:#}", refiner::load(&missing, &Device::Cpu).err().unwrap());
    assert!(e.contains("mid.0.conv2.weight"), "{e}");
    let misshaped = saved(&cfg, |s| {
        s.insert(
            "out.weight".into(),
            Tensor::zeros((5, 8, 3, 3), candle_core::DType::F32, &Device::Cpu).unwrap(),
        );
    });
    let e = format!(
        "{:#}",
        refiner::load(&misshaped, &Device::Cpu).err().unwrap()
    );
    assert!(e.contains("out.weight") && e.contains("mis-shaped"), "{e}");
    // A GFLA checkpoint (or any file without the refiner's config) is not a refiner.
    let plain = tempfile::Builder::new()
        .suffix(".safetensors")
        .tempfile()
        .unwrap()
        .into_temp_path();
    marionette::weights::save_safetensors(&random_state(&cfg), &plain).unwrap();
    let e = format!("{:#}", refiner::load(&plain, &Device::Cpu).err().unwrap());
    assert!(e.contains("not a refiner checkpoint"), "{e}");
}

fn runner(cfg: &RefinerConfig) -> RefinerRunner {
    let path = saved(cfg, |_| {});
    RefinerRunner::load(Some(&path), &Device::Cpu).unwrap()
}

#[test]
fn refined_edits_change_only_gated_pixels_and_identity_stays_exact() {
    let cfg = small();
    let scene = render_scene(
        21,
        &SynthConfig {
            height: 128,
            width: 96,
        },
    );
    let p = &scene.pair;
    let layers = PhotoLayers::new(
        p.source.clone(),
        scene.source_person.clone(),
        scene.background.clone(),
    )
    .unwrap();
    let puppet = PuppetConfig::default();
    let mut r = Renderer::refined(runner(&cfg));
    assert_eq!(r.method(), Method::Refined);

    // A real edit: pixels change inside the gate, none outside it.
    let edit = Edit {
        source: &p.source_pose,
        target: &p.target_pose,
        puppet: &puppet,
    };
    let plain = composite_puppet(&layers, edit.source, edit.target, &puppet).unwrap();
    let refined = r.render(&p.source, Some(&layers), &edit).unwrap();
    let out = refined.composited.as_ref().unwrap();
    assert_eq!(out.person, plain.person, "the layers are the compositor's");
    let (mut changed, mut gated) = (0, 0);
    for (i, (a, b)) in out.image.pixels().zip(plain.image.pixels()).enumerate() {
        let g = gate(
            plain.vacated[i],
            plain.invented[i],
            edge_band(plain.person[i]) * plain.moved[i],
        );
        gated += (g > 0.0) as usize;
        if a != b {
            changed += 1;
            assert!(g > 0.0, "pixel {i} changed outside the gate");
        }
    }
    assert!(gated > 0, "the edit vacates or invents something");
    assert!(
        changed > gated / 10,
        "{changed} of {gated} gated pixels changed"
    );

    // The identity edit: the photo back, bit for bit, refiner or not.
    let same = Edit {
        source: &p.source_pose,
        target: &p.source_pose,
        puppet: &puppet,
    };
    let id = r.render(&p.source, Some(&layers), &same).unwrap();
    let plain_id = composite_puppet(&layers, same.source, same.target, &puppet).unwrap();
    assert_eq!(id.image, plain_id.image);
}

#[test]
fn the_refined_method_names_what_it_lacks() {
    let e = Renderer::new(Method::Refined, None).err().unwrap();
    assert!(format!("{e:#}").contains("refiner"), "{e:#}");
    assert_eq!(Method::parse("refined").unwrap(), Method::Refined);
    assert_eq!(Method::Refined.instant(), Method::Puppet);
    let e = RefinerRunner::load(
        Some(std::path::Path::new("/nonexistent/refiner.safetensors")),
        &Device::Cpu,
    )
    .err()
    .unwrap();
    assert!(
        format!("{e:#}").contains("/nonexistent/refiner.safetensors"),
        "{e:#}"
    );
}
