//! The model side of the editor, run on the worker thread: loads the chosen checkpoint, keeps
//! one crop and the source features per photo, and turns each (source, target) request into a
//! result plus its explanation (flows, masks, attention) as plain CPU arrays for the UI.

use super::field::FloatField;
// Re-exported: callers outside the app (the CLI's benchmarks) name it from here.
pub use super::photo::Photo;
use crate::composite::pipeline::{CropPolicy, NetworkRunner};
use crate::imaging::{self, FitTransform};
use crate::model::{Generated, Generator, ModelKind};
use crate::pose::Pose;
use anyhow::{Context, Result};
use candle_core::{Device, Tensor};
use image::RgbImage;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

/// Which weights to run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ModelChoice {
    /// `assets/models/gfla_synth.safetensors`, trained by us (see the README's model card).
    Bundled,
    /// A user's checkpoint (.safetensors, .pth): GFLA or PoNA, told apart by its keys.
    File(PathBuf),
    /// Untrained weights of a GFLA preset (tests, and trying the pipeline without weights).
    Random(String),
}

/// A model and the device it runs on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelSpec {
    pub choice: ModelChoice,
    /// `cpu`, `cuda` or `cuda:N`.
    pub device: String,
}

impl Default for ModelSpec {
    fn default() -> Self {
        Self {
            choice: ModelChoice::Bundled,
            device: "cpu".into(),
        }
    }
}

/// What the model menu shows.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelInfo {
    /// "bundled gfla_synth.safetensors", a file name, or "random fashion".
    pub name: String,
    pub kind: ModelKind,
    /// Architecture summary ([`Generator::describe`]).
    pub description: String,
    /// The device it runs on, named for people (`NVIDIA H200 (cuda:0)`, `CPU`).
    pub device: String,
    /// Why it runs on the CPU although another device was asked for (no GPU, no driver, a
    /// build without CUDA); `None` when it runs where asked.
    pub fallback: Option<String>,
    /// The network's input (H, W) and the frame its keypoints live in.
    pub input_hw: (usize, usize),
    pub frame_hw: (usize, usize),
}

#[derive(Clone, Debug)]
pub struct RenderRequest {
    pub id: u64,
    pub model: ModelSpec,
    pub photo: Arc<Photo>,
    /// Skeletons in photo pixels.
    pub source: Pose,
    pub target: Pose,
}

/// Local attention of one level: `k²` weights per cell, layout (k², h, w) like the model's.
#[derive(Clone, Debug, PartialEq)]
pub struct LocalAttention {
    pub kernel: usize,
    pub weights: Vec<f32>,
}

/// The explanation maps of one attention level (GFLA): fields at 1/2^level of the input.
#[derive(Clone, Debug)]
pub struct LevelMaps {
    pub level: usize,
    /// Δx, Δy in cells of this level, target → source.
    pub flow: Arc<FloatField>,
    /// 1 = taken from the (warped) source, 0 = generated.
    pub mask: Arc<FloatField>,
    pub attention: Option<LocalAttention>,
}

/// PoNA's explanation: per block, attention (N × N) over its code grid.
#[derive(Clone, Debug)]
pub struct NonLocalMaps {
    pub grid_hw: (usize, usize),
    pub blocks: Vec<Vec<f32>>,
}

/// A finished render.
#[derive(Clone, Debug)]
pub struct Rendered {
    pub request: u64,
    pub photo_id: u64,
    pub model: ModelInfo,
    /// The crop the model saw; maps the result back onto the photo.
    pub crop: FitTransform,
    /// The result at the model's input size (a stretched view of the crop).
    pub image: RgbImage,
    /// GFLA levels, deepest first.
    pub levels: Vec<LevelMaps>,
    pub nonlocal: Option<NonLocalMaps>,
    /// Wall time of this request on the worker (model load excluded).
    pub millis: f64,
    /// Whether the cached source features were used.
    pub source_reused: bool,
}

/// A failed request, with the model that was loaded, if any, so the menu stays truthful.
#[derive(Clone, Debug)]
pub struct RenderFailure {
    pub request: u64,
    pub model: Option<ModelInfo>,
    pub message: String,
}

/// Boxed: the failure is rare and large; results stay cheap to move.
pub type RenderResponse = std::result::Result<Rendered, Box<RenderFailure>>;

/// A loaded model: what was asked for, what the menu says about it, and the pipeline's runner
/// (the editor's crop, kept while edits stay inside it, and the cached source features).
struct LoadedModel {
    spec: ModelSpec,
    info: ModelInfo,
    runner: NetworkRunner,
}

/// Owns the model on the worker thread.
#[derive(Default)]
pub struct Engine {
    model: Option<LoadedModel>,
}

impl Engine {
    pub fn new() -> Self {
        Self::default()
    }

    /// Runs one request: (re)loads the model if the choice changed, reuses the scene when the
    /// photo, the source skeleton and the crop still hold, and renders the target.
    pub fn run(&mut self, req: &RenderRequest) -> RenderResponse {
        let fail = |engine: &Self, e: anyhow::Error| {
            Box::new(RenderFailure {
                request: req.id,
                model: engine.model.as_ref().map(|m| m.info.clone()),
                message: format!("{e:#}"),
            })
        };
        if let Err(e) = self.ensure_model(&req.model) {
            return Err(fail(self, e));
        }
        self.render(req).map_err(|e| fail(self, e))
    }

    fn ensure_model(&mut self, spec: &ModelSpec) -> Result<()> {
        if self.model.as_ref().is_some_and(|m| &m.spec == spec) {
            return Ok(());
        }
        self.model = Some(load_model(spec)?);
        Ok(())
    }

    fn render(&mut self, req: &RenderRequest) -> Result<Rendered> {
        let t0 = Instant::now();
        let model = self.model.as_mut().context("no model loaded")?;
        let run = model.runner.run(
            Some(req.photo.id),
            &req.photo.image,
            &req.source,
            &req.target,
        )?;
        let image = imaging::tensor_to_image(&run.output.image)?;
        let (levels, nonlocal) = explanation(&run.output)?;
        Ok(Rendered {
            request: req.id,
            photo_id: req.photo.id,
            model: model.info.clone(),
            crop: run.crop,
            image,
            levels,
            nonlocal,
            millis: t0.elapsed().as_secs_f64() * 1e3,
            source_reused: run.source_reused,
        })
    }
}

/// Loads `spec`'s weights. A user file is tried as GFLA, then PoNA; when neither fits, both
/// reasons are reported (the first names the missing or mis-shaped keys).
fn load_model(spec: &ModelSpec) -> Result<LoadedModel> {
    // A GPU that cannot be had (no driver, no device, a CPU-only build) must not leave the
    // editor without a model: run on the CPU and say why.
    let (device, fallback) = match crate::model::device::parse_device(&spec.device) {
        Ok(d) => (d, None),
        Err(e) if spec.device != "cpu" => (Device::Cpu, Some(format!("{e:#}; running on the CPU"))),
        Err(e) => return Err(e),
    };
    let (generator, name) = match &spec.choice {
        ModelChoice::Bundled => {
            let path = crate::model::shipped::default_gfla_weights()?;
            let g = Generator::load(ModelKind::Gfla, Some(&path), None, &device)
                .with_context(|| format!("loading the bundled model {}", path.display()))?;
            (
                g,
                format!("bundled {}", crate::model::shipped::DEFAULT_GFLA),
            )
        }
        ModelChoice::File(path) => {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| path.display().to_string());
            let g = match Generator::load(ModelKind::Gfla, Some(path), None, &device) {
                Ok(g) => g,
                Err(gfla) => Generator::load(ModelKind::Pona, Some(path), None, &device)
                    .map_err(|pona| {
                        anyhow::anyhow!(
                            "{}: not a GFLA checkpoint ({gfla:#}); not a PoNA checkpoint either ({pona:#})",
                            path.display()
                        )
                    })?,
            };
            (g, name)
        }
        ModelChoice::Random(preset) => (
            Generator::load(ModelKind::Gfla, None, Some(preset), &device)?,
            format!("random {preset}"),
        ),
    };
    let info = ModelInfo {
        name,
        kind: generator.kind(),
        description: generator.describe(),
        device: crate::model::device::device_name(&device),
        fallback,
        input_hw: generator.input_hw(),
        frame_hw: generator.keypoint_frame_hw(),
    };
    Ok(LoadedModel {
        spec: spec.clone(),
        info,
        runner: NetworkRunner::new(generator, device, CropPolicy::Reusable),
    })
}

/// The model's explanation as CPU arrays.
fn explanation(out: &Generated) -> Result<(Vec<LevelMaps>, Option<NonLocalMaps>)> {
    let mut levels = Vec::new();
    for (i, &level) in out.levels.iter().enumerate() {
        let flow = field(&out.flows[i], 2)?;
        let mask = field(&out.masks[i], 1)?;
        let attention = out
            .local_attention
            .iter()
            .find(|t| t.level == level)
            .map(|t| -> Result<LocalAttention> {
                Ok(LocalAttention {
                    kernel: t.kernel,
                    weights: t.attention.get(0)?.flatten_all()?.to_vec1::<f32>()?,
                })
            })
            .transpose()?;
        levels.push(LevelMaps {
            level,
            flow: Arc::new(flow),
            mask: Arc::new(mask),
            attention,
        });
    }
    let nonlocal = match out.grid_hw {
        Some(grid_hw) => Some(NonLocalMaps {
            grid_hw,
            blocks: out
                .nonlocal_attention
                .iter()
                .map(|a| a.get(0)?.flatten_all()?.to_vec1::<f32>())
                .collect::<candle_core::Result<_>>()?,
        }),
        None => None,
    };
    Ok((levels, nonlocal))
}

/// A (1, C, h, w) tensor as a [`FloatField`].
fn field(t: &Tensor, channels: u8) -> Result<FloatField> {
    let (_, c, h, w) = t.dims4()?;
    anyhow::ensure!(
        c == channels as usize,
        "expected {channels} channels, got {c}"
    );
    let data = t
        .get(0)?
        .to_dtype(candle_core::DType::F32)?
        .flatten_all()?
        .to_vec1::<f32>()?;
    FloatField::new(w as u32, h as u32, channels, data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pose::rig::Rig;

    fn request(id: u64, photo: &Arc<Photo>, source: &Pose, target: &Pose) -> RenderRequest {
        RenderRequest {
            id,
            model: ModelSpec {
                choice: ModelChoice::Random("synth".into()),
                device: "cpu".into(),
            },
            photo: Arc::clone(photo),
            source: source.clone(),
            target: target.clone(),
        }
    }

    /// A GPU that cannot be had leaves the editor with a working model on the CPU and the
    /// reason in its info (what the Model menu and the status bar show), not a failure.
    #[test]
    fn an_unavailable_gpu_falls_back_to_the_cpu_with_the_reason() {
        let photo = Arc::new(Photo {
            id: 1,
            path: None,
            image: RgbImage::from_pixel(96, 128, image::Rgb([120, 90, 60])),
        });
        let pose = Rig::template(96.0, 128.0).to_pose();
        let mut req = request(1, &photo, &pose, &pose);
        // No machine has a 100th GPU; a CPU-only build has none at all.
        req.model.device = "cuda:99".into();
        let r = Engine::new()
            .run(&req)
            .expect("falls back instead of failing");
        assert!(r.model.device.starts_with("CPU"), "{}", r.model.device);
        let why = r.model.fallback.expect("the reason is kept");
        assert!(why.contains("CUDA device 99"), "{why}");
        assert!(why.ends_with("running on the CPU"), "{why}");
        // Asking for the CPU is not a fallback.
        let r = Engine::new()
            .run(&request(2, &photo, &pose, &pose))
            .unwrap();
        assert_eq!(r.model.fallback, None);
    }

    /// Small edits reuse the cached source features and give what a fresh engine gives; a
    /// target leaving the crop forces a new crop.
    #[test]
    fn cached_source_equals_a_full_pass() {
        let image = RgbImage::from_fn(160, 200, |x, y| {
            image::Rgb([
                (x * 3 % 256) as u8,
                (y * 5 % 256) as u8,
                ((x + y) % 256) as u8,
            ])
        });
        let photo = Arc::new(Photo {
            id: 1,
            path: None,
            image,
        });
        let skel = Rig::template(160.0, 200.0);
        let source = skel.to_pose();
        // A small edit (the wrist a few pixels), well inside the crop.
        let mut moved = skel.clone();
        let w = moved.points[crate::pose::skeleton::R_WRIST];
        moved.drag(
            crate::pose::skeleton::R_WRIST,
            [w[0] + 6.0, w[1] - 8.0],
            false,
        );
        let target = moved.to_pose();

        let mut engine = Engine::new();
        let first = engine.run(&request(1, &photo, &source, &source)).unwrap();
        assert!(!first.source_reused);
        let second = engine.run(&request(2, &photo, &source, &target)).unwrap();
        assert!(second.source_reused);
        assert_eq!(first.crop, second.crop);

        // A fresh engine (no cache) gives the same picture; the runner's own test checks the
        // maps too (`composite::pipeline`).
        let cold = Engine::new()
            .run(&request(0, &photo, &source, &target))
            .unwrap();
        assert!(!cold.source_reused);
        assert_eq!(cold.image, second.image);
        assert_eq!(second.levels.len(), 2);
        let l = &second.levels[1];
        let (ih, iw) = second.model.input_hw;
        assert_eq!(
            (l.flow.width as usize, l.flow.height as usize),
            (iw >> l.level, ih >> l.level)
        );
        let att = l.attention.as_ref().unwrap();
        assert_eq!(
            att.weights.len(),
            att.kernel * att.kernel * l.flow.width as usize * l.flow.height as usize
        );

        // A wrist far outside the crop: new crop, no reuse.
        let mut far = moved.clone();
        far.points[crate::pose::skeleton::R_WRIST] = [-400.0, -300.0];
        let third = engine
            .run(&request(3, &photo, &source, &far.to_pose()))
            .unwrap();
        assert!(!third.source_reused);
        assert!(third.crop.crop_w > second.crop.crop_w);
    }

    #[test]
    fn bad_checkpoint_is_reported_with_both_reasons() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("junk.safetensors");
        std::fs::write(&path, b"not a checkpoint").unwrap();
        let mut engine = Engine::new();
        let photo = Arc::new(Photo {
            id: 1,
            path: None,
            image: RgbImage::new(64, 64),
        });
        let pose = Rig::template(64.0, 64.0).to_pose();
        let mut req = request(5, &photo, &pose, &pose);
        req.model.choice = ModelChoice::File(path);
        let err = engine.run(&req).unwrap_err();
        assert_eq!(err.request, 5);
        assert!(err.model.is_none());
        assert!(
            err.message.contains("not a GFLA checkpoint"),
            "{}",
            err.message
        );
        assert!(err.message.contains("PoNA"), "{}", err.message);
    }
}
