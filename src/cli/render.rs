//! `marionette render`: photo + source pose + target pose → the person in the target pose,
//! plus (GFLA) the flow fields in the reference colour wheel and the occlusion masks.

use crate::composite::pipeline::maps::{self, LevelArrays, LevelMap};
use crate::composite::pipeline::{
    default_method, CropPolicy, Edit, Method, NetworkRun, NetworkRunner, Renderer,
};
use crate::composite::PhotoLayers;
use crate::imaging::{self, save_image_atomic};
use crate::model::{Generator, ModelKind};
use crate::pose::{self, Pose};
use crate::puppet::{Layer, Limb, PuppetConfig};
use anyhow::{Context, Result};
use clap::Args;
use std::path::{Path, PathBuf};

#[derive(Args, Debug)]
pub struct RenderArgs {
    /// What moves the person: `puppet` (the training-free warp), `gfla` or `pona` (networks).
    /// Default: the best method measured by `marionette eval` (the puppet, composited); GFLA
    /// when `--weights`, `--random-weights` or `--config` name a network.
    #[arg(long, value_parser = ["gfla", "pona", "puppet", "refined"])]
    pub model: Option<String>,
    /// Generator checkpoint (.safetensors, .pth, legacy .pth). GFLA default: the shipped
    /// model trained on synthetic people (assets/models/gfla_synth.safetensors).
    #[arg(long)]
    pub weights: Option<PathBuf>,
    /// Use untrained random weights (to try the pipeline without a checkpoint).
    #[arg(long, conflicts_with = "weights")]
    pub random_weights: bool,
    /// Architecture and input size preset; inferred from the checkpoint when omitted.
    #[arg(long, value_parser = ["fashion", "market", "synth"])]
    pub config: Option<String>,
    /// The photo.
    #[arg(long)]
    pub image: PathBuf,
    /// Skeleton of the person in the photo (OpenPose JSON, photo pixels).
    #[arg(long)]
    pub source_pose: PathBuf,
    /// The pose to render (OpenPose JSON, photo pixels).
    #[arg(long)]
    pub target_pose: PathBuf,
    /// Output image (.png or .jpg).
    #[arg(long)]
    pub out: PathBuf,
    /// GFLA: also write the flow field as a colour wheel image (finest level; other levels get
    /// a `_level<N>` suffix).
    #[arg(long)]
    pub flow: Option<PathBuf>,
    /// GFLA: also write the occlusion masks as grey images (white = taken from the source).
    #[arg(long)]
    pub mask: Option<PathBuf>,
    /// Which person of multi-person pose files.
    #[arg(long, default_value_t = 0)]
    pub person: usize,
    /// cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// Not composited into the photo: puppet, the plain warp of the whole photo; a network, its
    /// own output at its keypoint frame (the papers' protocol).
    #[arg(long)]
    pub raw: bool,
    /// Also write the layers to this folder (matte.png, plate.png, person.png: the target
    /// person's alpha, vacated.png: where the plate shows, invented.png: what was invented).
    #[arg(long, conflicts_with = "raw")]
    pub layers: Option<PathBuf>,
    /// Outline in magenta what the composite invented (person the photo never showed).
    #[arg(long, conflicts_with = "raw")]
    pub mark_invented: bool,
    /// Puppet: limbs drawn in front of the body where they cross it, whatever the skeleton
    /// suggests (comma-separated: right-arm, left-arm, right-leg, left-leg).
    #[arg(long, value_delimiter = ',', value_parser = parse_limb)]
    pub front: Vec<Limb>,
    /// Puppet: limbs drawn behind the body (same names as --front).
    #[arg(long, value_delimiter = ',', value_parser = parse_limb)]
    pub behind: Vec<Limb>,
}

fn parse_limb(s: &str) -> Result<Limb, String> {
    Limb::parse(s)
        .ok_or_else(|| format!("unknown limb {s:?}: right-arm, left-arm, right-leg or left-leg"))
}

/// The puppet's settings with the depth order of `--front` / `--behind`.
fn puppet_config(args: &RenderArgs) -> Result<PuppetConfig> {
    let mut cfg = PuppetConfig::still();
    for (limbs, layer) in [(&args.front, Layer::Front), (&args.behind, Layer::Behind)] {
        for &limb in limbs {
            anyhow::ensure!(
                cfg.order.get(limb).is_none_or(|l| l == layer),
                "the {} is both in --front and --behind",
                limb.name()
            );
            cfg.order.set(limb, Some(layer));
        }
    }
    Ok(cfg)
}

/// The composite as written: with `--mark-invented`, the invented regions outlined.
fn finished(args: &RenderArgs, out: &crate::composite::Composited) -> image::RgbImage {
    let mut image = out.image.clone();
    if args.mark_invented {
        let width = (image.width().min(image.height()) as usize / 300).max(1);
        crate::imaging::draw::outline_region(&mut image, &out.invented, [255, 0, 255], width);
    }
    image
}

pub fn run(args: &RenderArgs) -> Result<()> {
    // Weights or a preset name a network: GFLA unless told otherwise.
    let network_args = args.weights.is_some() || args.random_weights || args.config.is_some();
    let model = match &args.model {
        Some(m) => m.as_str(),
        None if network_args => "gfla",
        None => match default_method()? {
            Method::Puppet => "puppet",
            Method::Network => "gfla",
            Method::Refined => "refined",
        },
    };
    if model == "puppet" || model == "refined" {
        return run_puppet(args, model == "refined");
    }
    let kind = ModelKind::parse(model)?;
    anyhow::ensure!(
        args.front.is_empty() && args.behind.is_empty(),
        "--front/--behind set the puppet's depth order (--model puppet); a network decides it itself"
    );
    if kind == ModelKind::Pona && args.layers.is_some() {
        anyhow::bail!(
            "PoNA has no flow or occlusion mask to composite with, so no layers; drop --layers"
        );
    }
    if kind == ModelKind::Pona && (args.flow.is_some() || args.mask.is_some()) {
        anyhow::bail!("PoNA has no flow field or occlusion mask (it explains itself with attention maps); drop --flow/--mask");
    }
    let device = super::parse_device(&args.device)?;
    let (photo, source, target) = read_inputs(args)?;
    if source.num_present() == 0 {
        anyhow::bail!(
            "{}: the source pose has no joints",
            args.source_pose.display()
        );
    }
    let weights = match (&args.weights, args.random_weights, kind) {
        (Some(p), _, _) => Some(p.clone()),
        (None, false, ModelKind::Gfla) => Some(crate::model::shipped::default_gfla_weights()?),
        (None, false, ModelKind::Pona) => {
            anyhow::bail!("PoNA has no shipped weights: pass --weights or --random-weights")
        }
        (None, true, _) => None,
    };
    let generator = Generator::load(kind, weights.as_deref(), args.config.as_deref(), &device)
        .with_context(|| format!("loading the {} model", kind.name()))?;
    let runner = NetworkRunner::new(generator, device, CropPolicy::Tight);
    let mut renderer = Renderer::new(Method::Network, Some(runner))?;
    let cfg = PuppetConfig::default();
    let edit = Edit {
        source: &source,
        target: &target,
        puppet: &cfg,
    };
    // PoNA has nothing to composite with: its own frame, as --raw.
    let layers = match kind {
        ModelKind::Gfla if !args.raw => layers_or_note(&photo, &source),
        ModelKind::Pona if !args.raw => {
            eprintln!(
                "note: PoNA has no flow or occlusion output to composite with; writing its own \
                 frame (as --raw)"
            );
            None
        }
        _ => None,
    };
    let edited = renderer.render(&photo, layers.as_ref(), &edit)?;
    match (&layers, &edited.composited) {
        (Some(layers), Some(out)) => {
            save_image_atomic(&finished(args, out), &args.out)?;
            println!(
                "wrote {} ({}×{}, composited)",
                args.out.display(),
                photo.width(),
                photo.height()
            );
            if let Some(dir) = &args.layers {
                save_layers(dir, layers, out)?;
            }
        }
        _ => {
            save_image_atomic(&edited.image, &args.out)?;
            println!(
                "wrote {} ({}×{})",
                args.out.display(),
                edited.image.width(),
                edited.image.height()
            );
        }
    }
    let run = edited.network.context("the network did not run")?;
    save_network_maps(args, &run)
}

/// `--flow`, `--mask` of a network: each level's map at the keypoint frame's size.
fn save_network_maps(args: &RenderArgs, run: &NetworkRun) -> Result<()> {
    if args.flow.is_none() && args.mask.is_none() {
        return Ok(());
    }
    let (fh, fw) = run.frame_hw;
    let out = &run.output;
    let levels = LevelArrays::from_tensors(&out.flows, &out.masks, &out.levels)?;
    let views: Vec<_> = levels.iter().map(LevelArrays::view).collect();
    let files = maps::save_maps(
        args.flow.as_deref(),
        args.mask.as_deref(),
        &views,
        (fw as u32, fh as u32),
    )?;
    for f in files {
        println!("wrote {}", f.display());
    }
    Ok(())
}

/// The photo and the two skeletons named on the command line.
fn read_inputs(args: &RenderArgs) -> Result<(image::RgbImage, Pose, Pose)> {
    let photo = imaging::open_photo(&args.image)?;
    let source = pose::read_openpose(&args.source_pose, args.person)
        .with_context(|| format!("reading the source pose {}", args.source_pose.display()))?;
    let target = pose::read_openpose(&args.target_pose, args.person)
        .with_context(|| format!("reading the target pose {}", args.target_pose.display()))?;
    Ok((photo, source, target))
}

/// `--model puppet`: the whole photo warped by the skeletons (no network, no crop).
/// The puppet's edit, composited; with `refined`, corrected by the shipped refiner.
fn run_puppet(args: &RenderArgs, refined: bool) -> Result<()> {
    if args.weights.is_some() || args.random_weights || args.config.is_some() {
        anyhow::bail!(
            "the puppet warp has no weights or config; drop --weights/--random-weights/--config"
        );
    }
    let mut renderer = if refined {
        Renderer::load(Method::Refined, None, &super::parse_device(&args.device)?)?
    } else {
        Renderer::new(Method::Puppet, None)?
    };
    let cfg = puppet_config(args)?;
    let (photo, source, target) = read_inputs(args)?;
    let (w, h) = (photo.width() as usize, photo.height() as usize);
    // The person re-posed inside the photo (matte, plate, composite) unless --raw, or unless no
    // matte can be had (no detector models): then the plain warp, and why.
    let layers = if args.raw {
        None
    } else {
        layers_or_note(&photo, &source)
    };
    let edit = Edit {
        source: &source,
        target: &target,
        puppet: &cfg,
    };
    let edited = renderer.render(&photo, layers.as_ref(), &edit)?;
    match (&layers, &edited.composited) {
        (Some(layers), Some(out)) => {
            save_image_atomic(&finished(args, out), &args.out)?;
            if let Some(dir) = &args.layers {
                save_layers(dir, layers, out)?;
            }
        }
        _ => save_image_atomic(&edited.image, &args.out)?,
    }
    println!("wrote {} ({w}×{h})", args.out.display());
    if args.flow.is_none() && args.mask.is_none() {
        return Ok(());
    }
    // The full-resolution warp's maps (the composite works on a coarser grid of its own).
    let warp = crate::puppet::puppet_warp(&source, &target, h, w, &cfg);
    let views = [LevelMap {
        level: 0,
        height: h,
        width: w,
        flow: &warp.flow.data,
        mask: &warp.mask,
    }];
    maps::save_maps(
        args.flow.as_deref(),
        args.mask.as_deref(),
        &views,
        (w as u32, h as u32),
    )?;
    Ok(())
}

/// The layers, or `None` with a note saying why the output is not composited.
fn layers_or_note(photo: &image::RgbImage, source: &Pose) -> Option<PhotoLayers> {
    composite_layers(photo, source)
        .map_err(|e| eprintln!("note: writing the uncomposited result: {e:#}"))
        .ok()
}

/// The photo's layers: the matte of the person whose skeleton is `source` (pose detector) and
/// the plate, with a spinner while they are built.
fn composite_layers(photo: &image::RgbImage, source: &Pose) -> Result<PhotoLayers> {
    let detector = crate::detect::PoseDetector::load_default()?;
    let bar = indicatif::ProgressBar::new_spinner().with_message("matte and background plate");
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    let layers = crate::composite::build_layers(&detector, photo, source, &|| false);
    bar.finish_and_clear();
    layers
}

/// `--layers DIR`: the matte, the plate, the target person's alpha and the plate's share.
fn save_layers(dir: &Path, layers: &PhotoLayers, out: &crate::composite::Composited) -> Result<()> {
    let (w, h) = (
        layers.photo.width() as usize,
        layers.photo.height() as usize,
    );
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let grey = |v: &[f32]| {
        image::GrayImage::from_fn(w as u32, h as u32, |x, y| {
            image::Luma([(v[y as usize * w + x as usize].clamp(0.0, 1.0) * 255.0).round() as u8])
        })
    };
    save_image_atomic(&grey(&layers.matte), &dir.join("matte.png"))?;
    save_image_atomic(&layers.plate, &dir.join("plate.png"))?;
    save_image_atomic(&grey(&out.person), &dir.join("person.png"))?;
    save_image_atomic(&grey(&out.vacated), &dir.join("vacated.png"))?;
    save_image_atomic(&grey(&out.invented), &dir.join("invented.png"))?;
    println!("wrote the layers to {}", dir.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn parse(extra: &[&str]) -> RenderArgs {
        let mut argv = vec![
            "marionette",
            "render",
            "--image",
            "a.png",
            "--source-pose",
            "s.json",
            "--target-pose",
            "t.json",
            "--out",
            "o.png",
        ];
        argv.extend_from_slice(extra);
        match super::super::Cli::try_parse_from(argv).unwrap().command {
            Some(super::super::Command::Render(a)) => a,
            _ => unreachable!(),
        }
    }

    #[test]
    fn front_and_behind_set_the_puppets_depth_order() {
        let cfg = puppet_config(&parse(&[
            "--front",
            "right-arm,left_leg",
            "--behind",
            "left-arm",
        ]))
        .unwrap();
        assert_eq!(cfg.order.get(Limb::RightArm), Some(Layer::Front));
        assert_eq!(cfg.order.get(Limb::LeftLeg), Some(Layer::Front));
        assert_eq!(cfg.order.get(Limb::LeftArm), Some(Layer::Behind));
        assert_eq!(cfg.order.get(Limb::RightLeg), None);
        assert!(puppet_config(&parse(&[])).unwrap().order.is_auto());
        let both = puppet_config(&parse(&["--front", "right-arm", "--behind", "right-arm"]));
        assert!(format!("{:#}", both.unwrap_err()).contains("both"));
        let argv = ["marionette", "render", "--front", "tail"];
        let e = super::super::Cli::try_parse_from(argv)
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown limb"), "{e}");
    }
}
