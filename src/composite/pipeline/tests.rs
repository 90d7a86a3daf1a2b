//! The render path's owner: methods, the network's crop and cache, and that every method's
//! result is the compositor's (no second assembly of it).

use super::*;
use crate::composite::network::composite_network;
use crate::synth::{render_scene, SynthConfig};

fn scene_layers(seed: u64) -> (crate::synth::SynthScene, PhotoLayers) {
    let scene = render_scene(
        seed,
        &SynthConfig {
            height: 192,
            width: 144,
        },
    );
    let layers = PhotoLayers::new(
        scene.pair.source.clone(),
        scene.source_person.clone(),
        scene.background.clone(),
    )
    .unwrap();
    (scene, layers)
}

fn pair_edit<'a>(p: &'a crate::synth::SynthPair, cfg: &'a PuppetConfig) -> Edit<'a> {
    Edit {
        source: &p.source_pose,
        target: &p.target_pose,
        puppet: cfg,
    }
}

fn random_runner(policy: CropPolicy) -> NetworkRunner {
    let g = Generator::load(ModelKind::Gfla, None, Some("synth"), &Device::Cpu).unwrap();
    NetworkRunner::new(g, Device::Cpu, policy)
}

#[test]
fn methods_parse_by_name_and_instant_previews_need_no_network() {
    assert_eq!(Method::parse("puppet").unwrap(), Method::Puppet);
    assert_eq!(Method::parse(" network ").unwrap(), Method::Network);
    assert_eq!(
        Method::parse(Method::Network.name()).unwrap(),
        Method::Network
    );
    assert!(
        format!("{:#}", Method::parse("magic").unwrap_err()).contains("puppet, network or refined")
    );
    for m in [Method::Puppet, Method::Network] {
        assert!(!m.instant().needs_network());
    }
    let e = Renderer::new(Method::Network, None)
        .err()
        .expect("needs a network");
    assert!(format!("{e:#}").contains("needs a network"));
}

/// The puppet method: over layers, exactly the compositor's result; without layers, exactly
/// the plain warp of the whole photo.
#[test]
fn the_puppet_method_is_the_compositors_result() {
    let (scene, layers) = scene_layers(5);
    let p = &scene.pair;
    let cfg = PuppetConfig::default();
    let edit = pair_edit(p, &cfg);
    let mut r = Renderer::new(Method::Puppet, None).unwrap();
    let out = r.render(&p.source, Some(&layers), &edit).unwrap();
    let direct = composite_puppet(&layers, &p.source_pose, &p.target_pose, &cfg).unwrap();
    assert_eq!(out.image, direct.image);
    assert_eq!(out.composited.unwrap().person, direct.person);
    assert!(out.network.is_none());
    let plain = r.render(&p.source, None, &edit).unwrap();
    let (w, h) = (p.source.width() as usize, p.source.height() as usize);
    let warp = puppet_warp(&p.source_pose, &p.target_pose, h, w, &cfg);
    assert_eq!(plain.image, puppet_render(&p.source, &warp));
    assert!(plain.composited.is_none());
    // Layers of another photo are refused, not composited.
    let other = PhotoLayers::new(RgbImage::new(8, 8), vec![0.0; 64], RgbImage::new(8, 8)).unwrap();
    assert!(r.render(&p.source, Some(&other), &edit).is_err());
}

/// The network method: its run placed by the crop and composited by the network compositor;
/// the source features are reused for the same photo and skeleton and give what a fresh
/// runner gives.
#[test]
fn the_network_method_composites_its_run_and_reuses_the_source() {
    let (scene, layers) = scene_layers(9);
    let p = &scene.pair;
    let cfg = PuppetConfig::default();
    let edit = pair_edit(p, &cfg);
    let mut r = Renderer::new(Method::Network, Some(random_runner(CropPolicy::Tight))).unwrap();
    let first = r.render(&p.source, Some(&layers), &edit).unwrap();
    let run = first.network.as_ref().expect("the network ran");
    assert!(!run.source_reused);
    let outputs = run.outputs().unwrap();
    let direct = composite_network(
        &layers,
        &p.source_pose,
        &p.target_pose,
        &run.placed(&outputs),
        &cfg,
    )
    .unwrap();
    assert_eq!(first.image, direct.image);
    let again = r.render(&p.source, Some(&layers), &edit).unwrap();
    assert!(again.network.as_ref().unwrap().source_reused);
    assert_eq!(again.image, first.image);
    // A copy of the layers is the same photo; new layers are not.
    let copy = layers.clone();
    assert!(
        r.render(&p.source, Some(&copy), &edit)
            .unwrap()
            .network
            .unwrap()
            .source_reused
    );
    let fresh = PhotoLayers::new(
        layers.photo.clone(),
        layers.matte.clone(),
        layers.plate.clone(),
    )
    .unwrap();
    assert!(
        !r.render(&p.source, Some(&fresh), &edit)
            .unwrap()
            .network
            .unwrap()
            .source_reused
    );
    // Without layers: the network's own frame.
    let raw = r.render(&p.source, None, &edit).unwrap();
    let (fh, fw) = run.frame_hw;
    assert_eq!(raw.image.dimensions(), (fw as u32, fh as u32));
}

/// The editor's reusable crop keeps the scene for a small edit and matches a fresh runner's
/// result exactly; a target far outside forces a larger crop.
#[test]
fn a_reusable_crop_reuses_the_source_features_exactly() {
    use crate::pose::rig::Rig;
    use crate::pose::skeleton::R_WRIST;
    let photo = RgbImage::from_fn(160, 200, |x, y| {
        image::Rgb([
            (x * 3 % 256) as u8,
            (y * 5 % 256) as u8,
            ((x + y) % 256) as u8,
        ])
    });
    let skel = Rig::template(160.0, 200.0);
    let source = skel.to_pose();
    let mut moved = skel.clone();
    let w = moved.points[R_WRIST];
    moved.drag(R_WRIST, [w[0] + 6.0, w[1] - 8.0], false);
    let target = moved.to_pose();
    let mut runner = random_runner(CropPolicy::Reusable);
    let first = runner.run(Some(1), &photo, &source, &source).unwrap();
    let second = runner.run(Some(1), &photo, &source, &target).unwrap();
    assert!(!first.source_reused && second.source_reused);
    assert_eq!(first.crop, second.crop);
    // Another photo key: no reuse.
    assert!(
        !runner
            .run(Some(2), &photo, &source, &target)
            .unwrap()
            .source_reused
    );
    let mut fresh = random_runner(CropPolicy::Reusable);
    let cold = fresh.run(None, &photo, &source, &target).unwrap();
    let (a, b) = (&cold.output, &second.output);
    let img = |t: &candle_core::Tensor| crate::imaging::tensor_to_image(t).unwrap();
    assert_eq!(img(&a.image), img(&b.image));
    let flat = |t: &candle_core::Tensor| t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    assert_eq!(flat(&a.flows[1]), flat(&b.flows[1]));
    let mut far = moved.clone();
    far.points[R_WRIST] = [-400.0, -300.0];
    let third = runner
        .run(Some(1), &photo, &source, &far.to_pose())
        .unwrap();
    assert!(!third.source_reused && third.crop.crop_w > second.crop.crop_w);
}
