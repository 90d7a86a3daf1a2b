//! `marionette render`: photo + source pose + target pose → the person in the target pose,
//! plus the flow field (reference colour wheel) and the occlusion masks.

use crate::imaging::{self, fit::fit_photo, flow_to_color, mask_to_image, save_image_atomic};
use crate::model::gfla::{self, Gfla, GflaConfig, GflaOutput};
use crate::pose::{self, Pose};
use anyhow::{Context, Result};
use candle_core::{Device, Tensor};
use clap::Args;
use image::imageops::FilterType;
use std::path::{Path, PathBuf};

#[derive(Args, Debug)]
pub struct RenderArgs {
    /// Generator checkpoint (.safetensors, .pth, legacy .pth).
    #[arg(long, required_unless_present = "random_weights")]
    pub weights: Option<PathBuf>,
    /// Use untrained random weights (to try the pipeline without a checkpoint).
    #[arg(long, conflicts_with = "weights")]
    pub random_weights: bool,
    /// Architecture and input size preset; inferred from the checkpoint when omitted.
    #[arg(long, value_parser = ["fashion", "market"])]
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
    /// Also write the flow field as a colour wheel image (finest level; other levels get a
    /// `_level<N>` suffix).
    #[arg(long)]
    pub flow: Option<PathBuf>,
    /// Also write the occlusion masks as grey images (white = taken from the source).
    #[arg(long)]
    pub mask: Option<PathBuf>,
    /// Which person of multi-person pose files.
    #[arg(long, default_value_t = 0)]
    pub person: usize,
    /// cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    pub device: String,
}

/// A GFLA model with the config it was built for: from a checkpoint (config from `preset`, or
/// inferred from the weight shapes), or with random weights when `weights` is `None`.
pub fn load_model(
    weights: Option<&Path>,
    preset: Option<&str>,
    device: &Device,
) -> Result<(Gfla, GflaConfig)> {
    let preset_cfg = preset
        .map(|p| GflaConfig::preset(p).with_context(|| format!("unknown preset `{p}`")))
        .transpose()?;
    let Some(path) = weights else {
        let cfg = preset_cfg.unwrap_or_else(GflaConfig::fashion);
        let state = gfla::weights::random_state_dict(&cfg, 0)?;
        let origin = Path::new("<random weights>");
        return Ok(gfla::weights::from_state_dict(
            state,
            Some(&cfg),
            &cfg,
            device,
            origin,
        )?);
    };
    let (state, _) = crate::weights::load_state_dict(path)?;
    let cfg = match preset_cfg {
        Some(cfg) => cfg,
        None => infer_config(&state),
    };
    Ok(gfla::weights::from_state_dict(
        state,
        Some(&cfg),
        &cfg,
        device,
        path,
    )?)
}

/// The architecture from the weight shapes, with the input size of the matching release
/// (one attention level = Market 128×64, otherwise DeepFashion 256×256). When the shapes do not
/// describe a GFLA model, the fashion preset is returned so that validation lists every key
/// that is missing or wrong against it.
fn infer_config(state: &crate::weights::StateDict) -> GflaConfig {
    let shapes = crate::weights::shapes(state);
    match GflaConfig::infer(&shapes, &GflaConfig::fashion()) {
        Ok(mut cfg) => {
            if cfg.attn_layer == [2] {
                let market = GflaConfig::market();
                cfg.input_hw = market.input_hw;
                cfg.annotation_hw = market.annotation_hw;
            }
            cfg
        }
        Err(e) => {
            tracing::warn!("{e}; checking the checkpoint against the fashion preset");
            GflaConfig::fashion()
        }
    }
}

pub fn run(args: &RenderArgs) -> Result<()> {
    let device = super::parse_device(&args.device)?;
    let photo = imaging::open_photo(&args.image)?;
    let source = pose::read_openpose(&args.source_pose, args.person)
        .with_context(|| format!("reading the source pose {}", args.source_pose.display()))?;
    let target = pose::read_openpose(&args.target_pose, args.person)
        .with_context(|| format!("reading the target pose {}", args.target_pose.display()))?;
    if source.num_present() == 0 {
        anyhow::bail!(
            "{}: the source pose has no joints",
            args.source_pose.display()
        );
    }
    let (model, cfg) = load_model(args.weights.as_deref(), args.config.as_deref(), &device)
        .context("loading the GFLA model")?;
    let rendered = render(&model, &cfg, &photo, &source, &target, &device)?;

    let (fh, fw) = cfg.annotation_hw;
    let result = imaging::tensor_to_image(&rendered.output.image)?;
    // Back to the annotation frame's aspect (the model input is a stretched view of it).
    let result = image::imageops::resize(&result, fw as u32, fh as u32, FilterType::CatmullRom);
    save_image_atomic(&result, &args.out)?;
    println!("wrote {} ({}×{})", args.out.display(), fw, fh);
    let levels = cfg.levels_deepest_first();
    if let Some(path) = &args.flow {
        for (i, flow) in rendered.output.flows.iter().enumerate() {
            let img = flow_image(flow)?;
            let img = image::imageops::resize(&img, fw as u32, fh as u32, FilterType::Nearest);
            let out = level_path(path, levels[i], i + 1 == levels.len());
            save_image_atomic(&img, &out)?;
            println!("wrote {} (flow, level {})", out.display(), levels[i]);
        }
    }
    if let Some(path) = &args.mask {
        for (i, mask) in rendered.output.masks.iter().enumerate() {
            let img = mask_to_image(&mask.get(0)?)?;
            let img = image::imageops::resize(&img, fw as u32, fh as u32, FilterType::Nearest);
            let out = level_path(path, levels[i], i + 1 == levels.len());
            save_image_atomic(&img, &out)?;
            println!("wrote {} (mask, level {})", out.display(), levels[i]);
        }
    }
    Ok(())
}

/// A rendered photo: the model output and the fit that produced its inputs.
pub struct Rendered {
    pub output: GflaOutput,
    pub fit: imaging::FitTransform,
}

/// Fits the photo around both skeletons, encodes the poses and runs the model.
pub fn render(
    model: &Gfla,
    cfg: &GflaConfig,
    photo: &image::RgbImage,
    source: &Pose,
    target: &Pose,
    device: &Device,
) -> Result<Rendered> {
    let fitted = fit_photo(photo, &[source, target], cfg.annotation_hw, cfg.input_hw);
    let t = fitted.transform;
    let image = imaging::image_to_tensor(&fitted.image, device)?;
    let encode = |p: &Pose| -> Result<Tensor> {
        Ok(pose::heatmap_tensor(
            &[t.pose_to_frame(p)],
            cfg.annotation_hw,
            cfg.input_hw,
            device,
        )?)
    };
    let output = model.forward(&image, &encode(source)?, &encode(target)?)?;
    Ok(Rendered { output, fit: t })
}

/// The reference colouring of batch item 0 of a flow (B, 2, h, w).
pub fn flow_image(flow: &Tensor) -> Result<image::RgbImage> {
    let f = flow.get(0)?;
    let (_, h, w) = f.dims3()?;
    let dx = f.get(0)?.flatten_all()?.to_vec1::<f32>()?;
    let dy = f.get(1)?.flatten_all()?.to_vec1::<f32>()?;
    Ok(flow_to_color(&dx, &dy, h, w))
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
