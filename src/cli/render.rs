//! `marionette render`: photo + source pose + target pose → the person in the target pose,
//! plus (GFLA) the flow fields in the reference colour wheel and the occlusion masks.

use crate::composite::{composite_network, Mover, NetworkOutputs, PhotoLayers};
use crate::imaging::{self, fit::fit_photo, flow_to_color, mask_to_image, save_image_atomic};
use crate::model::{Generated, Generator, ModelKind};
use crate::pose::{self, Pose};
use crate::puppet::{Layer, Limb, PuppetConfig};
use anyhow::{Context, Result};
use candle_core::{Device, Tensor};
use clap::Args;
use image::imageops::FilterType;
use std::path::{Path, PathBuf};

#[derive(Args, Debug)]
pub struct RenderArgs {
    /// What moves the person: `puppet` (the training-free warp), `gfla` or `pona` (networks).
    /// Default: the best method measured by `marionette eval` (the puppet, composited); GFLA
    /// when `--weights`, `--random-weights` or `--config` name a network.
    #[arg(long, value_parser = ["gfla", "pona", "puppet"])]
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
    let mut cfg = PuppetConfig::default();
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
    let model = match (&args.model, crate::composite::DEFAULT_METHOD) {
        (Some(m), _) => m.as_str(),
        (None, _) if network_args => "gfla",
        (None, Mover::Puppet) => "puppet",
        (None, Mover::Network) => "gfla",
    };
    if model == "puppet" {
        return run_puppet(args);
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
    let model = Generator::load(kind, weights.as_deref(), args.config.as_deref(), &device)
        .with_context(|| format!("loading the {} model", kind.name()))?;
    let rendered = render(&model, &photo, &source, &target, &device)?;
    if kind == ModelKind::Gfla && !args.raw {
        if let Some(layers) = layers_or_note(&photo, &source) {
            let out = composite_rendered(&layers, &source, &target, &rendered)?;
            save_image_atomic(&finished(args, &out), &args.out)?;
            println!(
                "wrote {} ({}×{}, composited)",
                args.out.display(),
                photo.width(),
                photo.height()
            );
            if let Some(dir) = &args.layers {
                save_layers(dir, &layers, &out)?;
            }
            return save_network_maps(args, &rendered, &model);
        }
    } else if kind == ModelKind::Pona && !args.raw {
        eprintln!(
            "note: PoNA has no flow or occlusion output to composite with; writing its own \
             frame (as --raw)"
        );
    }
    let (fh, fw) = model.keypoint_frame_hw();
    let result = imaging::tensor_to_image(&rendered.output.image)?;
    // Back to the keypoint frame's aspect (GFLA's input is a stretched view of it).
    let result = image::imageops::resize(&result, fw as u32, fh as u32, FilterType::CatmullRom);
    save_image_atomic(&result, &args.out)?;
    println!("wrote {} ({}×{})", args.out.display(), fw, fh);
    save_network_maps(args, &rendered, &model)
}

/// `--flow`, `--mask` of a network: each level's map at the keypoint frame's size.
fn save_network_maps(args: &RenderArgs, rendered: &Rendered, model: &Generator) -> Result<()> {
    let (fh, fw) = model.keypoint_frame_hw();
    let out = &rendered.output;
    let frame_wh = (fw as u32, fh as u32);
    if let Some(path) = &args.flow {
        save_levels(path, "flow", &out.flows, &out.levels, frame_wh, |f| {
            Ok(imaging::flow_tensor_to_color(&f.get(0)?)?.into())
        })?;
    }
    if let Some(path) = &args.mask {
        save_levels(path, "mask", &out.masks, &out.levels, frame_wh, |m| {
            Ok(mask_to_image(&m.get(0)?)?.into())
        })?;
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
fn run_puppet(args: &RenderArgs) -> Result<()> {
    if args.weights.is_some() || args.random_weights || args.config.is_some() {
        anyhow::bail!(
            "the puppet warp has no weights or config; drop --weights/--random-weights/--config"
        );
    }
    let cfg = puppet_config(args)?;
    let (photo, source, target) = read_inputs(args)?;
    let (w, h) = (photo.width() as usize, photo.height() as usize);
    // The full-resolution warp, only when it is written (the plain warp, --flow, --mask): the
    // composite computes its own on a coarser grid.
    let full_warp = std::cell::OnceCell::new();
    let warp =
        || full_warp.get_or_init(|| crate::puppet::puppet_warp(&source, &target, h, w, &cfg));
    // The person re-posed inside the photo (matte, plate, composite) unless --raw, or unless no
    // matte can be had (no detector models): then the plain warp, and why.
    let composited = if args.raw {
        None
    } else {
        layers_or_note(&photo, &source)
    };
    match composited {
        Some(layers) => {
            let out = crate::composite::composite_puppet(&layers, &source, &target, &cfg)?;
            save_image_atomic(&finished(args, &out), &args.out)?;
            if let Some(dir) = &args.layers {
                save_layers(dir, &layers, &out)?;
            }
        }
        None => save_image_atomic(&crate::puppet::puppet_render(&photo, warp()), &args.out)?,
    }
    println!("wrote {} ({w}×{h})", args.out.display());
    if let Some(path) = &args.flow {
        let plane = h * w;
        let (dx, dy) = warp().flow.data.split_at(plane);
        save_image_atomic(&flow_to_color(dx, dy, h, w), path)?;
    }
    if let Some(path) = &args.mask {
        let m = image::GrayImage::from_fn(w as u32, h as u32, |x, y| {
            image::Luma([
                (warp().mask[y as usize * w + x as usize].clamp(0.0, 1.0) * 255.0).round() as u8,
            ])
        });
        save_image_atomic(&image::DynamicImage::ImageLuma8(m).to_rgb8(), path)?;
    }
    Ok(())
}

/// The layers, or `None` with a note saying why the output is not composited.
fn layers_or_note(photo: &image::RgbImage, source: &Pose) -> Option<PhotoLayers> {
    composite_layers(photo, source)
        .map_err(|e| eprintln!("note: writing the uncomposited result: {e:#}"))
        .ok()
}

/// A GFLA edit composited into the photo: its finest level's flow and mask, and its image,
/// placed by the crop the model saw.
pub fn composite_rendered(
    layers: &PhotoLayers,
    source: &Pose,
    target: &Pose,
    rendered: &Rendered,
) -> Result<crate::composite::Composited> {
    let out = &rendered.output;
    let net = NetworkOutputs::finest(&out.image, &out.flows, &out.masks, out.prior.as_deref(), 0)?;
    let crop = &rendered.fit;
    let edit = net.placed(crop.x0, crop.y0, crop.crop_w, crop.crop_h);
    composite_network(layers, source, target, &edit, &Default::default())
}

/// The photo's layers: the matte of the person whose skeleton is `source` (pose detector) and
/// the plate, with a spinner while they are built.
fn composite_layers(
    photo: &image::RgbImage,
    source: &Pose,
) -> Result<crate::composite::PhotoLayers> {
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

/// A rendered photo: the model output and the fit that produced its inputs.
pub struct Rendered {
    pub output: Generated,
    pub fit: imaging::FitTransform,
}

/// Fits the photo around both skeletons (photo pixels), encodes the poses the model's way and
/// runs it.
pub fn render(
    model: &Generator,
    photo: &image::RgbImage,
    source: &Pose,
    target: &Pose,
    device: &Device,
) -> Result<Rendered> {
    let fitted = fit_photo(
        photo,
        &[source, target],
        model.keypoint_frame_hw(),
        model.input_hw(),
    );
    let t = fitted.transform;
    let image = imaging::image_to_tensor(&fitted.image, device)?;
    let (sp, tp) = (t.pose_to_frame(source), t.pose_to_frame(target));
    let prior = model.encode_prior(std::slice::from_ref(&sp), std::slice::from_ref(&tp), device)?;
    let bp1 = model.encode_poses(&[sp], device)?;
    let bp2 = model.encode_poses(&[tp], device)?;
    Ok(Rendered {
        output: model.generate(&image, &bp1, &bp2, prior.as_deref())?,
        fit: t,
    })
}

/// Writes one image per attention level (`to_image` of each map, upscaled with nearest
/// neighbours to the result size): the finest level at `path`, the others with a
/// `_level<N>` suffix.
fn save_levels(
    path: &Path,
    what: &str,
    maps: &[Tensor],
    levels: &[usize],
    (w, h): (u32, u32),
    to_image: impl Fn(&Tensor) -> Result<image::DynamicImage>,
) -> Result<()> {
    for (i, (map, &level)) in maps.iter().zip(levels).enumerate() {
        let img = to_image(map)?.resize_exact(w, h, FilterType::Nearest);
        let file = level_path(path, level, i + 1 == levels.len());
        save_image_atomic(&img, &file)?;
        println!("wrote {} ({what}, level {level})", file.display());
    }
    Ok(())
}

/// `flow.png` for the finest level, `flow_level3.png` for the others.
fn level_path(path: &Path, level: usize, finest: bool) -> PathBuf {
    if finest {
        return path.to_path_buf();
    }
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let ext = path
        .extension()
        .map(|e| format!(".{}", e.to_string_lossy()))
        .unwrap_or_default();
    path.with_file_name(format!("{stem}_level{level}{ext}"))
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
