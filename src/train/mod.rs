//! Training GFLA on synthetic people, on candle, with the same model code as inference.
//!
//! Two stages as in the paper: (1) the flow estimator alone, supervised by the renderer's
//! ground-truth flow (end-point error at every attention level) and visibility (the occlusion
//! mask), with GFLA's affine regularisation; (2) end to end: ℓ1, discriminator feature
//! matching, a least-squares adversarial loss from a spectral-normalised patch discriminator,
//! plus the flow losses. A run folder holds `config.json`, `log.csv`, `samples/` and
//! `checkpoint/` (resumable: weights, optimiser moments, step).

pub mod adam;
pub mod config;
pub mod data;
pub mod discriminator;
pub mod losses;
pub mod params;
pub mod refiner;

pub use config::{LossWeights, TrainConfig};

use crate::model::gfla::{weights as gfla_weights, Gfla};
use crate::model::Tracer;
use crate::weights::{self as wio, StateDict};
use adam::Adam;
use anyhow::{Context, Result};
use candle_core::{Device, Tensor, Var};
use data::Batch;
use discriminator::Discriminator;
use params::Params;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Loss values of one step (NaN where a term is not part of the stage).
#[derive(Clone, Copy, Debug, Default)]
pub struct StepLosses {
    pub flow_epe: f32,
    pub mask: f32,
    pub affine_reg: f32,
    pub l1: f32,
    pub feature_match: f32,
    pub adv_g: f32,
    pub disc: f32,
    pub total: f32,
}

impl StepLosses {
    const HEADER: &'static str =
        "step,stage,total,flow_epe,mask,affine_reg,l1,feature_match,adv_g,disc,seconds";

    fn csv(&self, step: usize, stage: u8, secs: f64) -> String {
        format!(
            "{step},{stage},{},{},{},{},{},{},{},{},{secs:.3}",
            self.total,
            self.flow_epe,
            self.mask,
            self.affine_reg,
            self.l1,
            self.feature_match,
            self.adv_g,
            self.disc
        )
    }

    /// The short form shown on the progress bar.
    pub fn summary(&self) -> String {
        let mut s = format!("epe {:.3} mask {:.3}", self.flow_epe, self.mask);
        if self.l1.is_finite() {
            s += &format!(
                " l1 {:.4} fm {:.3} d {:.3}",
                self.l1, self.feature_match, self.disc
            );
        }
        s
    }
}

/// The generator's trainable parameters, by PyTorch key name.
pub struct GenParams {
    vars: Params,
}

impl GenParams {
    /// Fresh weights for `cfg` ([`Params::init`]: convolutions He-normal / √2, biases 0, norm
    /// scales 1).
    pub fn init(cfg: &crate::model::gfla::GflaConfig, seed: u64, dev: &Device) -> Result<Self> {
        let keys = crate::model::keys::record_keys(|vb| Gfla::new(vb, cfg).map(|_| ()))?;
        Ok(Self {
            vars: Params::init(keys, seed, dev, |_| false)?,
        })
    }

    /// The model on the current values; built afresh per step because layers pre-arrange
    /// their weights at construction (copies that would not see later updates).
    pub fn model(&self, cfg: &crate::model::gfla::GflaConfig) -> Result<Gfla> {
        Ok(Gfla::new(self.vars.var_builder(), cfg)?)
    }

    pub fn named(&self) -> Vec<(String, Var)> {
        self.vars.named()
    }

    /// A complete GFLA state dict (duplicated `conv1`/`model.2` keys included), on the CPU.
    pub fn state_dict(&self) -> Result<StateDict> {
        let mut state = self.vars.cpu_state()?;
        gfla_weights::fill_aliases(&mut state);
        Ok(state)
    }

    /// Starts from the generator weights in `path` (see [`TrainConfig::init`]).
    pub fn start_from(&self, path: &Path, cfg: &crate::model::gfla::GflaConfig) -> Result<()> {
        let (mut state, _) = wio::load_state_dict(path)
            .with_context(|| format!("reading the initial weights {}", path.display()))?;
        // The flow net's input layer has two more channels with a puppet prior than without:
        // their weights start at zero (norm scales at one), so the first step computes what
        // the initial weights computed.
        for (k, v) in self
            .vars
            .iter()
            .filter(|(k, _)| k.starts_with("flow_net.block0."))
        {
            let Some(t) = state.get(k) else { continue };
            let (have, want) = (t.dims().to_vec(), v.dims().to_vec());
            let axis = match (have.len(), want.len()) {
                (4, 4) if (have[0], have[2], have[3]) == (want[0], want[2], want[3]) => 1,
                (1, 1) => 0,
                _ => continue,
            };
            if have[axis] >= want[axis] {
                continue;
            }
            let mut shape = want.clone();
            shape[axis] = want[axis] - have[axis];
            let fill = if axis == 0 && k.ends_with(".weight") {
                1.0
            } else {
                0.0
            };
            let extra = Tensor::full(fill as f32, shape, t.device())?.to_dtype(t.dtype())?;
            let padded = Tensor::cat(&[t, &extra], axis)?;
            state.insert(k.clone(), padded);
        }
        self.load_state_dict(&state)
            .with_context(|| format!("initial weights {}", path.display()))?;
        if cfg.puppet_prior {
            for (k, v) in self.vars.iter() {
                if k.starts_with("flow_net.output") {
                    v.set(&v.zeros_like()?)?;
                }
            }
        }
        Ok(())
    }

    pub fn load_state_dict(&self, state: &StateDict) -> Result<()> {
        self.vars.load_state_dict(state, "generator checkpoint")
    }
}

/// Everything a run holds in memory.
pub struct Trainer {
    pub cfg: TrainConfig,
    pub gen: GenParams,
    pub disc: Discriminator,
    opt_g: Adam,
    opt_d: Adam,
    /// Steps done (stage 1 and 2 together).
    pub step: usize,
    dev: Device,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct RunState {
    step: usize,
}

impl Trainer {
    pub fn new(cfg: TrainConfig, dev: &Device) -> Result<Self> {
        cfg.validate()?;
        let gen = GenParams::init(&cfg.model, cfg.seed, dev)?;
        if let Some(path) = &cfg.init {
            gen.start_from(path, &cfg.model)?;
        }
        let disc = Discriminator::new(&cfg.disc, cfg.model.output_nc, cfg.seed ^ 0xD15C, dev)?;
        let opt_g = Adam::new(gen.named(), cfg.adam)?;
        let opt_d = Adam::new(disc.params(), cfg.adam_disc)?;
        Ok(Self {
            cfg,
            gen,
            disc,
            opt_g,
            opt_d,
            step: 0,
            dev: dev.clone(),
        })
    }

    pub fn total_steps(&self) -> usize {
        self.cfg.flow_steps + self.cfg.steps
    }

    /// Stage of the next step: 1 (flow) or 2 (end to end).
    pub fn stage(&self) -> u8 {
        if self.step < self.cfg.flow_steps {
            1
        } else {
            2
        }
    }

    /// The batch of the next step.
    pub fn next_batch(&self) -> Result<Batch> {
        let seeds: Vec<u64> = (0..self.cfg.batch_size)
            .map(|i| data::train_seed(self.cfg.seed, self.step, self.cfg.batch_size, i))
            .collect();
        let pairs = data::render_pairs(&seeds, &self.cfg.model);
        Ok(Batch::from_pairs(&pairs, &self.cfg.model, &self.dev)?)
    }

    /// Flow and mask losses summed over the levels (the stage-1 objective).
    fn flow_losses(
        &self,
        flows: &[Tensor],
        masks: &[Tensor],
        batch: &Batch,
        out: &mut StepLosses,
    ) -> Result<Tensor> {
        let lw = &self.cfg.loss;
        let mut total = Tensor::new(0f32, &self.dev)?;
        let (mut epe, mut bce, mut reg) = (0f32, 0f32, 0f32);
        for (i, (flow, mask)) in flows.iter().zip(masks).enumerate() {
            let e = losses::flow_epe(flow, &batch.flows[i], &batch.person[i])?;
            let m = losses::mask_bce(mask, &batch.visibility[i])?;
            let r = crate::ops::affine_regularization(flow, self.cfg.affine_window)?;
            epe += losses::value(&e)?;
            bce += losses::value(&m)?;
            reg += losses::value(&r)?;
            total = (total + (e * lw.flow_epe)? + (m * lw.mask)? + (r * lw.affine_reg)?)?;
        }
        let n = flows.len().max(1) as f32;
        out.flow_epe = epe / n;
        out.mask = bce / n;
        out.affine_reg = reg / n;
        Ok(total)
    }

    /// One optimisation step on `batch`.
    pub fn train_step(&mut self, batch: &Batch) -> Result<StepLosses> {
        let mut out = StepLosses {
            l1: f32::NAN,
            feature_match: f32::NAN,
            adv_g: f32::NAN,
            disc: f32::NAN,
            ..Default::default()
        };
        let model = self.gen.model(&self.cfg.model)?;
        if self.stage() == 1 {
            let (flows, masks) = model.flow_net().forward(
                &batch.source,
                &batch.source_pose,
                &batch.target_pose,
                batch.prior.as_deref(),
                &mut Tracer::off(),
            )?;
            let loss = self.flow_losses(&flows, &masks, batch, &mut out)?;
            out.total = losses::value(&loss)?;
            self.opt_g.step(&loss.backward()?)?;
        } else {
            let lw = self.cfg.loss;
            let gen = batch.generate(&model)?;
            let flow_loss = self.flow_losses(&gen.flows, &gen.masks, batch, &mut out)?;
            let l1 = losses::l1(&gen.image, &batch.target)?;
            out.l1 = losses::value(&l1)?;
            let mut loss = (flow_loss + (l1 * lw.l1)?)?;
            if lw.l1_hidden > 0.0 {
                let hid = losses::l1_region(&gen.image, &batch.target, &batch.hidden)?;
                loss = (loss + (hid * lw.l1_hidden)?)?;
            }
            let gan = self.step >= self.cfg.gan_start();
            // D(real) once: its features (constant) for feature matching, its logits for the
            // discriminator's loss (the generator's update does not touch D's weights).
            let real = if gan {
                Some(self.disc.forward(&batch.target, true)?)
            } else {
                None
            };
            if let Some((_, real_feats)) = &real {
                let (fake_logits, fake_feats) = self.disc.forward(&gen.image, false)?;
                let fm = losses::feature_matching(&fake_feats, real_feats)?;
                let adv = losses::lsgan(&fake_logits, 1.0)?;
                out.feature_match = losses::value(&fm)?;
                out.adv_g = losses::value(&adv)?;
                loss = (loss + (fm * lw.feature_match)? + (adv * lw.adversarial)?)?;
            }
            out.total = losses::value(&loss)?;
            // Only generator parameters are updated from this loss; the discriminator's
            // gradients in the same store are ignored.
            self.opt_g.step(&loss.backward()?)?;

            if let Some((real_logits, _)) = real {
                let (fake_logits, _) = self.disc.forward(&gen.image.detach(), false)?;
                let d_loss = ((losses::lsgan(&real_logits, 1.0)?
                    + losses::lsgan(&fake_logits, 0.0)?)?
                    * 0.5)?;
                out.disc = losses::value(&d_loss)?;
                self.opt_d.step(&d_loss.backward()?)?;
            }
        }
        self.step += 1;
        anyhow::ensure!(
            out.total.is_finite(),
            "loss became {} at step {}",
            out.total,
            self.step
        );
        Ok(out)
    }

    /// Writes `checkpoint/` in `run_dir`: every file atomically, `state.json` last, so a
    /// checkpoint whose state file exists is complete.
    pub fn save_checkpoint(&self, run_dir: &Path) -> Result<()> {
        let dir = run_dir.join("checkpoint");
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        gfla_weights::save_with_config(
            &self.gen.state_dict()?,
            &self.cfg.model,
            &dir.join("generator.safetensors"),
        )?;
        wio::save_safetensors(
            &self.disc.state_dict(),
            &dir.join("discriminator.safetensors"),
        )?;
        let mut opt = StateDict::new();
        for (prefix, o) in [("g", &self.opt_g), ("d", &self.opt_d)] {
            for (k, t) in o.state_dict()? {
                opt.insert(format!("{prefix}.{k}"), t);
            }
        }
        wio::save_safetensors(&opt, &dir.join("optimizer.safetensors"))?;
        crate::util::fs::write_atomic(
            &dir.join("state.json"),
            serde_json::to_string_pretty(&RunState { step: self.step })?.as_bytes(),
        )
    }

    /// Restores a checkpoint written by [`Trainer::save_checkpoint`].
    pub fn load_checkpoint(&mut self, run_dir: &Path) -> Result<()> {
        let dir = run_dir.join("checkpoint");
        let state: RunState = serde_json::from_str(
            &std::fs::read_to_string(dir.join("state.json"))
                .with_context(|| format!("reading {}", dir.join("state.json").display()))?,
        )?;
        let load =
            |name: &str| -> Result<StateDict> { Ok(wio::load_state_dict(&dir.join(name))?.0) };
        self.gen.load_state_dict(&load("generator.safetensors")?)?;
        self.disc
            .load_state_dict(&load("discriminator.safetensors")?)?;
        let opt = load("optimizer.safetensors")?;
        for (prefix, o) in [("g.", &mut self.opt_g), ("d.", &mut self.opt_d)] {
            let part: StateDict = opt
                .iter()
                .filter_map(|(k, t)| k.strip_prefix(prefix).map(|k| (k.to_string(), t.clone())))
                .collect();
            o.load_state_dict(&part)?;
        }
        self.step = state.step;
        Ok(())
    }

    /// A sheet of preview pairs, one row each: source | target | generated | flow (deepest
    /// level… finest level colour-coded) | mask of the finest level.
    pub fn sample_sheet(&self) -> Result<image::RgbImage> {
        let seeds: Vec<u64> = (0..self.cfg.sample_pairs as u64)
            .map(|i| data::PREVIEW_SEEDS + i)
            .collect();
        let pairs = data::render_pairs(&seeds, &self.cfg.model);
        let batch = Batch::from_pairs(&pairs, &self.cfg.model, &self.dev)?;
        let model = self.gen.model(&self.cfg.model)?;
        let out = batch.generate(&model)?;
        let (h, w) = self.cfg.model.input_hw;
        let mut rows = Vec::new();
        for (i, p) in pairs.iter().enumerate() {
            let gen = crate::imaging::tensor_to_image(&out.image.get(i)?)?;
            let mut tiles = vec![p.source.clone(), p.target.clone(), gen];
            if let (Some(flow), Some(mask)) = (out.flows.last(), out.masks.last()) {
                let colour = crate::imaging::flow_tensor_to_color(&flow.get(i)?)?;
                tiles.push(resize_to(&colour, w, h));
                let m = crate::imaging::mask_to_image(&mask.get(i)?)?;
                let m = image::DynamicImage::ImageLuma8(m).to_rgb8();
                tiles.push(resize_to(&m, w, h));
            }
            rows.push(tiles);
        }
        Ok(grid(&rows, w as u32, h as u32))
    }
}

fn resize_to(img: &image::RgbImage, w: usize, h: usize) -> image::RgbImage {
    image::imageops::resize(
        img,
        w as u32,
        h as u32,
        image::imageops::FilterType::Nearest,
    )
}

/// Tiles of equal size (w × h) in rows, 2-pixel white gutters.
pub fn grid(rows: &[Vec<image::RgbImage>], w: u32, h: u32) -> image::RgbImage {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0) as u32;
    let g = 2;
    let mut sheet = image::RgbImage::from_pixel(
        cols * (w + g) + g,
        rows.len() as u32 * (h + g) + g,
        image::Rgb([255, 255, 255]),
    );
    for (r, row) in rows.iter().enumerate() {
        for (c, tile) in row.iter().enumerate() {
            image::imageops::replace(
                &mut sheet,
                tile,
                (g + c as u32 * (w + g)) as i64,
                (g + r as u32 * (h + g)) as i64,
            );
        }
    }
    sheet
}

/// What [`run`] reports to its caller after each step (the CLI draws a progress bar).
pub trait Progress {
    fn start(&mut self, done: usize, total: usize);
    fn step(&mut self, step: usize, stage: u8, losses: &StepLosses);
    fn message(&mut self, text: &str);
}

/// Trains in `run_dir` to the end of `cfg`'s schedule, resuming from its checkpoint if there
/// is one (the run's `config.json` must then equal `cfg`). Returns the final trainer.
pub fn run(
    cfg: TrainConfig,
    run_dir: &Path,
    dev: &Device,
    progress: &mut dyn Progress,
) -> Result<Trainer> {
    std::fs::create_dir_all(run_dir.join("samples"))
        .with_context(|| format!("creating {}", run_dir.display()))?;
    let cfg_path = run_dir.join("config.json");
    let mut trainer = Trainer::new(cfg.clone(), dev)?;
    if let Some(saved) = saved_config::<TrainConfig>(run_dir)? {
        anyhow::ensure!(
            saved.model == cfg.model
                && saved.seed == cfg.seed
                && saved.batch_size == cfg.batch_size,
            "{} holds a different run (model, seed or batch size differ); use another --run folder",
            run_dir.display()
        );
        trainer.load_checkpoint(run_dir)?;
        progress.message(&format!("resumed at step {}", trainer.step));
        truncate_log(&run_dir.join("log.csv"), trainer.step)?;
    }
    crate::util::fs::write_atomic(&cfg_path, serde_json::to_string_pretty(&cfg)?.as_bytes())?;
    let mut log = append_log(&run_dir.join("log.csv"), StepLosses::HEADER)?;
    progress.start(trainer.step, trainer.total_steps());
    while trainer.step < trainer.total_steps() {
        let t0 = std::time::Instant::now();
        let batch = trainer.next_batch()?;
        let stage = trainer.stage();
        let losses = trainer.train_step(&batch)?;
        writeln!(
            log,
            "{}",
            losses.csv(trainer.step, stage, t0.elapsed().as_secs_f64())
        )?;
        progress.step(trainer.step, stage, &losses);
        let done = trainer.step == trainer.total_steps();
        if cfg.sample_every > 0 && (trainer.step % cfg.sample_every == 0 || done) {
            let sheet = trainer.sample_sheet()?;
            let path = run_dir.join(format!("samples/step_{:06}.png", trainer.step));
            crate::imaging::save_image_atomic(&sheet, &path)?;
        }
        if trainer.step % cfg.checkpoint_every.max(1) == 0 || done {
            log.flush()?;
            trainer.save_checkpoint(run_dir)?;
        }
    }
    Ok(trainer)
}

/// The configuration a run folder was started with, when it holds a checkpoint to resume
/// from (`config.json` beside `checkpoint/state.json`); `None` for a new run.
pub(super) fn saved_config<C: serde::de::DeserializeOwned>(run_dir: &Path) -> Result<Option<C>> {
    if !run_dir.join("checkpoint/state.json").exists() {
        return Ok(None);
    }
    let path = run_dir.join("config.json");
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let cfg = serde_json::from_str(&text).with_context(|| format!("reading {}", path.display()))?;
    Ok(Some(cfg))
}

/// A run's CSV log opened for appending, `header` written first when it is new.
pub(super) fn append_log(path: &Path, header: &str) -> Result<std::fs::File> {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))?;
    if f.metadata()?.len() == 0 {
        writeln!(f, "{header}")?;
    }
    Ok(f)
}

/// Drops log rows after `step` (steps an interrupted run did past its last checkpoint, which
/// the resumed run redoes), so the log has one row per step.
pub(super) fn truncate_log(path: &Path, step: usize) -> Result<()> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Ok(());
    };
    let kept: Vec<&str> = text
        .lines()
        .filter(|line| {
            line.split(',')
                .next()
                .and_then(|s| s.parse::<usize>().ok())
                .is_none_or(|s| s <= step)
        })
        .collect();
    crate::util::fs::write_atomic(path, (kept.join("\n") + "\n").as_bytes())
}

/// The run folder's trained generator weights.
pub fn checkpoint_weights(run_dir: &Path) -> PathBuf {
    run_dir.join("checkpoint/generator.safetensors")
}
